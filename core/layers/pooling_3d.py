"""3-d pooling layers over (batch, depth, height, width, channels): ``MaxPooling3D``,
``AveragePooling3D``, ``GlobalMaxPooling3D``, ``GlobalAveragePooling3D`` (Keras 3 semantics)."""
from __future__ import annotations

from .. import ops
from .convolutional import check_ndim
from .pooling import _GlobalPooling, _Pooling

_L3 = "(batch, depth, height, width, channels)"


class _Pooling3D(_Pooling):
    pool_dimensions = 3

    def call(self, inputs):
        check_ndim(self, inputs.shape, 5, _L3)
        self.compute_output_shape(tuple(inputs.shape))
        fn = ops.max_pool3d if self.pool_mode == "max" else ops.avg_pool3d
        return fn(inputs, self.pool_size, strides=self.strides, padding=self.padding)


class MaxPooling3D(_Pooling3D):
    """Max over ``pool_size`` (depth, height, width) windows."""

    pool_mode = "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(_Pooling3D):
    """Mean over ``pool_size`` (depth, height, width) windows (padded cells excluded with "same")."""

    pool_mode = "average"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling3D(_GlobalPooling):
    pool_dimensions = 3

    def _check(self, inputs):
        check_ndim(self, inputs.shape, 5, _L3)

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, 5, _L3)
        if self.keepdims:
            return (input_shape[0], 1, 1, 1, input_shape[-1])
        return (input_shape[0], input_shape[-1])


class GlobalMaxPooling3D(_GlobalPooling3D):
    """Max over depth, height and width."""

    def call(self, inputs):
        self._check(inputs)
        return ops.max(inputs, axis=(1, 2, 3), keepdims=self.keepdims)


class GlobalAveragePooling3D(_GlobalPooling3D):
    """Mean over depth, height and width."""

    def call(self, inputs):
        self._check(inputs)
        return ops.mean(inputs, axis=(1, 2, 3), keepdims=self.keepdims)


MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
GlobalMaxPool3D = GlobalMaxPooling3D
GlobalAvgPool3D = GlobalAveragePooling3D
