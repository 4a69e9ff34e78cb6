"""Plain reference implementations of the engine's fused and blocked ops.

Each class here computes what one fast ``Function`` of ``core.ops`` computes, with the same
constructor arguments and the same inputs and outputs, written for reading: forward and backward
in a few array expressions, no blocking, threads, caches or in-place tricks. The tests compare every
fast path with its reference (values and gradients, on random shapes), and
``ZOO_REFERENCE_OPS=1`` (read once, when ``core.ops`` is imported) makes the public ops build these
instead of the fast ones, so the whole engine runs on them (``install``). The fused graph rewrites
of ``Functional`` are off in that mode (each layer runs its own op).

``adam_update`` is the reference of ``core.optimizers.Adam``'s fused flat-buffer step; under the
switch, Adam (and AdamW) keep one slot array per parameter and apply it to each parameter.
"""
from __future__ import annotations

import importlib
import os

from ..autodiff import Function
from ..backend import get_xp

ENABLED = os.environ.get("ZOO_REFERENCE_OPS", "0").strip().lower() not in ("", "0", "false", "no", "off")

EPSILON = 1e-7  # keras.config.epsilon(): the probability clip of the cross-entropies
MASKED = -1e9  # the logit of a masked attention position


# --------------------------------------------------------------------------- windows (conv, pooling)
def _pad(xp, x, pads, value=0.0):
    """Pad (positive amounts) or crop (negative) axes 1 and 2 by ((top, bottom), (left, right))."""
    (t, b), (l, r) = pads
    x = xp.pad(x, ((0, 0), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0)), (0, 0)), constant_values=value)
    H, W = x.shape[1:3]
    return x[:, max(-t, 0):H - max(-b, 0), max(-l, 0):W - max(-r, 0)]


def _unpad(xp, g, pads, shape):
    """The adjoint of ``_pad``: the gradient of the padded array back to the input's ``shape``."""
    (t, b), (l, r) = pads
    g = xp.pad(g, ((0, 0), (max(-t, 0), max(-b, 0)), (max(-l, 0), max(-r, 0)), (0, 0)))
    H, W = g.shape[1:3]
    return g[:, max(t, 0):H - max(b, 0), max(l, 0):W - max(r, 0)].reshape(shape)


def _out_len(n, k, s, d):
    return (n - (k - 1) * d - 1) // s + 1


def _windows(xp, xpad, kh, kw, strides, dilation):
    """Every window of the padded (N, Hp, Wp, C) input: (N, Ho, Wo, kh, kw, C)."""
    (sh, sw), (dh, dw) = strides, dilation
    Ho, Wo = _out_len(xpad.shape[1], kh, sh, dh), _out_len(xpad.shape[2], kw, sw, dw)
    taps = [[xpad[:, a * dh:a * dh + (Ho - 1) * sh + 1:sh, b * dw:b * dw + (Wo - 1) * sw + 1:sw]
             for b in range(kw)] for a in range(kh)]
    return xp.stack([xp.stack(row, axis=3) for row in taps], axis=3)


def _windows_adjoint(xp, gwin, padded_shape, strides, dilation):
    """Sum the gradient of every window (N, Ho, Wo, kh, kw, C) back onto the padded input."""
    (sh, sw), (dh, dw) = strides, dilation
    _, Ho, Wo, kh, kw, _ = gwin.shape
    g = xp.zeros(padded_shape, gwin.dtype)
    for a in range(kh):
        for b in range(kw):
            g[:, a * dh:a * dh + (Ho - 1) * sh + 1:sh, b * dw:b * dw + (Wo - 1) * sw + 1:sw] += gwin[:, :, :, a, b]
    return g


# --------------------------------------------------------------------------- dense
def _activation_backward(name, z, y, g):
    """d(activation)/dz times g, for the activations Dense fuses (y = activation(z))."""
    xp = get_xp(y)
    if name == "Sigmoid":
        return g * y * (1 - y)
    if name == "Tanh":
        return g * (1 - y * y)
    if name == "Softmax":  # over the last axis
        return y * (g - (g * y).sum(axis=-1, keepdims=True))
    if name == "SiLU":
        s = 1 / (1 + xp.exp(-z))
        return g * s * (1 + z * (1 - s))
    if name == "ReLU6":
        return g * ((z > 0) & (z < 6))
    raise NotImplementedError(name)


