"""Winograd F(m x m, 3x3) convolution (Lavin & Gray, 2015) for 3x3, stride-1, undilated convolutions,
with m = 2 or 4.

Each m x m output tile comes from an (m + 2) x (m + 2) input tile: ``Y = A^T [(G g G^T) * (B^T d B)] A``.
Over all tiles and channels this is (m + 2)^2 independent GEMMs of (tiles, Cin) @ (Cin, Cout) instead
of one GEMM of (pixels, 9 Cin) @ (9 Cin, Cout): 2.25x fewer multiplications for F(2x2, 3x3), 4x
for F(4x4, 3x3). The input and output transforms are linear maps of the tile positions, so they run
as GEMMs too (the 1-d transform against one tile axis, then the other), in BLAS rather than in
elementwise passes.

The transforms cost memory passes proportional to the activations (about 4x the input and output
sizes for m = 2, 2.25x for m = 4), the saving is proportional to activations x channels: it pays
for wide layers only (``worth_it``; the thresholds chosen by measurement: benchmarks/README.md).
In float32 the RMS error relative to the output is im2col + GEMM's for m = 2 (2-3e-7) and about 4x
that for m = 4 (its points 0, 1, -1, 1/2, -2 were the most accurate of those tried): its products
cancel more. Hence m = 4 only where ``backend.set_conv_precision`` allows it (by default while
training, never in inference, which matches Keras as the direct product does).
"""
from __future__ import annotations

import functools

import numpy as np

from .. import backend, parallel

# Cook-Toom interpolation points of F(m, 3), the point at infinity implied
_POINTS = {2: (0.0, 1.0, -1.0), 4: (0.0, 1.0, -1.0, 0.5, -2.0)}


@functools.lru_cache(maxsize=None)
def transforms(m: int):
    """The 1-d F(m, 3) matrices (B^T, G, A^T), float64: y = A^T [(G g) * (B^T d)] is the valid
    correlation of the m + 2 inputs d with the 3 taps g. A^T and G from the points; B^T is the
    one matrix that makes the identity hold (solved for; its entries are small dyadic rationals,
    rounded to them and checked)."""
    p = np.array(_POINTS[m])
    n = m + 2
    at = np.zeros((m, n))
    at[:, :n - 1] = p[None, :] ** np.arange(m)[:, None]
    at[m - 1, n - 1] = 1.0
    g = np.zeros((n, 3))
    for j in range(n - 1):
        g[j] = p[j] ** np.arange(3) / np.prod([p[j] - p[i] for i in range(n - 1) if i != j])
    g[n - 1, 2] = 1.0
    # sum_t at[i, t] g[t, k] bt[t, j] = [j == i + k] for every output i and tap k
    lhs = np.einsum("it,tk->ikt", at, g).reshape(3 * m, n)
    rhs = np.zeros((3 * m, n))
    for i in range(m):
        for k in range(3):
            rhs[3 * i + k, i + k] = 1.0
    bt = np.round(np.linalg.lstsq(lhs, rhs, rcond=None)[0] * 1024) / 1024
    if not np.allclose(lhs @ bt, rhs, rtol=0, atol=1e-13):
        raise AssertionError(f"no exact F({m}, 3) input transform for the points {_POINTS[m]}")
    return bt, g, at


@functools.lru_cache(maxsize=None)
def _kernel_transform(m: int):
    """The 2-d kernel transform of row-major flattened 3x3 kernels: U = GK g, ((m + 2)^2, 9)."""
    g = transforms(m)[1]
    return np.kron(g, g)


def _transform_tiles(xp, t, x):
    """kron(t, t) @ x: the 2-d transform ``t X t^T`` of every tile of x (k^2, ...) (row-major
    flattened k x k tiles; t (r, k)), as two GEMMs of (r, k) against one tile axis each: (r^2, ...).
    One Kronecker GEMM does k / 2 times the arithmetic, which costs on each thread's blocks."""
    r, k = t.shape
    rest = x.shape[1:]
    x1 = xp.matmul(t, x.reshape(k, k, -1))  # (k, r, X): the second tile axis
    return xp.matmul(t, x1.reshape(k, -1)).reshape((r * r,) + rest)  # then the first


