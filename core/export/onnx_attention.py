"""ONNX converter for ``MultiHeadAttention`` (decomposed into MatMul,
Reshape, Transpose, Where and Softmax; no contrib ops, so any ONNX runtime runs it).

``MultiHeadAttention`` follows the layer exactly: projections (d, heads, head_dim) as one MatMul
each, logits ``q k^T / sqrt(key_dim)``, masked logits set to -1e9 (a query whose keys are all
masked attends uniformly on the layer's fused path, and outputs zeros where the layer masks such
rows: with dropout > 0, ``return_attention_scores`` or rank > 3 inputs), softmax, the weighted
values, the optional gate and the output projection. Masks: the Keras masks of query/value/key,
``query_mask``/``value_mask``/``key_mask``, ``attention_mask``, ``use_causal_mask`` and
``sliding_window``, and-ed as the layer does.
"""
from __future__ import annotations

import math

import numpy as np

from ..layers.attention import MultiHeadAttention
from .onnx_graph import OnnxExportError, register_onnx_converter
from .onnx_layers import apply_activation
from .onnx_recurrent import _FLOAT, as_bool, call_arguments, mask_of, reduce, unsqueeze, value_dtype

_MASKED = -1e9  # the logit of a masked key, as core.ops.scaled_dot_product_attention


def _np(w):
    data = getattr(w, "data", w)
    if hasattr(data, "get"):
        data = data.get()
    return np.asarray(data, dtype=np.float32)


def gelu_exact(g, x):
    """``x * 0.5 * (1 + erf(x / sqrt(2)))`` (the erf GELU of BERT and Keras ``gelu``)."""
    e = g.op("Erf", g.op("Mul", x, g.const(np.array(1.0 / math.sqrt(2.0), np.float32), "inv_sqrt2")))
    half = g.op("Mul", x, g.const(np.array(0.5, np.float32), "half"))
    return g.op("Mul", half, g.op("Add", e, g.const(np.array(1.0, np.float32), "one")))


def dense_projection(g, layer, x, name=None):
    """An ``EinsumDense`` of the dense form applied to value ``x``: the contracted trailing axes
    flattened, one MatMul, the new axes restored, the bias and the activation."""
    k = len(layer._contracted)
    kernel = _np(layer.kernel)
    cdims, new = kernel.shape[:k], kernel.shape[k:]
    c, n = int(np.prod(cdims)), int(np.prod(new)) if new else 1
    name = name or layer.name
    lead = len(layer.full_output_shape) - len(new) if layer.full_output_shape is not None else None
    if lead is None:
        raise OnnxExportError(f"EinsumDense '{layer.name}' is not built")
    y = x
    if k != 1:
        y = g.op("Reshape", y, g.ints([0] * lead + [c]))
    y = g.op("MatMul", y, g.const(kernel.reshape(c, n), f"{name}/kernel"), name=name)
    if len(new) != 1:
        y = g.op("Reshape", y, g.ints([0] * lead + list(new)))
    if layer.bias is not None:
        y = g.op("Add", y, g.const(_np(layer.bias), f"{name}/bias"))
    return apply_activation(g, layer, layer.activation, y)


# --------------------------------------------------------------------------- MultiHeadAttention
def _keep_bool(g, m, dtype):
    """A Keras MHA mask value as bool: floats > 0.5, integers != 0 (``_bool_array``)."""
    if dtype is not None and np.dtype(dtype).kind == "f":
        return g.op("Greater", m, g.const(np.array(0.5, dtype=np.dtype(dtype)), "half_mask"))
    return as_bool(g, m, dtype)


def _and(g, a, b):
    return b if a is None else g.op("And", a, b)


def mha_keep(g, layer, q, v, rank, query_mask, value_mask, key_mask, attention_mask, use_causal_mask,
             dtypes):
    """The bool keep mask broadcastable to (B, Tq, S) over flattened attention axes, or None."""
    keep = None
    flat = rank > 3
    if query_mask is not None:
        m = _keep_bool(g, query_mask, dtypes.get("query_mask"))
        m = g.op("Reshape", m, g.ints([0, -1, 1])) if flat else unsqueeze(g, m, [2])
        keep = _and(g, keep, m)
    for nm, mask in (("value_mask", value_mask), ("key_mask", key_mask)):
        if mask is not None:
            m = _keep_bool(g, mask, dtypes.get(nm))
            m = g.op("Reshape", m, g.ints([0, 1, -1])) if flat else unsqueeze(g, m, [1])
            keep = _and(g, keep, m)
    window = layer._sliding_window
    if use_causal_mask or window is not None:
        if flat:
            raise OnnxExportError(f"MultiHeadAttention '{layer.name}': use_causal_mask / sliding_window need "
                                  "rank-3 inputs")
        zero, one = g.ints([0]), g.ints([1])
        start, step = g.const(np.array(0, np.int64), "zero_i64"), g.const(np.array(1, np.int64), "one_i64")

        def positions(x, axis):
            n = g.op("Squeeze", g.op("Slice", g.op("Shape", x), one, g.ints([2]), zero), zero)
            return unsqueeze(g, g.op("Range", start, n, step), [axis])

        i, j = positions(q, 1), positions(v, 0)  # (Tq, 1), (1, S)
        if use_causal_mask:
            keep = _and(g, keep, unsqueeze(g, g.op("GreaterOrEqual", i, j), [0]))
        if window is not None:
            near = g.op("Less", g.op("Abs", g.op("Sub", i, j)), g.const(np.array(window, np.int64), "window"))
            keep = _and(g, keep, unsqueeze(g, near, [0]))
    if attention_mask is not None:
        m = _keep_bool(g, attention_mask, dtypes.get("attention_mask"))
        if flat:
            raise OnnxExportError(f"MultiHeadAttention '{layer.name}': attention_mask with rank > 3 inputs is "
                                  "not exported")
        keep = _and(g, keep, m)
    return keep


