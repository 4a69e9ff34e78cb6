"""Scalar casts and array helpers shared by the update rules (Keras's dtype conventions)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_xp


def _kcast(t, x):
    """Keras's ``ops.cast(python_float, dtype)``: TF and torch turn the Python float into a
    float32 tensor first, so a float64 parameter sees the float32-rounded constant (no-op for
    float32 parameters)."""
    return t(np.float32(x))


def _subtract_in_place(p, step):
    p -= step


def _host_sqrt(x):
    """sqrt of a host scalar (a NumPy scalar of the parameter dtype), kept off the device."""
    return np.sqrt(x)


def _lr_cast(t, lr):
    """The learning rate as Keras uses it: a ``floatx`` variable cast to the parameter dtype."""
    return t(np.asarray(lr, dtype=backend.floatx()))



def _array_of(g):
    """The raw array of a gradient (an array, a Tensor, or array-like)."""
    data = getattr(g, "data", g)
    if backend.is_array(data):
        return data
    return np.asarray(data)


def _assign(dst, src):
    """``dst[...] = src`` across devices (NumPy <-> CuPy), keeping ``dst``'s dtype."""
    xp = get_xp(dst)
    if xp is np:
        src = backend.to_numpy(getattr(src, "data", src))
    dst[...] = xp.asarray(src, dtype=dst.dtype)
