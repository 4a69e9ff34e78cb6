"""Keras 3's ``.keras`` zip format and its ``.weights.h5`` layout, both ways, with NumPy and h5py.

A ``.keras`` archive holds three entries:

* ``metadata.json``: ``{"keras_version", "date_saved"}`` (written here with a ``zoo_version`` too);
* ``config.json``: the model in Keras's serialized form (``{"module", "class_name", "config",
  "registered_name", "build_config", "compile_config"}``; every initializer, regularizer,
  constraint and dtype policy written as ``{"module": "keras.initializers", "class_name", "config",
  "registered_name"}``);
* ``model.weights.h5``: one ``vars`` group per object Keras walks (``vars`` for the model itself,
  ``layers/dense/vars``, ``layers/lstm/cell/vars``, ``layers/multi_head_attention/query_dense/vars``,
  ``optimizer/vars``), datasets ``"0"``, ``"1"``... in the object's variable order; each ``vars``
  group carries the object's ``name`` attribute. Layers of a model are named by their class in
  snake case, numbered per class in ``model.layers`` order (``dense``, ``dense_1``...); sublayers by
  the attribute that holds them, public names first (as Keras's ``dir()`` walk does).

Loading treats the archive as untrusted: only the entries above (and ``assets/...``) are read,
names with ``..`` or absolute paths are refused, sizes are checked against the central directory
before anything is allocated, a compressed entry may not claim more than deflate can produce from
its compressed size, and nothing in the config is code (a ``Lambda`` needs ``safe_mode=False`` and
its function in ``custom_objects``).
"""
from __future__ import annotations

import datetime
import io
import json
import os
import warnings
import zipfile

import numpy as np

from .errors import WeightFileError
from .hdf5_guard import ReadBudget, check_hdf5_file
from .zoo_format import SavingError, _dumps, _read_assets, _write_assets, atomic_path

__all__ = ["save_keras_archive", "load_keras_archive", "keras_config", "model_from_keras_config",
           "write_keras3_weights", "load_keras3_weights_into", "read_keras_archive", "KerasArchive",
           "KerasArchiveError", "KERAS_VERSION"]

KERAS_VERSION = "3.15.1"           # the Keras release whose format this writes and is tested against
CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"
ZOO_ASSETS_NAME = "assets/zoo/assets.h5"
MAX_JSON_BYTES = 64 << 20          # a config of 64 MiB is far beyond any real model
MAX_DEFLATE_RATIO = 1032           # deflate's largest possible expansion
_CHUNK = 1 << 20


class KerasArchiveError(WeightFileError):
    """A ``.keras`` archive that is malformed, unsafe or holds something this project cannot rebuild."""


# ============================================================================ naming (Keras's walk)
def _name_key(name):
    return f"~{name}" if name.startswith("_") else name


def _snake(name):
    from ..layers.base import to_snake_case

    return to_snake_case(name)


def _is_model(layer):
    return hasattr(layer, "_stack") or hasattr(layer, "_all_layers")


def _sublayer_paths(layer):
    """``[(attribute path, sublayer)]`` for the sublayers of a (non-model) layer, named as Keras's
    ``dir()`` walk names them: the first attribute in sorted order (public before private) that
    holds the sublayer, or ``<list attribute>/<snake class>[_n]`` when it sits in a list."""
    from ..layers.base import Layer

    subs = list(getattr(layer, "_layers", []))
    if not subs:
        return []
    wanted = {id(s): s for s in subs}
    found = {}
    for attr in sorted(dir(layer), key=_name_key):
        if attr.startswith("__") or attr in ("_layers", "layers", "_inbound_nodes", "_outbound_nodes"):
            continue
        try:
            value = getattr(layer, attr)
        except Exception:   # properties that need a built or called layer
            continue
        if isinstance(value, Layer):
            if id(value) in wanted and id(value) not in found:
                found[id(value)] = attr
        elif isinstance(value, (list, tuple, dict)):
            items = list(value.values()) if isinstance(value, dict) else list(value)
            used = {}
            for item in items:
                if isinstance(item, Layer):
                    key = _snake(type(item).__name__)
                    n = used.get(key, -1) + 1
                    used[key] = n
                    if id(item) in wanted and id(item) not in found:
                        found[id(item)] = f"{attr}/{key if n == 0 else f'{key}_{n}'}"
    missing = [s.name for s in subs if id(s) not in found]
    if missing:
        raise SavingError(f"layer '{layer.name}': sublayers {missing} are held by no attribute, so their place "
                          "in Keras's weights layout is unknown")
    return [(found[id(s)], s) for s in subs]


