"""Read PyTorch checkpoints (``.pt`` / ``.pth`` / ``.th``) with NumPy only, never running their code.

Two layouts are understood:

* the **zip format** written by ``torch.save`` since torch 1.6: ``<root>/data.pkl`` (the pickled
  object), ``<root>/data/<key>`` (one raw record per storage), ``<root>/byteorder``;
* the **legacy stream** (``_use_new_zipfile_serialization=False`` and every file from before 1.6):
  pickle(magic 0x1950a86a20f9469cfc6c), pickle(protocol 1001), pickle(sys_info), the main
  pickle, pickle(list of storage keys), then per key an int64 element count and the raw data.

The pickles are read by a **restricted unpickler**: a global is resolved only when it is one
of the few names needed to rebuild tensors (``torch._utils._rebuild_tensor_v2`` and friends,
``torch.*Storage``, ``torch.Size``, ``collections.OrderedDict``, plain builtin containers),
and then to this module's own harmless stand-ins, never to the real object. Anything else
(``os.system``, ``builtins.eval``, a model class...) raises :class:`UnsafeCheckpointError`
naming the refused global, before it could run. ``BUILD`` is only honoured on
``OrderedDict`` (torch stores ``state_dict._metadata`` that way), ``REDUCE`` only calls the
stand-ins.

Tensors come back as NumPy arrays with the checkpoint's dtype, shape, strides and storage
offset; tensors that shared a storage in torch are views of one NumPy buffer here.
bfloat16 becomes float32 (exact). Containers stay plain: dict, OrderedDict, list, tuple, set.
"""
from __future__ import annotations

import builtins
import collections
import io
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

from .errors import CheckpointFormatError, UnsafeCheckpointError, WeightFileError

__all__ = ["load_torch_checkpoint", "state_dict_from_checkpoint", "sniff_torch_format"]

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
_MAGIC_BYTES = LEGACY_MAGIC_NUMBER.to_bytes(10, "little")  # as pickled by LONG1 (positive, top bit clear)


# --------------------------------------------------------------------------------------------
# dtypes

class _TorchDtype:
    """Stand-in for a ``torch.<dtype>`` global (used by ``_rebuild_tensor_v3``)."""

    __slots__ = ("name", "np_dtype", "bf16")

    def __init__(self, name, np_dtype, bf16=False):
        self.name, self.np_dtype, self.bf16 = name, np.dtype(np_dtype), bf16

    def __repr__(self):
        return f"torch.{self.name}"


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co: only carries the element dtype."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


_DTYPES = {}
for _names, _np, _bf16 in [
    (("float32", "float"), "<f4", False),
    (("float64", "double"), "<f8", False),
    (("float16", "half"), "<f2", False),
    (("bfloat16",), "<u2", True),       # raw bits; widened to float32 when tensors are built
    (("int64", "long"), "<i8", False),
    (("int32", "int"), "<i4", False),
    (("int16", "short"), "<i2", False),
    (("int8",), "i1", False),
    (("uint8",), "u1", False),
    (("uint16",), "<u2", False),
    (("uint32",), "<u4", False),
    (("uint64",), "<u8", False),
    (("bool",), "?", False),
    (("complex64", "cfloat"), "<c8", False),
    (("complex128", "cdouble"), "<c16", False),
]:
    _dt = _TorchDtype(_names[0], _np, _bf16)
    for _n in _names:
        _DTYPES[_n] = _dt

_STORAGE_TYPES = {
    name: _StorageType(name, _DTYPES[dt]) for name, dt in [
        ("FloatStorage", "float32"), ("DoubleStorage", "float64"), ("HalfStorage", "float16"),
        ("BFloat16Storage", "bfloat16"), ("LongStorage", "int64"), ("IntStorage", "int32"),
        ("ShortStorage", "int16"), ("CharStorage", "int8"), ("ByteStorage", "uint8"),
        ("BoolStorage", "bool"), ("ComplexFloatStorage", "complex64"),
        ("ComplexDoubleStorage", "complex128"),
    ]
}
_UNTYPED = _StorageType("UntypedStorage", _DTYPES["uint8"])
_TYPED_NO_DTYPE = _StorageType("TypedStorage", None)


# --------------------------------------------------------------------------------------------
# storages and deferred tensors

