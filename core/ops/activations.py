"""Activation functions, each with Keras 3 semantics and a hand-written gradient."""
from __future__ import annotations

import math

import numpy as np

from .. import parallel
from ..autodiff import Function
from ..backend import get_xp
from ._util import blend, tensors


class _Act(Function):
    def forward(self, x):
        self.xp = get_xp(x)
        return self.compute(x)


# ``maximum(x, 0)`` / ``x + bias`` broadcast a scalar or a short vector in NumPy's innermost loop,
# which is slower than two long contiguous operands: these helpers view a contiguous array
# as rows of _ROW elements and broadcast one row of zeros (or of the tiled bias) instead.
_ROW = 8192
# Large elementwise passes run their rows on the intra-op threads (core.parallel.for_ranges);
# x > 0 (a bool output) gains nothing from a second thread and stays on one (measurements of
# both: benchmarks/README.md).


def ewise(xp, ufunc, a, b, out):
    """``ufunc(a, b, out=out)`` for C-contiguous arrays of one shape (``b`` may also be a
    scalar), split among the intra-op threads for large arrays. ``out`` may be ``a`` or ``b``."""
    parallel.over_flat(xp, lambda a_, b_, o_: ufunc(a_, b_, out=o_), a, b, out)
    return out


def relu_into(xp, x, out):
    """out = max(x, 0) for C-contiguous ``x`` and ``out`` of the same shape (``out`` may be ``x``)."""
    fx, fo = x.reshape(-1), out.reshape(-1)
    n = fx.size
    if n < 2 * _ROW or not (x.flags.c_contiguous and out.flags.c_contiguous):
        return xp.maximum(x, x.dtype.type(0), out=out)
    zeros = xp.zeros(_ROW, x.dtype)
    rows = n // _ROW
    m = rows * _ROW
    x2, o2 = fx[:m].reshape(-1, _ROW), fo[:m].reshape(-1, _ROW)
    parallel.for_ranges(lambda r0, r1: xp.maximum(x2[r0:r1], zeros, out=o2[r0:r1]), rows, n, xp=xp)
    if m < n:
        xp.maximum(fx[m:], zeros[:n - m], out=fo[m:])
    return out


def channel_op(xp, ufunc, a, v, out=None):
    """out = ufunc(a, v) with ``v`` (C,) broadcast over the last axis of ``a`` (..., C): for
    C-contiguous arrays over rows of about _ROW elements and a tiled copy of ``v``."""
    C = v.shape[-1]
    v = v.reshape(C)
    if out is None:
        out = xp.empty(a.shape, xp.result_type(a, v))
    reps = _ROW // C
    rows = a.size // C if C else 0
    if reps < 2 or rows < 2 * reps or not (a.flags.c_contiguous and out.flags.c_contiguous):
        return ufunc(a, v, out=out)
    a2, o2 = a.reshape(rows, C), out.reshape(rows, C)
    nb = rows // reps
    m = nb * reps
    aw, ow, vt = a2[:m].reshape(nb, reps * C), o2[:m].reshape(nb, reps * C), xp.tile(v, reps)
    parallel.for_ranges(lambda r0, r1: ufunc(aw[r0:r1], vt, out=ow[r0:r1]), nb, a.size, xp=xp)
    if m < rows:
        ufunc(a2[m:], v, out=o2[m:])
    return out


def mask_grad(xp, g, mask):
    """``g * mask`` (a bool mask of g's shape) as a new array of g's dtype."""
    if not (g.flags.c_contiguous and mask.flags.c_contiguous) or mask.shape != g.shape:
        return g * mask
    return ewise(xp, xp.multiply, g, mask, xp.empty(g.shape, g.dtype))


def colsum(xp, g):
    """Column sums of a 2-d array as a GEMV with a ones vector: BLAS, faster than
    ``g.sum(axis=0)`` for tall (rows, C) arrays such as the gradient of a bias."""
    return xp.ones(g.shape[0], g.dtype) @ g


def add_bias_(xp, y, b):
    """y += b in place for a C-contiguous ``y`` whose last axis has b.size elements."""
    return channel_op(xp, xp.add, y, b, out=y)


