"""``keras.ops.nn`` by Keras's signatures: the activation ops Keras adds (``celu``, ``glu``,
``hard_silu``, ``log_sigmoid``, ``sparsemax``, ...), ``conv``/``conv_transpose``/
``depthwise_conv``/``separable_conv``, ``max_pool``/``average_pool``, ``dot_product_attention``,
``moments`` and the normalizations, the element-wise cross-entropies, ``normalize``, ``psnr``.
Built on the engine's differentiable ops (the convolutions and pools are its fused kernels)."""
from __future__ import annotations

import math as _math

import numpy as np

from .. import backend
from ..autodiff import Tensor
from ._util import OpError, normalize_axis
from . import activations as _act, conv as _conv, losses as _losses, pooling as _pool
from .elementwise import abs as _abs, add, clip, div, exp, log, maximum, minimum, mul, neg, sqrt, square, sub, where
from .math import expm1, floats, log1p, rsqrt, to_float
from .reductions import mean, sum as _sum, var
from .shape import reshape, split, transpose

EPSILON = 1e-7  # keras.config.epsilon()


# ----------------------------------------------------------------------------- activations
def celu(x, alpha=1.0):
    """max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))."""
    x = to_float("celu", x)
    neg_part = mul(expm1(div(minimum(x, 0.0), float(alpha))), float(alpha))
    return where(Tensor(x.data > 0), x, neg_part)


def glu(x, axis=-1):
    """The gated linear unit: a * sigmoid(b) for the two halves a, b of ``axis``."""
    x = to_float("glu", x)
    ax = normalize_axis("glu", axis, x.ndim)[0]
    if x.shape[ax] % 2:
        raise OpError(f"glu: axis {axis} must have an even size, got shape {x.shape}")
    a, b = split(x, 2, axis=ax)
    return mul(a, _act.sigmoid(b))


def hard_silu(x):
    """x * hard_sigmoid(x) (Keras's hard_sigmoid: relu6(x + 3) / 6)."""
    x = to_float("hard_silu", x)
    return mul(x, _act.hard_sigmoid(x))


hard_swish = hard_silu


