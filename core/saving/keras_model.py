"""Keras model configs (Keras 2 ``model_config`` of full-model HDF5 files, Keras 3 ``config.json``
and ``to_json()``) rebuilt from this project's layers, and Keras 2 full-model HDF5 loading.

Keras configs carry keys this project's layers do not take (``ragged``, ``decay``...): keys a
layer does not accept are dropped with a warning naming them, never silently; Keras 3 keys that
mean nothing here at their default value (``quantization_config=None``, ``lora_rank=None``...)
are dropped quietly, and with any other value raise. A layer class this project lacks is an error
naming it and the classes that are supported. Keras 3's object forms are accepted everywhere:
``{"module": "keras.initializers", "class_name": "GlorotUniform", "config": {...},
"registered_name": null}`` for initializers, regularizers and constraints, and
``{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}`` for dtypes.
"""
from __future__ import annotations

import inspect
import warnings

from .. import optimizers
from ..layers.base import Layer
from ..models.serialization import model_from_config
from ..object_registration import get_api_symbol, get_custom_objects, get_registered_object, objects_in_namespace
from .errors import KerasH5FormatError, WeightFileError, is_project_error
from .keras_h5 import read_keras_full_model
from .zoo_format import assign_keras_layers

# Keras 2 config keys that carry no meaning here (dropped without a warning)
_HARMLESS = {"ragged", "sparse", "data_format", "input_length", "implementation", "unroll", "time_major",
             "reset_after_default", "synchronized", "build_config", "dynamic", "module", "registered_name",
             "shared_object_id"}
# Keras 3 config keys for features this project lacks: dropped when at these values, an error otherwise
_DEFAULT_ONLY = {"quantization_config": None, "lora_rank": None, "lora_alpha": None, "optional": False,
                 "use_gate": False, "sliding_window": None, "flash_attention": None,
                 "rms_scaling": False}
_MODEL_CLASSES = ("Functional", "Model", "Sequential")


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
    names |= set(getattr(cls, "_cell_args", ()))   # recurrent layers pass these to their cell via **kwargs
    return names


def _dtype_name(value):
    """A dtype from a Keras 3 dtype policy dict (``DTypePolicy``/``FloatDTypePolicy``) or a string."""
    if isinstance(value, dict) and "class_name" in value:
        name = (value.get("config") or {}).get("name")
        if not isinstance(name, str):
            raise UnsupportedKerasLayerError(f"dtype policy {value!r} has no name")
        if name.startswith("mixed_"):   # as core.dtype_policies: mixed precision is not served
            raise UnsupportedKerasLayerError(f"dtype policy {name!r}: mixed precision is not supported here; "
                                             "save the model with a float32 policy")
        return name
    return value


_NESTED_LAYER_KEYS = ("layer", "backward_layer", "cell", "cells")


def _fix_value(key, value, custom_objects=None):
    if key == "dtype":
        return _dtype_name(value)
    if key in _NESTED_LAYER_KEYS:   # wrappers (TimeDistributed, Bidirectional, RNN): their layer's config too
        if isinstance(value, dict) and "class_name" in value and isinstance(value.get("config"), dict):
            return _nested_layer(value, custom_objects)
        if isinstance(value, list):
            return [_nested_layer(v, custom_objects) if isinstance(v, dict) and "class_name" in v else v
                    for v in value]
    if isinstance(value, dict) and "class_name" in value and "config" in value and key.endswith(
            ("initializer", "regularizer", "constraint")):
        cfg = {k: v for k, v in (value["config"] or {}).items() if v is not None or k == "seed"}
        return {"class_name": value["class_name"], "config": cfg}
    return value


