"""One source for NumPy and CuPy: array modules, devices and the default config.

Ops are written against ``xp = get_xp(*arrays)`` (as Chainer's ``get_array_module``),
so the same code runs on NumPy arrays (device ``cpu``) and CuPy arrays (``gpu:N``).
CuPy is imported lazily and only when present; the CPU path never needs it.
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass

import numpy as np

try:  # guarded: CuPy is an optional extra (pip install zoo[gpu])
    import cupy as _cupy  # type: ignore
except Exception:  # ImportError, or a broken CUDA install raising at import
    _cupy = None


def cupy_available() -> bool:
    return _cupy is not None


def get_xp(*arrays):
    """The array module (numpy or cupy) of the given arrays; numpy when none is a CuPy array."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def is_array(obj) -> bool:
    return isinstance(obj, np.ndarray) or (_cupy is not None and isinstance(obj, _cupy.ndarray))


class StringDType:
    """Keras's ``"string"`` dtype (of ``Input(dtype="string")`` and of string KerasTensors). String
    data lives on the host as NumPy arrays of ``str`` (or ``bytes``, or Python ``str`` objects);
    ``np.dtype(STRING)`` is ``object``, the dtype such arrays may have."""

    name = "string"
    kind = "O"
    dtype = np.dtype(object)

    def __eq__(self, other):
        if isinstance(other, (StringDType, str)):
            return isinstance(other, StringDType) or other == "string"
        return NotImplemented

    def __hash__(self):
        return hash("string")

    def __repr__(self):
        return "string"

    __str__ = __repr__


STRING = StringDType()


def is_string_dtype(dtype) -> bool:
    """Whether ``dtype`` names Keras's string dtype (``"string"``, ``str`` or ``STRING``)."""
    return dtype is STRING or dtype is str or isinstance(dtype, StringDType) or \
        (isinstance(dtype, str) and dtype == "string") or dtype is np.str_ or dtype is np.bytes_


def holds_text(array) -> bool:
    """Whether an array's dtype is one string data comes in: ``str``, ``bytes`` or ``object``."""
    return array.dtype.kind in "USO"


@dataclass(frozen=True)
class Device:
    """A device by name: ``cpu`` or ``gpu:N``."""

    kind: str
    index: int = 0

    def __str__(self) -> str:
        return "cpu" if self.kind == "cpu" else f"gpu:{self.index}"

    __repr__ = __str__

    @property
    def xp(self):
        return np if self.kind == "cpu" else _cupy


