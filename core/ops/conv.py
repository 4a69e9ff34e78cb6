"""Convolutions, channels-last, with Keras 3 / TensorFlow semantics.

Layouts (as Keras stores them):

- ``conv2d``: x (N, H, W, Cin), kernel (kh, kw, Cin // groups, Cout)
- ``conv1d``: x (N, L, Cin), kernel (k, Cin // groups, Cout)
- ``depthwise_conv2d``: x (N, H, W, C), kernel (kh, kw, C, multiplier); output channel c*multiplier + m
- ``conv2d_transpose``: x (N, H, W, Cin), kernel (kh, kw, Cout, Cin)

"same" padding is TensorFlow's: out = ceil(in / stride), total padding
max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0), ``total // 2`` before and the
rest after (so the extra cell goes to the bottom/right with stride 2).

Forward is one GEMM over an im2col view (``as_strided``, no loop over pixels); backward is
``cols^T @ dy`` for the kernel and ``dy @ K^T`` followed by col2im (a loop over the kh*kw
kernel positions adding strided slices) for the input. The helpers here (padding with
possibly negative amounts, window views, col2im) are shared with ``pooling.py``.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import parallel
from ..autodiff import Function
from ..backend import get_xp
from ._util import OpError, tensors
from . import winograd
from .activations import add_bias_, colsum, mask_grad, relu_into

# ----------------------------------------------------------------------------- helpers


def _ints(op, name, v, n, minimum=1):
    """An int or a sequence of n ints (each >= minimum) as a tuple of n Python ints."""
    items = list(v) if isinstance(v, (list, tuple)) else [v] * n
    try:
        if len(items) != n or any(isinstance(a, bool) for a in items):
            raise TypeError
        t = tuple(operator.index(a) for a in items)
    except TypeError:
        raise OpError(f"{op}: {name} must be an int or a sequence of {n} ints, got {v!r}") from None
    if any(a < minimum for a in t):
        raise OpError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return t


def _same_pads(n, k, s, d=1):
    """TensorFlow "same" padding (before, after) for one spatial axis."""
    ke = (k - 1) * d + 1
    out = -(-n // s)
    total = max((out - 1) * s + ke - n, 0)
    return total // 2, total - total // 2


def _out_len(n_padded, k, s, d):
    return (n_padded - ((k - 1) * d + 1)) // s + 1


def _is_zero(pads):
    return all(p == 0 for pp in pads for p in pp)


def _pad(xp, x, pads, value=0):
    """Pad (positive) or crop (negative) axes 1 and 2 of ``x`` by ``((top, bottom), (left, right))``."""
    if _is_zero(pads):
        return x
    (pt, pb), (pl, pr) = pads
    N, H, W = x.shape[:3]
    ct, cb, cl, cr = max(-pt, 0), max(-pb, 0), max(-pl, 0), max(-pr, 0)
    x = x[:, ct:H - cb, cl:W - cr]
    if pt <= 0 and pb <= 0 and pl <= 0 and pr <= 0:
        return x
    h, w = x.shape[1:3]
    t, b, l, r = max(pt, 0), max(pb, 0), max(pl, 0), max(pr, 0)
    shape = (N, h + t + b, w + l + r) + tuple(x.shape[3:])
    out = xp.zeros(shape, x.dtype) if value == 0 else xp.full(shape, value, x.dtype)
    out[:, t:t + h, l:l + w] = x
    return out


def _pad_adjoint(xp, g, pads, in_shape):
    """The gradient w.r.t. ``x`` of ``_pad(x, pads)`` given the gradient ``g`` of its output."""
    if _is_zero(pads):
        return g
    (pt, pb), (pl, pr) = pads
    H, W = in_shape[1:3]
    ct, cb, cl, cr = max(-pt, 0), max(-pb, 0), max(-pl, 0), max(-pr, 0)
    h, w = H - ct - cb, W - cl - cr
    t, l = max(pt, 0), max(pl, 0)
    inner = g[:, t:t + h, l:l + w]
    if ct or cb or cl or cr:
        out = xp.zeros(tuple(in_shape), g.dtype)
        out[:, ct:ct + h, cl:cl + w] = inner
        return out
    return xp.ascontiguousarray(inner)


def _windows(xp, x, kh, kw, sh, sw, dh, dw, Ho, Wo):
    """Read-only view (N, Ho, Wo, kh, kw, C) of the sliding windows of x (N, Hp, Wp, C)."""
    s0, s1, s2, s3 = x.strides
    shape = (x.shape[0], Ho, Wo, kh, kw, x.shape[3])
    strides = (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3)
    if xp.__name__ == "numpy":
        return xp.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def _tap(x, a, b, sh, sw, dh, dw, Ho, Wo):
    """The (N, Ho, Wo, ...) strided slice of x read by kernel position (a, b)."""
    r, c = a * dh, b * dw
    return x[:, r:r + (Ho - 1) * sh + 1:sh, c:c + (Wo - 1) * sw + 1:sw]


def _col2im(xp, padded_shape, dtype, kernel_hw, strides, dilation, out_hw, tap_grad, chan=None):
    """Sum window gradients back into a zeros array of ``padded_shape`` (N, Hp, Wp, C): one
    strided add per kernel position p = a * kw + b of ``tap_grad(p)``, an (N, Ho, Wo, *chan)
    array with prod(chan) == C. Computing each tap's gradient on demand (one GEMM per tap)
    avoids the kh*kw times larger (M, kh*kw*C) dcols buffer and its strided reads."""
    N, Hp, Wp, C = padded_shape
    (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = kernel_hw, strides, dilation, out_hw
    out = xp.zeros(tuple(padded_shape), dtype)
    view = out.reshape((N, Hp, Wp) + (tuple(chan) if chan else (C,)))
    for a in range(kh):
        for b in range(kw):
            tgt = _tap(view, a, b, sh, sw, dh, dw, Ho, Wo)
            tgt += tap_grad(a * kw + b)
    return out


# im2col of single-channel inputs copies one strided slice per kernel tap (9 copies of
# (N, Ho, Wo) for 3x3) instead of the 6-d window view, whose innermost runs (kw elements) are
# too short for a fast copy; from 3 channels on the window copy wins (measurements:
# benchmarks/README.md)
_TAP_COPY_MAX_C = 1

# The im2col matrix is built and multiplied a block of about _BLOCK_BYTES at a time, in one
# reused buffer, so that nothing of size (N*Ho*Wo, kh*kw*C) is ever allocated (or kept for
# backward: the kernel gradient rebuilds the blocks from the saved padded input). Smaller blocks
# make GEMMs too short for two threads, larger ones fall out of cache (the block sizes here were
# chosen by measurement: benchmarks/README.md).
_BLOCK_BYTES = 8 << 20
# With several intra-op threads (core.parallel) the blocks are shared out among the threads, each
# block's GEMM single-threaded: twice the speed of one thread filling blocks for two BLAS threads
# (the fill is single-threaded, and the thin GEMMs of narrow layers scale badly).
_BLOCK_BYTES_PER_THREAD = 2 << 20
# ... when the whole im2col matrix takes at least this much; smaller ones run as one block on one
# thread. The blocks are sized so that every thread gets as many.
_PARALLEL_MIN_BYTES = 2 << 20
# one output channel: from this many input channels on, z = x @ K and tap sums (_conv_one_out) beat
# im2col + GEMV (benchmarks/README.md)
_ONE_OUT_MIN_C = 4
# a layer whose forward runs by Winograd also takes both gradients in the Winograd domain
# (winograd.conv3x3_grads) with 4x4 tiles, and with 2x2 tiles from outputs of this many pixels on;
# on smaller maps their padding and transforms cost more than the im2col gradients (benchmarks/README.md)
_WINOGRAD_GRADS_MIN_PIXELS = 144
_DW_CHUNK = 1 << 16   # elements of a depthwise forward chunk (its output and one tap's product: 512 KB)
# the per-tap input-gradient GEMMs run over blocks of whole images of about this many bytes of
# (gradient + tap result) rows
_DX_BLOCK_BYTES = 2 << 20
# Conv2DTranspose's forward blocks: about 30 calls a block (a GEMM and a scatter per tap), so on two
# threads smaller blocks mostly wait on the GIL (measurements: benchmarks/README.md)
_TRANSPOSE_BLOCK_BYTES = 8 << 20
# a^T @ b with a small (K, N) result (K * N below _GRAM_SMALL, a first layer's kernel gradient)
# runs in chunks of _GRAM_ROWS rows: OpenBLAS is slow on such GEMMs when the rows are many.
_GRAM_SMALL = 1000
_GRAM_ROWS = 1024


def _blocks(N, Ho, row_bytes, block_bytes=None, multiple=1):
    """(n0, n1, h0, h1) blocks covering (N, Ho) output rows of ``row_bytes`` of im2col each
    (a row = one (n, ho) line of Wo pixels): whole images when one fits, else bands of rows.
    Blocks are at most about ``block_bytes``, differ by at most one image (row), and their count
    is a multiple of ``multiple`` where the images allow: threads sharing them out get equal work
    (64 images in blocks of at most 10 shared by 2 threads: 6 blocks of 10-11, not 7 of 10 and 4)."""
    block_bytes = block_bytes or _BLOCK_BYTES
    per_image = Ho * row_bytes
    if per_image <= block_bytes:
        return [(n0, n1, 0, Ho) for n0, n1 in parallel.chunks(N, block_bytes // per_image, multiple)]
    bands = -(-Ho // max(1, block_bytes // max(row_bytes, 1)))
    while (N * bands) % multiple and bands < Ho:
        bands += 1
    return [(n, n + 1, h0, h1) for n in range(N) for h0, h1 in parallel.split(Ho, bands)]


def _fill_cols(xp, out, src, win, hb, kh, kw, sh, sw, dh, dw, Wo):
    """Write into ``out`` (n, hb, Wo, kh, kw, C) the im2col of ``hb`` output rows whose padded
    input rows start at ``src``'s first row: from ``win``, the matching (n, hb, Wo, kh, kw, C)
    window view, or (None: one channel) by one strided copy of ``src`` per kernel tap."""
    if win is not None:
        xp.copyto(out, win)
        return
    for a in range(kh):
        for b in range(kw):
            r, c = a * dh, b * dw
            out[:, :, :, a, b] = src[:, r:r + (hb - 1) * sh + 1:sh, c:c + (Wo - 1) * sw + 1:sw]


def _padded_rows(xp, x, pads, n0, n1, r0, r1, out):
    """Rows [r0, r1) of images [n0, n1) of ``_pad(x, pads)`` (non-negative pads) written into
    ``out`` (at least (n1 - n0, r1 - r0, Wp, C)), whose left and right pad columns are already
    zero. Returns the filled view."""
    (t, _), (l, _) = pads
    H, W = x.shape[1:3]
    o = out[:n1 - n0, :r1 - r0]
    a0, a1 = min(max(r0, t), r1), max(min(r1, t + H), min(max(r0, t), r1))  # rows inside x
    if a0 > r0:
        o[:, :a0 - r0] = 0
    if a1 < r1:
        o[:, a1 - r0:] = 0
    if a1 > a0:
        o[:, a0 - r0:a1 - r0, l:l + W] = x[n0:n1, a0 - t:a1 - t]
    return o


def _im2col_spans(xp, x, pads, kh, kw, sh, sw, dh, dw, Ho, Wo, work, pixel_bytes=0):
    """Call ``work(blk, cols)`` for every im2col block ((n0, n1, h0, h1), the contiguous
    (rows, kh*kw*C) im2col of those output rows) of ``_pad(x, pads)`` (pads >= 0). The padded input is never
    built whole: each block's padded rows are copied into a per-thread buffer that stays in
    cache (a whole padded copy's zero-fill and copy land in memory, not in cache). On NumPy with
    several intra-op threads the blocks are shared out among the threads (each with its own
    buffers, its GEMMs single-threaded). ``pixel_bytes``: what ``work`` also reads or writes per
    output pixel (counts towards running on several threads). Returns, per thread in block
    order, the sum of its blocks' ``work`` results (None when ``work`` returns None)."""
    N, H, W, C = x.shape
    (pt, pb), (pl, pr) = pads
    Wp = W + pl + pr
    itemsize = x.dtype.itemsize
    K = kh * kw * C
    total = N * Ho * Wo * K * itemsize
    threads = parallel.num_threads()
    parallel_ok = (xp is np and threads > 1 and total + N * Ho * Wo * pixel_bytes >= _PARALLEL_MIN_BYTES
                   and not parallel.in_region())
    block_bytes = _BLOCK_BYTES
    if parallel_ok:  # blocks of at most _BLOCK_BYTES_PER_THREAD, as many for every thread
        nb = -(-max(threads, -(-total // _BLOCK_BYTES_PER_THREAD)) // threads) * threads
        block_bytes = -(-total // nb)
    blocks = _blocks(N, Ho, Wo * K * itemsize, block_bytes, threads if parallel_ok else 1)
    n_max = max(n1 - n0 for n0, n1, _, _ in blocks)
    h_max = max(h1 - h0 for _, _, h0, h1 in blocks)
    r_max = (h_max - 1) * sh + (kh - 1) * dh + 1  # padded input rows a block reads
    size = n_max * h_max * Wo * K
    padded = not _is_zero(pads)
    per_tap = C <= _TAP_COPY_MAX_C and kh * kw > 1
    win_x = None if padded or per_tap else _windows(xp, x, kh, kw, sh, sw, dh, dw, Ho, Wo)

    def span(b0, b1):
        buf = xp.empty(size, x.dtype)
        if padded:
            pbuf = xp.zeros((n_max, r_max, Wp, C), x.dtype)
            win_p = None if per_tap else _windows(xp, pbuf, kh, kw, sh, sw, dh, dw, h_max, Wo)
        acc = None
        for blk in blocks[b0:b1]:
            n0, n1, h0, h1 = blk
            r0, r1 = h0 * sh, (h1 - 1) * sh + (kh - 1) * dh + 1
            if padded:
                src = _padded_rows(xp, x, pads, n0, n1, r0, r1, pbuf)
                win = None if per_tap else win_p[:n1 - n0, :h1 - h0]
            else:
                src = x[n0:n1, r0:r1]
                win = None if per_tap else win_x[n0:n1, h0:h1]
            cols = buf[:(n1 - n0) * (h1 - h0) * Wo * K].reshape(n1 - n0, h1 - h0, Wo, kh, kw, C)
            _fill_cols(xp, cols, src, win, h1 - h0, kh, kw, sh, sw, dh, dw, Wo)
            r = work(blk, cols.reshape(-1, K))
            if r is not None:
                if acc is None:
                    acc = r
                else:
                    acc += r
        return acc

    if not parallel_ok:
        return [span(0, len(blocks))]
    return parallel.run(span, parallel.split(len(blocks), parallel.parts_for(len(blocks))), gemm=True)


def _conv_gemm(xp, x, pads, k2, kh, kw, sh, sw, dh, dw, Ho, Wo, epilogue=None):
    """y (N, Ho, Wo, Cout) = im2col(_pad(x, pads)) @ k2, one im2col block at a time;
    ``epilogue(blk, yb)`` then runs on each block's (rows, Cout) output while it is in cache."""
    N, Cout = x.shape[0], k2.shape[1]
    y = xp.empty((N, Ho, Wo, Cout), x.dtype)

    def work(blk, cols):
        n0, n1, h0, h1 = blk
        yb = y[n0:n1, h0:h1].reshape(-1, Cout)
        xp.matmul(cols, k2, out=yb)
        if epilogue is not None:
            epilogue(blk, yb)

    _im2col_spans(xp, x, pads, kh, kw, sh, sw, dh, dw, Ho, Wo, work,
                  pixel_bytes=Cout * y.itemsize if epilogue is not None else 0)
    return y


def _conv_dk(xp, x, pads, dy4, kh, kw, sh, sw, dh, dw, mask=None, dy_out=None, bias=False):
    """The kernel gradient im2col(_pad(x, pads))^T @ dy as (kh*kw*C, Cout), rebuilding im2col by blocks
    (each thread sums its blocks' products, then the threads' sums are added in order).

    With ``mask`` (a fused ReLU's, dy4's shape) the blocks take dy4 * mask, written into
    ``dy_out`` when given (the input gradient needs it); ``bias``: also dy's column sums.
    Returns (dk, db or None)."""
    Ho, Wo, Cout = dy4.shape[1:]
    K = kh * kw * x.shape[3]

    def work(blk, cols):
        n0, n1, h0, h1 = blk
        g = dy4[n0:n1, h0:h1].reshape(-1, Cout)
        if mask is not None:
            m = mask[n0:n1, h0:h1].reshape(-1, Cout)
            if dy_out is not None:
                g = xp.multiply(g, m, out=dy_out[n0:n1, h0:h1].reshape(-1, Cout))
            else:
                g = g * m
        if not bias:
            return _gram(xp, cols, g)
        r = xp.empty((K + 1, Cout), g.dtype)
        _gram(xp, cols, g, out=r[:K])
        xp.matmul(xp.ones(g.shape[0], g.dtype), g, out=r[K])
        return r

    extra = Cout * dy4.itemsize * (1 + (mask is not None) + (dy_out is not None))
    r = parallel.sum_parts(_im2col_spans(xp, x, pads, kh, kw, sh, sw, dh, dw, Ho, Wo, work, pixel_bytes=extra))
    return (r[:K], r[K]) if bias else (r, None)


def _gram(xp, a, b, out=None):
    """a^T @ b for a (M, K) and b (M, N) (see _GRAM_SMALL); into ``out`` when given."""
    M, K = a.shape
    if xp is not np or K * b.shape[1] >= _GRAM_SMALL or M < 2 * _GRAM_ROWS:
        return xp.matmul(a.T, b, out=out)
    r = xp.matmul(a[:_GRAM_ROWS].T, b[:_GRAM_ROWS], out=out)
    part = xp.empty_like(r)
    for i in range(_GRAM_ROWS, M, _GRAM_ROWS):
        r += xp.matmul(a[i:i + _GRAM_ROWS].T, b[i:i + _GRAM_ROWS], out=part)
    return r


def _dx_taps(xp, dy4, k2, pad_shape, kh, kw, sh, sw, dh, dw):
    """The input gradient (padded layout) of a G=1 conv: per kernel tap p, dy @ K[p]^T added
    into the strided slice tap p read; blocks of whole images keep the tap result in cache (on
    NumPy, shared out among the intra-op threads: each block writes its own images)."""
    N, Ho, Wo, Cout = dy4.shape
    C = pad_shape[3]
    dpad = xp.zeros(pad_shape, dy4.dtype)
    threads = parallel.num_threads() if xp is np else 1
    blocks = _blocks(N, 1, Ho * Wo * (C + Cout) * dy4.dtype.itemsize, _DX_BLOCK_BYTES, threads)
    nb = max(n1 - n0 for n0, n1, _, _ in blocks)

    def span(b0, b1):
        buf = xp.empty(nb * Ho * Wo * C, dy4.dtype)
        for n0, n1, _, _ in blocks[b0:b1]:
            g = dy4[n0:n1].reshape(-1, Cout)
            out = buf[:g.shape[0] * C].reshape(-1, C)
            tgt_img = dpad[n0:n1]
            for a in range(kh):
                for b in range(kw):
                    p = a * kw + b
                    xp.matmul(g, k2[p * C:(p + 1) * C].T, out=out)
                    tgt = _tap(tgt_img, a, b, sh, sw, dh, dw, Ho, Wo)
                    tgt += out.reshape(n1 - n0, Ho, Wo, C)

    parallel.for_ranges(span, len(blocks), dpad.size, gemm=True, min_elements=0, xp=xp)
    return dpad


def _full_conv_of_dy(xp, k, pads):
    """The pads of dy and the flipped (kh, kw, Cout, C) kernel whose valid convolution of the
    padded dy is the input gradient of a stride-1, dilation-1 conv with ``pads``."""
    kh, kw = k.shape[:2]
    (pt, pb), (pl, pr) = pads
    q = ((kh - 1 - pt, kh - 1 - pb), (kw - 1 - pl, kw - 1 - pr))
    return q, xp.ascontiguousarray(k[::-1, ::-1].transpose(0, 1, 3, 2))


def _dx_transposed(xp, dy4, k, pads, H, W):
    """The input gradient of a stride-1, dilation-1 conv as a forward ("full") convolution of
    dy, padded by (k - 1 - pad) on each side, with the flipped kernel: one efficient im2col GEMM
    per block instead of kh*kw thin GEMMs and strided adds."""
    kh, kw = k.shape[:2]
    q, kf = _full_conv_of_dy(xp, k, pads)
    return _conv(xp, dy4, q, kf, kh, kw, 1, 1, 1, 1, H, W, forward=False, large=winograd.large_tiles(True))


def _grads_transposed(xp, x, dy4, k, pads):
    """(dx, dk) of a conv where ``_use_transposed_dx`` holds, from ONE im2col of the padded dy: the
    input gradient is its product with the flipped kernel (``_dx_transposed``), and the kernel
    gradient x^T @ im2col(dy) read with the taps flipped (dk[a, b, c, o] = sum over pixels p of
    x[p, c] dy[p - (a, b) + pads, o]), so x is never unfolded."""
    N, H, W, C = x.shape
    kh, kw, _, Cout = k.shape
    q, kf = _full_conv_of_dy(xp, k, pads)
    kf = kf.reshape(kh * kw * Cout, C)
    dx = xp.empty((N, H, W, C), dy4.dtype)

    def work(blk, cols):
        n0, n1, h0, h1 = blk
        xp.matmul(cols, kf, out=dx[n0:n1, h0:h1].reshape(-1, C))
        return _gram(xp, x[n0:n1, h0:h1].reshape(-1, C), cols)

    acc = parallel.sum_parts(_im2col_spans(xp, dy4, q, kh, kw, 1, 1, 1, 1, H, W, work,
                                           pixel_bytes=2 * C * dy4.itemsize))
    dk = acc.reshape(C, kh, kw, Cout)[:, ::-1, ::-1].transpose(1, 2, 0, 3)
    return dx, xp.ascontiguousarray(dk)


def _uses_winograd(kh, kw, sh, sw, dh, dw, C, Cout, forward=False, out_hw=(1, 1), large=False):
    """Whether ``_conv`` runs this layer as Winograd (``winograd.conv3x3``) rather than im2col + GEMM: wide
    layers, and a layer's forward (``out_hw`` outputs an image) from fewer channels on
    (``winograd.worth_it``; ``large``: 4x4 tiles allowed)."""
    return (kh == kw == 3 and sh == sw == 1 and dh == dw == 1
            and winograd.worth_it(C, Cout, forward, out_hw, large))


def _conv_one_out(xp, x, pads, k, kh, kw, dh, dw, Ho, Wo, epilogue=None):
    """A stride-1 conv with ONE output channel, by images blocks: z = x @ K as (pixels, kh*kw), one
    GEMM without im2col, then each output pixel sums its taps' columns of z (kh*kw strided adds
    of the block's (n, Ho, Wo) plane). The im2col path copies kh*kw*C floats per pixel for a GEMV."""
    N, H, W, C = x.shape
    (pt, _), (pl, _) = pads
    T = kh * kw
    kk = k.reshape(T, C).T
    taps = []  # (p, output rows i0:i1, columns j0:j1, and the input row and column they read first)
    for a in range(kh):
        for b in range(kw):
            i0, i1 = max(0, pt - a * dh), min(Ho, H + pt - a * dh)
            j0, j1 = max(0, pl - b * dw), min(Wo, W + pl - b * dw)
            if i1 > i0 and j1 > j0:
                taps.append((a * kw + b, i0, i1, j0, j1, i0 + a * dh - pt, j0 + b * dw - pl))
    y = xp.empty((N, Ho, Wo, 1), x.dtype)
    per_image = (H * W * T + Ho * Wo) * x.itemsize
    threads = parallel.num_threads() if xp is np else 1
    par = threads > 1 and N * per_image >= _PARALLEL_MIN_BYTES and not parallel.in_region()
    blocks = parallel.chunks(N, max(1, _DX_BLOCK_BYTES // per_image), threads if par else 1)
    nb = max(n1 - n0 for n0, n1 in blocks)

    def span(b0, b1):
        zbuf = xp.empty((nb * H * W, T), x.dtype)
        for n0, n1 in blocks[b0:b1]:
            n = n1 - n0
            z = xp.matmul(x[n0:n1].reshape(-1, C), kk, out=zbuf[:n * H * W]).reshape(n, H, W, T)
            yb = y[n0:n1, :, :, 0]
            yb.fill(0)
            for p, i0, i1, j0, j1, r0, c0 in taps:
                yb[:, i0:i1, j0:j1] += z[:, r0:r0 + i1 - i0, c0:c0 + j1 - j0, p]
            if epilogue is not None:
                epilogue((n0, n1, 0, Ho), y[n0:n1].reshape(-1, 1))

    if par:
        parallel.run(span, parallel.split(len(blocks), threads), gemm=True)
    else:
        span(0, len(blocks))
    return y


def _conv(xp, x, pads, k, kh, kw, sh, sw, dh, dw, Ho, Wo, epilogue=None, forward=True, large=False):
    """The valid convolution of ``_pad(x, pads)`` with the (kh, kw, C, Cout) kernel of a G=1 conv:
    Winograd (``winograd.conv3x3``) where it pays (3x3, stride 1, wide enough layers; ``forward``: a
    layer's forward, not an input gradient's full convolution; ``large``: 4x4 tiles allowed), the tap
    sums of ``_conv_one_out`` for one output channel (stride 1), else blocked im2col + GEMM.
    ``epilogue(blk, yb)``: see ``_conv_gemm``."""
    C, Cout = k.shape[2], k.shape[3]
    if Cout == 1 and sh == sw == 1 and kh * kw > 1 and C >= _ONE_OUT_MIN_C:
        return _conv_one_out(xp, x, pads, k, kh, kw, dh, dw, Ho, Wo, epilogue)
    if _uses_winograd(kh, kw, sh, sw, dh, dw, C, Cout, forward, (Ho, Wo), large):
        m = winograd.tile_size(C, Cout, (Ho, Wo), large)
        return winograd.conv3x3(xp, _pad(xp, x, pads), k, Ho, Wo, epilogue=epilogue, m=m)
    return _conv_gemm(xp, x, pads, k.reshape(kh * kw * C, Cout), kh, kw, sh, sw, dh, dw, Ho, Wo, epilogue)


def _use_transposed_dx(pads, kh, kw, strides, dilation, H, W, Ho, Wo):
    """Stride 1, dilation 1, no padding beyond k - 1, and (almost) no extra rows to compute
    ('same' padding): there the full convolution costs what the per-tap GEMMs cost, and runs faster.
    With 'valid' padding it computes (H*W)/(Ho*Wo) times the rows: slower."""
    (pt, pb), (pl, pr) = pads
    return (strides == (1, 1) and dilation == (1, 1) and max(pt, pb) <= kh - 1 and max(pl, pr) <= kw - 1
            and H * W <= 1.1 * Ho * Wo)


def _convert(op, x, kernel, bias):
    """Tensors for (x, kernel[, bias]) with the float/dtype checks of ``tensors``."""
    args = [x, kernel] + ([bias] if bias is not None else [])
    ts = tensors(op, *args)
    return ts[0], ts[1], (ts[2] if bias is not None else None)


def _check_bias(op, bias, cout):
    if bias is not None and tuple(bias.shape) != (cout,):
        raise OpError(f"{op}: bias must have shape ({cout},) to match the kernel's output channels, "
                      f"got shape {tuple(bias.shape)}")


def _fused_activation(op, activation):
    if activation is None or activation == "linear":
        return None
    if activation == "relu":
        return "relu"
    raise OpError(f"{op}: activation must be None, 'linear' or 'relu' (the activations fused into the op), "
                  f"got {activation!r}")


def _rank(op, name, t, rank, layout):
    if t.ndim != rank:
        raise OpError(f"{op}: {name} must have rank {rank} {layout}, got shape {tuple(t.shape)}")


def _resolve_padding(op, padding, in_hw, k_hw, s_hw, d_hw, one_d=False):
    """Padding as ((top, bottom), (left, right)) for a 2-d (or height-1 1-d) convolution."""
    if isinstance(padding, str):
        p = padding.lower()
        if p == "valid":
            return ((0, 0), (0, 0))
        if p == "same":
            return tuple(_same_pads(n, k, s, d) for n, k, s, d in zip(in_hw, k_hw, s_hw, d_hw))
        if p == "causal" and one_d:
            return ((0, 0), ((k_hw[1] - 1) * d_hw[1], 0))
        allowed = "'valid', 'same', 'causal'" if one_d else "'valid', 'same'"
        raise OpError(f"{op}: padding must be one of {allowed} or explicit amounts, got {padding!r}")
    try:
        if one_d:
            l, r = (operator.index(v) for v in padding)
            pads = ((0, 0), (l, r))
        else:
            (t, b), (l, r) = ((operator.index(u) for u in pp) for pp in padding)
            pads = ((t, b), (l, r))
    except (TypeError, ValueError):
        want = "(left, right)" if one_d else "((top, bottom), (left, right))"
        raise OpError(f"{op}: padding must be 'valid', 'same'{', ' + repr('causal') if one_d else ''} "
                      f"or {want} ints, got {padding!r}") from None
    if any(v < 0 for pp in pads for v in pp):
        raise OpError(f"{op}: explicit padding must be non-negative, got {padding!r}")
    return pads


def _out_hw(op, x_shape, pads, k_hw, s_hw, d_hw):
    H, W = x_shape[1:3]
    Hp = H + pads[0][0] + pads[0][1]
    Wp = W + pads[1][0] + pads[1][1]
    Ho = _out_len(Hp, k_hw[0], s_hw[0], d_hw[0])
    Wo = _out_len(Wp, k_hw[1], s_hw[1], d_hw[1])
    if Ho < 1 or Wo < 1:
        ke = tuple((k - 1) * d + 1 for k, d in zip(k_hw, d_hw))
        raise OpError(f"{op}: input of spatial size {tuple(x_shape[1:3])} (padded to {(Hp, Wp)}) is smaller "
                      f"than the (dilated) kernel {ke}; the output would be empty")
    return Ho, Wo


# ----------------------------------------------------------------------------- conv2d


class Conv2D(Function):
    """y = act(conv(pad(x), kernel) + bias); handles conv1d through a height-1 view (``one_d``).

    ``activation`` is None or "relu": the ReLU is applied in place on the GEMM output and its
    mask kept for backward (one op instead of two, no extra output array). On the im2col path
    the bias, the ReLU and its mask run on each output block right after its GEMM, while it is
    in cache, and the kernel gradient's blocks mask dy and sum the bias gradient."""

    channelwise_fast_path = True   # groups == channels -> DepthwiseConv2D's tap loop (off: the reference)

    def __init__(self, strides, pads, dilation, groups, one_d=False, activation=None):
        self.strides, self.pads, self.dilation, self.groups = strides, pads, dilation, groups
        self.one_d, self.activation = one_d, activation

    def forward(self, x, k, b=None):
        xp = self.xp = get_xp(x, k)
        self.x_shape, self.k_shape = x.shape, k.shape
        if self.one_d:
            x, k = x[:, None], k[None]
        N, H, W, C = x.shape
        kh, kw, cg, Cout = k.shape
        (sh, sw), (dh, dw), G = self.strides, self.dilation, self.groups
        og = Cout // G
        need_x, need_k = self.needs_input_grad[0], self.needs_input_grad[1]
        self.has_bias = b is not None
        self.depthwise = None
        if self.channelwise_fast_path and G > 1 and cg == 1 and og == 1:
            # one group per channel (ConvNeXt's 7x7 Conv2D(groups=C)): the depthwise kernel's tap
            # loop, not G tiny GEMMs; its (kh, kw, 1, C) kernel is the depthwise (kh, kw, C, 1) one
            self.depthwise = DepthwiseConv2D(self.strides, self.pads, self.dilation)
            self.depthwise.needs_input_grad = self.needs_input_grad
            y = self.depthwise.forward(x, k.reshape(kh, kw, C, 1), b)
            self.mask = None
            if self.activation == "relu":
                relu_into(xp, y, y)
                if any(self.needs_input_grad):
                    self.mask = y > 0
            return y[:, 0] if self.one_d else y

        pointwise = kh == 1 and kw == 1 and sh == 1 and sw == 1 and _is_zero(self.pads)
        Hp, Wp = H + sum(self.pads[0]), W + sum(self.pads[1])
        Ho, Wo = _out_len(Hp, kh, sh, dh), _out_len(Wp, kw, sw, dw)
        M, K = N * Ho * Wo, kh * kw * cg

        self.xsave = None
        relu = self.activation == "relu"
        self.mask = None
        self.winograd = False
        fused = False
        if G == 1:
            k2 = k.reshape(K, Cout)
            if pointwise:
                cols = x.reshape(M, K)
                y = cols @ k2
            else:
                cols = None
                mask = xp.empty((N, Ho, Wo, Cout), bool) if relu and any(self.needs_input_grad) else None
                large = winograd.large_tiles(any(self.needs_input_grad))
                use_winograd = _uses_winograd(kh, kw, sh, sw, dh, dw, C, Cout, True, (Ho, Wo), large)
                epilogue_bias = b is not None and not use_winograd  # (Winograd adds it in the tiles)

                def epilogue(blk, yb):  # bias and ReLU on each output block while in cache
                    if epilogue_bias:
                        add_bias_(xp, yb, b)
                    if relu:
                        relu_into(xp, yb, yb)
                        if mask is not None:
                            n0, n1, h0, h1 = blk
                            xp.greater(yb, 0, out=mask[n0:n1, h0:h1].reshape(yb.shape))

                fused = b is not None or relu  # (the bias and ReLU below are done)
                if use_winograd:
                    self.tile = winograd.tile_size(C, Cout, (Ho, Wo), large)
                    # both gradients in the Winograd domain too (from the padded input) on large enough maps
                    self.winograd = Ho * Wo >= _WINOGRAD_GRADS_MIN_PIXELS or self.tile == 4
                    xpad = _pad(xp, x, self.pads)
                    y = winograd.conv3x3(xp, xpad, k, Ho, Wo, m=self.tile, bias=b,
                                         epilogue=epilogue if relu else None).reshape(M, Cout)
                    self.pad_shape = xpad.shape
                    if need_k:
                        self.xsave = xpad if self.winograd else x
                else:
                    y = _conv(xp, x, self.pads, k, kh, kw, sh, sw, dh, dw, Ho, Wo,
                              epilogue if fused else None).reshape(M, Cout)
                    if need_k:
                        self.xsave = x
                self.mask = mask
        else:
            win = (x.reshape(N, H, W, 1, 1, C) if pointwise
                   else _windows(xp, _pad(xp, x, self.pads), kh, kw, sh, sw, dh, dw, Ho, Wo))
            # (G, N, Ho, Wo, kh, kw, cg) contiguous copy, then one batched GEMM over groups
            win7 = win.reshape(N, Ho, Wo, kh, kw, G, cg)
            cols = xp.ascontiguousarray(win7.transpose(5, 0, 1, 2, 3, 4, 6)).reshape(G, M, K)
            k2 = xp.ascontiguousarray(k.reshape(kh, kw, cg, G, og).transpose(3, 0, 1, 2, 4)).reshape(G, K, og)
            y = xp.matmul(cols, k2).transpose(1, 0, 2).reshape(M, Cout)
        if not fused:
            if b is not None:
                add_bias_(xp, y, b)
            if relu:
                relu_into(xp, y, y)
                if any(self.needs_input_grad):
                    self.mask = y > 0
        self.cols = cols if need_k else None
        self.k2 = k2 if need_x else None
        self.geom = (N, H, W, C, Ho, Wo, kh, kw, cg, Cout, Hp, Wp, pointwise)
        y = y.reshape(N, Ho, Wo, Cout)
        return y[:, 0] if self.one_d else y

    def backward(self, gy):
        xp = self.xp
        if self.depthwise is not None:
            if self.one_d:
                gy = gy[:, None]
            if self.mask is not None:
                gy = mask_grad(xp, gy, self.mask)
            dx, dk, *db = self.depthwise.backward(gy)
            grads = (None if dx is None else dx.reshape(self.x_shape), None if dk is None else dk.reshape(self.k_shape))
            return grads + tuple(db)
        N, H, W, C, Ho, Wo, kh, kw, cg, Cout, Hp, Wp, pointwise = self.geom
        (sh, sw), (dh, dw), G = self.strides, self.dilation, self.groups
        og = Cout // G
        M = N * Ho * Wo
        dy = gy.reshape(M, Cout)
        dx = dk = db = None
        want_db = self.has_bias and self.needs_input_grad[2]
        if self.winograd and (self.xsave is not None or self.k2 is not None):
            if self.mask is not None:
                dy = mask_grad(xp, dy, self.mask.reshape(M, Cout))
            dpad, dk = winograd.conv3x3_grads(
                xp, dy.reshape(N, Ho, Wo, Cout), self.pad_shape, xpad=self.xsave,
                kernel=None if self.k2 is None else self.k2.reshape(kh, kw, C, Cout), m=self.tile)
            if dpad is not None:
                dx = _pad_adjoint(xp, dpad, self.pads, (N, H, W, C)).reshape(self.x_shape)
            grads = (dx, None if dk is None else dk.reshape(self.k_shape))
            return grads + ((colsum(xp, dy) if want_db else None),) if self.has_bias else grads
        if (self.xsave is not None and self.k2 is not None and G == 1 and not pointwise
                and _use_transposed_dx(self.pads, kh, kw, (sh, sw), (dh, dw), H, W, Ho, Wo)
                and not _uses_winograd(kh, kw, 1, 1, 1, 1, Cout, C)):  # (else Winograd's dx)
            if self.mask is not None:
                dy = mask_grad(xp, dy, self.mask.reshape(M, Cout))
            dx, dk = _grads_transposed(xp, self.xsave, dy.reshape(N, Ho, Wo, Cout), self.k2.reshape(kh, kw, C, Cout),
                                       self.pads)
            grads = (dx.reshape(self.x_shape), dk.reshape(self.k_shape))
            return grads + ((colsum(xp, dy) if want_db else None),) if self.has_bias else grads
        if self.xsave is not None and G == 1:
            # the kernel gradient's blocks also apply the ReLU mask and sum the bias gradient
            mask4 = None if self.mask is None else self.mask.reshape(N, Ho, Wo, Cout)
            dy_out = xp.empty((N, Ho, Wo, Cout), dy.dtype) if mask4 is not None and self.k2 is not None else None
            dk, db = _conv_dk(xp, self.xsave, self.pads, dy.reshape(N, Ho, Wo, Cout), kh, kw, sh, sw, dh, dw,
                              mask=mask4, dy_out=dy_out, bias=want_db)
            dk = dk.reshape(self.k_shape)
            if dy_out is not None:
                dy = dy_out.reshape(M, Cout)
            want_db = False
        elif self.mask is not None:
            dy = mask_grad(xp, dy, self.mask.reshape(M, Cout))
        if G > 1:
            dyg = xp.ascontiguousarray(dy.reshape(M, G, og).transpose(1, 0, 2))  # (G, M, og)
        if self.cols is not None:
            if G == 1:
                dk = self.cols.T @ dy
            else:
                dk = xp.matmul(self.cols.transpose(0, 2, 1), dyg)  # (G, K, og)
                dk = dk.reshape(G, kh, kw, cg, og).transpose(1, 2, 3, 0, 4)
            dk = dk.reshape(self.k_shape)
        if want_db:
            db = colsum(xp, dy)
        if self.k2 is not None:
            k2 = self.k2
            if pointwise:
                if G == 1:
                    dx = dy @ k2.T
                else:
                    dx = xp.matmul(dyg, k2.transpose(0, 2, 1)).transpose(1, 0, 2)  # (M, G, cg)
                dx = dx.reshape(N, H, W, C)
            elif G == 1:
                dy4 = dy.reshape(N, Ho, Wo, Cout)
                if _use_transposed_dx(self.pads, kh, kw, (sh, sw), (dh, dw), H, W, Ho, Wo):
                    dx = _dx_transposed(xp, dy4, k2.reshape(kh, kw, C, Cout), self.pads, H, W)
                else:
                    dpad = _dx_taps(xp, dy4, k2, (N, Hp, Wp, C), kh, kw, sh, sw, dh, dw)
                    dx = _pad_adjoint(xp, dpad, self.pads, (N, H, W, C))
            else:
                def tap_grad(p):
                    g = xp.matmul(dyg, k2[:, p * cg:(p + 1) * cg].transpose(0, 2, 1))  # (G, M, cg)
                    return g.transpose(1, 0, 2).reshape(N, Ho, Wo, G, cg)
                dpad = _col2im(xp, (N, Hp, Wp, C), dy.dtype, (kh, kw), (sh, sw), (dh, dw), (Ho, Wo),
                               tap_grad, chan=(G, cg))
                dx = _pad_adjoint(xp, dpad, self.pads, (N, H, W, C))
            dx = dx.reshape(self.x_shape)
        grads = (dx, dk)
        return grads + (db,) if self.has_bias else grads


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1, *, activation=None):
    """2-d convolution (cross-correlation, as Keras ``Conv2D``), channels-last.

    x (N, H, W, Cin); kernel (kh, kw, Cin // groups, Cout); bias (Cout,) or None.
    ``padding``: "valid", "same" (TensorFlow's, asymmetric with stride 2) or explicit
    ``((top, bottom), (left, right))``. ``strides`` / ``dilation``: int or pair.
    ``activation``: None or "relu", fused into the op (relu(conv + bias) in one step).
    """
    op = "conv2d"
    activation = _fused_activation(op, activation)
    x, kernel, bias = _convert(op, x, kernel, bias)
    _rank(op, "x", x, 4, "(N, H, W, Cin)")
    _rank(op, "kernel", kernel, 4, "(kh, kw, Cin // groups, Cout)")
    s = _ints(op, "strides", strides, 2)
    d = _ints(op, "dilation", dilation, 2)
    g = _ints(op, "groups", groups, 1)[0]
    kh, kw, cg, cout = kernel.shape
    cin = x.shape[3]
    if cin % g or cout % g:
        raise OpError(f"{op}: groups={g} must divide both the input channels ({cin}) and the output "
                      f"channels ({cout}); x {tuple(x.shape)}, kernel {tuple(kernel.shape)}")
    if cg * g != cin:
        raise OpError(f"{op}: kernel {tuple(kernel.shape)} expects {cg * g} input channels "
                      f"(kernel.shape[2]={cg} x groups={g}) but x {tuple(x.shape)} has {cin}")
    _check_bias(op, bias, cout)
    pads = _resolve_padding(op, padding, x.shape[1:3], (kh, kw), s, d)
    _out_hw(op, x.shape, pads, (kh, kw), s, d)
    args = (x, kernel) + ((bias,) if bias is not None else ())
    return Conv2D(s, pads, d, g, activation=activation).apply(*args)


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1, *, activation=None):
    """1-d convolution (as Keras ``Conv1D``): x (N, L, Cin), kernel (k, Cin // groups, Cout).

    ``padding``: "valid", "same", "causal" (left padding (k - 1) * dilation) or ``(left, right)``.
    ``activation``: None or "relu", fused into the op.
    """
    op = "conv1d"
    activation = _fused_activation(op, activation)
    x, kernel, bias = _convert(op, x, kernel, bias)
    _rank(op, "x", x, 3, "(N, L, Cin)")
    _rank(op, "kernel", kernel, 3, "(k, Cin // groups, Cout)")
    s = _ints(op, "strides", strides, 1)[0]
    d = _ints(op, "dilation", dilation, 1)[0]
    g = _ints(op, "groups", groups, 1)[0]
    k, cg, cout = kernel.shape
    cin = x.shape[2]
    if cin % g or cout % g:
        raise OpError(f"{op}: groups={g} must divide both the input channels ({cin}) and the output "
                      f"channels ({cout}); x {tuple(x.shape)}, kernel {tuple(kernel.shape)}")
    if cg * g != cin:
        raise OpError(f"{op}: kernel {tuple(kernel.shape)} expects {cg * g} input channels "
                      f"(kernel.shape[1]={cg} x groups={g}) but x {tuple(x.shape)} has {cin}")
    _check_bias(op, bias, cout)
    pads = _resolve_padding(op, padding, (1, x.shape[1]), (1, k), (1, s), (1, d), one_d=True)
    try:
        _out_hw(op, (x.shape[0], 1, x.shape[1]), pads, (1, k), (1, s), (1, d))
    except OpError:
        raise OpError(f"{op}: input length {x.shape[1]} (padded by {pads[1]}) is shorter than the "
                      f"(dilated) kernel {(k - 1) * d + 1}; the output would be empty") from None
    args = (x, kernel) + ((bias,) if bias is not None else ())
    return Conv2D((1, s), pads, (1, d), g, one_d=True, activation=activation).apply(*args)


# ----------------------------------------------------------------------------- depthwise


class DepthwiseConv2D(Function):
    """Per-channel convolution: a loop over the kh*kw kernel taps, each a broadcast multiply-add
    over the whole batch (no im2col buffer, nothing big kept but the padded input). Internally
    the multiplier axis leads, (M, N, Ho, Wo, C), so every inner loop runs over the channels."""

    chunked = True   # the forward in cache-sized image chunks over the intra-op threads (off: the reference)

    def __init__(self, strides, pads, dilation):
        self.strides, self.pads, self.dilation = strides, pads, dilation

    def forward(self, x, k, b=None):
        xp = self.xp = get_xp(x, k)
        N, H, W, C = x.shape
        kh, kw, _, Mu = k.shape
        (sh, sw), (dh, dw) = self.strides, self.dilation
        xpad = _pad(xp, x, self.pads)
        Ho, Wo = _out_len(xpad.shape[1], kh, sh, dh), _out_len(xpad.shape[2], kw, sw, dw)
        kT = k.transpose(0, 1, 3, 2)[:, :, :, None, None, None, :]  # (kh, kw, M, 1, 1, 1, C)
        yT = xp.zeros((Mu, N, Ho, Wo, C), x.dtype)
        per_image = Mu * Ho * Wo * C

        def span(n0, n1):
            # images n0:n1 in chunks of about _DW_CHUNK elements, so that each chunk's output and
            # product stay in cache over the kh * kw taps (each output adds its taps in order:
            # the result does not depend on the chunking)
            step = max(1, min(n1 - n0, _DW_CHUNK // max(per_image, 1)))
            tmp = xp.empty((Mu, step, Ho, Wo, C), x.dtype)
            for c0 in range(n0, n1, step):
                c1 = min(c0 + step, n1)
                out, t = yT[:, c0:c1], tmp[:, :c1 - c0]
                xs = xpad[c0:c1]
                for a in range(kh):
                    for bb in range(kw):
                        xp.multiply(_tap(xs, a, bb, sh, sw, dh, dw, Ho, Wo), kT[a, bb], out=t)
                        out += t

        if self.chunked:
            parallel.for_ranges(span, N, N * per_image * kh * kw, min_elements=_PARALLEL_MIN_BYTES, xp=xp)
        else:
            tmp = xp.empty_like(yT)
            for a in range(kh):
                for bb in range(kw):
                    xp.multiply(_tap(xpad, a, bb, sh, sw, dh, dw, Ho, Wo), kT[a, bb], out=tmp)
                    yT += tmp
            del tmp
        y = yT[0] if Mu == 1 else yT.transpose(1, 2, 3, 4, 0).reshape(N, Ho, Wo, C * Mu)
        if b is not None:
            y += b
        self.has_bias = b is not None
        self.xpad = xpad if self.needs_input_grad[1] else None
        self.kT = kT if self.needs_input_grad[0] else None
        self.geom = (x.shape, xpad.shape, k.shape, Ho, Wo)
        return y

    def backward(self, gy):
        xp = self.xp
        x_shape, pad_shape, k_shape, Ho, Wo = self.geom
        N, H, W, C = x_shape
        kh, kw, _, Mu = k_shape
        (sh, sw), (dh, dw) = self.strides, self.dilation
        dx = dk = db = None
        if Mu == 1:
            dyT = gy[None]
        else:
            dyT = xp.ascontiguousarray(gy.reshape(N, Ho, Wo, C, Mu).transpose(4, 0, 1, 2, 3))
        if self.xpad is not None:
            dk = xp.empty(k_shape, gy.dtype)
            for a in range(kh):
                for bb in range(kw):
                    sl = _tap(self.xpad, a, bb, sh, sw, dh, dw, Ho, Wo)
                    dk[a, bb] = xp.einsum("nhwc,mnhwc->cm", sl, dyT)
        if self.has_bias and self.needs_input_grad[2]:
            db = gy.sum(axis=(0, 1, 2))
        if self.kT is not None:
            dpad = xp.zeros(pad_shape, gy.dtype)
            for a in range(kh):
                for bb in range(kw):
                    tgt = _tap(dpad, a, bb, sh, sw, dh, dw, Ho, Wo)
                    if Mu == 1:
                        tgt += gy * self.kT[a, bb, 0, 0]
                    else:
                        tgt += (dyT * self.kT[a, bb]).sum(axis=0)
            dx = _pad_adjoint(xp, dpad, self.pads, x_shape)
        grads = (dx, dk)
        return grads + (db,) if self.has_bias else grads


def depthwise_conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation=1):
    """Depthwise 2-d convolution (as Keras ``DepthwiseConv2D``).

    x (N, H, W, C); kernel (kh, kw, C, multiplier); bias (C * multiplier,) or None.
    Output channel ``c * multiplier + m`` is channel c convolved with kernel[..., c, m].
    """
    op = "depthwise_conv2d"
    x, kernel, bias = _convert(op, x, kernel, bias)
    _rank(op, "x", x, 4, "(N, H, W, C)")
    _rank(op, "kernel", kernel, 4, "(kh, kw, C, multiplier)")
    s = _ints(op, "strides", strides, 2)
    d = _ints(op, "dilation", dilation, 2)
    kh, kw, c, mult = kernel.shape
    if c != x.shape[3]:
        raise OpError(f"{op}: kernel {tuple(kernel.shape)} is for {c} channels but x {tuple(x.shape)} "
                      f"has {x.shape[3]} (kernel layout (kh, kw, C, multiplier))")
    _check_bias(op, bias, c * mult)
    pads = _resolve_padding(op, padding, x.shape[1:3], (kh, kw), s, d)
    _out_hw(op, x.shape, pads, (kh, kw), s, d)
    args = (x, kernel) + ((bias,) if bias is not None else ())
    return DepthwiseConv2D(s, pads, d).apply(*args)


# ----------------------------------------------------------------------------- transpose


def _transpose_len(n, k, s, d, padding, output_padding):
    """Keras' ``compute_conv_transpose_output_length`` and the leading crop TensorFlow's
    ``conv2d_backprop_input`` applies to the full (n - 1) * s + k_eff scatter."""
    ke = (k - 1) * d + 1
    if output_padding is None:
        out = n * s if padding == "same" else n * s + max(ke - s, 0)
    else:
        pad = ke // 2 if padding == "same" else 0
        out = (n - 1) * s + ke - 2 * pad + output_padding
    top = _same_pads(out, k, s, d)[0] if padding == "same" else 0
    return out, top


class Conv2DTranspose(Function):
    """The gradient of conv2d w.r.t. its input. Forward, a block of whole images at a time: one
    GEMM x @ K^T for all kh*kw taps, col2im of its columns into the block's full
    (n - 1) * s + k_eff map (in cache), then the crop (or zero extension) to the Keras output size
    with the bias (and the fused ReLU and its mask). Backward: the input gradient is the strided
    conv of dy with the kernel, the kernel gradient im2col(dy)^T @ x; both from one blocked im2col
    of dy (``_im2col_spans``)."""

    def __init__(self, strides, dilation, crops, out_hw, activation=None):
        self.strides, self.dilation, self.crops, self.out_hw = strides, dilation, crops, out_hw
        self.activation = activation

    def forward(self, x, k, b=None):
        xp = self.xp = get_xp(x, k)
        N, h, w, Cin = x.shape
        kh, kw, Cout, _ = k.shape
        (sh, sw), (dh, dw) = self.strides, self.dilation
        Hf, Wf = (h - 1) * sh + (kh - 1) * dh + 1, (w - 1) * sw + (kw - 1) * dw + 1
        (Ho, Wo), (top, left) = self.out_hw, self.crops
        K = kh * kw * Cout
        x2 = x.reshape(N * h * w, Cin)
        k2 = k.reshape(K, Cin)
        kT = xp.ascontiguousarray(k2.T)
        y = xp.empty((N, Ho, Wo, Cout), x.dtype)
        # the rows of y that the full map reaches (top >= 0; the bottom/right may be zero-extended)
        i1, j1 = min(Ho, Hf - top), min(Wo, Wf - left)
        if i1 < Ho:
            y[:, i1:] = 0
        if j1 < Wo:
            y[:, :i1, j1:] = 0
        # the full map by phases: rows r = sh * q + pr of it are rows q of phase pr (columns alike),
        # so that each tap's scatter is a contiguous (h, w * Cout) block of one phase
        phases = [(pr, pc, -(-(Hf - pr) // sh), -(-(Wf - pc) // sw)) for pr in range(sh) for pc in range(sw)]
        itemsize = x.dtype.itemsize
        per_image = (h * w * K + sum(hq * wq for _, _, hq, wq in phases) * Cout) * itemsize
        total = N * per_image
        threads = parallel.num_threads() if xp is np else 1
        par = threads > 1 and total >= _PARALLEL_MIN_BYTES and not parallel.in_region()
        blocks = parallel.chunks(N, max(1, _TRANSPOSE_BLOCK_BYTES // per_image), threads if par else 1)
        nb = max(n1 - n0 for n0, n1 in blocks)
        taps = [(a, c, (a * dh) % sh, (c * dw) % sw, (a * dh) // sh, (c * dw) // sw)
                for a in range(kh) for c in range(kw)]
        relu = self.activation == "relu"
        mask = xp.empty(y.shape, bool) if relu and any(self.needs_input_grad) else None

        def span(b0, b1):
            zbuf = xp.empty((nb * h * w, Cout), x.dtype)
            pbuf = {(pr, pc): xp.empty((nb, hq, wq, Cout), x.dtype) for pr, pc, hq, wq in phases}
            for n0, n1 in blocks[b0:b1]:
                n = n1 - n0
                rows = x2[n0 * h * w:n1 * h * w]
                z = zbuf[:n * h * w]
                started = set()
                for a, c, pr, pc, qa, qc in taps:
                    p = a * kw + c
                    xp.matmul(rows, kT[:, p * Cout:(p + 1) * Cout], out=z)
                    ph = pbuf[pr, pc][:n]
                    tgt = ph[:, qa:qa + h, qc:qc + w]
                    if (pr, pc) in started:
                        tgt += z.reshape(n, h, w, Cout)
                    elif tgt.shape == ph.shape:
                        xp.copyto(tgt, z.reshape(n, h, w, Cout))
                    else:
                        ph.fill(0)
                        tgt += z.reshape(n, h, w, Cout)
                    started.add((pr, pc))
                yb = y[n0:n1]
                for pr, pc, hq, wq in phases:  # y[i, j] = full[i + top, j + left]
                    i0, j0 = (pr - top) % sh, (pc - left) % sw
                    if i0 >= i1 or j0 >= j1:
                        continue
                    src = pbuf[pr, pc][:n] if (pr, pc) in started else None
                    dst = yb[:, i0:i1:sh, j0:j1:sw]
                    if src is None:
                        dst[...] = 0
                    else:
                        q0, r0 = (i0 + top) // sh, (j0 + left) // sw
                        dst[...] = src[:, q0:q0 + dst.shape[1], r0:r0 + dst.shape[2]]
                if b is not None:
                    add_bias_(xp, yb, b)
                if relu:
                    relu_into(xp, yb, yb)
                    if mask is not None:
                        xp.greater(yb, 0, out=mask[n0:n1])

        if par:
            parallel.run(span, parallel.split(len(blocks), threads), gemm=True)
        else:
            span(0, len(blocks))
        self.has_bias = b is not None
        self.mask = mask
        self.x = x if self.needs_input_grad[1] else None
        self.k2 = k2 if self.needs_input_grad[0] else None
        self.geom = (x.shape, k.shape, Hf, Wf)
        return y

    def backward(self, gy):
        xp = self.xp
        x_shape, k_shape, Hf, Wf = self.geom
        N, h, w, Cin = x_shape
        kh, kw, Cout, _ = k_shape
        (sh, sw), (dh, dw) = self.strides, self.dilation
        (Ho, Wo), (top, left) = self.out_hw, self.crops
        dx = dk = db = None
        if self.mask is not None:
            gy = mask_grad(xp, gy, self.mask)
        if self.has_bias and self.needs_input_grad[2]:
            db = colsum(xp, gy.reshape(-1, Cout))
        if self.x is not None or self.k2 is not None:
            # the full map's gradient is gy placed at (top, left): gy padded by (top, Hf - Ho - top),
            # its rows beyond the full map (a zero extension's) cropped
            i1, j1 = min(Ho, Hf - top), min(Wo, Wf - left)
            g = gy[:, :i1, :j1]
            pads = ((top, Hf - top - i1), (left, Wf - left - j1))
            dx = xp.empty(x_shape, gy.dtype) if self.k2 is not None else None
            k2, x = self.k2, self.x

            def work(blk, cols):
                n0, n1, h0, h1 = blk
                if dx is not None:
                    xp.matmul(cols, k2, out=dx[n0:n1, h0:h1].reshape(-1, Cin))
                if x is not None:
                    return _gram(xp, cols, x[n0:n1, h0:h1].reshape(-1, Cin))
                return None

            parts = _im2col_spans(xp, g, pads, kh, kw, sh, sw, dh, dw, h, w, work,
                                  pixel_bytes=Cin * gy.itemsize * ((dx is not None) + (x is not None)))
            if x is not None:
                dk = parallel.sum_parts(parts).reshape(k_shape)
        grads = (dx, dk)
        return grads + (db,) if self.has_bias else grads


def conv2d_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation=1, *,
                     activation=None):
    """Transposed 2-d convolution (as Keras ``Conv2DTranspose``).

    x (N, H, W, Cin); kernel (kh, kw, Cout, Cin); bias (Cout,) or None. The output size is
    Keras' ``deconv_output_length``: without ``output_padding`` H * s ("same") or
    H * s + max(k_eff - s, 0) ("valid"); with it (H - 1) * s + k_eff - 2 * pad + output_padding,
    pad = k_eff // 2 for "same", 0 for "valid". ``activation``: None or "relu", fused into the op.
    """
    op = "conv2d_transpose"
    activation = _fused_activation(op, activation)
    x, kernel, bias = _convert(op, x, kernel, bias)
    _rank(op, "x", x, 4, "(N, H, W, Cin)")
    _rank(op, "kernel", kernel, 4, "(kh, kw, Cout, Cin)")
    s = _ints(op, "strides", strides, 2)
    d = _ints(op, "dilation", dilation, 2)
    kh, kw, cout, cin = kernel.shape
    if cin != x.shape[3]:
        raise OpError(f"{op}: kernel {tuple(kernel.shape)} expects {cin} input channels (layout "
                      f"(kh, kw, Cout, Cin)) but x {tuple(x.shape)} has {x.shape[3]}")
    _check_bias(op, bias, cout)
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise OpError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    padding = padding.lower()
    op_pad = None if output_padding is None else _ints(op, "output_padding", output_padding, 2, minimum=0)
    if op_pad is not None:
        for p, si, di in zip(op_pad, s, d):
            if p >= max(si, di):
                raise OpError(f"{op}: output_padding {output_padding!r} must be smaller than the strides "
                              f"{s} (or the dilation {d})")
    lens = [_transpose_len(n, k, si, di, padding, None if op_pad is None else op_pad[i])
            for i, (n, k, si, di) in enumerate(zip(x.shape[1:3], (kh, kw), s, d))]
    (Ho, top), (Wo, left) = lens
    if Ho < 1 or Wo < 1:
        raise OpError(f"{op}: output size {(Ho, Wo)} for x {tuple(x.shape)}, kernel {tuple(kernel.shape)} "
                      f"is empty")
    args = (x, kernel) + ((bias,) if bias is not None else ())
    return Conv2DTranspose(s, d, (top, left), (Ho, Wo), activation=activation).apply(*args)