class _Storage:
    """One storage: its element dtype, element count and (once read) its bytes."""

    __slots__ = ("key", "dtype", "numel", "raw", "_arrays")

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.raw = None          # 1-D uint8 array of numel * itemsize bytes, little-endian
        self._arrays = {}

    @property
    def nbytes(self):
        return self.numel * self.dtype.np_dtype.itemsize

    def array(self, dtype: _TorchDtype):
        """The storage as a 1-D array of ``dtype`` (bfloat16 widened to float32), cached."""
        if dtype.name not in self._arrays:
            raw = self.raw
            usable = raw.size - raw.size % dtype.np_dtype.itemsize
            arr = raw[:usable].view(dtype.np_dtype)
            if dtype.bf16:
                arr = (arr.astype(np.uint32) << np.uint32(16)).view(np.float32)
            self._arrays[dtype.name] = arr
        return self._arrays[dtype.name]


class _StorageView:
    """A legacy-format view into a root storage (``view_metadata`` in the persistent id)."""

    __slots__ = ("root", "offset", "numel")

    def __init__(self, root, offset, numel):
        self.root, self.offset, self.numel = root, offset, numel

    @property
    def dtype(self):
        return self.root.dtype


class _TensorRef:
    """A tensor to build once all storages are read (legacy files put them after the pickle)."""

    __slots__ = ("storage", "offset", "size", "stride", "dtype", "metadata")

    def __init__(self, storage, offset, size, stride, dtype=None, metadata=None):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.dtype, self.metadata = dtype, metadata


def _int_tuple(value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _PickleContentError(f"{what} must be a tuple of ints, got {value!r}")
    return tuple(value)


class _PickleContentError(Exception):
    """Well-formed pickle, wrong content (turned into CheckpointFormatError with the path)."""


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _make_ref(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _make_ref(storage, storage_offset, size, stride, metadata=metadata)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    if not isinstance(dtype, _TorchDtype):
        raise _PickleContentError(f"_rebuild_tensor_v3 expects a torch dtype, got {dtype!r}")
    return _make_ref(storage, storage_offset, size, stride, dtype=dtype, metadata=metadata)


def _make_ref(storage, offset, size, stride, dtype=None, metadata=None):
    if not isinstance(storage, (_Storage, _StorageView)):
        raise _PickleContentError(f"tensor storage must come from a persistent id, got {type(storage).__name__}")
    if not isinstance(offset, int) or offset < 0:
        raise _PickleContentError(f"storage offset must be an int >= 0, got {offset!r}")
    size = _int_tuple(size, "tensor size")
    stride = _int_tuple(stride, "tensor stride")
    if len(size) != len(stride):
        raise _PickleContentError(f"tensor size {size} and stride {stride} differ in length")
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise _PickleContentError(f"negative size or stride: size {size}, stride {stride}")
    if metadata is not None and not isinstance(metadata, dict):
        raise _PickleContentError(f"tensor metadata must be a dict, got {type(metadata).__name__}")
    if dtype is None:
        dtype = storage.dtype
        if dtype is None or dtype.np_dtype is None:
            raise _PickleContentError("tensor storage has no dtype (untyped storage without _rebuild_tensor_v3)")
    return _TensorRef(storage, offset, size, stride, dtype, metadata)


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None):
    if not isinstance(data, _TensorRef):
        raise _PickleContentError(f"_rebuild_parameter expects a tensor, got {type(data).__name__}")
    return data


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data)


class _TypeMarker:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


_TENSOR_TYPE = _TypeMarker("torch.Tensor")
_PARAMETER_TYPE = _TypeMarker("torch.nn.Parameter")


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter):
        raise _PickleContentError(f"_rebuild_from_type_v2 with an unexpected function {func!r}")
    if new_type not in (_TENSOR_TYPE, _PARAMETER_TYPE):
        raise _PickleContentError(f"_rebuild_from_type_v2 with an unexpected type {new_type!r}")
    if not isinstance(args, tuple):
        raise _PickleContentError("_rebuild_from_type_v2 arguments must be a tuple")
    return func(*args)


def _torch_size(*args):
    return tuple(_int_tuple(args[0] if args else (), "torch.Size"))


