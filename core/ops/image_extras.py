"""``keras.ops.image`` beyond resampling: ``pad_images``, ``crop_images``, ``extract_patches``,
``rgb_to_grayscale``, ``rgb_to_hsv``, ``hsv_to_rgb``, with Keras's argument rules; differentiable
where Keras's are (built on the differentiable shape, conv and elementwise ops)."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor
from ._util import OpError
from .elementwise import abs as _abs, add, clip, div, maximum, minimum, mul, sub, where
from .math import mod, to_float
from .shape import concatenate, expand_dims, getitem, pad, squeeze


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _hw_axes(op, images, data_format):
    if images.ndim not in (3, 4):
        raise OpError(f"{op}: images must have rank 3 (one image) or 4 (a batch), got shape {tuple(images.shape)}")
    first = data_format == "channels_first"
    if data_format not in (None, "channels_last", "channels_first"):
        raise OpError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    h = images.ndim - (2 if first else 3)
    return h, h + 1, (images.ndim - 3 if first else images.ndim - 1)


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Zero-pad images to a target size or by explicit amounts (two of top/bottom/target_height, and
    of left/right/target_width, as Keras requires)."""
    x = _t(images)
    h_ax, w_ax, _ = _hw_axes("pad_images", x, data_format)
    height, width = x.shape[h_ax], x.shape[w_ax]

    def resolve(a, b, target, size, names):
        given = [v is not None for v in (a, b, target)]
        if sum(given) != 2:
            raise OpError(f"pad_images: give exactly two of {names}, got {dict(zip(names, (a, b, target)))}")
        if a is None:
            a = target - b - size
        if b is None:
            b = target - a - size
        if a < 0 or b < 0:
            raise OpError(f"pad_images: the padding {names[0]}={a}, {names[1]}={b} is negative (image size {size}, "
                          f"target {target})")
        return int(a), int(b)

    top, bottom = resolve(top_padding, bottom_padding, target_height, height,
                          ("top_padding", "bottom_padding", "target_height"))
    left, right = resolve(left_padding, right_padding, target_width, width,
                          ("left_padding", "right_padding", "target_width"))
    widths = [(0, 0)] * x.ndim
    widths[h_ax], widths[w_ax] = (top, bottom), (left, right)
    return pad(x, tuple(widths))


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Crop images to a target size or by explicit amounts (two of each triple, as Keras)."""
    x = _t(images)
    h_ax, w_ax, _ = _hw_axes("crop_images", x, data_format)
    height, width = x.shape[h_ax], x.shape[w_ax]

    def resolve(a, b, target, size, names):
        given = [v is not None for v in (a, b, target)]
        if sum(given) != 2:
            raise OpError(f"crop_images: give exactly two of {names}, got {dict(zip(names, (a, b, target)))}")
        if a is None:
            a = size - target - b
        if target is None:
            target = size - b - a
        if a < 0 or target < 0 or a + target > size:
            raise OpError(f"crop_images: cropping {names[0]}={a} to {names[2]}={target} does not fit an image of "
                          f"size {size}")
        return int(a), int(target)

    top, th = resolve(top_cropping, bottom_cropping, target_height, height,
                      ("top_cropping", "bottom_cropping", "target_height"))
    left, tw = resolve(left_cropping, right_cropping, target_width, width,
                       ("left_cropping", "right_cropping", "target_width"))
    idx = [slice(None)] * x.ndim
    idx[h_ax], idx[w_ax] = slice(top, top + th), slice(left, left + tw)
    return getitem(x, tuple(idx))


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Patches of ``size`` as channels: (N, out_h, out_w, size_h * size_w * C), TensorFlow's order."""
    from .nn_ops import conv

    x = to_float("extract_patches", images)
    if isinstance(size, int):
        size = (size, size)
    ph, pw = int(size[0]), int(size[1])
    strides = (ph, pw) if strides is None else strides
    unbatched = x.ndim == 3
    if unbatched:
        x = expand_dims(x, 0)
    c = x.shape[1] if data_format == "channels_first" else x.shape[-1]
    n = ph * pw * c
    kernel = Tensor(np.eye(n, dtype=x.dtype).reshape(ph, pw, c, n))
    out = conv(x, kernel, strides=strides, padding=padding, data_format=data_format, dilation_rate=dilation_rate)
    return squeeze(out, 0) if unbatched else out


