"""3-d convolution layers over (batch, depth, height, width, channels): ``Conv3D`` and
``Conv3DTranspose`` (Keras weight layouts: kernel (kd, kh, kw, Cin // groups, filters) and
(kd, kh, kw, filters, Cin)); the ops are ``core.ops.conv3d`` / ``conv3d_transpose``."""
from __future__ import annotations

from .. import ops
from .convolutional import Conv2DTranspose, _Conv


class Conv3D(_Conv):
    """3-d convolution (cross-correlation); "same" padding is TensorFlow's."""

    rank = 3
    _layout = "(batch, depth, height, width, channels)"

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, groups=groups, **kwargs)

    def call(self, inputs):
        self._check_call_input(inputs)
        y = ops.conv3d(inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                       dilation=self.dilation_rate, groups=self.groups)
        return self._finish(y)


class Conv3DTranspose(Conv2DTranspose):
    """Transposed 3-d convolution: kernel (kd, kh, kw, filters, Cin); output sizes per axis as
    ``Conv2DTranspose``."""

    rank = 3
    _layout = "(batch, depth, height, width, channels)"

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 output_padding=None, dilation_rate=(1, 1, 1), **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)

    def call(self, inputs):
        self._check_call_input(inputs)
        y = ops.conv3d_transpose(inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                                 output_padding=self.output_padding, dilation=self.dilation_rate)
        return self._finish(y)


Convolution3D = Conv3D
Convolution3DTranspose = Conv3DTranspose
