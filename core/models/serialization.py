"""Layer and model configs in the Keras 3 JSON layout, and rebuilding models from them.

Configs never carry code: a ``Lambda`` layer is refused unless ``safe_mode=False`` (and even
then its function must be given in ``custom_objects``)."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor
from ..layers.base import _LAYER_CLASSES, KerasTensor, Layer, _flatten, map_structure
from ..ops.operation import FunctionOperation, get_operation


def encode_value(v, keep_tuples=False):
    """A JSON-able form of an op's argument, as Keras writes it: tuples as lists (as ``__tuple__``
    with ``keep_tuples``: an index ``x[0, 1]`` is not ``x[[0, 1]]``), slices as ``__slice__``,
    ``...`` as ``__ellipsis__``, arrays as ``__numpy__`` (value, dtype)."""
    if isinstance(v, tuple) and keep_tuples:
        return {"class_name": "__tuple__", "config": {"value": [encode_value(x, True) for x in v]}}
    if isinstance(v, (list, tuple)):
        return [encode_value(x, keep_tuples) for x in v]
    if isinstance(v, dict):
        return {k: encode_value(x, keep_tuples) for k, x in v.items()}
    if isinstance(v, slice):
        return {"class_name": "__slice__", "config": {"start": encode_value(v.start), "stop": encode_value(v.stop),
                                                     "step": encode_value(v.step)}}
    if v is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(v, Tensor):
        v = v.numpy()
    if isinstance(v, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": v.tolist(), "dtype": v.dtype.name}}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.dtype):
        return v.name
    return v


def decode_value(v):
    """The inverse of ``encode_value`` (lists stay lists; ops accept them where tuples were given)."""
    if isinstance(v, list):
        return [decode_value(x) for x in v]
    if isinstance(v, dict):
        kind = v.get("class_name")
        if kind == "__slice__":
            c = v["config"]
            return slice(decode_value(c.get("start")), decode_value(c.get("stop")), decode_value(c.get("step")))
        if kind == "__ellipsis__":
            return Ellipsis
        if kind == "__tuple__":
            return tuple(decode_value(x) for x in v["config"]["value"])
        if kind == "__numpy__":
            return np.asarray(v["config"]["value"], dtype=v["config"]["dtype"])
        if kind == "__keras_tensor__":
            return v
        return {k: decode_value(x) for k, x in v.items()}
    return v


def serialize_layer(layer: Layer) -> dict:
    return {"module": type(layer).__module__, "class_name": type(layer).__name__, "config": layer.get_config(),
            "name": layer.name}


def _lookup(class_name, custom_objects, module=None):
    custom_objects = custom_objects or {}
    if module is not None and (module.startswith("core.ops") or module.startswith("keras.src.ops")):
        op = get_operation(class_name, module)  # an op node (ops.add, x[:, 0], ...), not a layer
        if op is not None:
            return op
        raise ValueError(f"unknown op {module}.{class_name}: this engine has no keras.ops function of that name")
    if class_name in custom_objects:
        return custom_objects[class_name]
    if class_name in _LAYER_CLASSES:
        return _LAYER_CLASSES[class_name]
    # import the modules that define layers and models so that they register themselves
    from .. import layers as _layers  # noqa: F401
    from . import functional, sequential  # noqa: F401

    if class_name in _LAYER_CLASSES:
        return _LAYER_CLASSES[class_name]
    try:  # the model zoo's own classes (ClassifierModel, ...) register themselves on import
        import zoo.classifier  # noqa: F401
        import zoo.models  # noqa: F401
    except ImportError:
        pass
    if class_name in _LAYER_CLASSES:
        return _LAYER_CLASSES[class_name]
    raise ValueError(f"unknown layer class {class_name!r}: pass it in custom_objects or decorate it with "
                     "@core.layers.register_serializable()")


def deserialize_layer(config: dict, custom_objects=None, safe_mode=True) -> Layer:
    class_name = config["class_name"]
    if class_name == "Lambda":
        if safe_mode:
            raise ValueError("refusing to load a Lambda layer: it would run arbitrary code. "
                             "If you trust this file, load it with safe_mode=False and pass the function "
                             "in custom_objects")
        fn_name = config["config"].get("function")
        if not custom_objects or fn_name not in custom_objects:
            raise ValueError(f"Lambda layer function {fn_name!r} must be given in custom_objects")
        cfg = dict(config["config"])
        cfg["function"] = custom_objects[fn_name]
        return _lookup("Lambda", None)(**cfg)
    cls = _lookup(class_name, custom_objects, config.get("module"))
    cfg = dict(config.get("config", {}))
    if isinstance(cls, type) and issubclass(cls, FunctionOperation):
        return cls.from_config(decode_value(cfg))
    if hasattr(cls, "from_config") and cls.from_config.__func__ is not Layer.from_config.__func__:
        return cls.from_config(cfg, custom_objects=custom_objects, safe_mode=safe_mode) \
            if _accepts(cls.from_config, "custom_objects") else cls.from_config(cfg)
    return cls(**cfg)


def _accepts(fn, name):
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def sequential_config(model) -> dict:
    cfg = {"name": model.name, "trainable": model.trainable,
           "layers": [serialize_layer(l) for l in model.layers]}
    if model._input_batch_shape is not None:
        cfg["build_input_shape"] = list(model._input_batch_shape)
    if model._input_dtype is not None:
        cfg["input_dtype"] = model._input_dtype
    return cfg


def sequential_from_config(cls, config, custom_objects=None, safe_mode=True):
    model = cls(name=config.get("name"), trainable=config.get("trainable", True))
    if config.get("input_dtype"):
        model._input_dtype = config["input_dtype"]
    for lc in config["layers"]:
        model._stack.append(deserialize_layer(lc, custom_objects, safe_mode))
        model._layers.append(model._stack[-1])
    if config.get("build_input_shape") is not None:
        model.build(tuple(config["build_input_shape"]))
    return model


def _history_ref(t: KerasTensor):
    node, idx = t._history if t._history is not None else (None, 0)
    if node is None:
        layer = t._input_layer
        return [layer.name, 0, 0]
    op = node.operation
    return [op.name, op._inbound_nodes.index(node), idx]


def functional_config(model) -> dict:
    def tensor_cfg(t):
        if isinstance(t, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(t.shape), "dtype": t.dtype.name, "keras_history": _history_ref(t)}}
        return encode_value(t)

    layers = []
    model_nodes = {id(n) for n in model._nodes}
    for layer in model.operations:
        entry = serialize_layer(layer)
        if isinstance(layer, FunctionOperation):
            entry["config"] = encode_value(entry["config"], keep_tuples=type(layer).__name__ == "GetItem")
        entry["inbound_nodes"] = [
            {"args": map_structure(tensor_cfg, list(n.args)), "kwargs": map_structure(tensor_cfg, dict(n.kwargs))}
            for n in layer._inbound_nodes if id(n) in model_nodes]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": map_structure(lambda t: _history_ref(t), _structure(model._inputs_struct)),
            "output_layers": map_structure(lambda t: _history_ref(t), _structure(model._outputs_struct))}


def _structure(s):
    return list(s) if isinstance(s, tuple) else s


def functional_from_config(cls, config, custom_objects=None, safe_mode=True):
    from ..layers.core_layers import InputLayer

    created = {}
    outputs_of = {}  # (layer name, node index) -> outputs
    pending = []
    for lc in config["layers"]:
        layer = deserialize_layer(lc, custom_objects, safe_mode)
        created[lc["name"] if "name" in lc else layer.name] = layer
        if isinstance(layer, InputLayer):
            outputs_of[(layer.name, 0)] = layer.output_tensor
        else:
            for node_cfg in lc.get("inbound_nodes", []):
                pending.append((layer, node_cfg))
    node_counts = {}

    def resolve(v):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            name, node_idx, t_idx = v["config"]["keras_history"]
            out = outputs_of.get((name, node_idx))
            if out is None:
                raise KeyError
            flat = _flatten(out) if isinstance(out, (list, tuple)) else [out]
            return flat[t_idx]
        if isinstance(v, dict) and v.get("class_name") in ("__slice__", "__ellipsis__", "__numpy__", "__tuple__"):
            return decode_value(v)
        if isinstance(v, dict):
            return {k: resolve(x) for k, x in v.items()}
        if isinstance(v, list):
            return [resolve(x) for x in v]
        return v

    while pending:
        progressed = False
        rest = []
        for layer, node_cfg in pending:
            try:
                args = resolve(node_cfg["args"])
                kwargs = resolve(node_cfg.get("kwargs", {}))
            except KeyError:
                rest.append((layer, node_cfg))
                continue
            out = layer(*args, **kwargs)
            idx = node_counts.get(layer.name, 0)
            node_counts[layer.name] = idx + 1
            outputs_of[(layer.name, idx)] = out
            progressed = True
        if not progressed:
            raise ValueError("could not rebuild the functional model: some layer inputs are never produced")
        pending = rest

    def ref(r):
        if isinstance(r, list) and len(r) == 3 and isinstance(r[0], str):
            out = outputs_of[(r[0], r[1])]
            flat = _flatten(out) if isinstance(out, (list, tuple)) else [out]
            return flat[r[2]]
        return [ref(x) for x in r]

    inputs = ref(config["input_layers"])
    outputs = ref(config["output_layers"])
    # as Keras: a one-element list of inputs or outputs is the tensor itself
    if isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    if isinstance(outputs, list) and len(outputs) == 1:
        outputs = outputs[0]
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))


def model_from_config(config: dict, custom_objects=None, safe_mode=True):
    """A model (or layer) from ``{"class_name": ..., "config": ...}``."""
    return deserialize_layer(config, custom_objects, safe_mode)
