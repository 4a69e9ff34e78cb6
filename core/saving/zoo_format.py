"""The project's own HDF5 format: one file holding the architecture (JSON config), every weight
by its layer path, the optimizer state and iteration count, the compile config and assets.

Layout (root attribute ``zoo_format`` = "model" or "weights", ``zoo_format_version`` = 1)::

    /model_config            attr: JSON {"class_name", "config"}           (model files)
    /compile_config          attr: JSON {"optimizer", "loss", ...}         (when compiled)
    /weights/<layer path>    one dataset per weight, e.g. sequential/dense/kernel
    /weights                 attr "paths": the weight paths in model.weights order
    /optimizer/vars/<i>      optimizer.variables() in order; attrs "names", "config"
    /assets/<name>           JSON text, bytes or arrays a model or app attached

Writes go to a temporary file in the same folder and are renamed over the target only when
complete, so an interrupted save never leaves a truncated file where a good one was. Nothing
in the file is code: loading never unpickles; a Lambda layer is refused unless safe_mode=False.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager

import numpy as np

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from ..layers.base import deserialize_layer, serialize_layer
from ..object_registration import get_custom_objects, get_registered_name
from ..serialization_lib import deserialize_keras_object, serialize_keras_object
from .atomic import atomic_path as _atomic_path
from .errors import WeightFileError, is_project_error
from .hdf5_guard import LazyDataset, ReadBudget, check_hdf5_file

FORMAT_VERSION = 1


class SavingError(WeightFileError):
    """A model or weights file that cannot be written or read back as asked."""


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a dependency
        raise SavingError("saving and loading need h5py (pip install h5py)") from e
    return h5py


def atomic_path(path, overwrite=True):
    """:func:`core.saving.atomic.atomic_path` raising :class:`SavingError` for an existing file."""
    return _atomic_path(path, overwrite, error=SavingError)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _dumps(obj) -> str:
    return json.dumps(obj, default=_json_default)


# ----------------------------------------------------------------------------- weights
def _write_weights(group, model):
    paths = []
    for w in model.weights:
        path = getattr(w, "path", None) or w.name
        if path in group:
            raise SavingError(f"two weights share the path {path!r}; give the layers unique names before saving")
        group.create_dataset(path, data=w.numpy())
        paths.append(path)
    group.attrs["paths"] = _dumps(paths)


def _read_weights(group, source, budget):
    """``[(path, LazyDataset)]`` in the file's weight order; nothing is read yet."""
    h5py = _h5py()
    paths = json.loads(_attr_text(group, "paths") or "null")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise SavingError(f"{source}: the weights group's 'paths' attribute is not a list of names")
    out = []
    for p in paths:
        ds = group.get(p)
        if not isinstance(ds, h5py.Dataset):
            raise SavingError(f"{source}: weight {p!r} is listed but the file has no dataset weights/{p}")
        out.append((p, LazyDataset(ds, source, f"'weights/{p}'", budget)))
    return out


@contextmanager
def _open_h5(path):
    """Open an HDF5 weight file read-only after vetting it; yield (file, read budget). Raw h5py,
    JSON and config errors become a :class:`SavingError` naming the file."""
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise SavingError(f"{path}: cannot open as HDF5 (truncated or not an HDF5 file): {e}") from e
    with f:
        check_hdf5_file(f, path)
        try:
            yield f, ReadBudget(path, f)
        except (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError, RecursionError,
                SystemError) as e:
            if is_project_error(e):
                raise
            raise SavingError(f"{path}: corrupted or unreadable content: {type(e).__name__}: {e}") from e


def _assign_all(pairs):
    """Read every (weight, array-like) pair, then assign them all: a file that fails to read leaves
    the model as it was."""
    arrays = [np.asarray(a) for _, a in pairs]
    for (w, _), arr in zip(pairs, arrays):
        w.assign(arr)