def _find_class(class_name, registered_name, custom_objects, module=None):
    """A layer or model class by its registered name, then its class name: ``custom_objects`` first,
    then the object registry (registered ``"Package>Name"``, the public name ``module.class_name``
    (e.g. ``keras.src.applications.convnext.LayerScale``) and the engine's Keras names)."""
    if isinstance(module, str) and module and isinstance(class_name, str) and class_name not in custom_objects:
        obj = get_api_symbol(f"{module}.{class_name}")
        if isinstance(obj, type) and issubclass(obj, Layer):
            return obj
    classes = None
    for key in (registered_name, class_name):
        if not key:
            continue
        if key in custom_objects:
            return custom_objects[key]
        obj = get_registered_object(key)
        if isinstance(obj, type) and issubclass(obj, Layer):
            return obj
        classes = classes if classes is not None else _layer_classes()
        if key in classes:
            return classes[key]
    return None


def convert_layer_config(class_name, config, custom_objects=None, registered_name=None, module=None):
    """(class, kwargs) for a Keras layer config, or an error naming an unsupported class."""
    custom_objects = custom_objects or {}
    cls = _find_class(class_name, registered_name, custom_objects, module)
    if cls is None:
        supported = sorted(n for n in _layer_classes() if n[0].isupper() and ">" not in n)
        raise UnsupportedKerasLayerError(
            f"Keras layer class {class_name!r} (layer {config.get('name')!r}) is not supported here; "
            f"supported layer classes: {', '.join(supported)}")
    accepted = _accepted(cls)
    kwargs, dropped = {}, []
    for k, v in config.items():
        if k in accepted:
            kwargs[k] = _fix_value(k, v, custom_objects)
        elif k in _DEFAULT_ONLY:
            if v != _DEFAULT_ONLY[k]:
                raise UnsupportedKerasLayerError(f"layer {config.get('name')!r} ({class_name}): {k}={v!r} is not "
                                                 f"supported here (only {_DEFAULT_ONLY[k]!r})")
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


def _nested_layer(lc, custom_objects):
    cls, kwargs = convert_layer_config(lc["class_name"], lc.get("config", {}), custom_objects,
                                       registered_name=lc.get("registered_name"), module=lc.get("module"))
    return {**_class_keys(lc, cls), "config": kwargs}


def _lambda_entry(lc, custom_objects, safe_mode):
    cfg = dict(lc.get("config", {}))
    name = cfg.get("name")
    if safe_mode:
        raise UnsupportedKerasLayerError(
            f"refusing to load a Lambda layer ({name!r}): its function would be code from the file. If you trust "
            f"the file, load it with safe_mode=False and custom_objects={{{name!r}: your_function}}")
    fn = cfg.get("function")
    fn_name = fn if isinstance(fn, str) else (fn.get("config") if isinstance(fn, dict) and isinstance(
        fn.get("config"), str) else None)
    custom_objects = custom_objects or {}
    func = custom_objects.get(name) or (custom_objects.get(fn_name) if fn_name else None)
    if func is None:
        raise UnsupportedKerasLayerError(
            f"Lambda layer {name!r}: its function is stored as "
            f"{'Python bytecode, which is never executed here' if isinstance(fn, dict) else repr(fn_name)}; "
            f"pass it as custom_objects={{{name!r}: your_function}}")
    arguments = cfg.get("arguments") or {}
    return {"class_name": "Lambda", "name": name, "config": {
        "function": name, "arguments": arguments, "name": name,
        "trainable": cfg.get("trainable", True)}}, {name: func}


def _is_op_entry(lc):
    """A Keras 3 op node (``x + y``, ``ops.softmax(x)`` on a symbolic tensor): its module names the
    ops namespace, which the layer deserializer resolves (never the layer of the same class name)."""
    module = str(lc.get("module") or "")
    return module.startswith("keras.src.ops") or module.startswith("core.ops")


def _layer_entry(lc, custom_objects, safe_mode=True, lambdas=None):
    class_name = lc["class_name"]
    if _is_op_entry(lc):
        return {k: v for k, v in lc.items() if k != "inbound_nodes"}
    if class_name in _MODEL_CLASSES and isinstance(lc.get("config"), dict) and "layers" in lc["config"]:
        entry = convert_model_config(lc, custom_objects, safe_mode=safe_mode, _lambdas=lambdas)
        entry["name"] = lc.get("name", lc["config"].get("name"))
        return entry
    if class_name == "Lambda":
        entry, fns = _lambda_entry(lc, custom_objects, safe_mode)
        if lambdas is not None:
            lambdas.update(fns)
        return entry
    cls, kwargs = convert_layer_config(class_name, lc.get("config", {}), custom_objects,
                                       registered_name=lc.get("registered_name"), module=lc.get("module"))
    return {**_class_keys(lc, cls), "config": kwargs, "name": lc.get("name", kwargs.get("name"))}


