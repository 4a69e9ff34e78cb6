"""Per-sample losses with Keras 3 semantics (no batch reduction; only the class/last axis is reduced).

Each loss is one fused ``Function`` with a hand-written gradient for y_pred and y_true.
The cross-entropies follow the Keras 3 TensorFlow backend exactly:

* ``categorical_crossentropy`` from logits: stable log-softmax, gradient ``softmax * sum(t) - t``
  (``softmax - t`` for targets summing to 1). From probabilities: y_pred is rescaled to sum
  to 1 along ``axis`` and then clipped to [1e-7, 1 - 1e-7] before the log.
* ``sparse_categorical_crossentropy`` from probabilities: clipped to [1e-7, 1 - 1e-7], then
  the log is used as logits (so the loss is ``log(sum(clipped)) - log(clipped[target])``).
* ``binary_crossentropy``: from logits ``max(z, 0) - z t + log1p(exp(-|z|))``; from
  probabilities clipped to [1e-7, 1 - 1e-7]; mean over the last axis.
* label smoothing: categorical ``t (1 - ls) + ls / C``; binary ``t (1 - ls) + ls / 2``.

The epsilon constants are rounded to the input dtype (as TensorFlow does), so in float32
``1 - 1e-7`` is 0.99999988 and a probability of exactly 1 is clipped there.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autodiff import Function, Tensor, as_tensor
from ..backend import device_of, get_xp, is_array, to_device
from .activations import _stable_sigmoid
from ._util import OpError, normalize_axis
from .shape import reshape

EPSILON = 1e-7  # keras.config.epsilon()


# --------------------------------------------------------------------------- argument handling
def _pred(op, y_pred):
    if isinstance(y_pred, Tensor):
        pred = y_pred
    else:
        pred = as_tensor(y_pred)
    if pred.dtype.kind != "f":
        raise OpError(f"{op}: y_pred must be floating, got dtype {pred.dtype} (shape {tuple(pred.shape)})")
    return pred


def _true(op, y_true, pred):
    """y_true as a Tensor of y_pred's dtype and device (Keras casts y_true to y_pred.dtype)."""
    if isinstance(y_true, Tensor):
        if y_true.dtype == pred.dtype:
            return y_true
        if y_true.dtype.kind == "f" and y_true.requires_grad:
            raise OpError(f"{op}: y_true dtype {y_true.dtype} differs from y_pred dtype {pred.dtype} and y_true "
                          "requires a gradient; cast one explicitly")
        if y_true.dtype.kind not in "biuf":
            raise OpError(f"{op}: y_true must be numeric, got dtype {y_true.dtype}")
        return as_tensor(y_true.data, like=pred)
    arr = y_true if is_array(y_true) else np.asarray(y_true)
    if arr.dtype.kind not in "biuf":
        raise OpError(f"{op}: y_true must be numeric, got dtype {arr.dtype}")
    return as_tensor(arr, like=pred)


def _same_shape(op, t, p):
    if tuple(t.shape) != tuple(p.shape):
        raise OpError(f"{op}: y_true shape {tuple(t.shape)} and y_pred shape {tuple(p.shape)} must match")


def _prep(op, y_true, y_pred, min_rank=1, fix_rank=False):
    pred = _pred(op, y_pred)
    true = _true(op, y_true, pred)
    if fix_rank:
        true, pred = _squeeze_or_expand(true, pred)
    _same_shape(op, true, pred)
    if pred.ndim < min_rank:
        raise OpError(f"{op}: y_true and y_pred must have rank >= {min_rank}, got shape {tuple(pred.shape)}")
    return true, pred


def _squeeze_or_expand(t, p):
    """Keras' squeeze_or_expand_to_same_rank: reconcile ranks that differ by a trailing 1."""
    rt, rp = t.ndim, p.ndim
    if rt == rp + 1 and t.shape[-1] == 1:
        if rp == 1:
            p = reshape(p, tuple(p.shape) + (1,))
        else:
            t = reshape(t, tuple(t.shape[:-1]))
    elif rp == rt + 1 and p.shape[-1] == 1:
        if rt == 1:
            t = reshape(t, tuple(t.shape) + (1,))
        else:
            p = reshape(p, tuple(p.shape[:-1]))
    return t, p