def assign_weights(model, pairs, source, by_name=False, skip_mismatch=False):
    """Copy ``[(path, array)]`` into ``model.weights`` in order (or matched by path with
    ``by_name``); every mismatch is an error naming the weight, the expected and found shape."""
    weights = model.weights
    todo = []
    if by_name:
        table = dict(pairs)
        for w in weights:
            arr = table.get(w.path)
            if arr is None:
                if skip_mismatch:
                    continue
                raise SavingError(f"{source}: no weight {w.path!r} in the file (model weight of shape {tuple(w.shape)})")
            if _shape_ok(w, arr, source, skip_mismatch):
                todo.append((w, arr))
    else:
        if len(pairs) != len(weights):
            raise SavingError(f"{source} holds {len(pairs)} weights but model '{model.name}' has {len(weights)}: "
                              f"file {[p for p, _ in pairs][:6]}..., model {[w.path for w in weights][:6]}...")
        for w, (path, arr) in zip(weights, pairs):
            if _shape_ok(w, arr, source, skip_mismatch, file_path=path):
                todo.append((w, arr))
    _assign_all(todo)


def _shape_ok(w, arr, source, skip_mismatch, file_path=None):
    if tuple(arr.shape) != tuple(w.shape):
        if skip_mismatch:
            return False
        where = f" (file: {file_path})" if file_path and file_path != w.path else ""
        raise SavingError(f"{source}: weight {w.path!r}{where} expects shape {tuple(w.shape)}, the file has "
                          f"{tuple(arr.shape)}")
    return True


# ----------------------------------------------------------------------------- assets
def _write_assets(group, assets):
    for name, value in (assets or {}).items():
        if isinstance(value, np.ndarray):
            ds = group.create_dataset(name, data=value)
            ds.attrs["kind"] = "array"
        elif isinstance(value, (bytes, bytearray)):
            ds = group.create_dataset(name, data=np.frombuffer(bytes(value), dtype=np.uint8))
            ds.attrs["kind"] = "bytes"
        else:
            try:
                text = _dumps(value)
            except TypeError as e:
                raise SavingError(f"asset {name!r} cannot be saved: {e}; use JSON data, bytes or arrays") from None
            ds = group.create_dataset(name, data=np.frombuffer(text.encode("utf-8"), dtype=np.uint8))
            ds.attrs["kind"] = "json"


def _read_assets(group, budget):
    out = {}
    for name in group:
        ds = group[name]
        kind = ds.attrs.get("kind", "array")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        data = LazyDataset(ds, budget.path, f"'assets/{name}'", budget).read()
        if kind == "bytes":
            out[name] = data.tobytes()
        elif kind == "json":
            out[name] = json.loads(data.tobytes().decode("utf-8"))
        else:
            out[name] = data
    return out


