"""Winograd F(2x2, 3x3) convolution (Lavin & Gray, 2015) for 3x3, stride-1, undilated convolutions.

Each 2x2 output tile comes from a 4x4 input tile: ``Y = A^T [(G g G^T) * (B^T d B)] A``. Over all
tiles and channels this is 16 independent GEMMs of (tiles, Cin) @ (Cin, Cout) instead of one GEMM
of (pixels, 9 Cin) @ (9 Cin, Cout): 2.25x fewer multiplications. The input and output transforms
are linear maps of the 16 tile positions, so they run as GEMMs too (a 16x16 and a 4x16 matrix
against the gathered tiles), in BLAS's threads rather than in single-threaded elementwise passes.

The transforms cost memory passes proportional to the activations (about 4x the input and output
sizes), the saving is proportional to activations x channels: it pays for wide layers only
(``worth_it``; the threshold chosen by measurement: benchmarks/README.md).
Relative error against the direct product: about 1e-6 in float32.
"""
from __future__ import annotations

import numpy as np

from .. import parallel

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
# the 2-d transforms of row-major flattened tiles: V = BK d, U = GK g, Y = AK M
_BK, _GK, _AK = np.kron(_BT, _BT), np.kron(_G, _G), np.kron(_AT, _AT)

MIN_CHANNELS = 256  # both Cin and Cout
# a layer's forward (its input gradient keeps the paths chosen for the backward): both at least
# FORWARD_MIN_CHANNELS, Cin * Cout at least FORWARD_MIN_PRODUCT, and images of at least
# FORWARD_MIN_PIXELS outputs (on smaller maps the tiles' padding, the transforms and the many small
# blocks lose on two threads) and at most FORWARD_MAX_TILES 2x2 output tiles (larger images' tile
# data falls out of cache)
FORWARD_MIN_CHANNELS = 32
FORWARD_MIN_PRODUCT = 2048
FORWARD_MIN_PIXELS = 144
FORWARD_MAX_TILES = 1024
# the tile data (input and product tiles) of an image block
_BLOCK_BYTES = 4 << 20
# ... and at least this many tiles (the rows of its 16 GEMMs: fewer make them inefficient)
_MIN_TILES = 256


