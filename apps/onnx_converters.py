"""ONNX converters for the apps' own layers (imported by ``core.export`` on the first export):
``PaddingMask`` of ``zoo text``, and ``WindowNormalization``, ``WindowDenormalization``,
``SeriesDecomposition``, ``PositionEmbedding`` of ``zoo forecast``. Each reproduces the layer's
``call``; the models the apps build are Functional graphs of these and core layers."""
from __future__ import annotations

import numpy as np

from core.export.onnx_graph import OnnxExportError, register_onnx_converter
from core.export.onnx_recurrent import _INT64, reduce, slice_axis, value_dtype

from .forecasting.models import (PositionEmbedding, SeriesDecomposition, WindowDenormalization, WindowNormalization,
                                 moving_average_matrix)
from .text_models import PaddingMask

_BIG = 2 ** 62


def _static_shape(g, node, inputs, index):
    shape = g.shape_of(inputs[index]) if hasattr(g, "shape_of") else None
    if shape is None and node is not None and index < len(node.input_tensors):
        shape = node.input_tensors[index].shape
    return shape


@register_onnx_converter(PaddingMask)
def _padding_mask(g, layer, node, inputs):
    ids = inputs[0]
    dtype = value_dtype(g, node, inputs, ids) or np.dtype("int64")
    pad = g.const(np.array(layer.pad_id, dtype=dtype), "pad_id")
    return [g.op("Cast", g.op("Not", g.op("Equal", ids, pad)), to=_INT64, name=layer.name)]


def _window_stats(g, x, mode, eps=1e-5):
    """(loc, scale) (batch, 1, 1) of channel 0 of ``x``, or (loc, None) for a unit scale."""
    x0 = slice_axis(g, x, 0, 1, 2)
    if mode == "revin":
        loc = reduce(g, "ReduceMean", x0, [1], keepdims=True)
        c = g.op("Sub", x0, loc)
        var = reduce(g, "ReduceMean", g.op("Mul", c, c), [1], keepdims=True)
        scale = g.op("Sqrt", g.op("Add", var, g.const(np.array(eps, np.float32), "revin_eps")))
        return x0, loc, scale
    if mode == "last":
        return x0, slice_axis(g, x0, -1, _BIG, 1), None
    return x0, None, None


@register_onnx_converter(WindowNormalization)
def _window_normalization(g, layer, node, inputs):
    x = inputs[0]
    if layer.mode == "none":
        return [g.op("Identity", x, name=layer.name)]
    x0, loc, scale = _window_stats(g, x, layer.mode)
    y0 = g.op("Sub", x0, loc)
    if scale is not None:
        y0 = g.op("Div", y0, scale)
    shape = _static_shape(g, node, inputs, 0)
    if shape is not None and shape[-1] == 1:
        return [g.op("Identity", y0, name=layer.name)]
    return [g.op("Concat", y0, slice_axis(g, x, 1, _BIG, 2), axis=2, name=layer.name)]


@register_onnx_converter(WindowDenormalization)
def _window_denormalization(g, layer, node, inputs):
    y, x = inputs[:2]
    if layer.mode == "none":
        return [g.op("Identity", y, name=layer.name)]
    _, loc, scale = _window_stats(g, x, layer.mode)
    axis = g.ints([1], "axes")
    out = y if scale is None else g.op("Mul", y, g.op("Squeeze", scale, axis))
    return [g.op("Add", out, g.op("Squeeze", loc, axis), name=layer.name)]


@register_onnx_converter(SeriesDecomposition)
def _series_decomposition(g, layer, node, inputs):
    shape = _static_shape(g, node, inputs, 0)
    if shape is None or shape[1] is None:
        raise OnnxExportError(f"SeriesDecomposition '{layer.name}': the window length must be known to export "
                              f"its moving-average matrix, got input shape {shape}")
    length = int(shape[1])
    m = moving_average_matrix(length, layer.kernel_size).astype(np.float32)
    # trend[b, t, c] = sum_j M[t, j] x[b, j, c]
    return [g.op("MatMul", g.const(m, f"{layer.name}/moving_average"), inputs[0], name=layer.name)]


@register_onnx_converter(PositionEmbedding)
def _position_embedding(g, layer, node, inputs):
    return [g.op("Add", inputs[0], g.weight(layer.embeddings, f"{layer.name}/embeddings"), name=layer.name)]
