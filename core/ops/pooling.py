"""Pooling, channels-last, with Keras 3 / TensorFlow semantics.

``max_pool2d`` / ``avg_pool2d`` take x (N, H, W, C); the 1-d versions x (N, L, C) and run
through a height-1 view. ``strides=None`` means ``pool_size``. "same" padding is
TensorFlow's (extra cell at the end); max pooling ignores padded cells (they are -inf) and
average pooling divides by the number of real cells in each window (padding excluded, as
Keras / TensorFlow do). Forward and backward loop over the pool window positions only,
each step one strided slice of the whole batch; max-pool backward routes each gradient to
the first arg-max of its window.
"""
from __future__ import annotations

import numpy as np

from .. import parallel
from ..autodiff import Function
from ..backend import get_xp
from ._util import OpError, tensors
from .conv import _ints, _is_zero, _out_len, _pad, _pad_adjoint, _same_pads, _tap
from .reductions import max as _reduce_max
from .reductions import mean as _reduce_mean


def _window_counts(xp, n, k, s, pad_before, out, dtype):
    """Per output position along one axis: the number of real (unpadded) cells in its window."""
    start = xp.arange(out) * s - pad_before
    return (xp.minimum(start + k, n) - xp.maximum(start, 0)).astype(dtype)


def _max4(xp, a, b, c, d, y, code=None):
    """``y`` = the elementwise max of four same-shaped arrays, the windows' (top-left, top-right,
    bottom-left, bottom-right) values; ``code`` (uint8, optional) = the index 0..3 of the first
    max in that (row-major) order, from three comparisons and a few byte operations."""
    m0 = xp.maximum(a, b, out=y)
    m1 = xp.maximum(c, d)
    if code is not None:
        c0 = b > a  # first max of the top row is b
        c1 = d > c  # ... of the bottom row is d
        rr = m1 > m0  # strict: a tie between the rows keeps the top row
        c1 ^= c0
        c1 &= rr
        c0 ^= c1  # column of the chosen row
        r = rr.view(xp.uint8)
        xp.add(r, r, out=code)  # (NumPy's uint8 shift is not vectorised; this add is)
        code |= c0.view(xp.uint8)
    xp.maximum(m0, m1, out=m0)


def _max_pool_2x2(xp, xpad, Ho, Wo, need, y=None, arg=None):
    """2x2 max pooling with stride 2 over the top-left (2 Ho, 2 Wo) of ``xpad`` by ``_max4`` of
    strided views, with (when ``need``) the arg-max codes. Large batches run a range of images
    per intra-op thread (core.parallel). ``y`` / ``arg``: the arrays to write into."""
    N, C = xpad.shape[0], xpad.shape[3]
    if y is None:
        y = xp.empty((N, Ho, Wo, C), xpad.dtype)
    if arg is None and need:
        arg = xp.empty((N, Ho, Wo, C), xp.uint8)
    x6 = xpad[:, :2 * Ho, :2 * Wo].reshape(N, Ho, 2, Wo, 2, C)

    def images(n0, n1):
        for i0, i1 in _image_groups(xp, n0, n1, Ho * Wo * C):  # temporaries in cache
            v = x6[i0:i1]
            _max4(xp, v[:, :, 0, :, 0], v[:, :, 0, :, 1], v[:, :, 1, :, 0], v[:, :, 1, :, 1], y[i0:i1],
                  arg[i0:i1] if need else None)

    parallel.for_ranges(images, N, y.size * 4, xp=xp)
    return y, arg


# the overlapping-window pooling's image groups hold about this many elements of output on NumPy:
# enough that NumPy's per-call overhead (and on two threads, each call's turn at the GIL) does not
# dominate small images, few enough to stay in cache (measurements: benchmarks/README.md)
_GROUP_ELEMENTS = 1 << 17