def _torch_device(*args):
    return ":".join(str(a) for a in args)


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # protocol-2 pickles store bytes as _codecs.encode(str, 'latin1')
    if not isinstance(obj, str) or encoding.lower().replace("-", "") not in ("latin1", "utf8", "ascii"):
        raise _PickleContentError(f"_codecs.encode only decodes latin1/utf-8 text, got {encoding!r}")
    return obj.encode(encoding, errors)


def _bytearray(*args):
    # protocol-2 pickles of bytearrays: bytearray(str, 'latin-1'); refuse bytearray(huge_int) allocations
    if args and isinstance(args[0], int):
        raise _PickleContentError("bytearray(int) is not allowed in a checkpoint")
    return bytearray(*args)


def _safe_globals():
    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Size"): _torch_size,
        ("torch", "device"): _torch_device,
        ("torch", "Tensor"): _TENSOR_TYPE,
        ("torch._tensor", "Tensor"): _TENSOR_TYPE,
        ("torch.nn.parameter", "Parameter"): _PARAMETER_TYPE,
        ("torch", "UntypedStorage"): _UNTYPED,
        ("torch.storage", "UntypedStorage"): _UNTYPED,
        ("torch", "TypedStorage"): _TYPED_NO_DTYPE,
        ("torch.storage", "TypedStorage"): _TYPED_NO_DTYPE,
        ("_codecs", "encode"): _codecs_encode,
    }
    for name, st in _STORAGE_TYPES.items():
        table[("torch", name)] = st
    for name, dt in _DTYPES.items():
        table[("torch", name)] = dt
    for name in ("dict", "list", "tuple", "set", "frozenset", "bytearray", "complex", "slice"):
        table[("builtins", name)] = _bytearray if name == "bytearray" else getattr(builtins, name)
        table[("__builtin__", name)] = table[("builtins", name)]
    return table


_SAFE_GLOBALS = _safe_globals()
_CALLABLE = {id(v) for v in _SAFE_GLOBALS.values() if callable(v) and not isinstance(v, _StorageType)}
_NEWOBJ_CLASSES = {id(c) for c in (collections.OrderedDict, dict, list, set, frozenset, tuple)}


# --------------------------------------------------------------------------------------------
# the restricted unpickler (pure-Python pickle machinery, so BUILD/REDUCE can be vetted too)

# The pure-Python unpickler (pickle._Unpickler, stable since Python 3.0) is used instead of the C one
# because its opcode table can be overridden: BUILD, REDUCE and NEWOBJ are vetted, not just globals.
class _RestrictedUnpickler(pickle._Unpickler):
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, path, persistent_load=None):
        super().__init__(file, encoding="utf-8")
        self._path = path
        self._persistent = persistent_load

    def find_class(self, module, name):
        obj = _SAFE_GLOBALS.get((module, name))
        if obj is None:
            raise UnsafeCheckpointError(
                f"refused to load global '{module}.{name}': a checkpoint may only rebuild tensors, "
                "storages, OrderedDicts and plain containers, and this one references other code "
                "(unpickling it with torch.load(weights_only=False) could execute it)",
                self._path, global_name=f"{module}.{name}")
        return obj

    def persistent_load(self, pid):
        if self._persistent is None:
            raise _PickleContentError(f"unexpected persistent id {pid!r} in this pickle")
        return self._persistent(pid)

    def load_reduce(self):
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        if id(func) not in _CALLABLE:
            raise _PickleContentError(f"REDUCE may only call the rebuild functions, got {type(func).__name__}")
        if not isinstance(args, tuple):
            raise _PickleContentError("REDUCE arguments must be a tuple")
        stack[-1] = func(*args)
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_build(self):
        stack = self.stack
        state = stack.pop()
        inst = stack[-1]
        if isinstance(inst, collections.OrderedDict) and (state is None or isinstance(state, dict)):
            for k, v in (state or {}).items():      # e.g. state_dict._metadata
                if isinstance(k, str):
                    inst.__dict__[k] = v
            return
        if isinstance(inst, _TensorRef):            # python attributes set on a tensor: ignored
            return
        raise _PickleContentError(f"BUILD (setting state) is not allowed on {type(inst).__name__}")
    dispatch[pickle.BUILD[0]] = load_build

    def _vet_class(self, cls):
        if id(cls) not in _NEWOBJ_CLASSES:
            raise _PickleContentError(f"object construction is only allowed for containers, not {cls!r}")

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self._vet_class(cls)
        self.append(cls.__new__(cls, *args))
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._vet_class(cls)
        self.append(cls.__new__(cls, *args, **kwargs))
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _instantiate(self, klass, args):
        self._vet_class(klass)
        self.append(klass(*args))


