"""Keras's NumPy-style array manipulation beyond the basic shape ops: ``moveaxis``, ``roll``,
``flip``, ``rot90``, ``tril``/``triu``, ``diag``/``diagonal``/``trace``, ``append``, ``diff``,
``hstack``/``vstack``/``dstack``, ``array_split``, ``unstack``, ``ravel``, ``copy``, ...; all
differentiable, built on the differentiable shape and indexing ops."""
from __future__ import annotations

import numpy as np

from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, normalize_axis
from .elementwise import sub, where
from .indexing import scatter
from .math import _plain
from .reductions import sum as _sum
from .shape import concatenate, expand_dims, getitem, reshape, split, squeeze, transpose


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def moveaxis(x, source, destination):
    """``x`` with axes ``source`` moved to ``destination`` (ints or sequences)."""
    x = _t(x)
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise OpError(f"moveaxis: source {source} and destination {destination} differ in length")
    src = [s % x.ndim for s in src]
    dst = [d % x.ndim for d in dst]
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


class Roll(Function):
    def __init__(self, shift, axis):
        self.shift, self.axis = shift, axis

    def forward(self, x):
        return get_xp(x).roll(x, self.shift, axis=self.axis)

    def backward(self, gy):
        neg = tuple(-s for s in self.shift) if isinstance(self.shift, tuple) else -self.shift
        return get_xp(gy).roll(gy, neg, axis=self.axis)


def roll(x, shift, axis=None):
    """Elements rolled by ``shift`` along ``axis`` (the flattened array when None); differentiable."""
    x = _t(x)
    shift = tuple(int(s) for s in shift) if isinstance(shift, (list, tuple)) else int(shift)
    axis = tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else axis
    if x.dtype.kind != "f":
        return Tensor(x.xp.roll(x.data, shift, axis=axis))
    return Roll(shift, axis).apply(x)


def flip(x, axis=None):
    """``x`` reversed along ``axis`` (every axis when None); differentiable."""
    x = _t(x)
    axes = range(x.ndim) if axis is None else normalize_axis("flip", axis, x.ndim)
    idx = [slice(None)] * x.ndim
    for a in axes:
        idx[a] = slice(None, None, -1)
    return getitem(x, tuple(idx))


def fliplr(x):
    return flip(x, axis=1)


def flipud(x):
    return flip(x, axis=0)


def rot90(array, k=1, axes=(0, 1)):
    """``array`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (NumPy's direction)."""
    x = _t(array)
    k = int(k) % 4
    a, b = normalize_axis("rot90", axes[0], x.ndim)[0], normalize_axis("rot90", axes[1], x.ndim)[0]
    if a == b:
        raise OpError(f"rot90: axes must differ, got {axes}")
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    for _ in range(k):
        x = transpose(flip(x, axis=b), perm)
    return x


def ravel(x):
    return reshape(_t(x), (-1,))


def copy(x):
    """A copy of ``x`` (differentiable)."""
    x = _t(x)
    return getitem(x, (Ellipsis,)) if x.dtype.kind == "f" else Tensor(x.data.copy())


def append(x1, x2, axis=None):
    """``x2`` appended to ``x1`` along ``axis`` (both flattened when None)."""
    a, b = _t(x1), _t(x2)
    if axis is None:
        return concatenate([ravel(a), ravel(b)], axis=0)
    return concatenate([a, b], axis=axis)


