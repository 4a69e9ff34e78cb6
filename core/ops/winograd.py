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

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
# the 2-d transforms of row-major flattened tiles: V = BK d, U = GK g, Y = AK M
_BK, _GK, _AK = np.kron(_BT, _BT), np.kron(_G, _G), np.kron(_AT, _AT)

MIN_CHANNELS = 256  # both Cin and Cout


def worth_it(cin: int, cout: int) -> bool:
    """Whether Winograd beats im2col + GEMM for a layer this wide."""
    return cin >= MIN_CHANNELS and cout >= MIN_CHANNELS


def _mat(xp, m, dtype):
    return xp.asarray(m.astype(dtype))


def conv3x3(xp, xpad, kernel, Ho, Wo):
    """y (N, Ho, Wo, Cout) = the valid 3x3 cross-correlation of the padded input xpad
    (N, >= Ho + 2, >= Wo + 2, Cin) with kernel (3, 3, Cin, Cout), stride 1."""
    N, Hp, Wp, C = xpad.shape
    Cout = kernel.shape[3]
    dt = xpad.dtype
    th, tw = -(-Ho // 2), -(-Wo // 2)  # 2x2 output tiles; odd sizes compute one extra row/column
    need_h, need_w = 2 * th + 2, 2 * tw + 2
    if need_h > Hp or need_w > Wp:
        grown = xp.zeros((N, max(Hp, need_h), max(Wp, need_w), C), dt)
        grown[:, :Hp, :Wp] = xpad
        xpad = grown
    T = N * th * tw
    d = xp.empty((16, N, th, tw, C), dt)  # the 16 positions of every 4x4 input tile (stride 2)
    for a in range(4):
        for b in range(4):
            d[4 * a + b] = xpad[:, a:a + 2 * th:2, b:b + 2 * tw:2]
    v = (_mat(xp, _BK, dt) @ d.reshape(16, -1)).reshape(16, T, C)
    del d
    u = (_mat(xp, _GK, dt) @ kernel.reshape(9, C * Cout)).reshape(16, C, Cout)
    m = xp.matmul(v, u)  # (16, T, Cout): 16 GEMMs
    del v
    y4 = (_mat(xp, _AK, dt) @ m.reshape(16, -1)).reshape(2, 2, N, th, tw, Cout)
    del m
    y = xp.empty((N, 2 * th, 2 * tw, Cout), dt)
    for i in range(2):
        for j in range(2):
            y[:, i::2, j::2] = y4[i, j]
    if 2 * th != Ho or 2 * tw != Wo:
        y = xp.ascontiguousarray(y[:, :Ho, :Wo])
    return y
