"""Convolution layers (Keras 3 names, weights and semantics), channels-last only:
Conv1D, Conv2D, SeparableConv2D, DepthwiseConv2D, Conv2DTranspose.

Kernels are stored in Keras's layouts (so ``set_weights`` takes Keras ``get_weights()``):
Conv (k..., Cin // groups, filters); DepthwiseConv2D ``kernel`` (kh, kw, Cin, depth_multiplier);
SeparableConv2D ``depthwise_kernel`` (kh, kw, Cin, depth_multiplier) and ``pointwise_kernel``
(1, 1, Cin * depth_multiplier, filters); Conv2DTranspose (kh, kw, filters, Cin).
"""
from __future__ import annotations

import operator

from .. import activations, constraints, initializers, ops, regularizers
from .base import Layer

# ----------------------------------------------------------------------------- helpers shared by
# the pooling / reshaping layer modules


def standardize_tuple(value, n, name, allow_zero=False):
    """An int or a sequence of ``n`` ints as a tuple of ``n`` ints, each > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}")
    try:
        items = (operator.index(value),) * n if not isinstance(value, (list, tuple)) else \
            tuple(operator.index(v) for v in value)
    except TypeError:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}") \
            from None
    if len(items) != n:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}")
    bad = [v for v in items if (v < 0 if allow_zero else v <= 0)]
    if bad:
        req = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers {req}. Received {name}={value!r}")
    return items


def standardize_data_format(value, cls_name):
    """``None`` / "channels_last" -> "channels_last"; "channels_first" is refused (not supported)."""
    if value is None:
        return "channels_last"
    fmt = str(value).lower()
    if fmt == "channels_first":
        raise ValueError(f"{cls_name}: data_format='channels_first' is not supported; only 'channels_last' "
                         f"(batch, ..., channels) is. Transpose the input to channels-last instead.")
    if fmt != "channels_last":
        raise ValueError(f"{cls_name}: data_format must be 'channels_last' (or 'channels_first', unsupported), "
                         f"got {value!r}")
    return fmt


def standardize_padding(value, cls_name, allow_causal=False):
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{cls_name}: the `padding` argument must be one of {allowed}. Received: {value!r}")
    return value.lower()


def check_ndim(layer, shape, ndim, layout):
    """Refuse an input whose rank is not ``ndim`` (Keras InputSpec-like message)."""
    shape = tuple(shape)
    if len(shape) != ndim:
        raise ValueError(f"Input 0 of layer '{layer.name}' is incompatible with the layer: expected ndim={ndim} "
                         f"{layout}, found ndim={len(shape)}. Full shape received: {shape}")


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def conv_output_length(n, k, s, d, padding):
    """Keras's ``compute_conv_output_shape`` for one spatial axis (None stays None)."""
    if n is None:
        return None
    if padding == "valid":
        return (n - d * (k - 1) - 1) // s + 1
    return (n - 1) // s + 1  # "same" and "causal"


def conv_transpose_output_length(n, k, s, d, padding, output_padding):
    """Keras's ``_get_output_shape_given_tf_padding``."""
    if n is None:
        return None
    ke = (k - 1) * d + 1
    if padding == "valid":
        op = max(ke, s) - ke if output_padding is None else output_padding
        return (n - 1) * s + ke + op
    if output_padding is None:
        return n * s
    return (n - 1) * s + ke % 2 + output_padding


# ----------------------------------------------------------------------------- base


