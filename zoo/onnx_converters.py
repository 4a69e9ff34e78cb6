"""ONNX converters for the zoo's own layers (imported by ``core.export`` on the first export).

Each reproduces its layer's ``call`` in the model's float dtype: ``ShortcutA`` (CIFAR ResNet
option-A shortcut), ``BertEmbeddings``, ``BertLayer`` (post-LN block, exact erf GELU, padding
keys masked with -1e9 logits from the ``attention_mask`` input), ``BertPooler``,
``MaskedMeanPooling``, ``ZeroMasking`` (sets the mask the recurrent layers read),
``SeriesNormalization``, ``SeriesDenormalization``, ``Patching``, ``PositionEmbedding``,
``LayerScale`` (a per-channel Mul), ``StochasticDepth`` (the identity at inference),
``CustomScaleLayer`` (InceptionResNetV2's scaled residual sum).
The zoo's models (``ClassifierModel``, ``BertEncoder``, ``BertTextClassifier``, the
``ts_transformer`` Functional) are Functional graphs and export layer by layer.
"""
from __future__ import annotations

import math

import numpy as np

from core.export.onnx_attention import gelu_exact
from core.export.onnx_graph import OnnxExportError, register_onnx_converter
from core.export.onnx_recurrent import _BOOL, _FLOAT, as_bool, call_arguments, mask_of, reduce, unsqueeze, \
    value_dtype

from .layers import LayerScale, StochasticDepth
from .models.inception_resnet_v2 import CustomScaleLayer
from .models.resnet_cifar import ShortcutA
from .models.text import BertEmbeddings, BertLayer, BertPooler, MaskedMeanPooling, ZeroMasking
from .models.timeseries import Patching, PositionEmbedding, SeriesDenormalization, SeriesNormalization

_BIG = 2 ** 62


def _np(w):
    data = getattr(w, "data", w)
    if hasattr(data, "get"):
        data = data.get()
    return np.asarray(data)


def _scalar(g, value, dtype=np.float32, hint="c"):
    return g.const(np.array(value, dtype=dtype), hint)


def _sub(g, layer, x):
    """Convert a sublayer call (Dense, LayerNormalization...) on value ``x``."""
    return g.convert_call(layer, None, [x])[0]


def _static_dim(g, node, inputs, index, axis):
    """A known size of axis ``axis`` of the call's input ``index``, or None."""
    shape = None
    if hasattr(g, "shape_of"):
        shape = g.shape_of(inputs[index])
    if shape is None and node is not None and index < len(node.input_tensors):
        shape = node.input_tensors[index].shape
    if shape is None:
        return None
    return shape[axis]


# --------------------------------------------------------------------------- CIFAR ResNet
@register_onnx_converter(ShortcutA)
def _shortcut_a(g, layer, node, inputs):
    x = inputs[0]
    s, p = layer.stride, layer.pad
    if s > 1:
        x = g.op("Slice", x, g.ints([0, 0]), g.ints([_BIG, _BIG]), g.ints([1, 2]), g.ints([s, s]),
                 name=f"{layer.name}_stride")
    if p:
        x = g.op("Pad", x, g.ints([0, 0, 0, p, 0, 0, 0, p], "pads"), name=f"{layer.name}_pad")
    elif s == 1:
        x = g.op("Identity", x, name=layer.name)
    return [x]


# --------------------------------------------------------------------------- BERT
@register_onnx_converter(BertEmbeddings)
def _bert_embeddings(g, layer, node, inputs):
    args = call_arguments(layer, node, inputs)
    ids, types = args["input_ids"], args.get("token_type_ids")
    name = layer.name
    x = g.op("Gather", g.weight(layer.word_embeddings.embeddings, f"{name}/word_embeddings"), ids, axis=0,
             name=f"{name}_word")
    steps = g.op("Slice", g.op("Shape", ids), g.ints([1]), g.ints([2]), g.ints([0]))
    pos = g.op("Slice", g.weight(layer.position_embeddings.embeddings, f"{name}/position_embeddings"),
               g.ints([0]), steps, g.ints([0]), name=f"{name}_positions")
    x = g.op("Add", x, pos)
    type_table = _np(layer.token_type_embeddings.embeddings).astype(np.float32)
    if types is None:
        x = g.op("Add", x, g.const(type_table[:1], f"{name}/token_type_0"))
    else:
        x = g.op("Add", x, g.op("Gather", g.const(type_table, f"{name}/token_type_embeddings"), types, axis=0))
    return [_sub(g, layer.layer_norm, x)]