# errors that a corrupted or truncated pickle stream can raise inside the pickle machinery
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                  AttributeError, struct.error, UnicodeDecodeError, OverflowError, RecursionError,
                  MemoryError, _PickleContentError, zipfile.BadZipFile, OSError, zlib.error,
                  NotImplementedError, RuntimeError)


class _BoundedReader:
    """A file wrapper for the unpickler: reads never ask for more than what is left in the file
    (a corrupted length field could otherwise try to allocate an absurd buffer), and a line cut
    by the end of the file is reported as truncation (not as a shorter, different global name).
    """

    def __init__(self, f):
        self._f = f
        pos = f.tell()
        f.seek(0, os.SEEK_END)
        self._size = f.tell()
        f.seek(pos)

    def remaining(self):
        return max(self._size - self._f.tell(), 0)

    def read(self, n=-1):
        if n is None or n < 0 or n > self.remaining():
            n = self.remaining()
        return self._f.read(n)

    def readinto(self, buf):
        view = memoryview(buf)
        return self._f.readinto(view[: self.remaining()])

    def readline(self, limit=-1):
        line = self._f.readline(limit)
        if not line.endswith(b"\n"):
            raise EOFError("the file ends inside a text field of the pickle")
        return line

    def tell(self):
        return self._f.tell()


def _unpickle(fileobj, path, what, persistent_load=None):
    if not isinstance(fileobj, _BoundedReader):
        fileobj = _BoundedReader(fileobj)
    try:
        return _RestrictedUnpickler(fileobj, path, persistent_load).load()
    except (UnsafeCheckpointError, CheckpointFormatError):
        raise
    except _PICKLE_ERRORS as e:
        if isinstance(e, EOFError) or fileobj.remaining() == 0:
            msg = f"truncated pickle stream in {what}: the file ends before the pickle does ({type(e).__name__}: {e})"
        else:
            msg = f"corrupted or unsupported pickle stream in {what}: {type(e).__name__}: {e}"
        raise CheckpointFormatError(msg, path) from e


# --------------------------------------------------------------------------------------------
# building arrays

def _materialize(ref: _TensorRef, path, budget):
    storage, offset = ref.storage, ref.offset
    if isinstance(storage, _StorageView):
        offset += storage.offset
        storage = storage.root
    if storage.raw is None:
        raise CheckpointFormatError(f"storage '{storage.key}' was never filled with data", path)
    base = storage.array(ref.dtype)
    size, stride = ref.size, ref.stride
    numel = int(np.prod(size, dtype=np.int64)) if size else 1
    if numel == 0:
        arr = np.empty(size, dtype=base.dtype)
    else:
        if numel > base.size:
            # a view that repeats elements (stride 0: torch's expand) copies into more memory than the
            # file holds; all such views of one file together may claim at most the file's size
            budget["expanded"] -= numel * base.dtype.itemsize
            if budget["expanded"] < 0:
                raise CheckpointFormatError(
                    f"tensor of size {size} (stride {stride}) repeats the {base.size} elements of storage "
                    f"'{storage.key}' into {numel}: the file's expanded views claim more than its "
                    f"{budget['size']} bytes, refused", path)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= base.size:
            raise CheckpointFormatError(
                f"tensor of size {size}, stride {stride}, offset {offset} reaches element {last} "
                f"but storage '{storage.key}' holds {base.size} elements of {ref.dtype!r}", path)
        item = base.dtype.itemsize
        arr = np.ndarray(size, dtype=base.dtype, buffer=base, offset=offset * item,
                         strides=tuple(s * item for s in stride))
        if numel > base.size:
            arr.flags.writeable = False   # writing through a repeated element would change them all
    meta = ref.metadata or {}
    if meta.get("conj"):
        arr = np.conj(arr)
    if meta.get("neg"):
        arr = np.negative(arr)
    return arr


