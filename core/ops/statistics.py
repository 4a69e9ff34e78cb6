"""Keras's reductions beyond sum/mean/max/min/var: ``prod``, ``cumsum``/``cumprod``, ``any``/``all``,
``logsumexp``, ``median``/``quantile``/``percentile``, the ``nan*`` family, ``ptp``, ``average``,
``count_nonzero``, ``histogram``; and sorting: ``sort``, ``argsort``, ``top_k``, ``in_top_k``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, normalize_axis
from .elementwise import add, div, exp, log, mul, sqrt, sub, where
from .indexing import take_along_axis
from .math import _plain, to_float
from .reductions import max as _max, mean, min as _min, sum as _sum, var
from .shape import reshape


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _flat_axis(x, axis):
    """(x, axis) with x flattened when axis is None."""
    if axis is None:
        return reshape(x, (-1,)), 0
    return x, normalize_axis("reduce", axis, x.ndim)[0]


def _rows(xp, a, axis):
    """``a`` with ``axis`` moved last and the rest flattened: (rows, n), plus the moved shape."""
    m = xp.moveaxis(a, axis, -1)
    return m.reshape(-1, m.shape[-1]), m.shape


def _exclusive_products(xp, r):
    """For rows r (M, n): p[:, i] = prod_{j != i} r[:, j], exactly (no division)."""
    ones = xp.ones((r.shape[0], 1), r.dtype)
    left = xp.concatenate([ones, xp.cumprod(r[:, :-1], axis=1)], axis=1)
    right = xp.concatenate([xp.cumprod(r[:, :0:-1], axis=1)[:, ::-1], ones], axis=1)
    return left * right


class Prod(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.x = x
        return x.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        xp = get_xp(gy)
        x, axes = self.x, self.axes if self.axes is not None else tuple(range(self.x.ndim))
        keep = [a for a in range(x.ndim) if a not in axes]
        perm = keep + list(axes)
        xt = x.transpose(perm)
        r = xt.reshape(int(np.prod([x.shape[a] for a in keep], dtype=np.int64)), -1)
        others = _exclusive_products(xp, r).reshape(xt.shape)
        g = gy if self.keepdims else gy.reshape(tuple(1 if a in axes else x.shape[a] for a in range(x.ndim)))
        g = g.transpose(perm).reshape(xt.shape[:len(keep)] + (1,) * len(axes))
        return (others * g).transpose(np.argsort(perm))


def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis`` (Keras ``ops.prod``); differentiable (zeros handled exactly)."""
    x = _t(x)
    if dtype is not None:
        x = Tensor(x.data.astype(dtype)) if x.dtype.kind != "f" else x.astype(dtype)
    axes = normalize_axis("prod", axis, x.ndim)
    if x.dtype.kind != "f":
        return Tensor(x.data.prod(axis=axes, keepdims=keepdims))
    return Prod(axes, keepdims).apply(x)


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return get_xp(x).cumsum(x, axis=self.axis)

    def backward(self, gy):
        xp = get_xp(gy)
        return xp.flip(xp.cumsum(xp.flip(gy, self.axis), axis=self.axis), self.axis)


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along ``axis`` (of the flattened ``x`` when None); differentiable."""
    x = _t(x)
    if dtype is not None and x.dtype != np.dtype(dtype):
        x = x.astype(dtype) if x.dtype.kind == "f" and np.dtype(dtype).kind == "f" else Tensor(x.data.astype(dtype))
    x, axis = _flat_axis(x, axis)
    if x.dtype.kind != "f":
        return Tensor(x.xp.cumsum(x.data, axis=axis, dtype=x.dtype if x.dtype.kind != "b" else np.int32))
    return Cumsum(axis).apply(x)


class Cumprod(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.x = x
        y = get_xp(x).cumprod(x, axis=self.axis)
        self.y = y
        return y

    def backward(self, gy):
        # dy_j/dx_i = prod_{k <= j, k != i} x_k for j >= i: per row, the exclusive products of the
        # prefixes, built as an (n, n) triangle per row (exact where x has zeros)
        xp = get_xp(gy)
        r, shape = _rows(xp, self.x, self.axis)
        g, _ = _rows(xp, gy, self.axis)
        n = r.shape[1]
        tri = xp.tril(xp.ones((n, n), bool))  # [j, i]: i <= j
        pref = xp.where(tri[None], r[:, None, :], 1)  # row j holds x_0..x_j, ones after
        ex = _exclusive_products(xp, pref.reshape(-1, n)).reshape(r.shape[0], n, n)
        gx = (g[:, :, None] * xp.where(tri[None], ex, 0)).sum(axis=1)
        return xp.moveaxis(gx.reshape(shape), -1, self.axis)


def cumprod(x, axis=None, dtype=None):
    """Cumulative product along ``axis``; differentiable."""
    x = _t(x)
    if dtype is not None and x.dtype != np.dtype(dtype):
        x = Tensor(x.data.astype(dtype))
    x, axis = _flat_axis(x, axis)
    if x.dtype.kind != "f":
        return Tensor(x.xp.cumprod(x.data, axis=axis))
    return Cumprod(axis).apply(x)


def _bool_reduce(name, fn):
    def op(x, axis=None, keepdims=False):
        a = _plain(x)
        axes = normalize_axis(name, axis, a.ndim)
        return Tensor(get_xp(a).asarray(fn(a.astype(bool), axis=axes, keepdims=keepdims)))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Whether {'any' if name == 'any' else 'every'} element along ``axis`` is true (Keras ``ops.{name}``)."
    return op


any = _bool_reduce("any", lambda a, axis, keepdims: a.any(axis=axis, keepdims=keepdims))
all = _bool_reduce("all", lambda a, axis, keepdims: a.all(axis=axis, keepdims=keepdims))


def count_nonzero(x, axis=None):
    a = _plain(x)
    axes = normalize_axis("count_nonzero", axis, a.ndim)
    return Tensor(get_xp(a).asarray((a != 0).sum(axis=axes)).astype(np.int32))


def amax(x, axis=None, keepdims=False):
    return _max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    return _min(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    """The maximum over ``axis`` (Keras ``ops.max``; ``initial`` is a lower bound); ties share the gradient."""
    from .elementwise import maximum

    out = _max(x, axis=axis, keepdims=keepdims)
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    """The minimum over ``axis`` (``initial`` is an upper bound)."""
    from .elementwise import minimum

    out = _min(x, axis=axis, keepdims=keepdims)
    return out if initial is None else minimum(out, initial)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, shifted by the (constant) maximum for stability; differentiable."""
    x = to_float("logsumexp", x)
    axes = normalize_axis("logsumexp", axis, x.ndim)
    xp = x.xp
    m = x.data.max(axis=axes, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, x.dtype)
    m = xp.where(xp.isfinite(m), m, 0)
    s = _sum(exp(sub(x, Tensor(m))), axis=axes, keepdims=True)
    out = add(log(s), Tensor(m))
    if not keepdims:
        out = reshape(out, tuple(d for i, d in enumerate(x.shape) if axes is not None and i not in axes))
    return out