def _class_keys(lc, cls):
    """The keys that name a layer's class, as the config gave them (a Keras 3 config: module and
    registered name too, so the registry resolves it as the file meant); a Keras 2 config: our class."""
    if "module" in lc or "registered_name" in lc:
        return {"module": lc.get("module"), "class_name": lc["class_name"], "registered_name": lc.get("registered_name")}
    return {"class_name": cls.__name__}


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


def convert_model_config(model_config, custom_objects=None, safe_mode=True, _lambdas=None):
    """A Keras 2 or Keras 3 ``{"class_name": "Functional"|"Model"|"Sequential", "config": ...}`` in this
    project's config layout. Lambda functions found in ``custom_objects`` (``safe_mode=False``) are
    added to it under the layer's name."""
    class_name = model_config["class_name"]
    cfg = model_config["config"]
    lambdas = {} if _lambdas is None else _lambdas
    out = _convert_model(class_name, cfg, custom_objects, safe_mode, lambdas)
    if _lambdas is None and lambdas and custom_objects is not None:
        custom_objects.update(lambdas)
    return out


def _history(v):
    if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
        return tuple(v["config"]["keras_history"])
    return None


def _drop_implicit_masks(layer_cfgs):
    """Keras 3 records an ``Embedding(mask_zero=True)``'s mask as an explicit ``NotEqual(x, 0)`` op
    passed as ``mask=`` to the next layer. Masks propagate implicitly here, so such an op node (when
    every use of it is a ``mask=`` of a layer fed by that very Embedding) and its uses are dropped."""
    by_name = {lc.get("name", lc.get("config", {}).get("name")): lc for lc in layer_cfgs}
    drop = set()
    for name, lc in by_name.items():
        if lc["class_name"] != "NotEqual" or not str(lc.get("module") or "").startswith("keras.src.ops"):
            continue
        nodes = lc.get("inbound_nodes", [])
        if len(nodes) != 1 or not isinstance(nodes[0], dict) or len(nodes[0].get("args", [])) != 2 \
                or nodes[0]["args"][1] != 0:
            continue
        source = _history(nodes[0]["args"][0])
        uses, ok = 0, True
        for other in layer_cfgs:
            for node in other.get("inbound_nodes", []):
                if not isinstance(node, dict):
                    continue
                refs = [r for r in _flatten_refs(node) if r[0] == name]
                if not refs:
                    continue
                mask = _history(node.get("kwargs", {}).get("mask"))
                first = _history(node["args"][0]) if node.get("args") else None
                emb = by_name.get(first[0]) if first else None
                fed = emb is not None and emb["class_name"] == "Embedding" and emb["config"].get("mask_zero") and \
                    any(_history(n["args"][0]) == source for n in emb.get("inbound_nodes", []) if isinstance(n, dict))
                if len(refs) != 1 or mask is None or mask[0] != name or not fed:
                    ok = False
                uses += 1
        if ok:
            drop.add(name)
    if not drop:
        return layer_cfgs
    out = []
    for lc in layer_cfgs:
        if lc.get("name", lc.get("config", {}).get("name")) in drop:
            continue
        nodes = []
        for node in lc.get("inbound_nodes", []):
            if isinstance(node, dict) and _history(node.get("kwargs", {}).get("mask")) and \
                    _history(node["kwargs"]["mask"])[0] in drop:
                node = {**node, "kwargs": {k: v for k, v in node["kwargs"].items() if k != "mask"}}
            nodes.append(node)
        out.append({**lc, "inbound_nodes": nodes})
    return out


