"""ONNX converters for the core layers that are neither recurrent nor attention (see
``core.export.onnx_graph`` for the converter contract).

Tensors stay channels-last as in the model; convolutions and pooling, which ONNX defines
channels-first, are wrapped in ``Transpose`` nodes that ``onnx_passes.optimize_graph`` cancels
between consecutive layers. Inference semantics throughout: dropout and noise layers are
identities, batch normalization uses the moving statistics, random augmentations are off.
"""
from __future__ import annotations

import math

import numpy as np

from .. import activations as A
from .. import ops
from ..layers import convolutional as CV
from ..layers import core_layers as C
from ..layers import embedding as E
from ..layers import merging as M
from ..layers import normalization as N
from ..layers import pooling as P
from ..layers import preprocessing as PP
from ..layers import regularization as R
from ..layers import reshaping as RS
from ..layers import wrappers as W
from ..layers import adaptive_pooling as AP
from ..layers import category_encoding as CE
from ..layers import image_augmentation as IA
from ..layers import image_mixing as IM
from ..layers import pooling_3d as P3
from ..layers import reshaping_3d as RS3
from ..layers.attention import EinsumDense
from ..layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from ..layers.convolutional_3d import Conv3D
from ..layers.discretization import Discretization
from ..layers.hashing import Hashing
from ..layers.index_lookup import IndexLookup
from ..layers.rnn import RNN, StackedRNNCells
from ..layers.text_vectorization import TextVectorization
from ..layers.base import KerasTensor
from ..ops.operation import FunctionOperation
from ..layers.group_normalization import GroupNormalization
from ..layers.masking import Masking
from ..layers.prelu import PReLU
from ..layers.rms_normalization import RMSNormalization
from ..layers.sequence_attention import AdditiveAttention, Attention
from ..layers.unit_normalization import UnitNormalization
from .onnx_graph import OnnxExportError, register_onnx_converter

_INT64_MAX = np.iinfo(np.int64).max


# =========================================================================== helpers
def in_shape(g, node, inputs, i=0):
    """The Keras shape of input ``i`` of a call (from the node, else from the graph's records)."""
    if node is not None and i < len(node.input_tensors):
        return tuple(node.input_tensors[i].shape)
    return g.shape_of(inputs[i])


def _need_shape(g, layer, node, inputs, i=0):
    shape = in_shape(g, node, inputs, i)
    if shape is None:
        raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}): the shape of its input is "
                              "unknown to the exporter")
    return shape


def _arr(w):
    data = getattr(w, "data", w)
    if hasattr(data, "get"):  # CuPy
        data = data.get()
    return np.asarray(data)


def _float_input(g, x, dtype="float32"):
    """``x`` cast to float32 when it is known to be of another dtype."""
    dt = g.dtypes.get(x)
    if dt is not None and np.dtype(dt) != np.dtype(dtype):
        return g.op("Cast", x, to=_tp(dtype))
    return x


# onnx.TensorProto's data type numbers (fixed by the ONNX standard), so converters need no onnx import
_TENSOR_TYPES = {"float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7, "bool": 9,
                 "float16": 10, "float64": 11, "uint32": 12, "uint64": 13}


def _tp(dtype):
    name = np.dtype(dtype).name
    if name not in _TENSOR_TYPES:
        raise OnnxExportError(f"dtype {name} has no ONNX mapping here")
    return _TENSOR_TYPES[name]


def to_channels_first(g, x, spatial_rank):
    """NH(W)C -> NC H(W)."""
    return g.op("Transpose", x, perm=[0, spatial_rank + 1] + list(range(1, spatial_rank + 1)))


def to_channels_last(g, x, spatial_rank):
    """NC H(W) -> NH(W)C."""
    return g.op("Transpose", x, perm=[0] + list(range(2, spatial_rank + 2)) + [1])


# --------------------------------------------------------------------------- activations
def _gelu(g, x, approximate):
    if g.opset >= 20:
        return g.op("Gelu", x, approximate="tanh" if approximate else "none")
    half = g.const(np.float32(0.5))
    one = g.const(np.float32(1.0))
    if approximate:
        x3 = g.op("Mul", g.op("Mul", x, x), x)
        inner = g.op("Mul", g.const(np.float32(math.sqrt(2.0 / math.pi))),
                     g.op("Add", x, g.op("Mul", g.const(np.float32(0.044715)), x3)))
        return g.op("Mul", g.op("Mul", half, x), g.op("Add", one, g.op("Tanh", inner)))
    cdf = g.op("Mul", half, g.op("Add", one, g.op("Erf", g.op("Mul", x, g.const(np.float32(1 / math.sqrt(2.0)))))))
    return g.op("Mul", x, cdf)


