"""Shape ops: reshape, transpose, expand/squeeze, broadcast, concatenate/stack/split, pad,
indexing, repeat/tile. Views wherever NumPy gives one."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, normalize_axis, sum_to


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


def reshape(x, newshape):
    """``x`` with a new shape (one entry may be -1)."""
    x = _t(x)
    shape = (int(newshape),) if isinstance(newshape, (int, np.integer)) else tuple(int(s) for s in newshape)
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or x.size % known)) or (
            -1 not in shape and known != x.size):
        raise OpError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} values) into {shape}")
    return Reshape(shape).apply(x)


def flatten(x, start_axis=1):
    """Collapse the axes from ``start_axis`` on (Keras Flatten keeps the batch axis)."""
    x = _t(x)
    return reshape(x, x.shape[:start_axis] + (-1,)) if x.ndim > start_axis else x


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return gy.transpose()
        return gy.transpose(np.argsort(self.axes))


def transpose(x, axes=None):
    x = _t(x)
    if axes is not None:
        axes = tuple(int(a) % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise OpError(f"transpose: axes {axes} are not a permutation of a rank-{x.ndim} tensor's axes")
    return Transpose(axes).apply(x)


def swapaxes(x, axis1, axis2):
    x = _t(x)
    perm = list(range(x.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(x, perm)


def expand_dims(x, axis):
    """``x`` with new size-1 axes at ``axis`` (an int or a tuple, positions in the result)."""
    x = _t(x)
    if isinstance(axis, (tuple, list)):
        nd = x.ndim + len(axis)
        axes = normalize_axis("expand_dims", axis, nd)
        shape = iter(x.shape)
        return reshape(x, tuple(1 if i in axes else next(shape) for i in range(nd)))
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise OpError(f"expand_dims: axis {axis} out of range for a result of rank {nd}")
    axis %= nd
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    x = _t(x)
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = normalize_axis("squeeze", axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise OpError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        self.xp = get_xp(x)
        return self.xp.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(self.xp, gy, self.in_shape)


def broadcast_to(x, shape):
    x = _t(x)
    shape = tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise OpError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return BroadcastTo(shape).apply(x)


class Concatenate(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        xp = get_xp(*xs)
        self.sizes = [x.shape[self.axis] for x in xs]
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        idx = np.cumsum(self.sizes)[:-1]
        xp = get_xp(gy)
        return tuple(xp.split(gy, idx.tolist(), axis=self.axis))


def _same_dtype(op, ts):
    from ._util import tensors

    if any(t.dtype.kind == "f" for t in ts):
        return tensors(op, *ts)
    return ts


def concatenate(xs, axis=0):
    ts = _same_dtype("concatenate", [_t(x) for x in xs])
    if not ts:
        raise OpError("concatenate: needs at least one tensor")
    nd = ts[0].ndim
    if not -nd <= axis < nd:
        raise OpError(f"concatenate: axis {axis} out of range for rank {nd}")
    axis %= nd
    for t in ts:
        if t.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if i != axis):
            raise OpError(f"concatenate: shapes {[tuple(t.shape) for t in ts]} differ outside axis {axis}")
    return Concatenate(axis).apply(*ts)


def stack(xs, axis=0):
    ts = [_t(x) for x in xs]
    if not ts:
        raise OpError("stack: needs at least one tensor")
    if any(t.shape != ts[0].shape for t in ts):
        raise OpError(f"stack: all shapes must be equal, got {[tuple(t.shape) for t in ts]}")
    nd = ts[0].ndim + 1
    if not -nd <= axis < nd:
        raise OpError(f"stack: axis {axis} out of range for a result of rank {nd}")
    return concatenate([expand_dims(t, axis % nd) for t in ts], axis=axis % nd)


def split(x, indices_or_sections, axis=0):
    """Split into equal sections (an int) or at the given indices; returns a list of tensors."""
    x = _t(x)
    axis = normalize_axis("split", axis, x.ndim)[0]
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise OpError(f"split: axis {axis} of size {n} cannot be split into {indices_or_sections} equal parts")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(lo, hi)
        out.append(getitem(x, tuple(idx)))
    return out


class Pad(Function):
    def __init__(self, pad_width, value):
        self.pad_width, self.value = pad_width, value

    def forward(self, x):
        xp = get_xp(x)
        self.slices = tuple(slice(lo, lo + s) for (lo, _), s in zip(self.pad_width, x.shape))
        return xp.pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, gy):
        return gy[self.slices]


_GATHER_PAD_MODES = ("reflect", "symmetric", "edge", "wrap")


def pad(x, pad_width, mode="constant", constant_values=None):
    """Padding as ``np.pad``: ``pad_width`` is ((before, after), ...) per axis, or one int for all.
    Modes "constant", "reflect", "symmetric", "edge", "wrap" are differentiable; "maximum", "mean",
    "median", "minimum", "linear_ramp", "empty" pad values without gradient."""
    x = _t(x)
    if constant_values is None:
        constant_values = 0
    if isinstance(pad_width, int):
        pw = ((pad_width, pad_width),) * x.ndim
    else:
        pw = tuple((int(p), int(p)) if np.isscalar(p) else (int(p[0]), int(p[1])) for p in pad_width)
    if len(pw) != x.ndim or any(a < 0 or b < 0 for a, b in pw):
        raise OpError(f"pad: pad_width {pad_width} does not fit a tensor of shape {x.shape} (one non-negative pair per axis)")
    if mode == "constant":
        return Pad(pw, constant_values).apply(x)
    if mode in _GATHER_PAD_MODES:  # a gather: each output index reads one input index
        idx = [np.pad(np.arange(n), p, mode=mode) for n, p in zip(x.shape, pw)]
        return getitem(x, tuple(Tensor(i) for i in np.ix_(*idx)))
    if mode in ("maximum", "mean", "median", "minimum", "linear_ramp", "empty"):
        return Tensor(np.pad(x.numpy(), pw, mode="constant" if mode == "empty" else mode))
    raise OpError(f"pad: unknown mode {mode!r}")


def _index_data(index):
    """Unwrap Tensors inside an index (boolean/integer arrays given as Tensors)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(_index_data(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer)) for i in items)


