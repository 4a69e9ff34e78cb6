"""Read the HDF5 weight files that Keras writes, with h5py only, into a neutral structure.

The neutral structure is an ordered list ``[(layer_name, [(weight_name, np.ndarray), ...]), ...]``.

* **Keras 1/2 legacy weights** (``model.save_weights("w.h5")``, the ``keras.applications``
  downloads, and the ``model_weights`` group of a full-model file): root attribute
  ``layer_names`` (topological order; long lists are split over ``layer_names0``,
  ``layer_names1``...), one group per layer with attribute ``weight_names``, datasets at those
  relative paths (``conv1_conv/kernel:0``). Weights come in the stored order (trainable then
  non-trainable, as Keras wrote them).
* **Keras 2 full model** (``model.save("m.h5")``): root attributes ``model_config`` and
  ``training_config`` (JSON), ``keras_version``, ``backend``; weights under ``model_weights``;
  optimizer slots under ``optimizer_weights``.
* **Keras 3** ``.weights.h5``: ``vars`` groups holding datasets ``0``, ``1``... under the object
  paths Keras walks (``layers/dense/vars``, ``layers/lstm/cell/vars``, ``optimizer/vars``,
  ``vars`` for the model itself). Layer names here are those group paths without ``/vars``
  (``"layers/lstm/cell"``; ``""`` is the model); weight names are the indices ``"0"``, ``"1"``...
  Variables stored as bfloat16 (attribute ``dtype="bfloat16"``) become float32.

``detect_format(path)`` tells these apart from PyTorch checkpoints and safetensors.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from typing import NamedTuple

import numpy as np

from .errors import KerasH5FormatError, UnknownFormatError, WeightFileError
from .hdf5_guard import LazyDataset, ReadBudget, check_hdf5_file, materialize
from .torch_checkpoint import sniff_torch_format

__all__ = ["read_keras_legacy_weights", "read_keras3_weights", "read_keras3_object_names",
           "read_keras_full_model", "read_keras_optimizer_weights", "detect_format", "KerasFullModel"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _h5py():
    try:
        import h5py
    except ImportError as e:   # pragma: no cover - h5py is a declared dependency
        raise ImportError("reading Keras HDF5 files needs h5py (pip install h5py)") from e
    return h5py


def _path_of(obj):
    filename = getattr(getattr(obj, "file", None), "filename", None)
    return filename if filename is not None else "<h5 object>"


@contextlib.contextmanager
def _h5_errors(path, what):
    """Turn raw h5py/OS/JSON failures into a KerasH5FormatError naming the file and the step."""
    try:
        yield
    except WeightFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError, SystemError) as e:
        raise KerasH5FormatError(f"{what}: {type(e).__name__}: {e}", path) from e


@contextlib.contextmanager
def _opened(path_or_obj, what):
    """Yield (h5 object, path for messages, read budget); open paths read-only and close them
    afterwards. The file is vetted first (no links out of it, no external or virtual datasets)."""
    h5py = _h5py()
    if isinstance(path_or_obj, (h5py.File, h5py.Group)):
        path = _path_of(path_or_obj)
        check_hdf5_file(path_or_obj.file, path)
        with _h5_errors(path, f"corrupted HDF5 content while reading {what}"):
            yield path_or_obj, path, ReadBudget(path, path_or_obj.file)
        return
    path = os.fspath(path_or_obj)
    if not os.path.exists(path):
        raise KerasH5FormatError("no such file", path)
    with _h5_errors(path, f"cannot open as HDF5 (truncated or not an HDF5 file) while reading {what}"):
        f = h5py.File(path, "r")
    try:
        check_hdf5_file(f, path)
        with _h5_errors(path, f"corrupted HDF5 content while reading {what}"):
            yield f, path, ReadBudget(path, f)
    finally:
        with contextlib.suppress(Exception):
            f.close()


def _decode(value):
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _decode(value[()])
    return str(value) if isinstance(value, np.str_) else value


def _str_list_attr(group, name):
    """A list-of-strings attribute, joining Keras's chunked ``name0``, ``name1``... form; None if absent."""
    attrs = group.attrs
    if name in attrs:
        values = attrs[name]
    elif f"{name}0" in attrs:
        values, k = [], 0
        while f"{name}{k}" in attrs:
            values.extend(list(attrs[f"{name}{k}"]))
            k += 1
    else:
        return None
    if isinstance(values, (str, bytes)):
        values = [values]
    return [_decode(v) for v in np.asarray(values, dtype=object).reshape(-1)]


