"""A stride-1 2-d convolution (bias, optional ReLU) and the 2x2 / stride-2 max pooling after it,
as one op: Sequential and Functional models run ``Conv2D`` followed by ``MaxPooling2D((2, 2))``
through it (``core/models/layer_fusion.py``).

The unfused pair writes the whole convolution output (and the ReLU's mask) to memory and reads
it back to pool it; backward writes the pooled gradient spread over the whole output, then reads
it again with the mask for the kernel gradient. Here the convolution runs a few images at a time,
each block's GEMM output pooled while in cache; only the pooled values and the 2-bit arg-max
codes are kept. The block's im2col rows are ordered by window position first (all top-left
pixels of the 2x2 windows, then all top-right, ...), so that the pooling and its backward work
on four contiguous quarters of the GEMM output, and the row and column a 2x2 pooling of an odd
size leaves out are never computed. The bias and ReLU go on the pooled values:
relu(max(a) + b) = max(relu(a + b)) exactly (rounding is monotonic), so the outputs equal the
unfused pair's bit for bit where the GEMMs round alike. Backward spreads the pooled gradient
into each block's convolution gradient in cache and accumulates the kernel gradient from the
block's im2col; the convolution gradient is written whole only when the input gradient needs
it. Where the ReLU's input is not positive the gradient is zero either way, so ties between
non-positive values (which the unfused pair breaks among the ReLU's zeros) do not change it.
"""
from __future__ import annotations

import numpy as np

from .. import parallel
from ..autodiff import Function
from ..backend import get_xp
from .activations import add_bias_, colsum, relu_into
from .conv import (_check_bias, _convert, _dx_taps, _dx_transposed, _fill_cols, _fused_activation, _gram,
                   _is_zero, _out_hw, _pad_adjoint, _padded_rows, _rank, _resolve_padding, _TAP_COPY_MAX_C,
                   _use_transposed_dx, _windows)
from .pooling import _max4
from ._util import OpError

# Images per block: about this many bytes of im2col or of convolution output (the larger); the
# blocks are shared out among the intra-op threads (the size chosen by measurement:
# benchmarks/README.md).
_BLOCK_BYTES = 3 << 20
# A block holds whole images: layer fusion leaves alone images whose im2col is larger than this
# (VGG16's 224x224x64 layers), which the plain convolution runs in row bands
MAX_IMAGE_BYTES = 6 << 20
# an im2col of at most this many bytes for the whole batch (a first layer's: few input channels)
# is kept from forward for the kernel gradient instead of being rebuilt
_KEEP_COLS_BYTES = 4 << 20


