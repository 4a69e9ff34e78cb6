"""``clone_model``: a new model with the same architecture and freshly initialized weights (Keras 3)."""
from __future__ import annotations

from ..layers.base import KerasTensor, Layer, _flatten, deserialize_layer, serialize_layer
from ..layers.core_layers import InputLayer
from .functional import Functional
from .sequential import Sequential
from .serialization import functional_config, rebuild_functional


def _default_clone(layer):
    return deserialize_layer(serialize_layer(layer))


def _as_inputs(input_tensors):
    if input_tensors is None:
        return None
    tensors = list(input_tensors) if isinstance(input_tensors, (list, tuple)) else [input_tensors]
    for t in tensors:
        if not isinstance(t, KerasTensor):
            raise ValueError(f"clone_model: input_tensors must be symbolic tensors (keras.Input(...)), got "
                             f"{type(t).__name__}")
    return tensors


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A copy of ``model``'s architecture with new layers and new (freshly initialized) weights.

    ``clone_function(layer) -> layer`` makes each new layer (default: rebuilt from its config);
    ``input_tensors`` gives the new model's inputs; ``call_function(layer, *args, **kwargs)``
    replaces the calls of a Functional model's layers; ``recursive`` clones nested Sequential and
    Functional models layer by layer too. A subclassed model is rebuilt from its config
    (``clone_function`` and ``input_tensors`` are refused for it, as in Keras)."""
    if kwargs:
        raise TypeError(f"clone_model: unexpected arguments {sorted(kwargs)}")
    user_fn = clone_function or _default_clone

    def clone_layer(layer):
        if recursive and isinstance(layer, (Sequential, Functional)):
            return clone_model(layer, clone_function=clone_function, call_function=call_function, recursive=True)
        new = user_fn(layer)
        if not isinstance(new, Layer):
            raise ValueError(f"clone_model: clone_function must return a Layer, returned {type(new).__name__}")
        return new

    tensors = _as_inputs(input_tensors)
    if isinstance(model, Sequential):
        layers = [clone_layer(layer) for layer in model.layers]
        if tensors is not None:
            if len(tensors) != 1:
                raise ValueError("clone_model: a Sequential model takes one input tensor")
            return Sequential([tensors[0]._input_layer if getattr(tensors[0], "_input_layer", None) else
                               InputLayer(batch_shape=tensors[0].shape, dtype=tensors[0].dtype.name)] + layers,
                              name=model.name, trainable=model.trainable)
        new = Sequential(layers, name=model.name, trainable=model.trainable)
        if model._input_batch_shape is not None and not new.built:
            new.build(tuple(model._input_batch_shape))
        return new
    if isinstance(model, Functional):
        by_name = {layer.name: layer for layer in model.layers}
        config = functional_config(model)

        def make(lc):
            original = by_name[lc["name"]]
            if isinstance(original, InputLayer):
                return InputLayer(batch_shape=original.batch_shape, dtype=original.dtype, name=original.name)
            new = clone_layer(original)
            if call_function is not None:
                return _CallThrough(new, call_function)
            return new

        n_inputs = len(_flatten(model._inputs_struct))
        if tensors is not None and len(tensors) != n_inputs:
            raise ValueError(f"clone_model: the model has {n_inputs} inputs, got {len(tensors)} input_tensors")
        return rebuild_functional(Functional, config, make, input_tensors=tensors)
    if clone_function is not None or input_tensors is not None:
        raise ValueError("clone_model: clone_function and input_tensors apply to Sequential and Functional models "
                         f"only; {type(model).__name__} is a subclassed model (it is rebuilt from its config)")
    return deserialize_layer(serialize_layer(model))


class _CallThrough:
    """A cloned layer whose calls go through the user's ``call_function(layer, *args, **kwargs)``."""

    def __init__(self, layer, call_function):
        self.layer, self.call_function = layer, call_function
        self.name = layer.name

    def __call__(self, *args, **kwargs):
        return self.call_function(self.layer, *args, **kwargs)