class ReLU(_Act):
    def compute(self, x):
        self.mask = x > 0
        if x.flags.c_contiguous:
            return relu_into(self.xp, x, self.xp.empty_like(x))
        return self.xp.maximum(x, x.dtype.type(0))

    def backward(self, gy):
        return mask_grad(self.xp, gy, self.mask)


class ReLU6(_Act):
    def compute(self, x):
        self.mask = (x > 0) & (x < 6)
        return self.xp.clip(x, x.dtype.type(0), x.dtype.type(6))

    def backward(self, gy):
        return gy * self.mask


# (on NumPy the activations below select their branches without ``where``: ``blend``, or
# arithmetic that gives the same values)


class LeakyReLU(_Act):
    def __init__(self, negative_slope):
        self.slope = negative_slope

    def compute(self, x):
        self.mask = x > 0
        s = x.dtype.type(self.slope)
        if 0 < self.slope <= 1:  # x * s lies between 0 and x: the max picks (s = 0: inf * 0 is NaN)
            return self.xp.maximum(x, x * s)
        return blend(self.xp, self.mask, x, x * s)

    def backward(self, gy):
        return blend(self.xp, self.mask, gy, gy * gy.dtype.type(self.slope))


class ELU(_Act):
    def __init__(self, alpha):
        self.alpha = alpha

    def compute(self, x):
        xp = self.xp
        a = x.dtype.type(self.alpha)
        self.mask = x > 0
        self.neg = a * xp.exp(xp.minimum(x, x.dtype.type(0)))  # alpha*e^x, the slope where x <= 0
        return blend(xp, self.mask, x, self.neg - a)

    def backward(self, gy):
        return blend(self.xp, self.mask, gy, gy * self.neg)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class SELU(_Act):
    def compute(self, x):
        xp = self.xp
        a, s = x.dtype.type(_SELU_ALPHA), x.dtype.type(_SELU_SCALE)
        self.mask = x > 0
        self.neg = s * a * xp.exp(xp.minimum(x, x.dtype.type(0)))
        return blend(xp, self.mask, s * x, self.neg - s * a)

    def backward(self, gy):
        s = gy.dtype.type(_SELU_SCALE)
        return blend(self.xp, self.mask, gy * s, gy * self.neg)


# Eigen's / XLA's rational approximation of erf on [-4, 4] (|error| < 5e-7): what TensorFlow
# computes for float32, and cheaper than the float64 series below
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
          -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
          -1.42647390514189e-02)


def erf_f32(xp, z):
    """erf for float32 arrays (rational approximation, |error| < 5e-7)."""
    t = z.dtype.type
    z = xp.clip(z, t(-4), t(4))
    z2 = z * z
    p = z2 * t(_ERF_P[0]) + t(_ERF_P[1])
    for c in _ERF_P[2:]:
        p *= z2
        p += t(c)
    p *= z
    q = z2 * t(_ERF_Q[0]) + t(_ERF_Q[1])
    for c in _ERF_Q[2:]:
        q *= z2
        q += t(c)
    p /= q
    return p


def _normal_cdf(xp, x):
    """Phi(x): float32 via the rational erf; otherwise 0.5 * erfc(-x / sqrt(2)), accurate in both
    tails (no 1 + erf cancellation)."""
    if x.dtype == np.float32:
        t = x.dtype.type
        cdf = erf_f32(xp, x * t(1 / math.sqrt(2.0)))
        cdf += t(1)
        cdf *= t(0.5)
        return cdf
    if xp.__name__ == "cupy":
        import cupyx.scipy.special as sp  # type: ignore

        return (0.5 * sp.erfc(-x * x.dtype.type(1 / math.sqrt(2.0)))).astype(x.dtype, copy=False)
    return _normal_cdf_numpy(x)


