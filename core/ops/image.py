"""Image resampling ops with TensorFlow's conventions (what Keras 3 layers compute).

``resize`` matches ``tf.image.resize`` without antialiasing: bilinear, nearest and bicubic use
``half_pixel_centers=True`` (bicubic with Keys' a=-0.5 and TF's 1024-entry weight table, edge
weights renormalised), area is TF's ``resize_area``. Every method is separable: each axis is a
small linear map stored as ``k`` taps (indices and weights per output row), applied with
gathers (forward) and as a dense matrix product (backward).

``affine_transform`` matches ``tf.raw_ops.ImageProjectiveTransformV3``: an output pixel
(x, y) samples the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k) with
k = c0 x + c1 y + 1, after mapping the coordinate by ``fill_mode`` (reflect, wrap, nearest,
constant), with nearest (round half away from zero) or bilinear interpolation; taps that fall
outside the image read ``fill_value``. Differentiable with respect to the images.
"""
from __future__ import annotations

import numpy as np

from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, tensors

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("constant", "nearest", "wrap", "reflect")

_f32 = np.float32


# --------------------------------------------------------------------------- 1-D taps
def _resize_scale(in_size, out_size):
    """TF's CalculateResizeScale (align_corners=False): in / out in float32."""
    return _f32(in_size) / _f32(out_size)


def _taps_bilinear(in_size, out_size):
    scale = _resize_scale(in_size, out_size)
    src = (np.arange(out_size, dtype=_f32) + _f32(0.5)) * scale - _f32(0.5)
    lo_f = np.floor(src)
    lo = np.maximum(lo_f, 0).astype(np.int64)
    hi = np.minimum(np.ceil(src), in_size - 1).astype(np.int64)
    lerp = (src - lo_f).astype(_f32)
    return np.stack([lo, hi], 1), np.stack([_f32(1) - lerp, lerp], 1)


def _taps_nearest(in_size, out_size):
    scale = _resize_scale(in_size, out_size)
    src = np.floor((np.arange(out_size, dtype=_f32) + _f32(0.5)) * scale)
    idx = np.clip(src, 0, in_size - 1).astype(np.int64)
    return idx[:, None], np.ones((out_size, 1), _f32)


_CUBIC_TABLE_SIZE = 1024


def _cubic_table(a=-0.5):
    """TF's InitCoeffsTable: the Keys kernel at i / 1024, computed in double, stored in float."""
    x = (np.arange(_CUBIC_TABLE_SIZE + 1) * (1.0 / _CUBIC_TABLE_SIZE)).astype(_f32).astype(np.float64)
    t0 = ((a + 2) * x - (a + 3)) * x * x + 1
    x1 = (x.astype(_f32) + _f32(1.0)).astype(np.float64)
    t1 = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    return t0.astype(_f32), t1.astype(_f32)


def _taps_bicubic(in_size, out_size):
    scale = _resize_scale(in_size, out_size)
    src = (np.arange(out_size, dtype=_f32) + _f32(0.5)) * scale - _f32(0.5)
    base = np.floor(src).astype(np.int64)
    delta = (src - base.astype(_f32)).astype(_f32)
    offset = np.rint(delta * _f32(_CUBIC_TABLE_SIZE)).astype(np.int64)  # lrintf: half to even
    t0, t1 = _cubic_table()
    w = np.stack([t1[offset], t0[offset], t0[_CUBIC_TABLE_SIZE - offset], t1[_CUBIC_TABLE_SIZE - offset]], 1)
    raw = base[:, None] + np.arange(-1, 3)[None, :]
    idx = np.clip(raw, 0, in_size - 1)
    w = np.where(idx == raw, w, _f32(0)).astype(_f32)  # samples outside the image weigh 0 ...
    s = w.sum(1, keepdims=True, dtype=_f32)
    ok = np.abs(s) >= _f32(1000.0) * np.finfo(_f32).tiny
    w = np.where(ok, w * np.where(ok, _f32(1) / s, _f32(1)), w).astype(_f32)  # ... and the rest renormalise
    return idx, w