MIN_CHANNELS = 256  # both Cin and Cout
# a layer's forward (its input gradient keeps the paths chosen for the backward): at most
# FORWARD_MAX_TILES output tiles of ``tile_size`` (larger images' tile data falls out of cache), and
# for 2x2 tiles both at least FORWARD_MIN_CHANNELS, Cin * Cout at least FORWARD_MIN_PRODUCT and
# images of at least FORWARD_MIN_PIXELS outputs (on smaller maps the tiles' padding, the transforms
# and the many small blocks lose on two threads); 4x4 tiles (``tile_size``) win from 32 channels
# on every map they cover about as 2x2 tiles do, 4x4 outputs included
FORWARD_MIN_CHANNELS = 32
FORWARD_MIN_PRODUCT = 2048
FORWARD_MIN_PIXELS = 144
FORWARD_MAX_TILES = 1024
# the tile data (input and product tiles) of an image block
_BLOCK_BYTES = 4 << 20
# ... and at least this many tiles (the rows of its (m + 2)^2 GEMMs: fewer make them inefficient)
_MIN_TILES = 256
# F(4x4, 3x3) for layers with Cin and Cout at least LARGE_TILE_MIN_CHANNELS whose 4x4 tiles cover
# at most LARGE_TILE_MAX_COVER times the outputs that 2x2 tiles cover (9x9 outputs: 144 against 100)
LARGE_TILE_MIN_CHANNELS = 32
LARGE_TILE_MAX_COVER = 1.2


def large_tiles(differentiating: bool) -> bool:
    """Whether F(4x4, 3x3) may run (``backend.set_conv_precision``) in a call that records for
    gradients or not: under "auto", while training (a layer call with training=True, or an op
    called outside layers)."""
    p = backend.conv_precision()
    if p != "auto":
        return p == "high"
    calls = backend.layer_call_stack()
    return differentiating and (not calls or calls[-1] is True)


