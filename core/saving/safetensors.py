"""Read and write ``.safetensors`` files with NumPy only (format of huggingface/safetensors).

Layout: an 8-byte little-endian header length ``N``, ``N`` bytes of UTF-8 JSON
``{"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}}``
(offsets relative to the data section that follows), then the raw little-endian, C-order
tensor bytes. The reader validates everything the official implementation validates (header
inside the file, valid JSON, known dtypes, ``prod(shape) * itemsize == end - begin``, tensors
contiguous and non-overlapping and covering the whole data section) and memory-maps the data.
The writer lays files out like the official one (tensors sorted by dtype alignment then name,
header padded with spaces to 8 bytes) and writes atomically (temporary file + ``os.replace``).
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from .atomic import atomic_write
from .errors import SafetensorsFormatError

__all__ = ["load_safetensors", "save_safetensors", "read_safetensors_metadata",
           "read_safetensors_header", "atomic_write"]

MAX_HEADER_SIZE = 100_000_000   # the official reader's limit

# safetensors dtype -> numpy dtype (little-endian). BF16 is read as raw uint16 bits.
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"), "C64": np.dtype("<c8"),
}
# the official Dtype enum order; files list tensors by descending order of it, then by name
_ENUM_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
               "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]
_KNOWN_UNSUPPORTED = {"F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0"}
_FROM_NUMPY = {np.dtype(v).newbyteorder("<") if np.dtype(v).itemsize > 1 else np.dtype(v): k
               for k, v in _DTYPES.items() if k != "BF16"}


def _err(path, msg):
    return SafetensorsFormatError(msg, path)


# --------------------------------------------------------------------------------------------
# reading

def _parse_header(path):
    """(metadata, entries sorted by offsets, data_start, data_len) after full validation."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise _err(path, f"truncated: {size} bytes, a safetensors file starts with an 8-byte header length")
            n = int.from_bytes(head, "little")
            if n > size - 8:
                raise _err(path, f"header length {n} exceeds the {size - 8} bytes after the length field "
                                 "(truncated file, or not a safetensors file)")
            if n > MAX_HEADER_SIZE:
                raise _err(path, f"header length {n} is over the {MAX_HEADER_SIZE}-byte limit")
            raw = f.read(n)
    except OSError as e:
        raise _err(path, f"cannot read: {e.strerror or e}") from e
    if len(raw) != n:
        raise _err(path, f"truncated: header needs {n} bytes, {len(raw)} present")
    if not raw.startswith(b"{"):
        raise _err(path, f"header does not start with '{{' (starts with {raw[:8]!r}): not a safetensors file")

    def no_duplicates(pairs):
        out = dict(pairs)
        if len(out) != len(pairs):
            seen, dup = set(), set()
            for k, _ in pairs:
                (dup if k in seen else seen).add(k)
            raise _err(path, f"header lists {sorted(dup)[:10]} more than once")
        return out

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _err(path, f"header is not valid UTF-8 JSON: {e}") from e
    except RecursionError:
        raise _err(path, "header JSON is nested too deeply (a tensor entry is one flat object)") from None
    if not isinstance(header, dict):
        raise _err(path, f"header JSON is a {type(header).__name__}, expected an object")

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise _err(path, "__metadata__ must map strings to strings")

    data_start = 8 + n
    data_len = size - data_start
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise _err(path, f"tensor '{name}': entry is a {type(info).__name__}, expected an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str):
            raise _err(path, f"tensor '{name}': dtype must be a string such as 'F32', got {dtype!r}"[:300])
        if dtype not in _DTYPES:
            if dtype in _KNOWN_UNSUPPORTED:
                raise _err(path, f"tensor '{name}': dtype {dtype} has no NumPy equivalent and is not supported")
            raise _err(path, f"tensor '{name}': bad dtype {dtype!r}, expected one of {sorted(_DTYPES)}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise _err(path, f"tensor '{name}': shape must be a list of non-negative ints, got {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise _err(path, f"tensor '{name}': data_offsets must be [begin, end] with 0 <= begin <= end, "
                             f"got {offsets!r}")
        nbytes = int(np.prod(shape, dtype=object)) * _DTYPES[dtype].itemsize
        if nbytes != offsets[1] - offsets[0]:
            raise _err(path, f"tensor '{name}': shape {tuple(shape)} of {dtype} needs {nbytes} bytes but its "
                             f"data_offsets {offsets} span {offsets[1] - offsets[0]}")
        entries.append((name, dtype, tuple(shape), offsets[0], offsets[1]))

    entries.sort(key=lambda e: (e[3], e[4]))
    pos, prev = 0, None
    for name, _, _, begin, end in entries:
        if begin < pos:
            raise _err(path, f"overlapping tensors: '{prev}' ends at byte {pos} but '{name}' starts at {begin}")
        if begin > pos:
            raise _err(path, f"bytes [{pos}, {begin}) of the data section belong to no tensor "
                             f"(before '{name}'): offsets must be contiguous")
        pos, prev = end, name
    if pos > data_len:
        raise _err(path, f"tensor '{prev}' ends at byte {pos} of the data section, which has only {data_len} "
                         "bytes (truncated file?)")
    if pos < data_len:
        raise _err(path, f"the data section has {data_len} bytes but the tensors cover only {pos} "
                         "(trailing bytes, or a header that does not match the data)")
    return metadata, entries, data_start, data_len


def read_safetensors_metadata(path) -> dict:
    """The ``__metadata__`` dict (``str -> str``) of a validated safetensors file; ``{}`` if absent."""
    return dict(_parse_header(os.fspath(path))[0])


def read_safetensors_header(path) -> dict:
    """``name -> {"dtype", "shape", "data_offsets"}`` for each tensor, in file order, without reading data."""
    _, entries, _, _ = _parse_header(os.fspath(path))
    return {name: {"dtype": dt, "shape": shape, "data_offsets": (b, e)} for name, dt, shape, b, e in entries}


def _bf16_to_f32(bits):
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def load_safetensors(path, mmap: bool = True, raw_bf16: bool = False) -> dict:
    """Load every tensor of a ``.safetensors`` file as ``{name: np.ndarray}`` (in data-offset order).

    ``mmap=True`` maps the file: arrays are read-only views that load lazily; ``mmap=False``
    reads it into memory (writable arrays). BF16 becomes float32 (exact), or stays raw
    ``uint16`` bits with ``raw_bf16=True``. Raises :class:`SafetensorsFormatError` on any
    violation of the format (truncation, overlaps, bad dtypes, sizes).
    """
    path = os.fspath(path)
    _, entries, start, length = _parse_header(path)
    if length == 0:
        buf = np.zeros(0, np.uint8)
    elif mmap:
        try:
            buf = np.memmap(path, dtype=np.uint8, mode="r", offset=start, shape=(length,))
        except (OSError, ValueError) as e:
            raise _err(path, f"cannot memory-map the data section: {e}") from e
        buf = np.asarray(buf)   # plain ndarray view onto the map (the map stays alive as its base)
    else:
        with open(path, "rb") as f:
            f.seek(start)
            data = bytearray(length)
            got = f.readinto(data)
        if got != length:
            raise _err(path, f"truncated while reading: {got} of {length} data bytes")
        buf = np.frombuffer(data, dtype=np.uint8)
    out = {}
    for name, dtype, shape, begin, end in entries:
        arr = buf[begin:end].view(_DTYPES[dtype]).reshape(shape)
        if dtype == "BF16" and not raw_bf16:
            arr = _bf16_to_f32(arr)
        out[name] = arr
    return out


# --------------------------------------------------------------------------------------------
# writing

def _f32_to_bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even (NaN kept quiet)."""
    u = np.asarray(x, dtype=np.float32, order="C").view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded = np.where(nan, ((u >> np.uint32(16)) | np.uint32(0x40)).astype(np.uint16), rounded)
    return rounded


def _to_numpy(name, value):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "get") and hasattr(value, "__cuda_array_interface__"):   # CuPy
        return value.get()
    data = getattr(value, "data", None)            # a zoo Tensor / Parameter
    if data is not None and not isinstance(value, (memoryview, bytes)) and hasattr(data, "shape"):
        return _to_numpy(name, data)
    try:
        return np.asarray(value)
    except Exception as e:
        raise SafetensorsFormatError(f"tensor '{name}': cannot convert {type(value).__name__} to an array: {e}") from e


def save_safetensors(tensors: Mapping, path, metadata: Mapping | None = None,
                     dtypes: Mapping | None = None) -> None:
    """Write ``{name: array}`` to ``path`` as safetensors, atomically.

    ``metadata`` is an optional ``str -> str`` dict stored as ``__metadata__``. ``dtypes`` maps a
    name to ``"BF16"`` to store it as bfloat16 (float arrays are rounded to nearest even,
    ``uint16`` arrays are taken as raw bits). Arrays are written little-endian, C order.
    """
    path = os.fspath(path)
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a mapping of name -> array, received {type(tensors).__name__}")
    dtypes = dict(dtypes or {})
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in metadata.items()):
            raise SafetensorsFormatError("metadata must map str to str (the format stores only strings)", path)
    unknown = set(dtypes) - set(tensors)
    if unknown:
        raise SafetensorsFormatError(f"dtypes names tensors that are not given: {sorted(unknown)}", path)
    prepared = []
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsFormatError(f"tensor names must be strings other than '__metadata__', got {name!r}", path)
        arr = _to_numpy(name, value)
        if dtypes.get(name) is not None:
            if dtypes[name] != "BF16":
                raise SafetensorsFormatError(
                    f"tensor '{name}': dtypes may only request 'BF16', got {dtypes[name]!r}", path)
            if arr.dtype == np.uint16:
                arr = np.asarray(arr, dtype="<u2", order="C")
            elif arr.dtype.kind == "f":
                arr = _f32_to_bf16_bits(arr.astype(np.float32))
            else:
                raise SafetensorsFormatError(
                    f"tensor '{name}': BF16 needs a float or uint16 array, got {arr.dtype}", path)
            code = "BF16"
        else:
            le = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 and arr.dtype.kind in "fiuc" else arr.dtype
            code = _FROM_NUMPY.get(le)
            if code is None:
                raise SafetensorsFormatError(
                    f"tensor '{name}': dtype {arr.dtype} cannot be stored (supported: float64/32/16, "
                    "int64/32/16/8, uint64/32/16/8, bool, complex64, or BF16 via dtypes=)", path)
            arr = np.asarray(arr, dtype=le, order="C")
        prepared.append((name, code, arr))
    prepared.sort(key=lambda t: (-_ENUM_ORDER.index(t[1]), t[0]))
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    pos = 0
    for name, code, arr in prepared:
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [pos, pos + arr.nbytes]}
        pos += arr.nbytes
    blob = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with atomic_write(path) as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for _, _, arr in prepared:
            if arr.size:
                f.write(arr.reshape(-1).view(np.uint8).data)
