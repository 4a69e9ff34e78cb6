"""Tensors in and out, by Keras's rules: ``convert_to_tensor`` (Python ints -> int32, floats ->
float32), ``convert_to_numpy``, ``is_tensor``, ``shape`` (a tuple, None for unknown symbolic
dims), ``ndim``, ``size``, ``dtype`` (a name), ``saturate_cast``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autodiff import Tensor
from .elementwise import cast
from .keras_tensor import KerasTensor


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as a Tensor; Tensors pass through (cast when ``dtype`` differs)."""
    if sparse or ragged:
        raise NotImplementedError("keras.ops.convert_to_tensor(sparse=True / ragged=True) is not supported yet: "
                                  "this engine has dense tensors only")
    if isinstance(x, KerasTensor):
        return x if dtype is None else cast(x, dtype)
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else cast(x, dtype)
    if not backend.is_array(x) and not isinstance(x, np.generic):
        a = np.asarray(x)
        if a.dtype == np.int64 and dtype is None and (a.size == 0 or (a.min() >= -2 ** 31 and a.max() < 2 ** 31)):
            a = a.astype(np.int32)
        return Tensor(a, dtype=dtype)
    return Tensor(x, dtype=dtype)


def convert_to_numpy(x):
    """``x`` as a NumPy array (copied from the GPU when needed)."""
    if isinstance(x, KerasTensor):
        raise TypeError("convert_to_numpy: a symbolic KerasTensor has no value")
    if isinstance(x, Tensor):
        return x.numpy()
    return backend.to_numpy(x) if backend.is_array(x) else np.asarray(x)


def is_tensor(x) -> bool:
    """Whether ``x`` is a tensor of this engine."""
    return isinstance(x, Tensor)


def shape(x) -> tuple:
    """The shape as a tuple of ints (None for unknown dims of a symbolic tensor)."""
    if isinstance(x, (Tensor, KerasTensor)):
        return tuple(x.shape)
    return tuple(np.shape(x))


def ndim(x) -> int:
    return len(shape(x))


def size(x) -> int:
    s = shape(x)
    if any(d is None for d in s):
        raise ValueError(f"size: the shape {s} has unknown dimensions")
    return int(np.prod(s, dtype=np.int64))


def dtype(x) -> str:
    """The dtype's name ('float32', 'int32', ...)."""
    if isinstance(x, (Tensor, KerasTensor)):
        if x.dtype is backend.STRING or x.dtype.kind in "US":
            return "string"
        return np.dtype(x.dtype).name
    return convert_to_tensor(x).dtype.name


def saturate_cast(x, dtype):
    """Cast with the values first clipped to the target dtype's range (no wrap-around)."""
    from .elementwise import clip

    t = x if isinstance(x, Tensor) else convert_to_tensor(x)
    target = np.dtype(dtype)
    if target.kind in "iu" or (target.kind == "f" and t.dtype.kind == "f" and target.itemsize < t.dtype.itemsize):
        info = np.iinfo(target) if target.kind in "iu" else np.finfo(target)
        lo, hi = float(info.min), float(info.max)
        if t.dtype.kind == "f":
            if target.kind in "iu":  # the largest float of t's dtype not above the bound
                hi = float(np.nextafter(t.dtype.type(hi), t.dtype.type(0))) if t.dtype.type(hi) > hi else hi
            t = clip(t, lo, hi)
        else:
            src = np.iinfo(t.dtype)
            t = Tensor(np.clip(t.data, max(lo, src.min), min(hi, src.max)))
    return cast(t, target) if t.dtype.kind == "f" and target.kind == "f" else Tensor(t.data.astype(target))