def ptp(x, axis=None, keepdims=False):
    return sub(max(x, axis=axis, keepdims=keepdims), min(x, axis=axis, keepdims=keepdims))


def average(x, axis=None, weights=None):
    """The (weighted) mean over ``axis`` (Keras ``ops.average``); differentiable."""
    x = to_float("average", x)
    if weights is None:
        return mean(x, axis=axis)
    w = to_float("average", weights).astype(x.dtype)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        a = normalize_axis("average", axis, x.ndim)[0]
        w = reshape(w, tuple(w.shape[0] if i == a else 1 for i in range(x.ndim)))
    num = _sum(mul(x, w), axis=axis)
    den = _sum(mul(Tensor(np.ones(x.shape, x.dtype)), w), axis=axis)
    return div(num, den)


# ----------------------------------------------------------------------------- sorting
def _desc_order(xp, a, axis):
    """Indices sorting ``a`` descending along ``axis``, ties keeping the lower index first (as TF's top_k)."""
    key = -a if a.dtype.kind == "f" else -(a.astype(np.int64))
    return xp.argsort(key, axis=axis, kind="stable")


def argsort(x, axis=-1):
    """Indices that sort ``x`` ascending along ``axis`` (stable), int32."""
    a = _plain(x)
    if axis is None:
        a, axis = a.reshape(-1), 0
    return Tensor(get_xp(a).argsort(a, axis=axis, kind="stable").astype(np.int32))


