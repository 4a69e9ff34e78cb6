"""Scaled dot-product attention as one fused ``Function`` (softmax backward inside).

Layout: query (..., T, D), key (..., S, D), value (..., S, Dv), any leading batch/head axes
that broadcast (e.g. (B, H, T, D) with a key shared over heads as (B, 1, S, D)).
Masks are boolean with True = attend. Masked logits are replaced by a large negative FINITE
value (-1e9, as Keras does), so a row whose keys are all masked gets uniform weights (the
mean of the values) instead of NaN, and no gradient flows to its logits.
"""
from __future__ import annotations

import math

import numpy as np

from .. import parallel
from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, broadcast_shape, sum_to, tensors

_MASKED = -1e9  # Keras' large negative number for float32/float64 logits
# On NumPy, attention over a batch whose weights (B, ..., T, S) exceed this many bytes runs a
# batch chunk at a time, so that the softmax passes read and write cache, not memory (same values,
# bit for bit; the chunk size chosen by measurement: benchmarks/README.md).
_CHUNK_BYTES = 1 << 20


def _ct(xp, a):
    """``a`` with its last two axes swapped, as a C-contiguous array."""
    return xp.ascontiguousarray(xp.swapaxes(a, -1, -2))


class SDPA(Function):
    def __init__(self, scale, keep, drop_mask, keep_prob, return_weights):
        self.scale = scale
        self.keep = keep  # bool array broadcastable to (..., T, S), or None
        self.drop_mask = drop_mask  # 0/1 array of the weights' shape, or None
        self.keep_prob = keep_prob
        self.return_weights = return_weights

    chunks = None  # (b0, b1) slices of the first axis when computed chunk by chunk

    def _plan_chunks(self, xp, q, k, v):
        """Chunks of the first (batch) axis whose attention weights take about _CHUNK_BYTES,
        when q, k, v share their leading shape (no broadcasting) on NumPy; else None."""
        lead = q.shape[:-2]
        if xp is not np or len(lead) < 1 or lead != k.shape[:-2] or lead != v.shape[:-2] or lead[0] < 2:
            return None
        per_item = int(np.prod(lead[1:], dtype=np.int64)) * q.shape[-2] * k.shape[-2] * q.dtype.itemsize
        n = max(1, _CHUNK_BYTES // max(per_item, 1))
        if n >= lead[0]:
            return None
        return parallel.chunks(lead[0], n, parallel.num_threads())

    def _part(self, m, b0, b1):
        """A mask (or dropout mask) for the batch chunk [b0:b1]: sliced when it has that axis."""
        if m is None or m.ndim < len(self.shapes[0]) or m.shape[0] == 1:
            return m
        return m[b0:b1]

    def forward(self, q, k, v):
        xp = self.xp = get_xp(q, k, v)
        t = q.dtype.type
        scale = t(self.scale)
        self.chunks = self._plan_chunks(xp, q, k, v)
        if self.chunks is not None:
            return self._forward_chunked(xp, q, k, v, t, scale)
        # a transposed view as the second operand of a stacked matmul is slower than a
        # contiguous copy of it: k^T is made contiguous (q and v may be views)
        s = q @ _ct(xp, k)
        s *= scale
        if self.keep is not None:
            s = xp.where(self.keep, s, t(_MASKED))
        s -= s.max(axis=-1, keepdims=True)
        w = xp.exp(s, out=s)
        w /= w.sum(axis=-1, keepdims=True)
        wd = w
        if self.drop_mask is not None:
            wd = w * self.drop_mask
            wd *= t(1.0 / self.keep_prob)
        y = wd @ v
        self.shapes = (q.shape, k.shape, v.shape)
        return self._finish(q, k, v, w, wd, y)

    def _finish(self, q, k, v, w, wd, y):
        """Keep what backward needs; the output, with the weights when asked for."""
        if any(self.needs_input_grad):
            self.q = q if self.needs_input_grad[1] else None
            self.k = k if self.needs_input_grad[0] else None
            self.v = v if (self.needs_input_grad[0] or self.needs_input_grad[1]) else None
            self.w = w
            self.wd = wd if self.needs_input_grad[2] else None
        if self.return_weights:
            return y, (w.copy() if any(self.needs_input_grad) else w)
        return y

    def _forward_chunked(self, xp, q, k, v, t, scale):
        """The forward of ``forward``, a batch chunk at a time: each chunk's logits are made,
        soft-maxed and multiplied by v while they are in cache (the same operations per
        element, so the same values as the whole-array path). The chunks run on the intra-op
        threads (``core.parallel``), each thread a contiguous run of them."""
        self.shapes = (q.shape, k.shape, v.shape)
        lead, T, S = q.shape[:-2], q.shape[-2], k.shape[-2]
        w = xp.empty(lead + (T, S), q.dtype)
        wd = w if self.drop_mask is None else xp.empty_like(w)
        y = xp.empty(lead + (T, v.shape[-1]), q.dtype)

        def chunk(b0, b1):
            s = w[b0:b1]
            xp.matmul(q[b0:b1], _ct(xp, k[b0:b1]), out=s)
            s *= scale
            keep = self._part(self.keep, b0, b1)
            if keep is not None:
                xp.copyto(s, t(_MASKED), where=~keep)
            s -= s.max(axis=-1, keepdims=True)
            xp.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            sd = s
            if self.drop_mask is not None:
                sd = wd[b0:b1]
                xp.multiply(s, self._part(self.drop_mask, b0, b1), out=sd)
                sd *= t(1.0 / self.keep_prob)
            xp.matmul(sd, v[b0:b1], out=y[b0:b1])

        self._run_chunks(chunk)
        return self._finish(q, k, v, w, wd, y)

    def _run_chunks(self, chunk):
        """``chunk(b0, b1)`` for every planned chunk, the chunks shared out among the threads."""
        chunks = self.chunks

        def run_span(c0, c1):
            for b0, b1 in chunks[c0:c1]:
                chunk(b0, b1)

        parallel.for_ranges(run_span, len(chunks), 0, gemm=True, min_elements=0)  # chunks: NumPy only

    def _backward_chunked(self, xp, gy, gw, t, scale):
        need = self.needs_input_grad
        gq = xp.empty(self.shapes[0], gy.dtype) if need[0] else None
        gk = xp.empty(self.shapes[1], gy.dtype) if need[1] else None
        gv = xp.empty(self.shapes[2], gy.dtype) if need[2] else None

        def chunk(b0, b1):
            g = gy[b0:b1]
            if need[2]:
                xp.matmul(xp.swapaxes(self.wd[b0:b1], -1, -2), g, out=gv[b0:b1])
            if need[0] or need[1]:
                dw = g @ _ct(xp, self.v[b0:b1])
                if self.drop_mask is not None:
                    dw *= self._part(self.drop_mask, b0, b1)
                    dw *= t(1.0 / self.keep_prob)
                if gw is not None:
                    dw += gw[b0:b1]
                w = self.w[b0:b1]
                dw -= xp.einsum("...ij,...ij->...i", dw, w)[..., None]
                dw *= w
                keep = self._part(self.keep, b0, b1)
                if keep is not None:
                    xp.copyto(dw, t(0), where=~keep)
                dw *= scale
                if need[0]:
                    xp.matmul(dw, self.k[b0:b1], out=gq[b0:b1])
                if need[1]:
                    xp.matmul(xp.swapaxes(dw, -1, -2), self.q[b0:b1], out=gk[b0:b1])

        self._run_chunks(chunk)
        return gq, gk, gv

    def backward(self, gy, gw=None):
        xp = self.xp
        sq, sk, sv = self.shapes
        t = gy.dtype.type
        scale = t(self.scale)
        if self.chunks is not None:
            return self._backward_chunked(xp, gy, gw, t, scale)
        gq = gk = gv = None
        if self.needs_input_grad[2]:
            gv = sum_to(xp, xp.swapaxes(self.wd, -1, -2) @ gy, sv)
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            dw = gy @ _ct(xp, self.v)  # grad of the (dropped-out) weights
            if self.drop_mask is not None:
                dw *= self.drop_mask
                dw *= t(1.0 / self.keep_prob)
            if gw is not None:
                dw = dw + gw
            w = self.w
            # softmax backward in place on dw (a fresh array): ds = w * (dw - rowsum(dw * w))
            if dw.base is not None or not dw.flags.writeable:
                dw = dw.copy()
            dw -= xp.einsum("...ij,...ij->...i", dw, w)[..., None]
            dw *= w
            ds = dw
            if self.keep is not None:
                ds = xp.where(self.keep, ds, t(0))  # masked logits are constants
            ds *= scale
            if self.needs_input_grad[0]:
                gq = sum_to(xp, ds @ self.k, sq)
            if self.needs_input_grad[1]:
                gk = sum_to(xp, xp.swapaxes(ds, -1, -2) @ self.q, sk)
        return gq, gk, gv


def _bool_mask(op, name, m, xp):
    m = m.data if isinstance(m, Tensor) else m
    m = xp.asarray(m)
    if m.dtype != bool:
        if m.dtype.kind not in "biu":
            raise OpError(f"{op}: {name} must be boolean (True = attend), got dtype {m.dtype}")
        m = m != 0
    return m


def scaled_dot_product_attention(query, key, value, key_padding_mask=None, attn_mask=None, causal=False,
                                 scale=None, dropout_rate=0.0, training=False, return_weights=False):
    """softmax(query @ key^T * scale + mask) @ value, fused forward and backward.

    query (..., T, D), key (..., S, D), value (..., S, Dv); leading axes broadcast.
    key_padding_mask: bool (B, S), True = a real key, with B the first axis (broadcast over
    heads and queries, i.e. (B, 1, ..., 1, S)). attn_mask: bool broadcastable to (..., T, S),
    True = attend. causal: query i attends keys j <= i (top-left aligned when T != S, as
    torch's ``is_causal`` and Keras' causal mask). scale: default 1/sqrt(D).
    Masked logits are set to -1e9 (finite): a fully masked row gets uniform weights, not NaN.
    dropout_rate > 0 with training=True drops attention weights (inverted dropout, drawn from
    ``core.random``). Returns the output (..., T, Dv), or (output, weights (..., T, S)) when
    return_weights; the weights returned are before dropout, as Keras returns them.
    """
    op = "scaled_dot_product_attention"
    q, k, v = tensors(op, query, key, value)
    for name, t_ in (("query", q), ("key", k), ("value", v)):
        if t_.ndim < 2:
            raise OpError(f"{op}: {name} must have rank >= 2 (..., length, features), got shape {tuple(t_.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise OpError(f"{op}: query and key feature sizes differ: query {tuple(q.shape)}, key {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise OpError(f"{op}: key and value lengths differ: key {tuple(k.shape)}, value {tuple(v.shape)}")
    lead = broadcast_shape(op, q.shape[:-2], k.shape[:-2], v.shape[:-2])
    T, S, D = q.shape[-2], k.shape[-2], q.shape[-1]
    nd = len(lead) + 2
    xp = get_xp(q.data)
    if not isinstance(causal, bool):
        raise OpError(f"{op}: causal must be True or False, got {causal!r}")

    keep = None
    if key_padding_mask is not None:
        kpm = _bool_mask(op, "key_padding_mask", key_padding_mask, xp)
        if nd < 3 or kpm.ndim != 2 or kpm.shape[1] != S or kpm.shape[0] not in (1, lead[0]):
            raise OpError(f"{op}: key_padding_mask must have shape (B, S) = {(lead[0] if nd >= 3 else None, S)} "
                          f"for query {tuple(q.shape)} and key {tuple(k.shape)}, got shape {tuple(kpm.shape)}")
        keep = kpm.reshape((kpm.shape[0],) + (1,) * (nd - 2) + (S,))
    if attn_mask is not None:
        am = _bool_mask(op, "attn_mask", attn_mask, xp)
        try:
            shape = broadcast_shape(op, am.shape, lead + (T, S))
        except OpError:
            shape = None
        if shape != tuple(lead) + (T, S):
            raise OpError(f"{op}: attn_mask of shape {tuple(am.shape)} does not broadcast to the logits' "
                          f"shape {tuple(lead) + (T, S)}")
        keep = am if keep is None else keep & am
    if causal:
        tri = xp.tril(xp.ones((T, S), dtype=bool))
        keep = tri if keep is None else keep & tri

    if scale is None:
        scale = 1.0 / math.sqrt(D)
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise OpError(f"{op}: scale must be a number or None, got {scale!r}") from None

    rate = float(dropout_rate)
    if not 0.0 <= rate < 1.0:
        raise OpError(f"{op}: dropout_rate must be in [0, 1), got {dropout_rate!r}")
    drop = None
    if training and rate > 0.0:
        from .. import random as _random

        drop = _random.bernoulli_mask(tuple(lead) + (T, S), 1.0 - rate, dtype=q.dtype, xp=xp)
    fn = SDPA(scale, keep, drop, 1.0 - rate, bool(return_weights))
    return fn.apply(q, k, v)
