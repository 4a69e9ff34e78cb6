"""Load a Keras 2 full-model HDF5 file (``model_config`` + ``model_weights`` + ``training_config``)
into an equivalent model built from this project's layers.

Keras 2 layer configs carry keys this project's layers do not take (``ragged``, ``decay``...):
keys a layer does not accept are dropped with a warning naming them, never silently; a layer
class this project lacks is an error naming it and the classes that are supported.
"""
from __future__ import annotations

import inspect
import warnings

from .. import optimizers
from ..layers.base import Layer
from ..models.serialization import model_from_config
from ..object_registration import get_custom_objects, objects_in_namespace
from .errors import KerasH5FormatError, WeightFileError, is_project_error
from .keras_h5 import read_keras_full_model
from .zoo_format import assign_keras_layers

# Keras 2 config keys that carry no meaning here (dropped without a warning)
_HARMLESS = {"ragged", "sparse", "data_format", "input_length", "implementation", "unroll", "time_major",
             "reset_after_default", "synchronized", "build_config", "dynamic", "module", "registered_name"}


class UnsupportedKerasLayerError(WeightFileError):
    """The Keras file uses a layer class this project does not have."""


def _layer_classes():
    """Layer and model classes by name: the engine's (by their Keras names) and the registered ones."""
    classes = {}
    for namespace in ("keras", "keras.models", "keras.src.models.functional", "keras.layers"):
        classes.update({k: v for k, v in objects_in_namespace(namespace).items()
                        if isinstance(v, type) and issubclass(v, Layer)})
    for key, obj in get_custom_objects().items():
        if isinstance(obj, type) and issubclass(obj, Layer):
            classes[key] = obj
            classes.setdefault(key.split(">", 1)[1], obj)
    return classes


def _accepted(cls):
    names = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names |= {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and n != "self"}
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
        if klass is Layer:
            break
    names |= {"name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_size", "input_dim"}
    return names


def _fix_value(key, value):
    if isinstance(value, dict) and "class_name" in value and "config" in value and key.endswith(
            ("initializer", "regularizer", "constraint")):
        cfg = {k: v for k, v in value["config"].items() if v is not None or k == "seed"}
        return {"class_name": value["class_name"], "config": cfg}
    return value


def convert_layer_config(class_name, config, custom_objects=None):
    """(class, kwargs) for a Keras layer config, or an error naming an unsupported class."""
    custom_objects = custom_objects or {}
    classes = _layer_classes()
    cls = custom_objects.get(class_name) or classes.get(class_name)
    if cls is None:
        supported = sorted(n for n in classes if n[0].isupper() and ">" not in n)
        raise UnsupportedKerasLayerError(
            f"Keras layer class {class_name!r} (layer {config.get('name')!r}) is not supported here; "
            f"supported layer classes: {', '.join(supported)}")
    accepted = _accepted(cls)
    kwargs, dropped = {}, []
    for k, v in config.items():
        if k in accepted:
            kwargs[k] = _fix_value(k, v)
        elif k not in _HARMLESS:
            dropped.append(k)
        elif k == "data_format" and v not in (None, "channels_last"):
            raise UnsupportedKerasLayerError(f"layer {config.get('name')!r}: data_format={v!r} is not supported "
                                             "(channels_last only)")
    if class_name == "BatchNormalization" and isinstance(kwargs.get("axis"), list) and len(kwargs["axis"]) == 1:
        kwargs["axis"] = kwargs["axis"][0]
    if dropped:
        warnings.warn(f"Keras layer {config.get('name')!r} ({class_name}): ignoring config keys {sorted(dropped)} "
                      "that this project's layer does not take", stacklevel=3)
    return cls, kwargs


def _layer_entry(lc, custom_objects):
    cls, kwargs = convert_layer_config(lc["class_name"], lc.get("config", {}), custom_objects)
    return {"class_name": cls.__name__, "config": kwargs, "name": lc.get("name", kwargs.get("name"))}


