"""Layer and model configs in the Keras 3 JSON layout, and rebuilding models from them.

Configs never carry code: a ``Lambda`` layer is refused unless ``safe_mode=False`` (and even
then its function must be given in ``custom_objects``)."""
from __future__ import annotations

import json

from ..autodiff import Tensor
from ..layers.base import KerasTensor, _flatten, deserialize_layer, map_structure, serialize_layer
from ..layers.core_layers import InputLayer
from ..serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["serialize_layer", "deserialize_layer", "model_from_config", "model_to_config", "model_from_json",
           "model_to_json", "sequential_config", "sequential_from_config", "functional_config",
           "functional_from_config"]


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
    build_shape = config.get("build_input_shape")
    for lc in config["layers"]:
        if lc.get("class_name") == "InputLayer":  # Keras 3 lists the Input as a layer: it gives the shape
            inner = lc.get("config") or {}
            build_shape = build_shape or inner.get("batch_shape") or inner.get("batch_input_shape")
            if inner.get("dtype") and isinstance(inner["dtype"], str):
                model._input_dtype = inner["dtype"]
            continue
        model._stack.append(deserialize_layer(lc, custom_objects, safe_mode))
        model._layers.append(model._stack[-1])
    if build_shape is not None:
        model.build(tuple(build_shape))
    return model


def history_ref(model, t: KerasTensor):
    """The [layer name, node index, tensor index] reference to ``t`` in ``model``'s config."""
    return _history_ref(t, {id(n) for n in model._nodes})


def _history_ref(t: KerasTensor, model_nodes):
    """[layer name, node index, tensor index]: as Keras, the node index counts only the layer's calls
    inside this model (``model_nodes``: their ids), so a layer shared with another model keeps 0."""
    node, idx = t._history if t._history is not None else (None, 0)
    if node is None:
        layer = t._input_layer
        return [layer.name, 0, 0]
    op = node.operation
    return [op.name, [id(n) for n in op._inbound_nodes if id(n) in model_nodes].index(id(node)), idx]


def functional_config(model) -> dict:
    model_nodes = {id(n) for n in model._nodes}

    def tensor_cfg(t):
        if isinstance(t, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(t.shape), "dtype": t.dtype.name,
                               "keras_history": _history_ref(t, model_nodes)}}
        # constants in an op's call (``ops.matmul(x, weights)``): __numpy__, slices as Keras writes them
        return serialize_keras_object(t.numpy() if isinstance(t, Tensor) else t)

    layers = []
    for layer in getattr(model, "operations", model.layers):  # the op nodes too, as Keras 3
        entry = serialize_layer(layer)
        entry["inbound_nodes"] = [
            {"args": map_structure(tensor_cfg, list(n.args)), "kwargs": map_structure(tensor_cfg, dict(n.kwargs))}
            for n in layer._inbound_nodes if id(n) in model_nodes]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": map_structure(lambda t: _history_ref(t, model_nodes), _structure(model._inputs_struct)),
            "output_layers": map_structure(lambda t: _history_ref(t, model_nodes), _structure(model._outputs_struct))}


def _structure(s):
    return list(s) if isinstance(s, tuple) else s


def functional_from_config(cls, config, custom_objects=None, safe_mode=True):
    return rebuild_functional(cls, config, lambda lc: deserialize_layer(lc, custom_objects, safe_mode))


def rebuild_functional(cls, config, make_layer, input_tensors=None):
    """A Functional model from its config, each layer entry made by ``make_layer(entry)`` (deserialized
    on load, cloned by ``clone_model``); ``input_tensors`` (one per input layer, in the config's order)
    replace the inputs."""
    outputs_of = {}  # (layer name, node index) -> outputs
    pending = []
    given = list(input_tensors) if input_tensors is not None else None
    for lc in config["layers"]:
        if given is not None and lc.get("class_name") == "InputLayer":
            if not given:
                raise ValueError("clone_model: fewer input_tensors than the model has inputs")
            outputs_of[(lc.get("name") or lc["config"]["name"], 0)] = given.pop(0)
            continue
        layer = make_layer(lc)
        if isinstance(layer, InputLayer):
            outputs_of[(lc.get("name", layer.name), 0)] = layer.output_tensor
        else:
            for node_cfg in lc.get("inbound_nodes", []):
                pending.append((layer, lc.get("name", layer.name), node_cfg))
    node_counts = {}

    def resolve(v):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            name, node_idx, t_idx = v["config"]["keras_history"]
            out = outputs_of.get((name, node_idx))
            if out is None:
                raise KeyError
            flat = _flatten(out) if isinstance(out, (list, tuple)) else [out]
            return flat[t_idx]
        if isinstance(v, dict) and v.get("class_name") in ("__numpy__", "__slice__", "__ellipsis__"):
            return deserialize_keras_object(v)
        if isinstance(v, dict):
            return {k: resolve(x) for k, x in v.items()}
        if isinstance(v, list):
            return [resolve(x) for x in v]
        return v

    while pending:
        progressed = False
        rest = []
        for layer, name, node_cfg in pending:
            try:
                args = resolve(node_cfg["args"])
                kwargs = resolve(node_cfg.get("kwargs", {}))
            except KeyError:
                rest.append((layer, name, node_cfg))
                continue
            out = layer(*args, **kwargs)
            idx = node_counts.get(name, 0)
            node_counts[name] = idx + 1
            outputs_of[(name, idx)] = out
            progressed = True
        if not progressed:
            raise ValueError("could not rebuild the functional model: some layer inputs are never produced")
        pending = rest

    def ref(r):
        if isinstance(r, list) and len(r) == 3 and isinstance(r[0], str):
            out = outputs_of[(r[0], r[1])]
            flat = _flatten(out) if isinstance(out, (list, tuple)) else [out]
            return flat[r[2]]
        if isinstance(r, dict):  # dict inputs/outputs by name
            return {k: ref(x) for k, x in r.items()}
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
    """A model (or layer) from its Keras 3 config ``{"module", "class_name", "config",
    "registered_name"}`` (as ``model_to_config`` or Keras's ``model.to_json()`` write it; the
    ``.keras`` format's ``config.json`` is one). Classes resolve through the object registry;
    nothing in the config is executed."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("a model config must be a dict with 'class_name' and 'config' (Keras 3 layout)")
    return deserialize_layer(config, custom_objects, safe_mode)


def model_to_config(model) -> dict:
    """The Keras 3 config of a model (or layer): ``{"module", "class_name", "config", "registered_name"}``."""
    config = serialize_keras_object(model)
    config.pop("name", None)
    return config


def model_to_json(model, **kwargs) -> str:
    """``model_to_config`` as a JSON string (``kwargs`` go to ``json.dumps``)."""
    return json.dumps(model_to_config(model), default=_json_default, **kwargs)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """A model (not yet trained: weights freshly initialized) from ``model.to_json()`` output,
    also Keras's."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: not a JSON model config ({e})") from None
    return model_from_config(config, custom_objects=custom_objects, safe_mode=safe_mode)


def _json_default(obj):
    if isinstance(obj, tuple):
        return list(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