def _silu(g, x):
    return g.op("Mul", x, g.op("Sigmoid", x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

_ACTIVATIONS = {
    ops.linear: lambda g, x: x,
    ops.relu: lambda g, x: g.op("Relu", x),
    ops.relu6: lambda g, x: g.op("Clip", x, g.const(np.float32(0)), g.const(np.float32(6))),
    ops.leaky_relu: lambda g, x: g.op("LeakyRelu", x, alpha=0.2),
    ops.elu: lambda g, x: g.op("Elu", x, alpha=1.0),
    ops.selu: lambda g, x: g.op("Selu", x, alpha=_SELU_ALPHA, gamma=_SELU_SCALE),
    A.gelu: lambda g, x: _gelu(g, x, approximate=False),
    ops.gelu: lambda g, x: _gelu(g, x, approximate=True),
    ops.sigmoid: lambda g, x: g.op("Sigmoid", x),
    ops.hard_sigmoid: lambda g, x: g.op("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5),
    ops.tanh: lambda g, x: g.op("Tanh", x),
    ops.softmax: lambda g, x: g.op("Softmax", x, axis=-1),
    ops.log_softmax: lambda g, x: g.op("LogSoftmax", x, axis=-1),
    ops.silu: _silu,
    ops.softplus: lambda g, x: g.op("Softplus", x),
    ops.softsign: lambda g, x: g.op("Softsign", x),
    A.exponential: lambda g, x: g.op("Exp", x),
    A.mish: lambda g, x: g.op("Mul", x, g.op("Tanh", g.op("Softplus", x))),
    A.celu: lambda g, x: g.op("Celu", x, alpha=1.0),
    ops.hard_tanh: lambda g, x: g.op("Clip", x, g.const(np.float32(-1)), g.const(np.float32(1))),
    ops.log_sigmoid: lambda g, x: g.op("Neg", g.op("Softplus", g.op("Neg", x))),
    ops.hard_silu: lambda g, x: g.op("Mul", x, g.op("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5)),
    ops.tanh_shrink: lambda g, x: g.op("Sub", x, g.op("Tanh", x)),
    A.hard_shrink: lambda g, x: g.op("Shrink", x, lambd=0.5, bias=0.0),
    A.soft_shrink: lambda g, x: g.op("Shrink", x, lambd=0.5, bias=0.5),
    ops.sparse_sigmoid: lambda g, x: g.op("Clip", g.op("Mul", g.op("Add", x, g.const(np.float32(1))),
                                                       g.const(np.float32(0.5))),
                                          g.const(np.float32(0)), g.const(np.float32(1))),
    A.squareplus: lambda g, x: g.op("Mul", g.op("Add", x, g.op("Sqrt", g.op("Add", g.op("Mul", x, x),
                                                                              g.const(np.float32(4))))),
                                    g.const(np.float32(0.5))),
}


def onnx_activation_names() -> list:
    """The ``keras.activations`` names the exporter maps to ONNX nodes."""
    return sorted(n for n, f in A._NAMES.items() if f in _ACTIVATIONS)


def apply_activation(g, layer, fn, x):
    """The ONNX nodes of activation function ``fn`` (a ``core.activations`` entry) applied to ``x``."""
    if fn is None:
        return x
    build = _ACTIVATIONS.get(fn)
    if build is None:
        name = getattr(fn, "__name__", repr(fn))
        raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}): activation {name!r} has no "
                              f"ONNX mapping; supported: {onnx_activation_names()}")
    return build(g, x)


# =========================================================================== core layers
@register_onnx_converter(C.InputLayer, C.Identity)
def _identity(g, layer, node, inputs):
    return [g.op("Identity", inputs[0], name=layer.name)]


@register_onnx_converter(R.Dropout, R.GaussianNoise, R.GaussianDropout, R.AlphaDropout, R.ActivityRegularization)
def _inference_identity(g, layer, node, inputs):
    """Regularization layers: identities at inference."""
    return [g.op("Identity", inputs[0], name=layer.name)]


@register_onnx_converter(C.Lambda)
def _lambda(g, layer, node, inputs):
    fn = getattr(layer.function, "__name__", "lambda")
    raise OnnxExportError(f"layer '{layer.name}' (Lambda wrapping the Python function {fn!r}) cannot be exported "
                          "to ONNX: a Lambda runs arbitrary Python code. Replace it with built-in layers, or "
                          "with a custom layer that has a converter (core.export.register_onnx_converter)")


@register_onnx_converter(C.Dense)
def _dense(g, layer, node, inputs):
    y = g.op("MatMul", inputs[0], g.weight(layer.kernel, f"{layer.name}/kernel"), name=layer.name)
    if layer.bias is not None:
        y = g.op("Add", y, g.weight(layer.bias, f"{layer.name}/bias"), name=f"{layer.name}_bias")
    return [apply_activation(g, layer, layer.activation, y)]


@register_onnx_converter(EinsumDense)
def _einsum_dense(g, layer, node, inputs):
    shape = _need_shape(g, layer, node, inputs)
    k = len(layer._contracted)
    kernel = _arr(layer.kernel)
    new = tuple(kernel.shape[k:])
    c = int(np.prod(kernel.shape[:k]))
    lead = len(shape) - k
    x = inputs[0]
    if k > 1:
        x = g.op("Reshape", x, g.ints([0] * lead + [c]))
    y = g.op("MatMul", x, g.const(kernel.reshape(c, int(np.prod(new))), f"{layer.name}/kernel"), name=layer.name)
    if len(new) != 1:
        y = g.op("Reshape", y, g.ints([0] * lead + list(new)))
    if layer.bias is not None:
        y = g.op("Add", y, g.weight(layer.bias, f"{layer.name}/bias"))
    return [apply_activation(g, layer, layer.activation, y)]


@register_onnx_converter(C.Activation)
def _activation(g, layer, node, inputs):
    return [apply_activation(g, layer, layer.activation, inputs[0])]


@register_onnx_converter(C.ReLU)
def _relu_layer(g, layer, node, inputs):
    x = inputs[0]
    m, s, t = layer.max_value, layer.negative_slope, layer.threshold
    if s == 0 and t == 0:
        if m is None:
            return [g.op("Relu", x, name=layer.name)]
        return [g.op("Clip", x, g.const(np.float32(0)), g.const(np.float32(m)), name=layer.name)]
    if t == 0:
        y = g.op("LeakyRelu", x, alpha=float(s), name=layer.name)
    else:
        tc = g.const(np.float32(t))
        below = g.op("Mul", g.op("Sub", x, tc), g.const(np.float32(s))) if s != 0 else g.const(np.float32(0))
        y = g.op("Where", g.op("GreaterOrEqual", x, tc), x, below, name=layer.name)
    if m is not None:
        y = g.op("Min", y, g.const(np.float32(m)))
    return [y]


@register_onnx_converter(C.LeakyReLU)
def _leaky_relu(g, layer, node, inputs):
    return [g.op("LeakyRelu", inputs[0], alpha=float(layer.negative_slope), name=layer.name)]


@register_onnx_converter(C.ELU)
def _elu(g, layer, node, inputs):
    return [g.op("Elu", inputs[0], alpha=float(layer.alpha), name=layer.name)]


@register_onnx_converter(C.Softmax)
def _softmax_layer(g, layer, node, inputs):
    x = inputs[0]
    mask = inputs[1] if len(inputs) > 1 else g.masks.get(x)
    if mask is not None:
        if g.dtypes.get(mask) is not None and np.dtype(g.dtypes[mask]) != np.bool_:
            mask = g.op("Cast", mask, to=_tp("bool"))
        x = g.op("Where", mask, x, g.const(np.float32(-1e9)))
    axis = layer.axis
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, (list, tuple)):
        mx = g.reduce("ReduceMax", x, axis, keepdims=True)
        e = g.op("Exp", g.op("Sub", x, mx))
        return [g.op("Div", e, g.reduce("ReduceSum", e, axis, keepdims=True), name=layer.name)]
    return [g.op("Softmax", x, axis=int(axis), name=layer.name)]


@register_onnx_converter(C.Flatten)
def _flatten(g, layer, node, inputs):
    return [g.op("Flatten", inputs[0], axis=1, name=layer.name)]


@register_onnx_converter(C.Reshape)
def _reshape(g, layer, node, inputs):
    return [g.op("Reshape", inputs[0], g.ints([0] + [int(d) for d in layer.target_shape]), name=layer.name)]


@register_onnx_converter(C.Permute)
def _permute(g, layer, node, inputs):
    return [g.op("Transpose", inputs[0], perm=[0] + [int(d) for d in layer.dims], name=layer.name)]


@register_onnx_converter(C.RepeatVector)
def _repeat_vector(g, layer, node, inputs):
    x = g.unsqueeze(inputs[0], [1])
    return [g.op("Expand", x, g.ints([1, layer.n, 1]), name=layer.name)]


# =========================================================================== convolutions
def _axis_pads(n, k, s, d, padding):
    """(before, after) padding of one spatial axis, or None when it depends on an unknown size."""
    ke = (k - 1) * d + 1
    if padding == "valid":
        return (0, 0)
    if padding == "causal":
        return (ke - 1, 0)
    if s == 1:  # "same", stride 1: always k_eff - 1 in total
        return ((ke - 1) // 2, ke - 1 - (ke - 1) // 2)
    if n is None:
        return None
    from ..ops.conv import _same_pads

    return _same_pads(n, k, s, d)


def _conv_pad_attrs(spatial, kernel, strides, dilation, padding):
    """``pads=[b..., e...]`` or, for "same" with strides on axes of unknown size, ``auto_pad``
    (ONNX's SAME_UPPER puts the extra cell at the end, as TensorFlow does)."""
    pairs = [_axis_pads(n, k, s, d, padding) for n, k, s, d in zip(spatial, kernel, strides, dilation)]
    if any(p is None for p in pairs):
        return {"auto_pad": "SAME_UPPER"}
    return {"pads": [p[0] for p in pairs] + [p[1] for p in pairs]}


def _spatial(g, layer, node, inputs, rank):
    shape = in_shape(g, node, inputs)
    if shape is None or len(shape) != rank + 2:
        return (None,) * rank
    return tuple(shape[1:-1])


@register_onnx_converter(CV.Conv1D, CV.Conv2D, Conv3D)
def _conv(g, layer, node, inputs):
    rank = layer.rank
    kernel = _arr(layer.kernel)  # (k..., cin // groups, filters)
    w = np.transpose(kernel, (rank + 1, rank) + tuple(range(rank)))
    spatial = _spatial(g, layer, node, inputs, rank)
    attrs = _conv_pad_attrs(spatial, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)
    args = [to_channels_first(g, inputs[0], rank), g.const(w, f"{layer.name}/kernel")]
    if layer.bias is not None:
        args.append(g.weight(layer.bias, f"{layer.name}/bias"))
    y = g.node("Conv", args, 1, name=layer.name, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
               dilations=list(layer.dilation_rate), group=int(layer.groups), **attrs)[0]
    return [apply_activation(g, layer, layer.activation, to_channels_last(g, y, rank))]


def _depthwise_weight(kernel):
    """(k..., C, m) -> ONNX (C * m, 1, k...): output channel c * m + j is kernel[..., c, j]."""
    *ks, c, m = kernel.shape
    rank = len(ks)
    return np.transpose(kernel.reshape(*ks, c * m), (rank,) + tuple(range(rank)))[:, None]


def _conv_weight(kernel, rank):
    """Keras (k..., Cin, Cout) (or a transposed conv's (k..., Cout, Cin)) -> ONNX (last, second last, k...)."""
    return np.transpose(kernel, (rank + 1, rank) + tuple(range(rank)))


@register_onnx_converter(CV.DepthwiseConv2D)  # and DepthwiseConv1D, its subclass
def _depthwise(g, layer, node, inputs):
    rank = layer.rank
    kernel = _arr(layer.kernel)
    c = kernel.shape[rank]
    spatial = _spatial(g, layer, node, inputs, rank)
    attrs = _conv_pad_attrs(spatial, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)
    args = [to_channels_first(g, inputs[0], rank), g.const(_depthwise_weight(kernel), f"{layer.name}/kernel")]
    if layer.bias is not None:
        args.append(g.weight(layer.bias, f"{layer.name}/bias"))
    y = g.node("Conv", args, 1, name=layer.name, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
               dilations=list(layer.dilation_rate), group=int(c), **attrs)[0]
    return [apply_activation(g, layer, layer.activation, to_channels_last(g, y, rank))]


@register_onnx_converter(CV.SeparableConv2D)  # and SeparableConv1D, its subclass
def _separable(g, layer, node, inputs):
    rank = layer.rank
    dk = _arr(layer.depthwise_kernel)
    pk = _arr(layer.pointwise_kernel)  # (1..., C * m, filters)
    c = dk.shape[rank]
    spatial = _spatial(g, layer, node, inputs, rank)
    attrs = _conv_pad_attrs(spatial, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)
    y = g.node("Conv", [to_channels_first(g, inputs[0], rank),
                        g.const(_depthwise_weight(dk), f"{layer.name}/depthwise")],
               1, name=f"{layer.name}_depthwise", kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
               dilations=list(layer.dilation_rate), group=int(c), **attrs)[0]
    args = [y, g.const(_conv_weight(pk, rank), f"{layer.name}/pointwise")]
    if layer.bias is not None:
        args.append(g.weight(layer.bias, f"{layer.name}/bias"))
    y = g.node("Conv", args, 1, name=f"{layer.name}_pointwise", kernel_shape=[1] * rank)[0]
    return [apply_activation(g, layer, layer.activation, to_channels_last(g, y, rank))]


def _transpose_pads(n, k, s, d, padding, output_padding):
    """(crop before, crop after, extra zeros after) of one axis of a transposed convolution, or
    None when they depend on an unknown input size."""
    from ..ops.conv import _transpose_len

    def at(nn):
        out, top = _transpose_len(nn, k, s, d, padding, output_padding)
        full = (nn - 1) * s + (k - 1) * d + 1
        end = full - top - out
        return (top, max(end, 0), max(-end, 0))

    if n is not None:
        return at(n)
    probes = {at(nn) for nn in range(max(k, 2), max(k, 2) + 2 * s + 2)}
    return probes.pop() if len(probes) == 1 else None


@register_onnx_converter(CV.Conv2DTranspose)  # and Conv1DTranspose, its subclass
def _conv_transpose(g, layer, node, inputs):
    rank = layer.rank
    kernel = _arr(layer.kernel)  # (k..., filters, Cin)
    spatial = _spatial(g, layer, node, inputs, rank)
    ops_ = layer.output_padding or (None,) * rank
    axes = [_transpose_pads(n, k, s, d, layer.padding, p)
            for n, k, s, d, p in zip(spatial, layer.kernel_size, layer.strides, layer.dilation_rate, ops_)]
    if any(a is None for a in axes):
        raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}, padding={layer.padding!r}, "
                              f"output_padding={layer.output_padding}): its cropping depends on the input size, "
                              f"which is unknown ({spatial}); give the model a fixed image size")
    args = [to_channels_first(g, inputs[0], rank), g.const(_conv_weight(kernel, rank), f"{layer.name}/kernel")]
    if layer.bias is not None:
        args.append(g.weight(layer.bias, f"{layer.name}/bias"))
    y = g.node("ConvTranspose", args, 1, name=layer.name, kernel_shape=list(layer.kernel_size),
               strides=list(layer.strides), dilations=list(layer.dilation_rate),
               pads=[a[0] for a in axes] + [a[1] for a in axes], output_padding=[a[2] for a in axes])[0]
    return [apply_activation(g, layer, layer.activation, to_channels_last(g, y, rank))]