def _axis(op, axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise OpError(f"{op}: axis must be an int, got {axis!r}")
    (a,) = normalize_axis(op, int(axis), ndim)
    return a


def _smoothing(op, ls):
    if isinstance(ls, bool) or not isinstance(ls, numbers.Real) or not 0.0 <= float(ls) <= 1.0:
        raise OpError(f"{op}: label_smoothing must be a number in [0, 1], got {ls!r}")
    return float(ls)


def _last(xp, a, axis):
    """``a`` with ``axis`` moved last (a view)."""
    return a if axis == a.ndim - 1 else xp.moveaxis(a, axis, -1)


def _back(xp, g, axis):
    return g if axis == g.ndim - 1 else xp.moveaxis(g, -1, axis)


# --------------------------------------------------------------------------- cross-entropies
class CategoricalCrossentropy(Function):
    def __init__(self, from_logits, ls, axis):
        self.from_logits, self.ls, self.axis = from_logits, ls, axis

    def forward(self, t, p):
        xp = get_xp(t, p)
        ty = p.dtype.type
        t, p = _last(xp, t, self.axis), _last(xp, p, self.axis)
        if self.ls:
            t = t * ty(1.0 - self.ls) + ty(self.ls / p.shape[-1])
        need_t, need_p = self.needs_input_grad
        if self.from_logits:
            z = p - p.max(axis=-1, keepdims=True)
            logp = z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True))
            loss = -(t * logp).sum(axis=-1)
            if need_t or need_p:
                self.logp = logp
            if need_p:
                self.t = t
            return loss
        eps = ty(EPSILON)
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        c = xp.maximum(q, eps)  # clip(q, eps, 1 - eps), in place
        xp.minimum(c, ty(1.0 - EPSILON), out=c)
        logc = xp.log(c)
        loss = -(t * logc).sum(axis=-1)
        if need_t:
            self.logc = logc
        if need_p:
            # zero gradient where the clip was active (c != q: q outside [eps, 1 - eps], or NaN)
            self.gq = xp.where(c == q, -t / c, ty(0))
            self.q, self.s = q, s
        return loss

    def backward(self, gy):
        xp = get_xp(gy)
        ty = gy.dtype.type
        g = gy[..., None]
        gt = gp = None
        if self.from_logits:
            if self.needs_input_grad[1]:
                t = self.t
                gp = g * (xp.exp(self.logp) * t.sum(axis=-1, keepdims=True) - t)
            if self.needs_input_grad[0]:
                gt = g * (-self.logp)
        else:
            if self.needs_input_grad[1]:
                gq = self.gq
                gp = g * ((gq - (gq * self.q).sum(axis=-1, keepdims=True)) / self.s)
            if self.needs_input_grad[0]:
                gt = g * (-self.logc)
        if gt is not None and self.ls:
            gt = gt * ty(1.0 - self.ls)
        return (None if gt is None else _back(xp, gt, self.axis),
                None if gp is None else _back(xp, gp, self.axis))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy between target distributions ``y_true`` and ``y_pred`` along ``axis`` -> one loss per sample."""
    op = "categorical_crossentropy"
    t, p = _prep(op, y_true, y_pred)
    a = _axis(op, axis, p.ndim)
    ls = _smoothing(op, label_smoothing)
    return CategoricalCrossentropy(bool(from_logits), ls, a).apply(t, p)


class SparseCategoricalCrossentropy(Function):
    def __init__(self, target, from_logits, axis):
        self.target, self.from_logits, self.axis = target, from_logits, axis

    def forward(self, p):
        xp = get_xp(p)
        ty = p.dtype.type
        p = _last(xp, p, self.axis)
        tgt = self.target[..., None]
        need = self.needs_input_grad[0]
        if self.from_logits:
            z = p - p.max(axis=-1, keepdims=True)
            e = xp.exp(z)
            se = e.sum(axis=-1, keepdims=True)
            loss = (xp.log(se) - xp.take_along_axis(z, tgt, axis=-1))[..., 0]
            if need:
                self.sm = e / se
            else:
                del self.target
            return loss
        eps = ty(EPSILON)
        c = xp.clip(p, eps, ty(1.0 - EPSILON))
        sc = c.sum(axis=-1, keepdims=True)
        ct = xp.take_along_axis(c, tgt, axis=-1)
        loss = (xp.log(sc) - xp.log(ct))[..., 0]
        if need:
            self.mask = (p >= eps) & (p <= ty(1.0 - EPSILON))
            self.inv_sc, self.inv_ct = ty(1) / sc, ty(1) / ct
        else:
            del self.target
        return loss

    def backward(self, gy):
        xp = get_xp(gy)
        ty = gy.dtype.type
        g = gy[..., None]
        c = self.mask.shape[-1] if not self.from_logits else self.sm.shape[-1]
        onehot = xp.arange(c) == self.target[..., None]
        if self.from_logits:
            gp = g * (self.sm - onehot.astype(gy.dtype))
        else:
            gp = g * xp.where(self.mask, self.inv_sc - xp.where(onehot, self.inv_ct, ty(0)), ty(0))
        return _back(xp, gp, self.axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Cross-entropy with integer class targets ``y_true`` (y_pred's shape without ``axis``, or with a 1 there)."""
    op = "sparse_categorical_crossentropy"
    p = _pred(op, y_pred)
    if p.ndim < 1:
        raise OpError(f"{op}: y_pred must have rank >= 1 (a class axis), got a scalar")
    a = _axis(op, axis, p.ndim)
    tgt = y_true.data if isinstance(y_true, Tensor) else y_true
    if not is_array(tgt):
        tgt = np.asarray(tgt)
    if tgt.dtype.kind not in "iuf":
        raise OpError(f"{op}: y_true must hold integer class indices, got dtype {tgt.dtype}")
    if device_of(tgt) != p.device:
        tgt = to_device(tgt, p.device)
    want = tuple(p.shape[:a]) + tuple(p.shape[a + 1:])
    if tgt.ndim == p.ndim and tgt.shape[a] == 1:
        tgt = tgt.reshape(want)
    if tuple(tgt.shape) != want:
        raise OpError(f"{op}: y_true shape {tuple(tgt.shape)} must be y_pred shape {tuple(p.shape)} without the "
                      f"class axis {a}, i.e. {want}")
    if tgt.dtype.kind == "f":
        xp = get_xp(tgt)
        if tgt.size and not bool(xp.all(tgt == xp.floor(tgt))):
            raise OpError(f"{op}: y_true must hold integer class indices, got non-integer values (dtype {tgt.dtype})")
    c = p.shape[a]
    if tgt.size:
        lo, hi = float(tgt.min()), float(tgt.max())
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise OpError(f"{op}: target class {int(bad)} is out of range for y_pred shape {tuple(p.shape)} with "
                          f"{c} classes along axis {a}; targets must be in [0, {c - 1}]")
    tgt = tgt.astype(np.int64, copy=False)
    return SparseCategoricalCrossentropy(tgt, bool(from_logits), a).apply(p)