def _gpu_count() -> int:
    try:
        return int(_cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def get_device(spec) -> Device:
    """Parse ``"cpu"``, ``"gpu"``, ``"gpu:1"``, ``"cuda:0"`` or a Device; check a GPU is usable."""
    if isinstance(spec, Device):
        dev = spec
    else:
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string such as 'cpu' or 'gpu:0', got {spec!r}")
        name = spec.strip().lower()
        if name in ("cpu", "cpu:0"):  # Keras names the CPU "cpu:0"
            return Device("cpu")
        kind, _, idx = name.partition(":")
        if kind not in ("gpu", "cuda") or (idx and not idx.isdigit()):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'gpu' or 'gpu:N'")
        dev = Device("gpu", int(idx) if idx else 0)
    if dev.kind == "gpu":
        if _cupy is None:
            raise RuntimeError(
                f"device {str(dev)!r} needs CuPy, which is not installed "
                "(pip install 'zoo[gpu]' for CUDA 12, or cupy-cuda13x for CUDA 13)")
        n = _gpu_count()
        if n == 0:
            raise RuntimeError(f"device {str(dev)!r}: CuPy is installed but no CUDA GPU was found")
        if dev.index >= n:
            raise RuntimeError(f"device {str(dev)!r}: only {n} GPU(s) present (gpu:0..gpu:{n - 1})")
    return dev


def device_of(array) -> Device:
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return Device("gpu", int(array.device.id))
    return Device("cpu")


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    dev = get_device(device)
    if dev.kind == "cpu":
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return _cupy.asnumpy(array)
        return np.asarray(array)
    with _cupy.cuda.Device(dev.index):
        return _cupy.asarray(array)


class DeviceMismatchError(RuntimeError):
    """An op received arrays that live on different devices."""


def check_same_device(name, arrays) -> None:
    """Raise DeviceMismatchError naming both devices when ``arrays`` are not all on one device.
    Free when CuPy is not installed (every array is then a NumPy array)."""
    if _cupy is None or len(arrays) < 2:
        return
    first = device_of(arrays[0])
    for i, a in enumerate(arrays[1:], start=1):
        dev = device_of(a)
        if dev != first:
            raise DeviceMismatchError(
                f"{name}: inputs on different devices: argument 0 is on {first}, argument {i} on {dev}; "
                f"move them to one device first (tensor.to({str(first)!r}) or model.to({str(first)!r}))")


def to_numpy(array):
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy.asnumpy(array)
    return np.asarray(array)


class Config:
    """Process-wide defaults: the device new tensors go to, the float dtype (``floatx``) and the
    convolutions' precision (``set_conv_precision``)."""

    def __init__(self):
        self._device = None
        self._device_spec = os.environ.get("ZOO_DEVICE", "cpu")
        self.floatx = "float32"
        self._conv_precision = os.environ.get("ZOO_CONV_PRECISION", "auto")

    @property
    def device(self) -> Device:
        if self._device is None:  # parsed lazily so a bad ZOO_DEVICE errors where it is used
            self._device = get_device(self._device_spec)
        return self._device

    @device.setter
    def device(self, spec):
        self._device = get_device(spec)
        self._device_spec = str(self._device)


config = Config()


def set_default_device(spec) -> None:
    config.device = spec


@contextlib.contextmanager
def device(device_name):
    """``with core.device("gpu:0"):`` new tensors and weights go to that device inside the block
    (Keras's ``keras.device``; ``"cpu"``/``"cpu:0"``, ``"gpu"``, ``"gpu:N"``)."""
    previous = config.device
    config.device = device_name
    try:
        yield
    finally:
        config.device = previous


def set_floatx(dtype: str) -> None:
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"floatx must be a floating dtype, got {dtype!r}")
    config.floatx = np.dtype(dtype).name


def floatx() -> str:
    return config.floatx


CONV_PRECISIONS = ("auto", "highest", "high")


def set_conv_precision(precision: str) -> None:
    """How exactly 3x3 convolutions are computed (as ``torch.set_float32_matmul_precision`` for
    products): "highest", the rounding error of the direct product (im2col + GEMM, or Winograd
    F(2x2, 3x3)); "high", also Winograd F(4x4, 3x3) where it is faster (about 4x that rounding
    error, 1e-6 relative in float32); "auto" (the default; also from ``ZOO_CONV_PRECISION``),
    "high" in training (gradients being taken, in layers called with training=True, or in ops
    called outside any layer) and "highest" otherwise (predict, evaluate, ``model(x)``), so that
    inference matches Keras as closely as the direct product does."""
    if precision not in CONV_PRECISIONS:
        raise ValueError(f"conv precision must be one of {', '.join(CONV_PRECISIONS)}; got {precision!r}")
    config._conv_precision = precision


_calls = threading.local()


def layer_call_stack() -> list:
    """The training flags (True, False or None) of this thread's layer calls in progress, innermost
    last. The Layer machinery pushes and pops them; ops below the layers read them here (the
    convolutions' "auto" precision)."""
    if not hasattr(_calls, "stack"):
        _calls.stack = []
    return _calls.stack


def conv_precision() -> str:
    p = config._conv_precision
    if p not in CONV_PRECISIONS:
        raise ValueError(f"ZOO_CONV_PRECISION={p!r}: set it to one of {', '.join(CONV_PRECISIONS)}")
    return p


def scatter_add(xp, target, indices, values):
    """``target[indices] += values`` with repeated indices accumulated (np.add.at / cupyx)."""
    if xp is np:
        np.add.at(target, indices, values)
    else:
        import cupyx  # type: ignore

        cupyx.scatter_add(target, indices, values)
    return target