# =========================================================================== pooling
@register_onnx_converter(P.MaxPooling1D, P.MaxPooling2D, P.AveragePooling1D, P.AveragePooling2D, P3.MaxPooling3D,
                         P3.AveragePooling3D)
def _pool(g, layer, node, inputs):
    rank = layer.pool_dimensions
    spatial = _spatial(g, layer, node, inputs, rank)
    attrs = _conv_pad_attrs(spatial, layer.pool_size, layer.strides, (1,) * rank, layer.padding)
    op = "MaxPool" if layer.pool_mode == "max" else "AveragePool"
    if op == "AveragePool":
        attrs["count_include_pad"] = 0  # Keras divides by the number of real cells
    y = g.op(op, to_channels_first(g, inputs[0], rank), name=layer.name, kernel_shape=list(layer.pool_size),
             strides=list(layer.strides), **attrs)
    return [to_channels_last(g, y, rank)]


@register_onnx_converter(P.GlobalAveragePooling2D, P.GlobalMaxPooling2D, P.GlobalMaxPooling1D,
                         P.GlobalAveragePooling1D, P3.GlobalAveragePooling3D, P3.GlobalMaxPooling3D)
def _global_pool(g, layer, node, inputs):
    x = inputs[0]
    axes = list(range(1, layer.pool_dimensions + 1))
    is_max = isinstance(layer, (P.GlobalMaxPooling1D, P.GlobalMaxPooling2D, P3.GlobalMaxPooling3D))
    mask = g.masks.get(x) if isinstance(layer, P.GlobalAveragePooling1D) else None
    if mask is None:
        return [g.reduce("ReduceMax" if is_max else "ReduceMean", x, axes, layer.keepdims)]
    m = g.unsqueeze(mask, [2])
    total = g.reduce("ReduceSum", g.op("Where", m, x, g.const(np.float32(0))), [1], layer.keepdims)
    count = g.reduce("ReduceSum", g.op("Cast", m, to=_tp("float32")), [1], layer.keepdims)
    return [g.op("Div", total, count, name=layer.name)]


