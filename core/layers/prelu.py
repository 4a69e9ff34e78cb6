"""``PReLU``: a leaky ReLU whose negative slope ``alpha`` is learned per element (or shared over axes)."""
from __future__ import annotations

from .. import constraints, initializers, ops, regularizers
from .base import Layer


class PReLU(Layer):
    """``max(x, 0) - alpha * max(-x, 0)``; ``alpha`` has the input's shape without the batch axis,
    with size 1 along ``shared_axes`` (1-based, e.g. ``[1, 2]`` shares over height and width)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if not 1 <= a < len(input_shape):
                raise ValueError(f"PReLU '{self.name}': shared_axes {self.shared_axes} must be in [1, "
                                 f"{len(input_shape) - 1}] for input shape {tuple(input_shape)}")
            shape[a - 1] = 1
        if any(s is None for s in shape):
            raise ValueError(f"PReLU '{self.name}': every non-shared axis must be known, got input shape "
                             f"{tuple(input_shape)}; share the unknown axes with shared_axes")
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)

    def call(self, inputs):
        return ops.relu(inputs) - self.alpha * ops.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint), "shared_axes": self.shared_axes}
