"""Tensors with reverse-mode automatic differentiation.

A ``Function`` computes ``forward(*arrays)`` on raw NumPy/CuPy arrays and keeps only what
its ``backward(*grads)`` needs (as Chainer's FunctionNode). ``Tensor.backward()`` walks the
graph in topological order by generation number, accumulates gradients for fan-out, and
frees the graph as it goes unless ``retain_graph=True``.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import weakref

import numpy as np

from . import backend
from .backend import get_xp, is_array

_state = threading.local()
_ops = None  # the core.ops module; set by core.ops when it is imported (breaks the import cycle)


def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def no_grad():
    """Context in which no graph is recorded (inference, optimizer updates)."""
    prev = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = prev


@contextlib.contextmanager
def enable_grad():
    prev = is_grad_enabled()
    _state.grad_enabled = True
    try:
        yield
    finally:
        _state.grad_enabled = prev


def _to_array(data, dtype=None, device=None):
    """Turn data into an array on the right device. Arrays keep their dtype; Python floats
    and lists of them become ``floatx`` (float32), never float64."""
    if isinstance(data, Tensor):
        data = data.data
    if is_array(data):
        arr = data
    else:
        typed = isinstance(data, np.generic)
        arr = np.asarray(data)
        if arr.dtype.kind == "f" and not typed:
            arr = arr.astype(backend.floatx())
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    if device is not None:
        arr = backend.to_device(arr, device)
    elif backend.config._device_spec != "cpu" and backend.device_of(arr).kind == "cpu" and not backend.holds_text(arr):
        arr = backend.to_device(arr, backend.config.device)
    return arr


class Tensor:
    """An n-dimensional array with an optional gradient.

    ``data`` is a NumPy or CuPy array; ``grad`` is filled by ``backward()`` for every tensor
    that ``requires_grad`` and is a leaf of the graph (or has ``retain_grad()`` called).
    """

    __array_priority__ = 1000  # so ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None, device=None, name: str | None = None):
        self.data = _to_array(data, dtype=dtype, device=device)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.creator: Function | None = None
        self.generation = 0
        self.name = name
        self._retain_grad = False

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def device(self) -> backend.Device:
        return backend.device_of(self.data)

    @property
    def xp(self):
        return get_xp(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({backend.to_numpy(self.data)!r}, device={self.device}{grad})"

    # ----------------------------------------------------------------- conversion
    def numpy(self):
        """The data as a NumPy array (copied from the GPU when needed)."""
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr.astype(dtype) if dtype is not None else arr

    def item(self):
        return self.data.item()

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def to(self, device) -> "Tensor":
        """This tensor on ``device`` ('cpu', 'gpu', 'gpu:N'); differentiable."""
        dev = backend.get_device(device)
        if dev == self.device:
            return self
        return _ops.to_device(self, dev)

    def astype(self, dtype) -> "Tensor":
        return _ops.cast(self, dtype)

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def retain_grad(self) -> "Tensor":
        """Keep ``grad`` on this non-leaf tensor after backward."""
        self._retain_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # ----------------------------------------------------------------- backprop
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Back-propagate from this tensor; ``grad`` defaults to ones (a scalar loss)."""
        xp = self.xp
        if grad is None:
            grad = xp.ones_like(self.data)
        else:
            grad = _to_array(grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad shape {grad.shape} != tensor shape {self.shape}")
        if self.creator is None:
            if self.requires_grad:
                self.grad = grad if self.grad is None else self.grad + grad
            return
        grads = {id(self): grad}
        order = itertools.count()
        heap = [(-self.creator.generation, next(order), self.creator)]
        seen = {id(self.creator)}
        keepalive = [self]
        heappop, heappush = heapq.heappop, heapq.heappush
        while heap:
            fn = heappop(heap)[2]
            if fn.inputs is None:
                raise RuntimeError(
                    f"backward through {type(fn).__name__} a second time: its graph was freed; "
                    "pass retain_graph=True to the first backward()")
            gys = []
            missing = False
            anyg = False
            for ref in fn.outputs:
                out = ref()
                g = grads.pop(id(out), None) if out is not None else None
                if g is None:
                    missing = True
                else:
                    anyg = True
                    if out._retain_grad:
                        out.grad = g if out.grad is None else out.grad + g
                gys.append(g)
            if not anyg:
                if not retain_graph:
                    fn.release()
                continue
            if missing:
                gys = [xp.zeros(shape, dtype) if g is None else g for g, (shape, dtype) in zip(gys, fn.output_meta)]
            gxs = fn.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            if len(gxs) != len(fn.inputs):
                raise RuntimeError(f"{type(fn).__name__}.backward returned {len(gxs)} grads for {len(fn.inputs)} inputs")
            for x, gx in zip(fn.inputs, gxs):
                if gx is None or not x.requires_grad:
                    continue
                xd = x.data
                if gx.shape != xd.shape:
                    raise RuntimeError(f"{type(fn).__name__}.backward: grad shape {gx.shape} != input shape {x.shape}")
                if gx.dtype != xd.dtype:
                    gx = gx.astype(xd.dtype)
                creator = x.creator
                if creator is None:
                    x.grad = gx if x.grad is None else x.grad + gx
                else:
                    key = id(x)
                    prev = grads.get(key)
                    grads[key] = gx if prev is None else prev + gx
                    keepalive.append(x)
                    if id(creator) not in seen:
                        seen.add(id(creator))
                        heappush(heap, (-creator.generation, next(order), creator))
            if not retain_graph:
                fn.release()

    # ----------------------------------------------------------------- operators
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, index): return _ops.getitem(self, index)

    # comparisons: no gradient, boolean tensors
    def _cmp(self, other, fn):
        o = other.data if isinstance(other, Tensor) else other
        return Tensor(fn(self.data, o))

    def __eq__(self, other): return self._cmp(other, lambda a, b: a == b)
    def __ne__(self, other): return self._cmp(other, lambda a, b: a != b)
    def __lt__(self, other): return self._cmp(other, lambda a, b: a < b)
    def __le__(self, other): return self._cmp(other, lambda a, b: a <= b)
    def __gt__(self, other): return self._cmp(other, lambda a, b: a > b)
    def __ge__(self, other): return self._cmp(other, lambda a, b: a >= b)
    __hash__ = object.__hash__

    # convenience methods mirroring core.ops
    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return _ops.min(self, axis=axis, keepdims=keepdims)
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)
    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    @property
    def T(self): return _ops.transpose(self)