def rgb_to_grayscale(images, data_format=None):
    """0.2989 R + 0.5870 G + 0.1140 B with the channel axis kept (size 1); integer images stay integer."""
    x = _t(images)
    _, _, c_ax = _hw_axes("rgb_to_grayscale", x, data_format)
    if x.shape[c_ax] not in (1, 3):
        raise OpError(f"rgb_to_grayscale: expected 1 or 3 channels, got shape {tuple(x.shape)}")
    if x.shape[c_ax] == 1:
        return x
    src = x.dtype
    xf = to_float("rgb_to_grayscale", x)
    w = np.array([0.2989, 0.5870, 0.1140], dtype=xf.dtype).reshape([3 if i == c_ax else 1 for i in range(x.ndim)])
    from .reductions import sum as _sum

    g = _sum(mul(xf, Tensor(w)), axis=c_ax, keepdims=True)
    return g if src.kind == "f" else Tensor(g.data.astype(src))


def _planes(op, x, c_ax):
    if x.shape[c_ax] != 3:
        raise OpError(f"{op}: expected 3 channels, got shape {tuple(x.shape)}")
    idx = [slice(None)] * x.ndim
    out = []
    for i in range(3):
        idx[c_ax] = i
        out.append(getitem(x, tuple(idx)))
    return out


def _stack_planes(planes, c_ax):
    return concatenate([expand_dims(p, c_ax) for p in planes], axis=c_ax)


def rgb_to_hsv(images, data_format=None):
    """RGB to HSV (hue in [0, 1)), float images only, as Keras (dm_pix's formulas)."""
    x = _t(images)
    if x.dtype.kind != "f":
        raise OpError(f"rgb_to_hsv: images must be floating, got dtype {x.dtype}")
    _, _, c_ax = _hw_axes("rgb_to_hsv", x, data_format)
    eps = np.finfo(x.dtype).eps
    x = where(Tensor(x.xp.abs(x.data) < eps), 0.0, x)
    r, g, b = _planes("rgb_to_hsv", x, c_ax)
    value = maximum(maximum(r, g), b)
    range_ = sub(value, minimum(minimum(r, g), b))
    v, rg = value.data, range_.data
    safe_value = where(Tensor(v > 0), value, 1.0)
    safe_range = where(Tensor(rg > 0), range_, 1.0)
    saturation = where(Tensor(v > 0), div(range_, safe_value), 0.0)
    norm = div(1.0, mul(safe_range, 6.0))
    hue = where(Tensor(v == g.data), add(mul(norm, sub(b, r)), 2.0 / 6.0), add(mul(norm, sub(r, g)), 4.0 / 6.0))
    hue = where(Tensor(v == r.data), mul(norm, sub(g, b)), hue)
    hue = add(where(Tensor(rg > 0), hue, 0.0), Tensor((hue.data < 0).astype(x.dtype)))
    return _stack_planes([hue, saturation, value], c_ax)


def hsv_to_rgb(images, data_format=None):
    """HSV to RGB, float images only, as Keras."""
    x = _t(images)
    if x.dtype.kind != "f":
        raise OpError(f"hsv_to_rgb: images must be floating, got dtype {x.dtype}")
    _, _, c_ax = _hw_axes("hsv_to_rgb", x, data_format)
    h, s, v = _planes("hsv_to_rgb", x, c_ax)
    dh = mul(mod(h, 1.0), 6.0)
    dr = clip(sub(_abs(sub(dh, 3.0)), 1.0), 0.0, 1.0)
    dg = clip(sub(2.0, _abs(sub(dh, 2.0))), 0.0, 1.0)
    db = clip(sub(2.0, _abs(sub(dh, 4.0))), 0.0, 1.0)
    one_minus_s = sub(1.0, s)
    return _stack_planes([mul(v, add(one_minus_s, mul(s, d))) for d in (dr, dg, db)], c_ax)




def _batched_channels_last(op, images, data_format):
    x = to_float(op, images)
    if x.ndim not in (3, 4):
        raise OpError(f"{op}: images must have rank 3 (one image) or 4 (a batch), got shape {tuple(x.shape)}")
    single = x.ndim == 3
    if single:
        x = expand_dims(x, 0)
    if data_format == "channels_first":
        from .shape import transpose

        x = transpose(x, (0, 2, 3, 1))
    return x, single