def attention_keep(g, mask, dtype):
    """(B, T) attention mask (1/True = real token) -> bool (B, 1, 1, T) for the logits."""
    return unsqueeze(g, as_bool(g, mask, dtype), [1, 2])


@register_onnx_converter(BertLayer)
def _bert_layer(g, layer, node, inputs):
    args = call_arguments(layer, node, inputs)
    x, mask = args["x"], args.get("attention_mask")
    H = layer.num_heads
    d = layer.query.kernel.shape[0]
    dh = d // H
    name = layer.name

    # as the layer: the sublayers run on (batch * length, d) rows (LayerNormalization is built for
    # rank-2 inputs), the attention on (B, H, T, dh) heads
    bt = g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([2]), g.ints([0]))  # (B, T)
    heads_shape = g.op("Concat", bt, g.ints([H, dh]), axis=0)
    x2 = g.op("Reshape", x, g.ints([-1, d]), name=f"{name}_rows")

    def heads(t, perm):
        return g.op("Transpose", g.op("Reshape", t, heads_shape), perm=perm)

    q = heads(_sub(g, layer.query, x2), [0, 2, 1, 3])  # (B, H, T, dh)
    k = heads(_sub(g, layer.key, x2), [0, 2, 3, 1])  # (B, H, dh, T)
    v = heads(_sub(g, layer.value, x2), [0, 2, 1, 3])
    s = g.op("Mul", g.op("MatMul", q, k, name=f"{name}_logits"), _scalar(g, 1.0 / math.sqrt(dh), hint="scale"))
    if mask is not None:
        keep = attention_keep(g, mask, value_dtype(g, node, inputs, mask))
        s = g.op("Where", keep, s, _scalar(g, -1e9, hint="masked_logit"))
    w = g.op("Softmax", s, axis=-1, name=f"{name}_softmax")
    ctx = g.op("Reshape", g.op("Transpose", g.op("MatMul", w, v), perm=[0, 2, 1, 3]), g.ints([-1, d]))
    a = _sub(g, layer.attention_output, ctx)
    x2 = _sub(g, layer.attention_norm, g.op("Add", x2, a))
    h = gelu_exact(g, _sub(g, layer.intermediate, x2))
    h = _sub(g, layer.output_dense, h)
    out = _sub(g, layer.output_norm, g.op("Add", x2, h))
    return [g.op("Reshape", out, g.op("Concat", bt, g.ints([d]), axis=0), name=name)]


@register_onnx_converter(BertPooler)
def _bert_pooler(g, layer, node, inputs):
    cls = g.op("Gather", inputs[0], g.const(np.array(0, np.int64), "zero_i64"), axis=1, name=f"{layer.name}_cls")
    return [_sub(g, layer.dense, cls)]


@register_onnx_converter(MaskedMeanPooling)
def _masked_mean_pooling(g, layer, node, inputs):
    args = call_arguments(layer, node, inputs)
    x, mask = args["x"], args.get("mask")
    if mask is None:
        mask = mask_of(g, x)
    if mask is None:
        return [reduce(g, "ReduceMean", x, [1], keepdims=False)]
    m = unsqueeze(g, g.op("Cast", mask, to=_FLOAT), [2])  # (B, T, 1)
    total = reduce(g, "ReduceSum", g.op("Mul", x, m), [1], keepdims=False)
    count = g.op("Max", reduce(g, "ReduceSum", m, [1], keepdims=False), _scalar(g, 1e-9, hint="tiny"))
    return [g.op("Div", total, count, name=layer.name)]


