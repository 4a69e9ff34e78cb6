"""Gradient clipping as Keras 3 does it: per-gradient norm, global norm, or value."""
from __future__ import annotations

import numpy as np

from ..backend import get_xp


def global_norm(grads):
    """sqrt of the sum of squares of all gradients (Nones ignored)."""
    grads = [g for g in grads if g is not None]
    xp = get_xp(*grads)
    return xp.sqrt(xp.sum(xp.stack([xp.sum(xp.square(g)) for g in grads])))


def clip_by_global_norm(grads, clip_norm):
    """Scale all gradients by ``clip_norm / max(global_norm, clip_norm)`` (Keras's formula:
    NaN when the norm is not finite)."""
    use_norm = global_norm(grads)
    t = use_norm.dtype.type
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = t(clip_norm) * get_xp(use_norm).minimum(1 / use_norm, t(1 / clip_norm)) + (use_norm - use_norm)
    return [g if g is None else g * scale.astype(g.dtype) for g in grads]



def clip_by_norm(g, clip_norm):
    """``g * clip_norm / max(||g||, clip_norm)`` (a zero gradient stays zero)."""
    xp = get_xp(g)
    t = g.dtype.type
    l2sum = xp.sum(xp.square(g), keepdims=True)
    l2norm = xp.where(l2sum > 0, xp.sqrt(xp.where(l2sum > 0, l2sum, xp.ones_like(l2sum))), l2sum)
    return (g * t(clip_norm)) / xp.maximum(l2norm, t(clip_norm))


class ClippingMixin:
    """Applies the optimizer's ``clipnorm`` / ``global_clipnorm`` / ``clipvalue``."""

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [get_xp(g).clip(g, g.dtype.type(-v), g.dtype.type(v)) for g in grads]
        return grads