# ----------------------------------------------------------------------------- save
def save_model(model, path, overwrite=True, include_optimizer=True):
    """Save architecture, weights, optimizer state, compile config and assets to one HDF5 file."""
    h5py = _h5py()
    config = serialize_layer(model)
    config.pop("compile_config", None)  # stored on its own (compile_config attribute), read only when compile=True
    with atomic_path(path, overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["zoo_format"] = "model"
            f.attrs["zoo_format_version"] = FORMAT_VERSION
            f.attrs["model_config"] = _dumps(config)
            _write_weights(f.create_group("weights"), model)
            compile_cfg = _compile_config(model)
            if compile_cfg is not None:
                f.attrs["compile_config"] = _dumps(compile_cfg)
                if include_optimizer and model.optimizer is not None and getattr(model.optimizer, "built", False):
                    _write_optimizer(f.create_group("optimizer"), model)
            _write_assets(f.create_group("assets"), getattr(model, "assets", None))


def save_weights(model, path, overwrite=True):
    """Save only the weights (by layer path) to an HDF5 file."""
    h5py = _h5py()
    with atomic_path(path, overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["zoo_format"] = "weights"
            f.attrs["zoo_format_version"] = FORMAT_VERSION
            _write_weights(f.create_group("weights"), model)


def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None

    def loss_cfg(loss):
        if loss is None:
            return None
        return losses_mod.serialize(loss)

    names = model._output_names_for_compile()
    return {
        "optimizer": optimizers_mod.serialize(model.optimizer),
        "loss": {n: loss_cfg(l) for n, l in zip(names, model._losses_per_output)},
        "loss_weights": dict(zip(names, model._loss_weights)),
        "metrics": {n: [_metric_cfg(m) for m in specs] for n, specs in zip(names, model._metric_specs)},
        "weighted_metrics": {n: [_metric_cfg(m) for m in specs]
                             for n, specs in zip(names, model._weighted_metric_specs)},
    }


def _metric_cfg(metric):
    """A compiled metric as a name (built-in names, functions) or, for a Metric object or a registered
    function, its Keras config dict (so that custom metrics load back)."""
    if isinstance(metric, str):
        return metric
    if isinstance(metric, metrics_mod.Metric) or get_registered_name(metric) in get_custom_objects():
        return metrics_mod.serialize(metric) if isinstance(metric, metrics_mod.Metric) else \
            serialize_keras_object(metric)
    return getattr(metric, "name", None) or getattr(metric, "__name__", str(metric))


def _write_optimizer(group, model):
    opt = model.optimizer
    values = opt.variables()
    names = opt.variable_names() if hasattr(opt, "variable_names") else [str(i) for i in range(len(values))]
    vars_group = group.create_group("vars")
    for i, v in enumerate(values):
        vars_group.create_dataset(str(i), data=np.asarray(v))
    group.attrs["names"] = _dumps(list(names))
    # which model weights the slots belong to, so they are matched back by path
    params = list(getattr(opt, "_params", None) or model.trainable_weights)
    group.attrs["param_paths"] = _dumps([getattr(p, "path", p.name) for p in params])


# ----------------------------------------------------------------------------- load
def _attr_text(f, name):
    v = f.attrs.get(name)
    if v is None:
        return None
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def load_zoo_model(path, custom_objects=None, compile=True, safe_mode=True):
    with _open_h5(path) as (f, budget):
        if _attr_text(f, "zoo_format") != "model":
            raise SavingError(f"{path} holds only weights (saved with save_weights); build the model and call "
                              "load_weights instead")
        config = json.loads(_attr_text(f, "model_config") or "null")
        if not isinstance(config, dict):
            raise SavingError(f"{path}: the 'model_config' attribute is not a JSON object")
        config.pop("compile_config", None)
        model = deserialize_layer(config, custom_objects=custom_objects, safe_mode=safe_mode)
        if not model.built:
            raise SavingError(f"{path}: the saved model has no input shape, so it cannot be rebuilt")
        assign_weights(model, _read_weights(f["weights"], path, budget), str(path))
        model.assets = _read_assets(f["assets"], budget) if "assets" in f else {}
        compile_text = _attr_text(f, "compile_config")
        if compile and compile_text:
            _restore_compile(model, json.loads(compile_text), custom_objects)
            if "optimizer" in f:
                _restore_optimizer(model, f["optimizer"], path, budget)
    return model


def _restore_compile(model, cfg, custom_objects):
    names = model._output_names_for_compile()
    optimizer = optimizers_mod.deserialize(cfg["optimizer"], custom_objects=custom_objects)
    loss = {n: losses_mod.deserialize(c, custom_objects=custom_objects) for n, c in cfg["loss"].items()
            if c is not None}
    def metric(m):
        if isinstance(m, dict):
            return deserialize_keras_object(m, custom_objects=custom_objects, namespaces=("keras.metrics",))
        return m

    metrics = {n: [metric(x) for x in m] for n, m in cfg.get("metrics", {}).items() if m}
    wmetrics = {n: [metric(x) for x in m] for n, m in cfg.get("weighted_metrics", {}).items() if m}
    if len(names) == 1:
        loss = next(iter(loss.values()), None)
        metrics = next(iter(metrics.values()), None)
        wmetrics = next(iter(wmetrics.values()), None)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None, weighted_metrics=wmetrics or None,
                  loss_weights=cfg.get("loss_weights") if len(names) > 1 else None)


def _restore_optimizer(model, group, path, budget):
    arrays = [LazyDataset(group["vars"][str(i)], path, f"'optimizer/vars/{i}'", budget).read()
              for i in range(len(group["vars"]))]
    param_paths = json.loads(_attr_text(group, "param_paths") or "[]")
    by_path = {w.path: w for w in model.weights}
    missing = [p for p in param_paths if p not in by_path]
    if missing:
        raise SavingError(f"{path}: optimizer state refers to weights {missing[:5]} that the model does not have")
    params = [by_path[p] for p in param_paths]
    model.optimizer.set_variables(arrays, params)


def load_weights_file(model, path, by_name=False, skip_mismatch=False):
    """``model.load_weights``: this project's files, Keras legacy HDF5 (keras.applications), Keras 3
    ``.weights.h5`` and the weights inside a Keras 2 full-model file."""
    from . import keras_h5

    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such weights file: {path}")
    fmt = keras_h5.detect_format(path)
    if fmt in ("zoo_h5", "keras_legacy_h5", "keras_full_h5"):
        # shapes are compared with the model before any data is read, and nothing is assigned
        # unless every weight read
        with _open_h5(path) as (f, budget):
            if fmt == "zoo_h5":
                if "weights" not in f:
                    raise SavingError(f"{path}: no 'weights' group")
                assign_weights(model, _read_weights(f["weights"], path, budget), path, by_name=by_name,
                               skip_mismatch=skip_mismatch)
            else:
                layers = keras_h5.legacy_weights_lazy(f, path, budget)
                assign_keras_layers(model, layers, path, by_name=by_name, skip_mismatch=skip_mismatch)
        return
    if fmt == "keras3_weights_h5":
        from .keras_archive import load_keras3_weights_into

        with keras_h5._opened(path, "Keras 3 weights") as (f, _, _budget):
            load_keras3_weights_into(model, f, path, skip_mismatch=skip_mismatch)
        return
    if fmt == "keras_archive":
        import io

        from .keras_archive import load_keras3_weights_into, read_keras_archive

        with _h5py().File(io.BytesIO(read_keras_archive(path).weights), "r") as f:
            load_keras3_weights_into(model, f, f"{path}:model.weights.h5", skip_mismatch=skip_mismatch)
        return
    raise SavingError(f"{path}: format {fmt!r} holds no Keras-layout weights; for PyTorch checkpoints and "
                      "safetensors read the state dict (core.saving) and map it with core.saving.torch_mapping")


def _layers_with_weights(model):
    out = []
    for layer in model.layers:
        if layer.weights:
            out.append(layer)
    return out


def assign_keras_layers(model, file_layers, source, by_name=False, skip_mismatch=False):
    """Copy Keras per-layer weight lists ``[(layer_name, [(weight_name, array)])]`` into the model:
    in topological order (layers with weights, as Keras does) or by layer name."""
    file_layers = [(name, ws) for name, ws in file_layers if ws]
    ours = _layers_with_weights(model)
    todo = []
    if by_name:
        table = {name: ws for name, ws in file_layers}
        for layer in ours:
            ws = table.get(layer.name)
            if ws is None:
                if skip_mismatch:
                    continue
                raise SavingError(f"{source}: no weights for layer '{layer.name}' in the file")
            todo += _layer_pairs(layer, ws, source, skip_mismatch)
        _assign_all(todo)
        return
    if len(file_layers) != len(ours):
        raise SavingError(f"{source} has weights for {len(file_layers)} layers but model '{model.name}' has "
                          f"{len(ours)} layers with weights (file: {[n for n, _ in file_layers][:5]}..., model: "
                          f"{[l.name for l in ours][:5]}...); pass by_name=True to match layers by name")
    for layer, (name, ws) in zip(ours, file_layers):
        todo += _layer_pairs(layer, ws, source, skip_mismatch, file_layer=name)
    _assign_all(todo)


def _layer_pairs(layer, ws, source, skip_mismatch, file_layer=None):
    """[(weight, array)] for one layer after checking counts and shapes ([] when skipped)."""
    params = layer.weights
    if len(ws) != len(params):
        if skip_mismatch:
            return []
        raise SavingError(f"{source}: layer '{layer.name}' has {len(params)} weights "
                          f"{[(p.name, tuple(p.shape)) for p in params]}, the file's layer "
                          f"'{file_layer or layer.name}' has {len(ws)} {[(n, tuple(a.shape)) for n, a in ws]}")
    checked = []
    for p, (wname, arr) in zip(params, ws):
        if tuple(arr.shape) != tuple(p.shape):
            if skip_mismatch:
                return []
            raise SavingError(f"{source}: layer '{layer.name}' weight '{p.name}' expects shape {tuple(p.shape)}, "
                              f"the file's '{wname}' has {tuple(arr.shape)}")
        checked.append((p, arr))
    return checked