def _activation(name, z):
    xp = get_xp(z)
    if name == "Sigmoid":
        return 1 / (1 + xp.exp(-z))
    if name == "Tanh":
        return xp.tanh(z)
    if name == "Softmax":
        e = xp.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "SiLU":
        return z / (1 + xp.exp(-z))
    if name == "ReLU6":
        return xp.clip(z, 0, 6)
    raise NotImplementedError(name)


class Dense(Function):
    """y = act(x @ w + b) over the last axis of x (``act``: an activation Function, or ``relu``)."""

    def __init__(self, act=None, relu=False):
        self.act = None if act is None else type(act).__name__
        self.relu = relu

    def forward(self, x, w, b=None):
        z = x @ w
        if b is not None:
            z = z + b
        if self.relu:
            y = z * (z > 0)
        elif self.act is not None:
            y = _activation(self.act, z).astype(z.dtype)
        else:
            y = z
        self.x, self.w, self.z, self.y, self.has_b = x, w, z, y, b is not None
        return y

    def backward(self, gy):
        if self.relu:
            gz = gy * (self.z > 0)
        elif self.act is not None:
            gz = _activation_backward(self.act, self.z, self.y, gy)
        else:
            gz = gy
        x2, gz2 = self.x.reshape(-1, self.x.shape[-1]), gz.reshape(-1, gz.shape[-1])
        grads = (gz @ self.w.T, x2.T @ gz2)
        return grads + (gz2.sum(axis=0),) if self.has_b else grads