_MAX_FILTER_RATIO = 1100   # gzip/deflate expands at most ~1032x


def _check_dataset_size(ds, path, where):
    """Refuse a dataset whose shape claims more bytes than its storage in the file can hold,
    before reading allocates them (a forged header, or a compression bomb)."""
    with _h5_errors(path, f"cannot read the header of dataset {where}"):
        nbytes = int(ds.size or 0) * ds.dtype.itemsize
        if nbytes <= 1 << 16:
            return
        stored = int(ds.id.get_storage_size())
        filtered = ds.chunks is not None and bool(ds._filters)
    limit = stored * _MAX_FILTER_RATIO if filtered else stored
    if nbytes > limit:
        raise KerasH5FormatError(f"dataset {where} claims {nbytes} bytes but the file stores {stored} for it "
                                 "(truncated or forged file)", path)


def _read_dataset(ds, path, where, budget):
    """A :class:`LazyDataset` for ``ds`` (size and dtype vetted, nothing read yet)."""
    h5py = _h5py()
    if not isinstance(ds, h5py.Dataset):
        raise KerasH5FormatError(f"{where} is a {type(ds).__name__}, expected a dataset", path)
    _check_dataset_size(ds, path, where)
    with _h5_errors(path, f"cannot read the attributes of dataset {where} (truncated or corrupted file?)"):
        bf16 = _decode(ds.attrs["dtype"]) == "bfloat16" if "dtype" in ds.attrs else False
    return LazyDataset(ds, path, where, budget, bf16=bf16)


def _read_subset(group, path, layer, budget):
    """[(weight_name, array)] for one legacy layer group (per its ``weight_names`` attribute)."""
    with _h5_errors(path, f"cannot read the weight_names of layer '{layer}'"):
        names = _str_list_attr(group, "weight_names") or []
    out = []
    for wname in names:
        with _h5_errors(path, f"layer '{layer}' lists weight '{wname}' but the file lacks it"):
            ds = group[wname]
        out.append((wname, _read_dataset(ds, path, f"'{layer}/{wname}'", budget)))
    return out


def _legacy_from_group(group, path, budget):
    with _h5_errors(path, "cannot read the layer_names attribute"):
        layer_names = _str_list_attr(group, "layer_names")
    if layer_names is None:
        with _h5_errors(path, "cannot list the file"):
            keys, attrs = list(group.keys())[:10], list(group.attrs.keys())[:10]
        raise KerasH5FormatError(
            f"no 'layer_names' attribute in '{group.name}': not a Keras legacy weights layout "
            f"(attributes {attrs}, groups {keys})", path)
    out = []
    for layer in layer_names:
        with _h5_errors(path, f"layer '{layer}' is listed in layer_names but has no group"):
            g = group[layer]
        out.append((layer, _read_subset(g, path, layer, budget)))
    if "top_level_model_weights" in group and "top_level_model_weights" not in layer_names:
        extra = _read_subset(group["top_level_model_weights"], path, "top_level_model_weights", budget)
        if extra:                      # Keras 3 writes it; only worth returning when non-empty
            out.append(("top_level_model_weights", extra))
    return out


def read_keras_legacy_weights(h5file_or_group) -> list:
    """Read the Keras 1/2 legacy HDF5 weights layout: ``[(layer_name, [(weight_name, array)])]``.

    Accepts a path, an open ``h5py.File`` or a group; a full-model file is read from its
    ``model_weights`` group. Layers come in the file's ``layer_names`` order (topological),
    including layers without weights (empty list).
    """
    with _opened(h5file_or_group, "Keras legacy weights") as (f, path, budget):
        return materialize(legacy_weights_lazy(f, path, budget))


def legacy_weights_lazy(f, path, budget):
    """Like :func:`read_keras_legacy_weights` on an open, vetted file, with :class:`LazyDataset` values."""
    group = f
    if "layer_names" not in f.attrs and "layer_names0" not in f.attrs and "model_weights" in f:
        group = f["model_weights"]
    return _legacy_from_group(group, path, budget)


