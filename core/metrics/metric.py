"""The metric base class and its state ``Variable``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_xp, to_device, to_numpy
from .metrics_utils import _arr, _snake

class Variable:
    """A metric state array with ``assign``/``assign_add``; follows the device of what is added."""

    __array_priority__ = 1000

    def __init__(self, shape=(), dtype="float32", name=None, initializer="zeros"):
        self.name = name
        self.dtype = np.dtype(dtype)
        self._shape = tuple(shape)
        self._initializer = initializer
        self.value = self._initial()

    def _initial(self):
        init = self._initializer
        if callable(init) and not isinstance(init, str):
            return np.asarray(init(self._shape, self.dtype), dtype=self.dtype)
        if init in ("zeros", None):
            return np.zeros(self._shape, self.dtype)
        if init == "ones":
            return np.ones(self._shape, self.dtype)
        raise ValueError(f"metric variable {self.name!r}: unknown initializer {init!r}; use 'zeros', 'ones' or a "
                         f"function (shape, dtype) -> array")

    @property
    def shape(self):
        return self.value.shape

    def _coerce(self, v):
        v = _arr(v)
        if backend.device_of(v) != backend.device_of(self.value):
            if backend.device_of(v).kind == "cpu":
                v = to_device(v, backend.device_of(self.value))
            else:
                self.value = to_device(self.value, backend.device_of(v))
        return v.astype(self.dtype, copy=False)

    def assign(self, v):
        v = self._coerce(v)
        xp = get_xp(self.value)
        self.value = xp.array(xp.broadcast_to(v, self.value.shape), dtype=self.dtype)
        return self

    def assign_add(self, v):
        self.value = (self.value + self._coerce(v)).astype(self.dtype, copy=False)
        return self

    def assign_sub(self, v):
        self.value = (self.value - self._coerce(v)).astype(self.dtype, copy=False)
        return self

    def reset(self):
        self.value = self._initial()

    def numpy(self):
        return to_numpy(self.value)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a.astype(dtype) if dtype is not None else a

    def __float__(self):
        return float(self.value)

    def __getitem__(self, i):
        return self.value[i]

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return f"<Variable {self.name} shape={self.shape} dtype={self.dtype.name}>"

    # arithmetic on the current value (for result() code written Keras-style)
    def __add__(self, o): return self.value + _val(o)
    def __radd__(self, o): return _val(o) + self.value
    def __sub__(self, o): return self.value - _val(o)
    def __rsub__(self, o): return _val(o) - self.value
    def __mul__(self, o): return self.value * _val(o)
    def __rmul__(self, o): return _val(o) * self.value
    def __truediv__(self, o): return self.value / _val(o)
    def __rtruediv__(self, o): return _val(o) / self.value
    def __neg__(self): return -self.value


def _val(o):
    return o.value if isinstance(o, Variable) else o


class Metric:
    """Base class: state in ``add_variable`` Variables; subclasses implement ``update_state``
    and ``result``. ``metric(y_true, y_pred)`` updates and returns the result."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self._dtype = np.dtype(dtype or backend.floatx())
        self._variables = []

    @property
    def dtype(self):
        return self._dtype.name

    @property
    def variables(self):
        return list(self._variables)

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A new state Variable (reset to its initial value by ``reset_state``)."""
        v = Variable(shape, dtype or self._dtype, name=name, initializer=initializer)
        self._variables.append(v)
        return v

    add_weight = add_variable

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self):
        """Back to the initial state (zeros)."""
        for v in self._variables:
            v.reset()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
