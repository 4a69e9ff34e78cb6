"""``RMSNormalization``: ``x / sqrt(mean(x^2) + epsilon) * scale`` (Zhang & Sennrich, 2019)."""
from __future__ import annotations

from .. import ops
from .base import Layer
from .normalization import _norm_axis


class RMSNormalization(Layer):
    """Root-mean-square normalization over ``axis`` (an int or a list) with a learned ``scale``
    shaped as the normalized axes; no centering."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = epsilon
        self.scale = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if isinstance(self.axis, (list, tuple)):
            self.axis = sorted(int(a) for a in self.axis)
        else:
            self.axis = [int(self.axis)]
        self._axes = tuple(_norm_axis(self, a, ndim) for a in self.axis)
        shape = tuple(input_shape[a] for a in self._axes)
        if any(s is None for s in shape):
            raise ValueError(f"RMSNormalization '{self.name}': the normalized axes {self.axis} must be known, got "
                             f"input shape {tuple(input_shape)}")
        self._ndim = ndim
        self.scale = self.add_weight(shape, "ones", name="scale")

    def call(self, inputs):
        if inputs.ndim != self._ndim or tuple(inputs.shape[a] for a in self._axes) != tuple(self.scale.shape):
            raise ValueError(f"Input to layer '{self.name}' is incompatible: expected rank {self._ndim} with axes "
                             f"{self.axis} of sizes {tuple(self.scale.shape)}, got input shape {tuple(inputs.shape)}")
        return ops.rms_normalization(inputs, self.scale, axis=self._axes, epsilon=float(self.epsilon))

    def compute_output_shape(self, input_shape):
        for a in (self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]):
            _norm_axis(self, a, len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