def _image_groups(xp, n0, n1, per_image):
    """Ranges of images [n0, n1) processed together by the overlapping-window pooling: about
    _GROUP_ELEMENTS elements (``per_image`` an image) at a time on NumPy (its temporaries stay in
    cache), all at once elsewhere (one kernel per pass)."""
    step = max(1, _GROUP_ELEMENTS // max(per_image, 1)) if xp is np else max(n1 - n0, 1)
    return [(i, min(i + step, n1)) for i in range(n0, n1, step)] or [(n0, n0)]


def _max_pool_windows(xp, xpad, pool, strides, y):
    """Max pooling of any window and stride into ``y``: the maximum over each window's rows,
    then over its columns (ph - 1 + pw - 1 passes instead of ph * pw - 1)."""
    (ph, pw), (sh, sw) = pool, strides
    Ho, Wo = y.shape[1:3]
    groups = _image_groups(xp, 0, xpad.shape[0], Ho * xpad.shape[2] * xpad.shape[3])
    rows = xp.empty((groups[0][1] - groups[0][0], Ho) + xpad.shape[2:], xpad.dtype)
    for i0, i1 in groups:
        img, r = xpad[i0:i1], rows[:i1 - i0]
        xp.copyto(r, img[:, 0:(Ho - 1) * sh + 1:sh])
        for a in range(1, ph):
            xp.maximum(r, img[:, a:a + (Ho - 1) * sh + 1:sh], out=r)
        out = y[i0:i1]
        xp.copyto(out, r[:, :, 0:(Wo - 1) * sw + 1:sw])
        for b in range(1, pw):
            xp.maximum(out, r[:, :, b:b + (Wo - 1) * sw + 1:sw], out=out)


def _max_pool_windows_arg(xp, xpad, pool, strides, y, arg):
    """Max pooling of any window and stride into ``y``, with ``arg`` the first arg-max of each
    window in row-major order."""
    (ph, pw), (sh, sw) = pool, strides
    Ho, Wo = y.shape[1:3]
    small = arg.dtype == xp.uint8
    groups = _image_groups(xp, 0, xpad.shape[0], Ho * Wo * y.shape[3])
    shape = (groups[0][1] - groups[0][0],) + y.shape[1:]
    upd, gt = xp.empty(shape, arg.dtype), xp.empty(shape, bool)
    for i0, i1 in groups:
        img, out, am, u, m = xpad[i0:i1], y[i0:i1], arg[i0:i1], upd[:i1 - i0], gt[:i1 - i0]
        out[...] = _tap(img, 0, 0, sh, sw, 1, 1, Ho, Wo)
        am[...] = 0
        p = 0
        for a in range(ph):
            for b in range(pw):
                if p:
                    sl = _tap(img, a, b, sh, sw, 1, 1, Ho, Wo)
                    # strict >: ties keep the first position. Positions come in increasing
                    # order, so the last update is also the largest p that updated: a max.
                    xp.greater(sl, out, out=m)
                    xp.multiply(m.view(xp.uint8) if small else m, arg.dtype.type(p), out=u)
                    xp.maximum(am, u, out=am)
                    xp.maximum(out, sl, out=out)
                p += 1


class Pool2D(Function):
    def __init__(self, mode, pool, strides, pads, one_d=False):
        self.mode, self.pool, self.strides, self.pads, self.one_d = mode, pool, strides, pads, one_d

    def forward(self, x):
        xp = self.xp = get_xp(x)
        self.x_shape = x.shape
        if self.one_d:
            x = x[:, None]
        N, H, W, C = x.shape
        (ph, pw), (sh, sw) = self.pool, self.strides
        is_max = self.mode == "max"
        xpad = _pad(xp, x, self.pads, value=-float("inf") if is_max else 0)
        Hp, Wp = xpad.shape[1:3]
        Ho, Wo = _out_len(Hp, ph, sh, 1), _out_len(Wp, pw, sw, 1)
        self.geom = (N, H, W, C, Hp, Wp, Ho, Wo)
        need = self.needs_input_grad[0]
        self.tiled = sh == ph and sw == pw  # non-overlapping windows: each input cell in at most one
        if is_max:
            arg_dtype = xp.uint8 if ph * pw < 256 else xp.int32
            if self.tiled and ph == 2 and pw == 2:
                y, arg = _max_pool_2x2(xp, xpad, Ho, Wo, need)
            else:
                y = xp.empty((N, Ho, Wo, C), x.dtype)
                arg = xp.empty(y.shape, arg_dtype) if need else None

                def images(n0, n1):
                    if need:
                        _max_pool_windows_arg(xp, xpad[n0:n1], (ph, pw), (sh, sw), y[n0:n1], arg[n0:n1])
                    else:
                        _max_pool_windows(xp, xpad[n0:n1], (ph, pw), (sh, sw), y[n0:n1])

                parallel.for_ranges(images, N, y.size * ph * pw, xp=xp)
            self.arg = arg
        else:
            y = xp.zeros((N, Ho, Wo, C), x.dtype)
            for a in range(ph):
                for b in range(pw):
                    y += _tap(xpad, a, b, sh, sw, 1, 1, Ho, Wo)
            if _is_zero(self.pads):
                self.scale = 1.0 / (ph * pw)
                y *= x.dtype.type(self.scale)
            else:
                ch = _window_counts(xp, H, ph, sh, self.pads[0][0], Ho, x.dtype)
                cw = _window_counts(xp, W, pw, sw, self.pads[1][0], Wo, x.dtype)
                self.scale = None
                self.inv_count = (1 / (ch[:, None] * cw[None, :]))[None, :, :, None]  # (1, Ho, Wo, 1)
                y *= self.inv_count
        return y[:, 0] if self.one_d else y

    def backward(self, gy):
        xp = self.xp
        N, H, W, C, Hp, Wp, Ho, Wo = self.geom
        (ph, pw), (sh, sw) = self.pool, self.strides
        if self.one_d:
            gy = gy[:, None]
        if self.mode == "max" and self.tiled:
            # each input cell belongs to at most one window: write every tap's share directly
            dpad = xp.empty((N, Hp, Wp, C), gy.dtype)
            if Hp > Ho * ph:
                dpad[:, Ho * ph:] = 0
            if Wp > Wo * pw:
                dpad[:, :Ho * ph, Wo * pw:] = 0
            d6 = dpad[:, :Ho * ph, :Wo * pw].reshape(N, Ho, ph, Wo, pw, C)
            arg = self.arg

            def images(n0, n1):
                g, code = gy[n0:n1], arg[n0:n1]
                p = 0
                for a in range(ph):
                    for b in range(pw):
                        xp.multiply(g, code == p, out=d6[n0:n1, :, a, :, b])
                        p += 1

            parallel.for_ranges(images, N, dpad.size, xp=xp)
            dx = _pad_adjoint(xp, dpad, self.pads, (N, H, W, C))
            return dx.reshape(self.x_shape)
        dpad = xp.zeros((N, Hp, Wp, C), gy.dtype)
        if self.mode == "max":
            arg = self.arg

            def scatter(n0, n1):  # each image's windows add into its own rows only
                groups = _image_groups(xp, n0, n1, Ho * Wo * C)
                shape = (groups[0][1] - groups[0][0],) + gy.shape[1:]
                eq, share = xp.empty(shape, bool), xp.empty(shape, gy.dtype)
                for i0, i1 in groups:
                    tgt_img, g, am = dpad[i0:i1], gy[i0:i1], arg[i0:i1]
                    e, part = eq[:i1 - i0], share[:i1 - i0]
                    p = 0
                    for a in range(ph):
                        for b in range(pw):
                            xp.equal(am, p, out=e)
                            xp.multiply(g, e, out=part)
                            tgt = _tap(tgt_img, a, b, sh, sw, 1, 1, Ho, Wo)
                            tgt += part
                            p += 1

            parallel.for_ranges(scatter, N, dpad.size * 2, xp=xp)
        else:
            g = gy * (gy.dtype.type(self.scale) if self.scale is not None else self.inv_count)
            for a in range(ph):
                for b in range(pw):
                    tgt = _tap(dpad, a, b, sh, sw, 1, 1, Ho, Wo)
                    tgt += g
        dx = _pad_adjoint(xp, dpad, self.pads, (N, H, W, C))
        return dx.reshape(self.x_shape)


def _pool(op, mode, x, pool_size, strides, padding, one_d):
    (x,) = tensors(op, x)
    rank, layout = (3, "(N, L, C)") if one_d else (4, "(N, H, W, C)")
    if x.ndim != rank:
        raise OpError(f"{op}: x must have rank {rank} {layout}, got shape {tuple(x.shape)}")
    n = 1 if one_d else 2
    pool = _ints(op, "pool_size", pool_size, n)
    s = pool if strides is None else _ints(op, "strides", strides, n)
    if one_d:
        pool, s = (1,) + pool, (1,) + s
    spatial = (1,) + tuple(x.shape[1:2]) if one_d else tuple(x.shape[1:3])
    p = padding.lower() if isinstance(padding, str) else None
    if p == "valid":
        pads = ((0, 0), (0, 0))
    elif p == "same":
        pads = tuple(_same_pads(sz, k, st) for sz, k, st in zip(spatial, pool, s))
    else:
        raise OpError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    out = [_out_len(sz + a + b, k, st, 1) for sz, (a, b), k, st in zip(spatial, pads, pool, s)]
    if min(out) < 1:
        shown = pool[1:] if one_d else pool
        raise OpError(f"{op}: input of spatial size {spatial[1:] if one_d else spatial} is smaller than "
                      f"pool_size {shown} with padding 'valid'; the output would be empty")
    return Pool2D(mode, pool, s, pads, one_d).apply(x)


def max_pool2d(x, pool_size, strides=None, padding="valid"):
    """Max pooling (as Keras ``MaxPooling2D``): x (N, H, W, C)."""
    return _pool("max_pool2d", "max", x, pool_size, strides, padding, one_d=False)


def avg_pool2d(x, pool_size, strides=None, padding="valid"):
    """Average pooling (as Keras ``AveragePooling2D``); with "same" padded cells are not counted."""
    return _pool("avg_pool2d", "avg", x, pool_size, strides, padding, one_d=False)


def max_pool1d(x, pool_size, strides=None, padding="valid"):
    """Max pooling over time (as Keras ``MaxPooling1D``): x (N, L, C)."""
    return _pool("max_pool1d", "max", x, pool_size, strides, padding, one_d=True)


def avg_pool1d(x, pool_size, strides=None, padding="valid"):
    """Average pooling over time (as Keras ``AveragePooling1D``); "same" excludes padded cells."""
    return _pool("avg_pool1d", "avg", x, pool_size, strides, padding, one_d=True)


def _global(op, reduce, x, rank, keepdims):
    (x,) = tensors(op, x)
    layout = "(N, L, C)" if rank == 3 else "(N, H, W, C)"
    if x.ndim != rank:
        raise OpError(f"{op}: x must have rank {rank} {layout}, got shape {tuple(x.shape)}")
    if x.size == 0:
        raise OpError(f"{op}: cannot pool an empty tensor of shape {tuple(x.shape)}")
    return reduce(x, axis=tuple(range(1, rank - 1)), keepdims=bool(keepdims))


def global_avg_pool2d(x, keepdims=False):
    """Mean over H and W: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with ``keepdims``."""
    return _global("global_avg_pool2d", _reduce_mean, x, 4, keepdims)


def global_max_pool2d(x, keepdims=False):
    """Max over H and W (ties share the gradient, as TensorFlow's reduce_max)."""
    return _global("global_max_pool2d", _reduce_max, x, 4, keepdims)


def global_avg_pool1d(x, keepdims=False):
    """Mean over time: (N, L, C) -> (N, C), or (N, 1, C) with ``keepdims``."""
    return _global("global_avg_pool1d", _reduce_mean, x, 3, keepdims)


def global_max_pool1d(x, keepdims=False):
    """Max over time: (N, L, C) -> (N, C), or (N, 1, C) with ``keepdims``."""
    return _global("global_max_pool1d", _reduce_max, x, 3, keepdims)
