"""Tensor contractions by Keras's (NumPy's) rules: ``einsum`` with a hand-written backward,
and ``tensordot``, ``dot``, ``inner``, ``outer``, ``vdot``, ``kron``, ``cross`` built on it and
the differentiable shape ops."""
from __future__ import annotations

import string

import numpy as np

from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError
from .elementwise import mul, sub
from .linalg import matmul
from .math import floats
from .reductions import sum as _sum
from .shape import getitem, reshape, stack, transpose


def _parse(subscripts, shapes):
    """Explicit subscripts (one letter per axis, '...' expanded) and the output letters."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        ins, out = s.split("->")
    else:
        ins, out = s, None
    parts = ins.split(",")
    if len(parts) != len(shapes):
        raise OpError(f"einsum: {subscripts!r} names {len(parts)} operands, got {len(shapes)}")
    used = set(c for c in s if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    ell_rank = max([len(sh) - len(p.replace("...", "")) for p, sh in zip(parts, shapes) if "..." in p] or [0])
    ell = "".join(free[:ell_rank])
    subs = []
    for p, sh in zip(parts, shapes):
        if "..." in p:
            n = len(sh) - len(p.replace("...", ""))
            p = p.replace("...", ell[ell_rank - n:] if n else "")
        if len(p) != len(sh):
            raise OpError(f"einsum: subscripts {p!r} do not match an operand of shape {tuple(sh)}")
        subs.append(p)
    if out is None:
        counts = {}
        for p in subs:
            for c in p:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return subs, out


class Einsum(Function):
    def __init__(self, subs, out):
        self.subs, self.out = subs, out

    def forward(self, *xs):
        xp = get_xp(*xs)
        self.xs = xs
        expr = ",".join(self.subs) + "->" + self.out
        return xp.einsum(expr, *xs, optimize=len(xs) > 2)

    def backward(self, gy):
        xp = get_xp(gy)
        sizes = {}
        for p, x in zip(self.subs, self.xs):
            for c, d in zip(p, x.shape):
                if d != 1 or c not in sizes:
                    sizes[c] = d
        grads = []
        for k, (pk, xk) in enumerate(zip(self.subs, self.xs)):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(p, x) for j, (p, x) in enumerate(zip(self.subs, self.xs)) if j != k]
            avail = set(self.out).union(*[set(p) for p, _ in others])
            uniq = "".join(dict.fromkeys(pk))
            present = "".join(c for c in uniq if c in avail)
            expr = ",".join([self.out] + [p for p, _ in others]) + "->" + present
            g = xp.einsum(expr, gy, *[x for _, x in others], optimize=len(others) > 1)
            # letters only in this operand: the gradient is constant along them
            shape = [sizes[c] for c in uniq]
            g = xp.broadcast_to(g.reshape([sizes[c] if c in present else 1 for c in uniq]), shape)
            if len(uniq) != len(pk):  # repeated letters: the gradient lives on the diagonal
                full = xp.zeros([sizes[c] for c in pk], gy.dtype)
                xp.einsum(f"{pk}->{uniq}", full)[...] = g
                g = full
            else:
                g = xp.ascontiguousarray(g)
            # broadcast (size-1) axes of the operand sum their gradient
            axes = tuple(i for i, (d, c) in enumerate(zip(xk.shape, pk)) if d == 1 and sizes[c] != 1)
            if axes:
                g = g.sum(axis=axes, keepdims=True)
            grads.append(g)
        return tuple(grads)


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation (NumPy's notation, '...' and implicit output included); differentiable."""
    if kwargs:
        raise TypeError(f"einsum: unexpected keyword argument(s) {sorted(kwargs)}")
    if not operands:
        raise OpError("einsum: needs at least one operand")
    ts = floats("einsum", *operands)
    subs, out = _parse(subscripts, [t.shape for t in ts])
    sizes = {}
    for p, t in zip(subs, ts):
        for c, d in zip(p, t.shape):
            if c in sizes and d != sizes[c] and 1 not in (d, sizes[c]):
                raise OpError(f"einsum: index {c!r} has sizes {sizes[c]} and {d} in {subscripts!r}")
            sizes[c] = max(sizes.get(c, d), d)
    return Einsum(subs, out).apply(*ts)