def _own_variables(layer):
    return list(layer._trainable_params) + list(layer._non_trainable_params)


def keras3_weight_layout(model):
    """``[(object path, object name, [variables])]`` in the layout Keras 3 writes for ``model``
    (the model itself at ``""``); every layer is listed, with or without variables."""
    return [(path, layer.name, own) for path, layer, own in _layer_layout(model)]


def _layer_layout(model):
    """``[(object path, layer, [its own variables])]``: Keras 3's walk of ``model``."""
    from ..layers.core_layers import InputLayer

    out = []

    def layer_entry(layer, path):
        own = [] if isinstance(layer, InputLayer) else _own_variables(layer)
        out.append((path, layer, own))
        if _is_model(layer):
            used = {}
            for sub in layer.layers:
                key = _snake(type(sub).__name__)
                n = used.get(key, -1) + 1
                used[key] = n
                name = key if n == 0 else f"{key}_{n}"
                layer_entry(sub, f"{path}/layers/{name}" if path else f"layers/{name}")
            return
        for attr, sub in _sublayer_paths(layer):
            layer_entry(sub, f"{path}/{attr}" if path else attr)

    layer_entry(model, "")
    return out


# ============================================================================ weights (.weights.h5)
def _h5py():
    from .zoo_format import _h5py as get

    return get()


def _write_vars(f, path, name, arrays, named=None):
    group = f.create_group(f"{path}/vars" if path else "vars")
    group.attrs["name"] = name
    for i, a in enumerate(arrays):
        group.create_dataset(str(i), data=a)
    for key, a in (named or {}).items():   # a layer's own store entries (Keras's save_own_variables)
        group.create_dataset(key, data=a)


def _named_arrays(layer):
    return layer._named_variable_arrays() if hasattr(layer, "_named_variable_arrays") else {}


def write_keras3_weights(model, target, include_optimizer=True):
    """Write ``model``'s variables (and its built optimizer's) in Keras 3's ``.weights.h5`` layout to
    ``target``: a path (written atomically) or a writable binary file object."""
    h5py = _h5py()
    from .. import backend

    def write(f):
        seen = set()
        for path, layer, variables in _layer_layout(model):
            arrays = []
            for v in variables:
                if id(v) in seen:   # a shared weight is saved by its first owner only (as Keras)
                    continue
                seen.add(id(v))
                arrays.append(np.asarray(backend.to_numpy(v.numpy() if hasattr(v, "numpy") else v)))
            _write_vars(f, path, layer.name, arrays, _named_arrays(layer))
        opt = getattr(model, "optimizer", None)
        if include_optimizer and opt is not None:   # unbuilt: iteration and learning rate only, as Keras
            _write_vars(f, "optimizer", opt.name, [np.asarray(backend.to_numpy(v)) for v in opt.variables()])

    if isinstance(target, (str, os.PathLike)):
        with atomic_path(target) as tmp:
            with h5py.File(tmp, "w") as f:
                write(f)
    else:
        with h5py.File(target, "w") as f:
            write(f)


def _keras3_groups(f, source, include_optimizer):
    """``{object path: [(index, LazyDataset)]}`` of a vetted Keras 3 weights file (nothing read yet)."""
    from .keras_h5 import _check_keras3, _keras3_walk

    check_hdf5_file(f, source)
    _check_keras3(f, source)
    return dict(_keras3_walk(f, source, include_optimizer, budget=ReadBudget(source, f))[0])