def _normal_cdf_numpy(x):
    """Phi(x) in float64 to ~1e-15 relative, vectorised: a Maclaurin series of erf for |t| < 2,
    a continued fraction of erfc beyond (Lentz form, evaluated backwards)."""
    import numpy as np

    t = np.asarray(x, dtype=np.float64) * (1 / math.sqrt(2.0))
    out = np.empty_like(t)
    a = np.abs(t)
    small = (t > -1.0) & (t < 2.0)  # the tails go through erfc, accurate relative to tiny values
    ts = t[small]
    term, total, t2 = ts.copy(), ts.copy(), ts * ts
    for n in range(1, 45):
        term = term * (-t2) / n
        total = total + term / (2 * n + 1)
    out[small] = 0.5 + total * (1 / math.sqrt(math.pi))
    tl = t[~small]
    al = np.abs(tl)
    f = al.copy()
    for k in range(200, 0, -1):
        f = al + (k / 2.0) / f
    erfc = np.exp(-al * al) / (math.sqrt(math.pi) * f)
    out[~small] = np.where(tl > 0, 1.0 - 0.5 * erfc, 0.5 * erfc)
    return out.astype(x.dtype, copy=False)


# A chain of ~30 elementwise passes (the rational erf) over a large array runs from main memory
# at each pass; done a chunk at a time, the chain stays in cache. On two threads each call holds
# the GIL for its dispatch, so short chunks make the threads wait on each other: the chunk is
# as large as the L3 keeps fast (the size chosen by measurement: benchmarks/README.md).
_CHUNK = 1 << 18


# the GELU chains run their chunks on the intra-op threads from this many elements (about 30
# passes each: a region pays for itself on far smaller arrays than a single pass does)
_GELU_PARALLEL_MIN = 1 << 17


def _chunk_spans(n, fn):
    """fn(i0, i1) over contiguous ranges covering range(n) (``fn`` works through its range in
    chunks of at most _CHUNK elements): for large n, one range of equal size per intra-op thread."""
    threads = parallel.num_threads() if n >= _GELU_PARALLEL_MIN else 1
    ranges = parallel.chunks(n, _CHUNK, threads)

    def span(r0, r1):
        fn(ranges[r0][0], ranges[r1 - 1][1])

    parallel.for_ranges(span, len(ranges), n, min_elements=_GELU_PARALLEL_MIN)


def _gelu_exact_f32_numpy(x, keep=True):
    """(x * Phi(x), Phi(x) or None without ``keep``) for a float32 NumPy array, computed chunk by
    chunk in scratch buffers: the same operations, in the same order, as ``x * _normal_cdf(np, x)``."""
    t = np.float32
    flat = np.ascontiguousarray(x).reshape(-1)
    y, cdf = np.empty_like(flat), (np.empty_like(flat) if keep else None)
    n = flat.size
    lo, hi, inv = t(-4), t(4), t(1 / math.sqrt(2.0))

    def span(a, b):
        z, z2, q = (np.empty(min(b - a, _CHUNK), np.float32) for _ in range(3))
        pbuf = None if keep else np.empty(min(b - a, _CHUNK), np.float32)
        for i in range(a, b, _CHUNK):
            j = min(b, i + _CHUNK)
            m = j - i
            xs, zs, z2s, qs = flat[i:j], z[:m], z2[:m], q[:m]
            p = cdf[i:j] if keep else pbuf[:m]
            np.multiply(xs, inv, out=zs)
            np.clip(zs, lo, hi, out=zs)
            np.multiply(zs, zs, out=z2s)
            np.multiply(z2s, t(_ERF_P[0]), out=p)
            p += t(_ERF_P[1])
            for c in _ERF_P[2:]:
                p *= z2s
                p += t(c)
            p *= zs
            np.multiply(z2s, t(_ERF_Q[0]), out=qs)
            qs += t(_ERF_Q[1])
            for c in _ERF_Q[2:]:
                qs *= z2s
                qs += t(c)
            p /= qs
            p += t(1)
            p *= t(0.5)
            np.multiply(xs, p, out=y[i:j])

    _chunk_spans(n, span)
    return y.reshape(x.shape), (cdf.reshape(x.shape) if keep else None)


def _gelu_exact_grad_f32_numpy(x, cdf, gy):
    """gy * (Phi(x) + x * phi(x)) chunk by chunk (the operations of GELU.backward, in order)."""
    t = np.float32
    fx, fc, fg = (np.ascontiguousarray(a).reshape(-1) for a in (x, cdf, gy))
    out = np.empty_like(fg)
    n = fx.size

    def span(a, b):
        w = np.empty(min(b - a, _CHUNK), np.float32)
        for i in range(a, b, _CHUNK):
            j = min(b, i + _CHUNK)
            ws, xs = w[:j - i], fx[i:j]
            np.multiply(xs, t(-0.5), out=ws)
            ws *= xs
            np.exp(ws, out=ws)
            ws *= t(1 / math.sqrt(2 * math.pi))
            ws *= xs
            ws += fc[i:j]
            np.multiply(fg[i:j], ws, out=out[i:j])

    _chunk_spans(n, span)
    return out.reshape(gy.shape)


