"""``RNN``: a recurrent layer around any cell, and ``StackedRNNCells`` (Keras 3 semantics).

A cell is a layer (or any object) with ``state_size`` (an int or a list of ints, one per state)
and ``call(inputs, states[, training])`` returning ``(output, new_states)`` for one time step;
``output_size`` and ``get_initial_state(batch_size)`` are optional. ``RNN`` runs the cell over
the time axis in a Python loop over steps (each step differentiable), with Keras's masking:
a masked step keeps every state and repeats the previous output (zeros before the first real
step, or always with ``zero_output_for_mask``). The built-in ``LSTM``/``GRU``/``SimpleRNN`` layers
run their whole sequence as one fused op instead.
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import ops
from ..autodiff import Tensor
from .base import KerasTensor, Layer, OutputSpec, build_sublayer, deserialize_layer, own_scope, serialize_layer
from .recurrent_loop import _flatten, _is_nested, _pack_like, run_steps


# --------------------------------------------------------------------------- cells
def _check_cell(cell, what="cell"):
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"Argument `{what}` should have a `call` method. Received: {what}={cell!r}")
    if getattr(cell, "state_size", None) is None:
        raise ValueError(f"The RNN {what} should have a `state_size` attribute (single integer or list of integers, "
                         f"one integer per RNN state). Received: {what}={cell!r}")


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    return _flatten(cell.state_size)[0]


def _call_cell(cell, inputs, states, training):
    """One step of ``cell``: through ``__call__`` for a layer, passing ``training`` when its call takes it."""
    if isinstance(cell, Layer):
        kw = {"training": training} if "training" in cell._signature_params() else {}
        return cell(inputs, states, **kw)
    kw = {"training": training} if "training" in inspect.signature(cell.call).parameters else {}
    return cell.call(inputs, states, **kw)


def _zeros_states(state_size, batch, dtype, xp):
    if _is_nested(state_size):
        return [_zeros_states(s, batch, dtype, xp) for s in state_size]
    return Tensor(xp.zeros((batch, int(state_size)), dtype=dtype))


def _as_tensor(x, like):
    t = x if isinstance(x, Tensor) else Tensor(like.xp.asarray(getattr(x, "data", x)))
    return ops.cast(t, like.dtype) if t.dtype != like.dtype else t


# --------------------------------------------------------------------------- StackedRNNCells
class StackedRNNCells(Layer):
    """Several cells run as one: the output of each is the input of the next at every step;
    the states are a list with each cell's state(s)."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells needs at least one cell")
        for cell in cells:
            _check_cell(cell, "cells")
        self.cells = cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        states = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                states.append(fn(batch_size=batch_size))
            else:
                states.append(_zeros_states(cell.state_size, batch_size, self.compute_dtype, np))
        return states

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer):
                build_sublayer(cell, tuple(input_shape))
            input_shape = (input_shape[0], _output_size(cell))

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, s in zip(self.cells, states):
            was_list = _is_nested(s)
            s = list(s) if was_list else [s]
            inputs, s = _call_cell(cell, inputs, s, training)
            s = list(s) if _is_nested(s) else [s]
            new_states.append(s[0] if len(s) == 1 and not was_list else s)
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [serialize_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = dict(config)
        cells = [deserialize_layer(c, custom_objects, safe_mode) if isinstance(c, dict) else c
                 for c in config.pop("cells")]
        return cls(cells, **config)


# --------------------------------------------------------------------------- RNN
class RNN(Layer):
    """A recurrent layer around ``cell`` (a cell, or a list of cells stacked with
    ``StackedRNNCells``), over inputs (batch, timesteps, ...).

    ``call(sequences, initial_state=None, mask=None, training=False)``; ``return_sequences``,
    ``return_state`` (``(output, *states)``), ``go_backwards`` (outputs in processing order) and
    ``zero_output_for_mask`` as Keras. ``stateful=True`` is refused (pass ``initial_state``).
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell)
        if stateful:
            raise ValueError(f"{type(self).__name__}: stateful=True is not supported (states are not kept between "
                             "batches); pass initial_state= explicitly instead")
        state_size = cell.state_size
        if not isinstance(state_size, (list, tuple, int, np.integer)):
            raise ValueError("state_size must be an integer, or a list/tuple of integers (one for each state tensor).")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.state_size = [int(state_size)] if isinstance(state_size, (int, np.integer)) else list(state_size)

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) < 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of rank >= 3 (batch, timesteps, "
                             f"features...), got shape {shape}")
        if isinstance(self.cell, Layer):
            with own_scope(self):
                build_sublayer(self.cell, (shape[0],) + shape[2:])

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            states = fn(batch_size=batch_size)
            return list(states) if _is_nested(states) else [states]
        return [_zeros_states(s, batch_size, self.compute_dtype, np) for s in self.state_size]

    def _states(self, initial_state, x):
        default = self.get_initial_state(x.shape[0])
        if initial_state is None:
            states = default
        else:
            given = _flatten(list(initial_state) if _is_nested(initial_state) else [initial_state])
            if len(given) != len(_flatten(default)):
                raise ValueError(f"{type(self).__name__} '{self.name}': initial_state must hold "
                                 f"{len(_flatten(default))} state tensor(s) (state_size={self.state_size}), got "
                                 f"{len(given)}")
            states = _pack_like(default, given)
        flat = [_as_tensor(s, x) for s in _flatten(states)]
        for s, d in zip(flat, _flatten(default)):
            if tuple(s.shape) != tuple(d.shape):
                raise ValueError(f"{type(self).__name__} '{self.name}': initial state of shape {tuple(s.shape)} where "
                                 f"the cell expects {tuple(d.shape)}")
        return _pack_like(states, flat)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        if x.ndim < 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of rank >= 3 (batch, timesteps, "
                             f"features...), got shape {tuple(x.shape)}")
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        m = None
        if mask is not None:
            m = x.xp.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if m.shape != tuple(x.shape[:2]):
                raise ValueError(f"{type(self).__name__} '{self.name}': mask must have shape (batch, timesteps) = "
                                 f"{tuple(x.shape[:2])}, got {tuple(m.shape)}")
            m = m.astype(bool)
        states = self._states(initial_state, x)

        def step(x_t, s):
            out, new = _call_cell(self.cell, x_t, s, training)
            return out, (new if _is_nested(new) else [new])

        try:
            last, seq, final = run_steps(step, x, states, mask=m, go_backwards=self.go_backwards,
                                         zero_output_for_mask=self.zero_output_for_mask,
                                         return_sequences=self.return_sequences)
        finally:  # dropout masks are drawn once per sequence (Keras's DropoutRNNCell)
            for c in getattr(self.cell, "cells", [self.cell]):
                for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
                    getattr(c, reset, lambda: None)()
        output = seq if self.return_sequences else last
        if self.return_state:
            return (output, *final)
        return output

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        n, t = sequences_shape[0], sequences_shape[1]
        size = _output_size(self.cell)
        out = (n, t, size) if self.return_sequences else (n, size)
        if not self.return_state:
            return out
        states = []
        for s in self.state_size:
            states.append([(n, int(d)) for d in s] if _is_nested(s) else (n, int(s)))
        return (out, *states)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self.state_size)
        return out

    def compute_output_spec(self, sequences, initial_state=None, mask=None, training=None, **kwargs):
        shapes = self.compute_output_shape(tuple(sequences.shape))
        has_mask = bool(self.return_sequences and (getattr(sequences, "_has_mask", False)
                                                   or isinstance(mask, KerasTensor)))
        dt = self.compute_dtype
        if not self.return_state:
            return OutputSpec(tuple(shapes), dt, has_mask)
        specs = [OutputSpec(tuple(shapes[0]), dt, has_mask)]
        for s in shapes[1:]:
            specs.extend(OutputSpec(tuple(d), dt) for d in (s if isinstance(s, list) else [s]))
        return tuple(specs)

    def get_config(self):
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "cell": serialize_layer(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = dict(config)
        cell = config.pop("cell")
        if isinstance(cell, dict):
            cell = deserialize_layer(cell, custom_objects, safe_mode)
        return cls(cell, **config)