def _path_variants(path):
    """Where Keras may have put an object: the path itself, its public spelling (``_query_dense`` ->
    ``query_dense``) and Keras 2.13's ``_layer_checkpoint_dependencies`` for ``layers``."""
    public = "/".join(seg.lstrip("_") or seg for seg in path.split("/"))
    out = [path, public]
    out += [p.replace("layers", "_layer_checkpoint_dependencies") for p in (path, public)]
    return list(dict.fromkeys(out))


def assign_keras3_weights(model, groups, source, skip_mismatch=False):
    """Copy ``{object path: [(index, array)]}`` (a Keras 3 weights file) into ``model``, object by
    object in the layout :func:`keras3_weight_layout` gives; every shape is checked before anything
    is assigned."""
    checked, seen, named = [], set(), []
    for path, layer, variables in _layer_layout(model):
        name = layer.name
        variables = [v for v in variables if id(v) not in seen]
        seen.update(id(v) for v in variables)
        found = next((p for p in _path_variants(path) if p in groups), None)
        # datasets "0", "1", ... are the variables; other names are a layer's own entries (a 'tf_idf'
        # lookup's idf_weights), given to the layer that reads them and never dropped silently
        entries = {k: a for k, a in groups[found] if not str(k).isdigit()} if found is not None else {}
        if entries:
            if hasattr(layer, "_load_named_variable_arrays"):
                named.append((layer, entries))
            elif not skip_mismatch:
                raise SavingError(f"{source}: the file's '{found}/vars' has entries {sorted(entries)} that layer "
                                  f"'{name}' ({type(layer).__name__}) does not read (a custom save_own_variables?): "
                                  "load it with the class that wrote them, or load_weights(..., skip_mismatch=True) "
                                  "to leave them out")
        if not variables:
            continue
        if found is None:
            if skip_mismatch:
                continue
            raise SavingError(f"{source}: no '{path}/vars' group for layer '{name}' ({len(variables)} variables); "
                              f"the file's groups with variables: {sorted(g for g, a in groups.items() if a)[:8]}")
        arrays = [a for k, a in groups[found] if str(k).isdigit()]
        if len(arrays) != len(variables):
            if skip_mismatch:
                continue
            raise SavingError(f"{source}: layer '{name}' has {len(variables)} variables "
                              f"{[(v.name, tuple(v.shape)) for v in variables]}, the file's '{found}/vars' has "
                              f"{len(arrays)} {[tuple(a.shape) for a in arrays]}")
        for v, a in zip(variables, arrays):
            if tuple(a.shape) != tuple(v.shape):
                if skip_mismatch:
                    break
                raise SavingError(f"{source}: weight {v.path!r} expects shape {tuple(v.shape)}, the file's "
                                  f"'{found}/vars' has {tuple(a.shape)}")
        else:
            checked.extend(zip(variables, arrays))
    values = [np.asarray(a) for _, a in checked]   # every weight is read before any is assigned
    named = [(layer, {k: np.asarray(a) for k, a in entries.items()}) for layer, entries in named]
    for (v, _), value in zip(checked, values):
        v.assign(value)
    for layer, arrays in named:
        layer._load_named_variable_arrays(arrays)


def load_keras3_weights_into(model, h5, source, skip_mismatch=False, optimizer=True):
    """Copy a Keras 3 weights file (an open ``h5py.File``) into ``model``; with ``optimizer`` and a
    compiled model, the ``optimizer/vars`` state too (built against the model's trainable weights)."""
    groups = _keras3_groups(h5, source, include_optimizer=True)
    opt_arrays = [np.asarray(a) for _, a in groups.pop("optimizer", [])] if optimizer else []
    assign_keras3_weights(model, groups, source, skip_mismatch=skip_mismatch)
    opt = getattr(model, "optimizer", None)
    if optimizer and opt is not None and opt_arrays:
        if not getattr(opt, "built", False) and len(opt_arrays) == len(opt.variables()):
            # saved before any step: the iteration count and learning rate, nothing to build
            for (_, _, restore), value in zip(opt._state_entries(), opt_arrays):
                restore(value)
            return
        try:
            opt.set_variables(opt_arrays, list(model.trainable_weights))
        except ValueError as e:
            warnings.warn(f"{source}: the optimizer state was not restored ({e}); training resumes with a fresh "
                          "optimizer state", stacklevel=3)


