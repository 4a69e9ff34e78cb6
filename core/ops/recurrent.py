"""Recurrent layers over whole sequences: ``lstm``, ``gru`` and ``simple_rnn`` (Keras 3 semantics).

Each recurrence is ONE ``Function``: the input projection of all time steps is one matmul,
each step does one matmul with the recurrent kernel (two for GRU with ``reset_after=False``),
the per-step gate activations are stored, and backward runs one loop over the steps
backwards, then forms dx, dKernel and dRecurrentKernel by one matmul each over all steps.

Layout conventions (Keras): x (N, T, F); kernel (F, G*u); recurrent_kernel (u, G*u); gate
order i, f, c, o for LSTM and z, r, h for GRU. ``mask`` (N, T) bool, True = a real step: a
masked step leaves the state unchanged and its sequence output is the carried (previous)
output, as Keras 3 does (zeros only before the first real step, from the zero initial state).
``go_backwards`` processes time reversed and returns the sequence in that reversed order.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import parallel
from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, tensors

# ----------------------------------------------------------------------------- activations
# Forward IN PLACE on a buffer view (no per-step allocations), and the derivative written in
# terms of the activation's OUTPUT y, so nothing but the gates has to be stored. Python
# scalars only, so float32 stays float32.


def _sigmoid(xp, x):
    x *= 0.5  # 0.5 * (1 + tanh(x/2)): stable for any x, no overflow warnings
    xp.tanh(x, out=x)
    x += 1
    x *= 0.5


def _d_sigmoid(xp, y):
    return y * (1 - y)


def _tanh(xp, x):
    xp.tanh(x, out=x)


def _d_tanh(xp, y):
    return 1 - y * y


def _relu(xp, x):
    xp.maximum(x, 0, out=x)


def _d_relu(xp, y):
    return (y > 0).astype(y.dtype)


def _hard_sigmoid(xp, x):  # Keras 3: relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)
    x *= 1 / 6
    x += 0.5
    xp.clip(x, 0, 1, out=x)


def _d_hard_sigmoid(xp, y):
    return ((y > 0) & (y < 1)).astype(y.dtype) * (1 / 6)


def _linear(xp, x):
    pass


def _d_linear(xp, y):
    return xp.ones_like(y)


_ACTIVATIONS = {
    "tanh": (_tanh, _d_tanh),
    "sigmoid": (_sigmoid, _d_sigmoid),
    "relu": (_relu, _d_relu),
    "hard_sigmoid": (_hard_sigmoid, _d_hard_sigmoid),
    "linear": (_linear, _d_linear),
}


def _activation(op, name, value):
    if value is None:
        value = "linear"
    if not isinstance(value, str) or value not in _ACTIVATIONS:
        raise OpError(f"{op}: {name} must be one of {sorted(_ACTIVATIONS)}, got {value!r}")
    return _ACTIVATIONS[value]


# ----------------------------------------------------------------------------- argument checks


def _mask_array(op, mask, x):
    """The mask as a bool (N, T) array on x's device, or None."""
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else mask
    xp = get_xp(x.data)
    m = xp.asarray(m)
    N, T = x.shape[0], x.shape[1]
    if m.shape != (N, T):
        raise OpError(f"{op}: mask must have shape (N, T) = {(N, T)} for x of shape {tuple(x.shape)}, "
                      f"got shape {tuple(m.shape)}")
    if m.dtype != bool:
        if m.dtype.kind not in "biu":
            raise OpError(f"{op}: mask must be boolean (True = real step), got dtype {m.dtype}")
        m = m != 0
    return m


def _initial_states(op, initial_state, n):
    """initial_state as a list of n items (or None)."""
    if initial_state is None:
        return None
    if n == 1 and not isinstance(initial_state, (list, tuple)):
        return [initial_state]
    if not isinstance(initial_state, (list, tuple)) or len(initial_state) != n:
        what = "(h0, c0)" if n == 2 else "h0 or [h0]"
        raise OpError(f"{op}: initial_state must be {what}, got {type(initial_state).__name__}"
                      + (f" of length {len(initial_state)}" if isinstance(initial_state, (list, tuple)) else ""))
    return list(initial_state)