def hard_tanh(x):
    return clip(to_float("hard_tanh", x), -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    x = to_float("hard_shrink", x)
    return where(Tensor(x.xp.abs(x.data) > threshold), x, 0.0)


def soft_shrink(x, threshold=0.5):
    x = to_float("soft_shrink", x)
    d = x.data
    t = float(threshold)
    return where(Tensor(d > t), sub(x, t), where(Tensor(d < -t), add(x, t), 0.0))


def tanh_shrink(x):
    x = to_float("tanh_shrink", x)
    return sub(x, _act.tanh(x))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return neg(_act.softplus(neg(to_float("log_sigmoid", x))))


def softsign(x):
    x = to_float("softsign", x)
    return div(x, add(_abs(x), 1.0))


def squareplus(x, b=4):
    x = to_float("squareplus", x)
    return mul(add(x, sqrt(add(square(x), float(b)))), 0.5)


def sparse_plus(x):
    """0 for x <= -1, x for x >= 1, (x + 1)^2 / 4 between."""
    x = to_float("sparse_plus", x)
    d = x.data
    mid = mul(square(add(x, 1.0)), 0.25)
    return where(Tensor(d <= -1), 0.0, where(Tensor(d >= 1), x, mid))


def sparse_sigmoid(x):
    x = to_float("sparse_sigmoid", x)
    d = x.data
    return where(Tensor(d <= -1), 0.0, where(Tensor(d >= 1), 1.0, mul(add(x, 1.0), 0.5)))


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    x = to_float("threshold", x)
    return where(Tensor(x.data > threshold), x, float(default_value))


def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection onto the simplex; differentiable."""
    from .indexing import take_along_axis
    from .statistics import cumsum

    x = to_float("sparsemax", x)
    ax = normalize_axis("sparsemax", axis, x.ndim)[0]
    xp = x.xp
    order = xp.flip(xp.argsort(x.data, axis=ax, kind="stable"), axis=ax)
    z = take_along_axis(x, order, axis=ax)
    cs = cumsum(z, axis=ax)
    n = x.shape[ax]
    k = xp.arange(1, n + 1, dtype=x.dtype).reshape([n if i == ax else 1 for i in range(x.ndim)])
    support = (1 + k * z.data) > cs.data
    kz = support.sum(axis=ax, keepdims=True)
    tau = div(sub(take_along_axis(cs, kz - 1, axis=ax), 1.0), Tensor(kz.astype(x.dtype)))
    return maximum(sub(x, tau), 0.0)


def mish(x):
    """x * tanh(softplus(x))."""
    x = to_float("mish", x)
    return mul(x, _act.tanh(_act.softplus(x)))


def polar(abs_, angle):
    raise NotImplementedError("keras.ops.nn.polar is not supported yet: it returns complex tensors, which this "
                              "engine does not have")


# ----------------------------------------------------------------------------- convolutions and pools
def _channels_last(op, x, data_format):
    if data_format in (None, "channels_last"):
        return x, False
    if data_format != "channels_first":
        raise OpError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,)), True


def _restore(x, moved):
    return transpose(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))) if moved else x


def _spatial(op, x):
    if x.ndim == 5:
        raise NotImplementedError(f"keras.ops.{op} on 3-D volumes (rank-5 inputs) is not supported yet: this engine "
                                  "has 1-D and 2-D convolutions and pools only")
    if x.ndim not in (3, 4):
        raise OpError(f"{op}: inputs must have rank 3 (N, L, C) or 4 (N, H, W, C), got shape {tuple(x.shape)}")


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-d convolution as Keras ``ops.conv``: inputs (N, *spatial, Cin), kernel (*k, Cin // groups,
    Cout); groups inferred from the channel counts."""
    x, k = floats("conv", inputs, kernel)
    x, moved = _channels_last("conv", x, data_format)
    _spatial("conv", x)
    groups = x.shape[-1] // k.shape[-2] if k.shape[-2] else 1
    padding = padding.lower() if isinstance(padding, str) else padding
    fn = _conv.conv1d if x.ndim == 3 else _conv.conv2d
    return _restore(fn(x, k, None, strides=strides, padding=padding, dilation=dilation_rate, groups=groups), moved)


def _as_2d(x, k):
    """A 1-D problem as a 2-D one with a height of 1."""
    return reshape(x, (x.shape[0], 1) + tuple(x.shape[1:])), reshape(k, (1,) + tuple(k.shape))


def _pair1(v):
    return (1, v) if isinstance(v, int) else (1,) + tuple(v)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed convolution as Keras ``ops.conv_transpose``: kernel (*k, Cout, Cin)."""
    x, k = floats("conv_transpose", inputs, kernel)
    x, moved = _channels_last("conv_transpose", x, data_format)
    _spatial("conv_transpose", x)
    padding = padding.lower()
    if x.ndim == 3:
        x2, k2 = _as_2d(x, k)
        op = None if output_padding is None else _pair1(output_padding)
        if op is not None:
            op = (0,) + op[1:]
        y = _conv.conv2d_transpose(x2, k2, None, strides=_pair1(strides), padding=padding,
                                   output_padding=op, dilation=_pair1(dilation_rate))
        return _restore(reshape(y, (y.shape[0],) + tuple(y.shape[2:])), moved)
    y = _conv.conv2d_transpose(x, k, None, strides=strides, padding=padding, output_padding=output_padding,
                               dilation=dilation_rate)
    return _restore(y, moved)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution as Keras ``ops.depthwise_conv``: kernel (*k, C, multiplier)."""
    x, k = floats("depthwise_conv", inputs, kernel)
    x, moved = _channels_last("depthwise_conv", x, data_format)
    _spatial("depthwise_conv", x)
    padding = padding.lower()
    if x.ndim == 3:
        x2, k2 = _as_2d(x, k)
        y = _conv.depthwise_conv2d(x2, k2, None, strides=_pair1(strides), padding=padding,
                                   dilation=_pair1(dilation_rate))
        return _restore(reshape(y, (y.shape[0],) + tuple(y.shape[2:])), moved)
    return _restore(_conv.depthwise_conv2d(x, k, None, strides=strides, padding=padding, dilation=dilation_rate),
                    moved)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """A depthwise convolution followed by a 1x1 (pointwise) one."""
    x, moved = _channels_last("separable_conv", to_float("separable_conv", inputs), data_format)
    y = depthwise_conv(x, depthwise_kernel, strides=strides, padding=padding, dilation_rate=dilation_rate)
    return _restore(conv(y, pointwise_kernel, strides=1, padding="valid"), moved)


def _pool_op(op, mode, inputs, pool_size, strides, padding, data_format):
    x, moved = _channels_last(op, to_float(op, inputs), data_format)
    _spatial(op, x)
    padding = padding.lower()
    if x.ndim == 3:
        ps = pool_size if isinstance(pool_size, int) else tuple(pool_size)[0]
        st = strides if strides is None or isinstance(strides, int) else tuple(strides)[0]
        fn = _pool.max_pool1d if mode == "max" else _pool.avg_pool1d
        return _restore(fn(x, ps, st, padding), moved)
    fn = _pool.max_pool2d if mode == "max" else _pool.avg_pool2d
    return _restore(fn(x, pool_size, strides, padding), moved)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling as Keras ``ops.max_pool`` (strides default to pool_size)."""
    return _pool_op("max_pool", "max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling as Keras ``ops.average_pool`` ("same" excludes the padded cells)."""
    return _pool_op("average_pool", "avg", inputs, pool_size, strides, padding, data_format)


# ----------------------------------------------------------------------------- attention
_LARGE_NEGATIVE = -0.7 * 3.38953e38


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(q k^T * scale + bias, masked) v for (B, T, N, H) query and (B, S, N, H) key/value, as
    Keras ``ops.dot_product_attention`` (masked logits are set to a large negative number, so a fully
    masked row attends uniformly; ``mask`` broadcasts to (B, N, T, S))."""
    from .contractions import einsum

    if flash_attention:
        raise NotImplementedError("keras.ops.dot_product_attention(flash_attention=True) is not supported yet: "
                                  "this engine has no flash-attention kernel; leave it None or False")
    q, k, v = floats("dot_product_attention", query, key, value)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise OpError(f"dot_product_attention: query, key and value must be 4-D (B, T, N, H), got {q.shape}, "
                      f"{k.shape}, {v.shape}")
    if k.shape[2] != q.shape[2]:  # grouped-query attention: repeat the key/value heads
        from .shape import repeat

        if q.shape[2] % k.shape[2]:
            raise OpError(f"dot_product_attention: {q.shape[2]} query heads are not a multiple of {k.shape[2]} "
                          "key heads")
        rep = q.shape[2] // k.shape[2]
        k, v = repeat(k, rep, axis=2), repeat(v, rep, axis=2)
    s = 1.0 / _math.sqrt(k.shape[-1]) if scale is None else float(scale)
    logits = mul(einsum("BTNH,BSNH->BNTS", q, k), s)
    if bias is not None:
        logits = add(logits, bias)
    if attn_logits_soft_cap is not None:
        c = float(attn_logits_soft_cap)
        logits = mul(_act.tanh(div(logits, c)), c)
    keep = None
    if mask is not None:
        m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        keep = m.astype(bool)
    if is_causal:
        T, S = q.shape[1], k.shape[1]
        tri = np.tril(np.ones((T, S), dtype=bool))[None, None]
        keep = tri if keep is None else np.logical_and(keep, tri)
    if keep is not None:
        logits = where(Tensor(np.broadcast_to(keep, logits.shape)), logits,
                       Tensor(np.asarray(_LARGE_NEGATIVE, logits.dtype)))
    probs = _act.softmax(logits, axis=-1)
    return einsum("BNTS,BSNH->BTNH", probs, v)


# ----------------------------------------------------------------------------- normalization
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over ``axes``; differentiable."""
    if synchronized:
        raise NotImplementedError("keras.ops.moments(synchronized=True) is not supported yet: there is one device "
                                  "per process; use synchronized=False")
    x = to_float("moments", x)
    return mean(x, axis=axes, keepdims=keepdims), var(x, axis=axes, keepdims=keepdims)


def _along(t, axis, ndim):
    t = t if isinstance(t, Tensor) else Tensor(t)
    shape = [1] * ndim
    shape[axis] = t.shape[0] if t.ndim else 1
    return reshape(t, shape)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset with the statistics along ``axis``."""
    x = to_float("batch_normalization", x)
    ax = normalize_axis("batch_normalization", axis, x.ndim)[0]
    m = _along(floats("batch_normalization", x, mean)[1], ax, x.ndim)
    v = _along(floats("batch_normalization", x, variance)[1], ax, x.ndim)
    inv = rsqrt(add(v, float(epsilon)))
    if scale is not None:
        inv = mul(inv, _along(floats("batch_normalization", x, scale)[1], ax, x.ndim))
    res = neg(mul(m, inv))
    if offset is not None:
        res = add(res, _along(floats("batch_normalization", x, offset)[1], ax, x.ndim))
    return add(mul(x, inv), res)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """(x - mean) / sqrt(var + epsilon) over ``axis``, times gamma plus beta (``rms_scaling=True``:
    x / rms(x) * gamma)."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected keyword argument(s) {sorted(kwargs)}")
    if rms_scaling:
        return rms_normalization(x, scale=gamma, axis=axis, epsilon=epsilon)
    x = to_float("layer_normalization", x)
    eps = EPSILON if epsilon is None else float(epsilon)
    axes = normalize_axis("layer_normalization", axis, x.ndim)
    mu = mean(x, axis=axes, keepdims=True)
    out = mul(sub(x, mu), rsqrt(add(var(x, axis=axes, keepdims=True), eps)))
    bshape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    if gamma is not None:
        out = mul(out, reshape(floats("layer_normalization", x, gamma)[1], bshape))
    if beta is not None:
        out = add(out, reshape(floats("layer_normalization", x, beta)[1], bshape))
    return out


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x * rsqrt(mean(x^2 over axis) + epsilon) * scale."""
    x = to_float("rms_normalization", x)
    eps = EPSILON if epsilon is None else float(epsilon)
    axes = normalize_axis("rms_normalization", axis, x.ndim)
    out = mul(x, rsqrt(add(mean(square(x), axis=axes, keepdims=True), eps)))
    if scale is not None:
        bshape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
        s = floats("rms_normalization", x, scale)[1]
        out = mul(out, reshape(s, bshape) if s.ndim else s)
    return out


def normalize(x, axis=-1, order=2, epsilon=None):
    """x / max(norm(x, order, axis), epsilon) (Keras ``ops.normalize``)."""
    from .linear_algebra import norm

    if not isinstance(order, int) or order < 1:
        raise OpError(f"normalize: order must be an int >= 1, got {order!r}")
    x = to_float("normalize", x)
    if x.ndim == 0:
        x = reshape(x, (1,))
    eps = EPSILON if epsilon is None else float(epsilon)
    if order == 2:
        inv = minimum(rsqrt(_sum(square(x), axis=axis, keepdims=True)), 1.0 / eps)
        return mul(x, inv)
    return div(x, maximum(norm(x, ord=order, axis=axis, keepdims=True), eps))


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio: 20 log10(max_val) - 10 log10(mse)."""
    a, b = floats("psnr", x1, x2)
    if a.shape != b.shape:
        raise OpError(f"psnr: shapes {a.shape} and {b.shape} must match")
    mse = mean(square(sub(a, b)))
    return sub(20.0 * _math.log10(float(max_val)), mul(log(mse), 10.0 / _math.log(10.0)))