def _wrap(arr) -> Tensor:
    """A Tensor around an array already on the right device (the result of an op): the checks
    of ``Tensor.__init__`` skipped."""
    t = _new_tensor(Tensor)
    t.data = arr
    t.requires_grad = False
    t.grad = None
    t.creator = None
    t.generation = 0
    t.name = None
    t._retain_grad = False
    return t


_new_tensor = object.__new__


class Parameter(Tensor):
    """A trainable tensor: requires a gradient unless ``trainable=False``."""

    def __init__(self, data, trainable: bool = True, dtype=None, device=None, name: str | None = None):
        super().__init__(data, requires_grad=False, dtype=dtype, device=device, name=name)
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter {name or ''} must be floating, got dtype {self.data.dtype}")
        self.trainable = trainable

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.requires_grad = bool(value)

    def assign(self, value) -> None:
        """Replace the values in place (shape and dtype kept)."""
        arr = value.data if isinstance(value, Tensor) else value
        xp = get_xp(self.data)
        arr = xp.asarray(arr, dtype=self.dtype)
        if arr.shape != self.shape:
            raise ValueError(f"assign to {self.name or 'parameter'}: shape {arr.shape} != {self.shape}")
        self.data[...] = arr

    def assign_add(self, value) -> None:
        """Add ``value`` in place (Keras's ``Variable.assign_add``)."""
        arr = value.data if isinstance(value, Tensor) else value
        self.assign(self.data + get_xp(self.data).asarray(arr, dtype=self.dtype))

    def assign_sub(self, value) -> None:
        """Subtract ``value`` in place (Keras's ``Variable.assign_sub``)."""
        arr = value.data if isinstance(value, Tensor) else value
        self.assign(self.data - get_xp(self.data).asarray(arr, dtype=self.dtype))

    @property
    def value(self) -> "Parameter":
        """The variable's tensor: the Parameter itself (Keras's ``Variable.value``; with PyTorch's
        backend it is the torch parameter, so ``v.value.grad`` reads the gradient after backward)."""
        return self

    def __repr__(self):
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype}, trainable={self.trainable})"


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor. Constants (scalars, arrays) take ``like``'s float dtype and device so
    that a Python or NumPy scalar never upcasts a float32 computation (NEP 50 safe)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and like.dtype.kind == "f":
        arr = x if is_array(x) else np.asarray(x)
        if arr.dtype.kind in "biuf" and arr.dtype != like.dtype:
            arr = arr.astype(like.dtype)
        if backend.device_of(arr) != like.device:
            arr = backend.to_device(arr, like.device)
        return Tensor(arr)
    return Tensor(x)


class Function:
    """One differentiable operation.

    Subclasses implement ``forward(*arrays)`` (returning an array or a tuple of arrays) and
    ``backward(*grads)`` (returning one grad or None per input), storing on ``self`` only
    what backward needs. ``needs_input_grad`` tells forward/backward which grads are wanted.
    """

    inputs: list | None
    outputs: tuple
    needs_input_grad: tuple = ()

    def __call__(self, *inputs):
        return self.apply(*inputs)

    def apply(self, *inputs):
        tensors = [x if isinstance(x, Tensor) else as_tensor(x) for x in inputs]
        if getattr(_state, "grad_enabled", True):
            flags = tuple([t.requires_grad for t in tensors])
            record = True in flags
        else:
            record = False
        self.needs_input_grad = flags if record else (False,) * len(tensors)
        arrays = [t.data for t in tensors]
        if backend._cupy is not None:
            backend.check_same_device(type(self).__name__, arrays)
        ys = self.forward(*arrays)
        single = not isinstance(ys, tuple)
        if single:
            ys = (ys,)
        # outputs of forward are arrays on the inputs' device: wrap them without re-checking
        # (Tensor() re-validates; it is still used when a non-CPU default device is configured)
        wrap = _wrap if backend.config._device_spec == "cpu" else Tensor
        outs = tuple([y if isinstance(y, Tensor) else wrap(y) for y in ys])
        if record:
            gen = max([t.generation for t in tensors])
            self.generation = gen
            self.inputs = tensors
            self.output_meta = tuple([(o.data.shape, o.data.dtype) for o in outs])
            self.outputs = tuple([weakref.ref(o) for o in outs])
            gen += 1
            for o in outs:
                if o.data.dtype.kind == "f":
                    o.requires_grad = True
                    o.creator = self
                    o.generation = gen
        return outs[0] if single else outs

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    def release(self) -> None:
        """Drop the saved arrays and the links to the inputs (the graph is freed)."""
        gen = self.__dict__.get("generation", 0)
        self.__dict__.clear()
        self.generation = gen
        self.inputs = None