def _taps_area(in_size, out_size):
    scale = _resize_scale(in_size, out_size)
    x = np.arange(out_size, dtype=_f32)
    lo_f = x * scale
    hi_f = (x + _f32(1)) * scale
    start = np.floor(lo_f).astype(np.int64)
    end = np.ceil(hi_f).astype(np.int64)
    k = int((end - start).max())
    raw = start[:, None] + np.arange(k)[None, :]
    i = raw.astype(_f32)
    w = np.where(i < lo_f[:, None],
                 np.where(i + 1 > hi_f[:, None], scale, i + 1 - lo_f[:, None]),
                 np.where(i + 1 > hi_f[:, None], hi_f[:, None] - i, _f32(1))).astype(_f32)
    w = np.where(raw < end[:, None], w, _f32(0)).astype(_f32)
    w = (w * (_f32(1) / scale)).astype(_f32)  # the 1 / (height_scale * width_scale), one axis at a time
    return np.clip(raw, 0, in_size - 1), w


_TAPS = {"bilinear": _taps_bilinear, "nearest": _taps_nearest, "bicubic": _taps_bicubic, "area": _taps_area}


class Resample1D(Function):
    """``y[..., o, ...] = sum_k w[o, k] * x[..., idx[o, k], ...]`` along ``axis``."""

    def __init__(self, idx, w, axis, in_size):
        self.idx, self.w, self.axis, self.in_size = idx, w, axis, in_size

    def forward(self, x):
        xp = get_xp(x)
        idx = xp.asarray(self.idx) if xp is not np else self.idx
        w = xp.asarray(self.w.astype(x.dtype, copy=False))
        a = self.axis
        bshape = [1] * x.ndim
        bshape[a] = idx.shape[0]
        if idx.shape[1] == 1 and bool((self.w == 1).all()):
            return xp.take(x, idx[:, 0], axis=a)
        y = None
        for k in range(idx.shape[1]):  # a handful of taps (1 to 4, area: ceil(scale) + 1)
            term = xp.take(x, idx[:, k], axis=a)
            term *= w[:, k].reshape(bshape)
            if y is None:
                y = term
            else:
                y += term
        return y

    def backward(self, gy):
        xp = get_xp(gy)
        m = np.zeros((self.idx.shape[0], self.in_size), dtype=gy.dtype)
        np.add.at(m, (np.repeat(np.arange(self.idx.shape[0]), self.idx.shape[1]), self.idx.reshape(-1)),
                  self.w.reshape(-1).astype(gy.dtype))
        m = xp.asarray(m)
        gx = xp.tensordot(gy, m, axes=([self.axis], [0]))  # the resampled axis ends up last
        return xp.moveaxis(gx, -1, self.axis)


def _resample(x, axis, out_size, interpolation):
    in_size = x.shape[axis]
    idx, w = _TAPS[interpolation](in_size, out_size)
    return Resample1D(idx, w, axis, in_size).apply(x)


def _check_images(op, images):
    if images.ndim not in (3, 4):
        raise OpError(f"{op}: images must have rank 3 (one image) or 4 (a batch), got shape {tuple(images.shape)}")


def _data_format(op, data_format):
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise OpError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return fmt


def _to_float(x):
    from . import cast

    return x if x.dtype.kind == "f" else cast(x, "float32")