# =========================================================================== normalization
def _bn_stats(layer):
    c = layer._channels
    gamma = _arr(layer.gamma) if layer.gamma is not None else np.ones(c, np.float32)
    beta = _arr(layer.beta) if layer.beta is not None else np.zeros(c, np.float32)
    return gamma, beta, _arr(layer.moving_mean), _arr(layer.moving_variance)


@register_onnx_converter(N.BatchNormalization)
def _batch_norm(g, layer, node, inputs):
    """Inference batch normalization as ONNX ``BatchNormalization`` (channels on axis 1: other
    channel axes are transposed there and back; the passes fold it into a preceding conv/dense)."""
    gamma, beta, mean, var = _bn_stats(layer)
    rank, ax = layer._ndim, layer._channel_axis
    x = inputs[0]
    perm = None
    if ax != 1:
        perm = [0, ax] + [i for i in range(1, rank) if i != ax]
        x = g.op("Transpose", x, perm=perm)
    y = g.op("BatchNormalization", x, g.const(gamma, f"{layer.name}/gamma"), g.const(beta, f"{layer.name}/beta"),
             g.const(mean, f"{layer.name}/moving_mean"), g.const(var, f"{layer.name}/moving_variance"),
             name=layer.name, epsilon=float(layer.epsilon), momentum=float(layer.momentum))
    if perm is not None:
        y = g.op("Transpose", y, perm=[int(i) for i in np.argsort(perm)])
    return [y]


@register_onnx_converter(N.LayerNormalization)
def _layer_norm(g, layer, node, inputs):
    x = inputs[0]
    rank, axes = layer._ndim, list(layer._axes)
    eps = float(layer.epsilon)
    bshape = [1] * rank
    for a, n in zip(axes, layer._norm_shape):
        bshape[a] = n
    trailing = axes == list(range(rank - len(axes), rank))
    if not layer.rms_scaling and trailing and g.opset >= 17:
        gamma = _arr(layer.gamma) if layer.gamma is not None else np.ones(layer._norm_shape, np.float32)
        args = [x, g.const(gamma.reshape(layer._norm_shape), f"{layer.name}/gamma")]
        if layer.beta is not None:
            args.append(g.const(_arr(layer.beta).reshape(layer._norm_shape), f"{layer.name}/beta"))
        return [g.node("LayerNormalization", args, 1, name=layer.name, axis=axes[0], epsilon=eps)[0]]
    mean = g.reduce("ReduceMean", x, axes, keepdims=True)
    d = g.op("Sub", x, mean)
    var = g.reduce("ReduceMean", g.op("Mul", d, d), axes, keepdims=True)
    std = g.op("Sqrt", g.op("Add", var, g.const(np.float32(eps))))
    y = g.op("Div", x if layer.rms_scaling else d, std)
    if layer.gamma is not None:
        y = g.op("Mul", y, g.const(_arr(layer.gamma).reshape(bshape), f"{layer.name}/gamma"))
    if layer.beta is not None and not layer.rms_scaling:
        y = g.op("Add", y, g.const(_arr(layer.beta).reshape(bshape), f"{layer.name}/beta"))
    return [y]


# =========================================================================== embedding
@register_onnx_converter(E.Embedding)
def _embedding(g, layer, node, inputs):
    ids = inputs[0]
    dt = g.dtypes.get(ids)
    if dt is None or np.dtype(dt) != np.int64:
        ids = g.op("Cast", ids, to=_tp("int64"))
    table = _arr(layer.embeddings).astype(np.dtype(layer.compute_dtype), copy=False)
    y = g.op("Gather", g.const(table, f"{layer.name}/embeddings"), ids, axis=0, name=layer.name)
    if layer.mask_zero:
        mask = g.op("Not", g.op("Equal", ids, g.const(np.int64(0))), name=f"{layer.name}_mask")
        g.masks[y] = mask
        shape = in_shape(g, node, inputs)
        if shape is not None:
            g.shapes[mask] = tuple(shape)
        g.dtypes[mask] = np.dtype(bool)
    return [y]


# =========================================================================== merging
def _align_ranks(g, layer, node, inputs):
    """Keras merges insert axes after the batch axis of lower-rank inputs."""
    shapes = [in_shape(g, node, inputs, i) for i in range(len(inputs))]
    if any(s is None for s in shapes):
        return list(inputs), shapes
    top = max(len(s) for s in shapes)
    out = []
    for x, s in zip(inputs, shapes):
        out.append(g.unsqueeze(x, list(range(1, 1 + top - len(s)))) if len(s) < top else x)
    return out, shapes


def _mask_rank(g, m):
    s = g.shape_of(m)
    return len(s) if s is not None else 2


def _expand_mask(g, m, rank):
    """A mask (batch, steps) with trailing axes added up to ``rank`` (Keras's merge broadcasting)."""
    r = _mask_rank(g, m)
    return g.unsqueeze(m, list(range(r, rank))) if r < rank else m


def _merge_out_mask(g, inputs, masks, out):
    if masks and all(m is not None for m in masks):
        m = masks[0]
        for other in masks[1:]:
            m = g.op("Or", m, other)
        g.masks[out] = m
        g.dtypes[m] = np.dtype(bool)
        if masks[0] in g.shapes:
            g.shapes[m] = g.shapes[masks[0]]


def _masks(g, inputs):
    return [g.masks.get(x) for x in inputs]


@register_onnx_converter(M.Add, M.Subtract, M.Average)
def _add_like(g, layer, node, inputs):
    masks = _masks(g, inputs)
    xs, _ = _align_ranks(g, layer, node, inputs)
    if isinstance(layer, M.Subtract):
        if len(xs) != 2:
            raise OnnxExportError(f"layer '{layer.name}' (Subtract) needs exactly 2 inputs, got {len(xs)}")
        y = g.op("Sub", xs[0], xs[1], name=layer.name)
    else:
        y = xs[0]
        for x in xs[1:]:
            y = g.op("Add", y, x, name=layer.name)
        if isinstance(layer, M.Average):
            y = g.op("Div", y, g.const(np.float32(len(xs))))
    _merge_out_mask(g, inputs, masks, y)
    return [y]


