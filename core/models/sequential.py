"""Sequential: a plain stack of layers, built lazily or from the first layer's input shape."""
from __future__ import annotations

from ..layers.base import KerasTensor, Layer, name_scope
from ..layers.convolutional import Conv2D
from ..layers.core_layers import Input, InputLayer
from ..layers.normalization import BatchNormalization
from . import layer_fusion
from ..autodiff import Tensor
from .functional import adjust_input_rank
from .model import Model
from .serialization import sequential_config, sequential_from_config


class Sequential(Model):
    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack: list[Layer] = []
        self._input_batch_shape = None
        self._input_dtype = None
        self._sym_input = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._input_batch_shape is not None and self._stack:
            self.build(self._input_batch_shape)  # once, as Keras: each layer's first node is this graph's

    def add(self, layer, rebuild=True) -> None:
        """Append a layer (or an ``Input``) to the stack; rebuilt at once when the input shape is known."""
        if isinstance(layer, KerasTensor) and getattr(layer, "_input_layer", None) is not None:
            layer = layer._input_layer
        if isinstance(layer, InputLayer):
            if self._stack:
                raise ValueError("Sequential: an Input can only be the first element")
            self._input_batch_shape = layer.batch_shape
            self._input_dtype = layer.dtype
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}")
        if not self._stack and layer._batch_input_shape is not None and self._input_batch_shape is None:
            self._input_batch_shape = tuple(layer._batch_input_shape)
        self._stack.append(layer)
        self._layers.append(layer)
        self.built = False
        if rebuild and self._input_batch_shape is not None:
            self.build(self._input_batch_shape)

    def pop(self) -> Layer:
        if not self._stack:
            raise ValueError("Sequential.pop: the model has no layers")
        layer = self._stack.pop()
        self._layers.remove(layer)
        self.built = False
        return layer

    def _maybe_build(self, args):
        """Built from the first data it sees: the batch axis stays unknown, and later inputs are
        checked for rank and feature size only (no input shape was declared)."""
        if self.built:
            return
        shape = tuple(args[0].shape)
        self.build((None,) + shape[1:])
        self._lazily_built = True

    @property
    def layers(self):
        return list(self._stack)

    def build(self, input_shape=None):
        input_shape = tuple(input_shape if input_shape is not None else self._input_batch_shape)
        self._input_batch_shape = input_shape
        x = Input(batch_shape=input_shape, dtype=self._input_dtype or "float32")
        self._sym_input = x
        self._output_shapes = []
        with name_scope(self.name):
            for layer in self._stack:
                x = layer(x)
                self._output_shapes.append(x.shape)
        self._output_spec = x
        self.built = True
        self._build_shapes = input_shape

    @property
    def inputs(self):
        """The symbolic input of the built stack (as Keras's Sequential: set once an input shape is known)."""
        if not self.built or self._sym_input is None:
            raise ValueError(f"Sequential model '{self.name}' has no defined inputs yet: give it an Input or "
                             "input_shape, or call it on data first")
        return [self._sym_input]

    @property
    def outputs(self):
        if not self.built or self._sym_input is None:
            raise ValueError(f"Sequential model '{self.name}' has no defined outputs yet: give it an Input or "
                             "input_shape, or call it on data first")
        return [self._output_spec]

    @property
    def output_shape(self):
        return self._output_spec.shape if self.built else None

    @property
    def _adjusts_input_rank(self):
        """With a declared input (not built from the first data), as Keras's Sequential, which runs
        as a Functional model on that Input."""
        return self._input_batch_shape is not None and not getattr(self, "_lazily_built", False)

    def call(self, inputs, training=None, mask=None):
        x = inputs
        if self._adjusts_input_rank and hasattr(x, "shape") and len(x.shape) != len(self._input_batch_shape):
            x = adjust_input_rank(self._input_batch_shape, x if isinstance(x, Tensor) else Tensor(x))
        stack = self._stack
        i, n = 0, len(stack)
        while i < n:
            layer = stack[i]
            if i + 1 < n and type(layer) is Conv2D and layer_fusion.conv_pool_fusable(layer, stack[i + 1], x):
                x = layer_fusion.run_conv_pool(layer, stack[i + 1], x)  # the pair as one op
                i += 2
                continue
            if i + 1 < n and type(layer) is BatchNormalization and layer_fusion.bn_relu_fusable(layer, stack[i + 1], x):
                x = layer_fusion.run_bn_relu(layer, stack[i + 1], x)
                i += 2
                continue
            x = layer(x)
            i += 1
        return x

    def get_config(self):
        return sequential_config(self)

    def get_build_config(self):
        return None  # rebuilt from its own config (input shapes included)

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        return sequential_from_config(cls, config, custom_objects, safe_mode)