# --------------------------------------------------------------------------- convolutions
class Conv2D(Function):
    """y = act(sum over window taps and input channels of x * kernel + b), grouped; conv1d as height 1."""

    def __init__(self, strides, pads, dilation, groups, one_d=False, activation=None):
        self.strides, self.pads, self.dilation, self.groups = strides, pads, dilation, groups
        self.one_d, self.activation = one_d, activation

    def forward(self, x, k, b=None):
        xp = get_xp(x, k)
        self.x_shape, self.k_shape, self.has_b = x.shape, k.shape, b is not None
        if self.one_d:
            x, k = x[:, None], k[None]
        kh, kw, cg, cout = k.shape
        G = self.groups
        xpad = _pad(xp, x, self.pads)
        win = _windows(xp, xpad, kh, kw, self.strides, self.dilation)  # (N, Ho, Wo, kh, kw, C)
        N, Ho, Wo = win.shape[:3]
        self.win = win.reshape(N, Ho, Wo, kh, kw, G, cg)
        self.k5 = k.reshape(kh, kw, cg, G, cout // G)
        self.padded_shape, self.x4_shape = xpad.shape, x.shape
        y = xp.einsum("nhwabgc,abcgo->nhwgo", self.win, self.k5).reshape(N, Ho, Wo, cout)
        if b is not None:
            y = y + b
        if self.activation == "relu":
            self.on = y > 0
            y = y * self.on
        return y[:, 0] if self.one_d else y

    def backward(self, gy):
        xp = get_xp(gy)
        if self.one_d:
            gy = gy[:, None]
        if self.activation == "relu":
            gy = gy * self.on
        N, Ho, Wo, cout = gy.shape
        g5 = gy.reshape(N, Ho, Wo, self.groups, cout // self.groups)
        gk = xp.einsum("nhwabgc,nhwgo->abcgo", self.win, g5).reshape(self.k_shape)
        gwin = xp.einsum("nhwgo,abcgo->nhwabgc", g5, self.k5).reshape(self.win.shape[:5] + (-1,))
        gx = _unpad(xp, _windows_adjoint(xp, gwin, self.padded_shape, self.strides, self.dilation), self.pads,
                    self.x4_shape).reshape(self.x_shape)
        grads = (gx, gk)
        return grads + (gy.sum(axis=(0, 1, 2)),) if self.has_b else grads


class DepthwiseConv2D(Function):
    """Output channel c * M + m = channel c of x convolved with kernel[..., c, m]."""

    def __init__(self, strides, pads, dilation):
        self.strides, self.pads, self.dilation = strides, pads, dilation

    def forward(self, x, k, b=None):
        xp = get_xp(x, k)
        kh, kw = k.shape[:2]
        xpad = _pad(xp, x, self.pads)
        self.win = _windows(xp, xpad, kh, kw, self.strides, self.dilation)  # (N, Ho, Wo, kh, kw, C)
        self.k, self.x_shape, self.padded_shape, self.has_b = k, x.shape, xpad.shape, b is not None
        N, Ho, Wo = self.win.shape[:3]
        y = xp.einsum("nhwabc,abcm->nhwcm", self.win, k).reshape(N, Ho, Wo, -1)
        return y + b if b is not None else y

    def backward(self, gy):
        xp = get_xp(gy)
        N, Ho, Wo, _ = gy.shape
        g5 = gy.reshape(N, Ho, Wo, self.k.shape[2], self.k.shape[3])
        gk = xp.einsum("nhwabc,nhwcm->abcm", self.win, g5)
        gwin = xp.einsum("nhwcm,abcm->nhwabc", g5, self.k)
        gx = _unpad(xp, _windows_adjoint(xp, gwin, self.padded_shape, self.strides, self.dilation), self.pads,
                    self.x_shape)
        grads = (gx, gk)
        return grads + (gy.sum(axis=(0, 1, 2)),) if self.has_b else grads


class Conv2DTranspose(Function):
    """Scatter every input pixel times the kernel onto the full (h - 1) * s + k_eff map, then
    crop it at ``crops`` to ``out_hw`` (zero-extended where the output is larger); then + b and
    the activation."""

    def __init__(self, strides, dilation, crops, out_hw, activation=None):
        self.strides, self.dilation, self.crops, self.out_hw = strides, dilation, crops, out_hw
        self.activation = activation

    def forward(self, x, k, b=None):
        xp = get_xp(x, k)
        N, h, w, _ = x.shape
        kh, kw, cout, _ = k.shape
        (sh, sw), (dh, dw) = self.strides, self.dilation
        Hf, Wf = (h - 1) * sh + (kh - 1) * dh + 1, (w - 1) * sw + (kw - 1) * dw + 1
        gwin = xp.einsum("nhwi,abci->nhwabc", x, k)  # each input pixel's contribution to each tap
        full = _windows_adjoint(xp, gwin, (N, Hf, Wf, cout), self.strides, self.dilation)
        (top, left), (Ho, Wo) = self.crops, self.out_hw
        self.pads = ((-top, Ho - Hf + top), (-left, Wo - Wf + left))
        self.x, self.k, self.full_shape, self.has_b = x, k, full.shape, b is not None
        y = _pad(xp, full, self.pads)
        if b is not None:
            y = y + b
        if self.activation == "relu":
            self.on = y > 0
            y = y * self.on
        return y

    def backward(self, gy):
        xp = get_xp(gy)
        if self.activation == "relu":
            gy = gy * self.on
        kh, kw = self.k.shape[:2]
        gfull = _unpad(xp, gy, self.pads, self.full_shape)
        gwin = _windows(xp, gfull, kh, kw, self.strides, self.dilation)  # (N, h, w, kh, kw, Cout)
        grads = (xp.einsum("nhwabc,abci->nhwi", gwin, self.k), xp.einsum("nhwabc,nhwi->abci", gwin, self.x))
        return grads + (gy.sum(axis=(0, 1, 2)),) if self.has_b else grads


# --------------------------------------------------------------------------- pooling
class Pool2D(Function):
    """Max (the gradient to the first maximum of each window) or average (padded cells not
    counted) over windows; 1-d pooling as height 1."""

    def __init__(self, mode, pool, strides, pads, one_d=False):
        self.mode, self.pool, self.strides, self.pads, self.one_d = mode, pool, strides, pads, one_d

    def forward(self, x):
        xp = get_xp(x)
        self.x_shape = x.shape
        if self.one_d:
            x = x[:, None]
        self.x4_shape = x.shape
        is_max = self.mode == "max"
        xpad = _pad(xp, x, self.pads, value=-xp.inf if is_max else 0.0)
        self.padded_shape = xpad.shape
        win = _windows(xp, xpad, *self.pool, self.strides, (1, 1))  # (N, Ho, Wo, ph, pw, C)
        N, Ho, Wo, ph, pw, C = win.shape
        flat = win.reshape(N, Ho, Wo, ph * pw, C)
        if is_max:
            first = flat.argmax(axis=3)[:, :, :, None]
            self.onehot = (xp.arange(ph * pw)[None, None, None, :, None] == first).astype(x.dtype)
            y = flat.max(axis=3)
        else:
            ones = _pad(xp, xp.ones((1,) + x.shape[1:3] + (1,), x.dtype), self.pads)
            self.count = _windows(xp, ones, ph, pw, self.strides, (1, 1)).sum(axis=(3, 4))  # (1, Ho, Wo, 1)
            y = flat.sum(axis=3) / self.count
        return y[:, 0] if self.one_d else y

    def backward(self, gy):
        xp = get_xp(gy)
        if self.one_d:
            gy = gy[:, None]
        N, Ho, Wo, C = gy.shape
        ph, pw = self.pool
        if self.mode == "max":
            gflat = self.onehot * gy[:, :, :, None]
        else:
            gflat = xp.broadcast_to((gy / self.count)[:, :, :, None], (N, Ho, Wo, ph * pw, C))
        gwin = gflat.reshape(N, Ho, Wo, ph, pw, C)
        gpad = _windows_adjoint(xp, gwin, self.padded_shape, self.strides, (1, 1))
        return _unpad(xp, gpad, self.pads, self.x4_shape).reshape(self.x_shape)


# --------------------------------------------------------------------------- normalization
def _norm_backward(gxhat, xhat, inv, axes):
    """Gradient through xhat = (x - mean) * inv, mean and variance over ``axes``."""
    n = 1
    for a in axes:
        n *= gxhat.shape[a]
    return inv * (gxhat - gxhat.sum(axis=axes, keepdims=True) / n
                  - xhat * (gxhat * xhat).sum(axis=axes, keepdims=True) / n)


def _moments(x, axes):
    mean = x.mean(axis=axes, keepdims=True)
    return mean, ((x - mean) ** 2).mean(axis=axes, keepdims=True)


class _Norm(Function):
    """y = gamma * xhat + beta, xhat = (x - mean) / sqrt(var + eps); ``axes``: the axes of x the
    statistics are over; gamma/beta (shaped as the other axes, or ``bshape``) have their gradients
    summed over ``param_axes``."""

    def __init__(self, axes, bshape, epsilon, has_gamma, has_beta):
        self.axes, self.bshape, self.epsilon = tuple(axes), bshape, epsilon
        self.has_gamma, self.has_beta = has_gamma, has_beta

    def _normalize(self, x, mean, var, params):
        self.inv = 1 / get_xp(x).sqrt(var + x.dtype.type(self.epsilon))
        self.xhat = (x - mean) * self.inv
        self.param_shapes = [p.shape for p in params]
        it = iter(params)
        self.gamma = next(it).reshape(self.bshape) if self.has_gamma else None
        y = self.xhat * self.gamma if self.has_gamma else self.xhat
        return y + next(it).reshape(self.bshape) if self.has_beta else y

    def _grads(self, gy, gx):
        grads, shapes = [gx], iter(self.param_shapes)
        if self.has_gamma:
            grads.append((gy * self.xhat).sum(axis=self.param_axes).reshape(next(shapes)))
        if self.has_beta:
            grads.append(gy.sum(axis=self.param_axes).reshape(next(shapes)))
        return tuple(grads) if len(grads) > 1 else gx

    def _gxhat(self, gy):
        return gy * self.gamma if self.has_gamma else gy


class BatchNormTrain(_Norm):
    """Batch statistics (biased variance); ``batch_mean``/``batch_var`` are left for batch_norm;
    ``relu``: max(y, 0), the gradient masked where y <= 0."""

    def __init__(self, axes, bshape, epsilon, has_gamma, has_beta, relu=False):
        super().__init__(axes, bshape, epsilon, has_gamma, has_beta)
        self.relu = relu

    def forward(self, x, *params):
        mean, var = _moments(x, self.axes)
        self.batch_mean, self.batch_var = mean.reshape(-1), var.reshape(-1)
        self.param_axes = self.axes
        y = self._normalize(x, mean, var, params)
        if self.relu:
            self.mask = y > 0
            y = y * self.mask
        return y

    def backward(self, gy):
        if self.relu:
            gy = gy * self.mask
        return self._grads(gy, _norm_backward(self._gxhat(gy), self.xhat, self.inv, self.axes))


class BatchNormInfer(_Norm):
    """The moving statistics: an affine map of x."""

    def __init__(self, axes, bshape, epsilon, mean, var, has_gamma, has_beta):
        super().__init__(axes, bshape, epsilon, has_gamma, has_beta)
        self.mean, self.var = mean, var

    def forward(self, x, *params):
        self.param_axes = self.axes
        return self._normalize(x, self.mean.reshape(self.bshape), self.var.reshape(self.bshape), params)

    def backward(self, gy):
        return self._grads(gy, self._gxhat(gy) * self.inv)


class LayerNorm(_Norm):
    """Statistics over the normalized ``axes`` of each sample; gamma/beta over the same axes."""

    def forward(self, x, *params):
        self.param_axes = tuple(i for i in range(x.ndim) if i not in self.axes)
        return self._normalize(x, *_moments(x, self.axes), params)

    def backward(self, gy):
        return self._grads(gy, _norm_backward(self._gxhat(gy), self.xhat, self.inv, self.axes))


# --------------------------------------------------------------------------- attention
class SDPA(Function):
    """w = softmax(q k^T * scale, masked); y = dropout(w) @ v; returns y (and w when asked)."""

    def __init__(self, scale, keep, drop_mask, keep_prob, return_weights):
        self.scale, self.keep, self.drop_mask = scale, keep, drop_mask
        self.keep_prob, self.return_weights = keep_prob, return_weights

    def forward(self, q, k, v):
        xp = get_xp(q, k, v)
        t = q.dtype.type
        s = (q @ xp.swapaxes(k, -1, -2)) * t(self.scale)
        if self.keep is not None:
            s = xp.where(self.keep, s, t(MASKED))
        e = xp.exp(s - s.max(axis=-1, keepdims=True))
        w = e / e.sum(axis=-1, keepdims=True)
        wd = w if self.drop_mask is None else w * self.drop_mask / t(self.keep_prob)
        self.q, self.k, self.v, self.w, self.wd = q, k, v, w, wd
        y = wd @ v
        return (y, w.copy()) if self.return_weights else y

    def backward(self, gy, gw=None):
        xp = get_xp(gy)
        t = gy.dtype.type
        q, k, v, w, wd = self.q, self.k, self.v, self.w, self.wd
        gv = xp.swapaxes(wd, -1, -2) @ gy
        gwd = gy @ xp.swapaxes(v, -1, -2)
        gsm = gwd if self.drop_mask is None else gwd * self.drop_mask / t(self.keep_prob)
        if gw is not None:
            gsm = gsm + gw
        gs = w * (gsm - (gsm * w).sum(axis=-1, keepdims=True))
        if self.keep is not None:
            gs = xp.where(self.keep, gs, t(0))
        gs = gs * t(self.scale)
        gq, gk = gs @ k, xp.swapaxes(gs, -1, -2) @ q
        return _sum_to(xp, gq, q.shape), _sum_to(xp, gk, k.shape), _sum_to(xp, gv, v.shape)


def _sum_to(xp, g, shape):
    """Sum the broadcast leading axes of ``g`` back to ``shape``."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# --------------------------------------------------------------------------- cross-entropies
def _last(xp, a, axis):
    return xp.moveaxis(a, axis, -1)


class CategoricalCrossentropy(Function):
    """-sum(t * log p) over ``axis``: p = softmax(logits), or the probabilities normalised and
    clipped to [eps, 1 - eps] (no gradient where clipped); label smoothing mixes t with uniform."""

    def __init__(self, from_logits, ls, axis):
        self.from_logits, self.ls, self.axis = from_logits, ls, axis

    def forward(self, t, p):
        xp = get_xp(t, p)
        ty = p.dtype.type
        t, p = _last(xp, t, self.axis), _last(xp, p, self.axis)
        if self.ls:
            t = t * ty(1 - self.ls) + ty(self.ls / p.shape[-1])
        if self.from_logits:
            z = p - p.max(axis=-1, keepdims=True)
            logq = z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True))
        else:
            self.s = p.sum(axis=-1, keepdims=True)
            self.q = p / self.s
            self.inside = (self.q >= ty(EPSILON)) & (self.q <= ty(1 - EPSILON))
            self.c = xp.clip(self.q, ty(EPSILON), ty(1 - EPSILON))
            logq = xp.log(self.c)
        self.t, self.logq = t, logq
        return -(t * logq).sum(axis=-1)

    def backward(self, gy):
        xp = get_xp(gy)
        g = gy[..., None]
        t, logq = self.t, self.logq
        if self.from_logits:  # d/dz of -sum(t log softmax(z)) = softmax(z) sum(t) - t
            gp = g * (xp.exp(logq) * t.sum(axis=-1, keepdims=True) - t)
        else:  # through the clip (zero outside) and q = p / sum(p)
            gq = xp.where(self.inside, -t / self.c, gy.dtype.type(0))
            gp = g * (gq - (gq * self.q).sum(axis=-1, keepdims=True)) / self.s
        gt = g * -logq * gy.dtype.type(1 - self.ls)
        return xp.moveaxis(gt, -1, self.axis), xp.moveaxis(gp, -1, self.axis)


class SparseCategoricalCrossentropy(Function):
    """-log p[target] over ``axis``, p as in CategoricalCrossentropy with a one-hot t (the
    probabilities are clipped first, then normalised)."""

    def __init__(self, target, from_logits, axis):
        self.target, self.from_logits, self.axis = target, from_logits, axis

    def forward(self, p):
        xp = get_xp(p)
        ty = p.dtype.type
        p = _last(xp, p, self.axis)
        self.onehot = (xp.arange(p.shape[-1]) == self.target[..., None]).astype(p.dtype)
        if self.from_logits:
            z = p - p.max(axis=-1, keepdims=True)
            self.sm = xp.exp(z) / xp.exp(z).sum(axis=-1, keepdims=True)
            return xp.log(xp.exp(z).sum(axis=-1)) - (z * self.onehot).sum(axis=-1)
        c = xp.clip(p, ty(EPSILON), ty(1 - EPSILON))
        self.inside = (p >= ty(EPSILON)) & (p <= ty(1 - EPSILON))
        self.c = c
        return xp.log(c.sum(axis=-1)) - xp.log((c * self.onehot).sum(axis=-1))

    def backward(self, gy):
        xp = get_xp(gy)
        g = gy[..., None]
        if self.from_logits:
            gp = g * (self.sm - self.onehot)
        else:
            sc = self.c.sum(axis=-1, keepdims=True)
            ct = (self.c * self.onehot).sum(axis=-1, keepdims=True)
            gp = g * self.inside * (1 / sc - self.onehot / ct)
        return xp.moveaxis(gp, -1, self.axis)


# --------------------------------------------------------------------------- recurrent layers
def _out_of_place(activation):
    """The recurrent module's activations work in place (f(xp, z) overwrites z): a copying one."""
    def apply(xp, z):
        y = z.copy()
        activation(xp, y)
        return y
    return apply


class _Recurrence(Function):
    """The loop of SimpleRNN / LSTM / GRU over time and its backward (BPTT).

    Inputs x (N, T, F), kernel, recurrent_kernel, [bias], [initial states]; outputs
    (sequence or last output, *final states). A masked step keeps the previous states (and
    repeats the previous output); go_backwards runs (and returns the sequence) in reversed time.
    Subclasses give one ``step`` (forward of one time step, returning the new states and what its
    backward needs) and its ``step_back``. ``act``/``ract`` are (f(xp, z), f'(xp, y)) pairs.
    """

    n_states = 1

    def __init__(self, units, has_bias, has_states, mask, return_sequences, go_backwards, act, ract):
        self.u, self.has_bias, self.has_states, self.mask = units, has_bias, has_states, mask
        self.return_sequences, self.go_backwards = return_sequences, go_backwards
        self.act, self.d_act = _out_of_place(act[0]), act[1]
        self.ract, self.d_ract = _out_of_place(ract[0]), ract[1]

    def forward(self, x, kernel, rk, *rest):
        xp = self.xp = get_xp(x, kernel, rk)
        bias = rest[0] if self.has_bias else None
        N, T, _ = x.shape
        states = list(rest[1:] if self.has_bias else rest) if self.has_states else \
            [xp.zeros((N, self.u), x.dtype) for _ in range(self.n_states)]
        order = range(T - 1, -1, -1) if self.go_backwards else range(T)
        self.x, self.kernel, self.rk, self.bias, self.order = x, kernel, rk, bias, list(order)
        self.caches, outs = [], []
        for t in self.order:
            new, cache = self.step(xp, x[:, t], states, kernel, rk, bias)
            m = self._step_mask(t, x.dtype)
            states = [n if m is None else m * n + (1 - m) * s for s, n in zip(states, new)]
            self.caches.append(cache)
            outs.append(states[0])
        y = xp.stack(outs, axis=1) if self.return_sequences else states[0]
        return (y,) + tuple(states)

    def _step_mask(self, t, dtype):
        return None if self.mask is None else self.mask[:, t, None].astype(dtype)

    def backward(self, gy, *gstates):
        xp = self.xp
        x, kernel, rk, bias = self.x, self.kernel, self.rk, self.bias
        dstates = [xp.zeros(self.caches[0][0].shape, x.dtype) if g is None else g for g in gstates]
        if gy is not None and not self.return_sequences:
            dstates[0] = dstates[0] + gy
        gx = xp.zeros_like(x)
        gk, grk = xp.zeros_like(kernel), xp.zeros_like(rk)
        gb = None if bias is None else xp.zeros_like(bias)
        for i in range(len(self.order) - 1, -1, -1):
            t = self.order[i]
            if gy is not None and self.return_sequences:
                dstates[0] = dstates[0] + gy[:, i]
            m = self._step_mask(t, x.dtype)
            dnew = dstates if m is None else [m * d for d in dstates]
            dx_t, dprev, dk, drk, db = self.step_back(xp, self.caches[i], dnew, kernel, rk, bias)
            dstates = [dp if m is None else dp + (1 - m) * d for dp, d in zip(dprev, dstates)]
            gx[:, t] += dx_t
            gk += dk
            grk += drk
            if gb is not None:
                gb += db
        grads = [gx, gk, grk] + ([gb] if bias is not None else [])
        return tuple(grads + (dstates if self.has_states else []))


class SimpleRNN(_Recurrence):
    """h' = act(x W + h U + b)."""

    def step(self, xp, x, states, W, U, b):
        (h,) = states
        z = x @ W + h @ U + (0 if b is None else b)
        hn = self.act(xp, z)
        return [hn], (h, x, hn)

    def step_back(self, xp, cache, dnew, W, U, b):
        h, x, hn = cache
        dz = dnew[0] * self.d_act(xp, hn)
        return dz @ W.T, [dz @ U.T], x.T @ dz, h.T @ dz, dz.sum(axis=0)


class LSTM(_Recurrence):
    """Gates i, f, g, o = ract, ract, act, ract of (x W + h U + b); c' = f c + i g; h' = o act(c')."""

    n_states = 2

    def step(self, xp, x, states, W, U, b):
        h, c = states
        z = x @ W + h @ U + (0 if b is None else b)
        zi, zf, zg, zo = xp.split(z, 4, axis=-1)
        i, f, g, o = self.ract(xp, zi), self.ract(xp, zf), self.act(xp, zg), self.ract(xp, zo)
        cn = f * c + i * g
        ac = self.act(xp, cn)
        return [o * ac, cn], (h, c, x, i, f, g, o, ac)

    def step_back(self, xp, cache, dnew, W, U, b):
        h, c, x, i, f, g, o, ac = cache
        dh, dc = dnew
        dc = dc + dh * o * self.d_act(xp, ac)
        dz = xp.concatenate([dc * g * self.d_ract(xp, i), dc * c * self.d_ract(xp, f),
                             dc * i * self.d_act(xp, g), dh * ac * self.d_ract(xp, o)], axis=-1)
        return dz @ W.T, [dz @ U.T, dc * f], x.T @ dz, h.T @ dz, dz.sum(axis=0)


class GRU(_Recurrence):
    """Gates z, r = ract(...); candidate hh = act(x W_h + r * (h U_h + b_rec_h)) (reset_after,
    bias (2, 3u): input and recurrent rows) or act(x W_h + (r h) U_h + b_h); h' = z h + (1 - z) hh."""

    def __init__(self, *args, reset_after=True):
        super().__init__(*args)
        self.reset_after = reset_after

    def step(self, xp, x, states, W, U, b):
        (h,) = states
        u = self.u
        b_in = 0 if b is None else (b[0] if self.reset_after else b)
        xz = x @ W + b_in
        if self.reset_after:
            hz = h @ U + (0 if b is None else b[1])
            z = self.ract(xp, xz[:, :u] + hz[:, :u])
            r = self.ract(xp, xz[:, u:2 * u] + hz[:, u:2 * u])
            hh = self.act(xp, xz[:, 2 * u:] + r * hz[:, 2 * u:])
            cache = (h, x, z, r, hh, hz[:, 2 * u:])
        else:
            z = self.ract(xp, xz[:, :u] + h @ U[:, :u])
            r = self.ract(xp, xz[:, u:2 * u] + h @ U[:, u:2 * u])
            hh = self.act(xp, xz[:, 2 * u:] + (r * h) @ U[:, 2 * u:])
            cache = (h, x, z, r, hh, None)
        return [z * h + (1 - z) * hh], cache

    def step_back(self, xp, cache, dnew, W, U, b):
        h, x, z, r, hh, hzh = cache
        (dh,) = dnew
        u = self.u
        dzz = dh * (h - hh) * self.d_ract(xp, z)
        dah = dh * (1 - z) * self.d_act(xp, hh)  # the candidate's pre-activation
        dhprev = dh * z
        if self.reset_after:
            dr = dah * hzh * self.d_ract(xp, r)
            dxz = xp.concatenate([dzz, dr, dah], axis=-1)  # d(x W + b_in)
            dhz = xp.concatenate([dzz, dr, dah * r], axis=-1)  # d(h U + b_rec)
            dhprev = dhprev + dhz @ U.T
            db = None if b is None else xp.stack([dxz.sum(axis=0), dhz.sum(axis=0)])
            return dxz @ W.T, [dhprev], x.T @ dxz, h.T @ dhz, db
        drh = dah @ U[:, 2 * u:].T  # d(r * h)
        dr = drh * h * self.d_ract(xp, r)
        dxz = xp.concatenate([dzz, dr, dah], axis=-1)
        dhprev = dhprev + drh * r + dzz @ U[:, :u].T + dr @ U[:, u:2 * u].T
        drk = xp.concatenate([h.T @ dzz, h.T @ dr, (r * h).T @ dah], axis=-1)
        return dxz @ W.T, [dhprev], x.T @ dxz, drk, None if b is None else dxz.sum(axis=0)


# --------------------------------------------------------------------------- Adam
def adam_update(param, grad, m, v, iteration, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                v_hat=None):
    """One Adam step of Keras 3 (``iteration`` counts from 0): returns (param, m, v, v_hat) as new
    arrays; ``v_hat`` (AMSGrad's running maximum of v) when given."""
    xp = get_xp(param)
    t = iteration + 1
    m = m + (grad - m) * (1 - beta_1)
    v = v + (grad * grad - v) * (1 - beta_2)
    if v_hat is not None:
        v_hat = xp.maximum(v_hat, v)
    alpha = learning_rate * (1 - beta_2 ** t) ** 0.5 / (1 - beta_1 ** t)
    param = param - m * alpha / (xp.sqrt(v if v_hat is None else v_hat) + epsilon)
    return param, m, v, v_hat


# --------------------------------------------------------------------------- the switch
# module of core.ops -> the Function classes of it that the reference replaces
REPLACED = {"linalg": [Dense], "conv": [Conv2D, DepthwiseConv2D, Conv2DTranspose], "pooling": [Pool2D],
            "normalization": [BatchNormTrain, BatchNormInfer, LayerNorm], "attention": [SDPA],
            "losses": [CategoricalCrossentropy, SparseCategoricalCrossentropy],
            "recurrent": [SimpleRNN, LSTM, GRU]}


def install():
    """Make the public ops build the reference Functions instead of the fast ones (the module
    globals the public ops look up when called). Called by ``core.ops`` when ZOO_REFERENCE_OPS is set."""
    for name, classes in REPLACED.items():
        module = importlib.import_module(f"{__package__}.{name}")  # (ops.conv, ops.linalg: Keras names)
        for cls in classes:
            if not isinstance(getattr(module, cls.__name__, None), type):
                raise RuntimeError(f"ZOO_REFERENCE_OPS: core.ops.{name} has no {cls.__name__} to replace")
            setattr(module, cls.__name__, cls)
