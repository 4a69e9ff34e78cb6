"""3-d spatial reshaping layers over (batch, depth, height, width, channels): ``ZeroPadding3D``,
``Cropping3D``, ``UpSampling3D`` (nearest: each cell repeated ``size`` times per axis)."""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Layer
from .convolutional import check_ndim, standardize_data_format, standardize_tuple

_L3 = "(batch, depth, height, width, channels)"


def _pairs3d(value, name, cls):
    """int -> ((v, v),) * 3; (a, b, c) -> ((a, a), (b, b), (c, c)); three pairs kept (all >= 0)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{cls}: `{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value), int(value)),) * 3
    if hasattr(value, "__len__") and len(value) == 3:
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return tuple(standardize_tuple(v, 2, name, allow_zero=True) for v in value)
        return tuple(standardize_tuple(v, 2, f"entry {i} of {name}", allow_zero=True) for i, v in enumerate(value))
    raise ValueError(f"{cls}: `{name}` should be either an int, a tuple of 3 ints (symmetric_dim1_pad, "
                     f"symmetric_dim2_pad, symmetric_dim3_pad), or a tuple of 3 tuples of 2 ints. "
                     f"Received: {name}={value!r}.")


def _grow(n, delta):
    return None if n is None else n + delta


class ZeroPadding3D(Layer):
    """Pad depth, height and width with zeros."""

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.padding = _pairs3d(padding, "padding", type(self).__name__)

    def call(self, inputs):
        check_ndim(self, inputs.shape, 5, _L3)
        return ops.pad(inputs, ((0, 0),) + self.padding + ((0, 0),))

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 5, _L3)
        return (input_shape[0],) + tuple(_grow(n, sum(p)) for n, p in zip(input_shape[1:4], self.padding)) + \
            (input_shape[4],)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping3D(Layer):
    """Crop depth, height and width."""

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.cropping = _pairs3d(cropping, "cropping", type(self).__name__)

    def call(self, inputs):
        self.compute_output_shape(tuple(inputs.shape))
        idx = (slice(None),) + tuple(slice(a, n - b) for (a, b), n in zip(self.cropping, inputs.shape[1:4]))
        return ops.getitem(inputs, idx)

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 5, _L3)
        dims = input_shape[1:4]
        if any(n is not None and sum(c) >= n for n, c in zip(dims, self.cropping)):
            raise ValueError(f"Values in `cropping` argument should be smaller than the corresponding spatial "
                             f"dimension of the input. Received: input_shape={tuple(input_shape)}, "
                             f"cropping={self.cropping}")
        return (input_shape[0],) + tuple(_grow(n, -sum(c)) for n, c in zip(dims, self.cropping)) + (input_shape[4],)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}


class UpSampling3D(Layer):
    """Repeat each cell ``size`` = (depth, height, width) times along those axes."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.size = standardize_tuple(size, 3, "size")

    def call(self, inputs):
        check_ndim(self, inputs.shape, 5, _L3)
        y = inputs
        for axis, k in zip((1, 2, 3), self.size):
            if k != 1:
                y = ops.repeat(y, k, axis=axis)
        return y

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 5, _L3)
        return (input_shape[0],) + tuple(None if n is None else n * k for n, k in zip(input_shape[1:4], self.size)) \
            + (input_shape[4],)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}