def sort(x, axis=-1):
    """``x`` sorted ascending along ``axis``; differentiable (the gradient follows the permutation)."""
    x = _t(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    idx = x.xp.argsort(x.data, axis=axis, kind="stable")
    return take_along_axis(x, idx, axis=axis) if x.dtype.kind == "f" else Tensor(np.take_along_axis(x.data, idx, axis))


def argpartition(x, kth, axis=-1):
    a = _plain(x)
    return Tensor(get_xp(a).argpartition(a, kth, axis=axis).astype(np.int32))


def top_k(x, k, sorted=True):
    """The ``k`` largest values along the last axis and their indices (int32): ties take the lower
    index first, as Keras on TensorFlow. Differentiable in the values."""
    x = _t(x)
    k = int(k)
    if x.ndim < 1 or not 0 <= k <= x.shape[-1]:
        raise OpError(f"top_k: k={k} must be in [0, {x.shape[-1] if x.ndim else 0}] for a tensor of shape {x.shape}")
    xp = x.xp
    idx = _desc_order(xp, x.data, -1)[..., :k]
    if not sorted:
        idx = xp.sort(idx, axis=-1)
    vals = take_along_axis(x, idx, axis=-1) if x.dtype.kind == "f" else Tensor(xp.take_along_axis(x.data, idx, -1))
    return vals, Tensor(idx.astype(np.int32))


def in_top_k(targets, predictions, k):
    """Whether each target class is among the ``k`` highest predictions of its row (TF's rule:
    classes tied at the boundary all count as in; a non-finite prediction never does)."""
    p = _plain(predictions)
    t = _plain(targets).astype(np.int64)
    xp = get_xp(p)
    if p.ndim != 2 or t.shape != (p.shape[0],):
        raise OpError(f"in_top_k: predictions must be (batch, classes) and targets (batch,), got {p.shape} "
                      f"and {t.shape}")
    tp = xp.take_along_axis(p, t[:, None], axis=1)
    above = (p > tp).sum(axis=1)
    ok = (above < int(k)) & xp.isfinite(tp[:, 0]) & (t >= 0) & (t < p.shape[1])
    return Tensor(ok)


# ----------------------------------------------------------------------------- quantiles
_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op, x, q, axis, method, keepdims, ignore_nan):
    x = to_float(op, x)
    if method not in _METHODS:
        raise OpError(f"{op}: method must be one of {_METHODS}, got {method!r}")
    qa = np.asarray(backend.to_numpy(_plain(q)), dtype=np.float64)
    if qa.size and (qa.min() < 0 or qa.max() > 1):
        raise OpError(f"{op}: quantiles must be in [0, 1], got {qa}")
    xp = x.xp
    nd = x.ndim
    axes = normalize_axis(op, axis, nd) if axis is not None else tuple(range(nd))
    keep = [i for i in range(nd) if i not in axes]
    from .shape import transpose

    xt = transpose(x, keep + list(axes))
    lead = tuple(x.shape[i] for i in keep)
    n = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    r = reshape(xt, lead + (n,))
    data = r.data
    order = xp.argsort(data, axis=-1, kind="stable")  # NaN sorts last
    s = take_along_axis(r, order, axis=-1)
    count = (~xp.isnan(data)).sum(axis=-1, keepdims=True) if ignore_nan else xp.full(lead + (1,), n)
    outs = []
    for qv in qa.reshape(-1):
        pos = qv * (count - 1).astype(np.float64)
        lo = xp.floor(pos).astype(np.int64)
        hi = xp.ceil(pos).astype(np.int64)
        if method == "lower":
            hi = lo
        elif method == "higher":
            lo = hi
        elif method == "nearest":
            lo = hi = xp.around(pos).astype(np.int64)
        frac = (pos - lo) if method == "linear" else xp.full(pos.shape, 0.5 if method == "midpoint" else 0.0)
        lo_c, hi_c = xp.clip(lo, 0, n - 1), xp.clip(hi, 0, n - 1)
        v = add(mul(take_along_axis(s, lo_c, axis=-1), Tensor((1 - frac).astype(x.dtype))),
                mul(take_along_axis(s, hi_c, axis=-1), Tensor(frac.astype(x.dtype))))
        if ignore_nan:
            v = where(Tensor(count == 0), Tensor(np.asarray(np.nan, x.dtype)), v)
        v = reshape(v, lead)
        if keepdims:
            v = reshape(v, tuple(1 if i in axes else x.shape[i] for i in range(nd)))
        outs.append(v)
    if qa.ndim == 0:
        return outs[0]
    from .shape import stack

    return reshape(stack(outs, axis=0), qa.shape + tuple(outs[0].shape))


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles (q in [0, 1]) over ``axis`` by NumPy's methods; differentiable."""
    return _quantile("quantile", x, q, axis, method, keepdims, False)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return _quantile("percentile", x, np.asarray(backend.to_numpy(_plain(q)), np.float64) / 100.0, axis, method,
                     keepdims, False)