class KerasFullModel(NamedTuple):
    """What ``read_keras_full_model`` returns."""

    model_config: dict
    training_config: dict | None
    weights: list
    attrs: dict          # {"keras_version": ..., "backend": ...} (None when absent)


def _json_attr(f, name, path, required):
    if name not in f.attrs:
        if required:
            raise KerasH5FormatError(
                f"no '{name}' attribute: not a full-model Keras HDF5 file (a weights-only file reads with "
                "read_keras_legacy_weights)", path)
        return None
    with _h5_errors(path, f"cannot read the '{name}' attribute"):
        raw = _decode(f.attrs[name])
    if not isinstance(raw, str):
        raise KerasH5FormatError(f"'{name}' attribute is {type(raw).__name__}, expected a JSON string", path)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        raise KerasH5FormatError(f"'{name}' attribute is not valid JSON: {e}", path) from e
    return value


def read_keras_full_model(path) -> KerasFullModel:
    """Read a Keras 2 full-model HDF5 file: ``(model_config, training_config, weights, attrs)``.

    ``model_config`` is the parsed ``{"class_name", "config"}`` dict, ``training_config`` the
    parsed compile settings or None, ``weights`` the legacy structure of ``model_weights``,
    ``attrs`` the ``keras_version`` and ``backend`` strings.
    """
    with _opened(path, "a Keras full model") as (f, p, budget):
        model_config = _json_attr(f, "model_config", p, required=True)
        if not isinstance(model_config, dict) or "class_name" not in model_config:
            raise KerasH5FormatError("'model_config' is not a {'class_name', 'config'} object", p)
        training_config = _json_attr(f, "training_config", p, required=False)
        if "model_weights" not in f:
            raise KerasH5FormatError("no 'model_weights' group: the file holds a config but no weights", p)
        weights = materialize(_legacy_from_group(f["model_weights"], p, budget))
        attrs = {}
        for key in ("keras_version", "backend"):
            src = f.attrs if key in f.attrs else f["model_weights"].attrs
            attrs[key] = _decode(src[key]) if key in src else None
    return KerasFullModel(model_config, training_config, weights, attrs)


def read_keras_optimizer_weights(path) -> list:
    """``[(name, array)]`` from the ``optimizer_weights`` group of a Keras 2 full-model file ([] if none)."""
    with _opened(path, "Keras optimizer weights") as (f, p, budget):
        if "optimizer_weights" not in f:
            return []
        return materialize(_read_subset(f["optimizer_weights"], p, "optimizer_weights", budget))


def _natural_key(name):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def _keras3_walk(f, path, include_optimizer, read_values=True, read_names=False, budget=None):
    h5py = _h5py()
    out, names = [], {}
    if budget is None and read_values:
        budget = ReadBudget(path, f.file)

    def visit(group, prefix):
        if "vars" in group and isinstance(group["vars"], h5py.Group):
            vars_group = group["vars"]
            keys = sorted(vars_group.keys(), key=_natural_key)
            if read_values:
                weights = [(k, _read_dataset(vars_group[k], path, f"'{prefix}/vars/{k}'" if prefix else f"'vars/{k}'",
                                             budget))
                           for k in keys]
                out.append((prefix, weights))
            if read_names and "name" in vars_group.attrs:
                names[prefix] = _decode(vars_group.attrs["name"])
        children = [k for k in group.keys() if k != "vars"]
        if not prefix:   # the model's layers first, then optimizer and other trackables
            children.sort(key=lambda k: (k != "layers", _natural_key(k)))
        else:
            children.sort(key=_natural_key)
        for k in children:
            if not prefix and k == "optimizer" and not include_optimizer:
                continue
            child = group[k]
            if isinstance(child, h5py.Group):
                visit(child, f"{prefix}/{k}" if prefix else k)

    with _h5_errors(path, "cannot walk the Keras 3 weights layout"):
        visit(f, "")
    return out, names