class GetItem(Function):
    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.xp = get_xp(x)
        self.shape, self.dtype = x.shape, x.dtype
        try:
            return x[self.index]
        except IndexError as e:
            raise OpError(f"getitem: index {self.index!r} is invalid for shape {x.shape}: {e}") from None

    def backward(self, gy):
        g = self.xp.zeros(self.shape, self.dtype)
        if _is_basic(self.index):
            g[self.index] = gy
        else:
            backend.scatter_add(self.xp, g, self.index, gy)
        return g


def getitem(x, key):
    """``x[index]`` with slices, integers, integer arrays and boolean masks; repeated integer
    indices accumulate their gradients."""
    x = _t(x)
    if isinstance(key, list) and any(k is None or k is Ellipsis or isinstance(k, (slice, list, tuple)) for k in key):
        key = tuple(key)  # a key read back from JSON (Keras writes x[:, 0]'s key as a list)
    index = _index_data(key)
    if x.device.kind == "gpu":
        index = tuple(backend.to_device(i, x.device) if isinstance(i, np.ndarray) else i for i in index) \
            if isinstance(index, tuple) else (backend.to_device(index, x.device) if isinstance(index, np.ndarray) else index)
    return GetItem(index).apply(x)


class Repeat(Function):
    def __init__(self, repeats, axis):
        self.repeats, self.axis = repeats, axis

    def forward(self, x):
        self.shape = x.shape
        return get_xp(x).repeat(x, self.repeats, axis=self.axis)

    def backward(self, gy):
        a, r = self.axis, self.repeats
        shape = self.shape[:a] + (self.shape[a], r) + self.shape[a + 1:]
        return gy.reshape(shape).sum(axis=a + 1)


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (of the flattened tensor when None);
    ``repeats`` an int or one count per element, as np.repeat. Differentiable."""
    x = _t(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    axis = normalize_axis("repeat", axis, x.ndim)[0]
    if isinstance(repeats, Tensor):
        repeats = repeats.numpy()
    if not isinstance(repeats, (int, np.integer)):
        counts = np.asarray(repeats).reshape(-1)
        if counts.size == 1:
            repeats = int(counts[0])
        else:
            if counts.size != x.shape[axis] or counts.dtype.kind not in "iu" or (counts < 0).any():
                raise OpError(f"repeat: repeats must be one non-negative int per element of axis {axis} "
                              f"(size {x.shape[axis]}), got {repeats!r}")
            idx = np.repeat(np.arange(x.shape[axis]), counts)
            return getitem(x, (slice(None),) * axis + (Tensor(idx),))
    if repeats < 0:
        raise OpError(f"repeat: repeats must be a non-negative int, got {repeats!r}")
    return Repeat(int(repeats), axis).apply(x)


class Tile(Function):
    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        self.shape = x.shape
        return get_xp(x).tile(x, self.reps)

    def backward(self, gy):
        shape = []
        for r, s in zip(self.reps, self.shape):
            shape += [r, s]
        return gy.reshape(shape).sum(axis=tuple(range(0, 2 * len(self.shape), 2)))


def tile(x, repeats):
    x = _t(x)
    reps = (int(repeats),) if isinstance(repeats, (int, np.integer)) else tuple(int(r) for r in repeats)
    if len(reps) > x.ndim:
        x = reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    reps = (1,) * (x.ndim - len(reps)) + reps
    return Tile(reps).apply(x)
