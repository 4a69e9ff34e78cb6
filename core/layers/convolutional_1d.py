"""The 1-d kin of the 2-d convolution layers: ``Conv1DTranspose``, ``SeparableConv1D`` and
``DepthwiseConv1D`` over (batch, steps, channels), in Keras's weight layouts
(``kernel`` (k, filters, Cin); ``depthwise_kernel`` (k, Cin, m), ``pointwise_kernel``
(1, Cin * m, filters); depthwise ``kernel`` (k, Cin, m)).

Each runs its 2-d op on a height-1 image (input ``(N, 1, T, C)``, kernel ``(1, k, ...)``): the same
arithmetic, gradients and fast paths as the 2-d layers.
"""
from __future__ import annotations

from .. import ops
from .convolutional import Conv2DTranspose, DepthwiseConv2D, SeparableConv2D


def _as_2d(x):
    return ops.expand_dims(x, 1)


def _kernel_2d(kernel):
    return ops.reshape(kernel, (1,) + tuple(kernel.shape))


def _from_2d(y):
    return ops.squeeze(y, 1)


class Conv1DTranspose(Conv2DTranspose):
    """Transposed 1-d convolution: ``kernel`` (k, filters, Cin); output length "same" n * s,
    "valid" (n - 1) * s + max(k_eff, s), or with ``output_padding`` as Conv2DTranspose per axis."""

    rank = 1
    _layout = "(batch, steps, channels)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)

    def call(self, inputs):
        self._check_call_input(inputs)
        op = None if self.output_padding is None else (0,) + self.output_padding
        y = ops.conv2d_transpose(_as_2d(inputs), _kernel_2d(self.kernel), self.bias,
                                 strides=(1,) + self.strides, padding=self.padding, output_padding=op,
                                 dilation=(1,) + self.dilation_rate)
        return self._finish(_from_2d(y))


class SeparableConv1D(SeparableConv2D):
    """Depthwise 1-d convolution (``depthwise_kernel`` (k, Cin, m)) then a pointwise convolution
    (``pointwise_kernel`` (1, Cin * m, filters)), bias and activation."""

    rank = 1
    _layout = "(batch, steps, channels)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, depth_multiplier=depth_multiplier, **kwargs)

    def call(self, inputs):
        self._check_call_input(inputs)
        y = ops.depthwise_conv2d(_as_2d(inputs), _kernel_2d(self.depthwise_kernel), None,
                                 strides=(1,) + self.strides, padding=self.padding,
                                 dilation=(1,) + self.dilation_rate)
        act = self._fused()
        y = ops.conv2d(y, _kernel_2d(self.pointwise_kernel), self.bias, activation=act)
        return self._finish(_from_2d(y), act)


class DepthwiseConv1D(DepthwiseConv2D):
    """Per-channel 1-d convolution: ``kernel`` (k, C, depth_multiplier); output channel
    ``c * depth_multiplier + m`` is channel c convolved with ``kernel[:, c, m]``."""

    rank = 1
    _layout = "(batch, steps, channels)"

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)

    def call(self, inputs):
        self._check_call_input(inputs)
        y = ops.depthwise_conv2d(_as_2d(inputs), _kernel_2d(self.kernel), self.bias, strides=(1,) + self.strides,
                                 padding=self.padding, dilation=(1,) + self.dilation_rate)
        return self._finish(_from_2d(y))


Convolution1DTranspose = Conv1DTranspose
SeparableConvolution1D = SeparableConv1D
