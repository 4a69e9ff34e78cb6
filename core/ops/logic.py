"""Comparisons, logical and bitwise ops and predicates (``keras.ops.equal``, ``logical_and``,
``isnan``, ``bitwise_xor``, ...): boolean or integer results, no gradient."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor
from ..backend import get_xp
from .math import _data2, _plain


def _binary(name, fn):
    def op(x1, x2):
        a, b = _data2(name, x1, x2)
        return Tensor(fn(get_xp(a, b), a, b))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` elementwise with broadcasting (Keras ``ops.{name}``); no gradient."
    return op


def _unary(name, fn):
    def op(x):
        a = _plain(x)
        return Tensor(fn(get_xp(a), a))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` elementwise (Keras ``ops.{name}``); no gradient."
    return op


equal = _binary("equal", lambda xp, a, b: a == b)
not_equal = _binary("not_equal", lambda xp, a, b: a != b)
less = _binary("less", lambda xp, a, b: a < b)
less_equal = _binary("less_equal", lambda xp, a, b: a <= b)
greater = _binary("greater", lambda xp, a, b: a > b)
greater_equal = _binary("greater_equal", lambda xp, a, b: a >= b)
logical_and = _binary("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or = _binary("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_xor = _binary("logical_xor", lambda xp, a, b: xp.logical_xor(a, b))
logical_not = _unary("logical_not", lambda xp, a: xp.logical_not(a))
bitwise_and = _binary("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b))
bitwise_or = _binary("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b))
bitwise_xor = _binary("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b))
bitwise_left_shift = _binary("bitwise_left_shift", lambda xp, a, b: xp.left_shift(a, b))
bitwise_right_shift = _binary("bitwise_right_shift", lambda xp, a, b: xp.right_shift(a, b))
left_shift = _binary("left_shift", lambda xp, a, b: xp.left_shift(a, b))
right_shift = _binary("right_shift", lambda xp, a, b: xp.right_shift(a, b))
bitwise_invert = _unary("bitwise_invert", lambda xp, a: xp.invert(a))
bitwise_not = _unary("bitwise_not", lambda xp, a: xp.invert(a))
isnan = _unary("isnan", lambda xp, a: xp.isnan(a))
isinf = _unary("isinf", lambda xp, a: xp.isinf(a))
isfinite = _unary("isfinite", lambda xp, a: xp.isfinite(a))
isneginf = _unary("isneginf", lambda xp, a: xp.isneginf(a) if a.dtype.kind == "f" else xp.zeros(a.shape, bool))
isposinf = _unary("isposinf", lambda xp, a: xp.isposinf(a) if a.dtype.kind == "f" else xp.zeros(a.shape, bool))
isreal = _unary("isreal", lambda xp, a: xp.isreal(a))


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """|x1 - x2| <= atol + rtol * |x2| elementwise (Keras ``ops.isclose``)."""
    a, b = _data2("isclose", x1, x2)
    return Tensor(get_xp(a, b).isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether every element is close (Keras ``ops.allclose``): a boolean scalar Tensor."""
    a, b = _data2("allclose", x1, x2)
    return Tensor(np.asarray(bool(get_xp(a, b).allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))))


def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each element of ``x1`` is in ``x2`` (Keras ``ops.isin``)."""
    a, b = _plain(x1), _plain(x2)
    return Tensor(get_xp(a, b).isin(a, b, assume_unique=assume_unique, invert=invert))


