"""Keras's Fourier ops on (real, imaginary) pairs of real tensors (``keras.ops.fft``, ``fft2``,
``ifft2``, ``rfft``, ``irfft``, ``stft``): complex numbers never leave NumPy's FFT, each op's
backward is the adjoint of its linear map (one more FFT)."""
from __future__ import annotations

import numpy as np

from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError
from .math import floats, to_float


def _pair(op, x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise OpError(f"{op}: x must be a (real, imaginary) pair of tensors, got {type(x).__name__}")
    re, im = floats(op, x[0], x[1])
    if re.shape != im.shape:
        raise OpError(f"{op}: real {re.shape} and imaginary {im.shape} parts must have one shape")
    return re, im


class _ComplexFFT(Function):
    """(re, im) -> parts of ``fft(re + i im)`` over ``axes``; backward: the adjoint, n * ifft."""

    def __init__(self, axes, inverse):
        self.axes, self.inverse = axes, inverse

    def forward(self, re, im):
        xp = get_xp(re, im)
        self.xp, self.dtype = xp, re.dtype
        z = re + 1j * im
        y = xp.fft.ifftn(z, axes=self.axes) if self.inverse else xp.fft.fftn(z, axes=self.axes)
        self.n = int(np.prod([re.shape[a] for a in self.axes]))
        return y.real.astype(re.dtype), y.imag.astype(re.dtype)

    def backward(self, gre, gim):
        xp = self.xp
        g = (gre if gre is not None else 0) + 1j * (gim if gim is not None else 0)
        g = xp.broadcast_to(xp.asarray(g), self.output_meta[0][0])
        # adjoint of fftn is n * ifftn; of ifftn, fftn / n
        x = xp.fft.fftn(g, axes=self.axes) / self.n if self.inverse else xp.fft.ifftn(g, axes=self.axes) * self.n
        return x.real.astype(self.dtype), x.imag.astype(self.dtype)


def fft(x):
    """The FFT over the last axis of ``x`` = (real, imaginary); returns the (real, imaginary) parts."""
    re, im = _pair("fft", x)
    return _ComplexFFT((-1,), False).apply(re, im)


def fft2(x):
    """The 2-D FFT over the last two axes of ``x`` = (real, imaginary)."""
    re, im = _pair("fft2", x)
    return _ComplexFFT((-2, -1), False).apply(re, im)


def ifft2(x):
    """The inverse 2-D FFT over the last two axes of ``x`` = (real, imaginary)."""
    re, im = _pair("ifft2", x)
    return _ComplexFFT((-2, -1), True).apply(re, im)


class _RFFT(Function):
    def __init__(self, n):
        self.n = n

    def forward(self, x):
        xp = get_xp(x)
        self.xp, self.in_len, self.dtype = xp, x.shape[-1], x.dtype
        y = xp.fft.rfft(x, n=self.n, axis=-1)
        return y.real.astype(x.dtype), y.imag.astype(x.dtype)

    def backward(self, gre, gim):
        xp = self.xp
        g = (gre if gre is not None else 0) + 1j * (gim if gim is not None else 0)
        g = xp.broadcast_to(xp.asarray(g), self.output_meta[0][0])
        full = xp.zeros(g.shape[:-1] + (self.n,), complex)
        full[..., :g.shape[-1]] = g
        gx = (xp.fft.ifft(full, axis=-1) * self.n).real  # the adjoint of the first n//2+1 DFT rows
        out = xp.zeros(g.shape[:-1] + (self.in_len,), self.dtype)
        m = min(self.in_len, self.n)
        out[..., :m] = gx[..., :m]  # rfft crops or zero-pads the input to n
        return out


def rfft(x, fft_length=None):
    """The FFT of the real ``x`` over its last axis (cropped or zero-padded to ``fft_length``):
    the (real, imaginary) parts of its fft_length // 2 + 1 non-negative frequencies."""
    t = to_float("rfft", x)
    n = t.shape[-1] if fft_length is None else int(fft_length)
    return _RFFT(n).apply(t)


class _IRFFT(Function):
    def __init__(self, n):
        self.n = n

    def forward(self, re, im):
        xp = get_xp(re, im)
        self.xp, self.dtype, self.m = xp, re.dtype, re.shape[-1]
        return xp.fft.irfft(re + 1j * im, n=self.n, axis=-1).astype(re.dtype)

    def backward(self, g):
        xp = self.xp
        y = xp.fft.rfft(g, axis=-1)  # n // 2 + 1 bins
        c = xp.full(y.shape[-1], 2.0)
        c[0] = 1.0
        if self.n % 2 == 0:
            c[-1] = 1.0
        y = y * c / self.n
        out = xp.zeros(g.shape[:-1] + (self.m,), complex)
        k = min(self.m, y.shape[-1])
        out[..., :k] = y[..., :k]  # irfft crops or zero-pads the spectrum to n // 2 + 1
        return out.real.astype(self.dtype), out.imag.astype(self.dtype)


def irfft(x, fft_length=None):
    """The real signal of length ``fft_length`` (default 2 * (bins - 1)) whose rfft is ``x`` =
    (real, imaginary)."""
    re, im = _pair("irfft", x)
    n = 2 * (re.shape[-1] - 1) if fft_length is None else int(fft_length)
    return _IRFFT(n).apply(re, im)


def _window(window, length, dtype):
    if window is None:
        return np.ones(length, dtype)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise OpError(f'stft: window must be "hann", "hamming", a tensor or None, got {window!r}')
        a = 0.5 if window == "hann" else 0.54
        k = np.arange(length)
        return (a - (1 - a) * np.cos(2 * np.pi * k / length)).astype(dtype)  # periodic, as scipy's get_window
    w = np.asarray(window.numpy() if isinstance(window, Tensor) else window, dtype)
    if w.shape != (length,):
        raise OpError(f"stft: the window must have shape ({length},), got {w.shape}")
    return w


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform over the last axis, as Keras ``ops.stft``: frames of
    ``fft_length`` every ``sequence_stride`` (the signal reflect-padded by fft_length // 2 when
    ``center``), the window of ``sequence_length`` centred in each; returns the (real, imaginary)
    parts, (..., frames, fft_length // 2 + 1). Differentiable."""
    from .arrays import extract_sequences
    from .elementwise import mul
    from .shape import pad

    t = to_float("stft", x)
    L, S, N = int(sequence_length), int(sequence_stride), int(fft_length)
    if N < L:
        raise OpError(f"stft: fft_length ({N}) must be at least sequence_length ({L})")
    if center:
        t = pad(t, ((0, 0),) * (t.ndim - 1) + ((N // 2, N // 2),), mode="reflect")
    left = (N - L) // 2
    win = np.zeros(N, t.dtype)
    win[left:left + L] = _window(window, L, t.dtype)
    frames = mul(extract_sequences(t, N, S), Tensor(win))
    return rfft(frames, N)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of ``stft`` as Keras on TensorFlow (``tf.signal.inverse_stft``): each frame's
    irfft cropped to the window, weighted by the window over the sum of the overlapping squared
    windows, overlap-added; the ``center`` padding trimmed (to ``length`` when given).
    Differentiable."""
    from .arrays import moveaxis
    from .elementwise import mul
    from .indexing import scatter
    from .shape import getitem, reshape

    re, im = _pair("istft", x)
    L, S, N = int(sequence_length), int(sequence_stride), int(fft_length)
    frames = getitem(irfft((re, im), N), (Ellipsis, slice(0, N)))  # (..., F, N)
    if window is not None:
        left = (N - L) // 2
        fwd = np.zeros(N, np.float64)
        fwd[left:left + L] = _window(window, L, np.float64)
        overlaps = -(-N // S)
        sq = np.zeros(overlaps * S)
        sq[:N] = fwd ** 2
        denom = np.tile(sq.reshape(overlaps, S).sum(0), overlaps)[:N]
        frames = mul(frames, Tensor((fwd / denom).astype(re.dtype)))
    count = frames.shape[-2]
    total = (count - 1) * S + N
    lead = tuple(frames.shape[:-2])
    flat = reshape(moveaxis(reshape(frames, lead + (count * N,)), -1, 0), (count * N,) + lead)
    idx = (np.arange(count)[:, None] * S + np.arange(N)).reshape(-1, 1)
    out = moveaxis(scatter(idx, flat, (total,) + lead), 0, -1)
    start = N // 2 if center else 0
    if length is not None:
        end = start + int(length)
    else:
        end = total - N // 2 if center else total
    return getitem(out, (Ellipsis, slice(start, end)))
