"""Gathers and scatters by Keras's rules: ``take``, ``take_along_axis``, ``slice``,
``slice_update``, ``scatter``, ``scatter_update``, ``segment_sum``/``max``, ``one_hot``,
``multi_hot``, ``where`` with one argument, ``nonzero``, ``searchsorted``, ``bincount``, ...
Gathers are differentiable (scatter-added gradients); index outputs carry none."""
from __future__ import annotations

import builtins

import numpy as np

from .. import backend
from ..autodiff import Function, Tensor
from ..backend import get_xp, scatter_add
from ._util import OpError, normalize_axis, tensors
from .math import _plain
from .shape import getitem, reshape


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _indices(op, idx, like=None):
    a = _plain(idx)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and a.size and not np.all(np.asarray(backend.to_numpy(a)) == np.floor(backend.to_numpy(a))):
            raise OpError(f"{op}: indices must be integers, got dtype {a.dtype}")
        a = a.astype(np.int64)
    if like is not None and backend.device_of(a) != like.device:
        a = backend.to_device(a, like.device)
    return a


def take(x, indices, axis=None):
    """Elements of ``x`` at ``indices`` along ``axis`` (the flattened ``x`` when None); negative
    indices count from the end. Differentiable in ``x``."""
    x = _t(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    axis = normalize_axis("take", axis, x.ndim)[0]
    idx = _indices("take", indices, x)
    n = x.shape[axis]
    if idx.size and (idx.max() >= n or idx.min() < -n):
        raise OpError(f"take: index {int(idx.max() if idx.max() >= n else idx.min())} is out of range for axis "
                      f"{axis} of size {n}")
    return getitem(x, (builtins.slice(None),) * axis + (Tensor(idx),))


def take_along_axis(x, indices, axis=None):
    """``x`` gathered by ``indices`` of the same rank along ``axis`` (broadcasting the other axes)."""
    x = _t(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    idx = _indices("take_along_axis", indices, x)
    if idx.ndim != x.ndim:
        raise OpError(f"take_along_axis: indices of rank {idx.ndim} do not match x of rank {x.ndim}")
    axis = normalize_axis("take_along_axis", axis, x.ndim)[0]
    shape = np.broadcast_shapes(tuple(s if i != axis else 1 for i, s in enumerate(x.shape)),
                                tuple(s if i != axis else 1 for i, s in enumerate(idx.shape)))
    xp = get_xp(idx)
    out_shape = shape[:axis] + (idx.shape[axis],) + shape[axis + 1:]
    idx = xp.broadcast_to(idx, out_shape)
    x = _broadcast_except(x, shape, axis)
    grids = list(xp.ix_(*[xp.arange(s) for s in out_shape]))
    grids[axis] = xp.where(idx < 0, idx + x.shape[axis], idx)
    return getitem(x, tuple(Tensor(g) for g in grids))


def _broadcast_except(x, shape, axis):
    from .shape import broadcast_to

    target = shape[:axis] + (x.shape[axis],) + shape[axis + 1:]
    return x if tuple(x.shape) == target else broadcast_to(x, target)


def slice(inputs, start_indices, shape):
    """The block of ``shape`` starting at ``start_indices`` (Keras ``ops.slice``); differentiable."""
    x = _t(inputs)
    starts = [int(s) for s in np.asarray(_plain(start_indices)).reshape(-1)]
    sizes = [int(s) for s in np.asarray(_plain(shape)).reshape(-1)]
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise OpError(f"slice: start_indices {starts} and shape {sizes} need one entry per axis of {x.shape}")
    sizes = [x.shape[i] - s if n == -1 else n for i, (s, n) in enumerate(zip(starts, sizes))]
    return getitem(x, tuple(builtins.slice(s, s + n) for s, n in zip(starts, sizes)))


class ReplaceAt(Function):
    """``x`` with ``x[index]`` replaced by ``u``: the gradient of ``x`` is zero there, ``u``'s is read there."""

    def __init__(self, index):
        self.index = index

    def forward(self, x, u):
        out = x.copy()
        out[self.index] = u
        return out

    def backward(self, gy):
        gx = None
        if self.needs_input_grad[0]:
            gx = gy.copy()
            gx[self.index] = 0
        return gx, (gy[self.index] if self.needs_input_grad[1] else None)


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates``; differentiable in both."""
    x = _t(inputs)
    u = _t(updates)
    if x.dtype.kind == "f" or u.dtype.kind == "f":
        x, u = tensors("slice_update", x, u)
    starts = [int(s) for s in np.asarray(_plain(start_indices)).reshape(-1)]
    if len(starts) != x.ndim or u.ndim != x.ndim:
        raise OpError(f"slice_update: start_indices {starts} and updates {u.shape} must match the rank of {x.shape}")
    if any(s < 0 or s + n > d for s, n, d in zip(starts, u.shape, x.shape)):
        raise OpError(f"slice_update: updates {u.shape} at {starts} do not fit inside {x.shape}")
    index = tuple(builtins.slice(s, s + n) for s, n in zip(starts, u.shape))
    if u.dtype != x.dtype:
        u = Tensor(u.data.astype(x.dtype))
    return ReplaceAt(index).apply(x, u)


def _nd_index(op, indices, shape):
    idx = _indices(op, indices)
    if idx.ndim < 1 or idx.shape[-1] > len(shape):
        raise OpError(f"{op}: indices of shape {idx.shape} do not index a tensor of shape {tuple(shape)}")
    k = idx.shape[-1]
    for j in range(k):
        col = idx[..., j]
        if col.size and (col.min() < 0 or col.max() >= shape[j]):
            raise OpError(f"{op}: index {int(col.max() if col.max() >= shape[j] else col.min())} out of range "
                          f"for axis {j} of size {shape[j]}")
    return tuple(idx[..., j] for j in range(k))


class Scatter(Function):
    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, v):
        xp = get_xp(v)
        out = xp.zeros(self.shape, v.dtype)
        return scatter_add(xp, out, self.index, v)

    def backward(self, gy):
        return gy[self.index]


def scatter(indices, values, shape):
    """A zeros tensor of ``shape`` with ``values`` added at the (N, k) ``indices`` (duplicates sum,
    as Keras/TensorFlow ``scatter_nd``); differentiable in ``values``."""
    v = _t(values)
    shape = tuple(int(s) for s in np.asarray(_plain(shape)).reshape(-1))
    index = _nd_index("scatter", indices, shape)
    xp = get_xp(v.data)
    index = tuple(backend.to_device(i, v.device) if xp is not np else i for i in index)
    want = index[0].shape + shape[len(index):]
    if tuple(v.shape) != want:
        raise OpError(f"scatter: values of shape {v.shape} do not match indices (need {want})")
    if v.dtype.kind != "f":
        out = xp.zeros(shape, v.dtype)
        return Tensor(scatter_add(xp, out, index, v.data))
    return Scatter(index, shape).apply(v)


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with the slices at the (N, k) ``indices`` replaced by ``updates`` (``reduction``
    "add", "mul", "max", "min" combine instead); differentiable in both for replacement and "add"."""
    x = _t(inputs)
    u = _t(updates)
    if x.dtype.kind == "f" or u.dtype.kind == "f":
        x, u = tensors("scatter_update", x, u)
    index = _nd_index("scatter_update", indices, x.shape)
    want = index[0].shape + tuple(x.shape[len(index):])
    if tuple(u.shape) != want:
        raise OpError(f"scatter_update: updates of shape {u.shape} do not match indices (need {want})")
    if reduction is None:
        return ReplaceAt(index).apply(x, u)
    if reduction == "add":
        from .elementwise import add

        return add(x, scatter(indices, u, x.shape)) if u.dtype.kind == "f" else Tensor(
            scatter_add(x.xp, x.data.copy(), index, u.data))
    ufunc = {"mul": np.multiply, "max": np.maximum, "min": np.minimum}.get(reduction)
    if ufunc is None:
        raise OpError(f"scatter_update: reduction must be None, 'add', 'mul', 'max' or 'min', got {reduction!r}")
    out = backend.to_numpy(x.data).copy()
    ufunc.at(out, tuple(backend.to_numpy(i) for i in index), backend.to_numpy(u.data))
    return Tensor(out)


# ----------------------------------------------------------------------------- segments
def _segments(op, data, segment_ids, num_segments):
    d = _t(data)
    ids = _indices(op, segment_ids, d)
    if ids.ndim != 1 or ids.shape[0] != d.shape[0]:
        raise OpError(f"{op}: segment_ids must be 1-D with one id per row of data {d.shape}, got {ids.shape}")
    if num_segments is None:
        num_segments = int(ids.max()) + 1 if ids.size else 0
    return d, ids, int(num_segments)


class SegmentSum(Function):
    def __init__(self, ids, n):
        self.ids, self.n = ids, n

    def forward(self, d):
        xp = get_xp(d)
        out = xp.zeros((self.n,) + d.shape[1:], d.dtype)
        keep = self.ids < self.n  # ids past num_segments are dropped, as TensorFlow's unsorted_segment_sum
        return scatter_add(xp, out, self.ids[keep], d[keep])

    def backward(self, gy):
        xp = get_xp(gy)
        ok = self.ids < self.n
        g = gy[xp.where(ok, self.ids, 0)]
        g[~ok] = 0
        return g


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of the rows of ``data`` per segment id (Keras ``ops.segment_sum``); differentiable."""
    d, ids, n = _segments("segment_sum", data, segment_ids, num_segments)
    if d.dtype.kind != "f":
        out = d.xp.zeros((n,) + d.shape[1:], d.dtype)
        keep = ids < n
        return Tensor(scatter_add(d.xp, out, ids[keep], d.data[keep]))
    return SegmentSum(ids, n).apply(d)


class SegmentMax(Function):
    fn = np.maximum
    fill = -np.inf

    def __init__(self, ids, n):
        self.ids, self.n = ids, n

    def forward(self, d):
        dn = backend.to_numpy(d)
        init = np.finfo(dn.dtype).min if self.fn is np.maximum else np.finfo(dn.dtype).max
        out = np.full((self.n,) + dn.shape[1:], init, dn.dtype)
        keep = self.ids < self.n
        ids = backend.to_numpy(self.ids)[backend.to_numpy(keep)]
        self.fn.at(out, ids, dn[backend.to_numpy(keep)])
        # the winners share the gradient of their segment's value equally
        safe = np.where(backend.to_numpy(keep), backend.to_numpy(self.ids), 0)
        hit = (dn == out[safe]) & backend.to_numpy(keep).reshape((-1,) + (1,) * (dn.ndim - 1))
        counts = np.zeros(out.shape, dn.dtype)
        np.add.at(counts, safe[backend.to_numpy(keep)], hit[backend.to_numpy(keep)].astype(dn.dtype))
        self.safe, self.hit, self.counts = safe, hit, counts
        xp = get_xp(d)
        return backend.to_device(out, backend.device_of(d)) if xp is not np else out

    def backward(self, gy):
        g = backend.to_numpy(gy)
        share = np.where(self.counts > 0, g / np.maximum(self.counts, 1), 0)
        gx = np.where(self.hit, share[self.safe], 0).astype(g.dtype)
        return backend.to_device(gx, backend.device_of(gy)) if get_xp(gy) is not np else gx


class SegmentMin(SegmentMax):
    fn = np.minimum


def _segment_extreme(op, cls, ufunc, data, segment_ids, num_segments):
    d, ids, n = _segments(op, data, segment_ids, num_segments)
    if d.dtype.kind == "f":
        return cls(ids, n).apply(d)
    info = np.iinfo(d.dtype) if d.dtype.kind in "iu" else None
    fill = (info.min if ufunc is np.maximum else info.max) if info is not None else ufunc is np.minimum
    out = np.full((n,) + d.shape[1:], fill, d.dtype)
    ids = backend.to_numpy(ids)
    keep = ids < n
    ufunc.at(out, ids[keep], backend.to_numpy(d.data)[keep])
    return Tensor(out)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maxima of the rows of ``data`` per segment (empty segments: the dtype's lowest value, as
    TensorFlow); ties share the gradient."""
    return _segment_extreme("segment_max", SegmentMax, np.maximum, data, segment_ids, num_segments)


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    """Minima of the rows of ``data`` per segment (empty segments: the dtype's highest value)."""
    return _segment_extreme("segment_min", SegmentMin, np.minimum, data, segment_ids, num_segments)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    """Products per segment; no gradient."""
    d, ids, n = _segments("segment_prod", data, segment_ids, num_segments)
    out = np.ones((n,) + d.shape[1:], d.dtype)
    ids = backend.to_numpy(ids)
    keep = ids < n
    np.multiply.at(out, ids[keep], backend.to_numpy(d.data)[keep])
    return Tensor(out)


# ----------------------------------------------------------------------------- encodings
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encoding of integer ``x`` with a new axis of ``num_classes`` (Keras ``ops.one_hot``:
    an index outside [0, num_classes), -1 included, gives a row of zeros)."""
    if sparse:
        raise NotImplementedError("keras.ops.one_hot(sparse=True) is not supported yet: sparse tensors are not "
                                  "part of this engine; use sparse=False")
    idx = _indices("one_hot", x)
    xp = get_xp(idx)
    n = int(num_classes)
    out = (idx[..., None] == xp.arange(n)).astype(dtype or backend.floatx())
    nd = out.ndim
    if not -nd <= axis < nd:
        raise OpError(f"one_hot: axis {axis} is out of range for a result of rank {nd}")
    if axis % nd != nd - 1:
        out = xp.moveaxis(out, -1, axis % nd)
    return Tensor(out)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """The union of one-hot encodings over the last axis of ``inputs`` (Keras ``ops.multi_hot``)."""
    num_classes = kwargs.pop("num_tokens", num_classes)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected keyword argument(s) {sorted(kwargs)}")
    if num_classes is None:
        raise OpError("multi_hot: num_classes is required")
    if sparse:
        raise NotImplementedError("keras.ops.multi_hot(sparse=True) is not supported yet: use sparse=False")
    idx = _indices("multi_hot", inputs)
    xp = get_xp(idx)
    batched = idx.ndim > 1
    hot = (idx[..., None] == xp.arange(int(num_classes))).any(axis=-2 if batched else 0)
    out = hot.astype(dtype or backend.floatx())
    if axis != -1 and axis != out.ndim - 1:
        out = xp.moveaxis(out, -1, axis)
    return Tensor(out)


# ----------------------------------------------------------------------------- index queries
def nonzero(x):
    """A tuple of index tensors, one per axis, of the non-zero elements."""
    a = _plain(x)
    return tuple(Tensor(i.astype(np.int32)) for i in get_xp(a).nonzero(a))


def argwhere(x):
    a = _plain(x)
    return Tensor(get_xp(a).argwhere(a).astype(np.int32))


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` else ``x2`` (broadcasting, differentiable in both); with only the
    condition, the indices of its true elements (as ``nonzero``)."""
    from .elementwise import where as _where

    if x1 is None and x2 is None:
        return nonzero(condition)
    if x1 is None or x2 is None:
        raise OpError("where: give both x1 and x2, or neither")
    a, b = _plain(x1), _plain(x2)
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        c = _plain(condition)
        return Tensor(get_xp(c, a, b).where(c.astype(bool), a, b))
    return _where(condition, x1, x2)


def select(condlist, choicelist, default=0):
    """For each element, the value of the first choice whose condition holds (``default`` else)."""
    if len(condlist) != len(choicelist):
        raise OpError(f"select: {len(condlist)} conditions for {len(choicelist)} choices")
    out = default
    for c, v in zip(reversed(condlist), reversed(choicelist)):
        out = where(c, v, out)
    return out if isinstance(out, Tensor) else Tensor(out)


def searchsorted(sorted_sequence, values, side="left"):
    """Insertion indices of ``values`` into the 1-D ``sorted_sequence`` (int32, as Keras)."""
    s, v = _plain(sorted_sequence), _plain(values)
    if s.ndim != 1:
        raise OpError(f"searchsorted: sorted_sequence must be 1-D, got shape {s.shape}")
    if side not in ("left", "right"):
        raise OpError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    return Tensor(get_xp(s).searchsorted(s, v, side=side).astype(np.int32))


def digitize(x, bins):
    a, b = _plain(x), _plain(bins)
    return Tensor(get_xp(a).digitize(a, b).astype(np.int32))


def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts of each non-negative integer in ``x`` (per row for 2-D ``x``, as Keras)."""
    a = backend.to_numpy(_indices("bincount", x))
    w = None if weights is None else backend.to_numpy(_plain(weights))
    if a.size and a.min() < 0:
        raise OpError(f"bincount: values must be non-negative, got {int(a.min())}")
    if a.ndim == 1:
        out = np.bincount(a, weights=w, minlength=minlength)
    elif a.ndim == 2:
        n = max(int(a.max()) + 1 if a.size else 0, int(minlength))
        out = np.stack([np.bincount(r, weights=None if w is None else w[i], minlength=n) for i, r in enumerate(a)])
    else:
        raise OpError(f"bincount: x must be 1-D or 2-D, got shape {a.shape}")
    dt = w.dtype if w is not None else np.int32
    return Tensor(out.astype(dt))


def unique(x, sorted=True, return_inverse=False, return_counts=False, axis=None, size=None, fill_value=None):
    """The unique values of ``x`` (NumPy's semantics; ``size`` pads or truncates to a fixed length)."""
    a = backend.to_numpy(_plain(x))
    res = np.unique(a, return_inverse=return_inverse, return_counts=return_counts, axis=axis)
    res = res if isinstance(res, tuple) else (res,)
    vals = res[0]
    if size is not None:
        fill = vals.min() if fill_value is None and vals.size else (fill_value or 0)
        pad = np.full((int(size),) + vals.shape[1:], fill, vals.dtype)
        pad[:min(int(size), len(vals))] = vals[:int(size)]
        vals = pad
    out = (Tensor(vals),) + tuple(Tensor(r.astype(np.int32)) for r in res[1:])
    return out[0] if len(out) == 1 else out


def unravel_index(indices, shape):
    a = backend.to_numpy(_indices("unravel_index", indices))
    return tuple(Tensor(i.astype(np.int32)) for i in np.unravel_index(a, tuple(int(s) for s in shape)))