class _ConvBase(Layer):
    """Shared validation, output shapes and config of the convolution layers."""

    rank = 2
    _layout = "(batch, height, width, channels)"

    def _init_common(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                     bias_initializer, bias_regularizer, activity_regularizer, bias_constraint, allow_causal=False):
        cls = type(self).__name__
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = standardize_tuple(strides, self.rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = standardize_padding(padding, cls, allow_causal=allow_causal)
        self.data_format = standardize_data_format(data_format, cls)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.bias_constraint = constraints.get(bias_constraint)
        self._in_channels = None

    def _check_filters(self, filters, name="filters"):
        try:
            if isinstance(filters, bool):
                raise TypeError
            filters = operator.index(filters)
        except TypeError:
            raise ValueError(f"Invalid value for argument `{name}`. Expected a strictly positive integer. "
                             f"Received {name}={filters!r}.") from None
        if filters <= 0:
            raise ValueError(f"Invalid value for argument `{name}`. Expected a strictly positive value. "
                             f"Received {name}={filters}.")
        return filters

    def _no_strides_with_dilation(self):
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{type(self).__name__}: `strides > 1` not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")

    def _input_channels(self, input_shape):
        check_ndim(self, input_shape, self.rank + 2, self._layout)
        cin = input_shape[-1]
        if cin is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel dimension (last axis) of the "
                             f"input must be known, got input shape {_fmt(input_shape)}")
        return int(cin)

    def _check_call_input(self, inputs):
        check_ndim(self, inputs.shape, self.rank + 2, self._layout)
        if self._in_channels is not None and inputs.shape[-1] != self._in_channels:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: expected axis -1 "
                             f"of the input to have value {self._in_channels} (the layer was built for "
                             f"{self._in_channels} channels), but received input with shape "
                             f"{tuple(inputs.shape)}")

    def _fused(self):
        """The activation the conv op applies itself ("relu") or None (applied by ``_finish``)."""
        return "relu" if self.activation is ops.relu else None

    def _finish(self, y, fused=None):
        if fused is None:
            y = self.activation(y)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y))
        return y

    def _spatial_out(self, input_shape):
        spatial = input_shape[1:-1]
        out = [conv_output_length(n, k, s, d, self.padding)
               for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(f"{type(self).__name__} '{self.name}': computed output size would be zero or "
                             f"negative. Received inputs shape={_fmt(input_shape)}, "
                             f"kernel_size={self.kernel_size}, dilation_rate={self.dilation_rate}, "
                             f"strides={self.strides}, padding={self.padding!r}")
        return tuple(out)

    def _common_config(self):
        return {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate}

    def _tail_config(self):
        return {"activation": activations.serialize(self.activation), "use_bias": self.use_bias}


class _Conv(_ConvBase):
    """N-d convolution (cross-correlation) with ``filters`` outputs, optional bias and activation."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, activity_regularizer, bias_constraint,
                          allow_causal=self.rank == 1)
        self.filters = self._check_filters(filters)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: groups={groups!r}.")
        self.groups = groups
        if self.filters % self.groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={self.groups}, filters={self.filters}.")
        self._no_strides_with_dilation()
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.kernel = self.bias = None

    def build(self, input_shape):
        cin = self._input_channels(input_shape)
        if cin % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                             f"Received groups={self.groups}, but the input has {cin} channels (full input "
                             f"shape is {_fmt(input_shape)}).")
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(self.kernel_size + (cin // self.groups, self.filters),
                                      self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self._in_channels = cin

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self.rank + 2, self._layout)
        return (input_shape[0],) + self._spatial_out(input_shape) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._common_config(), "groups": self.groups,
                **self._tail_config(),
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class Conv1D(_Conv):
    """1-d convolution over (batch, steps, channels). ``padding``: "valid", "same" or "causal"
    (left padding ``dilation_rate * (kernel_size - 1)``: output[t] sees only input[:t + 1])."""

    rank = 1
    _layout = "(batch, steps, channels)"

    def call(self, inputs):
        self._check_call_input(inputs)
        act = self._fused()
        y = ops.conv1d(inputs, self.kernel, self.bias, strides=self.strides[0], padding=self.padding,
                       dilation=self.dilation_rate[0], groups=self.groups, activation=act)
        return self._finish(y, act)


class Conv2D(_Conv):
    """2-d convolution over (batch, height, width, channels); "same" padding is TensorFlow's."""

    rank = 2

    def call(self, inputs):
        self._check_call_input(inputs)
        act = self._fused()
        y = ops.conv2d(inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                       dilation=self.dilation_rate, groups=self.groups, activation=act)
        return self._finish(y, act)


class DepthwiseConv2D(_ConvBase):
    """Per-channel 2-d convolution: ``kernel`` (kh, kw, C, depth_multiplier); output channel
    ``c * depth_multiplier + m`` is channel c convolved with ``kernel[..., c, m]``."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, activity_regularizer, bias_constraint)
        self.depth_multiplier = self._check_filters(depth_multiplier, "depth_multiplier")
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.kernel = self.bias = None

    def build(self, input_shape):
        cin = self._input_channels(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(self.kernel_size + (cin, self.depth_multiplier), self.depthwise_initializer,
                                      name="kernel", regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self.bias = self.add_weight((cin * self.depth_multiplier,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self._in_channels = cin

    def call(self, inputs):
        self._check_call_input(inputs)
        y = ops.depthwise_conv2d(inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                                 dilation=self.dilation_rate)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self.rank + 2, self._layout)
        cin = input_shape[-1]
        return (input_shape[0],) + self._spatial_out(input_shape) + \
            (None if cin is None else cin * self.depth_multiplier,)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier, **self._common_config(),
                **self._tail_config(),
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class SeparableConv2D(_ConvBase):
    """Depthwise convolution (``depthwise_kernel``, with strides/padding/dilation) followed by a
    1x1 pointwise convolution (``pointwise_kernel``) to ``filters`` channels, then bias and activation."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, activity_regularizer, bias_constraint)
        self.filters = self._check_filters(filters)
        self.depth_multiplier = self._check_filters(depth_multiplier, "depth_multiplier")
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.depthwise_kernel = self.pointwise_kernel = self.bias = None

    def build(self, input_shape):
        cin = self._input_channels(input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self.add_weight(self.kernel_size + (cin, self.depth_multiplier),
                                                self.depthwise_initializer, name="depthwise_kernel",
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight((1,) * self.rank + (cin * self.depth_multiplier, self.filters),
                                                self.pointwise_initializer, name="pointwise_kernel",
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self._in_channels = cin

    def call(self, inputs):
        self._check_call_input(inputs)
        y = ops.depthwise_conv2d(inputs, self.depthwise_kernel, None, strides=self.strides, padding=self.padding,
                                 dilation=self.dilation_rate)
        act = self._fused()
        y = ops.conv2d(y, self.pointwise_kernel, self.bias, activation=act)
        return self._finish(y, act)

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self.rank + 2, self._layout)
        return (input_shape[0],) + self._spatial_out(input_shape) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier, "filters": self.filters,
                **self._common_config(), **self._tail_config(),
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
                "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class Conv2DTranspose(_ConvBase):
    """Transposed 2-d convolution ("deconvolution"): ``kernel`` (kh, kw, filters, Cin). Output size
    per axis: "same" n * s, "valid" (n - 1) * s + max(k_eff, s); with ``output_padding`` p:
    (n - 1) * s + k_eff + p ("valid") or (n - 1) * s + k_eff % 2 + p ("same")."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, activity_regularizer, bias_constraint)
        self.filters = self._check_filters(filters)
        self.output_padding = None if output_padding is None else \
            standardize_tuple(output_padding, self.rank, "output_padding", allow_zero=True)
        if self.output_padding is not None:
            for i, (p, s) in enumerate(zip(self.output_padding, self.strides)):
                if p >= s:
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. "
                                     f"At dimension {i}, `output_padding` is {p} but `strides` is {s}. "
                                     f"Received: output_padding={self.output_padding}, strides={self.strides}")
        self._no_strides_with_dilation()
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.kernel = self.bias = None

    def build(self, input_shape):
        cin = self._input_channels(input_shape)
        self.kernel = self.add_weight(self.kernel_size + (self.filters, cin), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self._in_channels = cin

    def call(self, inputs):
        self._check_call_input(inputs)
        act = self._fused()
        y = ops.conv2d_transpose(inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                                 output_padding=self.output_padding, dilation=self.dilation_rate, activation=act)
        return self._finish(y, act)

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self.rank + 2, self._layout)
        ops_ = self.output_padding or (None,) * self.rank
        out = tuple(conv_transpose_output_length(n, k, s, d, self.padding, p)
                    for n, k, s, d, p in zip(input_shape[1:-1], self.kernel_size, self.strides,
                                             self.dilation_rate, ops_))
        return (input_shape[0],) + out + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "output_padding": self.output_padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate, **self._tail_config(),
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


Convolution1D = Conv1D
Convolution2D = Conv2D
SeparableConvolution2D = SeparableConv2D
Convolution2DTranspose = Conv2DTranspose
