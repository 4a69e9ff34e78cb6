"""Symbolic tensors of the Functional API (``KerasTensor``) and the nested-structure helpers
the symbolic machinery walks (lists, tuples, dicts of tensors)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import STRING, is_string_dtype

_ops = None  # the core.ops module; set by core.ops when it is imported (operators build op nodes)


class OutputSpec(NamedTuple):
    shape: tuple
    dtype: str
    has_mask: bool = False


def flatten(structure):
    """The leaves of nested lists, tuples and dicts (dicts in key order)."""
    if isinstance(structure, (list, tuple)):
        out = []
        for s in structure:
            out.extend(flatten(s))
        return out
    if isinstance(structure, dict):
        out = []
        for k in structure:
            out.extend(flatten(structure[k]))
        return out
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, list):
        return [map_structure(fn, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def is_symbolic(structure) -> bool:
    return any(isinstance(t, KerasTensor) for t in flatten(structure))


def _has_keras_tensor(seq) -> bool:
    for a in seq:
        t = type(a)
        if t is KerasTensor or isinstance(a, KerasTensor):
            return True
        if (t is list or t is tuple) and _has_keras_tensor(a):
            return True
        if t is dict and _has_keras_tensor(a.values()):
            return True
    return False


def any_symbolic_tensors(args=(), kwargs=None) -> bool:
    """Whether a KerasTensor is among ``args``/``kwargs`` (nested lists/tuples/dicts too)."""
    return _has_keras_tensor(args) or bool(kwargs) and _has_keras_tensor(kwargs.values())


def is_keras_tensor(x) -> bool:
    return isinstance(x, KerasTensor)


class KerasTensor:
    """A symbolic tensor of the Functional API: a shape (None for unknown dims), a dtype, and
    the operation call (``Node``) that produced it. Arithmetic, comparisons and indexing on it
    build graph nodes (``x + 1``, ``x[:, 0]``, ``x @ w``), as in Keras."""

    __array_priority__ = 1001  # ndarray (op) KerasTensor -> our reflected operator
    __array_ufunc__ = None

    def __init__(self, shape, dtype="float32", name=None, history=None, has_mask=False):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = STRING if is_string_dtype(dtype) else np.dtype(dtype)
        self.name = name
        self._history = history  # (node, index in node outputs)
        self._has_mask = has_mask

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def _keras_mask(self):
        """The mask this symbolic tensor carries, as Keras shows it: a boolean KerasTensor over the
        (batch, time) axes, or None. For inspection (``print(x._keras_mask)``); layers receive the
        real mask when the model runs."""
        if not self._has_mask:
            return None
        return KerasTensor(self.shape[:2] if self.ndim >= 2 else self.shape, "bool",
                           name=f"{self.name}_mask" if self.name else None)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, name={self.name}>"

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("a symbolic KerasTensor has no truth value; use keras.ops.cond / keras.ops.where")

    def __iter__(self):
        raise TypeError("a symbolic KerasTensor cannot be iterated over; use keras.ops.unstack")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a symbolic KerasTensor has no value: it cannot be converted to a NumPy array. It is a placeholder "
            "of a Functional model; use keras.ops on it, or wrap the NumPy code in a custom layer's call()")

    def __int__(self):
        raise TypeError("a symbolic KerasTensor has no value: int() is not defined on it")

    def __float__(self):
        raise TypeError("a symbolic KerasTensor has no value: float() is not defined on it")

    def reshape(self, newshape):
        return _ops.reshape(self, newshape)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis=axis)

    def astype(self, dtype):
        return _ops.cast(self, dtype)

    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.subtract(self, other)
    def __rsub__(self, other): return _ops.subtract(other, self)
    def __mul__(self, other): return _ops.multiply(self, other)
    def __rmul__(self, other): return _ops.multiply(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __truediv__(self, other): return _ops.true_divide(self, other)
    def __rtruediv__(self, other): return _ops.true_divide(other, self)
    def __floordiv__(self, other): return _ops.floor_divide(self, other)
    def __rfloordiv__(self, other): return _ops.floor_divide(other, self)
    def __mod__(self, other): return _ops.mod(self, other)
    def __rmod__(self, other): return _ops.mod(other, self)
    def __pow__(self, other): return _ops.power(self, other)
    def __rpow__(self, other): return _ops.power(other, self)
    def __neg__(self): return _ops.negative(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.absolute(self)
    def __invert__(self): return _ops.logical_not(self)
    def __lt__(self, other): return _ops.less(self, other)
    def __le__(self, other): return _ops.less_equal(self, other)
    def __gt__(self, other): return _ops.greater(self, other)
    def __ge__(self, other): return _ops.greater_equal(self, other)
    def __ne__(self, other): return _ops.not_equal(self, other)
    def __and__(self, other): return _ops.logical_and(self, other)
    def __rand__(self, other): return _ops.logical_and(other, self)
    def __or__(self, other): return _ops.logical_or(self, other)
    def __ror__(self, other): return _ops.logical_or(other, self)
    def __xor__(self, other): return _ops.logical_xor(self, other)
    def __rxor__(self, other): return _ops.logical_xor(other, self)
    def __getitem__(self, key): return _ops.get_item(self, key)
    def __round__(self, ndigits=None): return _ops.round(self, decimals=ndigits or 0)