def _restore_layout(y, single, data_format, extra=0):
    if data_format == "channels_first":
        from .shape import transpose

        y = transpose(y, (0, 3, 1, 2) + tuple(range(4, 4 + extra)))
    return squeeze(y, 0) if single else y


def _gaussian_1d(size, sigma, dtype):
    t = np.arange(size, dtype=dtype) - (size - 1) / 2
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Gaussian blur per channel with zero "same" padding, as Keras on TensorFlow: the kernel is
    outer(g(kernel_size[1], sigma[1]), g(kernel_size[0], sigma[0])) laid out (reshaped, not
    transposed) as (kernel_size[0], kernel_size[1]), which only matters for non-square sizes.
    Differentiable."""
    from .conv import depthwise_conv2d

    x, single = _batched_channels_last("gaussian_blur", images, data_format)
    ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(int(k) for k in kernel_size)
    sg = (sigma, sigma) if isinstance(sigma, (int, float)) else tuple(float(s) for s in sigma)
    k2 = np.outer(_gaussian_1d(ks[1], sg[1], x.dtype), _gaussian_1d(ks[0], sg[0], x.dtype)).reshape(ks[0], ks[1])
    c = x.shape[-1]
    kernel = Tensor(np.tile(k2[:, :, None, None], (1, 1, c, 1)).astype(x.dtype))
    return _restore_layout(depthwise_conv2d(x, kernel, padding="same"), single, data_format)


def sobel_edges(images, data_format=None):
    """Sobel gradients (dy, dx) per channel with reflect padding, as ``tf.image.sobel_edges``:
    (N, H, W, C, 2); differentiable."""
    from .conv import depthwise_conv2d
    from .shape import stack

    x, single = _batched_channels_last("sobel_edges", images, data_format)
    xp_ = pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    ky = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], x.dtype)
    c = x.shape[-1]
    outs = [depthwise_conv2d(xp_, Tensor(np.tile(k[:, :, None, None], (1, 1, c, 1))), padding="valid")
            for k in (ky, ky.T)]
    return _restore_layout(stack(outs, axis=-1), single, data_format, extra=1)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """The structural similarity of two images (or batches: one value per pair), as Keras: an
    isotropic Gaussian window (valid positions), averaged over the map and the channels.
    Differentiable."""
    from .conv import depthwise_conv2d
    from .reductions import mean
    from .shape import reshape, transpose

    a, single = _batched_channels_last("ssim", image1, data_format)
    b, _ = _batched_channels_last("ssim", image2, data_format)
    if a.shape != b.shape:
        raise OpError(f"ssim: the images have different shapes {tuple(a.shape)} and {tuple(b.shape)}")
    n, h, w, c = a.shape
    g = _gaussian_1d(int(filter_size), float(filter_sigma), np.float64)
    kernel = Tensor(np.outer(g, g).reshape(int(filter_size), int(filter_size), 1, 1).astype(a.dtype))
    a = reshape(transpose(a, (0, 3, 1, 2)), (-1, h, w, 1))
    b = reshape(transpose(b, (0, 3, 1, 2)), (-1, h, w, 1))

    def blur(t):
        return depthwise_conv2d(t, kernel, padding="valid")

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu1, mu2 = blur(a), blur(b)
    mu1_sq, mu2_sq, mu12 = mul(mu1, mu1), mul(mu2, mu2), mul(mu1, mu2)
    s1 = sub(blur(mul(a, a)), mu1_sq)
    s2 = sub(blur(mul(b, b)), mu2_sq)
    s12 = sub(blur(mul(a, b)), mu12)
    num = mul(add(mul(mu12, 2.0), c1), add(mul(s12, 2.0), c2))
    den = mul(add(add(mu1_sq, mu2_sq), c1), add(add(s1, s2), c2))
    per_channel = reshape(mean(div(num, den), axis=(1, 2, 3)), (n, c))
    out = mean(per_channel, axis=-1)
    return squeeze(out, 0) if single else out


_MAP_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _map_index(idx, size, fill_mode):
    """(safe index, valid mask) of integer sample positions by Keras's (TensorFlow's) fill rules."""
    if fill_mode == "constant":
        return np.clip(idx, 0, size - 1), (idx >= 0) & (idx < size)
    if fill_mode == "nearest":
        return np.clip(idx, 0, size - 1), np.ones(idx.shape, bool)
    if fill_mode == "wrap":
        return np.mod(idx, size), np.ones(idx.shape, bool)
    m = np.mod(np.abs(idx), 2 * size)
    out = np.where(m < size, m, 2 * size - m)
    if fill_mode == "reflect":
        out = np.where(m < size, out, out - 1)
    return np.clip(out, 0, size - 1), np.ones(idx.shape, bool)


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0.0):
    """``inputs`` sampled at ``coordinates`` (rank(inputs), ...) by nearest (order 0, half to even)
    or linear (order 1) interpolation, as Keras on TensorFlow; differentiable in ``inputs`` (the
    coordinates are constants)."""
    import itertools

    from .elementwise import add as _add, mul as _mul, where
    from .shape import getitem

    x = to_float("map_coordinates", inputs)
    coords = np.asarray(coordinates.numpy() if isinstance(coordinates, Tensor) else coordinates)
    if coords.ndim < 2 or coords.shape[0] != x.ndim:
        raise OpError(f"map_coordinates: coordinates must be (rank of inputs = {x.ndim}, ...), got shape "
                      f"{coords.shape}")
    if fill_mode not in _MAP_FILL_MODES:
        raise OpError(f"map_coordinates: fill_mode must be one of {_MAP_FILL_MODES}, got {fill_mode!r}")
    if order not in (0, 1):
        raise NotImplementedError("keras.ops.image.map_coordinates with order > 1 is not supported yet (as Keras's "
                                  "TensorFlow backend): use order 0 or 1")
    per_axis = []
    for c, size in zip(coords.astype(np.float64), x.shape):
        if order == 0:
            nodes = [(np.round(c).astype(np.int64), np.ones(c.shape))]
        else:
            lo = np.floor(c)
            nodes = [(lo.astype(np.int64), 1.0 - (c - lo)), (lo.astype(np.int64) + 1, c - lo)]
        per_axis.append([_map_index(i, size, fill_mode) + (w,) for i, w in nodes])
    out = None
    for items in itertools.product(*per_axis):
        idx = tuple(Tensor(i) for i, _, _ in items)
        weight = np.prod([w for _, _, w in items], axis=0).astype(x.dtype)
        g = getitem(x, idx)
        if fill_mode == "constant":
            valid = np.logical_and.reduce([v for _, v, _ in items])
            g = where(Tensor(valid), g, float(fill_value))
        term = _mul(g, Tensor(weight))
        out = term if out is None else _add(out, term)
    return out


def _homography(start, end):
    """The 8 projective coefficients mapping output (end) points to input (start) points, per batch
    (TensorFlow's 8x8 system, solved in float64)."""
    n = start.shape[0]
    a = np.zeros((n, 8, 8))
    b = np.zeros((n, 8))
    for i in range(4):
        sx, sy, ex, ey = start[:, i, 0], start[:, i, 1], end[:, i, 0], end[:, i, 1]
        one, zero = np.ones(n), np.zeros(n)
        a[:, 2 * i] = np.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
        a[:, 2 * i + 1] = np.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
        b[:, 2 * i], b[:, 2 * i + 1] = sx, sy
    return np.linalg.solve(a, b[..., None])[..., 0].astype(np.float32)


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Warp images so that ``start_points`` (4 (x, y) corners, or a batch of them) land on
    ``end_points``, as Keras on TensorFlow (a projective transform, constant fill); differentiable in
    the images."""
    from .image import affine_transform

    def points(p, name):
        a = np.asarray(p.numpy() if isinstance(p, Tensor) else p, dtype=np.float64)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[-2:] != (4, 2):
            raise OpError(f"perspective_transform: {name} must be (4, 2) or (batch, 4, 2), got {a.shape}")
        return a

    start, end = points(start_points, "start_points"), points(end_points, "end_points")
    if start.shape != end.shape:
        raise OpError(f"perspective_transform: start_points {start.shape} and end_points {end.shape} differ")
    x, single = _batched_channels_last("perspective_transform", images, data_format)
    out = affine_transform(x, Tensor(_homography(start, end)), interpolation=interpolation, fill_mode="constant",
                           fill_value=float(fill_value))
    return _restore_layout(out, single, data_format)
