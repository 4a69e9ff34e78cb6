"""Batch and layer normalization with fused, vectorised backward passes (Keras 3 semantics).

``batch_norm`` normalizes over every axis except the channel ``axis``; in training it uses
the batch statistics (biased variance, as Keras 3) and updates the moving statistics in
place: ``moving = moving * momentum + batch * (1 - momentum)`` (not part of the graph).
``layer_norm`` normalizes over ``axis`` (an int or a tuple) with gamma/beta shaped as
those axes. gamma/beta may be None (Keras ``scale=False`` / ``center=False``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import parallel
from ..autodiff import Function, Tensor
from ..backend import get_xp, to_device, device_of
from ._util import OpError, normalize_axis, tensors
from . import activations as ACT
from .activations import channel_op, ewise


def _csum(xp, a, axes, bshape):
    """Sum of ``a`` over ``axes`` (all but the channel axis), keeping dims. Channels-last data is
    summed as ``ones @ a.reshape(M, C)``: BLAS accumulates in blocks, both faster and ~3x more
    accurate in float32 than NumPy's row-by-row reduction over the leading axes."""
    c = bshape[-1]
    if axes == tuple(range(a.ndim - 1)) and a.flags.c_contiguous and a.size:
        m = a.size // c
        return (xp.ones((1, m), dtype=a.dtype) @ a.reshape(m, c)).reshape(bshape)
    return a.sum(axis=axes, keepdims=True)


def _channels_last(x, axes):
    """True when the statistics run over every axis but the last of a C-contiguous x."""
    return axes == tuple(range(x.ndim - 1)) and x.flags.c_contiguous and x.size > 0


# Batch norm over channels-last NumPy arrays runs in blocks of about this many elements (whole
# rows of channels): each block's passes (subtract the mean, square and sum; or the gradient's
# products and sums) run while it is in cache, and the blocks are shared out among the intra-op
# threads. Smaller blocks make many short NumPy calls, and two threads then mostly wait for the
# GIL between them (the block size chosen by measurement: benchmarks/README.md).
_BN_BLOCK = 1 << 18