# ============================================================================ config: ours -> Keras
_LAYER_MODULE = "keras.layers"
_OBJECT_MODULES = {"initializer": "keras.initializers", "regularizer": "keras.regularizers",
                   "constraint": "keras.constraints"}
_MODEL_CLASSES = ("Sequential", "Functional", "Model")


def _dtype_policy(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _registered_name(class_name, entry):
    """The ``"Package>Name"`` a custom class is saved under: the one its serialized entry carries,
    else the registry's, else ``Custom>Name`` (as Keras names an unregistered class)."""
    from ..object_registration import get_registered_name
    from .keras_model import _find_class

    if entry.get("registered_name"):
        return entry["registered_name"]
    cls = _find_class(class_name, None, {})
    name = get_registered_name(cls) if cls is not None else None
    return name if name and ">" in name else f"Custom>{class_name}"


def _keras_object(key, value):
    """Keras's form of an initializer/regularizer/constraint config value."""
    if not isinstance(value, dict) or "class_name" not in value:
        return value
    kind = next((k for k in _OBJECT_MODULES if key.endswith(k)), None)
    if kind is None:
        return value
    out = {"module": value.get("module") or _OBJECT_MODULES[kind], "class_name": value["class_name"],
           "config": dict(value.get("config") or {}), "registered_name": value.get("registered_name")}
    if out["module"].startswith("core."):
        out["module"] = _OBJECT_MODULES[kind]
    return out


def _keras_layer_config(cfg, class_name):
    cfg = dict(cfg)
    cfg.pop("batch_input_shape", None)      # Keras 3 layers take their input shape from an InputLayer
    if class_name == "InputLayer":
        cfg.setdefault("sparse", False)
        cfg.setdefault("ragged", False)
        cfg.setdefault("optional", False)
        return cfg
    if isinstance(cfg.get("dtype"), str):
        cfg["dtype"] = _dtype_policy(cfg["dtype"])
    for k, v in list(cfg.items()):
        if k in ("layer", "backward_layer", "cell") and isinstance(v, dict) and "class_name" in v:
            cfg[k] = _keras_entry(v)       # a wrapper's layer (TimeDistributed, Bidirectional, RNN)
        elif k == "cells" and isinstance(v, list):
            cfg[k] = [_keras_entry(c) if isinstance(c, dict) and "class_name" in c else c for c in v]
        else:
            cfg[k] = _keras_object(k, v)
    return cfg


def _keras_entry(entry, build_shape=None):
    """One serialized layer (``serialize_layer`` output) in Keras's form."""
    class_name = entry["class_name"]
    module = entry.get("module") or ""
    entry = dict(entry)
    if class_name in ("Sequential", "Functional") or _is_model_config(entry):
        base = "Sequential" if class_name == "Sequential" or "input_layers" not in entry["config"] else "Functional"
        cfg = _keras_model_config(base, entry["config"])
        out = {"module": "keras" if base == "Sequential" else "keras.src.models.functional",
               "class_name": class_name, "config": cfg, "registered_name": None}
        if class_name not in ("Sequential", "Functional"):   # a registered subclass (zoo's ClassifierModel)
            out["module"], out["registered_name"] = None, _registered_name(class_name, entry)
        if class_name == "Sequential" and cfg.get("build_input_shape") is not None:
            out["build_config"] = {"input_shape": cfg["build_input_shape"]}
    elif module.startswith("keras.src.ops"):
        out = {k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")}   # a symbolic op (x + y)
    else:
        builtin = module.startswith(("core.", "keras")) and not entry.get("registered_name")
        registered = None if builtin else _registered_name(class_name, entry)
        layer_module = _LAYER_MODULE if registered is None else None
        if builtin and module.startswith("keras.src.applications."):
            # a keras.applications module's own layer (ConvNeXt's LayerScale): Keras names it so
            layer_module, registered = module, class_name
        out = {"module": layer_module, "class_name": class_name,
               "config": _keras_layer_config(entry["config"], class_name), "registered_name": registered}
        if build_shape is not None and class_name != "InputLayer":
            out["build_config"] = {"input_shape": list(build_shape)}
    for k in ("name", "inbound_nodes"):
        if k in entry:
            out[k] = entry[k]
    return out


def _is_model_config(entry):
    cfg = entry.get("config") or {}
    return isinstance(cfg, dict) and "layers" in cfg and isinstance(cfg["layers"], list) and (
        "input_layers" in cfg or "build_input_shape" in cfg or entry["class_name"] in _MODEL_CLASSES)


def _keras_model_config(class_name, cfg):
    cfg = dict(cfg)
    if class_name == "Sequential":
        layers = [_keras_entry(lc) for lc in cfg["layers"]]
        shape = cfg.get("build_input_shape")
        if shape is not None and not (layers and layers[0]["class_name"] == "InputLayer"):
            input_cfg = {"batch_shape": list(shape), "dtype": cfg.get("input_dtype") or "float32",
                         "sparse": False, "ragged": False, "name": f"{cfg.get('name') or 'sequential'}_input",
                         "optional": False}
            layers.insert(0, {"module": _LAYER_MODULE, "class_name": "InputLayer", "config": input_cfg,
                              "registered_name": None})
        out = {"name": cfg.get("name"), "trainable": cfg.get("trainable", True), "dtype": _dtype_policy("float32"),
               "layers": layers}
        if shape is not None:
            out["build_input_shape"] = list(shape)
        return out
    out = dict(cfg)
    out.pop("input_dtype", None)
    out["layers"] = [_keras_entry(lc) for lc in cfg["layers"]]
    return out


def _serialize_loss(loss):
    from .. import losses as losses_mod

    if loss is None or isinstance(loss, str):
        return loss
    try:
        out = losses_mod.serialize(loss)
    except ValueError:   # a user function: by name, as Keras (custom_objects resolves it on load)
        return getattr(loss, "__name__", None) or getattr(loss, "name", None) or type(loss).__name__
    if isinstance(out, dict) and out.get("class_name") == "LossFunctionWrapper":
        fn = (out.get("config") or {}).get("fn")
        if isinstance(fn, dict) and fn.get("class_name") == "function":
            fn = fn.get("config")
        if isinstance(fn, str):
            return fn                    # a function given to compile: its name, as Keras writes it
    return out


def _serialize_metric(metric):
    from .. import metrics as metrics_mod

    if isinstance(metric, str):
        return metric
    try:
        return metrics_mod.serialize(metric)
    except (ValueError, TypeError, AttributeError):
        return getattr(metric, "__name__", None) or getattr(metric, "name", None) or type(metric).__name__


def _compile_config(model):
    """Keras's ``compile_config`` for a compiled model, or None."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return None
    from .. import optimizers as optimizers_mod

    given = getattr(model, "_compile_config", None) or {}
    names = model._output_names_for_compile()
    if isinstance(given.get("loss"), str):
        loss = given["loss"]
    elif len(names) == 1:
        loss = _serialize_loss(model._losses_per_output[0])
    else:
        loss = {n: _serialize_loss(l) for n, l in zip(names, model._losses_per_output)}

    def metric_configs(specs_per_output):
        per = [[_serialize_metric(m) for m in specs] for specs in specs_per_output]
        if not any(per):
            return None
        return per[0] if len(names) == 1 else dict(zip(names, per))

    return {"optimizer": optimizers_mod.serialize(model.optimizer), "loss": loss,
            "loss_weights": given.get("loss_weights"), "metrics": metric_configs(model._metric_specs),
            "weighted_metrics": metric_configs(model._weighted_metric_specs), "run_eagerly": False,
            "steps_per_execution": 1, "jit_compile": False}


def keras_config(model, include_compile=True) -> dict:
    """``model``'s config in the form Keras 3 writes to ``config.json`` and ``to_json()``."""
    from ..models.serialization import serialize_layer

    entry = _keras_entry(serialize_layer(model))
    if entry["class_name"] not in ("Sequential", "Functional") and not _is_model_config(entry):
        raise SavingError(f"model '{model.name}' ({type(model).__name__}) is a subclassed model: Keras's .keras "
                          "format stores it only through a registered class with get_config; save it with "
                          "model.save('m.zoo.h5') or save_weights('m.weights.h5')")
    if "build_config" not in entry and getattr(model, "built", False):
        shape = getattr(model, "_input_batch_shape", None)
        if shape is not None:
            entry["build_config"] = {"input_shape": list(shape)}
    if include_compile:
        compile_cfg = _compile_config(model)
        if compile_cfg is not None:
            entry["compile_config"] = compile_cfg
    return entry


def save_keras_archive(model, path, overwrite=True, include_optimizer=True):
    """Write ``model`` as a Keras 3 ``.keras`` archive (atomically)."""
    from .. import __version__ as zoo_version

    config = _dumps(keras_config(model))
    metadata = json.dumps({"keras_version": KERAS_VERSION, "zoo_version": zoo_version,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    weights = io.BytesIO()
    write_keras3_weights(model, weights, include_optimizer=include_optimizer)
    assets = getattr(model, "assets", None)
    layer_files = _layer_asset_files(model)
    with atomic_path(path, overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:   # stored, as Keras writes them
            zf.writestr(METADATA_NAME, metadata)
            zf.writestr(CONFIG_NAME, config)
            zf.writestr(WEIGHTS_NAME, weights.getvalue())
            for name, data in layer_files.items():
                zf.writestr(name, data)
            if assets:
                buf = io.BytesIO()
                with _h5py().File(buf, "w") as f:
                    _write_assets(f.create_group("assets"), assets)
                zf.writestr(ZOO_ASSETS_NAME, buf.getvalue())


# ============================================================================ layer assets
def _layer_asset_files(model):
    """``{"assets/<object path>/<file>": bytes}``: the files layers keep outside their variables
    (a lookup's adapted vocabulary: ``assets/layers/text_vectorization/vocabulary.txt``), where
    Keras's ``save_assets`` puts them."""
    out = {}
    for path, layer, _ in _layer_layout(model):
        files = layer._asset_files() if hasattr(layer, "_asset_files") else {}
        for name, data in files.items():
            out["/".join(p for p in ("assets", path, name) if p)] = data
    return out


def _load_layer_assets(model, files):
    """Give each layer with ``_load_asset_files`` the files of its ``assets/<object path>/`` folder."""
    for path, layer, _ in _layer_layout(model):
        if not hasattr(layer, "_load_asset_files"):
            continue
        prefix = "/".join(p for p in ("assets", path) if p) + "/"
        mine = {n[len(prefix):]: d for n, d in files.items() if n.startswith(prefix) and "/" not in n[len(prefix):]}
        if mine:
            layer._load_asset_files(mine)


# ============================================================================ reading (untrusted)
class KerasArchive:
    """The checked content of a ``.keras`` archive: ``config`` and ``metadata`` (dicts), and
    ``weights`` (the bytes of ``model.weights.h5``), ``assets`` (zoo assets, or {})."""

    def __init__(self, config, metadata, weights, assets, layer_files=None):
        self.config, self.metadata, self.weights, self.assets = config, metadata, weights, assets
        self.layer_files = layer_files or {}  # {"assets/<object path>/<file>": bytes} (vocabularies)


def _check_name(name, path):
    if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name or "\x00" in name:
        raise KerasArchiveError(f"unsafe entry name {name!r} in the archive (absolute or with '..')", path)


def _read_entry(zf, info, path, limit):
    """The bytes of one entry, its declared sizes checked before anything is allocated."""
    if info.flag_bits & 0x1:
        raise KerasArchiveError(f"entry {info.filename!r} is encrypted", path)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise KerasArchiveError(f"entry {info.filename!r} uses compression method {info.compress_type}; only "
                                "stored and deflated entries are read", path)
    archive_size = os.path.getsize(path)
    if info.compress_size > archive_size:
        raise KerasArchiveError(f"entry {info.filename!r} claims {info.compress_size} compressed bytes in a "
                                f"{archive_size}-byte file (truncated or forged)", path)
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise KerasArchiveError(f"stored entry {info.filename!r} claims {info.file_size} bytes but holds "
                                f"{info.compress_size}", path)
    if info.file_size > info.compress_size * MAX_DEFLATE_RATIO + 64:
        raise KerasArchiveError(f"entry {info.filename!r} claims {info.file_size} bytes from {info.compress_size} "
                                "compressed bytes, more than deflate can produce (a zip bomb?)", path)
    if limit is not None and info.file_size > limit:
        raise KerasArchiveError(f"entry {info.filename!r} is {info.file_size} bytes, over the {limit}-byte limit",
                                path)
    out = bytearray()
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            out += chunk
            if len(out) > info.file_size:
                raise KerasArchiveError(f"entry {info.filename!r} inflates past its declared size", path)
    if len(out) != info.file_size:
        raise KerasArchiveError(f"entry {info.filename!r} holds {len(out)} bytes, declared {info.file_size}", path)
    return bytes(out)


def _json_entry(zf, infos, name, path):
    if name not in infos:
        raise KerasArchiveError(f"no {name} in the archive (entries {sorted(infos)[:8]}): not a Keras 3 .keras file",
                                path)
    raw = _read_entry(zf, infos[name], path, MAX_JSON_BYTES)
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise KerasArchiveError(f"{name} is not valid JSON: {e}", path) from None
    if not isinstance(value, dict):
        raise KerasArchiveError(f"{name} holds a {type(value).__name__}, expected a JSON object", path)
    return value


def read_keras_archive(path) -> KerasArchive:
    """Open and check a ``.keras`` archive (nothing is extracted to disk, nothing executed)."""
    path = os.fspath(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise KerasArchiveError(f"not a readable zip archive: {e}", path) from None
    with zf:
        infos = {}
        for info in zf.infolist():
            _check_name(info.filename, path)
            if info.filename in infos:
                raise KerasArchiveError(f"entry {info.filename!r} appears twice in the archive", path)
            infos[info.filename] = info
        config = _json_entry(zf, infos, CONFIG_NAME, path)
        metadata = _json_entry(zf, infos, METADATA_NAME, path) if METADATA_NAME in infos else {}
        if WEIGHTS_NAME not in infos:
            sharded = [n for n in infos if n.endswith(".json") and "weights" in n]
            hint = " (sharded weights are not supported)" if sharded else ""
            raise KerasArchiveError(f"no {WEIGHTS_NAME} in the archive{hint}; entries: {sorted(infos)[:8]}", path)
        weights = _read_entry(zf, infos[WEIGHTS_NAME], path, None)
        layer_files, total = {}, 0
        for name, info in infos.items():  # layers' asset files (Keras's vocabulary.txt); nothing else is read
            if name.startswith("assets/") and name != ZOO_ASSETS_NAME and not name.endswith("/"):
                total += info.file_size
                if total > MAX_JSON_BYTES:
                    raise KerasArchiveError(f"the layer asset files exceed {MAX_JSON_BYTES} bytes", path)
                layer_files[name] = _read_entry(zf, info, path, MAX_JSON_BYTES)
        assets = {}
        if ZOO_ASSETS_NAME in infos:
            raw = _read_entry(zf, infos[ZOO_ASSETS_NAME], path, None)
            with _h5py().File(io.BytesIO(raw), "r") as f:
                check_hdf5_file(f, path)
                assets = _read_assets(f["assets"], ReadBudget(path, f)) if "assets" in f else {}
    return KerasArchive(config, metadata, weights, assets, layer_files)


def _registered_model_config(config, custom_objects, safe_mode):
    """Our config for a registered Sequential/Functional subclass: its graph converted as a plain one,
    its own extra keys kept, its class resolved by ``registered_name`` (then class name)."""
    from .keras_model import _find_class, convert_model_config

    cls = _find_class(config["class_name"], config.get("registered_name"), custom_objects)
    if cls is None:
        raise KerasArchiveError(f"model class {config['class_name']!r} (registered as "
                                f"{config.get('registered_name')!r}) is not known here: register it with "
                                "@core.layers.register_serializable or pass it in custom_objects", "<config>")
    cfg = config["config"]
    base = "Functional" if isinstance(cfg, dict) and "input_layers" in cfg else "Sequential"
    ours = convert_model_config({"class_name": base, "config": cfg}, custom_objects, safe_mode=safe_mode)
    extra = {k: v for k, v in cfg.items() if k not in ours["config"] and k not in ("dtype", "layers")}
    key = next((k for k in (config.get("registered_name"), config["class_name"])
                if k and (custom_objects.get(k) is cls)), None)
    if key is None:
        key = config.get("registered_name") or config["class_name"]
    return {"class_name": key, "config": {**ours["config"], **extra}}


def model_from_keras_config(config, custom_objects=None, safe_mode=True):
    """A model from a Keras 3 serialized config (``config.json``, ``model.to_json()``)."""
    from ..models.serialization import model_from_config
    from .keras_model import convert_model_config

    if not isinstance(config, dict) or "class_name" not in config:
        raise KerasArchiveError("a Keras config must be an object with 'class_name' and 'config'", "<config>")
    custom = dict(custom_objects or {})    # Lambda functions are added under their layer's name
    class_name = config["class_name"]
    if class_name not in ("Sequential", "Functional", "Model"):
        ours = _registered_model_config(config, custom, safe_mode)
    else:
        ours = convert_model_config(config, custom, safe_mode=safe_mode)
    model = model_from_config(ours, custom_objects=custom, safe_mode=safe_mode)
    build = config.get("build_config") or {}
    if not getattr(model, "built", False) and build.get("input_shape") is not None:
        model.build(tuple(build["input_shape"]))
    return model


def load_keras_archive(path, custom_objects=None, compile=True, safe_mode=True):
    """A model from a Keras 3 ``.keras`` archive: architecture, weights, and (with ``compile``) the
    compile settings and optimizer state."""
    from .keras_model import compile_from_keras_config

    path = os.fspath(path)
    archive = read_keras_archive(path)
    model = model_from_keras_config(archive.config, custom_objects=custom_objects, safe_mode=safe_mode)
    if not getattr(model, "built", False):
        raise KerasArchiveError("the saved model has no input shape, so its weights cannot be created", path)
    compile_cfg = archive.config.get("compile_config")
    if compile and compile_cfg:
        compile_from_keras_config(model, compile_cfg, custom_objects)
    h5py = _h5py()
    source = f"{path}:{WEIGHTS_NAME}"
    try:
        h5 = h5py.File(io.BytesIO(archive.weights), "r")
    except OSError as e:
        raise KerasArchiveError(f"{WEIGHTS_NAME} is not a readable HDF5 file: {e}", path) from None
    with h5:
        load_keras3_weights_into(model, h5, source, optimizer=compile)
    _load_layer_assets(model, archive.layer_files)
    model.assets = archive.assets
    return model