def _finalize_checked(obj, path):
    try:
        return _finalize(obj, path)
    except RecursionError:
        raise CheckpointFormatError("containers nested too deeply: a state dict is a flat mapping of "
                                    "names to tensors", path) from None


def _finalize(obj, path, memo=None, budget=None):
    """Replace every _TensorRef in the unpickled object by its NumPy array (sharing preserved)."""
    if memo is None:
        memo = {}
    if budget is None:
        size = os.path.getsize(path)
        budget = {"size": size, "expanded": size}
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, _TensorRef):
        out = memo[key] = _materialize(obj, path, budget)
    elif isinstance(obj, dict):
        out = memo[key] = type(obj)() if type(obj) in (dict, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _finalize(v, path, memo, budget)
        if isinstance(obj, collections.OrderedDict) and obj.__dict__:
            out.__dict__.update(obj.__dict__)
    elif isinstance(obj, list):
        out = memo[key] = []
        out.extend(_finalize(v, path, memo, budget) for v in obj)
    elif isinstance(obj, tuple):
        out = memo[key] = tuple(_finalize(v, path, memo, budget) for v in obj)
    elif isinstance(obj, (_Storage, _StorageView)):
        st = obj.root if isinstance(obj, _StorageView) else obj
        base = st.array(st.dtype)
        out = memo[key] = base if isinstance(obj, _Storage) else base[obj.offset:obj.offset + obj.numel]
    elif isinstance(obj, (_StorageType, _TorchDtype, _TypeMarker)):
        out = memo[key] = repr(obj)
    else:
        out = memo[key] = obj
    return out


# --------------------------------------------------------------------------------------------
# the two file layouts

def _storage_from_pid(pid, storages, path, legacy):
    if isinstance(pid, (tuple, list)) and pid and isinstance(pid[0], bytes):
        pid = (pid[0].decode("ascii", "replace"),) + tuple(pid[1:])
    if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
        raise _PickleContentError(f"unsupported persistent id {pid!r} (only 'storage' ids are known; "
                                  "a 'module' id means the whole model object was saved, not a state dict)")
    n = 6 if legacy else 5
    if len(pid) != n:
        raise _PickleContentError(f"storage persistent id has {len(pid)} fields, expected {n}: {pid!r}")
    storage_type, key, _location, numel = pid[1:5]
    if not isinstance(storage_type, _StorageType) or storage_type.dtype is None:
        raise _PickleContentError(f"unknown storage type {storage_type!r} in persistent id")
    key = str(key)
    if not isinstance(numel, int) or numel < 0:
        raise _PickleContentError(f"storage '{key}' has an invalid size {numel!r}")
    st = storages.get(key)
    if st is None:
        st = storages[key] = _Storage(key, storage_type.dtype, numel)
    if legacy and pid[5] is not None:
        view = pid[5]
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[1], int) and isinstance(view[2], int)):
            raise _PickleContentError(f"bad storage view metadata {view!r}")
        view_key, v_off, v_size = str(view[0]), view[1], view[2]
        if v_off < 0 or v_size < 0 or v_off + v_size > numel:
            raise _PickleContentError(
                f"storage view '{view_key}' [{v_off}, {v_off + v_size}) exceeds its root of {numel}")
        return storages.setdefault("view:" + view_key, _StorageView(st, v_off, v_size))
    return st


def _read_exact(f, n, path, what):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = f.readinto(view[got:])
        if not k:
            raise CheckpointFormatError(f"truncated: {what} needs {n} bytes, only {got} present", path)
        got += k
    return buf


def _load_zip(path):
    try:
        return _load_zip_unchecked(path)
    except WeightFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, struct.error, zlib.error,
            NotImplementedError, UnicodeDecodeError, MemoryError, RuntimeError) as e:
        raise CheckpointFormatError(f"corrupted zip archive: {type(e).__name__}: {e}", path) from e