def worth_it(cin: int, cout: int, forward: bool = False, out_hw=(1, 1)) -> bool:
    """Whether Winograd beats im2col + GEMM for a layer this wide (``forward``: for a layer's
    forward with (Ho, Wo) outputs an image, image blocks in cache against the blocked im2col)."""
    if cin >= MIN_CHANNELS and cout >= MIN_CHANNELS:
        return True
    tiles = -(-out_hw[0] // 2) * -(-out_hw[1] // 2)
    return (forward and min(cin, cout) >= FORWARD_MIN_CHANNELS and cin * cout >= FORWARD_MIN_PRODUCT
            and out_hw[0] * out_hw[1] >= FORWARD_MIN_PIXELS and tiles <= FORWARD_MAX_TILES)


def _mat(xp, m, dtype):
    return xp.asarray(m.astype(dtype))


def _kernel_tiles(xp, kernel, dt):
    """U = G g G^T for every (Cin, Cout) pair of the (3, 3, Cin, Cout) kernel: (16, Cin, Cout)."""
    C, Cout = kernel.shape[2:]
    return (_mat(xp, _GK, dt) @ kernel.reshape(9, C * Cout)).reshape(16, C, Cout)


def _run_blocks(span, blocks, threads):
    """``span(b0, b1)`` over the image blocks, shared out among ``threads`` (their GEMMs
    single-threaded) when there are several; the spans' results in order."""
    if threads > 1 and len(blocks) > 1:
        return parallel.run(span, parallel.split(len(blocks), threads), gemm=True)
    return [span(0, len(blocks))]


def _input_tiles(d, xs, th, tw):
    """d[4a + b] = the (a, b) element of every overlapping 4x4 input tile (stride 2) of xs: (16, n, th, tw, C)."""
    for a in range(4):
        for b in range(4):
            d[4 * a + b] = xs[:, a:a + 2 * th:2, b:b + 2 * tw:2]
    return d


def _image_blocks(xp, N, tiles, C, Cout, dt, block_bytes=None):
    """(blocks of whole images, threads): on NumPy, blocks of about ``block_bytes`` (default
    _BLOCK_BYTES) of tile data (d and v, m and the output transform) and at least _MIN_TILES tiles,
    shared out among the intra-op threads; elsewhere the whole batch as one block."""
    if xp is not np:
        return [(0, N)], 1
    per_image = 16 * tiles * (2 * C + 2 * Cout) * dt.itemsize
    threads = parallel.num_threads() if not parallel.in_region() and N > 1 else 1
    step = max(1, (block_bytes or _BLOCK_BYTES) // per_image, -(-_MIN_TILES // tiles))
    return parallel.chunks(N, step, threads), threads


def conv3x3(xp, xpad, kernel, Ho, Wo, block_bytes=None, epilogue=None):
    """y (N, Ho, Wo, Cout) = the valid 3x3 cross-correlation of the padded input xpad
    (N, >= Ho + 2, >= Wo + 2, Cin) with kernel (3, 3, Cin, Cout), stride 1.

    On NumPy the images run in blocks of about ``block_bytes`` (default _BLOCK_BYTES) of tile
    data, so that the transforms' passes stay in cache, shared out among the intra-op threads.
    ``epilogue((n0, n1, 0, Ho), yb)`` runs on each block's (rows, Cout) output while in cache."""
    N, Hp, Wp, C = xpad.shape
    Cout = kernel.shape[3]
    dt = xpad.dtype
    th, tw = -(-Ho // 2), -(-Wo // 2)  # 2x2 output tiles; odd sizes compute one extra row/column
    need_h, need_w = 2 * th + 2, 2 * tw + 2
    if need_h > Hp or need_w > Wp:
        grown = xp.zeros((N, max(Hp, need_h), max(Wp, need_w), C), dt)
        grown[:, :Hp, :Wp] = xpad
        xpad = grown
    u = _kernel_tiles(xp, kernel, dt)
    bk, ak = _mat(xp, _BK, dt), _mat(xp, _AK, dt)
    y = xp.empty((N, Ho, Wo, Cout), dt)
    blocks, threads = _image_blocks(xp, N, th * tw, C, Cout, dt, block_bytes)

    def span(b0, b1):
        nb = max(n1 - n0 for n0, n1 in blocks[b0:b1])
        d = xp.empty((16, nb, th, tw, C), dt)
        for n0, n1 in blocks[b0:b1]:
            n = n1 - n0
            T = n * th * tw
            dn = _input_tiles(d[:, :n], xpad[n0:n1], th, tw)
            v = (bk @ dn.reshape(16, -1)).reshape(16, T, C)
            m = xp.matmul(v, u)  # (16, T, Cout): 16 GEMMs
            y4 = (ak @ m.reshape(16, -1)).reshape(2, 2, n, th, tw, Cout)
            yb = y[n0:n1]
            for i in range(2):
                for j in range(2):
                    dst = yb[:, i::2, j::2]
                    dst[...] = y4[i, j, :, :dst.shape[1], :dst.shape[2]]
            if epilogue is not None:
                epilogue((n0, n1, 0, Ho), yb.reshape(-1, Cout))

    _run_blocks(span, blocks, threads)
    return y


def conv3x3_grads(xp, dy, padded_shape, xpad=None, kernel=None, block_bytes=None):
    """The gradients of ``y = conv3x3(xpad, kernel, Ho, Wo)`` given dy (N, Ho, Wo, Cout), in the
    Winograd domain: with dM = A dY A^T per output tile, the kernel gradient is
    G^T (sum over tiles of V * dM) G (16 GEMMs (Cin, tiles) @ (tiles, Cout)) and the input
    tiles' gradient B (dM @ U^T) B^T (16 GEMMs (tiles, Cout) @ (Cout, Cin)), added into the
    overlapping 4x4 input tiles. Returns (the gradient w.r.t. xpad, of ``padded_shape``, when
    ``kernel`` is given; the kernel gradient when ``xpad`` is given). Image blocks as ``conv3x3``."""
    need_dx, need_dk = kernel is not None, xpad is not None
    N, Hp, Wp, C = padded_shape
    Ho, Wo, Cout = dy.shape[1:]
    dt = dy.dtype
    th, tw = -(-Ho // 2), -(-Wo // 2)
    Hg, Wg = max(Hp, 2 * th + 2), max(Wp, 2 * tw + 2)
    if need_dk and (Hg > Hp or Wg > Wp):
        grown = xp.zeros((N, Hg, Wg, C), dt)
        grown[:, :Hp, :Wp] = xpad
        xpad = grown
    ut = None  # U^T, contiguous: (16, Cout, Cin) (a transposed view as the second operand is slower)
    if need_dx:
        ut = xp.ascontiguousarray(_kernel_tiles(xp, kernel, dt).transpose(0, 2, 1))
    bk, akt = _mat(xp, _BK, dt), _mat(xp, _AK.T, dt)
    bkt = _mat(xp, _BK.T, dt)
    dxg = xp.zeros((N, Hg, Wg, C), dt) if need_dx else None
    odd = 2 * th != Ho or 2 * tw != Wo
    blocks, threads = _image_blocks(xp, N, th * tw, C, Cout, dt, block_bytes)

    def span(b0, b1):
        nb = max(n1 - n0 for n0, n1 in blocks[b0:b1])
        d = xp.empty((16, nb, th, tw, C), dt) if need_dk else None
        g = (xp.zeros if odd else xp.empty)((4, nb, th, tw, Cout), dt)  # dY's 2x2 tiles (odd: zero-extended)
        acc = None
        for n0, n1 in blocks[b0:b1]:
            n = n1 - n0
            T = n * th * tw
            gn, dyb = g[:, :n], dy[n0:n1]
            for i in range(2):
                for j in range(2):
                    src = dyb[:, i::2, j::2]
                    gn[2 * i + j, :, :src.shape[1], :src.shape[2]] = src
            dm = (akt @ gn.reshape(4, -1)).reshape(16, T, Cout)
            if need_dk:
                dn = _input_tiles(d[:, :n], xpad[n0:n1], th, tw)
                v = (bk @ dn.reshape(16, -1)).reshape(16, T, C)
                part = xp.matmul(v.transpose(0, 2, 1), dm)  # (16, C, Cout)
                if acc is None:
                    acc = part
                else:
                    acc += part
            if need_dx:
                dv = xp.matmul(dm, ut)  # (16, T, C)
                dd = (bkt @ dv.reshape(16, -1)).reshape(16, n, th, tw, C)
                tgt = dxg[n0:n1]
                for a in range(4):
                    for b in range(4):
                        tgt[:, a:a + 2 * th:2, b:b + 2 * tw:2] += dd[4 * a + b]
        return acc

    parts = _run_blocks(span, blocks, threads)
    dk = None
    if need_dk:
        du = parallel.sum_parts(parts)
        dk = (_mat(xp, _GK.T, dt) @ du.reshape(16, C * Cout)).reshape(3, 3, C, Cout)
    dx = None
    if need_dx:
        dx = dxg if (Hg, Wg) == (Hp, Wp) else xp.ascontiguousarray(dxg[:, :Hp, :Wp])
    return dx, dk