# ----------------------------------------------------------------------------- cross-entropies (element-wise)
def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary cross-entropy (no reduction), as Keras ``ops.binary_crossentropy``."""
    t, p = floats("binary_crossentropy", target, output)
    if t.shape != p.shape:
        raise OpError(f"binary_crossentropy: target {t.shape} and output {p.shape} must have the same shape")
    if from_logits:
        # max(z, 0) - z t + log(1 + exp(-|z|))
        return add(sub(maximum(p, 0.0), mul(p, t)), log1p(exp(neg(_abs(p)))))
    pc = clip(p, EPSILON, 1.0 - EPSILON)
    return neg(add(mul(t, log(pc)), mul(sub(1.0, t), log(sub(1.0, pc)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy along ``axis`` between distributions: one value per sample."""
    return _losses.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy with integer targets: one value per sample."""
    return _losses.sparse_categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


_CTC_NEG = -1e5  # log(0) as a finite number (optax's log_epsilon): exp of differences stays finite


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Connectionist temporal classification loss per sample, as Keras ``ops.ctc_loss``:
    ``target`` (B, S) integer labels (the first ``target_length`` valid), ``output`` (B, T, C) logits
    (the first ``output_length`` steps valid), ``mask_index`` the blank class. The forward algorithm
    in log space over the blank-interleaved labels; differentiable in ``output``."""
    from .indexing import take_along_axis
    from .math import logaddexp
    from .shape import concatenate, getitem

    logits = to_float("ctc_loss", output)
    tgt = np.asarray(backend.to_numpy(target.data if isinstance(target, Tensor) else np.asarray(target))).astype(np.int64)
    tlen = np.asarray(backend.to_numpy(target_length.data if isinstance(target_length, Tensor) else
                                       np.asarray(target_length))).astype(np.int64).reshape(-1)
    olen = np.asarray(backend.to_numpy(output_length.data if isinstance(output_length, Tensor) else
                                       np.asarray(output_length))).astype(np.int64).reshape(-1)
    if logits.ndim != 3 or tgt.ndim != 2 or tgt.shape[0] != logits.shape[0]:
        raise OpError(f"ctc_loss: output must be (batch, time, classes) and target (batch, labels), got "
                      f"{logits.shape} and {tgt.shape}")
    B, T, _ = logits.shape
    S = tgt.shape[1]
    L = 2 * S + 1
    ext = np.full((B, L), int(mask_index), np.int64)
    ext[:, 1::2] = tgt
    logp = _act.log_softmax(logits, axis=-1)
    emit = take_along_axis(logp, np.broadcast_to(ext[:, None, :], (B, T, L)), axis=2)  # (B, T, L)
    skip = np.zeros((B, L), bool)
    skip[:, 2:] = (ext[:, 2:] != mask_index) & (ext[:, 2:] != ext[:, :-2])
    dt = logits.dtype
    low1 = Tensor(np.full((B, 1), _CTC_NEG, dt))
    low2 = Tensor(np.full((B, 2), _CTC_NEG, dt))
    init = np.full((B, L), _CTC_NEG, dt)
    init[:, :2] = 0.0
    alpha = add(Tensor(init), getitem(emit, (slice(None), 0)))
    for t in range(1, T):
        a1 = concatenate([low1, getitem(alpha, (slice(None), slice(None, -1)))], axis=1)
        a2 = concatenate([low2, getitem(alpha, (slice(None), slice(None, -2)))], axis=1)
        a2 = where(Tensor(skip), a2, _CTC_NEG)
        new = add(logaddexp(logaddexp(alpha, a1), a2), getitem(emit, (slice(None), t)))
        alpha = where(Tensor(np.broadcast_to((t < olen)[:, None], (B, L))), new, alpha)
    last = np.stack([2 * tlen, np.maximum(2 * tlen - 1, 0)], axis=1)
    ends = take_along_axis(alpha, last, axis=1)
    e0, e1 = getitem(ends, (slice(None), 0)), getitem(ends, (slice(None), 1))
    total = where(Tensor(tlen > 0), logaddexp(e0, e1), e0)
    return neg(total)