@register_onnx_converter(M.Maximum, M.Minimum)
def _max_min(g, layer, node, inputs):
    masks = _masks(g, inputs)
    xs, shapes = _align_ranks(g, layer, node, inputs)
    op = "Max" if isinstance(layer, M.Maximum) else "Min"
    rank = max(len(s) for s in shapes) if all(s is not None for s in shapes) else None
    if all(m is None for m in masks) or rank is None:
        y = xs[0]
        for x in xs[1:]:
            y = g.op(op, y, x, name=layer.name)
    else:  # Keras's masked merge: masked-out values never win
        y, ymask = None, None
        for x, m in zip(xs, masks):
            em = _expand_mask(g, m, rank) if m is not None else None
            if y is None:
                y, ymask = x, em
                continue
            if em is not None:
                x = g.op("Where", em, x, y)
            if ymask is not None:
                y = g.op("Where", ymask, y, x)
            ymask = g.op("Or", ymask, em) if (em is not None and ymask is not None) else None
            y = g.op(op, y, x, name=layer.name)
    _merge_out_mask(g, inputs, masks, y)
    return [y]


@register_onnx_converter(M.Multiply)
def _multiply(g, layer, node, inputs):
    masks = _masks(g, inputs)
    xs, shapes = _align_ranks(g, layer, node, inputs)
    rank = max(len(s) for s in shapes) if all(s is not None for s in shapes) else None
    has_out_mask = all(m is not None for m in masks) and rank is not None
    y = out_mask = None
    for x, m in zip(xs, masks):
        if m is not None and rank is not None:
            em = _expand_mask(g, m, rank)
            x = g.op("Where", em, x, g.const(np.float32(1)))
            if has_out_mask:
                out_mask = em if out_mask is None else g.op("Or", out_mask, em)
        y = x if y is None else g.op("Mul", y, x, name=layer.name)
    if has_out_mask:
        y = g.op("Where", out_mask, y, g.const(np.float32(0)))
    _merge_out_mask(g, inputs, masks, y)
    return [y]


@register_onnx_converter(M.Concatenate)
def _concatenate(g, layer, node, inputs):
    shapes = [in_shape(g, node, inputs, i) for i in range(len(inputs))]
    y = g.op("Concat", *inputs, axis=int(layer.axis), name=layer.name)
    masks = _masks(g, inputs)
    if any(m is not None for m in masks) and all(s is not None for s in shapes):
        rank = len(shapes[0])
        axis = layer.axis % rank
        mrank = _mask_rank(g, next(m for m in masks if m is not None))
        if axis >= mrank:  # concatenating features: a missing mask is all-True, so it wins the OR
            if all(m is not None for m in masks):
                _merge_out_mask(g, inputs, masks, y)
        else:  # concatenating along a masked axis (time): concatenate the masks, all-True where missing
            full = []
            for x, m in zip(inputs, masks):
                if m is None:
                    shp = g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([mrank]))
                    m = g.op("Expand", g.const(np.array(True)), shp)
                full.append(m)
            cm = g.op("Concat", *full, axis=axis)
            g.masks[y] = cm
            g.dtypes[cm] = np.dtype(bool)
            g.shapes[cm] = tuple(shapes[0][:mrank])
    return [y]


def _l2_normalize(g, x, axis, eps=1e-7):
    ss = g.reduce("ReduceSum", g.op("Mul", x, x), [axis], keepdims=True)
    return g.op("Div", x, g.op("Sqrt", g.op("Max", ss, g.const(np.float32(eps * eps)))))


@register_onnx_converter(M.Dot)
def _dot(g, layer, node, inputs):
    s1, s2 = (_need_shape(g, layer, node, inputs, i) for i in range(2))
    a0, a1 = layer._resolve_axes((len(s1), len(s2)))
    x, y = inputs
    if layer.normalize:
        x, y = _l2_normalize(g, x, a0), _l2_normalize(g, y, a1)
    xs, ys = list(s1), list(s2)
    if len(xs) == 2:
        x = g.unsqueeze(x, [1])
        xs.insert(1, 1)
        a0 += 1
    if len(ys) == 2:
        y = g.unsqueeze(y, [2])
        ys.append(1)
    if a0 != len(xs) - 1:
        perm = [i for i in range(len(xs)) if i != a0] + [a0]
        x = g.op("Transpose", x, perm=perm)
        xs = [xs[i] for i in perm]
    if a1 != 1:
        perm = [0, a1] + [i for i in range(1, len(ys)) if i != a1]
        y = g.op("Transpose", y, perm=perm)
        ys = [ys[i] for i in perm]
    k = xs[-1]
    x_mid, y_trail = xs[1:-1], ys[2:]
    if k is None:
        raise OnnxExportError(f"layer '{layer.name}' (Dot): the contracted axis size must be known")
    if len(x_mid) != 1:
        x = g.op("Reshape", x, g.ints([0, -1, k]))
    if len(y_trail) != 1:
        y = g.op("Reshape", y, g.ints([0, k, -1]))
    out = g.op("MatMul", x, y, name=layer.name)
    dims = list(x_mid) + list(y_trail)
    if len(x_mid) != 1 or len(y_trail) != 1:
        if sum(d is None for d in dims) > 1:
            raise OnnxExportError(f"layer '{layer.name}' (Dot): more than one unknown dimension in {dims}")
        out = g.op("Reshape", out, g.ints([0] + [-1 if d is None else int(d) for d in dims]))
    if len(s1) == 2:
        out = g.squeeze(out, [1])
    elif len(s2) == 2:
        out = g.squeeze(out, [-1])
    return [out]


# =========================================================================== reshaping
@register_onnx_converter(RS.ZeroPadding1D, RS.ZeroPadding2D, RS3.ZeroPadding3D)
def _zero_padding(g, layer, node, inputs):
    if isinstance(layer, RS.ZeroPadding1D):
        before, after = [0, layer.padding[0], 0], [0, layer.padding[1], 0]
    elif isinstance(layer, RS3.ZeroPadding3D):
        before = [0] + [int(p[0]) for p in layer.padding] + [0]
        after = [0] + [int(p[1]) for p in layer.padding] + [0]
    else:
        (t, b), (l, r) = layer.padding
        before, after = [0, t, l, 0], [0, b, r, 0]
    return [g.op("Pad", inputs[0], g.ints(before + after, "pads"), mode="constant", name=layer.name)]


@register_onnx_converter(RS.Cropping1D, RS.Cropping2D, RS3.Cropping3D)
def _cropping(g, layer, node, inputs):
    crops = [layer.cropping] if isinstance(layer, RS.Cropping1D) else list(layer.cropping)
    starts = [int(a) for a, _ in crops]
    ends = [-int(b) if b else _INT64_MAX for _, b in crops]
    axes = list(range(1, len(crops) + 1))
    return [g.op("Slice", inputs[0], g.ints(starts), g.ints(ends), g.ints(axes), name=layer.name)]


def _interp_matrix(kind, n, factor_or_out, upsampling=False):
    """(out, n) matrix of a 1-D resampling exactly as the op computes it."""
    if upsampling:
        return RS._bilinear_matrix(n, factor_or_out, np.float32)
    from ..ops import image as IM

    out = factor_or_out
    idx, w = IM._TAPS[kind](n, out)
    m = np.zeros((out, n), np.float64)
    np.add.at(m, (np.repeat(np.arange(out), idx.shape[1]), idx.reshape(-1)), w.reshape(-1).astype(np.float64))
    return m.astype(np.float32)