def _load_zip_unchecked(path):
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointFormatError(f"not a readable zip archive (truncated or corrupted?): {e}", path) from e
    archive_size = os.path.getsize(path)
    with zf:
        names = zf.namelist()
        pkl = sorted((n for n in names if n == "data.pkl" or n.endswith("/data.pkl")), key=len)
        if not pkl:
            if any(n.endswith("config.json") for n in names) and any(n.endswith(".weights.h5") for n in names):
                hint = " (this looks like a Keras 3 .keras archive)"
            else:
                hint = ""
            raise CheckpointFormatError(f"zip archive without data.pkl: not a torch.save checkpoint{hint}", path)
        prefix = pkl[0][: -len("data.pkl")]
        if any(n.startswith(prefix + "code/") for n in names) or prefix + "constants.pkl" in names:
            raise CheckpointFormatError("this is a TorchScript archive (torch.jit.save); save the model's "
                                        "state_dict() with torch.save and load that instead", path)

        def stored_record(name):
            """The zip entry ``name``, refused unless stored uncompressed and inside the archive."""
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise CheckpointFormatError(f"record '{name}' is missing from the archive", path) from None
            if info.compress_type != zipfile.ZIP_STORED:
                raise CheckpointFormatError(
                    f"record '{name}' is compressed (method {info.compress_type}); torch.save writes stored "
                    "records only, and compressed ones could inflate far past the file's size", path)
            if info.file_size > archive_size:
                raise CheckpointFormatError(f"record '{name}' claims {info.file_size} bytes, more than the "
                                            f"{archive_size}-byte archive", path)
            return info

        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = zf.read(stored_record(prefix + "byteorder")).decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise CheckpointFormatError(f"unknown byteorder record {byteorder!r}", path)
        storages = {}

        def persistent_load(pid):
            st = _storage_from_pid(pid, storages, path, legacy=False)
            if isinstance(st, _Storage) and st.raw is None:
                record = f"{prefix}data/{st.key}"
                if record not in names:
                    raise CheckpointFormatError(f"storage record '{record}' is missing from the archive", path)
                info = stored_record(record)
                if info.file_size != st.nbytes:
                    raise CheckpointFormatError(
                        f"storage record '{record}' holds {info.file_size} bytes, expected {st.nbytes} "
                        f"({st.numel} x {st.dtype!r})", path)
                with zf.open(info) as rf:
                    buf = _read_exact(rf, st.nbytes, path, f"storage record '{record}'")
                raw = np.frombuffer(buf, dtype=np.uint8)
                if byteorder == "big" and st.dtype.np_dtype.itemsize > 1:
                    dt = st.dtype.np_dtype
                    raw = raw.view(dt.newbyteorder(">")).astype(dt.newbyteorder("<")).view(np.uint8)
                st.raw = raw
            return st

        try:
            with zf.open(stored_record(pkl[0])) as pf:
                data = pf.read()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise CheckpointFormatError(f"cannot read '{pkl[0]}' from the archive: {e}", path) from e
        obj = _unpickle(io.BytesIO(data), path, f"'{pkl[0]}'", persistent_load)
    return _finalize_checked(obj, path)


def _load_legacy(path):
    with open(path, "rb") as raw_file:
        f = _BoundedReader(raw_file)
        magic = _unpickle(f, path, "the magic-number header")
        if magic != LEGACY_MAGIC_NUMBER:
            raise CheckpointFormatError(
                f"invalid magic number {magic!r}: not a torch.save file (expected 0x{LEGACY_MAGIC_NUMBER:x})", path)
        protocol = _unpickle(f, path, "the protocol-version header")
        if protocol != LEGACY_PROTOCOL_VERSION:
            raise CheckpointFormatError(f"unsupported legacy protocol version {protocol!r} (expected 1001)", path)
        sys_info = _unpickle(f, path, "the sys_info header")
        if not isinstance(sys_info, dict):
            raise CheckpointFormatError(f"sys_info header is a {type(sys_info).__name__}, expected a dict", path)
        little = bool(sys_info.get("little_endian", True))
        storages = {}
        obj = _unpickle(f, path, "the main pickle",
                        lambda pid: _storage_from_pid(pid, storages, path, legacy=True))
        keys = _unpickle(f, path, "the storage-key list")
        if not isinstance(keys, (list, tuple)):
            raise CheckpointFormatError(f"storage-key list is a {type(keys).__name__}, expected a list", path)
        for key in keys:
            st = storages.get(str(key))
            if not isinstance(st, _Storage):
                raise CheckpointFormatError(
                    f"storage key '{key}' in the key list was never referenced by the pickle", path)
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointFormatError(f"truncated: the element count of storage '{key}' is missing", path)
            count = int.from_bytes(head, "little" if little else "big", signed=True)
            if count != st.numel:
                raise CheckpointFormatError(
                    f"storage '{key}' records {count} elements, the pickle says {st.numel}", path)
            if st.nbytes > f.remaining():
                raise CheckpointFormatError(f"truncated: the data of storage '{key}' needs {st.nbytes} bytes, "
                                            f"only {f.remaining()} left in the file", path)
            buf = _read_exact(f, st.nbytes, path, f"the data of storage '{key}'")
            raw = np.frombuffer(buf, dtype=np.uint8)
            if not little and st.dtype.np_dtype.itemsize > 1:
                dt = st.dtype.np_dtype
                raw = raw.view(dt.newbyteorder(">")).astype(dt.newbyteorder("<")).view(np.uint8)
            st.raw = raw
        missing = [k for k, s in storages.items() if isinstance(s, _Storage) and s.raw is None]
        if missing:
            raise CheckpointFormatError(f"storages {missing[:5]} are used by tensors but have no data", path)
    return _finalize_checked(obj, path)