_GELU_C = math.sqrt(2.0 / math.pi)


def _gelu_tanh_f32_numpy(x, keep=True):
    """(0.5 x (1 + tanh(c (x + 0.044715 x^3))), the tanh or None without ``keep``) for a float32
    NumPy array, chunk by chunk in scratch buffers: the operations of GELU.compute's generic form,
    in order."""
    t = np.float32
    flat = np.ascontiguousarray(x).reshape(-1)
    y, th = np.empty_like(flat), (np.empty_like(flat) if keep else None)

    def span(a, b):
        w = np.empty(min(b - a, _CHUNK), np.float32)
        tbuf = None if keep else np.empty(min(b - a, _CHUNK), np.float32)
        for i in range(a, b, _CHUNK):
            j = min(b, i + _CHUNK)
            xs, ws = flat[i:j], w[:j - i]
            ts = th[i:j] if keep else tbuf[:j - i]
            np.multiply(xs, xs, out=ws)
            ws *= xs
            ws *= t(0.044715)
            ws += xs
            ws *= t(_GELU_C)
            np.tanh(ws, out=ts)
            np.multiply(xs, t(0.5), out=ws)
            ys = y[i:j]
            np.add(ts, t(1), out=ys)
            ys *= ws

    _chunk_spans(flat.size, span)
    return y.reshape(x.shape), (th.reshape(x.shape) if keep else None)


def _gelu_tanh_grad_f32_numpy(x, th, gy):
    """GELU.backward's generic tanh form chunk by chunk (its operations, in order)."""
    t = np.float32
    fx, ft, fg = (np.ascontiguousarray(a).reshape(-1) for a in (x, th, gy))
    out = np.empty_like(fg)

    def span(a, b):
        w, v = (np.empty(min(b - a, _CHUNK), np.float32) for _ in range(2))
        for i in range(a, b, _CHUNK):
            j = min(b, i + _CHUNK)
            xs, ts, ws, vs = fx[i:j], ft[i:j], w[:j - i], v[:j - i]
            np.multiply(xs, t(3 * 0.044715), out=ws)  # d_inner = c (1 + 3 k x x)
            ws *= xs
            ws += t(1)
            ws *= t(_GELU_C)
            np.multiply(ts, ts, out=vs)  # 0.5 x (1 - th^2) d_inner
            np.subtract(t(1), vs, out=vs)
            o = out[i:j]
            np.multiply(xs, t(0.5), out=o)
            o *= vs
            o *= ws
            np.add(ts, t(1), out=vs)  # + 0.5 (1 + th)
            vs *= t(0.5)
            np.add(vs, o, out=o)
            o *= fg[i:j]

    _chunk_spans(fx.size, span)
    return out.reshape(gy.shape)


class GELU(_Act):
    def __init__(self, approximate):
        self.approximate = approximate

    def compute(self, x):
        xp, t = self.xp, x.dtype.type
        self.x = x
        keep = any(self.needs_input_grad)  # (what backward reads; not kept at inference)
        if not self.approximate and x.dtype == np.float32 and xp is np:
            y, self.cdf = _gelu_exact_f32_numpy(x, keep)
            return y
        if self.approximate and x.dtype == np.float32 and xp is np:
            y, self.th = _gelu_tanh_f32_numpy(x, keep)
            return y
        if self.approximate:
            c = t(_GELU_C)
            # (x * x * x: NumPy's float x ** 3 takes a slow path for negative bases, about 60 ns an
            # element against 0.3)
            inner = c * (x + t(0.044715) * (x * x * x))
            self.th = xp.tanh(inner)
            return t(0.5) * x * (t(1) + self.th)
        self.cdf = _normal_cdf(xp, x)
        return x * self.cdf

    def backward(self, gy):
        xp, x, t = self.xp, self.x, gy.dtype.type
        if self.approximate and xp is np and x.dtype == np.float32 == gy.dtype:
            return _gelu_tanh_grad_f32_numpy(x, self.th, gy)
        if self.approximate:
            c = t(_GELU_C)
            th = self.th
            d_inner = c * (t(1) + t(3 * 0.044715) * x * x)
            return gy * (t(0.5) * (t(1) + th) + t(0.5) * x * (t(1) - th * th) * d_inner)
        if xp is np and x.dtype == np.float32 == gy.dtype:
            return _gelu_exact_grad_f32_numpy(x, self.cdf, gy)
        pdf = xp.exp(t(-0.5) * x * x) * t(1 / math.sqrt(2 * math.pi))
        return gy * (self.cdf + x * pdf)


