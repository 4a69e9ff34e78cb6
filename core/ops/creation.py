"""Tensor creation by Keras's rules (``keras.ops.arange``, ``linspace``, ``eye``, ``full``,
``ones_like``, window functions, ...): Python ints give int32, floats float32 (floatx)."""
from __future__ import annotations


import numpy as np

from .. import backend
from ..autodiff import Tensor
from ..backend import get_xp
from .math import _plain


def _default_dtype(*values):
    """Keras's dtype for Python/NumPy values: floatx if any is a float, else int32 (bool for bools)."""
    kinds = set()
    for v in values:
        if v is None:
            continue
        a = _plain(v)
        kinds.add(a.dtype.kind)
    if "f" in kinds:
        return backend.floatx()
    if kinds == {"b"}:
        return "bool"
    return "int32"


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    if isinstance(shape, Tensor):
        return tuple(int(s) for s in shape.numpy().reshape(-1))
    return tuple(int(s) for s in shape)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop) (Keras ``ops.arange``: ints -> int32)."""
    dtype = dtype or _default_dtype(start, stop, step)
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, step).astype(dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from start to stop (float32 unless ``dtype``)."""
    out = np.linspace(_plain(start), _plain(stop), num=int(num), endpoint=endpoint, retstep=retstep, axis=axis)
    dt = dtype or backend.floatx()
    if retstep:
        return Tensor(out[0].astype(dt)), Tensor(np.asarray(out[1], dtype=dt))
    return Tensor(out.astype(dt))


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    out = np.logspace(_plain(start), _plain(stop), num=int(num), endpoint=endpoint, base=base, axis=axis)
    return Tensor(out.astype(dtype or backend.floatx()))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    out = np.geomspace(_plain(start), _plain(stop), num=int(num), endpoint=endpoint, axis=axis)
    return Tensor(out.astype(dtype or backend.floatx()))


def eye(N, M=None, k=0, dtype=None):
    """A 2-D tensor with ones on the k-th diagonal (float32 by default)."""
    return Tensor(np.eye(int(N), None if M is None else int(M), int(k), dtype=dtype or backend.floatx()))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the k-th diagonal (float32 by default)."""
    return Tensor(np.tri(int(N), None if M is None else int(M), int(k), dtype=dtype or backend.floatx()))


def full(shape, fill_value, dtype=None):
    """A tensor of ``shape`` filled with ``fill_value`` (float32 unless ``dtype``, as Keras)."""
    dt = dtype or backend.floatx()
    return Tensor(np.broadcast_to(np.asarray(_plain(fill_value)), _shape(shape)).astype(dt))


def ones(shape, dtype=None):
    return Tensor(np.ones(_shape(shape), dtype=dtype or backend.floatx()))


def zeros(shape, dtype=None):
    return Tensor(np.zeros(_shape(shape), dtype=dtype or backend.floatx()))


def empty(shape, dtype=None):
    """Keras ``ops.empty``: a tensor of ``shape`` (zero-filled here, never uninitialised memory)."""
    return zeros(shape, dtype=dtype)


def _like(x, fill, dtype):
    a = _plain(x)
    xp = get_xp(a)
    return Tensor(xp.full(a.shape, fill, dtype=dtype or a.dtype))


def ones_like(x, dtype=None):
    return _like(x, 1, dtype)


def zeros_like(x, dtype=None):
    return _like(x, 0, dtype)


def empty_like(x, dtype=None):
    return _like(x, 0, dtype)


def full_like(x, fill_value, dtype=None):
    return _like(x, _plain(fill_value), dtype)


def _window(fn):
    def op(x):
        return Tensor(fn(int(_plain(x))).astype(backend.floatx()))

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = f"The {fn.__name__} window of ``x`` points (Keras ``ops.{fn.__name__}``), float32."
    return op


bartlett, blackman, hamming, hanning = _window(np.bartlett), _window(np.blackman), _window(np.hamming), _window(np.hanning)


def kaiser(x, beta):
    return Tensor(np.kaiser(int(_plain(x)), float(_plain(beta))).astype(backend.floatx()))


def array(x, dtype=None):
    """``x`` as a Tensor (Keras ``ops.array``); Python floats become float32."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else Tensor(x.data.astype(dtype))
    return Tensor(x, dtype=dtype)


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D tensors (Keras ``ops.meshgrid``); differentiable."""
    from .shape import broadcast_to, reshape

    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in x]
    n = len(ts)
    sizes = [t.size for t in ts]
    if indexing == "xy" and n >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(ts):
        axis = i
        if indexing == "xy" and n >= 2 and i < 2:
            axis = 1 - i
        shape = [1] * n
        shape[axis] = t.size
        out.append(broadcast_to(reshape(t, shape), tuple(sizes)))
    return out