def median(x, axis=None, keepdims=False):
    return _quantile("median", x, 0.5, axis, "linear", keepdims, False)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    return _quantile("nanquantile", x, q, axis, method, keepdims, True)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return _quantile("nanpercentile", x, np.asarray(backend.to_numpy(_plain(q)), np.float64) / 100.0, axis, method,
                     keepdims, True)


def nanmedian(x, axis=None, keepdims=False):
    return _quantile("nanmedian", x, 0.5, axis, "linear", keepdims, True)


# ----------------------------------------------------------------------------- NaN-ignoring reductions
def _nan_masked(op, x, fill):
    x = to_float(op, x)
    nan = x.xp.isnan(x.data)
    return where(Tensor(nan), Tensor(np.asarray(fill, x.dtype)), x), nan


def nansum(x, axis=None, keepdims=False):
    """The sum over ``axis`` ignoring NaN; differentiable."""
    m, _ = _nan_masked("nansum", x, 0.0)
    return _sum(m, axis=axis, keepdims=keepdims)


def nanmean(x, axis=None, keepdims=False):
    m, nan = _nan_masked("nanmean", x, 0.0)
    axes = normalize_axis("nanmean", axis, m.ndim)
    cnt = (~nan).sum(axis=axes, keepdims=keepdims).astype(m.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return div(_sum(m, axis=axis, keepdims=keepdims), Tensor(cnt))


def nanvar(x, axis=None, keepdims=False):
    m, nan = _nan_masked("nanvar", x, 0.0)
    mu = nanmean(x, axis=axis, keepdims=True)
    d = where(Tensor(nan), Tensor(np.asarray(0.0, m.dtype)), sub(m, mu))
    axes = normalize_axis("nanvar", axis, m.ndim)
    cnt = (~nan).sum(axis=axes, keepdims=keepdims).astype(m.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return div(_sum(mul(d, d), axis=axis, keepdims=keepdims), Tensor(cnt))


def nanstd(x, axis=None, keepdims=False):
    return sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def nanmax(x, axis=None, keepdims=False):
    m, _ = _nan_masked("nanmax", x, -np.inf)
    return _max(m, axis=axis, keepdims=keepdims)


def nanmin(x, axis=None, keepdims=False):
    m, _ = _nan_masked("nanmin", x, np.inf)
    return _min(m, axis=axis, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    m, _ = _nan_masked("nanprod", x, 1.0)
    return prod(m, axis=axis, keepdims=keepdims)


def nancumsum(x, axis=None, dtype=None):
    m, _ = _nan_masked("nancumsum", x, 0.0)
    return cumsum(m, axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    m, _ = _nan_masked("nancumprod", x, 1.0)
    return cumprod(m, axis=axis, dtype=dtype)


def nanargmax(x, axis=None, keepdims=False):
    a = _plain(x)
    return Tensor(np.asarray(np.nanargmax(backend.to_numpy(a), axis=axis, keepdims=keepdims)).astype(np.int32))


def nanargmin(x, axis=None, keepdims=False):
    a = _plain(x)
    return Tensor(np.asarray(np.nanargmin(backend.to_numpy(a), axis=axis, keepdims=keepdims)).astype(np.int32))


def std(x, axis=None, keepdims=False):
    return sqrt(var(to_float("std", x), axis=axis, keepdims=keepdims))


def histogram(x, bins=10, range=None):
    """Counts and bin edges of the values of 1-D ``x`` (Keras ``ops.histogram``); no gradient."""
    a = backend.to_numpy(_plain(x))
    if a.ndim != 1:
        raise OpError(f"histogram: x must be 1-D, got shape {a.shape}")
    counts, edges = np.histogram(a, bins=int(bins), range=range)
    return Tensor(counts.astype(np.int32)), Tensor(edges.astype(a.dtype if a.dtype.kind == "f" else backend.floatx()))


def corrcoef(x):
    """Pearson correlation coefficients of the rows of ``x``; differentiable."""
    from .linalg import matmul
    from .shape import transpose

    x = to_float("corrcoef", x)
    c = sub(x, mean(x, axis=-1, keepdims=True))
    cov = matmul(c, transpose(c))
    d = sqrt(_sum(mul(c, c), axis=-1))
    from .shape import expand_dims

    return div(div(cov, expand_dims(d, -1)), expand_dims(d, 0))