@register_onnx_converter(ZeroMasking)
def _zero_masking(g, layer, node, inputs):
    x = inputs[0]
    differs = g.op("Cast", g.op("Not", g.op("Equal", x, _scalar(g, layer.mask_value, hint="mask_value"))), to=_FLOAT)
    keep = g.op("Cast", reduce(g, "ReduceMax", differs, [-1], keepdims=False), to=_BOOL, name=f"{layer.name}_mask")
    out = g.op("Mul", x, unsqueeze(g, g.op("Cast", keep, to=_FLOAT), [2]), name=layer.name)
    g.masks[out] = keep
    return [out]


# --------------------------------------------------------------------------- time series
@register_onnx_converter(SeriesNormalization)
def _series_normalization(g, layer, node, inputs):
    x = inputs[0]
    mean = reduce(g, "ReduceMean", x, [1], keepdims=True)
    centred = g.op("Sub", x, mean)
    var = reduce(g, "ReduceMean", g.op("Mul", centred, centred), [1], keepdims=True)
    std = g.op("Sqrt", g.op("Add", var, _scalar(g, layer.epsilon, hint="epsilon")))
    return [g.op("Div", centred, std, name=layer.name), mean, std]


@register_onnx_converter(SeriesDenormalization)
def _series_denormalization(g, layer, node, inputs):
    y, mean, std = inputs[:3]
    k = _static_dim(g, node, inputs, 0, -1)
    if k is None:  # the forecast's feature count at run time
        k_end = g.op("Slice", g.op("Shape", y), g.ints([-1]), g.ints([_BIG]), g.ints([0]))
    else:
        k_end = g.ints([k])
    zero, axis = g.ints([0]), g.ints([2])
    std_k = g.op("Slice", std, zero, k_end, axis)
    mean_k = g.op("Slice", mean, zero, k_end, axis)
    return [g.op("Add", g.op("Mul", y, std_k), mean_k, name=layer.name)]


@register_onnx_converter(Patching)
def _patching(g, layer, node, inputs):
    f = _static_dim(g, node, inputs, 0, -1)
    if f is None:
        shapes = layer._build_shapes
        f = shapes[-1] if isinstance(shapes, tuple) and shapes else None
    if f is None:
        raise OnnxExportError(f"Patching '{layer.name}': the feature count of its input must be known")
    return [g.op("Reshape", inputs[0], g.ints([0, -1, layer.patch_len * int(f)]), name=layer.name)]


@register_onnx_converter(PositionEmbedding)
def _position_embedding(g, layer, node, inputs):
    return [g.op("Add", inputs[0], g.weight(layer.embeddings, f"{layer.name}/embeddings"), name=layer.name)]


__all__ = ["attention_keep"]


# --------------------------------------------------------------------------- ConvNeXt layers
@register_onnx_converter(LayerScale)
def _layer_scale(g, layer, node, inputs):
    gamma = _np(layer.gamma).astype(np.dtype(layer.compute_dtype))
    return [g.op("Mul", inputs[0], g.const(gamma, f"{layer.name}/gamma"), name=layer.name)]


@register_onnx_converter(StochasticDepth)
def _stochastic_depth(g, layer, node, inputs):
    return [g.op("Identity", inputs[0], name=layer.name)]


# --------------------------------------------------------------------------- InceptionResNetV2
@register_onnx_converter(CustomScaleLayer)
def _custom_scale(g, layer, node, inputs):
    x, residual = inputs[:2]
    dtype = value_dtype(g, node, inputs, x) or np.dtype(np.float32)
    scaled = g.op("Mul", residual, g.const(np.array(layer.scale, dtype=dtype), f"{layer.name}_scale"))
    return [g.op("Add", x, scaled, name=layer.name)]
