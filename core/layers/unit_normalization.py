"""``UnitNormalization``: scale each sample to unit L2 norm along ``axis``."""
from __future__ import annotations

from .. import ops
from .base import Layer
from .normalization import _norm_axis

_MIN_NORM = 1e-12  # Keras: ops.normalize(..., epsilon=1e-12)


def _axes(axis):
    return list(axis) if isinstance(axis, (list, tuple)) else [axis]


class UnitNormalization(Layer):
    """``x * min(1 / ||x||_2, 1e12)`` (Keras's ``ops.normalize``) with the norm taken over ``axis``
    (an int or a list)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError(f"Invalid value for `axis` argument: expected an int or a list/tuple of ints. "
                            f"Received: axis={axis!r}")
        self.supports_masking = True

    def call(self, inputs):
        axes = tuple(_norm_axis(self, a, inputs.ndim) for a in _axes(self.axis))
        return ops.normalize(inputs, axis=axes, order=2, epsilon=_MIN_NORM)

    def compute_output_shape(self, input_shape):
        for a in _axes(self.axis):
            _norm_axis(self, a, len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
