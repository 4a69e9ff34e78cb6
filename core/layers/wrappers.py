"""Layer wrappers (Keras 3): the ``Wrapper`` base and ``TimeDistributed`` (apply a layer to every
time slice of a (batch, time, ...) input)."""
from __future__ import annotations

from .. import ops
from ..autodiff import Tensor
from .base import Layer, build_sublayer, deserialize_layer, map_structure, own_scope, serialize_layer


class Wrapper(Layer):
    """Base of layers that wrap another layer (``self.layer``): builds it under the wrapper's name
    scope, serializes it in the config under ``"layer"``. Subclass it and implement ``call``."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"{type(self).__name__}: layer must be a Layer instance, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        with own_scope(self):
            build_sublayer(self.layer, input_shape)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = dict(config)
        layer = config.pop("layer")
        if isinstance(layer, dict):
            layer = deserialize_layer(layer, custom_objects, safe_mode)
        return cls(layer, **config)


class TimeDistributed(Wrapper):
    """Applies ``layer`` to every temporal slice ``inputs[:, t]`` with the same weights.

    Vectorised: the input (N, T, ...) is reshaped to (N*T, ...), run through the layer once and
    reshaped back to (N, T, ...). Weights are the wrapped layer's (paths
    ``time_distributed/dense/kernel``). A (N, T) mask is passed on as a (N*T,) mask to a layer
    whose ``call`` takes one, and is the output mask. Note: a layer whose training-time
    computation couples the samples of a batch (BatchNormalization) sees all N*T slices as one
    batch here, where Keras runs it once per time step.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: layer must be a Layer instance (e.g. Dense(8)), got {layer!r}")
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}' expects an input of rank >= 3 (batch, time, ...), "
                             f"got input shape {input_shape}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        child = self._child_shape(tuple(input_shape))
        with own_scope(self):
            build_sublayer(self.layer, child)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if not isinstance(inputs, Tensor):
            raise ValueError(f"TimeDistributed '{self.name}' expects a single tensor input, got "
                             f"{type(inputs).__name__}")
        shape = tuple(inputs.shape)
        self._child_shape(shape)
        n, t = shape[0], shape[1]
        x = ops.reshape(inputs, (n * t,) + shape[2:])
        kwargs = {"training": training}
        if mask is not None and "mask" in self.layer._signature_params():
            m = inputs.xp.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if m.ndim < 2 or tuple(m.shape[:2]) != (n, t):
                raise ValueError(f"TimeDistributed '{self.name}': the mask must have shape (batch, time, ...) = "
                                 f"({n}, {t}, ...) for an input of shape {shape}, got {tuple(m.shape)}")
            kwargs["mask"] = Tensor(m.reshape((n * t,) + m.shape[2:]))
        y = self.layer(x, **kwargs)

        def back(o):
            if not isinstance(o, Tensor):
                return o
            return ops.reshape(o, (n, t) + tuple(o.shape[1:]))

        return map_structure(back, y)

    def compute_output_shape(self, input_shape):
        child = self._child_shape(tuple(input_shape))
        out = tuple(self.layer.compute_output_shape(child))
        return (out[0], input_shape[1]) + out[1:]

__all__ = ["Wrapper", "TimeDistributed"]
