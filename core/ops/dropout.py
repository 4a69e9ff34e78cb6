"""Inverted dropout (Keras 3 semantics): kept values are scaled by 1 / (1 - rate)."""
from __future__ import annotations

import numbers

import numpy as np

from ..random import generator as zrandom
from ..autodiff import Function
from ..backend import get_xp
from ._util import OpError, tensors, zero_where_not


class Dropout(Function):
    def __init__(self, mask, keep):
        self.mask, self.keep = mask, keep  # mask: bool array in the noise shape (broadcasts to x)

    def forward(self, x):
        xp = get_xp(x)
        keep = x.dtype.type(self.keep)
        y = zero_where_not(xp, self.mask, x / keep)  # (not ``where``: a random mask mispredicts)
        if not self.needs_input_grad[0]:
            del self.mask
        return y

    def backward(self, gy):
        xp = get_xp(gy)
        return zero_where_not(xp, self.mask, gy / gy.dtype.type(self.keep))


def _noise_shape(op, noise_shape, shape):
    if noise_shape is None:
        return tuple(shape)
    try:
        ns = list(noise_shape)
    except TypeError:
        raise OpError(f"{op}: noise_shape must be a tuple of ints/None, got {noise_shape!r}") from None
    if len(ns) != len(shape):
        raise OpError(f"{op}: noise_shape {tuple(noise_shape)} must have the rank of x {tuple(shape)}")
    out = []
    for n, s in zip(ns, shape):
        n = s if n is None else int(n)
        if n not in (1, s):
            raise OpError(f"{op}: noise_shape {tuple(noise_shape)} does not broadcast to x {tuple(shape)} "
                          "(each entry must be None, 1 or the size of x there)")
        out.append(n)
    return tuple(out)


def dropout(x, rate, training=True, noise_shape=None, seed=None):
    """Zero each entry with probability ``rate`` and scale the rest by 1 / (1 - rate).

    ``noise_shape`` (as Keras: None entries take x's size, 1 shares the mask along that axis,
    as SpatialDropout does) sets the mask shape; ``seed`` an int (or a numpy Generator) for a
    local generator, else the engine generator of ``core.random`` is used. Identity when
    ``training`` is False or ``rate`` is 0.
    """
    op = "dropout"
    (x,) = tensors(op, x)
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise OpError(f"{op}: rate must be a number in [0, 1), got {rate!r}")
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise OpError(f"{op}: rate must be in [0, 1), got {rate}")
    shape = _noise_shape(op, noise_shape, x.shape)
    if not training or rate == 0.0:
        return x
    if seed is None:
        gen = None
    elif isinstance(seed, np.random.Generator):
        gen = seed
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0:
        gen = np.random.default_rng(int(seed))
    else:
        raise OpError(f"{op}: seed must be None, a non-negative int or a numpy Generator, got {seed!r}")
    keep = 1.0 - rate
    mask = zrandom.bernoulli_mask(shape, keep, dtype=bool, xp=get_xp(x.data), generator=gen)
    return Dropout(mask, keep).apply(x)
