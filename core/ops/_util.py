"""Helpers shared by the op modules: argument checks with clear errors, broadcasting sums,
branch-free selections."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor, as_tensor


class OpError(ValueError):
    """Bad input to an op: the message names the op and the shapes/dtypes received."""


def sum_to(xp, g, shape):
    """Sum the broadcast gradient ``g`` back down to ``shape``."""
    if g.shape == tuple(shape):
        return g
    ndim_extra = g.ndim - len(shape)
    axes = tuple(range(ndim_extra)) + tuple(
        i + ndim_extra for i, s in enumerate(shape) if s == 1 and g.shape[i + ndim_extra] != 1)
    g = g.sum(axis=axes, keepdims=True) if axes else g
    if ndim_extra:
        g = g.reshape(g.shape[ndim_extra:])
    return g


def tensors(op: str, *xs, float_required=True):
    """Convert op arguments to Tensors, constants taking the dtype of the first float Tensor.
    Two float Tensors of different dtypes are refused (no silent upcast)."""
    like = next((x for x in xs if isinstance(x, Tensor) and x.dtype.kind == "f"), None)
    out = [as_tensor(x, like) for x in xs]
    if float_required:
        for i, t in enumerate(out):
            if t.dtype.kind != "f":
                if like is None:
                    raise OpError(f"{op}: expected floating inputs, got dtype {t.dtype} for argument {i} "
                                  f"(shape {t.shape}); cast with .astype('float32')")
                out[i] = as_tensor(t.data, like)
        kinds = {t.dtype for t in out}
        if len(kinds) > 1:
            desc = ", ".join(f"{t.dtype}{list(t.shape)}" for t in out)
            raise OpError(f"{op}: inputs have different float dtypes ({desc}); cast one explicitly")
    return out


def broadcast_shape(op: str, *shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise OpError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together") from None


def normalize_axis(op: str, axis, ndim: int):
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative ints, or None."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise OpError(f"{op}: axis {a} is out of range for a tensor of rank {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise OpError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def pair(op: str, name: str, v, n: int = 2):
    """An int or an n-sequence of ints as a tuple of n ints (strides, pool sizes, ...)."""
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(x) for x in v)
    if len(t) != n:
        raise OpError(f"{op}: {name} must be an int or {n} ints, got {v!r}")
    return t


def check_rank(op: str, name: str, t, *ranks):
    if t.ndim not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise OpError(f"{op}: {name} must have rank {want}, got shape {tuple(t.shape)}")


# NumPy's ``where`` over a mask of mixed values costs a mispredicted branch an element (many
# times a multiply or max pass; measurements: benchmarks/README.md); these select by bit patterns.
def blend(xp, mask, a, b):
    """``xp.where(mask, a, b)`` for float arrays of one shape and dtype (``mask`` of that shape):
    on NumPy as a blend of their bit patterns, every value kept exactly (infinities and NaN too)."""
    if xp is not np:
        return xp.where(mask, a, b)
    a, b = np.asarray(a), np.asarray(b)  # (NumPy scalars too)
    it = np.dtype(f"i{a.dtype.itemsize}")
    m = np.asarray(mask).astype(it)
    np.negative(m, out=m)  # 0 or all ones
    out = np.bitwise_and(a.view(it), m)
    np.invert(m, out=m)
    np.bitwise_and(b.view(it), m, out=m)
    out |= m
    return out.view(a.dtype)


def zero_where_not(xp, mask, a):
    """``xp.where(mask, a, 0)`` for a float array ``a`` that may be overwritten (``mask``
    broadcasting to it): on NumPy in place, by ANDing a's bit patterns with the mask's. Returns
    the result."""
    if xp is not np:
        return xp.where(mask, a, a.dtype.type(0))
    a = np.asarray(a)  # (a NumPy scalar: a 0-d copy)
    it = np.dtype(f"i{a.dtype.itemsize}")
    m = np.asarray(mask).astype(it)
    np.negative(m, out=m)
    np.bitwise_and(a.view(it), m, out=a.view(it))
    return a