def tensordot(x1, x2, axes=2):
    """The sum of products over ``axes`` (an int: the last n of x1 with the first n of x2; or two
    lists of axes); differentiable."""
    a, b = floats("tensordot", x1, x2)
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [x % a.ndim for x in ax_a]
    ax_b = [x % b.ndim for x in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise OpError(f"tensordot: axes {axes} do not match shapes {a.shape} and {b.shape}")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a], dtype=np.int64))
    a2 = reshape(transpose(a, free_a + ax_a), (-1, k))
    b2 = reshape(transpose(b, ax_b + free_b), (k, -1))
    return reshape(matmul(a2, b2), tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))


def dot(x1, x2):
    """NumPy's ``dot``: a product for scalars, the inner product of vectors, ``matmul``-like
    otherwise (the last axis of x1 with the second-to-last of x2)."""
    a, b = floats("dot", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if b.ndim == 1:
        return tensordot(a, b, axes=([-1], [0]))
    return tensordot(a, b, axes=([-1], [-2]))


def inner(x1, x2):
    a, b = floats("inner", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def outer(x1, x2):
    a, b = floats("outer", x1, x2)
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def vdot(x1, x2):
    a, b = floats("vdot", x1, x2)
    return _sum(mul(reshape(a, (-1,)), reshape(b, (-1,))))


def kron(x1, x2):
    """The Kronecker product (NumPy's, ranks padded to match); differentiable."""
    a, b = floats("kron", x1, x2)
    nd = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = reshape(b, (1,) * (nd - b.ndim) + b.shape)
    sa = []
    sb = []
    for i in range(nd):
        sa += [a.shape[i], 1]
        sb += [1, b.shape[i]]
    prod = mul(reshape(a, sa), reshape(b, sb))
    return reshape(prod, tuple(a.shape[i] * b.shape[i] for i in range(nd)))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors (2-vectors are padded with a zero z); differentiable."""
    from .arrays import moveaxis

    a, b = floats("cross", x1, x2)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    two = a.shape[-1] == 2 and b.shape[-1] == 2

    def comp(t, i):
        if t.shape[-1] == 2 and i == 2:
            return Tensor(np.zeros(t.shape[:-1], t.dtype))
        return getitem(t, (Ellipsis, i))

    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise OpError(f"cross: vectors must have 2 or 3 components, got shapes {a.shape} and {b.shape}")
    a0, a1, a2 = (comp(a, i) for i in range(3))
    b0, b1, b2 = (comp(b, i) for i in range(3))
    z = sub(mul(a0, b1), mul(a1, b0))
    if two:
        return z
    c = stack([sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2)), z], axis=-1)
    return moveaxis(c, -1, axisc)




def cdist(x, y):
    """Euclidean distances between the rows of ``x`` (..., M, D) and ``y`` (..., N, D): (..., M, N)."""
    from .elementwise import sqrt

    a, b = floats("cdist", x, y)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise OpError(f"cdist: inputs must be (..., M, D) and (..., N, D), got {a.shape} and {b.shape}")
    from .shape import expand_dims

    d = sub(expand_dims(a, -2), expand_dims(b, -3))
    return sqrt(_sum(mul(d, d), axis=-1))


def correlate(x1, x2, mode="valid"):
    """The cross-correlation of two 1-D tensors, c[k] = sum_j x1[k + j] x2[j], as Keras on
    TensorFlow: "valid" (len(x1) - len(x2) + 1 values), "full" (x1 zero-padded by len(x2) - 1 on
    both sides) or "same" (the centred max(len) values of "full"). Differentiable."""
    from .shape import getitem, pad

    a, b = floats("correlate", x1, x2)
    if a.ndim != 1 or b.ndim != 1:
        raise OpError(f"correlate: x1 and x2 must be 1-D, got shapes {a.shape} and {b.shape}")
    if mode not in ("valid", "same", "full"):
        raise OpError(f"correlate: mode must be 'valid', 'same' or 'full', got {mode!r}")
    n, m = a.shape[0], b.shape[0]
    if mode != "valid":
        a = pad(a, ((m - 1, m - 1),))
    length = a.shape[0] - m + 1
    if length < 1:
        raise OpError(f"correlate: x2 of length {m} is longer than x1 of length {n} (mode 'valid')")
    idx = np.arange(length)[:, None] + np.arange(m)
    out = einsum("kj,j->k", getitem(a, Tensor(idx)), b)
    if mode == "same":
        size = max(n, m)
        start = (n + m - 1 - size) // 2
        out = getitem(out, slice(start, start + size))
    return out