def _flatten_refs(value):
    h = _history(value)
    if h is not None:
        return [h]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _flatten_refs(v)]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _flatten_refs(v)]
    return []


def _recorded_call(node):
    """Keras 3 records the ``training`` default (and ``mask=None``) a layer saw when the graph was
    built; at run time the model's own training flag and the propagated masks decide, so they go."""
    kwargs = {k: v for k, v in node.get("kwargs", {}).items() if k != "training" and not (k == "mask" and v is None)}
    return {**node, "kwargs": kwargs}


def _convert_model(class_name, cfg, custom_objects, safe_mode, lambdas):
    if class_name in ("Functional", "Model"):
        layers = []
        for lc in _drop_implicit_masks(cfg["layers"]):
            entry = _layer_entry(lc, custom_objects, safe_mode, lambdas)
            nodes = lc.get("inbound_nodes", [])
            entry["inbound_nodes"] = [_recorded_call(n) if isinstance(n, dict) else _node_to_keras3(n) for n in nodes]
            layers.append(entry)
        return {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
            "name": cfg.get("name"), "trainable": cfg.get("trainable", True), "layers": layers,
            "input_layers": cfg["input_layers"], "output_layers": cfg["output_layers"]}}
    if class_name == "Sequential":
        layer_cfgs = cfg["layers"] if isinstance(cfg, dict) else cfg
        layers, build_shape, input_dtype = [], None, None
        for lc in layer_cfgs:
            if lc["class_name"] == "InputLayer":
                build_shape = lc["config"].get("batch_input_shape") or lc["config"].get("batch_shape")
                input_dtype = _dtype_name(lc["config"].get("dtype"))
                continue
            if build_shape is None and "batch_input_shape" in lc.get("config", {}):
                build_shape = lc["config"]["batch_input_shape"]
            layers.append(_layer_entry(lc, custom_objects, safe_mode, lambdas))
        if build_shape is None and isinstance(cfg, dict):
            build_shape = cfg.get("build_input_shape")
        out = {"name": cfg.get("name") if isinstance(cfg, dict) else None, "layers": layers}
        if isinstance(cfg, dict) and "trainable" in cfg:
            out["trainable"] = cfg["trainable"]
        if build_shape is not None:
            out["build_input_shape"] = build_shape
        if input_dtype and input_dtype != "float32":
            out["input_dtype"] = input_dtype
        return {"module": "keras", "class_name": "Sequential", "config": out}
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


def compile_from_keras_config(model, cfg, custom_objects=None):
    """Compile ``model`` as a Keras 3 ``compile_config`` says (optimizer, loss, metrics, loss weights).
    A setting this project cannot rebuild leaves the model uncompiled, with a warning naming it
    (Keras does the same)."""
    from .. import optimizers

    from .. import losses

    custom_objects = custom_objects or {}

    def loss_of(spec):
        if isinstance(spec, dict) and "class_name" in spec:     # one serialized loss
            return losses.deserialize(spec, custom_objects=custom_objects)
        if isinstance(spec, dict):                             # per output
            return {k: loss_of(v) for k, v in spec.items()}
        if isinstance(spec, list):
            return [loss_of(v) for v in spec]
        if isinstance(spec, str) and spec in custom_objects:
            return custom_objects[spec]
        return spec

    try:
        opt = cfg.get("optimizer") or "rmsprop"
        optimizer = optimizers.deserialize(opt, custom_objects=custom_objects) if isinstance(opt, dict) \
            else optimizers.get(opt)
        model.compile(optimizer=optimizer, loss=loss_of(cfg.get("loss")), metrics=cfg.get("metrics"),
                      weighted_metrics=cfg.get("weighted_metrics"), loss_weights=cfg.get("loss_weights"))
    except (ValueError, TypeError, KeyError) as e:
        warnings.warn(f"the saved compile settings could not be restored ({e}); the model is loaded uncompiled "
                      "(compile it yourself to train it)", stacklevel=3)
        model.compiled = False
        model.optimizer = None


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