def sniff_torch_format(head: bytes) -> str | None:
    """'torch_zip', 'torch_legacy' or None, from the first bytes of a file (cheap, not a validation)."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "torch_zip"
    if head[:1] == b"\x80" and _MAGIC_BYTES in head[:40]:
        return "torch_legacy"
    return None


def load_torch_checkpoint(path) -> dict:
    """Load a ``torch.save`` file (zip or legacy) as plain containers of NumPy arrays; never runs code.

    Raises :class:`UnsafeCheckpointError` if the pickle references anything but tensor/storage
    rebuilding and plain containers, :class:`CheckpointFormatError` if the file is truncated,
    corrupted or not a checkpoint. Arrays from one storage are views of one buffer.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        raise CheckpointFormatError(f"cannot open: {e.strerror or e}", path) from e
    if not head:
        raise CheckpointFormatError("empty file", path)
    kind = sniff_torch_format(head)
    if kind == "torch_zip":
        return _load_zip(path)
    if kind == "torch_legacy":
        return _load_legacy(path)
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise CheckpointFormatError("a tar-format torch checkpoint (torch < 0.4) is not supported", path)
    if head[:1] == b"\x80":
        raise CheckpointFormatError("a pickle file without the torch.save magic number: not a "
                                    "torch checkpoint (plain pickles are not loaded, they can run code)", path)
    raise CheckpointFormatError(f"not a PyTorch checkpoint: starts with {head[:8]!r}, expected a zip "
                                "archive or the legacy torch.save magic number", path)


_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "module")


def _is_tensor_dict(obj):
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items())


def state_dict_from_checkpoint(obj, strip_prefix: str = "module.") -> "collections.OrderedDict[str, np.ndarray]":
    """The ``name -> array`` state dict inside a loaded checkpoint, with a DataParallel prefix removed.

    Looks in ``obj["state_dict"]``, ``obj["model_state_dict"]``, ``obj["model"]`` (also ``net``,
    ``network``, ``module``), or takes ``obj`` itself; ``strip_prefix`` (default ``"module."``)
    is removed from every key that starts with it.
    """
    found = None
    if _is_tensor_dict(obj):
        found = obj
    elif isinstance(obj, dict):
        for key in _STATE_DICT_KEYS:
            if _is_tensor_dict(obj.get(key)):
                found = obj[key]
                break
    if found is None:
        if isinstance(obj, dict):
            desc = "keys " + repr(list(obj)[:20])
        else:
            desc = f"a {type(obj).__name__}"
        raise ValueError(f"no state dict found in the checkpoint: expected a dict of name -> array, or one "
                         f"under {list(_STATE_DICT_KEYS[:3])}; received {desc}")
    out = collections.OrderedDict()
    for k, v in found.items():
        if strip_prefix and k.startswith(strip_prefix):
            k = k[len(strip_prefix):]
        if k in out:
            raise ValueError(f"key '{k}' appears twice after stripping the prefix {strip_prefix!r}")
        out[k] = v
    return out
