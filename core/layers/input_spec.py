"""``InputSpec``: what a layer accepts (rank, shape, dtype, axis sizes), checked on every call of a
layer that sets ``self.input_spec`` (as Keras 3 does)."""
from __future__ import annotations

import numpy as np

from ..object_registration import export_api


class InputSpec:
    """The rank, dtype and shape a layer's input must have: set ``self.input_spec = InputSpec(...)``
    (or one per input) and each call checks its first argument; ``None`` dimensions match any size."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = np.dtype(dtype).name if dtype is not None else None
        if shape is not None:
            self.shape = tuple(None if d is None else int(d) for d in shape)
            self.ndim = len(self.shape)
        else:
            self.shape, self.ndim = None, ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional, self.allow_last_axis_squeeze = name, optional, allow_last_axis_squeeze
        try:
            self.axes = {int(k): v for k, v in (axes or {}).items()}
        except (ValueError, TypeError, AttributeError):
            raise TypeError(f"InputSpec: axes must be a dict with integer keys, got {axes!r}") from None
        top = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and top is not None and max(self.axes) > top - 1:
            raise ValueError(f"InputSpec: axis {max(self.axes)} is greater than the maximum allowed value {top - 1}")

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
                                         ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim),
                                         ("axes", self.axes)) if v]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _flat(structure):
    if isinstance(structure, (list, tuple)):
        return [x for s in structure for x in _flat(s)]
    if isinstance(structure, dict):
        return [x for k in structure for x in _flat(structure[k])]
    return [structure]


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raise a ValueError naming the layer, the input and the expectation when ``inputs`` does not
    match ``input_spec`` (an InputSpec or a structure of them)."""
    if not input_spec:
        return
    specs = _flat(input_spec)
    if isinstance(inputs, dict):
        names = [s.name for s in specs if s is not None]
        if len(names) == len(specs) and all(names):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f'Missing data for input "{missing[0]}". You passed a data dictionary with keys '
                                 f"{list(inputs)}. Expected the following keys: {names}")
            inputs = [inputs[n] for n in names]
    flat = _flat(inputs)
    if len(flat) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(flat)} '
                         "input tensors")
    for i, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(f"Inputs to a layer should be tensors. Got {x!r} (of type {type(x).__name__}) as "
                             f"input for layer '{layer_name}'")
        shape = tuple(None if d is None else int(d) for d in x.shape)
        ndim = len(shape)
        where = f"Input {i} with name '{spec.name}' of layer '{layer_name}' is incompatible with the layer:"
        if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
            raise ValueError(f"{where} expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise ValueError(f"{where} expected max_ndim={spec.max_ndim}, found ndim={ndim}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(f"{where} expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                             f"Full shape received: {shape}")
        if spec.dtype is not None and np.dtype(x.dtype).name != spec.dtype:
            raise ValueError(f"{where} expected dtype={spec.dtype}, found dtype={np.dtype(x.dtype).name}")
        for axis, value in spec.axes.items():
            if value is not None and -ndim <= axis < ndim and shape[axis] not in (value, None):
                raise ValueError(f"{where} expected axis {axis} of input shape to have value {value}, but "
                                 f"received input with shape {shape}")
        if spec.shape is not None:
            spec_shape, got = spec.shape, shape
            if spec.allow_last_axis_squeeze:
                got = got[:-1] if got and got[-1] == 1 else got
                spec_shape = spec_shape[:-1] if spec_shape and spec_shape[-1] == 1 else spec_shape
            for want, have in zip(spec_shape, got):
                if want is not None and have is not None and want != have:
                    raise ValueError(f"{where} expected shape={spec.shape}, found shape={shape}")


export_api("keras", [InputSpec])
export_api("keras.layers", [InputSpec])

__all__ = ["InputSpec", "assert_input_compatibility"]
