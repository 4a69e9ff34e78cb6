"""Spatial reshaping layers (Keras 3 semantics, channels-last only): ZeroPadding1D/2D,
Cropping1D/2D, UpSampling1D/2D ("nearest", or "bilinear" as TensorFlow's half-pixel resize)."""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Layer
from .convolutional import check_ndim, standardize_data_format, standardize_tuple

_L1 = "(batch, steps, channels)"
_L2 = "(batch, height, width, channels)"


def _pairs2d(value, name, cls):
    """int -> ((v, v), (v, v)); (a, b) -> ((a, a), (b, b)); ((t, b), (l, r)) kept (all >= 0)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{cls}: `{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value), int(value)), (int(value), int(value)))
    if hasattr(value, "__len__"):
        if len(value) != 2:
            raise ValueError(f"{cls}: `{name}` should have two elements. Received: {name}={value!r}.")
        return (standardize_tuple(value[0], 2, f"1st entry of {name}", allow_zero=True),
                standardize_tuple(value[1], 2, f"2nd entry of {name}", allow_zero=True))
    raise ValueError(f"{cls}: `{name}` should be either an int, a tuple of 2 ints (symmetric_height, "
                     f"symmetric_width), or a tuple of 2 tuples of 2 ints ((top, bottom), (left, right)). "
                     f"Received: {name}={value!r}.")


class ZeroPadding1D(Layer):
    """Pad the steps axis with zeros: ``padding`` int or (left, right)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)

    def call(self, inputs):
        check_ndim(self, inputs.shape, 3, _L1)
        return ops.pad(inputs, ((0, 0), self.padding, (0, 0)))

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 3, _L1)
        n = input_shape[1]
        return (input_shape[0], None if n is None else n + sum(self.padding), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding2D(Layer):
    """Pad height and width with zeros: ``padding`` int, (h, w) or ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.padding = _pairs2d(padding, "padding", type(self).__name__)

    def call(self, inputs):
        check_ndim(self, inputs.shape, 4, _L2)
        return ops.pad(inputs, ((0, 0),) + self.padding + ((0, 0),))

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 4, _L2)
        h, w = input_shape[1:3]
        return (input_shape[0], None if h is None else h + sum(self.padding[0]),
                None if w is None else w + sum(self.padding[1]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping1D(Layer):
    """Crop the steps axis: ``cropping`` int or (start, end)."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)

    def call(self, inputs):
        self.compute_output_shape(tuple(inputs.shape))
        a, b = self.cropping
        return inputs[:, a:inputs.shape[1] - b]

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 3, _L1)
        n = input_shape[1]
        if n is not None and sum(self.cropping) >= n:
            raise ValueError(f"`cropping` parameter of `Cropping1D` layer must be smaller than the input length. "
                             f"Received: input_shape={tuple(input_shape)}, cropping={self.cropping}")
        return (input_shape[0], None if n is None else n - sum(self.cropping), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping2D(Layer):
    """Crop height and width: ``cropping`` int, (h, w) or ((top, bottom), (left, right))."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.cropping = _pairs2d(cropping, "cropping", type(self).__name__)

    def call(self, inputs):
        self.compute_output_shape(tuple(inputs.shape))
        (t, b), (l, r) = self.cropping
        H, W = inputs.shape[1:3]
        return inputs[:, t:H - b, l:W - r]

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 4, _L2)
        h, w = input_shape[1:3]
        if (h is not None and sum(self.cropping[0]) >= h) or (w is not None and sum(self.cropping[1]) >= w):
            raise ValueError(f"Values in `cropping` argument should be smaller than the corresponding spatial "
                             f"dimension of the input. Received: input_shape={tuple(input_shape)}, "
                             f"cropping={self.cropping}")
        return (input_shape[0], None if h is None else h - sum(self.cropping[0]),
                None if w is None else w - sum(self.cropping[1]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}


class UpSampling1D(Layer):
    """Repeat each step ``size`` times."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
            raise TypeError(f"Expected an integer value for `size`, got {type(size)}.")
        if size <= 0:
            raise ValueError(f"Argument `size` should be a positive integer. Received: size={size}")
        self.size = int(size)

    def call(self, inputs):
        check_ndim(self, inputs.shape, 3, _L1)
        return ops.repeat(inputs, self.size, axis=1)

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 3, _L1)
        n = input_shape[1]
        return (input_shape[0], None if n is None else n * self.size, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _bilinear_matrix(n, factor, dtype):
    """(n * factor, n) interpolation matrix of TensorFlow's half-pixel bilinear resize."""
    out = n * factor
    src = (np.arange(out) + 0.5) / factor - 0.5
    src = np.clip(src, 0, n - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    w = src - lo
    m = np.zeros((out, n))
    rows = np.arange(out)
    np.add.at(m, (rows, lo), 1 - w)
    np.add.at(m, (rows, hi), w)
    return m.astype(dtype)


class UpSampling2D(Layer):
    """Upsample height and width by ``size``: "nearest" repeats rows/columns; "bilinear" is
    TensorFlow's ``resize`` (half-pixel centres), written as two small interpolation matmuls."""

    _INTERPOLATIONS = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.size = standardize_tuple(size, 2, "size")
        interp = str(interpolation).lower()
        if interp not in self._INTERPOLATIONS:
            raise ValueError(f"UpSampling2D: interpolation {interpolation!r} is not supported; supported: "
                             f"{self._INTERPOLATIONS}")
        self.interpolation = interp

    def call(self, inputs):
        check_ndim(self, inputs.shape, 4, _L2)
        fh, fw = self.size
        if self.interpolation == "nearest":
            return ops.repeat(ops.repeat(inputs, fh, axis=1), fw, axis=2)
        N, H, W, C = inputs.shape
        xp = inputs.xp
        ah = xp.asarray(_bilinear_matrix(H, fh, inputs.dtype))          # (Ho, H)
        awt = xp.asarray(_bilinear_matrix(W, fw, inputs.dtype).T.copy())  # (W, Wo)
        x = ops.transpose(inputs, (0, 3, 1, 2))                          # (N, C, H, W)
        y = ops.matmul(ops.matmul(ah, x), awt)                           # (N, C, Ho, Wo)
        return ops.transpose(y, (0, 2, 3, 1))

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 4, _L2)
        h, w = input_shape[1:3]
        return (input_shape[0], None if h is None else h * self.size[0], None if w is None else w * self.size[1],
                input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}