def _separable_resample(g, x, ah, aw):
    """NHWC ``x`` resampled by (Ho, H) ``ah`` and (Wo, W) ``aw`` as two MatMuls in NCHW."""
    y = to_channels_first(g, x, 2)                                     # (N, C, H, W)
    y = g.op("MatMul", g.const(ah, "resize_rows"), y)                  # (N, C, Ho, W)
    y = g.op("MatMul", y, g.const(np.ascontiguousarray(aw.T), "resize_cols"))  # (N, C, Ho, Wo)
    return to_channels_last(g, y, 2)


@register_onnx_converter(RS3.UpSampling3D)
def _upsampling3d(g, layer, node, inputs):
    fd, fh, fw = layer.size
    y = g.unsqueeze(inputs[0], [2, 4, 6])                              # (N, D, 1, H, 1, W, 1, C)
    y = g.op("Expand", y, g.ints([1, 1, fd, 1, fh, 1, fw, 1]))
    out_shape = g.op("Mul", g.op("Shape", inputs[0]), g.ints([1, fd, fh, fw, 1]))
    return [g.op("Reshape", y, out_shape, name=layer.name)]


@register_onnx_converter(RS.UpSampling1D)
def _upsampling1d(g, layer, node, inputs):
    y = g.unsqueeze(inputs[0], [2])                                    # (N, L, 1, C)
    y = g.op("Expand", y, g.ints([1, 1, layer.size, 1]))
    out_shape = g.op("Mul", g.op("Shape", inputs[0]), g.ints([1, layer.size, 1]))
    return [g.op("Reshape", y, out_shape, name=layer.name)]


@register_onnx_converter(RS.UpSampling2D)
def _upsampling2d(g, layer, node, inputs):
    fh, fw = layer.size
    shape = in_shape(g, node, inputs)
    x = inputs[0]
    if layer.interpolation == "nearest":
        y = g.unsqueeze(x, [2, 4])                                     # (N, H, 1, W, 1, C)
        y = g.op("Expand", y, g.ints([1, 1, fh, 1, fw, 1]))
        out_shape = g.op("Mul", g.op("Shape", x), g.ints([1, fh, fw, 1]))
        return [g.op("Reshape", y, out_shape, name=layer.name)]
    if shape is not None and shape[1] is not None and shape[2] is not None:
        ah = RS._bilinear_matrix(shape[1], fh, np.float32)
        aw = RS._bilinear_matrix(shape[2], fw, np.float32)
        return [_separable_resample(g, x, ah, aw)]
    scales = g.const(np.array([1, 1, fh, fw], np.float32), "scales")
    y = g.op("Resize", to_channels_first(g, x, 2), "", scales, mode="linear",
             coordinate_transformation_mode="half_pixel", name=layer.name)
    return [to_channels_last(g, y, 2)]


@register_onnx_converter(PP.Resizing)
def _resizing(g, layer, node, inputs):
    from ..ops import image as IM

    shape = _need_shape(g, layer, node, inputs)
    x = inputs[0]
    if layer.data_format != "channels_last" or len(shape) != 4:
        raise OnnxExportError(f"layer '{layer.name}' (Resizing): only batched channels-last images export, got "
                              f"data_format={layer.data_format!r} and input shape {shape}")
    in_dtype = g.dtypes.get(x)
    is_int = in_dtype is not None and np.dtype(in_dtype).kind in "iub"
    x = _float_input(g, x)
    th, tw = layer.height, layer.width
    h, w = shape[1], shape[2]
    if h is not None and w is not None:
        if layer.crop_to_aspect_ratio:
            hs, ws, ch, cw = IM._aspect_crop_box(h, w, th, tw)
            if (ch, cw) != (h, w):
                x = g.op("Slice", x, g.ints([hs, ws]), g.ints([hs + ch, ws + cw]), g.ints([1, 2]))
                h, w = ch, cw
        elif layer.pad_to_aspect_ratio:
            ph = max(h, int(np.float32(w * th) / np.float32(tw)))
            pw = max(w, int(np.float32(h * tw) / np.float32(th)))
            hs, ws = int(np.float32(ph - h) / np.float32(2)), int(np.float32(pw - w) / np.float32(2))
            if hs > 0 or ws > 0:
                x = g.op("Pad", x, g.ints([0, hs, ws, 0, 0, hs, ws, 0], "pads"),
                         g.const(np.float32(layer.fill_value)), mode="constant")
                h, w = h + 2 * hs, w + 2 * ws
        y = _separable_resample(g, x, _interp_matrix(layer.interpolation, h, th),
                                _interp_matrix(layer.interpolation, w, tw))
    else:
        if layer.crop_to_aspect_ratio or layer.pad_to_aspect_ratio or layer.interpolation not in ("bilinear",
                                                                                                 "nearest"):
            raise OnnxExportError(f"layer '{layer.name}' (Resizing, interpolation={layer.interpolation!r}, "
                                  f"crop/pad to aspect ratio): exports only for a fixed input image size; the "
                                  f"model's input has height/width {h}/{w}")
        sizes = g.op("Concat", g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([1])), g.ints([th, tw]),
                     g.op("Slice", g.op("Shape", x), g.ints([3]), g.ints([4])), axis=0)
        if layer.interpolation == "bilinear":
            attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
        else:  # TF: floor((o + 0.5) * in / out)
            attrs = dict(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="floor")
        y = g.op("Resize", x, "", "", sizes, **attrs)
    if is_int:
        y = g.op("Round", y)
        if np.dtype(in_dtype).kind != "b":
            info = np.iinfo(in_dtype)
            y = g.op("Clip", y, g.const(np.float32(info.min)), g.const(np.float32(info.max)))
        y = g.op("Cast", y, to=_tp(in_dtype))
    return [y]


@register_onnx_converter(PP.RandomFlip, PP.RandomRotation, PP.RandomCrop, IA.RandomTranslation, IA.RandomZoom,
                         IA.RandomContrast, IA.RandomBrightness, IM.RandomErasing, IM.MixUp, IM.CutMix)
def _augmentation(g, layer, node, inputs):
    """Augmentations do nothing at inference (RandomFlip/RandomRotation cast to float)."""
    x = inputs[0]
    if not isinstance(layer, PP.RandomCrop):
        x = _float_input(g, x, layer.compute_dtype)
    return [g.op("Identity", x, name=layer.name)]


@register_onnx_converter(IA.CenterCrop)
def _center_crop(g, layer, node, inputs):
    shape = _need_shape(g, layer, node, inputs)
    ha, wa = (len(shape) + layer.height_axis, len(shape) + layer.width_axis)
    h, w = shape[ha], shape[wa]
    if h is None or w is None:
        raise OnnxExportError(f"layer '{layer.name}' (CenterCrop): the image size must be known to export the crop; "
                              f"give the model a fixed image size (input shape {shape})")
    if h < layer.height or w < layer.width:
        raise OnnxExportError(f"layer '{layer.name}' (CenterCrop): images of {h}x{w} are smaller than the crop "
                              f"{layer.height}x{layer.width} (a resize, not a crop); not exported")
    top, left = (h - layer.height) // 2, (w - layer.width) // 2
    x = _float_input(g, inputs[0], layer.compute_dtype)
    return [g.op("Slice", x, g.ints([top, left]), g.ints([top + layer.height, left + layer.width]), g.ints([ha, wa]),
                 name=layer.name)]