def _prepare(op, x, kernel, recurrent_kernel, bias, states, gates, bias_shapes):
    """Convert and check the arguments; returns (tensors, units, has_bias, has_states)."""
    args = [x, kernel, recurrent_kernel]
    if bias is not None:
        args.append(bias)
    if states is not None:
        args.extend(states)
    ts = tensors(op, *args)
    x, kernel, rk = ts[0], ts[1], ts[2]
    if x.ndim != 3:
        raise OpError(f"{op}: x must have rank 3 (N, T, F), got shape {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise OpError(f"{op}: x must have at least one time step, got shape {tuple(x.shape)}")
    if kernel.ndim != 2 or kernel.shape[0] != x.shape[2] or kernel.shape[1] % gates:
        raise OpError(f"{op}: kernel must have shape (F, {gates}*units) with F = {x.shape[2]} "
                      f"(x shape {tuple(x.shape)}), got shape {tuple(kernel.shape)}")
    u = kernel.shape[1] // gates
    if rk.shape != (u, gates * u):
        raise OpError(f"{op}: recurrent_kernel must have shape (units, {gates}*units) = {(u, gates * u)} "
                      f"(kernel shape {tuple(kernel.shape)}), got shape {tuple(rk.shape)}")
    i = 3
    if bias is not None:
        b = ts[i]
        want = [tuple(s(u)) for s in bias_shapes]
        if tuple(b.shape) not in want:
            raise OpError(f"{op}: bias must have shape {' or '.join(map(str, want))} for units = {u}, "
                          f"got shape {tuple(b.shape)}")
        i += 1
    if states is not None:
        for name, s in zip(("h0", "c0"), ts[i:]):
            if tuple(s.shape) != (x.shape[0], u):
                raise OpError(f"{op}: initial state {name} must have shape (N, units) = {(x.shape[0], u)}, "
                              f"got shape {tuple(s.shape)}")
    return ts, u, bias is not None, states is not None


def _bool_arg(op, name, v):
    if not isinstance(v, bool):
        raise OpError(f"{op}: {name} must be True or False, got {v!r}")
    return v


# ----------------------------------------------------------------------------- shared plumbing


class _Recurrence(Function):
    """Common forward/backward plumbing. Subclasses implement ``_run`` and ``_back``.

    Inputs: x, kernel, recurrent_kernel, [bias], [initial states...]. Arrays are kept
    time-major (T, N, .) internally, in processing order (reversed when go_backwards).
    """

    n_states = 1

    def __init__(self, units, has_bias, has_states, mask, return_sequences, go_backwards, act, ract):
        self.u = units
        self.has_bias = has_bias
        self.has_states = has_states
        self.mask = mask
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.act, self.d_act = act
        self.ract, self.d_ract = ract

    shift = 0  # LSTM keeps its gate columns rotated internally (see LSTM)
    # the kernel and recurrent-kernel gradients are both (inputs)^T @ (pre-activation grads):
    # where a subclass's are, forward keeps [x_t, h_t] side by side in one (T+1, N, F+u) array
    # and backward computes both with one GEMM instead of two (measurements: benchmarks/README.md)
    joint_weight_grads = False

    def _cols(self, xp, w):
        """Gate columns (last axis) from Keras's order to the internal one (a copy when they differ)."""
        return xp.roll(w, self.shift, axis=-1) if self.shift else w

    def _uncols(self, xp, g):
        """Gate columns from the internal order back to Keras's."""
        return xp.roll(g, -self.shift, axis=-1) if self.shift else g

    def _forward_weights(self, xp, kernel, rk, bias):
        """The kernel, recurrent kernel and bias the forward pass runs with."""
        return kernel, rk, bias

    _PROJECTION_STEPS = 25

    def _input_bias(self, bias):
        """The part of the forward bias that goes with the input projection (None: none)."""
        return bias

    def _split(self, arrays):
        x, kernel, rk = arrays[:3]
        i = 3
        bias = None
        if self.has_bias:
            bias = arrays[3]
            i = 4
        states = list(arrays[i:]) if self.has_states else None
        return x, kernel, rk, bias, states

    def forward(self, *arrays):
        x, kernel, rk, bias, states = self._split(arrays)
        xp = self.xp = get_xp(*arrays)
        N, T, F = x.shape
        u = self.u
        self.record = any(self.needs_input_grad)
        # time-major, processing order
        xt = x.transpose(1, 0, 2)
        mask = self.mask
        if self.go_backwards:
            xt = xt[::-1]
        self.xh = None
        if self.joint_weight_grads and self.record and self.needs_input_grad[1] and self.needs_input_grad[2]:
            self.xh = xp.empty((T + 1, N, F + u), dtype=x.dtype)  # [x_s, h_s]; x_T unused
            self.xh[:T, :, :F] = xt
            xt = self.xh[:T, :, :F]
            H = self.xh[:, :, F:]  # H[0] = h0, H[s+1] = state after step s
        else:
            xt = xp.ascontiguousarray(xt)
            H = xp.empty((T + 1, N, u), dtype=x.dtype)
        if mask is not None:
            mt = mask.T
            if self.go_backwards:
                mt = mt[::-1]
            self.mt = xp.ascontiguousarray(mt)[:, :, None]  # (T, N, 1)
        else:
            self.mt = None
        if states is None:
            states = [xp.zeros((N, u), dtype=x.dtype) for _ in range(self.n_states)]
        kf, rkf, bf = self._forward_weights(xp, kernel, rk, bias)
        G = kf.shape[1]
        bx = self._input_bias(bf)
        xw = xp.empty((T, N, G), dtype=x.dtype)
        # the input projection a block of steps at a time, its bias added while in cache
        step = self._PROJECTION_STEPS if xp is np else T
        for s0 in range(0, T, step):
            out = xw[s0:s0 + step].reshape(-1, G)
            xp.matmul(xt[s0:s0 + step].reshape(-1, F), kf, out=out)
            if bx is not None:
                out += bx
        H[0] = states[0]
        finals = self._run(xp, xw, rkf, bf, states, H)
        self.xt = xt if (self.record and self.needs_input_grad[1] and self.xh is None) else None
        self.kernel = kernel if (self.record and self.needs_input_grad[0]) else None
        self.rk = rk if self.record else None
        self.H = H if self.record else None
        self.shapes = [a.shape for a in arrays]
        if self.return_sequences:
            out = xp.ascontiguousarray(H[1:].transpose(1, 0, 2))
        else:
            out = H[T].copy()
        return (out, H[T].copy()) + tuple(finals)

    def _input_grad(self, xp, dxw):
        """The input gradient (N, T, F) from the input projection's (T, N, G) gradient."""
        T, N, G = dxw.shape
        kT = xp.ascontiguousarray(self._cols(xp, self.kernel).T)  # (a transposed view: slower below)
        if self.go_backwards:
            dxt = (dxw.reshape(T * N, G) @ kT).reshape(T, N, -1)[::-1]
            return xp.ascontiguousarray(dxt.transpose(1, 0, 2))
        # straight into the batch-major layout, one GEMM per sample: no transposing copy of the
        # time-major product
        return xp.matmul(dxw.transpose(1, 0, 2), kT)

    # The pipelined backward's blocks of steps (see _back_pipelined)
    _BACK_BLOCK = 16

    def _pipeline_buffers(self, xp):
        """The (T, N, .) arrays the backward's factors are derived into, the input projection's
        gradient (the factors the loop overwrites) first; None where the subclass's backward does
        not pipeline (the serial ``_back`` runs)."""
        return None

    # the weight gradients' sums of a pipelined backward (joint_weight_grads: one joint product
    # per block with [x_s, h_s]; GRU overrides them)
    def _weight_sums(self, xp, bufs):
        G, dt = bufs[0].shape[2], bufs[0].dtype
        want_bias = self.has_bias and self.needs_input_grad[3]
        return [xp.zeros((self.xh.shape[2], G), dtype=dt), xp.zeros(G, dtype=dt) if want_bias else None]

    def _add_weight_block(self, xp, sums, s0, s1, bufs):
        d = bufs[0][s0:s1].reshape(-1, bufs[0].shape[2])
        sums[0] += self.xh[s0:s1].reshape(d.shape[0], -1).T @ d
        if sums[1] is not None:
            sums[1] += xp.ones(d.shape[0], d.dtype) @ d

    def _finish_weights(self, xp, sums, drec):
        if sums[1] is not None:
            drec["bias"] = self._uncols(xp, sums[1])
        return sums[0]

    def _back_pipelined(self, xp, gseq, gh, gfinal):
        """On NumPy with two or more intra-op threads, the backward as two concurrent stages (BLAS
        single-threaded): one thread derives the factors a block of steps ahead of the recurrence
        (blocks of ``_BACK_BLOCK`` steps, latest first), then sums the weight and bias gradients
        of the blocks the recurrence has finished, in block order; the other runs the recurrence.
        Then both take the input gradient's blocks. The recurrence's small GEMMs scale badly on
        two BLAS threads while the weight GEMMs scale well (measurements: benchmarks/README.md).
        The results do not depend on thread timing: the sums' order is fixed, and an input-gradient
        block's values do not depend on the thread. None (the serial backward runs) where the two
        stages cannot run at once.

        The subclass supplies ``_pipeline_buffers``, ``_factors(xp, s0, s1, *buffers)``, the
        weight gradients' sums (``_weight_sums``, ``_add_weight_block``, ``_finish_weights``) and
        a ``_back`` that takes ``pipe``. Returns (dxw, drec, dstates, input grad or None, joint
        weight grad or None)."""
        T, N = self.H.shape[0] - 1, self.H.shape[1]
        B = self._BACK_BLOCK
        if (xp is not np or T <= B or parallel.num_threads() < 2 or parallel.in_region()
                or not parallel.blas_thread_control()):
            return None
        bufs = self._pipeline_buffers(xp)
        if bufs is None:
            return None
        DX = bufs[0]
        G = DX.shape[2]
        blocks = [(max(0, T - (i + 1) * B), T - i * B) for i in range(-(-T // B))]  # processing order
        factors, loop = parallel.Progress(), parallel.Progress()
        dx = kT = None
        if self.needs_input_grad[0]:
            kT = xp.ascontiguousarray(self._cols(xp, self.kernel).T)
            dx = xp.empty((N, T, kT.shape[1]), dtype=DX.dtype)
        claims = itertools.count()  # the input gradient's blocks, taken by whichever stage is free
        # (next() on it is atomic under the GIL; a block's values do not depend on the thread)

        def input_grads():
            if dx is None:
                return
            F = kT.shape[1]
            tmp = xp.empty((B * N, F), dtype=DX.dtype)
            while (i := next(claims)) < len(blocks):
                s0, s1 = blocks[i]
                t = tmp[:(s1 - s0) * N]
                xp.matmul(DX[s0:s1].reshape(-1, G), kT, out=t)
                t = t.reshape(s1 - s0, N, F).transpose(1, 0, 2)
                if self.go_backwards:  # processing step s is time step T - 1 - s
                    dx[:, T - s1:T - s0] = t[:, ::-1]
                else:
                    dx[:, s0:s1] = t

        def weights():  # factors ahead of the loop, then the finished blocks' weight gradients
            with factors.failing():
                for i, (s0, s1) in enumerate(blocks):
                    self._factors(xp, s0, s1, *bufs)
                    factors.produced(i + 1)
            sums = self._weight_sums(xp, bufs)
            for i, (s0, s1) in enumerate(blocks):
                loop.wait(i)
                self._add_weight_block(xp, sums, s0, s1, bufs)
            input_grads()
            return sums

        def recurrence():
            with loop.failing():
                out = self._back(xp, gseq, gh, gfinal, pipe=(bufs, B, factors.wait, loop.produced))
            input_grads()
            return out

        both = parallel.concurrently([weights, recurrence], gemm=True)
        if both is None:
            return None
        sums, (dxw, drec, dstates) = both
        joint = self._finish_weights(xp, sums, drec)
        return dxw, drec, dstates, dx, joint

    def backward(self, gout, gh, *gfinal):
        xp = self.xp
        T, N, u = self.H.shape[0] - 1, self.H.shape[1], self.u
        gseq = None
        gh = gh.copy()
        if self.return_sequences:
            gseq = xp.ascontiguousarray(gout.transpose(1, 0, 2))  # (T, N, u)
        else:
            gh += gout
        grads = [None] * len(self.shapes)
        piped = self._back_pipelined(xp, gseq, gh, list(gfinal))
        if piped is not None:
            dxw, drec, dstates, grads[0], joint = piped
        else:
            dxw, drec, dstates = self._back(xp, gseq, gh, list(gfinal))
            # dxw: (T, N, G*u) grads of the input projection; drec: dict of recurrent grads
            if self.needs_input_grad[0]:
                grads[0] = self._input_grad(xp, dxw)
            joint = None if self.xh is None else self.xh[:T].reshape(T * N, -1).T @ dxw.reshape(T * N, -1)
        dflat = dxw.reshape(T * N, dxw.shape[2])
        if joint is not None:  # the kernel's and the recurrent kernel's gradients, side by side
            F = self.xh.shape[2] - u
            both = self._uncols(xp, joint)
            grads[1], grads[2] = both[:F], both[F:]
        else:
            if self.needs_input_grad[1]:
                if "kernel" in drec:  # (summed by GRU's pipelined backward)
                    grads[1] = drec["kernel"]
                else:
                    grads[1] = self._uncols(xp, self.xt.reshape(T * N, -1).T @ dflat)
            if self.needs_input_grad[2]:
                grads[2] = drec["rk"]
        i = 3
        if self.has_bias:
            if self.needs_input_grad[3]:
                grads[3] = drec["bias"]
            i = 4
        if self.has_states:
            for k, d in enumerate(dstates):
                if self.needs_input_grad[i + k]:
                    grads[i + k] = d
        return tuple(grads)


# ----------------------------------------------------------------------------- LSTM


class LSTM(_Recurrence):
    """Internally the gate columns are rotated from Keras's (i, f, g, o) to (o, i, f, g): the
    three recurrent-activation gates are then contiguous in the forward pass and the three
    gates scaled by dc contiguous in the backward pass. With the default sigmoid/tanh, the
    sigmoid columns of the weights are pre-scaled by 1/2 (exact in floating point), so that
    sigmoid(a) = (1 + tanh(a/2)) / 2 for the three gates and tanh for the fourth take one tanh
    call per step. When recording, each step keeps its activated gates and act(c); the backward
    loop derives the local derivative factors from them a block of steps at a time, in a few
    vectorised passes (the forward loop runs 10 NumPy calls a step instead of 21), the blocks
    shared out among the intra-op threads (measurements: benchmarks/README.md)."""

    n_states = 2
    joint_weight_grads = True

    @property
    def shift(self):
        return self.u

    @property
    def _fused(self):
        return self.ract is _sigmoid and self.act is _tanh

    def _forward_weights(self, xp, kernel, rk, bias):
        u = self.u
        k, r = self._cols(xp, kernel), self._cols(xp, rk)  # copies
        b = None if bias is None else self._cols(xp, bias)
        if self._fused:
            for w in (k, r, b):
                if w is not None:
                    w[..., :3 * u] *= 0.5
        return k, r, b

    def _run(self, xp, xw, rk, bias, states, H):
        # xw (its bias added), rk: columns (o, i, f, g), the sigmoid ones halved when fused
        T, N, _ = xw.shape
        u = self.u
        dt = xw.dtype
        rec = self.record
        fused = self._fused
        C = xp.empty((T + 1 if rec else 2, N, u), dtype=dt)  # C[k] = cell state before step k
        # Z[s]: step s's gates after their activations; TC[s] = act(c after step s). Recording
        # keeps every step's (backward derives its factors from them, a block of steps at a time)
        Z = xp.empty((T if rec else 1, N, 4 * u), dtype=dt)
        TC = xp.empty((T if rec else 1, N, u), dtype=dt)
        # fused: the tanh gate's values are copied out (GT[s]) and the sigmoid's (1 + t) / 2 then
        # runs over all of z, contiguous (its g columns are not read again), not over the strided
        # three-gate view
        GT = xp.empty((T if rec else 1, N, u), dtype=dt) if fused else None
        ig = xp.empty((N, u), dtype=dt)
        C[0] = states[1]
        mt = self.mt
        for s in range(T):
            cp, cn = (s, s + 1) if rec else (s % 2, (s + 1) % 2)
            z, tc = (Z[s], TC[s]) if rec else (Z[0], TC[0])
            zs, zg = z[:, :3 * u], z[:, 3 * u:]
            xp.matmul(H[s], rk, out=z)
            z += xw[s]
            if fused:
                xp.tanh(z, out=z)
                zg = GT[s if rec else 0]
                xp.copyto(zg, z[:, 3 * u:])
                z += 1
                z *= 0.5
            else:
                self.ract(xp, zs)
                self.act(xp, zg)
            c_new = C[cn]
            xp.multiply(z[:, 2 * u:3 * u], C[cp], out=c_new)  # f c
            xp.multiply(z[:, u:2 * u], zg, out=ig)  # i g
            c_new += ig
            if fused:
                xp.tanh(c_new, out=tc)
            else:
                xp.copyto(tc, c_new)
                self.act(xp, tc)
            h_new = H[s + 1]
            xp.multiply(z[:, :u], tc, out=h_new)  # o act(c)
            if mt is not None:
                keep = ~mt[s]
                xp.copyto(h_new, H[s], where=keep)
                xp.copyto(c_new, C[cp], where=keep)
        if rec:
            self.Z, self.TC, self.C, self.GT = Z, TC, C, GT
        return (C[T if rec else T % 2].copy(),)

    # backward derives the local derivative factors this many steps at a time (in cache), the
    # blocks shared out among the intra-op threads
    _FACTOR_BLOCK = 16

    def _factors(self, xp, s0, s1, DZ, OD):
        """Steps [s0:s1]'s factors d(state)/d(pre-activations) into DZ[s0:s1] = (o' act(c),
        i' g, f' c_prev, g' i) and OD[s0:s1] = o act'(c) (d h / d c)."""
        u = self.u
        Z, tc, cprev = self.Z[s0:s1], self.TC[s0:s1], self.C[s0:s1]
        DZ, OD = DZ[s0:s1], OD[s0:s1]
        g, dg = (self.GT[s0:s1] if self._fused else Z[..., 3 * u:]), DZ[..., 3 * u:]
        if self._fused:  # sigmoid' = y (1 - y), tanh' = 1 - y^2, written in place
            # y (1 - y) over all four gates (contiguous, unlike the three gates' strided view),
            # then the tanh gate's overwritten
            xp.subtract(1, Z, out=DZ)
            DZ *= Z
            xp.multiply(g, g, out=dg)
            xp.subtract(1, dg, out=dg)
            xp.multiply(tc, tc, out=OD)
            xp.subtract(1, OD, out=OD)
        else:
            DZ[..., :3 * u] = self.d_ract(xp, Z[..., :3 * u])
            dg[...] = self.d_act(xp, g)
            OD[...] = self.d_act(xp, tc)
        DZ[..., :u] *= tc
        DZ[..., u:2 * u] *= g
        DZ[..., 2 * u:3 * u] *= cprev
        dg *= Z[..., u:2 * u]
        OD *= Z[..., :u]

    def _all_factors(self, xp):
        T, N, G = self.Z.shape
        DZ = xp.empty((T, N, G), dtype=self.Z.dtype)
        OD = xp.empty((T, N, self.u), dtype=self.Z.dtype)
        blocks = parallel.chunks(T, self._FACTOR_BLOCK, parallel.num_threads() if xp is np else 1)

        def span(b0, b1):
            for s0, s1 in blocks[b0:b1]:
                self._factors(xp, s0, s1, DZ, OD)

        parallel.for_ranges(span, len(blocks), DZ.size, min_elements=0, xp=xp)
        return DZ, OD

    def _pipeline_buffers(self, xp):
        if self.xh is None:  # (the weight gradients are summed as one joint product)
            return None
        T, N, G = self.Z.shape
        return xp.empty((T, N, G), dtype=self.Z.dtype), xp.empty((T, N, self.u), dtype=self.Z.dtype)

    def _back(self, xp, gseq, gh, gfinal, pipe=None):
        """The recurrence's backward: (pre-activation grads (T, N, 4u), dict of recurrent grads,
        initial-state grads). ``pipe``: ((DZ, OD), block, ready, produced) where another thread
        derives the factors into DZ and OD, a block of steps at a time: ``ready(i)`` waits for
        block i (latest first), ``produced(i + 1)`` tells that the loop has finished it."""
        Z = self.Z
        T, N, _ = Z.shape
        u = self.u
        rkT = xp.ascontiguousarray(self._cols(xp, self.rk).T)  # (4u, u), columns (o, i, f, g)
        # S = [dh | dc | dc | dc]: the four gates' grads are then one contiguous product d * S
        # (not a broadcast over the strided (N, 3, u) view)
        S = xp.empty((N, 4 * u), dtype=Z.dtype)
        dh, dc = S[:, :u], S[:, u:2 * u]
        dh[...] = gh
        dc[...] = gfinal[0]
        tmp = xp.empty((N, u), dtype=Z.dtype)
        if pipe is None:
            DZ, OD = self._all_factors(xp)
            block, ready, produced = T, None, None
        else:
            (DZ, OD), block, ready, produced = pipe
        out = DZ  # the pre-activation grads overwrite the factors, step by step
        mt = self.mt
        for s in range(T - 1, -1, -1):
            j = T - 1 - s  # steps done
            if ready is not None and j % block == 0:
                if j:
                    produced(j // block)
                ready(j // block)
            d, od, f = DZ[s], OD[s], Z[s, :, 2 * u:3 * u]
            if gseq is not None:
                dh += gseq[s]
            if mt is not None:  # a masked step passes dh, dc straight through to the previous state
                m = mt[s]
                dh_keep, dc_keep = xp.where(m, 0, dh), xp.where(m, 0, dc)
                xp.copyto(dh, 0, where=~m)
                xp.copyto(dc, 0, where=~m)
            xp.multiply(dh, od, out=tmp)
            dc += tmp  # dc_new
            S[:, 2 * u:3 * u] = dc
            S[:, 3 * u:] = dc
            dz = out[s]
            xp.multiply(d, S, out=dz)  # o: d dh; i, f, g: d dc
            xp.matmul(dz, rkT, out=dh)
            dc *= f
            if mt is not None:
                dh += dh_keep
                dc += dc_keep
        flat = out.reshape(T * N, 4 * u)
        drec = {}
        if produced is not None:  # the weight gradients are the other stage's
            produced(-(-T // block))
            return out, drec, [dh.copy(), dc.copy()]
        if self.needs_input_grad[2] and self.xh is None:  # else computed with the kernel's (backward)
            drec["rk"] = self._uncols(xp, self.H[:T].reshape(T * N, u).T @ flat)
        if self.has_bias and self.needs_input_grad[3]:
            drec["bias"] = self._uncols(xp, flat.sum(axis=0))
        return out, drec, [dh.copy(), dc.copy()]


# ----------------------------------------------------------------------------- GRU


class GRU(_Recurrence):
    def __init__(self, *args, reset_after=True):
        super().__init__(*args)
        self.reset_after = reset_after

    def _input_bias(self, bias):
        return bias[0] if bias is not None and self.reset_after else bias

    def _run(self, xp, xw, rk, bias, states, H):
        T, N, _ = xw.shape
        u = self.u
        dt = xw.dtype
        ra = self.reset_after
        b_rec = bias[1] if bias is not None and ra else None  # (the input bias is in xw)
        rec = self.record
        # z, r, hh after activation; for reset_after also the recurrent candidate term h U_h + b
        G = xp.empty((T if rec else 1, N, 3 * u), dtype=dt)
        HR = xp.empty((T if rec else 1, N, u), dtype=dt) if ra else None
        hr = xp.empty((N, 3 * u if ra else 2 * u), dtype=dt)
        tmp = None if ra else xp.empty((N, u), dtype=dt)
        tmp2 = None if ra else xp.empty((N, u), dtype=dt)
        rk_zr, rk_h = rk[:, :2 * u], rk[:, 2 * u:]
        mt = self.mt
        for s in range(T):
            gi = s if rec else 0
            h, xs, gs = H[s], xw[s], G[gi]
            zr, hh = gs[:, :2 * u], gs[:, 2 * u:]
            xp.matmul(h, rk if ra else rk_zr, out=hr)
            if b_rec is not None:
                hr += b_rec
            xp.add(xs[:, :2 * u], hr[:, :2 * u], out=zr)
            self.ract(xp, zr)
            z, r = zr[:, :u], zr[:, u:]
            if ra:
                HR[gi] = hr[:, 2 * u:]
                xp.multiply(r, HR[gi], out=hh)
                hh += xs[:, 2 * u:]
            else:
                xp.multiply(r, h, out=tmp)
                xp.matmul(tmp, rk_h, out=tmp2)  # into a contiguous buffer (hh is a strided view)
                xp.add(tmp2, xs[:, 2 * u:], out=hh)
            self.act(xp, hh)
            h_new = H[s + 1]  # = z*h + (1-z)*hh = hh + z*(h - hh)
            xp.subtract(h, hh, out=h_new)
            h_new *= z
            h_new += hh
            if mt is not None:
                xp.copyto(h_new, h, where=~mt[s])
        if rec:
            self.gates, self.HR = G, HR
        return ()

    def _factors(self, xp, s0, s1, DX, DHR=None):
        """Steps [s0:s1]'s gradient-independent factors into DX[s0:s1] (T, N, 3u): d(h_new) /
        d(pre-activation) of z, r (times d(a_h)/d r) and hh, which the loop turns into the input
        projection's gradients [d a_z, d a_r, d a_h]."""
        u = self.u
        G, Hp = self.gates[s0:s1], self.H[s0:s1]
        z, r, hh = G[..., :u], G[..., u:2 * u], G[..., 2 * u:]
        D = DX[s0:s1].reshape(s1 - s0, -1, 3, u)
        xp.multiply(Hp - hh, self.d_ract(xp, z), out=D[:, :, 0])
        xp.multiply(self.HR[s0:s1] if self.reset_after else Hp, self.d_ract(xp, r), out=D[:, :, 1])
        xp.multiply(1 - z, self.d_act(xp, hh), out=D[:, :, 2])

    def _pipeline_buffers(self, xp):
        T, N, G = self.gates.shape
        dt = self.gates.dtype
        return xp.empty((T, N, G), dtype=dt), (xp.empty((T, N, G), dtype=dt) if self.reset_after else None)

    def _weight_sums(self, xp, bufs):
        u, dt = self.u, self.gates.dtype
        sums = {}
        if self.xt is not None:
            sums["kernel"] = xp.zeros((self.xt.shape[2], 3 * u), dtype=dt)
        if self.needs_input_grad[2]:
            sums["rk"] = xp.zeros((u, 3 * u), dtype=dt)
        if self.has_bias and self.needs_input_grad[3]:
            sums["bias"] = xp.zeros((2, 3 * u) if self.reset_after else (3 * u,), dtype=dt)
        return sums

    def _add_weight_block(self, xp, sums, s0, s1, bufs):
        DX, DHR = bufs
        u = self.u
        n = (s1 - s0) * DX.shape[1]
        flat = DX[s0:s1].reshape(n, 3 * u)
        rec = DHR[s0:s1].reshape(n, 3 * u) if self.reset_after else None
        if "kernel" in sums:
            sums["kernel"] += self.xt[s0:s1].reshape(n, -1).T @ flat
        if "rk" in sums:
            self._rk_grad(xp, sums["rk"], self.H[s0:s1].reshape(n, u), flat, rec, self.gates[s0:s1, :, u:2 * u],
                          add=True)
        if "bias" in sums:
            b = sums["bias"]
            (b[0] if self.reset_after else b)[...] += flat.sum(axis=0)
            if self.reset_after:
                b[1] += rec.sum(axis=0)

    def _finish_weights(self, xp, sums, drec):
        for name in ("kernel", "rk", "bias"):
            if name in sums:
                drec[name] = sums[name]
        return None

    def _rk_grad(self, xp, out, Hf, flat, rec, r, add=False):
        """The recurrent kernel's gradient from steps' previous states Hf (n, u), their projection
        gradients ``flat`` (n, 3u), reset_after's recurrent-term gradients ``rec`` (n, 3u) and
        reset gates ``r``: into (``add``: added to) ``out`` (u, 3u)."""
        u = self.u
        if self.reset_after:
            parts = [(slice(None), Hf.T @ rec)]
        else:
            rh = (r.reshape(Hf.shape) * Hf)
            parts = [(slice(0, 2 * u), Hf.T @ flat[:, :2 * u]), (slice(2 * u, None), rh.T @ flat[:, 2 * u:])]
        for cols, v in parts:
            if add:
                out[:, cols] += v
            else:
                out[:, cols] = v

    def _back(self, xp, gseq, gh, gfinal, pipe=None):
        """The recurrence's backward: (input projection grads (T, N, 3u), dict of recurrent grads,
        initial-state grads). ``pipe``: ((DX, DHR), block, ready, produced) as in LSTM._back."""
        G, Hp = self.gates, self.H[:-1]
        T, N, _ = G.shape
        u = self.u
        ra = self.reset_after
        rk = self.rk
        z, r = G[..., :u], G[..., u:2 * u]
        if pipe is None:
            DX, DHR = self._pipeline_buffers(xp)
            self._factors(xp, 0, T, DX, DHR)
            block, ready, produced = T, None, None
        else:
            (DX, DHR), block, ready, produced = pipe
        # dx_all ends up holding the grads of the input projection [d a_z, d a_r, d a_h]
        # (pre-activations); reset_after's dh_rec those of h U + b_rec per step
        dx_all = DX.reshape(T, N, 3, u)
        if ra:
            dh_rec = DHR.reshape(T, N, 3, u)
            rkT = xp.ascontiguousarray(rk.T)
        else:
            rk_zrT = xp.ascontiguousarray(rk[:, :2 * u].T)
            rk_hT = xp.ascontiguousarray(rk[:, 2 * u:].T)
            drh = xp.empty((N, u), dtype=G.dtype)
        dh = gh.copy()
        tmp = xp.empty_like(dh)
        mt = self.mt
        for s in range(T - 1, -1, -1):
            j = T - 1 - s  # steps done
            if ready is not None and j % block == 0:
                if j:
                    produced(j // block)
                ready(j // block)
            if gseq is not None:
                dh += gseq[s]
            if mt is not None:  # a masked step passes dh straight through to the previous state
                m = mt[s]
                dh_keep = xp.where(m, 0, dh)
                dh = xp.where(m, dh, 0)
            dxs = dx_all[s]
            dxs[:, 0] *= dh
            dxs[:, 2] *= dh  # d a_h
            if ra:
                dxs[:, 1] *= dxs[:, 2]
                dr = dh_rec[s]
                dr[:, :2] = dxs[:, :2]
                xp.multiply(dxs[:, 2], r[s], out=dr[:, 2])
                xp.multiply(dh, z[s], out=tmp)
                xp.matmul(dr.reshape(N, 3 * u), rkT, out=dh)
                dh += tmp
            else:
                xp.matmul(dxs[:, 2], rk_hT, out=drh)  # grad of r*h
                dxs[:, 1] *= drh
                xp.multiply(dh, z[s], out=tmp)
                xp.matmul(dxs[:, :2].reshape(N, 2 * u), rk_zrT, out=dh)
                dh += tmp
                drh *= r[s]
                dh += drh
            if mt is not None:
                dh += dh_keep
        drec = {}
        if produced is not None:  # the weight gradients are the other stage's
            produced(-(-T // block))
            return DX, drec, [dh]
        flat = DX.reshape(T * N, 3 * u)
        rec = DHR.reshape(T * N, 3 * u) if ra else None
        if self.needs_input_grad[2]:
            drk = xp.empty_like(rk)
            self._rk_grad(xp, drk, Hp.reshape(T * N, u), flat, rec, r)
            drec["rk"] = drk
        if self.has_bias and self.needs_input_grad[3]:
            db_in = flat.sum(axis=0)
            drec["bias"] = xp.stack([db_in, rec.sum(axis=0)]) if ra else db_in
        return DX, drec, [dh]


# ----------------------------------------------------------------------------- SimpleRNN


class SimpleRNN(_Recurrence):
    joint_weight_grads = True

    def _run(self, xp, xw, rk, bias, states, H):
        T, N, u = xw.shape
        rec = self.record
        A = xp.empty((T if rec else 1, N, u), dtype=xw.dtype)  # act output per step
        mt = self.mt
        for s in range(T):
            a = A[s if rec else 0]
            xp.matmul(H[s], rk, out=a)
            a += xw[s]
            self.act(xp, a)
            xp.copyto(H[s + 1], a)
            if mt is not None:
                xp.copyto(H[s + 1], H[s], where=~mt[s])
        if rec:
            self.A = A
        return ()

    def _pipeline_buffers(self, xp):
        if self.xh is None:  # (the weight gradients are summed as one joint product)
            return None
        return (xp.empty(self.A.shape, dtype=self.A.dtype),)

    def _factors(self, xp, s0, s1, DA):
        """Steps [s0:s1]'s activation derivatives into DA[s0:s1] (the loop multiplies them by dh)."""
        DA[s0:s1] = self.d_act(xp, self.A[s0:s1])

    def _back(self, xp, gseq, gh, gfinal, pipe=None):
        """The recurrence's backward: (pre-activation grads (T, N, u), dict of recurrent grads,
        initial-state grads). ``pipe``: ((DA,), block, ready, produced) as in LSTM._back."""
        T, N, u = self.A.shape
        if pipe is None:
            da_all = xp.empty((T, N, u), dtype=gh.dtype)
            self._factors(xp, 0, T, da_all)
            block, ready, produced = T, None, None
        else:
            (da_all,), block, ready, produced = pipe
        rkT = xp.ascontiguousarray(self.rk.T)
        dh = gh
        for s in range(T - 1, -1, -1):
            j = T - 1 - s  # steps done
            if ready is not None and j % block == 0:
                if j:
                    produced(j // block)
                ready(j // block)
            if gseq is not None:
                dh = dh + gseq[s]
            if self.mt is not None:
                m = self.mt[s]
                dh_new = xp.where(m, dh, 0)
                dh_keep = dh - dh_new
            else:
                dh_new = dh
            da = da_all[s]
            da *= dh_new  # (the factor d act / d a, overwritten by the gradient)
            dh = da @ rkT
            if self.mt is not None:
                dh += dh_keep
        drec = {}
        if produced is not None:  # the weight gradients are the other stage's
            produced(-(-T // block))
            return da_all, drec, [dh]
        flat = da_all.reshape(T * N, u)
        if self.needs_input_grad[2] and self.xh is None:  # else computed with the kernel's (backward)
            drec["rk"] = self.H[:T].reshape(T * N, u).T @ flat
        if self.has_bias and self.needs_input_grad[3]:
            drec["bias"] = flat.sum(axis=0)
        return da_all, drec, [dh]


# ----------------------------------------------------------------------------- public ops


def _common(op, cls, gates, bias_shapes, n_states, x, kernel, recurrent_kernel, bias, initial_state, mask,
            return_sequences, go_backwards, activation, recurrent_activation, **extra):
    _bool_arg(op, "return_sequences", return_sequences)
    _bool_arg(op, "go_backwards", go_backwards)
    act = _activation(op, "activation", activation)
    ract = _activation(op, "recurrent_activation", recurrent_activation) if recurrent_activation else None
    states = _initial_states(op, initial_state, n_states)
    ts, u, has_bias, has_states = _prepare(op, x, kernel, recurrent_kernel, bias, states, gates, bias_shapes)
    m = _mask_array(op, mask, ts[0])
    fn = cls(u, has_bias, has_states, m, return_sequences, go_backwards, act, ract, **extra)
    return fn.apply(*ts)


def lstm(x, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None, return_sequences=False,
         go_backwards=False, activation="tanh", recurrent_activation="sigmoid"):
    """Keras LSTM over a whole sequence.

    x (N, T, F); kernel (F, 4u); recurrent_kernel (u, 4u); bias (4u,) or None; gate order
    i, f, c, o. initial_state None (zeros) or (h0, c0), each (N, u). mask (N, T) bool,
    True = real step; masked steps carry the state and repeat the previous output.
    Returns (outputs, h_T, c_T): outputs (N, T, u) if return_sequences (reversed time order
    when go_backwards, as Keras) else (N, u) = h_T.
    """
    return _common("lstm", LSTM, 4, [lambda u: (4 * u,)], 2, x, kernel, recurrent_kernel, bias, initial_state,
                   mask, return_sequences, go_backwards, activation, recurrent_activation)


def gru(x, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None, return_sequences=False,
        go_backwards=False, reset_after=True, activation="tanh", recurrent_activation="sigmoid"):
    """Keras GRU over a whole sequence.

    x (N, T, F); kernel (F, 3u); recurrent_kernel (u, 3u); gate order z, r, h.
    reset_after=True (Keras 3 default): bias (2, 3u) (row 0 input bias, row 1 recurrent bias),
    candidate = act(x W_h + b_in_h + r * (h U_h + b_rec_h)). reset_after=False: bias (3u,),
    candidate = act(x W_h + b_h + (r * h) U_h). h_new = z * h + (1 - z) * candidate.
    initial_state None, h0 or [h0]. Returns (outputs, h_T).
    """
    _bool_arg("gru", "reset_after", reset_after)
    shapes = [lambda u: (2, 3 * u)] if reset_after else [lambda u: (3 * u,)]
    return _common("gru", GRU, 3, shapes, 1, x, kernel, recurrent_kernel, bias, initial_state, mask,
                   return_sequences, go_backwards, activation, recurrent_activation, reset_after=reset_after)


def simple_rnn(x, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None, return_sequences=False,
               go_backwards=False, activation="tanh"):
    """Keras SimpleRNN over a whole sequence: h_t = act(x_t W + h_{t-1} U + b).

    x (N, T, F); kernel (F, u); recurrent_kernel (u, u); bias (u,) or None; initial_state
    None, h0 or [h0]. Returns (outputs, h_T).
    """
    return _common("simple_rnn", SimpleRNN, 1, [lambda u: (u,)], 1, x, kernel, recurrent_kernel, bias,
                   initial_state, mask, return_sequences, go_backwards, activation, "linear")