class BinaryCrossentropy(Function):
    def __init__(self, from_logits, ls):
        self.from_logits, self.ls = from_logits, ls

    def forward(self, t, p):
        xp = get_xp(t, p)
        ty = p.dtype.type
        if self.ls:
            t = t * ty(1.0 - self.ls) + ty(0.5 * self.ls)
        self.n = p.shape[-1]
        need_t, need_p = self.needs_input_grad
        if self.from_logits:
            el = xp.maximum(p, ty(0)) - p * t + xp.log1p(xp.exp(-xp.abs(p)))
            if need_p:
                self.z, self.t = p, t
            elif need_t:
                self.z = p
            return el.mean(axis=-1)
        eps = ty(EPSILON)
        c = xp.clip(p, eps, ty(1.0 - EPSILON))
        logc, log1c = xp.log(c), xp.log(ty(1) - c)
        el = -(t * logc + (ty(1) - t) * log1c)
        if need_t:
            self.dlog = logc - log1c
        if need_p:
            inside = (p >= eps) & (p <= ty(1.0 - EPSILON))
            self.gc = xp.where(inside, (ty(1) - t) / (ty(1) - c) - t / c, ty(0))
        return el.mean(axis=-1)

    def backward(self, gy):
        xp = get_xp(gy)
        ty = gy.dtype.type
        g = gy[..., None] * ty(1.0 / self.n)
        gt = gp = None
        if self.from_logits:
            if self.needs_input_grad[1]:
                gp = g * (_stable_sigmoid(xp, self.z) - self.t)
            if self.needs_input_grad[0]:
                gt = g * (-self.z)
        else:
            if self.needs_input_grad[1]:
                gp = g * self.gc
            if self.needs_input_grad[0]:
                gt = g * (-self.dlog)
        if gt is not None and self.ls:
            gt = gt * ty(1.0 - self.ls)
        return gt, gp


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Binary cross-entropy, averaged over the last axis (Keras): one loss per sample."""
    op = "binary_crossentropy"
    t, p = _prep(op, y_true, y_pred)
    ls = _smoothing(op, label_smoothing)
    return BinaryCrossentropy(bool(from_logits), ls).apply(t, p)


# --------------------------------------------------------------------------- regression losses
class _MeanLast(Function):
    """mean over the last axis of an elementwise loss e(t, p); subclasses give e and de/dt, de/dp."""

    def forward(self, t, p):
        self.n = p.shape[-1]
        return self.elem(get_xp(t, p), t, p, p.dtype.type).mean(axis=-1)

    def backward(self, gy):
        xp = get_xp(gy)
        g = gy[..., None] * gy.dtype.type(1.0 / self.n)
        return self.delem(xp, g, gy.dtype.type)


class MSE(_MeanLast):
    def elem(self, xp, t, p, ty):
        d = p - t
        self.d = d
        return d * d

    def delem(self, xp, g, ty):
        gp = ty(2) * g * self.d
        return (-gp if self.needs_input_grad[0] else None), (gp if self.needs_input_grad[1] else None)


class MAE(_MeanLast):
    def elem(self, xp, t, p, ty):
        d = p - t
        self.sign = xp.sign(d)
        return xp.abs(d)

    def delem(self, xp, g, ty):
        gp = g * self.sign
        return (-gp if self.needs_input_grad[0] else None), (gp if self.needs_input_grad[1] else None)


class MAPE(_MeanLast):
    def elem(self, xp, t, p, ty):
        eps = ty(EPSILON)
        den = xp.maximum(xp.abs(t), eps)
        d = t - p
        r = xp.abs(d) / den
        self.sign, self.den = xp.sign(d), den
        if self.needs_input_grad[0]:
            self.r, self.tsign = r, xp.where(xp.abs(t) >= eps, xp.sign(t), ty(0))
        return ty(100) * r

    def delem(self, xp, g, ty):
        g = g * ty(100)
        base = g * self.sign / self.den  # d/dt of |t - p| / den with den held fixed
        gt = gp = None
        if self.needs_input_grad[1]:
            gp = -base
        if self.needs_input_grad[0]:
            gt = base - g * self.r * self.tsign / self.den
        return gt, gp


class Huber(_MeanLast):
    def __init__(self, delta):
        self.delta = delta

    def elem(self, xp, t, p, ty):
        dl = ty(self.delta)
        err = p - t
        a = xp.abs(err)
        small = a <= dl
        self.dp = xp.where(small, err, dl * xp.sign(err))
        return xp.where(small, ty(0.5) * err * err, dl * a - ty(0.5) * dl * dl)

    def delem(self, xp, g, ty):
        gp = g * self.dp
        return (-gp if self.needs_input_grad[0] else None), (gp if self.needs_input_grad[1] else None)


class LogCosh(_MeanLast):
    def elem(self, xp, t, p, ty):
        x = p - t
        self.x = x
        # x + softplus(-2x) - log 2, with a stable softplus
        m = ty(-2) * x
        sp = xp.maximum(m, ty(0)) + xp.log1p(xp.exp(-xp.abs(m)))
        return x + sp - ty(math.log(2.0))

    def delem(self, xp, g, ty):
        gp = g * xp.tanh(self.x)
        return (-gp if self.needs_input_grad[0] else None), (gp if self.needs_input_grad[1] else None)


def _regression(op, cls, y_true, y_pred, *args):
    t, p = _prep(op, y_true, y_pred, fix_rank=True)
    return cls(*args).apply(t, p)


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2) over the last axis."""
    return _regression("mean_squared_error", MSE, y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|) over the last axis."""
    return _regression("mean_absolute_error", MAE, y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7)) over the last axis."""
    return _regression("mean_absolute_percentage_error", MAPE, y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """mean over the last axis of 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2."""
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not float(delta) > 0:
        raise OpError(f"huber: delta must be a positive number, got {delta!r}")
    return _regression("huber", Huber, y_true, y_pred, float(delta))


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true))) over the last axis (computed stably)."""
    return _regression("log_cosh", LogCosh, y_true, y_pred)


class KLDivergence(Function):
    def forward(self, t, p):
        xp = get_xp(t, p)
        ty = p.dtype.type
        eps, one = ty(EPSILON), ty(1)
        tc, pc = xp.clip(t, eps, one), xp.clip(p, eps, one)
        lr = xp.log(tc / pc)
        if self.needs_input_grad[0]:
            self.gt = xp.where((t >= eps) & (t <= one), lr + one, ty(0))
        if self.needs_input_grad[1]:
            self.gp = xp.where((p >= eps) & (p <= one), -tc / pc, ty(0))
        return (tc * lr).sum(axis=-1)

    def backward(self, gy):
        g = gy[..., None]
        return (g * self.gt if self.needs_input_grad[0] else None,
                g * self.gp if self.needs_input_grad[1] else None)


def kl_divergence(y_true, y_pred):
    """sum(t * log(t / p)) over the last axis, with t and p clipped to [1e-7, 1]."""
    op = "kl_divergence"
    t, p = _prep(op, y_true, y_pred)
    return KLDivergence().apply(t, p)


class CosineSimilarity(Function):
    def __init__(self, axis):
        self.axis = axis

    def _normalize(self, xp, x, ty):
        ss = (x * x).sum(axis=self.axis, keepdims=True)
        cap = ty(1.0 / EPSILON)
        capped = ss * cap * cap <= ty(1)  # rsqrt(ss) >= 1/eps: Keras caps the inverse norm there
        inv = xp.where(capped, cap, ty(1) / xp.sqrt(xp.where(capped, ty(1), ss)))
        return x * inv, inv, capped

    def forward(self, t, p):
        xp = get_xp(t, p)
        ty = p.dtype.type
        nt, it, ct = self._normalize(xp, t, ty)
        np_, ip, cp = self._normalize(xp, p, ty)
        if any(self.needs_input_grad):
            self.saved = (nt, it, ct, np_, ip, cp)
        return -(nt * np_).sum(axis=self.axis)

    def backward(self, gy):
        xp = get_xp(gy)
        ty = gy.dtype.type
        nt, it, ct, np_, ip, cp = self.saved
        g = xp.expand_dims(gy, self.axis)

        def through(gn, n, inv, capped):  # gradient through n = x * inv(x)
            proj = xp.where(capped, ty(0), (gn * n).sum(axis=self.axis, keepdims=True))
            return inv * (gn - n * proj)

        gt = through(-g * np_, nt, it, ct) if self.needs_input_grad[0] else None
        gp = through(-g * nt, np_, ip, cp) if self.needs_input_grad[1] else None
        return gt, gp


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) along ``axis`` (Keras: -1 is most similar)."""
    op = "cosine_similarity"
    t, p = _prep(op, y_true, y_pred, fix_rank=True)
    a = _axis(op, axis, p.ndim)
    return CosineSimilarity(a).apply(t, p)
