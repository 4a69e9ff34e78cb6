"""Reductions over axes: sum, mean, max, min, var, and argmax/argmin (no gradient)."""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import backend
from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import normalize_axis, tensors


def _expand(g, axes, ndim, keepdims):
    """Re-insert reduced axes into ``g`` so it broadcasts against the input."""
    if keepdims or axes is None and g.ndim == ndim:
        return g
    if axes is None:
        return g.reshape((1,) * ndim)
    shape = list(g.shape)
    for a in axes:
        shape.insert(a, 1)
    return g.reshape(shape)


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.xp = get_xp(x)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        g = _expand(gy, self.axes, len(self.shape), self.keepdims)
        return self.xp.broadcast_to(g, self.shape)


class Mean(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.xp = get_xp(x)
        n = x.size if self.axes is None else math.prod(x.shape[a] for a in self.axes)
        self.scale = 1.0 / builtins.max(n, 1)
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        g = _expand(gy, self.axes, len(self.shape), self.keepdims) * gy.dtype.type(self.scale)
        return self.xp.broadcast_to(g, self.shape)


class _MaxMin(Function):
    fn = "max"

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        xp = get_xp(x)
        self.xp = xp
        y = getattr(x, self.fn)(axis=self.axes, keepdims=True)
        # ties share the gradient equally (as TensorFlow's reduce_max does)
        mask = (x == y).astype(x.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        self.mask = mask
        if not self.keepdims:
            y = y.reshape([s for i, s in enumerate(y.shape) if self.axes is not None and i not in self.axes])
        return y

    def backward(self, gy):
        g = _expand(gy, self.axes, self.mask.ndim, self.keepdims)
        return g * self.mask


class Max(_MaxMin):
    fn = "max"


class Min(_MaxMin):
    fn = "min"


def _reduce(op, cls, x, axis, keepdims):
    d = x.data if isinstance(x, Tensor) else x
    if getattr(d, "dtype", None) is None or d.dtype.kind != "f":
        d = d if getattr(d, "dtype", None) is not None else np.asarray(d)
        if d.dtype.kind in "iub" and op != "mean":  # Keras: integer sums/maxima stay integer (bool sums int32)
            axes = normalize_axis(op, axis, d.ndim)
            fn = {"sum": "sum", "max": "max", "min": "min"}[op]
            kw = {"dtype": np.int32} if op == "sum" and d.dtype.kind == "b" else {}
            return Tensor(get_xp(d).asarray(getattr(d, fn)(axis=axes, keepdims=keepdims, **kw)))
        x = Tensor(d.astype(backend.floatx()))
    (x,) = tensors(op, x)
    axes = normalize_axis(op, axis, x.ndim)
    return cls(axes, keepdims).apply(x)


def sum(x, axis=None, keepdims=False):
    return _reduce("sum", Sum, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduce("mean", Mean, x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    from ._util import OpError

    if isinstance(x, Tensor) and x.size == 0:
        raise OpError(f"max: cannot reduce an empty tensor of shape {x.shape}")
    return _reduce("max", Max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    from ._util import OpError

    if isinstance(x, Tensor) and x.size == 0:
        raise OpError(f"min: cannot reduce an empty tensor of shape {x.shape}")
    return _reduce("min", Min, x, axis, keepdims)


class Var(Function):
    def __init__(self, axes, keepdims, ddof):
        self.axes, self.keepdims, self.ddof = axes, keepdims, ddof

    def forward(self, x):
        self.xp = get_xp(x)
        n = x.size if self.axes is None else math.prod(x.shape[a] for a in self.axes)
        self.centered = x - x.mean(axis=self.axes, keepdims=True)
        self.scale = 2.0 / builtins.max(n - self.ddof, 1)
        return x.var(axis=self.axes, keepdims=self.keepdims, ddof=self.ddof)

    def backward(self, gy):
        g = _expand(gy, self.axes, self.centered.ndim, self.keepdims)
        return g * self.centered * gy.dtype.type(self.scale)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance (biased by default, as Keras ``ops.var``); integer inputs give floatx."""
    if isinstance(x, Tensor) and x.dtype.kind != "f":
        x = Tensor(x.data.astype(backend.floatx()))
    (x,) = tensors("var", x)
    return Var(normalize_axis("var", axis, x.ndim), keepdims, ddof).apply(x)


def std(x, axis=None, keepdims=False, ddof=0):
    from .elementwise import sqrt

    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along ``axis`` (of the flattened tensor when None, as Keras): int32,
    without gradient."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(get_xp(data).argmax(data, axis=axis, keepdims=keepdims).astype(np.int32))


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along ``axis`` (as ``argmax``)."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(get_xp(data).argmin(data, axis=axis, keepdims=keepdims).astype(np.int32))