def _node_to_keras3(node):
    """Keras 2 ``[[layer, node_index, tensor_index, kwargs], ...]`` -> ``{"args": [...], "kwargs": {...}}``."""
    refs, kwargs = [], {}
    for entry in node:
        name, node_index, tensor_index = entry[0], entry[1], entry[2]
        if len(entry) > 3 and entry[3]:
            kwargs.update(entry[3])
        refs.append({"class_name": "__keras_tensor__",
                     "config": {"keras_history": [name, node_index, tensor_index]}})
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": kwargs}


def convert_model_config(model_config, custom_objects=None):
    """A Keras 2 ``{"class_name": "Functional"|"Model"|"Sequential", "config": ...}`` in this project's
    config layout."""
    class_name = model_config["class_name"]
    cfg = model_config["config"]
    if class_name in ("Functional", "Model"):
        layers = []
        for lc in cfg["layers"]:
            entry = _layer_entry(lc, custom_objects)
            nodes = lc.get("inbound_nodes", [])
            entry["inbound_nodes"] = [n if isinstance(n, dict) else _node_to_keras3(n) for n in nodes]
            layers.append(entry)
        return {"class_name": "Functional", "config": {
            "name": cfg.get("name"), "trainable": cfg.get("trainable", True), "layers": layers,
            "input_layers": cfg["input_layers"], "output_layers": cfg["output_layers"]}}
    if class_name == "Sequential":
        layer_cfgs = cfg["layers"] if isinstance(cfg, dict) else cfg
        layers, build_shape = [], None
        for lc in layer_cfgs:
            if lc["class_name"] == "InputLayer":
                build_shape = lc["config"].get("batch_input_shape") or lc["config"].get("batch_shape")
                continue
            if build_shape is None and "batch_input_shape" in lc.get("config", {}):
                build_shape = lc["config"]["batch_input_shape"]
            layers.append(_layer_entry(lc, custom_objects))
        out = {"name": cfg.get("name") if isinstance(cfg, dict) else None, "layers": layers}
        if build_shape is not None:
            out["build_input_shape"] = build_shape
        return {"class_name": "Sequential", "config": out}
    raise UnsupportedKerasLayerError(f"Keras model class {class_name!r} is not supported (Functional, Model, "
                                     "Sequential are)")


def _compile_from_training_config(model, tc, custom_objects):
    opt_cfg = tc.get("optimizer_config")
    optimizer = "rmsprop"
    if opt_cfg:
        name = opt_cfg["class_name"]
        cls = type(optimizers.get(name.lower()))
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
        conf = {k: v for k, v in opt_cfg["config"].items() if k in accepted and k != "name"}
        if "lr" in opt_cfg["config"] and "learning_rate" not in conf:
            conf["learning_rate"] = opt_cfg["config"]["lr"]
        optimizer = cls(**conf)
    metrics = []
    for m in (tc.get("metrics") or []):
        for item in (m if isinstance(m, list) else [m]):
            if isinstance(item, dict):
                metrics.append(item.get("config", {}).get("name", "accuracy"))
            else:
                metrics.append(item)
    model.compile(optimizer=optimizer, loss=tc.get("loss"), metrics=metrics or None,
                  loss_weights=tc.get("loss_weights"))


def load_keras_full_model(path, custom_objects=None, compile=True, safe_mode=True):
    """An equivalent model for a Keras 2 full-model HDF5 file, with its weights (and compiled as its
    training_config says, when ``compile``)."""
    full = read_keras_full_model(path)
    try:
        config = convert_model_config(full.model_config, custom_objects)
        model = model_from_config(config, custom_objects=custom_objects, safe_mode=safe_mode)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as e:
        if is_project_error(e):
            raise
        raise KerasH5FormatError(f"the model_config is corrupted or not a Keras model config "
                                 f"({type(e).__name__}: {e})", path) from e
    assign_keras_layers(model, full.weights, str(path), by_name=True)
    if compile and full.training_config:
        try:
            _compile_from_training_config(model, full.training_config, custom_objects)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            if is_project_error(e):
                raise
            raise KerasH5FormatError(f"the training_config is corrupted or not understood "
                                     f"({type(e).__name__}: {e}); load with compile=False to skip it", path) from e
    return model