def _bn_blocks(M, C):
    """(r0, r1) row blocks of an (M, C) array, each a whole number of ``_ROW``-element tiled rows."""
    reps = max(1, ACT._ROW // C)
    rows = max(reps, (_BN_BLOCK // (reps * C)) * reps)
    return [(r0, min(M, r0 + rows)) for r0 in range(0, M, rows)]


def _tiled(a, v, vt):
    """(a, vector) to broadcast over the rows of block ``a`` (rows, C): ``a`` as long rows with the
    tiled vector when its rows fill them (the fast case, see activations.channel_op), else as is."""
    n = a.size
    if n % vt.size == 0:
        return a.reshape(-1, vt.size), vt
    return a, v


class BatchNormTrain(Function):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta with the batch mean/var over ``axes``;
    with ``relu``, max(y, 0) (a following ReLU applied to each block while in cache, its mask
    kept, and the backward's blocks masking gy as they read it)."""

    def __init__(self, axes, bshape, epsilon, has_gamma, has_beta, relu=False):
        self.axes, self.bshape, self.epsilon = axes, bshape, epsilon
        self.has_gamma, self.has_beta, self.relu = has_gamma, has_beta, relu
        self.mask = None

    def forward(self, x, *params):
        xp = get_xp(x, *params)
        if _channels_last(x, self.axes):
            if xp is np:
                return self._forward_blocks(x, *params)
            return self._relu(xp, self._forward_last(xp, x, *params))
        self.fast = False
        it = iter(params)
        gamma = next(it).reshape(self.bshape) if self.has_gamma else None
        beta = next(it).reshape(self.bshape) if self.has_beta else None
        t = x.dtype.type
        inv_n = t(1.0 / max(x.size // math.prod(self.bshape), 1))
        mean = _csum(xp, x, self.axes, self.bshape) * inv_n
        xhat = x - mean
        var = _csum(xp, xhat * xhat, self.axes, self.bshape) * inv_n
        inv = t(1) / xp.sqrt(var + t(self.epsilon))
        xhat *= inv
        y = xhat * gamma if gamma is not None else xhat.copy()
        if beta is not None:
            y += beta
        self.batch_mean, self.batch_var = mean.reshape(-1), var.reshape(-1)  # read by batch_norm
        if any(self.needs_input_grad):
            self.xhat, self.inv, self.gamma = xhat, inv, gamma
            self.n = x.size // mean.size
        return self._relu(xp, y)

    def _relu(self, xp, y):
        """The fused ReLU of the paths that do not run by blocks: in place on y, its mask kept."""
        if not self.relu:
            return y
        ACT.relu_into(xp, y, y)
        if any(self.needs_input_grad):
            self.mask = y > 0
        return y

    def _forward_last(self, xp, x, *params):
        """Channels-last contiguous x: y = (x - mean) * (gamma * inv) + beta with every
        per-channel broadcast over long rows (``channel_op``); keeps x - mean for backward."""
        self.fast = True
        it = iter(params)
        gamma = next(it).reshape(-1) if self.has_gamma else None
        beta = next(it).reshape(-1) if self.has_beta else None
        t = x.dtype.type
        c = x.shape[-1]
        n = max(x.size // c, 1)
        mean = _csum(xp, x, self.axes, self.bshape).reshape(c) * t(1.0 / n)
        xc = channel_op(xp, xp.subtract, x, mean)
        sq = ewise(xp, xp.multiply, xc, xc, xp.empty_like(xc))
        var = _csum(xp, sq, self.axes, self.bshape).reshape(c) * t(1.0 / n)
        del sq
        inv = t(1) / xp.sqrt(var + t(self.epsilon))
        scale = inv if gamma is None else gamma * inv
        y = channel_op(xp, xp.multiply, xc, scale)
        if beta is not None:
            channel_op(xp, xp.add, y, beta, out=y)
        self.batch_mean, self.batch_var = mean, var  # read by batch_norm
        if any(self.needs_input_grad):
            self.xc, self.inv, self.gamma, self.n = xc, inv, gamma, n
        return y

    def _forward_blocks(self, x, *params):
        """``_forward_last`` on NumPy, block by block (``_BN_BLOCK``): the squares are summed while
        in cache, and the scale and shift (and the fused ReLU) applied to a block at a time."""
        self.fast = True
        it = iter(params)
        gamma = next(it).reshape(-1) if self.has_gamma else None
        beta = next(it).reshape(-1) if self.has_beta else None
        t = x.dtype.type
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        M = x2.shape[0]
        n = max(M, 1)
        blocks = _bn_blocks(M, c)
        width = max(r1 - r0 for r0, r1 in blocks)
        reps = max(1, ACT._ROW // c)
        ones = np.ones((1, width), x.dtype)
        mean = _csum(np, x, self.axes, self.bshape).reshape(c) * t(1.0 / n)
        xc = np.empty_like(x2)

        def center(b0, b1):  # xc = x - mean; the sum of xc^2 over this thread's blocks
            acc = np.zeros((1, c), x.dtype)
            sq = np.empty(width * c, x.dtype)
            mt = np.tile(mean, reps)
            for r0, r1 in blocks[b0:b1]:
                a, v = _tiled(x2[r0:r1], mean, mt)
                out = xc[r0:r1].reshape(a.shape)
                np.subtract(a, v, out=out)
                q = sq[:out.size].reshape(out.shape)
                np.multiply(out, out, out=q)
                acc += ones[:, :r1 - r0] @ q.reshape(r1 - r0, c)
            return acc

        sq_sum = parallel.sum_parts(parallel.for_ranges(center, len(blocks), x.size, gemm=True))
        var = sq_sum.reshape(c) * t(1.0 / n)
        inv = t(1) / np.sqrt(var + t(self.epsilon))
        scale = inv if gamma is None else gamma * inv
        y = np.empty_like(x2)
        relu = self.relu
        mask = np.empty(x2.shape, bool) if relu and any(self.needs_input_grad) else None

        def affine(b0, b1):  # y = xc * scale + beta [, then max(y, 0) and its mask]
            st = np.tile(scale, reps)
            bt = None if beta is None else np.tile(beta, reps)
            zt = np.zeros(st.size, x.dtype) if relu else None
            for r0, r1 in blocks[b0:b1]:
                a, v = _tiled(xc[r0:r1], scale, st)
                out = y[r0:r1].reshape(a.shape)
                np.multiply(a, v, out=out)
                if beta is not None:
                    np.add(out, bt if v is st else beta, out=out)
                if relu:
                    np.maximum(out, zt if v is st else zt[:1], out=out)
                    if mask is not None:
                        np.greater(out, 0, out=mask[r0:r1].reshape(a.shape))

        parallel.for_ranges(affine, len(blocks), x.size)
        self.batch_mean, self.batch_var = mean, var  # read by batch_norm
        if any(self.needs_input_grad):
            self.xc, self.inv, self.gamma, self.n = xc.reshape(x.shape), inv, gamma, n
            self.mask = None if mask is None else mask.reshape(x.shape)
        return y.reshape(x.shape)

    def _backward_blocks(self, gy):
        """``_backward_last`` on NumPy, block by block: the two column sums from one read of gy
        and x - mean, then dx from a second (with a fused ReLU, the first read masks gy and keeps
        the masked blocks for the second)."""
        t = gy.dtype.type
        c = gy.shape[-1]
        xc, inv, n = self.xc.reshape(-1, c), self.inv, self.n
        g2 = gy.reshape(-1, c)
        M = g2.shape[0]
        blocks = _bn_blocks(M, c)
        width = max(r1 - r0 for r0, r1 in blocks)
        reps = max(1, ACT._ROW // c)
        ones = np.ones((1, width), gy.dtype)
        mask = None if self.mask is None else self.mask.reshape(-1, c)
        gm = None if mask is None else np.empty_like(g2)  # gy * mask

        def sums(b0, b1):  # sum(gy), sum(gy * xc) over this thread's blocks
            db = np.zeros((1, c), gy.dtype)
            dg = np.zeros((1, c), gy.dtype)
            prod = np.empty(width * c, gy.dtype)
            for r0, r1 in blocks[b0:b1]:
                g, x_ = g2[r0:r1], xc[r0:r1]
                if mask is not None:
                    g = np.multiply(g, mask[r0:r1], out=gm[r0:r1])
                q = prod[:g.size].reshape(g.shape)
                np.multiply(g, x_, out=q)
                db += ones[:, :r1 - r0] @ g
                dg += ones[:, :r1 - r0] @ q
            return np.concatenate([db, dg])

        both = parallel.sum_parts(parallel.for_ranges(sums, len(blocks), gy.size, gemm=True))
        dbeta, dgamma = both[0], both[1] * inv  # dgamma = sum(gy * xhat)
        if gm is not None:
            g2 = gm
        if self.needs_input_grad[0]:
            # dx = gy * scale + xc * (-scale inv dgamma / n) - scale dbeta / n
            scale = inv if self.gamma is None else self.gamma * inv
            coef = -(scale * inv * dgamma * t(1.0 / n))
            shift = -(scale * dbeta * t(1.0 / n))
            dx = np.empty_like(g2)

            def grad(b0, b1):
                st, ct, ht = np.tile(scale, reps), np.tile(coef, reps), np.tile(shift, reps)
                tmp = np.empty(width * c, gy.dtype)
                for r0, r1 in blocks[b0:b1]:
                    a, v = _tiled(g2[r0:r1], scale, st)
                    tiled = v is st
                    out = dx[r0:r1].reshape(a.shape)
                    np.multiply(a, v, out=out)
                    x_ = xc[r0:r1].reshape(a.shape)
                    q = tmp[:out.size].reshape(out.shape)
                    np.multiply(x_, ct if tiled else coef, out=q)
                    out += q
                    out += ht if tiled else shift

            parallel.for_ranges(grad, len(blocks), gy.size)
            dx = dx.reshape(gy.shape)
        else:
            dx = None
        return self._grads(dx, dgamma, dbeta)

    def _backward_last(self, xp, gy):
        t = gy.dtype.type
        c = gy.shape[-1]
        xc, inv, n = self.xc, self.inv, self.n
        dbeta = _csum(xp, gy, self.axes, self.bshape).reshape(c)
        gx = ewise(xp, xp.multiply, gy, xc, xp.empty_like(xc)) if gy.flags.c_contiguous else gy * xc
        dgamma = _csum(xp, gx, self.axes, self.bshape).reshape(c) * inv  # sum(gy * xhat)
        del gx
        dx = None
        if self.needs_input_grad[0]:
            # dx = scale * (gy - dbeta / n - xhat * dgamma / n), xhat = xc * inv, scale = gamma * inv
            scale = inv if self.gamma is None else self.gamma * inv
            dx = channel_op(xp, xp.multiply, gy, scale)
            tmp = channel_op(xp, xp.multiply, xc, -(scale * inv * dgamma * t(1.0 / n)))
            ewise(xp, xp.add, dx, tmp, dx)
            del tmp
            channel_op(xp, xp.add, dx, -(scale * dbeta * t(1.0 / n)), out=dx)
        return self._grads(dx, dgamma, dbeta)

    def _grads(self, dx, dgamma, dbeta):
        """backward's result: dx, then dgamma and dbeta where the op has them (None where no
        gradient is needed)."""
        grads = [dx if self.needs_input_grad[0] else None]
        k = 1
        if self.has_gamma:
            grads.append(dgamma if self.needs_input_grad[k] else None)
            k += 1
        if self.has_beta:
            grads.append(dbeta if self.needs_input_grad[k] else None)
        return tuple(grads)

    def backward(self, gy):
        xp = get_xp(gy)
        if self.fast and xp is np and gy.flags.c_contiguous:
            return self._backward_blocks(gy)  # (it applies the ReLU's mask itself)
        if self.mask is not None:
            gy = ACT.mask_grad(xp, gy, self.mask)
        if self.fast:
            return self._backward_last(xp, gy)
        axes, xhat, t = self.axes, self.xhat, gy.dtype.type
        dbeta = _csum(xp, gy, axes, self.bshape)
        dgamma = _csum(xp, gy * xhat, axes, self.bshape)
        dx = None
        if self.needs_input_grad[0]:
            scale = self.inv if self.gamma is None else self.gamma * self.inv
            inv_n = t(1.0 / self.n)
            dx = scale * (gy - dbeta * inv_n - xhat * (dgamma * inv_n))
        return self._grads(dx, dgamma.reshape(-1), dbeta.reshape(-1))


class BatchNormInfer(Function):
    """The affine map y = x * gamma / sqrt(var + eps) + (beta - mean * gamma / sqrt(var + eps))."""

    def __init__(self, axes, bshape, epsilon, mean, var, has_gamma, has_beta):
        self.axes, self.bshape, self.epsilon = axes, bshape, epsilon
        self.mean, self.var = mean, var
        self.has_gamma, self.has_beta = has_gamma, has_beta

    def forward(self, x, *params):
        xp = get_xp(x, *params)
        it = iter(params)
        gamma = next(it).reshape(self.bshape) if self.has_gamma else None
        beta = next(it).reshape(self.bshape) if self.has_beta else None
        t = x.dtype.type
        mean = self.mean.reshape(self.bshape)
        inv = t(1) / xp.sqrt(self.var.reshape(self.bshape) + t(self.epsilon))
        scale = inv if gamma is None else gamma * inv
        shift = -mean * scale
        if beta is not None:
            shift = shift + beta
        if _channels_last(x, self.axes):
            y = channel_op(xp, xp.multiply, x, scale.reshape(-1))
            channel_op(xp, xp.add, y, shift.reshape(-1), out=y)
        else:
            y = x * scale + shift
        del self.mean, self.var
        if self.needs_input_grad[0]:
            self.scale = scale
        if self.has_gamma and self.needs_input_grad[1]:
            self.x, self.m, self.inv = x, mean, inv
        return y

    def backward(self, gy):
        grads = [gy * self.scale if self.needs_input_grad[0] else None]
        k = 1
        if self.has_gamma:
            xp = get_xp(gy)
            grads.append((_csum(xp, gy * ((self.x - self.m) * self.inv), self.axes, self.bshape).reshape(-1)
                          if self.needs_input_grad[k] else None))
            k += 1
        if self.has_beta:
            grads.append(_csum(get_xp(gy), gy, self.axes, self.bshape).reshape(-1)
                         if self.needs_input_grad[k] else None)
        return tuple(grads)


def _stat_array(op, name, s, like, c):
    """The raw array of a moving statistic (Tensor or array), checked to have shape (C,)."""
    if s is None:
        return None
    arr = s.data if isinstance(s, Tensor) else s
    shape = tuple(getattr(arr, "shape", ()))
    if shape != (c,):
        raise OpError(f"{op}: {name} must have shape ({c},) (the size of the normalized-over channel axis "
                      f"of x {tuple(like.shape)}), got {shape}")
    if getattr(arr, "dtype", None) is None or arr.dtype.kind != "f":
        raise OpError(f"{op}: {name} must be floating, got dtype {getattr(arr, 'dtype', type(arr))}")
    return arr


def _check_param(op, name, p, want):
    if p is not None and tuple(p.shape) != want:
        raise OpError(f"{op}: {name} must have shape {want}, got {tuple(p.shape)}")


def _on_device(arr, like):
    if device_of(arr) != device_of(like):
        arr = to_device(arr, device_of(like))
    return arr


def batch_norm(x, gamma, beta, moving_mean, moving_variance, training=False, momentum=0.99, epsilon=1e-3, axis=-1,
               *, activation=None):
    """Batch normalization over every axis of ``x`` except ``axis`` (Keras 3 BatchNormalization).

    training=True: normalize with the batch mean and (biased) variance and update
    ``moving_mean``/``moving_variance`` in place (their ``.data``), not recorded in the graph.
    training=False: normalize with the moving statistics. gamma/beta may be None.
    ``activation``: None, or "relu" for ``relu(batch_norm(...))`` as one op (training=True only).
    """
    op = "batch_norm"
    if activation not in (None, "relu"):
        raise OpError(f"{op}: activation must be None or 'relu', got {activation!r}")
    if activation is not None and not training:
        raise OpError(f"{op}: activation={activation!r} is fused in training only; apply it after the op "
                      "(or fold the normalization into the preceding convolution) at inference")
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise OpError(f"{op}: axis must be an int, got {axis!r}")
    if not 0.0 <= float(momentum) <= 1.0:
        raise OpError(f"{op}: momentum must be in [0, 1], got {momentum}")
    if not float(epsilon) > 0.0:
        raise OpError(f"{op}: epsilon must be > 0, got {epsilon}")
    args = [a for a in (x, gamma, beta) if a is not None]
    ts = tensors(op, *args)
    x = ts[0]
    gamma_t = ts[1] if gamma is not None else None
    beta_t = ts[-1] if beta is not None else None
    if x.ndim < 2:
        raise OpError(f"{op}: x must have rank >= 2 (batch and channel axes), got shape {tuple(x.shape)}")
    (ax,) = normalize_axis(op, axis, x.ndim)
    c = x.shape[ax]
    _check_param(op, "gamma", gamma_t, (c,))
    _check_param(op, "beta", beta_t, (c,))
    axes = tuple(i for i in range(x.ndim) if i != ax)
    bshape = tuple(c if i == ax else 1 for i in range(x.ndim))
    mm = _stat_array(op, "moving_mean", moving_mean, x, c)
    mv = _stat_array(op, "moving_variance", moving_variance, x, c)
    params = [p for p in (gamma_t, beta_t) if p is not None]
    if training:
        fn = BatchNormTrain(axes, bshape, float(epsilon), gamma is not None, beta is not None,
                            relu=activation == "relu")
        y = fn.apply(x, *params)
        bm, bv = fn.batch_mean, fn.batch_var
        del fn.batch_mean, fn.batch_var
        m = float(momentum)
        for arr, batch in ((mm, bm), (mv, bv)):
            if arr is None:
                continue
            t = arr.dtype.type
            new = arr * t(m) + _on_device(batch, arr).astype(arr.dtype, copy=False) * t(1.0 - m)
            arr[...] = new
        return y
    if mm is None or mv is None:
        raise OpError(f"{op}: training=False needs moving_mean and moving_variance, got None")
    dt = x.dtype
    mean = _on_device(mm, x.data).astype(dt, copy=False)
    var = _on_device(mv, x.data).astype(dt, copy=False)
    fn = BatchNormInfer(axes, bshape, float(epsilon), mean, var, gamma is not None, beta is not None)
    return fn.apply(x, *params)


# LayerNorm over the last axis shares its rows out among the intra-op threads from this many
# elements (forward and backward are each a few passes per row; measurements: benchmarks/README.md).
_LN_PARALLEL_MIN = 1 << 17


class LayerNorm(Function):
    def __init__(self, axes, bshape, epsilon, has_gamma, has_beta):
        self.axes, self.bshape, self.epsilon = axes, bshape, epsilon
        self.has_gamma, self.has_beta = has_gamma, has_beta

    def forward(self, x, *params):
        xp = get_xp(x, *params)
        it = iter(params)
        gamma = next(it) if self.has_gamma else None
        beta = next(it) if self.has_beta else None
        self.pshapes = tuple(p.shape for p in params)
        gamma = gamma.reshape(self.bshape) if gamma is not None else None
        beta = beta.reshape(self.bshape) if beta is not None else None
        t = x.dtype.type
        self.rows = xp is np and self.axes == (x.ndim - 1,) and x.flags.c_contiguous and x.size > 0
        if self.rows:
            return self._forward_rows(x, gamma, beta, t)
        xhat = x - x.mean(axis=self.axes, keepdims=True)
        var = (xhat * xhat).mean(axis=self.axes, keepdims=True)
        inv = t(1) / xp.sqrt(var + t(self.epsilon))
        xhat *= inv
        y = xhat * gamma if gamma is not None else xhat.copy()
        if beta is not None:
            y += beta
        if any(self.needs_input_grad):
            self.xhat, self.inv, self.gamma = xhat, inv, gamma
        return y

    def _forward_rows(self, x, gamma, beta, t):
        """Normalization over the last axis of a C-contiguous NumPy x, rows shared out among the
        intra-op threads (each row's statistics are its own): the operations of ``forward``."""
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        xhat, y = np.empty_like(x2), np.empty_like(x2)
        inv = np.empty((x2.shape[0], 1), x.dtype)
        g1 = None if gamma is None else gamma.reshape(c)
        b1 = None if beta is None else beta.reshape(c)
        eps = t(self.epsilon)

        def rows(r0, r1):
            xr, xh, iv = x2[r0:r1], xhat[r0:r1], inv[r0:r1]
            np.subtract(xr, xr.mean(axis=1, keepdims=True), out=xh)
            np.sqrt((xh * xh).mean(axis=1, keepdims=True) + eps, out=iv)
            np.divide(t(1), iv, out=iv)
            xh *= iv
            if g1 is not None:
                np.multiply(xh, g1, out=y[r0:r1])
            else:
                y[r0:r1] = xh
            if b1 is not None:
                y[r0:r1] += b1

        parallel.for_ranges(rows, x2.shape[0], x.size, min_elements=_LN_PARALLEL_MIN)
        if any(self.needs_input_grad):
            self.xhat, self.inv, self.gamma = xhat, inv, g1
        return y.reshape(x.shape)

    def _backward_rows(self, gy):
        c = gy.shape[-1]
        g2 = gy.reshape(-1, c)
        xhat, inv, g1 = self.xhat, self.inv, self.gamma
        need = self.needs_input_grad
        want_g = self.has_gamma and need[1]
        want_b = self.has_beta and need[1 + self.has_gamma]
        dx = np.empty_like(g2) if need[0] else None

        def rows(r0, r1):
            gr, xr = g2[r0:r1], xhat[r0:r1]
            if dx is not None:
                g = gr if g1 is None else gr * g1
                mg = g.mean(axis=1, keepdims=True)
                mgx = (g * xr).mean(axis=1, keepdims=True)
                dx[r0:r1] = inv[r0:r1] * (g - mg - xr * mgx)
            return ((gr * xr).sum(axis=0) if want_g else None), (gr.sum(axis=0) if want_b else None)

        parts = parallel.for_ranges(rows, g2.shape[0], gy.size, min_elements=_LN_PARALLEL_MIN)
        grads = [None if dx is None else dx.reshape(gy.shape)]
        for k, want in ((0, want_g), (1, want_b)):
            if (self.has_gamma, self.has_beta)[k]:
                total = None
                if want:
                    total = parallel.sum_parts([p[k] for p in parts]).reshape(self.pshapes[len(grads) - 1])
                grads.append(total)
        return tuple(grads)

    def backward(self, gy):
        if self.rows:
            return self._backward_rows(gy)
        axes, xhat = self.axes, self.xhat
        other = tuple(i for i in range(gy.ndim) if i not in axes)
        grads = []
        if self.needs_input_grad[0]:
            g = gy if self.gamma is None else gy * self.gamma
            mg = g.mean(axis=axes, keepdims=True)
            mgx = (g * xhat).mean(axis=axes, keepdims=True)
            grads.append(self.inv * (g - mg - xhat * mgx))
        else:
            grads.append(None)
        k = 1
        if self.has_gamma:
            grads.append((gy * xhat).sum(axis=other).reshape(self.pshapes[k - 1])
                         if self.needs_input_grad[k] else None)
            k += 1
        if self.has_beta:
            grads.append(gy.sum(axis=other).reshape(self.pshapes[k - 1]) if self.needs_input_grad[k] else None)
        return tuple(grads)


def layer_norm(x, gamma, beta, axis=-1, epsilon=1e-3):
    """Layer normalization over ``axis`` (int or tuple), as Keras 3 LayerNormalization.

    gamma/beta have the shape of the normalized axes (``tuple(x.shape[a] for a in axis)``)
    or that shape with 1s in the other axes; either may be None.
    """
    op = "layer_norm"
    if not float(epsilon) > 0.0:
        raise OpError(f"{op}: epsilon must be > 0, got {epsilon}")
    args = [a for a in (x, gamma, beta) if a is not None]
    ts = tensors(op, *args)
    x = ts[0]
    gamma_t = ts[1] if gamma is not None else None
    beta_t = ts[-1] if beta is not None else None
    if x.ndim < 1:
        raise OpError(f"{op}: x must have rank >= 1, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, (int, tuple, list)):
        raise OpError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    axes = normalize_axis(op, axis, x.ndim)
    if not axes:
        raise OpError(f"{op}: axis must name at least one axis, got {axis!r}")
    bshape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
    compact = tuple(x.shape[i] for i in axes)
    for name, p in (("gamma", gamma_t), ("beta", beta_t)):
        if p is not None and tuple(p.shape) not in (compact, bshape):
            raise OpError(f"{op}: {name} must have shape {compact} (the normalized axes {axes} of x "
                          f"{tuple(x.shape)}), got {tuple(p.shape)}")
    params = [p for p in (gamma_t, beta_t) if p is not None]
    return LayerNorm(axes, bshape, float(epsilon), gamma is not None, beta is not None).apply(x, *params)