def _heads(g, x, H, D, flat):
    """(B, T.., H, D) -> (B, H, T, D)."""
    if flat:
        x = g.op("Reshape", x, g.ints([0, -1, H, D]))
    return g.op("Transpose", x, perm=[0, 2, 1, 3])


@register_onnx_converter(MultiHeadAttention)
def _multi_head_attention(g, layer, node, inputs):
    if node is None:
        raise OnnxExportError(f"MultiHeadAttention '{layer.name}' needs a query and a value: use it in a "
                              "Functional model")
    if np.dtype(layer.compute_dtype) != np.float32:
        raise OnnxExportError(f"MultiHeadAttention '{layer.name}': only float32 layers are exported, this one "
                              f"computes in {layer.compute_dtype}")
    args = call_arguments(layer, node, inputs)
    query, value, key = args["query"], args["value"], args.get("key")
    key_given = key is not None
    key = key if key_given else value
    q_kt = next(kt for kt, n in zip(node.input_tensors, inputs) if n == query)
    rank = len(q_kt.shape)
    flat = rank > 3
    dtypes = {nm: value_dtype(g, node, inputs, args.get(nm)) for nm in
              ("query_mask", "value_mask", "key_mask", "attention_mask") if args.get(nm) is not None}
    keras_query_mask = mask_of(g, query)
    query_mask = args.get("query_mask") or keras_query_mask
    if args.get("query_mask") is None and keras_query_mask is not None:
        dtypes["query_mask"] = np.bool_
    value_mask = args.get("value_mask")
    if value_mask is None and mask_of(g, value) is not None:
        value_mask, dtypes["value_mask"] = mask_of(g, value), np.bool_
    key_mask = args.get("key_mask")
    if key_mask is None and key_given and mask_of(g, key) is not None:
        key_mask, dtypes["key_mask"] = mask_of(g, key), np.bool_
    use_causal = bool(args.get("use_causal_mask", False))
    scores_out = bool(args.get("return_attention_scores", False))
    keep = mha_keep(g, layer, query, value, rank, query_mask, value_mask, key_mask, args.get("attention_mask"),
                    use_causal, dtypes)
    H, Dk, Dv = layer._num_heads, layer._key_dim, layer._value_dim
    name = layer.name
    gate = dense_projection(g, layer._gate_dense, query, f"{name}/gate") if layer._use_gate else None
    q = _heads(g, dense_projection(g, layer._query_dense, query, f"{name}/query"), H, Dk, flat)
    k = dense_projection(g, layer._key_dense, key, f"{name}/key")
    k = g.op("Transpose", g.op("Reshape", k, g.ints([0, -1, H, Dk])) if flat else k, perm=[0, 2, 3, 1])
    v = _heads(g, dense_projection(g, layer._value_dense, value, f"{name}/value"), H, Dv, flat)
    s = g.op("MatMul", q, k, name=f"{name}_logits")  # (B, H, Tq, S)
    s = g.op("Mul", s, g.const(np.array(layer._inverse_sqrt_key_dim, np.float32), f"{name}_scale"))
    if keep is not None:
        keep4 = unsqueeze(g, keep, [1])
        s = g.op("Where", keep4, s, g.const(np.array(_MASKED, np.float32), "masked_logit"))
    w = g.op("Softmax", s, axis=-1, name=f"{name}_softmax")
    out = g.op("MatMul", w, v, name=f"{name}_context")  # (B, H, Tq, Dv)
    fused = not (layer._dropout > 0.0 or scores_out or flat)
    if not fused and keep is not None:
        # rows whose keys are all masked give zeros off the fused path
        rows = unsqueeze(g, reduce(g, "ReduceMax", g.op("Cast", keep, to=_FLOAT), [-1], keepdims=True), [1])
        out = g.op("Mul", out, rows)
        w = g.op("Mul", w, rows)
    out = g.op("Transpose", out, perm=[0, 2, 1, 3])  # (B, Tq, H, Dv)
    if flat:  # back to the query's attention axes
        lead = g.op("Slice", g.op("Shape", query), g.ints([0]), g.ints([rank - 1]), g.ints([0]))
        out = g.op("Reshape", out, g.op("Concat", lead, g.ints([H, Dv]), axis=0))
    if gate is not None:
        out = g.op("Mul", out, gate)
    out = dense_projection(g, layer._output_dense, out, f"{name}/attention_output")
    if keras_query_mask is not None:
        g.masks[out] = keras_query_mask
    if not scores_out:
        return [out]
    if flat:
        shp = g.op("Concat", g.op("Slice", g.op("Shape", query), g.ints([0]), g.ints([1]), g.ints([0])),
                   g.ints([H]), g.op("Slice", g.op("Shape", query), g.ints([1]), g.ints([rank - 1]), g.ints([0])),
                   g.op("Slice", g.op("Shape", value), g.ints([1]), g.ints([rank - 1]), g.ints([0])), axis=0)
        w = g.op("Reshape", w, shp)
    return [out, w]