def image_bytes(out_hw, kernel_shape, itemsize):
    """What one block of ``ConvMaxPool2D`` holds per image: its im2col or its convolution output
    (the larger) at the pooled positions, for the convolution's output size ``out_hw``."""
    kh, kw, C, Cout = kernel_shape
    return 4 * (out_hw[0] // 2) * (out_hw[1] // 2) * max(kh * kw * C, Cout) * itemsize


class ConvMaxPool2D(Function):
    def __init__(self, pads, relu):
        self.pads, self.relu = pads, relu

    def _blocks(self, N, per_image):
        n = max(1, _BLOCK_BYTES // max(per_image, 1))
        return parallel.chunks(N, n, parallel.num_threads() if self.xp is np else 1)

    def _spans(self, blocks, span):
        """``span(b0, b1)`` over the blocks, shared out among the intra-op threads (their GEMMs
        single-threaded); returns the spans' results in order."""
        if self.xp is not np:
            return [span(0, len(blocks))]
        return parallel.run(span, parallel.split(len(blocks), parallel.parts_for(len(blocks))), gemm=True)

    def _cols(self, x, n0, n1, cols, pbuf):
        """The im2col of images [n0, n1) at the pooled positions, written into the flat buffer
        ``cols``: rows in (window position p, image, pooled row, pooled column) order, p = 0..3
        the top-left, top-right, bottom-left and bottom-right pixel of each 2x2 window."""
        xp, kh, kw, Hq, Wq = self.xp, self.kh, self.kw, self.Hq, self.Wq
        C = x.shape[3]
        src = _padded_rows(xp, x, self.pads, n0, n1, 0, pbuf.shape[1], pbuf) if pbuf is not None else x[n0:n1]
        out = cols[:4 * (n1 - n0) * Hq * Wq * kh * kw * C].reshape(2, 2, n1 - n0, Hq, Wq, kh, kw, C)
        # window position (i, j): the stride-2 im2col of the input from (i, j), copied from one
        # view of the (kh + 1, kw + 1) windows at stride 2 (or, one channel, per kernel tap)
        win = None if C <= _TAP_COPY_MAX_C else _windows(xp, src, kh + 1, kw + 1, 2, 2, 1, 1, Hq, Wq)
        for i in range(2):
            for j in range(2):
                w = None if win is None else win[:, :, :, i:i + kh, j:j + kw]
                _fill_cols(xp, out[i, j], src[:, i:, j:], w, Hq, kh, kw, 2, 2, 1, 1, Wq)
        return out.reshape(-1, kh * kw * C)

    def _buffers(self, x, nmax):
        xp = self.xp
        N, H, W, C = x.shape
        cols = xp.empty(4 * nmax * self.Hq * self.Wq * self.kh * self.kw * C, x.dtype)
        pbuf = None
        if not _is_zero(self.pads):
            (t, b), (l, r) = self.pads
            pbuf = xp.zeros((nmax, H + t + b, W + l + r, C), x.dtype)
        return cols, pbuf

    def forward(self, x, k, b=None):
        xp = self.xp = get_xp(x, k)
        N, H, W, C = x.shape
        kh, kw, _, Cout = k.shape
        self.kh, self.kw = kh, kw
        (t, bt), (l, r) = self.pads
        self.Ho, self.Wo = Ho, Wo = H + t + bt - kh + 1, W + l + r - kw + 1
        self.Hq, self.Wq = Hq, Wq = Ho // 2, Wo // 2
        k2 = k.reshape(kh * kw * C, Cout)
        need = any(self.needs_input_grad)
        y = xp.empty((N, Hq, Wq, Cout), x.dtype)
        code = xp.empty((N, Hq, Wq, Cout), xp.uint8) if need else None
        blocks = self._blocks(N, image_bytes((Ho, Wo), k.shape, x.dtype.itemsize))
        nmax = max(n1 - n0 for n0, n1 in blocks)
        per = 4 * Hq * Wq * kh * kw * C  # im2col elements per image
        keep = self.needs_input_grad[1] and N * per * x.dtype.itemsize <= _KEEP_COLS_BYTES
        self.kept = kept = xp.empty(N * per, x.dtype) if keep else None

        def span(b0, b1):
            cols, pbuf = self._buffers(x, nmax)
            out = xp.empty(4 * nmax * Hq * Wq * Cout, x.dtype)
            for n0, n1 in blocks[b0:b1]:
                m = (n1 - n0) * Hq * Wq
                o = out[:4 * m * Cout].reshape(4, m, Cout)
                c = self._cols(x, n0, n1, cols if kept is None else kept[n0 * per:], pbuf)
                xp.matmul(c, k2, out=o.reshape(4 * m, Cout))
                _max4(xp, o[0], o[1], o[2], o[3], y[n0:n1].reshape(m, Cout),
                      None if code is None else code[n0:n1].reshape(m, Cout))

        self._spans(blocks, span)
        if b is not None:
            add_bias_(xp, y, b)
        if self.relu:
            relu_into(xp, y, y)
        self.has_bias = b is not None
        if need:
            self.x, self.k2, self.code, self.blocks = x, k2, code, blocks
            self.y = y if self.relu else None  # (the ReLU's mask is y > 0)
        return y

    def backward(self, gy):
        xp = self.xp
        x, k2, code, blocks = self.x, self.k2, self.code, self.blocks
        N, H, W, C = x.shape
        Ho, Wo, Hq, Wq, kh, kw = self.Ho, self.Wo, self.Hq, self.Wq, self.kh, self.kw
        Cout = k2.shape[1]
        g = gy * (self.y > 0) if self.relu else gy
        need_x, need_k = self.needs_input_grad[0], self.needs_input_grad[1]
        # the convolution's gradient for the input gradient, without the row and column the
        # pooling left out (their gradient is zero)
        dconv = xp.empty((N, 2 * Hq, 2 * Wq, Cout), gy.dtype) if need_x else None
        nmax = max(n1 - n0 for n0, n1 in blocks)
        per = 4 * Hq * Wq * kh * kw * C

        def span(b0, b1):
            cols, pbuf = self._buffers(x, nmax) if need_k and self.kept is None else (None, None)
            buf = xp.empty(4 * nmax * Hq * Wq * Cout, gy.dtype)
            acc = None
            for n0, n1 in blocks[b0:b1]:
                nb = n1 - n0
                m = nb * Hq * Wq
                d = buf[:4 * m * Cout].reshape(4, m, Cout)  # in the im2col's row order
                gb, cb = g[n0:n1].reshape(m, Cout), code[n0:n1].reshape(m, Cout)
                for p in range(4):
                    xp.multiply(gb, cb == p, out=d[p])
                if need_x:
                    d6 = dconv[n0:n1].reshape(nb, Hq, 2, Wq, 2, Cout)
                    for p in range(4):
                        d6[:, :, p >> 1, :, p & 1] = d[p].reshape(nb, Hq, Wq, Cout)
                if need_k:
                    if self.kept is None:
                        c = self._cols(x, n0, n1, cols, pbuf)
                    else:
                        c = self.kept[n0 * per:n1 * per].reshape(-1, kh * kw * C)
                    part = _gram(xp, c, d.reshape(4 * m, Cout))
                    acc = part if acc is None else acc + part
            return acc

        parts = [p for p in self._spans(blocks, span) if p is not None] if need_x or need_k else []
        dk = parallel.sum_parts(parts).reshape(kh, kw, C, Cout) if need_k else None
        dx = None
        if need_x:
            k4 = k2.reshape(kh, kw, C, Cout)
            if (Ho, Wo) == (2 * Hq, 2 * Wq) and _use_transposed_dx(self.pads, kh, kw, (1, 1), (1, 1), H, W, Ho, Wo):
                dx = _dx_transposed(xp, dconv, k4, self.pads, H, W)
            else:
                dpad = _dx_taps(xp, dconv, k2, (N, H + sum(self.pads[0]), W + sum(self.pads[1]), C),
                                kh, kw, 1, 1, 1, 1)
                dx = _pad_adjoint(xp, dpad, self.pads, (N, H, W, C))
        grads = (dx, dk)
        if self.has_bias:
            grads += (colsum(xp, g.reshape(-1, Cout)) if self.needs_input_grad[2] else None,)
        return grads


def conv2d_max_pool2d(x, kernel, bias=None, padding="valid", *, activation=None):
    """``max_pool2d(conv2d(x, kernel, bias, padding=padding, activation=activation), 2)`` as one
    op (see the module docstring): a stride-1, dilation-1, ungrouped convolution, then 2x2 max
    pooling with stride 2 and "valid" padding (an odd last row or column is left out).

    x (N, H, W, Cin); kernel (kh, kw, Cin, Cout); bias (Cout,) or None; ``activation`` None or
    "relu". Returns (N, Ho // 2, Wo // 2, Cout) for the convolution's (Ho, Wo)."""
    op = "conv2d_max_pool2d"
    activation = _fused_activation(op, activation)
    x, kernel, bias = _convert(op, x, kernel, bias)
    _rank(op, "x", x, 4, "(N, H, W, Cin)")
    _rank(op, "kernel", kernel, 4, "(kh, kw, Cin, Cout)")
    kh, kw, cin, cout = kernel.shape
    if cin != x.shape[3]:
        raise OpError(f"{op}: kernel {tuple(kernel.shape)} expects {cin} input channels but x "
                      f"{tuple(x.shape)} has {x.shape[3]}")
    _check_bias(op, bias, cout)
    pads = _resolve_padding(op, padding, x.shape[1:3], (kh, kw), (1, 1), (1, 1))
    Ho, Wo = _out_hw(op, x.shape, pads, (kh, kw), (1, 1), (1, 1))
    if Ho < 2 or Wo < 2:
        raise OpError(f"{op}: the convolution's output {(Ho, Wo)} is smaller than the 2x2 pooling window "
                      f"(x {tuple(x.shape)}, kernel {tuple(kernel.shape)}, padding {padding!r})")
    args = (x, kernel) + ((bias,) if bias is not None else ())
    return ConvMaxPool2D(pads, activation == "relu").apply(*args)