def _check_keras3(f, path):
    if "layer_names" in f.attrs or "layer_names0" in f.attrs or "model_config" in f.attrs:
        raise KerasH5FormatError("this is a Keras 1/2 legacy HDF5 file, not a Keras 3 .weights.h5 "
                                 "(read it with read_keras_legacy_weights)", path)
    if not any(k in f for k in ("vars", "layers", "_layer_checkpoint_dependencies")):
        raise KerasH5FormatError(f"no 'layers' or 'vars' group: not a Keras 3 .weights.h5 layout "
                                 f"(groups {list(f.keys())[:10]})", path)


def read_keras3_weights(path, include_optimizer: bool = True) -> list:
    """Read a Keras 3 ``.weights.h5``: ``[(object_path, [(index, array)])]``.

    ``object_path`` is the group path without ``/vars`` (``"layers/dense"``,
    ``"layers/lstm/cell"``, ``"optimizer"``; ``""`` for variables of the model itself); every
    object Keras saved is listed, with an empty list when it has no variables. The model's
    layers come first, in natural name order (``dense``, ``dense_1``, ``dense_2``, ...).
    """
    with _opened(path, "Keras 3 weights") as (f, p, budget):
        return materialize(keras3_weights_lazy(f, p, budget, include_optimizer))


def keras3_weights_lazy(f, path, budget, include_optimizer=True):
    """Like :func:`read_keras3_weights` on an open, vetted file, with :class:`LazyDataset` values."""
    _check_keras3(f, path)
    return _keras3_walk(f, path, include_optimizer, budget=budget)[0]


def read_keras3_object_names(path) -> dict:
    """``object_path -> name`` from the ``name`` attribute Keras 3 stores on each ``vars`` group
    (e.g. ``"layers/conv2d" -> "conv"``, the layer's own name)."""
    with _opened(path, "Keras 3 weights") as (f, p, _):
        _check_keras3(f, p)
        return _keras3_walk(f, p, True, read_values=False, read_names=True)[1]


def _is_safetensors(head, size):
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def detect_format(path) -> str:
    """Name the layout of a weight file from its content (not its extension).

    Returns ``"keras_legacy_h5"``, ``"keras_full_h5"``, ``"keras3_weights_h5"``, ``"keras_archive"``
    (a Keras 3 ``.keras`` zip), ``"zoo_h5"``
    (HDF5 with a root ``zoo_format`` attribute), ``"torch_zip"``, ``"torch_legacy"`` or
    ``"safetensors"``; raises :class:`UnknownFormatError` (or a format error for an HDF5 file
    h5py cannot open) otherwise.
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as e:
        raise UnknownFormatError(f"cannot read: {e.strerror or e}", path) from e
    if not head:
        raise UnknownFormatError("empty file", path)
    if head.startswith(HDF5_SIGNATURE):
        h5py = _h5py()
        with _h5_errors(path, "HDF5 signature, but h5py cannot open it (truncated or corrupted)"):
            f = h5py.File(path, "r")
        with f, _h5_errors(path, "cannot read the HDF5 root"):
            check_hdf5_file(f, path)
            attrs = set(f.attrs.keys())
            if "zoo_format" in attrs:
                return "zoo_h5"
            if "model_config" in attrs:
                return "keras_full_h5"
            if "layer_names" in attrs or "layer_names0" in attrs:
                return "keras_legacy_h5"
            if any(k in f for k in ("vars", "layers", "_layer_checkpoint_dependencies")):
                return "keras3_weights_h5"
            if "model_weights" in f:
                return "keras_full_h5"
            raise UnknownFormatError(f"an HDF5 file of no known weight layout (root attributes "
                                     f"{sorted(attrs)[:10]}, groups {list(f.keys())[:10]})", path)
    kind = sniff_torch_format(head)
    if kind == "torch_zip":
        import zipfile
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise UnknownFormatError(f"a zip archive that cannot be read (truncated?): {e}", path) from e
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "torch_zip"
        if "config.json" in names:
            return "keras_archive"
        raise UnknownFormatError(f"a zip archive that is not a torch checkpoint (entries {names[:5]})", path)
    if kind == "torch_legacy":
        return "torch_legacy"
    if _is_safetensors(head, size):
        return "safetensors"
    raise UnknownFormatError(f"unrecognised weight file (starts with {head[:16]!r}): expected HDF5, a "
                             "PyTorch checkpoint or safetensors", path)