def _aspect_crop_box(height, width, target_h, target_w):
    """Keras/TF crop_to_aspect_ratio: (h_start, w_start, crop_h, crop_w) of the centred box."""
    crop_h = int(_f32(width * target_h) / _f32(target_w))
    crop_h = max(min(height, crop_h), 1)
    crop_w = int(_f32(height * target_w) / _f32(target_h))
    crop_w = max(min(width, crop_w), 1)
    return int(_f32(height - crop_h) / _f32(2)), int(_f32(width - crop_w) / _f32(2)), crop_h, crop_w


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format="channels_last"):
    """Resize images (N, H, W, C) or (H, W, C) to ``size`` = (height, width) as Keras
    ``ops.image.resize`` on TensorFlow; integer images are resized as float32 (the result is
    float). ``crop_to_aspect_ratio`` first crops the largest centred box with the target
    aspect ratio; ``pad_to_aspect_ratio`` pads with ``fill_value`` instead."""
    from . import concatenate, expand_dims, getitem, squeeze, transpose

    op = "resize"
    if interpolation not in RESIZE_INTERPOLATIONS:
        if interpolation in ("lanczos3", "lanczos5"):
            raise NotImplementedError(f"{op}: interpolation={interpolation!r} is not implemented; "
                                      f"use one of {RESIZE_INTERPOLATIONS}")
        raise OpError(f"{op}: interpolation must be one of {RESIZE_INTERPOLATIONS}, got {interpolation!r}")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not implemented (Keras's default is False)")
    if fill_mode != "constant":
        raise OpError(f"{op}: only fill_mode='constant' is supported, got {fill_mode!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise OpError(f"{op}: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    try:
        size = tuple(int(s) for s in size)
    except TypeError:
        raise OpError(f"{op}: size must be (height, width), got {size!r}") from None
    if len(size) != 2 or min(size) <= 0:
        raise OpError(f"{op}: size must be two positive ints (height, width), got {size}")
    fmt = _data_format(op, data_format)
    (x,) = tensors(op, images, float_required=False)
    _check_images(op, x)
    x = _to_float(x)
    unbatched = x.ndim == 3
    if unbatched:
        x = expand_dims(x, 0)
    if fmt == "channels_first":
        x = transpose(x, (0, 2, 3, 1))
    n, h, w, c = x.shape
    th, tw = size
    if crop_to_aspect_ratio:
        hs, ws, ch, cw = _aspect_crop_box(h, w, th, tw)
        if (ch, cw) != (h, w):
            x = getitem(x, (slice(None), slice(hs, hs + ch), slice(ws, ws + cw)))
    elif pad_to_aspect_ratio:
        ph = max(h, int(_f32(w * th) / _f32(tw)))
        pw = max(w, int(_f32(h * tw) / _f32(th)))
        hs = int(_f32(ph - h) / _f32(2))
        ws = int(_f32(pw - w) / _f32(2))
        xp = x.xp
        if hs > 0:
            band = Tensor(xp.full((n, hs, w, c), fill_value, dtype=x.dtype))
            x = concatenate([band, x, band], axis=1)
        if ws > 0:
            band = Tensor(xp.full((n, x.shape[1], ws, c), fill_value, dtype=x.dtype))
            x = concatenate([band, x, band], axis=2)
    x = _resample(x, 1, th, interpolation)
    x = _resample(x, 2, tw, interpolation)
    if fmt == "channels_first":
        x = transpose(x, (0, 3, 1, 2))
    if unbatched:
        x = squeeze(x, 0)
    return x


# --------------------------------------------------------------------------- affine transform
def map_coordinates_tf(coord, length, fill_mode):
    """TF's MapCoordinate<fill_mode> on a float32 array of coordinates along an axis of ``length``
    (only the out-of-range entries are remapped)."""
    c = coord
    if fill_mode == "constant":
        return c
    hi = _f32(length - 1)
    if fill_mode == "nearest":
        return np.clip(c, _f32(0), hi)
    if length <= 1:
        return np.zeros_like(c)
    out = np.array(c, dtype=_f32, copy=True)
    neg, pos = c < 0, c > hi
    cn, cp = c[neg], c[pos]
    if fill_mode == "reflect":  # [abcd] -> [dcba|abcd|dcba]
        sz2 = _f32(2 * length)
        cn = sz2 * np.trunc(-cn / sz2) + cn
        cn = np.where(cn < -length, cn + sz2, -cn - _f32(1))
        cp = cp - sz2 * np.trunc(cp / sz2)
        cp = np.where(cp >= length, sz2 - cp - _f32(1), cp)
    elif fill_mode == "wrap":  # [abcd] -> [abcd|abcd|abcd]
        sz = _f32(length - 1)
        cn = cn + _f32(length) * (np.trunc(-cn / sz) + _f32(1))
        cp = cp - _f32(length) * np.trunc(cp / sz)
    else:
        raise OpError(f"fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    out[neg] = cn
    out[pos] = cp
    return np.clip(out, _f32(0), hi, out=out)


def _affine_taps(transform, n, h, w, interpolation, fill_mode):
    """Per tap (1 for nearest, 4 for bilinear): flat input pixel indices (n, h, w) and weights,
    plus the total weight left to ``fill_value`` (taps outside the image)."""
    t = transform.astype(_f32)
    ys = np.arange(h, dtype=_f32)[None, :, None]
    xs = np.arange(w, dtype=_f32)[None, None, :]
    col = lambda j: t[:, j][:, None, None]  # noqa: E731
    xin = col(0) * xs + col(1) * ys + col(2)
    yin = col(3) * xs + col(4) * ys + col(5)
    finite = None
    if np.any(t[:, 6:8] != 0):  # projective: divide by k, and k == 0 reads fill_value
        proj = col(6) * xs + col(7) * ys + _f32(1)
        zero = proj == 0
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            xin = xin / np.where(zero, _f32(1), proj)
            yin = yin / np.where(zero, _f32(1), proj)
        finite = np.isfinite(xin) & np.isfinite(yin) & ~zero
        xin = np.where(finite, xin, _f32(-2))
        yin = np.where(finite, yin, _f32(-2))
    with np.errstate(invalid="ignore", over="ignore"):
        xin = map_coordinates_tf(np.broadcast_to(xin, (n, h, w)).astype(_f32), w, fill_mode)
        yin = map_coordinates_tf(np.broadcast_to(yin, (n, h, w)).astype(_f32), h, fill_mode)
    itype = np.int32 if n * h * w < 2 ** 31 - 1 else np.int64
    base = (np.arange(n, dtype=itype) * itype(h * w))[:, None, None]
    if interpolation == "nearest":
        xr = (np.sign(xin) * np.floor(np.abs(xin) + _f32(0.5))).astype(np.int64)  # std::round
        yr = (np.sign(yin) * np.floor(np.abs(yin) + _f32(0.5))).astype(np.int64)
        taps = [(xr, yr, None)]
    else:
        x0, y0 = np.floor(xin), np.floor(yin)
        wx1, wy1 = xin - x0, yin - y0
        wx0, wy0 = (x0 + _f32(1)) - xin, (y0 + _f32(1)) - yin
        xi0, yi0 = x0.astype(np.int64), y0.astype(np.int64)
        taps = [(xi0, yi0, wy0 * wx0), (xi0 + 1, yi0, wy0 * wx1), (xi0, yi0 + 1, wy1 * wx0),
                (xi0 + 1, yi0 + 1, wy1 * wx1)]
    idx, ws = [], []
    fill_w = np.zeros((n, h, w), _f32)
    for cc, rr, ww in taps:
        inside = (cc >= 0) & (cc < w) & (rr >= 0) & (rr < h)
        if finite is not None:
            inside &= finite
        ww = np.ones((n, h, w), _f32) if ww is None else ww.astype(_f32, copy=False)
        idx.append(np.where(inside, base + (rr * w + cc).astype(itype), itype(0)))
        ws.append(np.where(inside, ww, _f32(0)))
        fill_w += np.where(inside, _f32(0), ww)  # taps outside the image read fill_value
    return idx, ws, fill_w


class AffineSample(Function):
    """out[n, y, x, c] = sum_k w_k[n, y, x] * pixels[idx_k[n, y, x], c] + fill_w[n, y, x] * fill_value."""

    def __init__(self, idx, w, fill_w, fill_value):
        self.idx, self.w, self.fill_w, self.fill_value = idx, w, fill_w, fill_value

    def forward(self, x):
        xp = get_xp(x)
        n, h, wd, c = x.shape
        flat = x.reshape(n * h * wd, c)
        y = None
        for idx, w in zip(self.idx, self.w):
            term = xp.take(flat, xp.asarray(idx), axis=0)
            term *= xp.asarray(w.astype(x.dtype, copy=False))[..., None]
            if y is None:
                y = term
            else:
                y += term
        if self.fill_value != 0:
            y += xp.asarray(self.fill_w.astype(x.dtype, copy=False))[..., None] * x.dtype.type(self.fill_value)
        self.shape = x.shape
        if not any(self.needs_input_grad):
            del self.idx, self.w
        return y

    def backward(self, gy):
        xp = get_xp(gy)
        n, h, wd, c = self.shape
        size = n * h * wd * c
        chan = xp.arange(c, dtype=np.int64)
        gx = None
        for idx, w in zip(self.idx, self.w):  # scatter-add each tap: one bincount over (pixel, channel) keys
            contrib = gy * xp.asarray(w.astype(gy.dtype, copy=False))[..., None]
            keys = (xp.asarray(idx).astype(np.int64)[..., None] * c + chan).reshape(-1)
            g = xp.bincount(keys, weights=contrib.reshape(-1), minlength=size)
            gx = g if gx is None else gx + g
        return gx.astype(gy.dtype, copy=False).reshape(self.shape)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0,
                     data_format="channels_last"):
    """Apply projective transforms to images, as Keras ``ops.image.affine_transform`` on TF.

    ``transform`` is (8,) or (N, 8): [a0, a1, a2, b0, b1, b2, c0, c1] mapping output pixel
    (x, y) to the input point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k),
    k = c0 x + c1 y + 1. Integer images are transformed as float32.
    """
    from . import expand_dims, squeeze, transpose

    op = "affine_transform"
    if interpolation not in AFFINE_INTERPOLATIONS:
        raise OpError(f"{op}: interpolation must be one of {AFFINE_INTERPOLATIONS}, got {interpolation!r}")
    if fill_mode not in FILL_MODES:
        raise OpError(f"{op}: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    fmt = _data_format(op, data_format)
    (x,) = tensors(op, images, float_required=False)
    _check_images(op, x)
    x = _to_float(x)
    t = transform.numpy() if isinstance(transform, Tensor) else np.asarray(
        transform.get() if hasattr(transform, "get") else transform)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise OpError(f"{op}: transform must have shape (8,) or (N, 8), got {t.shape}")
    unbatched = x.ndim == 3
    if unbatched:
        x = expand_dims(x, 0)
    if fmt == "channels_first":
        x = transpose(x, (0, 2, 3, 1))
    n, h, w, c = x.shape
    if t.ndim == 1:
        t = t[None]
    if t.shape[0] not in (1, n):
        raise OpError(f"{op}: transform has {t.shape[0]} rows for a batch of {n} images (expected 1 or {n})")
    t = np.broadcast_to(t, (n, 8))
    idx, wts, fill_w = _affine_taps(t, n, h, w, interpolation, fill_mode)
    y = AffineSample(idx, wts, fill_w, float(fill_value)).apply(x)
    if fmt == "channels_first":
        y = transpose(y, (0, 3, 1, 2))
    if unbatched:
        y = squeeze(y, 0)
    return y


def rotation_matrix(angles_deg, height, width):
    """Keras's ``_compute_affine_matrix`` for pure rotations about the image centre: (N, 8)
    float32 transforms (output -> input) for angles in degrees."""
    ang = np.asarray(angles_deg, dtype=_f32) * _f32(np.pi / 180.0)
    cx = _f32(0.5) * (_f32(width) - _f32(1))
    cy = _f32(0.5) * (_f32(height) - _f32(1))
    cos, sin = np.cos(ang).astype(_f32), np.sin(ang).astype(_f32)
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - cx * a0 - cy * a1
    b2 = cy - cx * b0 - cy * b1
    z = np.zeros_like(ang)
    return np.stack([a0, a1, a2, b0, b1, b2, z, z], axis=1).astype(_f32)