def _stable_sigmoid(xp, x):
    """1 / (1 + e^-x) from exponentials of non-positive numbers only: e^min(x, 0) / (1 + e^-|x|),
    which is 1 / (1 + e) for x >= 0 and e / (1 + e) below, with no ``where``."""
    t = x.dtype.type
    e = xp.exp(-xp.abs(x))
    e += t(1)
    num = xp.exp(xp.minimum(x, t(0)))
    num /= e
    return num


class Sigmoid(_Act):
    def compute(self, x):
        self.y = _stable_sigmoid(self.xp, x)
        return self.y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


class HardSigmoid(_Act):
    """Keras 3: relu6(x + 3) / 6."""

    def compute(self, x):
        t = x.dtype.type
        self.mask = (x > -3) & (x < 3)
        return self.xp.clip(x / t(6) + t(0.5), t(0), t(1))

    def backward(self, gy):
        return gy * self.mask * gy.dtype.type(1 / 6)


class Tanh(_Act):
    def compute(self, x):
        self.y = self.xp.tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


class Softmax(_Act):
    def __init__(self, axis):
        self.axis = axis

    def compute(self, x):
        xp = self.xp
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        self.y = e
        return e

    def backward(self, gy):
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(_Act):
    def __init__(self, axis):
        self.axis = axis

    def compute(self, x):
        xp = self.xp
        z = x - x.max(axis=self.axis, keepdims=True)
        y = z - xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))
        self.y = y
        return y

    def backward(self, gy):
        return gy - self.xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


class SiLU(_Act):
    def compute(self, x):
        self.s = _stable_sigmoid(self.xp, x)
        self.x = x
        return x * self.s

    def backward(self, gy):
        # gy * s * (1 + x * (1 - s)) with two temporaries instead of five (the same operations
        # in the same order: the same bits)
        s = self.s
        t = 1 - s
        t *= self.x
        t += 1
        g = gy * s
        g *= t
        return g


class Softplus(_Act):
    def compute(self, x):
        xp = self.xp
        self.x = x
        return xp.maximum(x, x.dtype.type(0)) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        return gy * _stable_sigmoid(self.xp, self.x)


def _act(op, cls, x, *args):
    (x,) = tensors(op, x)
    return cls(*args).apply(x)


def relu(x):
    return _act("relu", ReLU, x)


def relu6(x):
    return _act("relu6", ReLU6, x)


def leaky_relu(x, negative_slope=0.2):
    return _act("leaky_relu", LeakyReLU, x, negative_slope)


def elu(x, alpha=1.0):
    return _act("elu", ELU, x, alpha)


def selu(x):
    return _act("selu", SELU, x)


def gelu(x, approximate=True):
    """GELU; ``approximate=True`` (the Keras 3 default) is the tanh form, False is exact (erf)."""
    return _act("gelu", GELU, x, approximate)


def sigmoid(x):
    return _act("sigmoid", Sigmoid, x)


def hard_sigmoid(x):
    return _act("hard_sigmoid", HardSigmoid, x)


def tanh(x):
    return _act("tanh", Tanh, x)


def softmax(x, axis=-1):
    return _act("softmax", Softmax, x, axis)


def log_softmax(x, axis=-1):
    return _act("log_softmax", LogSoftmax, x, axis)


def silu(x):
    return _act("silu", SiLU, x)


swish = silu


def softplus(x):
    return _act("softplus", Softplus, x)


def linear(x):
    return x
