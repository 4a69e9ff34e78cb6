"""3-d convolution, transposed convolution and pooling (channels-last), composed from the 2-d ops.

The depth axis is handled as a loop over the kernel's (or window's) depth taps: tap ``t`` takes the
strided depth slice it sees, folds depth into the batch and runs the 2-d op on (height, width);
the taps' results are summed (convolution), maxed or averaged (pooling). Every piece is a
differentiable op, so the gradients follow; "same" padding is TensorFlow's on every axis.
"""
from __future__ import annotations

import numpy as np

from . import elementwise, pooling, shape
from ._util import OpError
from .conv import _same_pads, _transpose_len, conv2d, conv2d_transpose


def _triple(op, v, name):
    t = (int(v),) * 3 if isinstance(v, int) else tuple(int(a) for a in v)
    if len(t) != 3 or any(a <= 0 for a in t):
        raise OpError(f"{op}: {name} must be a positive int or 3 positive ints, got {v!r}")
    return t


def _depth_slice(x, start, count, step):
    return shape.getitem(x, (slice(None), slice(start, start + (count - 1) * step + 1, step)))


def _fold(x):
    n, d = x.shape[:2]
    return shape.reshape(x, (n * d,) + tuple(x.shape[2:])), n, d


def _unfold(y, n, d):
    return shape.reshape(y, (n, d) + tuple(y.shape[1:]))


def conv3d(x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1):
    """3-d convolution (as Keras ``Conv3D``): x (N, D, H, W, Cin), kernel (kd, kh, kw, Cin // groups, Cout)."""
    op = "conv3d"
    if x.ndim != 5 or kernel.ndim != 5:
        raise OpError(f"{op}: expected x (N, D, H, W, C) and kernel (kd, kh, kw, Cin, Cout), got shapes "
                      f"{tuple(x.shape)} and {tuple(kernel.shape)}")
    s, d = _triple(op, strides, "strides"), _triple(op, dilation, "dilation")
    if padding not in ("valid", "same"):
        raise OpError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    kd = kernel.shape[0]
    if padding == "same":
        x = shape.pad(x, ((0, 0), _same_pads(x.shape[1], kd, s[0], d[0]), (0, 0), (0, 0), (0, 0)))
    depth = (x.shape[1] - ((kd - 1) * d[0] + 1)) // s[0] + 1
    if depth <= 0:
        raise OpError(f"{op}: the kernel (depth {kd}, dilation {d[0]}) is larger than the input depth {x.shape[1]}")
    acc = None
    for t in range(kd):
        xs, n, dd = _fold(_depth_slice(x, t * d[0], depth, s[0]))
        y = conv2d(xs, shape.getitem(kernel, t), None, strides=s[1:], padding=padding, dilation=d[1:],
                   groups=groups)
        acc = y if acc is None else elementwise.add(acc, y)
    out = _unfold(acc, n, dd)
    return out if bias is None else elementwise.add(out, bias)


def conv3d_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation=1):
    """Transposed 3-d convolution (as Keras ``Conv3DTranspose``): x (N, D, H, W, Cin), kernel
    (kd, kh, kw, Cout, Cin); output sizes as ``conv2d_transpose`` on every axis."""
    op = "conv3d_transpose"
    if x.ndim != 5 or kernel.ndim != 5:
        raise OpError(f"{op}: expected x (N, D, H, W, C) and kernel (kd, kh, kw, Cout, Cin), got shapes "
                      f"{tuple(x.shape)} and {tuple(kernel.shape)}")
    s, d = _triple(op, strides, "strides"), _triple(op, dilation, "dilation")
    opad = (None, None, None) if output_padding is None else tuple(int(v) for v in output_padding)
    kd = kernel.shape[0]
    n_in = x.shape[1]
    full = (n_in - 1) * s[0] + (kd - 1) * d[0] + 1
    xs, n, dd = _fold(x)
    acc = None
    for t in range(kd):
        y = conv2d_transpose(xs, shape.getitem(kernel, t), None, strides=s[1:], padding=padding,
                             output_padding=None if output_padding is None else opad[1:], dilation=d[1:])
        y = _unfold(y, n, dd)  # (N, D, H', W', F): input depth i lands at i * s + t * dilation
        if s[0] > 1:
            y = shape.pad(shape.expand_dims(y, 2), ((0, 0), (0, 0), (0, s[0] - 1), (0, 0), (0, 0), (0, 0)))
            y = shape.reshape(y, (n, dd * s[0]) + tuple(y.shape[3:]))
            y = shape.getitem(y, (slice(None), slice(0, (n_in - 1) * s[0] + 1)))
        start = t * d[0]
        y = shape.pad(y, ((0, 0), (start, full - start - y.shape[1]), (0, 0), (0, 0), (0, 0)))
        acc = y if acc is None else elementwise.add(acc, y)
    out, top = _transpose_len(n_in, kd, s[0], d[0], padding, opad[0])
    if top + out > full:
        acc = shape.pad(acc, ((0, 0), (0, top + out - full), (0, 0), (0, 0), (0, 0)))
    acc = shape.getitem(acc, (slice(None), slice(top, top + out)))
    return acc if bias is None else elementwise.add(acc, bias)


def _pool3d(op, mode, x, pool_size, strides, padding):
    if x.ndim != 5:
        raise OpError(f"{op}: expected x (N, D, H, W, C), got shape {tuple(x.shape)}")
    p = _triple(op, pool_size, "pool_size")
    s = p if strides is None else _triple(op, strides, "strides")
    if padding not in ("valid", "same"):
        raise OpError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    xs, n, dd = _fold(x)
    fn = pooling.max_pool2d if mode == "max" else pooling.avg_pool2d
    y = _unfold(fn(xs, p[1:], strides=s[1:], padding=padding), n, dd)
    depth_in = y.shape[1]
    if padding == "same":
        before, after = _same_pads(depth_in, p[0], s[0])
        fill = float("-inf") if mode == "max" else 0.0
        y = shape.pad(y, ((0, 0), (before, after), (0, 0), (0, 0), (0, 0)), constant_values=fill)
        depth = -(-depth_in // s[0])
    else:
        before = 0
        depth = (depth_in - p[0]) // s[0] + 1
    if depth <= 0:
        raise OpError(f"{op}: pool depth {p[0]} is larger than the input depth {depth_in}")
    acc = None
    for t in range(p[0]):
        ys = _depth_slice(y, t, depth, s[0])
        acc = ys if acc is None else (elementwise.maximum(acc, ys) if mode == "max" else elementwise.add(acc, ys))
    if mode == "max":
        return acc
    starts = np.arange(depth) * s[0] - before  # the real (unpadded) cells in each depth window
    count = np.minimum(starts + p[0], depth_in) - np.maximum(starts, 0)
    scale = (1.0 / count).astype(acc.dtype).reshape(1, depth, 1, 1, 1)
    return elementwise.mul(acc, acc.xp.asarray(scale))


def max_pool3d(x, pool_size, strides=None, padding="valid"):
    """Max pooling (as Keras ``MaxPooling3D``): x (N, D, H, W, C)."""
    return _pool3d("max_pool3d", "max", x, pool_size, strides, padding)


def avg_pool3d(x, pool_size, strides=None, padding="valid"):
    """Average pooling (as Keras ``AveragePooling3D``); with "same" padded cells are not counted."""
    return _pool3d("avg_pool3d", "avg", x, pool_size, strides, padding)