def worth_it(cin: int, cout: int, forward: bool = False, out_hw=(1, 1), large: bool = False) -> bool:
    """Whether Winograd beats im2col + GEMM for a layer this wide (``forward``: for a layer's
    forward with (Ho, Wo) outputs an image, image blocks in cache against the blocked im2col;
    ``large``: 4x4 tiles allowed)."""
    if cin >= MIN_CHANNELS and cout >= MIN_CHANNELS:
        return True
    if not forward:
        return False
    m = tile_size(cin, cout, out_hw, large)
    if -(-out_hw[0] // m) * -(-out_hw[1] // m) > FORWARD_MAX_TILES:
        return False
    return m == 4 or (min(cin, cout) >= FORWARD_MIN_CHANNELS and cin * cout >= FORWARD_MIN_PRODUCT
                      and out_hw[0] * out_hw[1] >= FORWARD_MIN_PIXELS)


def tile_size(cin: int, cout: int, out_hw, large: bool = False) -> int:
    """m of the F(m x m, 3x3) that runs a layer with (Ho, Wo) outputs an image: with ``large``
    allowed, 4 where Cin and Cout are at least LARGE_TILE_MIN_CHANNELS and the 4x4 tiles cover at
    most LARGE_TILE_MAX_COVER times the outputs that 2x2 tiles cover; else 2."""
    if not large:
        return 2
    Ho, Wo = out_hw
    cover4 = -(-Ho // 4) * -(-Wo // 4) * 16
    cover2 = -(-Ho // 2) * -(-Wo // 2) * 4
    wide = min(cin, cout) >= LARGE_TILE_MIN_CHANNELS
    return 4 if wide and cover4 <= LARGE_TILE_MAX_COVER * cover2 else 2


def _mat(xp, a, dtype):
    return xp.asarray(a.astype(dtype))


def _kernel_tiles(xp, kernel, dt, m):
    """U = G g G^T for every (Cin, Cout) pair of the (3, 3, Cin, Cout) kernel: ((m + 2)^2, Cin, Cout)."""
    C, Cout = kernel.shape[2:]
    gk = _kernel_transform(m)
    return (_mat(xp, gk, dt) @ kernel.reshape(9, C * Cout)).reshape(gk.shape[0], C, Cout)


def _run_blocks(span, blocks, threads):
    """``span(b0, b1)`` over the image blocks, shared out among ``threads`` (their GEMMs
    single-threaded) when there are several; the spans' results in order."""
    if threads > 1 and len(blocks) > 1:
        return parallel.run(span, parallel.split(len(blocks), threads), gemm=True)
    return [span(0, len(blocks))]


def _strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def _input_tiles(xp, d, xs, th, tw, m):
    """d[n a + b] = the (a, b) element of every overlapping n x n input tile (n = m + 2, stride m)
    of xs (images, >= m th + 2, >= m tw + 2, C): (n^2, images, th, tw, C), as one copy of a
    strided view (a copy per tile position makes n^2 short calls, which two threads take turns at)."""
    n = m + 2
    N, _, _, C = xs.shape
    sn, sh, sw, sc = xs.strides
    tiles = _strided(xp, xs, (n, n, N, th, tw, C), (sh, sw, sn, m * sh, m * sw, sc))
    d.reshape(n, n, N, th, tw, C)[...] = tiles  # (splitting the leading axis is always a view)
    return d


def _untile(yb, ym, m):
    """yb (images, Ho, Wo, C) from its m x m output tiles ym (m, m, images, th, tw, C), the last
    ones cropped where m does not divide Ho or Wo."""
    N, Ho, Wo, C = yb.shape
    th, tw = ym.shape[3:5]
    if Ho == m * th and Wo == m * tw:
        yb.reshape(N, th, m, tw, m, C)[...] = ym.transpose(2, 3, 0, 4, 1, 5)
        return
    for i in range(m):
        for j in range(m):
            dst = yb[:, i::m, j::m]
            dst[...] = ym[i, j, :, :dst.shape[1], :dst.shape[2]]


def _tile(g, dyb, m):
    """The m x m output tiles g (m^2, images, th, tw, C) of dyb (images, Ho, Wo, C); where m does
    not divide Ho or Wo the tiles' extra rows and columns are left as they are (zero)."""
    N, Ho, Wo, C = dyb.shape
    th, tw = g.shape[2:4]
    if Ho == m * th and Wo == m * tw:
        g.reshape(m, m, N, th, tw, C)[...] = dyb.reshape(N, th, m, tw, m, C).transpose(2, 4, 0, 1, 3, 5)
        return
    for i in range(m):
        for j in range(m):
            src = dyb[:, i::m, j::m]
            g[m * i + j, :, :src.shape[1], :src.shape[2]] = src


def _add_tiles(xp, tgt, dd, m):
    """tgt (images, >= m th + 2, >= m tw + 2, C) += the overlapping n x n input tiles (n = m + 2,
    stride m) dd (n^2, images, th, tw, C). A tile position a = a0 + m k (a0 < m, k = 0 or 1) lands
    on row m (t + k) + a0, so the positions with one (k, k') cover distinct elements: four adds of
    strided views instead of one per position."""
    n = m + 2
    N, _, _, C = tgt.shape
    th, tw = dd.shape[2:4]
    d6 = dd.reshape(n, n, N, th, tw, C)
    sn, sh, sw, sc = tgt.strides
    for kr, rows in ((0, m), (1, n - m)):
        for kc, cols in ((0, m), (1, n - m)):
            view = _strided(xp, tgt[:, m * kr:, m * kc:], (N, th, rows, tw, cols, C),
                            (sn, m * sh, sh, m * sw, sw, sc))
            view += d6[m * kr:m * kr + rows, m * kc:m * kc + cols].transpose(2, 3, 0, 4, 1, 5)


def _image_blocks(xp, N, tiles, m, C, Cout, dt, block_bytes=None):
    """(blocks of whole images, threads): on NumPy, blocks of about ``block_bytes`` (default
    _BLOCK_BYTES) of tile data (d and v, m and the output transform) and at least _MIN_TILES tiles,
    shared out among the intra-op threads; elsewhere the whole batch as one block. An image whose
    tile data alone fills a block runs alone unless the transformed kernel U is larger still (then
    more tiles a block read U fewer times)."""
    if xp is not np:
        return [(0, N)], 1
    per_image = (m + 2) ** 2 * tiles * (2 * C + 2 * Cout) * dt.itemsize
    block_bytes = block_bytes or _BLOCK_BYTES
    threads = parallel.num_threads() if not parallel.in_region() and N > 1 else 1
    if per_image >= block_bytes and (m + 2) ** 2 * C * Cout * dt.itemsize <= per_image:
        step = 1
    else:
        step = max(1, block_bytes // per_image, -(-_MIN_TILES // tiles))
    return parallel.chunks(N, step, threads), threads


@functools.lru_cache(maxsize=None)
def _constant_position(m):
    """The tile position whose output transform adds it to all m x m outputs (the point 1 in both
    dimensions): a bias added there costs a pass over (tiles, Cout) instead of over the output."""
    at = transforms(m)[2]
    j = int(np.flatnonzero((at == 1).all(axis=0))[0])
    return (m + 2) * j + j


def conv3x3(xp, xpad, kernel, Ho, Wo, block_bytes=None, epilogue=None, m=2, bias=None):
    """y (N, Ho, Wo, Cout) = the valid 3x3 cross-correlation of the padded input xpad
    (N, >= Ho + 2, >= Wo + 2, Cin) with kernel (3, 3, Cin, Cout), stride 1, by F(m x m, 3x3)
    (``m``: 2 or 4), plus ``bias`` (Cout,) if given.

    On NumPy the images run in blocks of about ``block_bytes`` (default _BLOCK_BYTES) of tile
    data, so that the transforms' passes stay in cache, shared out among the intra-op threads.
    ``epilogue((n0, n1, 0, Ho), yb)`` runs on each block's (rows, Cout) output while in cache."""
    N, Hp, Wp, C = xpad.shape
    Cout = kernel.shape[3]
    q = (m + 2) ** 2
    dt = xpad.dtype
    th, tw = -(-Ho // m), -(-Wo // m)  # m x m output tiles; the last ones may reach past Ho, Wo
    need_h, need_w = m * th + 2, m * tw + 2
    if need_h > Hp or need_w > Wp:
        grown = xp.zeros((N, max(Hp, need_h), max(Wp, need_w), C), dt)
        grown[:, :Hp, :Wp] = xpad
        xpad = grown
    u = _kernel_tiles(xp, kernel, dt, m)
    bt, _, at = (_mat(xp, t, dt) for t in transforms(m))
    y = xp.empty((N, Ho, Wo, Cout), dt)
    blocks, threads = _image_blocks(xp, N, th * tw, m, C, Cout, dt, block_bytes)
    ones = _constant_position(m)

    def span(b0, b1):
        nb = max(n1 - n0 for n0, n1 in blocks[b0:b1])
        d = xp.empty((q, nb, th, tw, C), dt)
        for n0, n1 in blocks[b0:b1]:
            n = n1 - n0
            T = n * th * tw
            dn = _input_tiles(xp, d[:, :n], xpad[n0:n1], th, tw, m)
            v = _transform_tiles(xp, bt, dn.reshape(q, -1)).reshape(q, T, C)
            prod = xp.matmul(v, u)  # (q, T, Cout): q GEMMs
            if bias is not None:
                prod[ones] += bias
            yb = y[n0:n1]
            _untile(yb, _transform_tiles(xp, at, prod.reshape(q, -1)).reshape(m, m, n, th, tw, Cout), m)
            if epilogue is not None:
                epilogue((n0, n1, 0, Ho), yb.reshape(-1, Cout))

    _run_blocks(span, blocks, threads)
    return y


def conv3x3_grads(xp, dy, padded_shape, xpad=None, kernel=None, block_bytes=None, m=2):
    """The gradients of ``y = conv3x3(xpad, kernel, Ho, Wo, m=m)`` given dy (N, Ho, Wo, Cout), in
    the Winograd domain: with dM = A dY A^T per output tile, the kernel gradient is
    G^T (sum over tiles of V * dM) G ((m + 2)^2 GEMMs (Cin, tiles) @ (tiles, Cout)) and the input
    tiles' gradient B (dM @ U^T) B^T ((m + 2)^2 GEMMs (tiles, Cout) @ (Cout, Cin)), added into the
    overlapping input tiles. Returns (the gradient w.r.t. xpad, of ``padded_shape``, when
    ``kernel`` is given; the kernel gradient when ``xpad`` is given). Image blocks as ``conv3x3``."""
    need_dx, need_dk = kernel is not None, xpad is not None
    N, Hp, Wp, C = padded_shape
    Ho, Wo, Cout = dy.shape[1:]
    q = (m + 2) ** 2
    dt = dy.dtype
    th, tw = -(-Ho // m), -(-Wo // m)
    Hg, Wg = max(Hp, m * th + 2), max(Wp, m * tw + 2)
    if need_dk and (Hg > Hp or Wg > Wp):
        grown = xp.zeros((N, Hg, Wg, C), dt)
        grown[:, :Hp, :Wp] = xpad
        xpad = grown
    ut = None  # U^T, contiguous: (q, Cout, Cin) (a transposed view as the second operand is slower)
    if need_dx:
        ut = xp.ascontiguousarray(_kernel_tiles(xp, kernel, dt, m).transpose(0, 2, 1))
    bt_, _, at_ = transforms(m)
    bt, a, b = (_mat(xp, np.ascontiguousarray(t), dt) for t in (bt_, at_.T, bt_.T))
    dxg = xp.zeros((N, Hg, Wg, C), dt) if need_dx else None
    ragged = m * th != Ho or m * tw != Wo
    blocks, threads = _image_blocks(xp, N, th * tw, m, C, Cout, dt, block_bytes)

    def span(b0, b1):
        nb = max(n1 - n0 for n0, n1 in blocks[b0:b1])
        d = xp.empty((q, nb, th, tw, C), dt) if need_dk else None
        g = (xp.zeros if ragged else xp.empty)((m * m, nb, th, tw, Cout), dt)  # dY's tiles (ragged: zero-extended)
        acc = None
        for n0, n1 in blocks[b0:b1]:
            n = n1 - n0
            T = n * th * tw
            gn = g[:, :n]
            _tile(gn, dy[n0:n1], m)
            dm = _transform_tiles(xp, a, gn.reshape(m * m, -1)).reshape(q, T, Cout)
            if need_dk:
                dn = _input_tiles(xp, d[:, :n], xpad[n0:n1], th, tw, m)
                v = _transform_tiles(xp, bt, dn.reshape(q, -1)).reshape(q, T, C)
                part = xp.matmul(v.transpose(0, 2, 1), dm)  # (q, C, Cout)
                if acc is None:
                    acc = part
                else:
                    acc += part
            if need_dx:
                dv = xp.matmul(dm, ut)  # (q, T, C)
                _add_tiles(xp, dxg[n0:n1], _transform_tiles(xp, b, dv.reshape(q, -1)).reshape(q, n, th, tw, C), m)
        return acc

    parts = _run_blocks(span, blocks, threads)
    dk = None
    if need_dk:
        du = parallel.sum_parts(parts)
        dk = (_mat(xp, _kernel_transform(m).T, dt) @ du.reshape(q, C * Cout)).reshape(3, 3, C, Cout)
    dx = None
    if need_dx:
        dx = dxg if (Hg, Wg) == (Hp, Wp) else xp.ascontiguousarray(dxg[:, :Hp, :Wp])
    return dx, dk
