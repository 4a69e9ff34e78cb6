"""Pooling layers (Keras 3 semantics, channels-last only): MaxPooling1D/2D, AveragePooling1D/2D,
GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D.

As in Keras, pooling layers have no weights and are built at construction. "same" padding is
TensorFlow's; average pooling with "same" divides by the number of real (unpadded) cells.
``GlobalAveragePooling1D`` honours a mask: the mean over the unmasked steps.
"""
from __future__ import annotations

from .. import ops
from ..autodiff import Tensor
from .base import Layer
from .convolutional import check_ndim, standardize_data_format, standardize_tuple

_LAYOUTS = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
            3: "(batch, depth, height, width, channels)"}


def pooling_output_length(n, k, s, padding):
    """Keras's ``compute_pooling_output_shape`` for one spatial axis (None stays None)."""
    if n is None:
        return None
    return (n - k) // s + 1 if padding == "valid" else (n - 1) // s + 1


class _Pooling(Layer):
    pool_dimensions = 2
    pool_mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        n, cls = self.pool_dimensions, type(self).__name__
        self.pool_size = standardize_tuple(pool_size, n, "pool_size")
        self.strides = standardize_tuple(pool_size if strides is None else strides, n, "strides")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{cls}: argument `padding` must be either 'valid' or 'same'. Received: "
                             f"padding={padding!r}")
        self.padding = padding.lower()
        self.data_format = standardize_data_format(data_format, cls)
        self.built = True  # no weights: Keras builds pooling layers at construction

    def call(self, inputs):
        check_ndim(self, inputs.shape, self.pool_dimensions + 2, _LAYOUTS[self.pool_dimensions])
        self.compute_output_shape(tuple(inputs.shape))
        fn = {(1, "max"): ops.max_pool1d, (1, "average"): ops.avg_pool1d,
              (2, "max"): ops.max_pool2d, (2, "average"): ops.avg_pool2d}[(self.pool_dimensions, self.pool_mode)]
        size = self.pool_size[0] if self.pool_dimensions == 1 else self.pool_size
        strides = self.strides[0] if self.pool_dimensions == 1 else self.strides
        return fn(inputs, size, strides=strides, padding=self.padding)

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self.pool_dimensions + 2, _LAYOUTS[self.pool_dimensions])
        spatial = tuple(input_shape[1:-1])
        out = tuple(pooling_output_length(n, k, s, self.padding)
                    for n, k, s in zip(spatial, self.pool_size, self.strides))
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(f"{type(self).__name__} '{self.name}': computed output size would be zero or "
                             f"negative. Received: inputs.shape={tuple(input_shape)}, pool_size={self.pool_size}, "
                             f"strides={self.strides}, padding={self.padding!r}")
        return (input_shape[0],) + out + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """Max over windows of ``pool_size`` steps: (batch, steps, channels)."""

    pool_dimensions, pool_mode = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    """Max over ``pool_size`` windows: (batch, height, width, channels)."""

    pool_dimensions, pool_mode = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of ``pool_size`` steps (padded cells excluded with "same")."""

    pool_dimensions, pool_mode = 1, "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling):
    """Mean over ``pool_size`` windows (padded cells excluded with "same")."""

    pool_dimensions, pool_mode = 2, "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling(Layer):
    pool_dimensions = 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self.built = True

    def _check(self, inputs):
        check_ndim(self, inputs.shape, self.pool_dimensions + 2, _LAYOUTS[self.pool_dimensions])

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self.pool_dimensions + 2, _LAYOUTS[self.pool_dimensions])
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.pool_dimensions + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over steps: (batch, steps, channels) -> (batch, channels). With a mask (batch, steps)
    the mean runs over the unmasked steps only (a fully masked sample gives NaN, as in Keras);
    the output carries no mask."""

    pool_dimensions = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        self._check(inputs)
        if mask is None:
            return ops.global_avg_pool1d(inputs, keepdims=self.keepdims)
        m = mask.data if isinstance(mask, Tensor) else mask
        xp = inputs.xp
        m = xp.asarray(m)
        if m.shape != tuple(inputs.shape[:2]):
            raise ValueError(f"{type(self).__name__} '{self.name}': mask must have shape (batch, steps) = "
                             f"{tuple(inputs.shape[:2])}, got {m.shape}")
        m = m.astype(bool)[:, :, None]
        total = ops.sum(ops.where(m, inputs, 0), axis=1, keepdims=self.keepdims)
        count = m.sum(axis=1, keepdims=self.keepdims).astype(inputs.dtype)
        return total / Tensor(count)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width: (batch, h, w, channels) -> (batch, channels)."""

    def call(self, inputs):
        self._check(inputs)
        return ops.global_avg_pool2d(inputs, keepdims=self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over steps: (batch, steps, channels) -> (batch, channels)."""

    pool_dimensions = 1

    def call(self, inputs):
        self._check(inputs)
        return ops.global_max_pool1d(inputs, keepdims=self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over height and width: (batch, h, w, channels) -> (batch, channels)."""

    def call(self, inputs):
        self._check(inputs)
        return ops.global_max_pool2d(inputs, keepdims=self.keepdims)


MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