@register_onnx_converter(PP.Rescaling)
def _rescaling(g, layer, node, inputs):
    dt = np.dtype(layer.compute_dtype)
    x = _float_input(g, inputs[0], dt)
    y = g.op("Mul", x, g.const(np.asarray(layer.scale, dtype=dt), f"{layer.name}/scale"), name=layer.name)
    offset = np.asarray(layer.offset, dtype=dt)
    if offset.size != 1 or float(offset.reshape(-1)[0]) != 0.0:
        y = g.op("Add", y, g.const(offset, f"{layer.name}/offset"))
    return [y]


@register_onnx_converter(PP.Normalization)
def _normalization(g, layer, node, inputs):
    dt = np.dtype(layer.compute_dtype)
    x = _float_input(g, inputs[0], dt)
    mean, var = (np.asarray(a).astype(dt) for a in layer._stats(np))
    denom = np.maximum(np.sqrt(var), dt.type(PP._KERAS_EPSILON))
    m, d = g.const(mean, f"{layer.name}/mean"), g.const(denom, f"{layer.name}/std")
    if layer.invert:
        return [g.op("Add", m, g.op("Mul", x, d), name=layer.name)]
    return [g.op("Div", g.op("Sub", x, m), d, name=layer.name)]


# =========================================================================== wrappers
@register_onnx_converter(W.TimeDistributed)
def _time_distributed(g, layer, node, inputs):
    shape = _need_shape(g, layer, node, inputs)
    x = inputs[0]
    rest = list(shape[2:])
    if sum(d is None for d in rest) > 0:
        tail = g.op("Slice", g.op("Shape", x), g.ints([2]), g.ints([_INT64_MAX]))
        flat_shape = g.op("Concat", g.ints([-1]), tail, axis=0)
    else:
        flat_shape = g.ints([-1] + [int(d) for d in rest])
    flat = g.op("Reshape", x, flat_shape)
    g.shapes[flat] = (None,) + tuple(rest)
    if x in g.dtypes:
        g.dtypes[flat] = g.dtypes[x]
    mask = g.masks.get(x)
    outs = g.convert_call(layer.layer, None, [flat])
    if len(outs) != 1:
        raise OnnxExportError(f"layer '{layer.name}' (TimeDistributed): the wrapped layer must have one output")
    y = outs[0]
    nt = g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([2]))
    ytail = g.op("Slice", g.op("Shape", y), g.ints([1]), g.ints([_INT64_MAX]))
    out = g.op("Reshape", y, g.op("Concat", nt, ytail, axis=0), name=layer.name)
    if mask is not None:
        g.masks[out] = mask
    return [out]


# =========================================================================== catalogue layers (issue 22)
@register_onnx_converter(Masking)
def _masking(g, layer, node, inputs):
    """Output zeroed where every feature equals ``mask_value``; the (batch, ...) bool mask travels on."""
    x = inputs[0]
    differs = g.op("Not", g.op("Equal", x, g.const(np.float32(layer.mask_value))))
    keep = g.op("Cast", g.reduce("ReduceMax", g.op("Cast", differs, to=_tp("float32")), [-1], keepdims=True),
                to=_tp("bool"))
    out = g.op("Where", keep, x, g.const(np.float32(0)), name=layer.name)
    g.masks[out] = g.squeeze(keep, [-1])
    return [out]


@register_onnx_converter(PReLU)
def _prelu(g, layer, node, inputs):
    return [g.op("PRelu", inputs[0], g.weight(layer.alpha, f"{layer.name}/alpha"), name=layer.name)]


def _known_reshape(g, layer, dims):
    """A Reshape target for ``dims`` (batch first, kept by 0): at most one other unknown size (-1)."""
    rest = list(dims[1:])
    if sum(d is None for d in rest) > 1:
        raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}): more than one unknown dimension in "
                              f"{tuple(dims)}; give the model fixed sizes")
    return g.ints([0] + [-1 if d is None else int(d) for d in rest])


@register_onnx_converter(GroupNormalization)
def _group_norm(g, layer, node, inputs):
    x = inputs[0]
    shape = _need_shape(g, layer, node, inputs)
    ndim = len(shape)
    ax = layer.axis % ndim
    c, groups = layer._channels, layer.groups
    gshape = list(shape[:ax]) + [groups, c // groups] + list(shape[ax + 1:])
    xg = g.op("Reshape", x, _known_reshape(g, layer, gshape))
    axes = [i for i in range(1, ndim + 1) if i != ax]
    mean = g.reduce("ReduceMean", xg, axes, keepdims=True)
    d = g.op("Sub", xg, mean)
    var = g.reduce("ReduceMean", g.op("Mul", d, d), axes, keepdims=True)
    y = g.op("Div", d, g.op("Sqrt", g.op("Add", var, g.const(np.float32(layer.epsilon)))))
    bshape = [1] * (ndim + 1)
    bshape[ax], bshape[ax + 1] = groups, c // groups
    if layer.gamma is not None:
        y = g.op("Mul", y, g.const(_arr(layer.gamma).reshape(bshape), f"{layer.name}/gamma"))
    if layer.beta is not None:
        y = g.op("Add", y, g.const(_arr(layer.beta).reshape(bshape), f"{layer.name}/beta"))
    return [g.op("Reshape", y, _known_reshape(g, layer, shape), name=layer.name)]


@register_onnx_converter(UnitNormalization)
def _unit_norm(g, layer, node, inputs):
    x = inputs[0]
    ndim = len(_need_shape(g, layer, node, inputs))
    axes = [a % ndim for a in (layer.axis if isinstance(layer.axis, list) else [layer.axis])]
    norm = g.op("Sqrt", g.reduce("ReduceSum", g.op("Mul", x, x), axes, keepdims=True))
    return [g.op("Div", x, g.op("Max", norm, g.const(np.float32(1e-12))), name=layer.name)]


@register_onnx_converter(RMSNormalization)
def _rms_norm(g, layer, node, inputs):
    x = inputs[0]
    axes = list(layer._axes)
    ms = g.reduce("ReduceMean", g.op("Mul", x, x), axes, keepdims=True)
    y = g.op("Div", x, g.op("Sqrt", g.op("Add", ms, g.const(np.float32(layer.epsilon)))))
    bshape = [1] * layer._ndim
    for a, n in zip(axes, layer.scale.shape):
        bshape[a] = int(n)
    return [g.op("Mul", y, g.const(_arr(layer.scale).reshape(bshape), f"{layer.name}/scale"), name=layer.name)]


@register_onnx_converter(Attention, AdditiveAttention)
def _sequence_attention(g, layer, node, inputs):
    """Inference attention (no dropout): scores, value/causal masking with Keras's ``- 1e9``,
    softmax over the value steps, weighted sum; zero outputs at masked query steps."""
    kwargs = node.kwargs if node is not None else {}
    q, v = inputs[0], inputs[1]
    k = inputs[2] if len(inputs) > 2 else v
    name = layer.name
    if isinstance(layer, AdditiveAttention) or layer.score_mode == "concat":
        t = g.op("Add", g.unsqueeze(q, [2]), g.unsqueeze(k, [1]))  # (B, Tq, Tv, D)
        if isinstance(layer, AdditiveAttention):
            t = g.op("Tanh", t)
            if layer.scale is not None:
                t = g.op("Mul", t, g.weight(layer.scale, f"{name}/scale"))
            s = g.reduce("ReduceSum", t, [-1], keepdims=False)
        else:
            if layer.scale is not None:
                t = g.op("Mul", t, g.weight(layer.scale, f"{name}/scale"))
            s = g.reduce("ReduceSum", g.op("Tanh", t), [-1], keepdims=False)
            s = g.op("Mul", s, g.weight(layer.concat_score_weight, f"{name}/concat_score_weight"))
    else:
        s = g.op("MatMul", q, g.op("Transpose", k, perm=[0, 2, 1]))
        if layer.scale is not None:
            s = g.op("Mul", s, g.weight(layer.scale, f"{name}/scale"))
    keep = None
    v_mask = g.masks.get(v)
    if v_mask is not None:
        keep = g.unsqueeze(v_mask, [1])
    if kwargs.get("use_causal_mask"):
        ones = g.op("ConstantOfShape", g.op("Shape", s), value=np.array([1.0], np.float32))
        causal = g.op("Cast", g.op("Trilu", ones, upper=0), to=_tp("bool"))
        keep = causal if keep is None else g.op("And", keep, causal)
    if keep is not None:
        s = g.op("Where", keep, s, g.op("Sub", s, g.const(np.float32(1e9))))
    w = g.op("Softmax", s, axis=-1, name=f"{name}_softmax")
    out = g.op("MatMul", w, v, name=name)
    q_mask = g.masks.get(q)
    if q_mask is not None:
        out = g.op("Where", g.unsqueeze(q_mask, [2]), out, g.const(np.float32(0)))
        g.masks[out] = q_mask
    return [out, w] if kwargs.get("return_attention_scores") else [out]


def _encode(g, layer, idx, output_mode, depth, dtype, rank):
    """ONNX of ``encode_categorical`` for int64 ids ``idx`` of rank 1 (one id per sample) or 2."""
    if output_mode == "int":
        return g.op("Cast", idx, to=_tp(dtype), name=layer.name)
    if output_mode == "one_hot":
        hot = g.op("OneHot", idx, g.const(np.array(depth, np.int64)), g.const(np.array([0, 1], np.float32)), axis=-1)
        return g.op("Cast", hot, to=_tp(dtype), name=layer.name)
    if rank != 2:
        raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}): output_mode={output_mode!r} is exported "
                              f"for (batch, ids) inputs only")
    hot = g.op("OneHot", idx, g.const(np.array(depth, np.int64)), g.const(np.array([0, 1], np.float32)), axis=-1)
    red = g.reduce("ReduceMax" if output_mode == "multi_hot" else "ReduceSum", hot, [1], keepdims=False)
    return g.op("Cast", red, to=_tp(dtype), name=layer.name)