def diff(a, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis``; differentiable."""
    x = _t(a)
    ax = normalize_axis("diff", axis, x.ndim)[0]
    for _ in range(int(n)):
        hi = [slice(None)] * x.ndim
        lo = [slice(None)] * x.ndim
        hi[ax], lo[ax] = slice(1, None), slice(None, -1)
        x = sub(getitem(x, tuple(hi)), getitem(x, tuple(lo)))
    return x


def _tri_mask(x, k, lower):
    xp = x.xp
    n, m = x.shape[-2], x.shape[-1]
    return (xp.tri(n, m, k, dtype=bool) if lower else ~xp.tri(n, m, k - 1, dtype=bool))


def _triangle(op, x, k, lower):
    x = _t(x)
    if x.ndim < 2:
        raise OpError(f"{op}: x must have rank >= 2, got shape {x.shape}")
    mask = _tri_mask(x, int(k), lower)
    if x.dtype.kind != "f":
        return Tensor(x.xp.where(mask, x.data, 0))
    return where(Tensor(mask), x, 0.0)


def tril(x, k=0):
    """The lower triangle of the last two axes (above the k-th diagonal zeroed); differentiable."""
    return _triangle("tril", x, k, True)


def triu(x, k=0):
    """The upper triangle of the last two axes (below the k-th diagonal zeroed); differentiable."""
    return _triangle("triu", x, k, False)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal of the plane (axis1, axis2), as the last axis of the result; differentiable."""
    x = _t(x)
    a1, a2 = normalize_axis("diagonal", axis1, x.ndim)[0], normalize_axis("diagonal", axis2, x.ndim)[0]
    x = moveaxis(x, (a1, a2), (-2, -1))
    n, m = x.shape[-2], x.shape[-1]
    offset = int(offset)
    rows = np.arange(max(0, -offset), min(n, m - offset)) if min(n, m - offset) > max(0, -offset) else np.arange(0)
    cols = rows + offset
    return getitem(x, (Ellipsis, Tensor(rows), Tensor(cols)))


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum along the diagonal (Keras ``ops.trace``); differentiable."""
    return _sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diag(x, k=0):
    """The k-th diagonal of a 2-D ``x``, or a 2-D tensor with the 1-D ``x`` on its k-th diagonal."""
    x = _t(x)
    k = int(k)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise OpError(f"diag: x must be 1-D or 2-D, got shape {x.shape}")
    n = x.shape[0] + abs(k)
    i = np.arange(x.shape[0])
    idx = np.stack([i + max(0, -k), i + max(0, k)], axis=1)
    if x.dtype.kind != "f":
        out = np.zeros((n, n), x.dtype)
        out[idx[:, 0], idx[:, 1]] = x.numpy()
        return Tensor(out)
    return scatter(idx, x, (n, n))


def diagflat(x, k=0):
    return diag(ravel(x), k)


def _atleast_3d(t):
    if t.ndim == 0:
        return reshape(t, (1, 1, 1))
    if t.ndim == 1:
        return reshape(t, (1, t.shape[0], 1))
    return expand_dims(t, -1)


def hstack(xs):
    """Concatenation along the second axis (the first for 1-D tensors)."""
    ts = [_t(x) for x in xs]
    return concatenate(ts, axis=0 if ts and ts[0].ndim == 1 else 1)


def vstack(xs):
    ts = [reshape(t, (1, -1)) if t.ndim < 2 else t for t in (_t(x) for x in xs)]
    return concatenate(ts, axis=0)


def column_stack(xs):
    """1-D tensors as the columns of a 2-D one; 2-D (and higher) tensors joined along axis 1."""
    ts = [reshape(t, (-1, 1)) if t.ndim < 2 else t for t in (_t(x) for x in xs)]
    return concatenate(ts, axis=1)


def dstack(xs):
    return concatenate([_atleast_3d(_t(x)) for x in xs], axis=2)


def array_split(x, indices_or_sections, axis=0):
    """Split into ``indices_or_sections`` parts that may differ in size by one (NumPy's rule)."""
    x = _t(x)
    ax = normalize_axis("array_split", axis, x.ndim)[0]
    if isinstance(indices_or_sections, int):
        n, k = x.shape[ax], int(indices_or_sections)
        if k <= 0:
            raise OpError(f"array_split: sections must be positive, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        bounds = np.cumsum(sizes)[:-1].tolist()
        return split(x, bounds, axis=ax)
    return split(x, list(indices_or_sections), axis=ax)


def hsplit(x, indices_or_sections):
    x = _t(x)
    return split(x, indices_or_sections, axis=0 if x.ndim == 1 else 1)


def vsplit(x, indices_or_sections):
    return split(_t(x), indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    return split(_t(x), indices_or_sections, axis=2)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis`` as a list (Keras ``ops.unstack``); differentiable."""
    x = _t(x)
    ax = normalize_axis("unstack", axis, x.ndim)[0]
    n = x.shape[ax]
    if num is not None and int(num) != n:
        raise OpError(f"unstack: num={num} does not match axis {ax} of size {n}")
    return [squeeze(getitem(x, (slice(None),) * ax + (slice(i, i + 1),)), ax) for i in range(n)]


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D ``x``; differentiable."""
    from .elementwise import pow
    from .math import to_float

    x = to_float("vander", x)
    n = x.shape[0] if N is None else int(N)
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    return pow(expand_dims(x, -1), Tensor(powers.astype(x.dtype)))


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule; differentiable."""
    from .elementwise import add, mul
    from .math import to_float

    y = to_float("trapezoid", y)
    ax = normalize_axis("trapezoid", axis, y.ndim)[0]
    hi = [slice(None)] * y.ndim
    lo = [slice(None)] * y.ndim
    hi[ax], lo[ax] = slice(1, None), slice(None, -1)
    mid = mul(add(getitem(y, tuple(hi)), getitem(y, tuple(lo))), 0.5)
    if x is None:
        return mul(_sum(mid, axis=ax), float(dx))
    d = diff(to_float("trapezoid", x).astype(y.dtype), axis=-1)
    if d.ndim == 1 and y.ndim > 1:
        d = reshape(d, tuple(d.shape[0] if i == ax else 1 for i in range(y.ndim)))
    return _sum(mul(mid, d), axis=ax)


def view(x, dtype=None):
    """The bytes of ``x`` reinterpreted as ``dtype`` (Keras ``ops.view``); no gradient."""
    a = _plain(x)
    return Tensor(a.view(dtype) if dtype is not None else a.copy())


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` every ``sequence_stride`` along the last axis:
    (..., n) -> (..., frames, sequence_length); differentiable."""
    x = _t(x)
    n, L, s = x.shape[-1], int(sequence_length), int(sequence_stride)
    frames = (n - (L - s)) // s
    if frames < 1:
        raise OpError(f"extract_sequences: a last axis of {n} holds no frame of length {L}")
    idx = np.arange(frames)[:, None] * s + np.arange(L)
    return getitem(x, (Ellipsis, Tensor(idx)))


# ----------------------------------------------------------------------------- complex parts of real tensors
def real(x):
    """The real part: ``x`` itself (this engine's tensors are real); differentiable."""
    return copy(x)


def imag(x):
    """The imaginary part of a real tensor: zeros of its shape and dtype."""
    a = _plain(x)
    return Tensor(get_xp(a).zeros(a.shape, a.dtype if a.dtype.kind == "f" else np.float32))


def conj(x):
    """The complex conjugate of a real tensor: ``x`` itself; differentiable."""
    return copy(x)


def angle(x):
    """The argument of a real number: pi where x < 0, else 0 (float)."""
    a = _plain(x)
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    return Tensor(get_xp(a).where(a < 0, np.pi, 0.0).astype(dt))


def _einops_axes(side, op, pattern):
    import re

    tokens = re.findall(r"\w+|\([^()]*\)|\S", side)
    groups = []
    for t in tokens:
        if t.startswith("("):
            groups.append(t[1:-1].split())
        elif re.fullmatch(r"\w+", t):
            groups.append([t])
        else:
            raise OpError(f"{op}: cannot parse {t!r} in pattern {pattern!r} (names, and groups in parentheses)")
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    """einops-style reshaping and transposing (Keras ``ops.rearrange``): ``"b h w c -> b (h w) c"``,
    ``"b (h1 h) w c -> (b h1) h w c"`` with ``h1=2``; differentiable."""
    x = _t(tensor)
    if "->" not in pattern:
        raise OpError(f"rearrange: the pattern {pattern!r} needs '->'")
    left, right = pattern.split("->")
    ins, outs = _einops_axes(left, "rearrange", pattern), _einops_axes(right, "rearrange", pattern)
    if len(ins) != x.ndim:
        raise OpError(f"rearrange: {pattern!r} names {len(ins)} axes, the tensor has shape {x.shape}")
    sizes = dict(axes_lengths)
    for group, dim in zip(ins, x.shape):
        unknown = [a for a in group if a not in sizes]
        known = int(np.prod([sizes[a] for a in group if a in sizes], dtype=np.int64))
        if len(unknown) > 1:
            raise OpError(f"rearrange: give the lengths of all but one of {group} in {pattern!r}")
        if unknown:
            if known == 0 or dim % known:
                raise OpError(f"rearrange: axis of size {dim} cannot be split as {group} with {axes_lengths}")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise OpError(f"rearrange: {group} has size {known}, the axis {dim}")
    flat_in = [a for g in ins for a in g]
    flat_out = [a for g in outs for a in g]
    if sorted(flat_in) != sorted(flat_out) or len(set(flat_in)) != len(flat_in):
        raise OpError(f"rearrange: {pattern!r} must use each input axis exactly once on both sides")
    y = reshape(x, tuple(sizes[a] for a in flat_in))
    y = transpose(y, [flat_in.index(a) for a in flat_out])
    return reshape(y, tuple(int(np.prod([sizes[a] for a in g], dtype=np.int64)) for g in outs))