def depth_to_space(x, block_size, data_format="channels_last"):
    """Pixel shuffle: (N, H, W, C) -> (N, H*b, W*b, C/b^2) (channels_first: (N, C, H, W))."""
    x = to_float("depth_to_space", x) if not isinstance(x, Tensor) else x
    b = int(block_size)
    if data_format == "channels_last":
        n, h, w, c = x.shape
        y = transpose(reshape(x, (n, h, w, b, b, c // (b * b))), (0, 1, 3, 2, 4, 5))
        return reshape(y, (n, h * b, w * b, c // (b * b)))
    n, c, h, w = x.shape
    y = transpose(reshape(x, (n, b, b, c // (b * b), h, w)), (0, 3, 4, 1, 5, 2))
    return reshape(y, (n, c // (b * b), h * b, w * b))


def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of ``depth_to_space``."""
    x = to_float("space_to_depth", x) if not isinstance(x, Tensor) else x
    b = int(block_size)
    if data_format == "channels_last":
        n, h, w, c = x.shape
        y = transpose(reshape(x, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5))
        return reshape(y, (n, h // b, w // b, c * b * b))
    n, c, h, w = x.shape
    y = transpose(reshape(x, (n, c, h // b, b, w // b, b)), (0, 3, 5, 1, 2, 4))
    return reshape(y, (n, c * b * b, h // b, w // b))


def _adaptive_windows(n, out):
    """Start/end of each of ``out`` adaptive windows over ``n`` (PyTorch's and Keras's rule)."""
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _adaptive(op, mode, inputs, output_size, data_format):
    from .shape import getitem

    x, moved = _channels_last(op, to_float(op, inputs), data_format)
    nsp = x.ndim - 2
    if nsp not in (1, 2):
        raise NotImplementedError(f"keras.ops.{op} on 3-D volumes is not supported yet: 1-D and 2-D inputs only")
    sizes = (output_size,) * nsp if isinstance(output_size, int) else tuple(int(s) for s in output_size)
    for ax, out in zip(range(1, 1 + nsp), sizes):
        n = x.shape[ax]
        start, end = _adaptive_windows(n, out)
        if mode == "average":  # a (out, n) averaging matrix applied along the axis
            w = np.zeros((out, n), x.dtype)
            for j, (s, e) in enumerate(zip(start, end)):
                w[j, s:e] = 1.0 / (e - s)
            from .contractions import tensordot
            from .arrays import moveaxis

            x = moveaxis(tensordot(x, Tensor(w), axes=([ax], [1])), -1, ax)
        else:  # gather each window (padded by repeating its last index) and take the maximum
            kmax = int((end - start).max())
            idx = np.minimum(start[:, None] + np.arange(kmax), end[:, None] - 1)
            g = getitem(x, (slice(None),) * ax + (Tensor(idx),))
            from .reductions import max as _max

            x = _max(g, axis=ax + 1)
    return _restore(x, moved)


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed ``output_size`` (windows of PyTorch's adaptive rule); differentiable."""
    return _adaptive("adaptive_average_pool", "average", inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed ``output_size``; differentiable."""
    return _adaptive("adaptive_max_pool", "max", inputs, output_size, data_format)


def _pair2(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _unfold_index(h, w, k, d, s):
    """Row and column indices (kH, kW, L) of every block element in a (padded) h x w image."""
    oh = (h - (k[0] - 1) * d[0] - 1) // s[0] + 1
    ow = (w - (k[1] - 1) * d[1] - 1) // s[1] + 1
    if oh < 1 or ow < 1:
        raise OpError(f"unfold: a {h}x{w} image holds no {k} block (dilation {d}, stride {s})")
    bi, bj = np.meshgrid(np.arange(oh) * s[0], np.arange(ow) * s[1], indexing="ij")
    rows = np.arange(k[0])[:, None, None] * d[0] + bi.reshape(1, 1, -1)
    cols = np.arange(k[1])[None, :, None] * d[1] + bj.reshape(1, 1, -1)
    return np.broadcast_to(rows, (k[0], k[1], oh * ow)), np.broadcast_to(cols, (k[0], k[1], oh * ow))


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of an (N, C, H, W) image as columns (im2col, PyTorch's ``unfold`` as Keras's):
    (N, C * kH * kW, L); differentiable."""
    from .shape import getitem, pad

    x = to_float("unfold", x)
    if x.ndim != 4:
        raise OpError(f"unfold: x must be (N, C, H, W), got shape {tuple(x.shape)}")
    k, d, p, s = _pair2(kernel_size), _pair2(dilation), _pair2(padding), _pair2(stride)
    if p != (0, 0):
        x = pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    rows, cols = _unfold_index(x.shape[2], x.shape[3], k, d, s)
    n, c = x.shape[:2]
    blocks = getitem(x, (slice(None), slice(None), Tensor(rows), Tensor(cols)))  # (N, C, kH, kW, L)
    return reshape(blocks, (n, c * k[0] * k[1], rows.shape[-1]))


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of ``unfold`` (col2im): (N, C * kH * kW, L) blocks summed into (N, C, H, W);
    differentiable."""
    from .indexing import scatter
    from .shape import getitem

    x = to_float("fold", x)
    oh, ow = _pair2(output_size)
    k, d, p, s = _pair2(kernel_size), _pair2(dilation), _pair2(padding), _pair2(stride)
    if x.ndim != 3 or x.shape[1] % (k[0] * k[1]):
        raise OpError(f"fold: x must be (N, C * {k[0]} * {k[1]}, L), got shape {tuple(x.shape)}")
    n, c = x.shape[0], x.shape[1] // (k[0] * k[1])
    H, W = oh + 2 * p[0], ow + 2 * p[1]
    rows, cols = _unfold_index(H, W, k, d, s)
    if rows.shape[-1] != x.shape[2]:
        raise OpError(f"fold: {x.shape[2]} blocks do not tile an output of {(oh, ow)} (expected {rows.shape[-1]})")
    # scatter-add every (n, c, ki, kj, l) value into pixel (n, c, rows, cols) of the padded image
    flat = reshape(transpose(reshape(x, (n, c, k[0] * k[1] * rows.shape[-1])), (2, 0, 1)), (-1, n, c))
    idx = np.stack([rows.reshape(-1), cols.reshape(-1)], axis=1)
    img = scatter(idx, flat, (H, W, n, c))
    img = transpose(img, (2, 3, 0, 1))
    return getitem(img, (slice(None), slice(None), slice(p[0], p[0] + oh), slice(p[1], p[1] + ow)))


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """CTC decoding of (B, T, C) logits, as Keras ``ops.ctc_decode`` with ``strategy="greedy"``:
    the best class per valid step, repeats merged (when ``merge_repeated``) then blanks dropped;
    returns (decoded (1, B, T) int32 padded with -1, scores (B, 1): minus the sum of the best logits).
    No gradient."""
    if strategy == "beam_search":
        raise NotImplementedError("keras.ops.ctc_decode(strategy='beam_search') is not supported yet: use "
                                  "strategy='greedy'")
    if strategy != "greedy":
        raise OpError(f"ctc_decode: strategy must be 'greedy' or 'beam_search', got {strategy!r}")
    x = backend.to_numpy(to_float("ctc_decode", inputs).data)
    if x.ndim != 3:
        raise OpError(f"ctc_decode: inputs must be (batch, time, classes), got shape {x.shape}")
    lengths = np.asarray(backend.to_numpy(sequence_lengths.data if isinstance(sequence_lengths, Tensor)
                                          else np.asarray(sequence_lengths))).astype(np.int64).reshape(-1)
    b, t, c = x.shape
    blank = int(mask_index) % c
    valid = np.arange(t)[None, :] < lengths[:, None]
    best = x.argmax(-1)
    keep = valid & (best != blank)
    if merge_repeated:
        keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    decoded = np.full((b, t), -1, np.int32)
    for i in range(b):  # a ragged compaction per sequence (B rows), not per element
        row = best[i][keep[i]]
        decoded[i, :row.size] = row
    scores = -np.where(valid, x.max(-1), 0).sum(-1, keepdims=True).astype(np.float32)
    return Tensor(decoded[None]), Tensor(scores)