@register_onnx_converter(CE.CategoryEncoding)
def _category_encoding(g, layer, node, inputs):
    if node is not None and len(node.input_tensors) > 1:
        raise OnnxExportError(f"layer '{layer.name}' (CategoryEncoding): count_weights are not exported")
    shape = _need_shape(g, layer, node, inputs)
    idx = g.op("Cast", inputs[0], to=_tp("int64"))
    rank = len(shape)
    if layer.output_mode == "one_hot" and rank == 2 and shape[-1] == 1:
        idx, rank = g.squeeze(idx, [1]), 1
    return [_encode(g, layer, idx, layer.output_mode, layer.num_tokens, layer.compute_dtype, rank)]


@register_onnx_converter(Discretization)
def _discretization(g, layer, node, inputs):
    if layer.bin_boundaries is None:
        raise OnnxExportError(f"layer '{layer.name}' (Discretization): adapt it (or give bin_boundaries) first")
    shape = _need_shape(g, layer, node, inputs)
    x = _float_input(g, inputs[0])
    bounds = g.const(np.asarray(layer.bin_boundaries, np.float32), f"{layer.name}/bin_boundaries")
    ge = g.op("Cast", g.op("GreaterOrEqual", g.unsqueeze(x, [len(shape)]), bounds), to=_tp("int64"))
    idx = g.reduce("ReduceSum", ge, [len(shape)], keepdims=False)
    depth = len(layer.bin_boundaries) + 1
    dtype = "int32" if layer.output_mode == "int" else layer.compute_dtype
    rank = len(shape)
    if layer.output_mode == "one_hot" and rank == 2 and shape[-1] == 1:
        idx, rank = g.squeeze(idx, [1]), 1
    return [_encode(g, layer, idx, layer.output_mode, depth, dtype, rank)]


@register_onnx_converter(RNN, StackedRNNCells, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D)
def _python_recurrence(g, layer, node, inputs):
    raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}) steps a Python cell over time, which has no "
                          "ONNX mapping here; LSTM, GRU and SimpleRNN layers export (use them instead of RNN(cell))")


@register_onnx_converter(AP._AdaptivePooling)
def _adaptive_pooling(g, layer, node, inputs):
    raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}): ONNX has no adaptive pooling and its "
                          "windows depend on the input size; not exported (a fixed-size model can use "
                          "AveragePooling/MaxPooling with the equivalent pool_size and strides)")


@register_onnx_converter(W.Wrapper)
def _custom_wrapper(g, layer, node, inputs):
    raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}) is a custom Wrapper whose call() the exporter "
                          "cannot follow; register a converter for it with core.export.register_onnx_converter")


@register_onnx_converter(IndexLookup, TextVectorization, Hashing)
def _string_preprocessing(g, layer, node, inputs):
    raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}) is string/vocabulary preprocessing with no "
                          "ONNX mapping here; export the model after it and run the layer in the input pipeline")


__all__ = ["apply_activation", "in_shape", "to_channels_first", "to_channels_last"]


# symbolic ops recorded in a Functional graph (``inputs + x`` in ConvNeXt's blocks, as Keras builds
# them): the elementwise binaries of two operands, tensors or numbers
_BINARY_OPS = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div", "TrueDivide": "Div",
               "Maximum": "Max", "Minimum": "Min"}


@register_onnx_converter(FunctionOperation)
def _function_operation(g, op, node, inputs):
    onnx_op = _BINARY_OPS.get(type(op).__name__)
    args = list(node.args) if node is not None and not node.kwargs else []
    if onnx_op is None or len(args) != 2 or not all(isinstance(a, KerasTensor) or
                                                    isinstance(a, (int, float)) and not isinstance(a, bool)
                                                    for a in args):
        raise OnnxExportError(f"op '{op.name}' ({type(op).__module__}.{type(op).__name__}) in the graph has no ONNX "
                              f"mapping (supported symbolic ops: {', '.join(sorted(_BINARY_OPS))} of two tensors or "
                              "a tensor and a number)")
    dtype = np.dtype(next(a.dtype for a in args if isinstance(a, KerasTensor)))
    names, it = [], iter(inputs)
    for a in args:
        names.append(next(it) if isinstance(a, KerasTensor) else g.const(np.asarray(a, dtype), f"{op.name}/c"))
    return [g.op(onnx_op, names[0], names[1], name=op.name)]
