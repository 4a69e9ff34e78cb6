"""Recurrent layers (Keras 3): ``SimpleRNN``, ``LSTM``, ``GRU`` with their cells, and ``Bidirectional``.

Each layer holds its weights in a cell sublayer named as Keras names it (``lstm_cell``,
``gru_cell``, ``simple_rnn_cell``), so weight paths read ``lstm/lstm_cell/kernel``. The whole
sequence runs as ONE differentiable op (``core.ops.lstm`` / ``gru`` / ``simple_rnn``); the
layers never loop over time in Python.

Keras semantics kept: masked steps carry the state and repeat the previous output (zeros with
``zero_output_for_mask=True``, which ``Bidirectional`` forces when returning sequences);
``go_backwards`` returns the sequence in reversed time order; ``return_state`` returns
``(output, *states)``; input ``dropout`` draws ONE mask per sequence, shared by all steps.

Training with ``recurrent_dropout > 0`` runs Keras's per-step cell (its "implementation 1"): one
dropout mask per gate for the inputs and one per gate for the previous output, drawn once per
sequence and shared by all steps, in a loop over time steps (the fused ops have no recurrent
mask); inference ignores it, as Keras.

Not supported (clear errors): ``stateful=True``; activations other than tanh, sigmoid, relu,
hard_sigmoid and linear.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import activations, constraints, initializers, ops, regularizers
from ..autodiff import Tensor
from .base import (KerasTensor, Layer, OutputSpec, build_sublayer, clone_initializer, deserialize_layer, own_scope,
                   serialize_layer)
from .recurrent_loop import run_steps

_FUSED_ACTIVATIONS = ("tanh", "sigmoid", "relu", "hard_sigmoid", "linear")


# --------------------------------------------------------------------------- helpers
def _activation(owner, arg, value):
    """(function, name) of an activation the fused recurrent ops support."""
    fn = activations.get(value)
    try:
        name = activations.serialize(fn)
    except ValueError:
        name = None
    if name not in _FUSED_ACTIVATIONS:
        raise ValueError(f"{owner}: {arg} must be one of {list(_FUSED_ACTIVATIONS)} (the activations of the fused "
                         f"recurrent ops), got {value!r}")
    return fn, name


def _rate(owner, arg, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {arg} must be a float in [0, 1], got {value!r}")
    return min(1.0, max(0.0, float(value)))  # Keras clips


def _check_units(owner, units):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError(f"{owner}: units must be a positive integer, got {units!r}")
    return int(units)


def _mask_array(owner, mask, x):
    """A (N, T) bool array on x's device from a mask Tensor/array (or the first of a list), or None."""
    if isinstance(mask, (list, tuple)):
        mask = mask[0] if mask else None
    if mask is None:
        return None
    xp = x.xp
    m = mask.data if isinstance(mask, Tensor) else mask
    m = xp.asarray(m)
    if m.shape != tuple(x.shape[:2]):
        raise ValueError(f"{owner}: mask must have shape (batch, timesteps) = {tuple(x.shape[:2])} for inputs of "
                         f"shape {tuple(x.shape)}, got shape {tuple(m.shape)}")
    if m.dtype != bool:
        m = m != 0
    return m


# the shared sublayer helpers live in the layers base (these private names stay for old imports)
_build_sublayer, _clone_initializer = build_sublayer, clone_initializer


# --------------------------------------------------------------------------- cells
class DropoutRNNCell:
    """Keras's dropout-mask API of a recurrent cell: masks drawn once per sequence on first use
    (one per gate, ``_mask_count()``), kept until reset by the layer after the sequence. The cell
    provides ``dropout``, ``recurrent_dropout``, ``_gates`` and ``_rng``."""

    def _mask_count(self):
        """Masks per kind: one per gate when training with recurrent dropout (Keras's implementation 1)."""
        return self._gates if self.recurrent_dropout > 0 else 1

    def _draw(self, like, rate, count):
        ones = Tensor(like.xp.ones(tuple(like.shape), dtype=like.dtype))
        return [ops.dropout(ones, rate, training=True, seed=self._rng).data for _ in range(count)]

    def get_dropout_mask(self, step_input, count=None):
        """The input dropout masks of the current sequence (drawn on first use, kept until
        ``reset_dropout_mask``): a list of arrays shaped like ``step_input``."""
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = self._draw(step_input, self.dropout, count or self._mask_count())
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_state):
        """The recurrent dropout masks of the current sequence (one per gate), kept until
        ``reset_recurrent_dropout_mask``."""
        if getattr(self, "_recurrent_dropout_mask", None) is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw(step_state, self.recurrent_dropout, self._mask_count())
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None


_WEIGHTS = ("kernel", "recurrent", "bias")


def _set_weight_arguments(cell, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                          recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
                          bias_constraint):
    """A recurrent cell's kernel/recurrent_kernel/bias initializers, regularizers and constraints (from
    their Keras identifiers); ``_weight_config`` serializes them back."""
    cell.kernel_initializer = initializers.get(kernel_initializer)
    cell.recurrent_initializer = initializers.get(recurrent_initializer)
    cell.bias_initializer = initializers.get(bias_initializer)
    cell.kernel_regularizer = regularizers.get(kernel_regularizer)
    cell.recurrent_regularizer = regularizers.get(recurrent_regularizer)
    cell.bias_regularizer = regularizers.get(bias_regularizer)
    cell.kernel_constraint = constraints.get(kernel_constraint)
    cell.recurrent_constraint = constraints.get(recurrent_constraint)
    cell.bias_constraint = constraints.get(bias_constraint)


def _weight_config(cell) -> dict:
    """The config entries of ``_set_weight_arguments`` (Keras's keys and order)."""
    return {**{f"{w}_initializer": initializers.serialize(getattr(cell, f"{w}_initializer")) for w in _WEIGHTS},
            **{f"{w}_regularizer": regularizers.serialize(getattr(cell, f"{w}_regularizer")) for w in _WEIGHTS},
            **{f"{w}_constraint": constraints.serialize(getattr(cell, f"{w}_constraint")) for w in _WEIGHTS}}


class _Cell(DropoutRNNCell, Layer):
    """Shared cell machinery: weights ``kernel (F, G*u)``, ``recurrent_kernel (u, G*u)``, ``bias``."""

    _gates = 1
    _n_states = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)  # Keras 2/3 compatibility: one implementation here
        owner = type(self).__name__
        units = _check_units(owner, units)
        super().__init__(**kwargs)
        self.units = units
        self.activation, self._activation_name = _activation(owner, "activation", activation)
        self.use_bias = bool(use_bias)
        _set_weight_arguments(self, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                              recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
                              bias_constraint)
        self.dropout = _rate(owner, "dropout", dropout)
        self.recurrent_dropout = _rate(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.state_size = self.units if self._n_states == 1 else [self.units] * self._n_states
        self.output_size = self.units
        self.kernel = self.recurrent_kernel = self.bias = None

    # ------------------------------------------------------------- weights
    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the feature dimension of the input must be "
                             f"known, got input shape {tuple(input_shape)}")
        g = self._gates * self.units
        self.kernel = self.add_weight((in_dim, g), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight((self.units, g), self.recurrent_initializer, name="recurrent_kernel",
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(), name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    # ------------------------------------------------------------- computation
    def _run(self, x, states, mask=None, return_sequences=False, go_backwards=False):
        """The fused op over a whole sequence x (N, T, F): (output, *final_states)."""
        raise NotImplementedError

    def get_initial_state(self, batch_size=None):
        """Zero states, one (batch, units) array per state."""
        return [Tensor(np.zeros((batch_size, self.units), dtype=self.compute_dtype)) for _ in range(self._n_states)]

    def call(self, inputs, states, training=False):
        """One step: ``inputs`` (N, F), ``states`` a list of (N, units); returns (h, new_states).
        Input dropout draws a fresh mask per call here (the RNN layers share one per sequence)."""
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        if len(states) != self._n_states:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected {self._n_states} state(s), "
                             f"got {len(states)}")
        if inputs.ndim != 2:
            raise ValueError(f"{type(self).__name__} '{self.name}': inputs must be (batch, features), "
                             f"got shape {tuple(inputs.shape)}")
        states = [_state_tensor(self, s, inputs) for s in states]
        if training and 0.0 < self.recurrent_dropout < 1.0:
            dm = self.get_dropout_mask(inputs) if 0.0 < self.dropout < 1.0 else None
            proj = self._projections(ops.expand_dims(inputs, 1), dm)
            out, new_states = self._masked_step(ops.getitem(proj, (slice(None), 0)), states,
                                                self.get_recurrent_dropout_mask(states[0]))
            return out, (new_states if nested else new_states[0])
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * Tensor(self.get_dropout_mask(inputs, count=1)[0])
        out = self._run(ops.expand_dims(inputs, 1), states)
        new_states = list(out[1:])
        return new_states[0], (new_states if nested else new_states[0])

    # ------------------------------------------------------------- the per-step path (recurrent dropout)
    def _gate(self, w, g, u=None):
        """Columns of gate ``g`` of a (.., G*u) weight (or of a (G*u,) bias)."""
        u = self.units if u is None else u
        if w.ndim == 1:
            return ops.getitem(w, slice(g * u, (g + 1) * u))
        return ops.getitem(w, (slice(None), slice(g * u, (g + 1) * u)))

    def _input_bias(self):
        return self.bias

    def _projections(self, x, dm):
        """x (N, T, F) projected by the kernel (plus the input bias), gate by gate with the gate's
        input mask ``dm[g]`` when given: (N, T, G*u)."""
        b = self._input_bias()
        if dm is None:
            y = ops.matmul(x, self.kernel)
            return y + b if b is not None else y
        parts = []
        for g in range(self._gates):
            y = ops.matmul(x * Tensor(dm[g][:, None, :]), self._gate(self.kernel, g))
            parts.append(y + self._gate(b, g) if b is not None else y)
        return ops.concatenate(parts, axis=-1)

    def _masked_step(self, z, states, rm):
        """One step from the input projection ``z`` (N, G*u), the states and the recurrent masks."""
        raise NotImplementedError

    def _run_per_step(self, x, states, mask, return_sequences, go_backwards, zero_output_for_mask):
        """The whole sequence through ``_masked_step`` with this sequence's dropout masks (training
        with recurrent dropout): ``(output, final_states)`` with Keras's masking semantics."""
        dm = self.get_dropout_mask(ops.getitem(x, (slice(None), 0))) if 0.0 < self.dropout < 1.0 else None
        rm = self.get_recurrent_dropout_mask(states[0])
        try:
            proj = self._projections(x, dm)
            last, seq, final = run_steps(lambda z, s: self._masked_step(z, s, rm), proj, list(states), mask=mask,
                                         go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask,
                                         return_sequences=return_sequences)
        finally:
            self.reset_dropout_mask()
            self.reset_recurrent_dropout_mask()
        return (seq if return_sequences else last), list(final)

    def get_config(self):
        config = {"units": self.units, "activation": self._activation_name}
        if hasattr(self, "_recurrent_activation_name"):
            config["recurrent_activation"] = self._recurrent_activation_name
        config.update({
            "use_bias": self.use_bias,
            **_weight_config(self),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return {**super().get_config(), **config}


def _state_tensor(owner, s, like):
    t = s if isinstance(s, Tensor) else Tensor(s)
    if t.dtype != like.dtype:
        t = ops.cast(t, like.dtype)
    return t


def _masked(h, rm, g):
    return h * Tensor(rm[g]) if rm is not None else h


class SimpleRNNCell(_Cell):
    """Cell of ``SimpleRNN``: ``h = activation(x W + h U + b)``."""

    def _masked_step(self, z, states, rm):
        h = self.activation(z + ops.matmul(_masked(states[0], rm, 0), self.recurrent_kernel))
        return h, [h]

    def _run(self, x, states, mask=None, return_sequences=False, go_backwards=False):
        return ops.simple_rnn(x, self.kernel, self.recurrent_kernel, self.bias, initial_state=states, mask=mask,
                              return_sequences=return_sequences, go_backwards=go_backwards,
                              activation=self._activation_name)


class LSTMCell(_Cell):
    """Cell of ``LSTM`` (gate order i, f, c, o); ``unit_forget_bias`` starts the forget bias at 1."""

    _gates = 4
    _n_states = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation, self._recurrent_activation_name = _activation(
            type(self).__name__, "recurrent_activation", recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, u = self.bias_initializer, self.units

        def bias_init(shape, dtype="float32"):
            return np.concatenate([np.asarray(init((u,), dtype=dtype)), np.ones((u,), dtype),
                                   np.asarray(init((2 * u,), dtype=dtype))]).astype(dtype)

        return bias_init

    def _masked_step(self, z, states, rm):
        h, c = states
        R, ra, act = self.recurrent_kernel, self.recurrent_activation, self.activation

        def pre(g):
            return self._gate(z, g) + ops.matmul(_masked(h, rm, g), self._gate(R, g))

        i, f = ra(pre(0)), ra(pre(1))
        c = f * c + i * act(pre(2))
        h = ra(pre(3)) * act(c)
        return h, [h, c]

    def _run(self, x, states, mask=None, return_sequences=False, go_backwards=False):
        return ops.lstm(x, self.kernel, self.recurrent_kernel, self.bias, initial_state=states, mask=mask,
                        return_sequences=return_sequences, go_backwards=go_backwards,
                        activation=self._activation_name, recurrent_activation=self._recurrent_activation_name)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """Cell of ``GRU`` (gate order z, r, h); ``reset_after=True`` (Keras 3 default) has bias (2, 3u)."""

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation, self._recurrent_activation_name = _activation(
            type(self).__name__, "recurrent_activation", recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if self.bias is None:
            return None
        return ops.getitem(self.bias, 0) if self.reset_after else self.bias

    def _masked_step(self, z, states, rm):
        (h,) = states
        R, ra = self.recurrent_kernel, self.recurrent_activation
        rb = ops.getitem(self.bias, 1) if (self.bias is not None and self.reset_after) else None

        def rec(g, hh):
            y = ops.matmul(hh, self._gate(R, g))
            return y + self._gate(rb, g) if rb is not None else y

        zg = ra(self._gate(z, 0) + rec(0, _masked(h, rm, 0)))
        r = ra(self._gate(z, 1) + rec(1, _masked(h, rm, 1)))
        if self.reset_after:
            rh = r * rec(2, _masked(h, rm, 2))
        else:
            rh = ops.matmul(r * _masked(h, rm, 2), self._gate(R, 2))
        hh = self.activation(self._gate(z, 2) + rh)
        h = zg * h + (1.0 - zg) * hh
        return h, [h]

    def _run(self, x, states, mask=None, return_sequences=False, go_backwards=False):
        return ops.gru(x, self.kernel, self.recurrent_kernel, self.bias, initial_state=states, mask=mask,
                       return_sequences=return_sequences, go_backwards=go_backwards, reset_after=self.reset_after,
                       activation=self._activation_name, recurrent_activation=self._recurrent_activation_name)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


# --------------------------------------------------------------------------- RNN layers
class _RNNLayer(Layer):
    """A recurrent layer over (batch, timesteps, features) driven by its ``cell``'s fused op.

    ``call(sequences, initial_state=None, mask=None, training=False)``.
    """

    _cell_class = _Cell
    _cell_name = "cell"
    _cell_args = ()

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, activity_regularizer=None, use_cudnn="auto", **kwargs):
        owner = type(self).__name__
        if stateful:
            raise ValueError(f"{owner}: stateful=True is not supported (states are not kept between batches); "
                             "pass initial_state= explicitly instead")
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"{owner}: use_cudnn must be 'auto', True or False, got {use_cudnn!r}")
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in self._cell_args}
        cell = self._cell_class(units, name=self._cell_name, dtype=kwargs.get("dtype"),
                                trainable=kwargs.get("trainable", True), **cell_kwargs)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # accepted for compatibility; the fused op gives the same numbers
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.use_cudnn = use_cudnn
        self.supports_masking = True
        self.state_size = cell.state_size if isinstance(cell.state_size, list) else [cell.state_size]

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of rank 3 (batch, timesteps, "
                             f"features), got shape {shape}")
        with own_scope(self):
            _build_sublayer(self.cell, (shape[0], shape[2]))
        self.built = True

    def get_initial_state(self, batch_size):
        return self.cell.get_initial_state(batch_size)

    def _initial_state(self, initial_state, x):
        if initial_state is None:
            return None
        n = self.cell._n_states
        if isinstance(initial_state, (list, tuple)):
            states = list(initial_state)
        else:
            states = [initial_state]
        if len(states) != n:
            what = "[h, c]" if n == 2 else "[h] (or h)"
            raise ValueError(f"{type(self).__name__} '{self.name}': initial_state must be {what}: {n} tensor(s) of "
                             f"shape (batch, {self.cell.units}), got {len(states)}")
        out = []
        for s in states:
            t = _state_tensor(self, s, x)
            if tuple(t.shape) != (x.shape[0], self.cell.units):
                raise ValueError(f"{type(self).__name__} '{self.name}': each initial state must have shape "
                                 f"(batch, units) = {(x.shape[0], self.cell.units)}, got {tuple(t.shape)}")
            out.append(t)
        return out

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of rank 3 (batch, timesteps, "
                             f"features), got shape {tuple(x.shape)}")
        cell = self.cell
        if cell.kernel is not None and x.shape[2] != cell.kernel.shape[0]:
            raise ValueError(f"Input to layer '{self.name}' is incompatible: expected {cell.kernel.shape[0]} features "
                             f"per step (the built kernel is {tuple(cell.kernel.shape)}), got input shape "
                             f"{tuple(x.shape)}")
        m = _mask_array(f"{type(self).__name__} '{self.name}'", mask, x)
        if training and 0.0 < cell.recurrent_dropout < 1.0:
            states = self._initial_state(initial_state, x)
            if states is None:
                states = [Tensor(x.xp.zeros((x.shape[0], cell.units), dtype=x.dtype)) for _ in range(cell._n_states)]
            output, final_states = cell._run_per_step(x, states, m, self.return_sequences, self.go_backwards,
                                                      self.zero_output_for_mask)
            return self._finish(output, final_states)
        if training and 0.0 < cell.dropout < 1.0:
            # one mask per sequence, shared by every step (Keras)
            x = ops.dropout(x, cell.dropout, training=True, noise_shape=(x.shape[0], 1, x.shape[2]), seed=cell._rng)
        states = self._initial_state(initial_state, x)
        out = cell._run(x, states, mask=m, return_sequences=self.return_sequences, go_backwards=self.go_backwards)
        output, final_states = out[0], list(out[1:])
        if m is not None:
            keep = None
            mp = m[:, ::-1] if self.go_backwards else m  # processing order, as the output sequence
            if self.zero_output_for_mask:
                # zeros on masked steps; without return_sequences the last processed step's output
                keep = mp if self.return_sequences else mp[:, -1:]
            elif states is not None:
                # Keras's "previous output" starts at zeros, not at the initial state: masked steps
                # before the first real one output zeros (and so does a fully masked sequence)
                keep = (mp.cumsum(axis=1) > 0) if self.return_sequences else mp.any(axis=1, keepdims=True)
            if keep is not None:
                if self.return_sequences:
                    keep = keep[:, :, None]
                output = output * Tensor(keep.astype(output.dtype))
        return self._finish(output, final_states)

    def _finish(self, output, final_states):
        if self.activity_regularizer is not None:  # on every output, as Keras
            for o in [output] + (final_states if self.return_state else []):
                self.add_loss(self.activity_regularizer(o))
        if self.return_state:
            return (output, *final_states)
        return output

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        n, t = sequences_shape[0], sequences_shape[1]
        units = self.cell.units
        out = (n, t, units) if self.return_sequences else (n, units)
        if self.return_state:
            return (out,) + tuple((n, units) for _ in range(self.cell._n_states))
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * self.cell._n_states
        return out

    def compute_output_spec(self, sequences, initial_state=None, mask=None, training=None, **kwargs):
        shapes = self.compute_output_shape(tuple(sequences.shape))
        has_mask = bool(self.return_sequences and (getattr(sequences, "_has_mask", False)
                                                   or isinstance(mask, KerasTensor)))
        dt = self.compute_dtype
        if self.return_state:
            return (OutputSpec(tuple(shapes[0]), dt, has_mask),) + tuple(OutputSpec(tuple(s), dt) for s in shapes[1:])
        return OutputSpec(tuple(shapes), dt, has_mask)

    def get_config(self):
        base = super().get_config()
        config = {"return_sequences": self.return_sequences, "return_state": self.return_state,
                  "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask}
        cell = self.cell.get_config()
        for k in ("name", "trainable", "dtype", "batch_input_shape"):
            cell.pop(k, None)
        cell["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return {**base, **config, **cell}


def _delegate(name):
    def get(self):
        return getattr(self.cell, name)

    return property(get, doc=f"The cell's ``{name}``.")


# the cell's attributes, exposed on the layer as Keras does (``lstm.units``, ``lstm.dropout``...)
for _name in ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
              "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "unit_forget_bias", "reset_after", "seed"):
    setattr(_RNNLayer, _name, _delegate(_name))
del _name


_COMMON_CELL_ARGS = ("activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
                     "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                     "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed",
                     "implementation")


class SimpleRNN(_RNNLayer):
    """Fully connected RNN: ``h_t = activation(x_t W + h_{t-1} U + b)`` (Keras ``SimpleRNN``)."""

    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn_cell"
    _cell_args = _COMMON_CELL_ARGS

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)


class LSTM(_RNNLayer):
    """Long Short-Term Memory layer (Keras ``LSTM``): weights ``kernel (F, 4u)``,
    ``recurrent_kernel (u, 4u)``, ``bias (4u,)`` in the ``lstm_cell`` sublayer; ``return_state``
    gives ``(output, h, c)``."""

    _cell_class = LSTMCell
    _cell_name = "lstm_cell"
    _cell_args = _COMMON_CELL_ARGS + ("recurrent_activation", "unit_forget_bias")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         **kwargs)


class GRU(_RNNLayer):
    """Gated Recurrent Unit layer (Keras ``GRU``): bias (2, 3u) with ``reset_after=True`` (default),
    (3u,) without; ``return_state`` gives ``(output, h)``."""

    _cell_class = GRUCell
    _cell_name = "gru_cell"
    _cell_args = _COMMON_CELL_ARGS + ("recurrent_activation", "reset_after")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True,
                 **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         reset_after=reset_after, **kwargs)


# --------------------------------------------------------------------------- Bidirectional
_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _removeprefix(s, prefix):
    return s[len(prefix):] if s.startswith(prefix) else s


def _copy_layer(layer, **overrides):
    config = layer.get_config()
    config.update(overrides)
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards and merges the two outputs.

    The forward copy is named ``forward_<name>``, the backward one (``go_backwards=True``)
    ``backward_<name>`` unless ``backward_layer`` is given; weights are forward's then backward's.
    With ``return_sequences`` the backward sequence is flipped back to input time order and masked
    steps output zeros. ``merge_mode``: "concat" (default), "sum", "mul", "ave" or None (a tuple of
    both outputs). ``initial_state``: forward states then backward states.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Bidirectional: layer must be a Layer instance (e.g. LSTM(8)), got {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"Bidirectional: backward_layer must be a Layer instance, got {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {list(_MERGE_MODES)}, got {merge_mode!r}")
        for attr in ("go_backwards", "return_sequences", "return_state"):
            if not hasattr(layer, attr):
                raise ValueError(f"Bidirectional: the wrapped layer must be a recurrent layer with a `{attr}` "
                                 f"attribute, got {type(layer).__name__}")
        super().__init__(**kwargs)
        forward = _copy_layer(layer, name=f"forward_{_removeprefix(layer.name, 'forward_')}")
        if backward_layer is None:
            backward = _copy_layer(layer, go_backwards=True, name=f"backward_{_removeprefix(layer.name, 'backward_')}")
        else:
            backward = backward_layer
        self.forward_layer = forward
        self.backward_layer = backward
        self._verify()
        for sub in (forward, backward):
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = list(weights) if weights else None
        self.stateful = getattr(layer, "stateful", False)
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def _verify(self):
        f, b = self.forward_layer, self.backward_layer
        if f.go_backwards == b.go_backwards:
            raise ValueError("Bidirectional: the forward and backward layers must have different go_backwards "
                             f"values, got forward_layer.go_backwards={f.go_backwards}, "
                             f"backward_layer.go_backwards={b.go_backwards}")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(f, a, None) != getattr(b, a, None):
                raise ValueError(f"Bidirectional: the forward and backward layers must have the same {a}, got "
                                 f"{getattr(f, a, None)!r} (forward) and {getattr(b, a, None)!r} (backward)")

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        with own_scope(self):
            _build_sublayer(self.forward_layer, shape)
            _build_sublayer(self.backward_layer, shape)
        if self._initial_weights:
            n = len(self._initial_weights) // 2
            self.forward_layer.set_weights(self._initial_weights[:n])
            self.backward_layer.set_weights(self._initial_weights[n:])
            self._initial_weights = None
        self.built = True

    def _n_states(self, layer):
        cell = getattr(layer, "cell", None)
        return getattr(cell, "_n_states", 1)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {"training": training}
        if mask is not None:
            kwargs["mask"] = mask
        fstate = bstate = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            nf, nb = self._n_states(self.forward_layer), self._n_states(self.backward_layer)
            if len(states) != nf + nb:
                raise ValueError(f"Bidirectional '{self.name}': initial_state must hold {nf} forward then {nb} "
                                 f"backward state(s), got {len(states)}")
            fstate, bstate = states[:nf], states[nf:]
        y = self.forward_layer(sequences, initial_state=fstate, **kwargs)
        y_rev = self.backward_layer(sequences, initial_state=bstate, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.getitem(y_rev, (slice(None), slice(None, None, -1)))
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) * 0.5
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            return (output + states) if self.merge_mode is None else (output,) + states
        return output

    def _sub_shapes(self, layer, shape):
        s = layer.compute_output_shape(shape)
        if layer.return_state:
            return tuple(s[0]), [tuple(t) for t in s[1:]]
        return tuple(s), []

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        fo, fs = self._sub_shapes(self.forward_layer, shape)
        bo, bs = self._sub_shapes(self.backward_layer, shape)
        if self.merge_mode == "concat":
            last = None if fo[-1] is None or bo[-1] is None else fo[-1] + bo[-1]
            outs = [fo[:-1] + (last,)]
        elif self.merge_mode is None:
            outs = [fo, bo]
        else:
            outs = [fo]
        if self.return_state or self.merge_mode is None:
            return tuple(outs + fs + bs)
        return outs[0]

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        masks = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            masks += [None] * (self._n_states(self.forward_layer) + self._n_states(self.backward_layer))
        return masks if len(masks) > 1 else masks[0]

    def compute_output_spec(self, sequences, initial_state=None, mask=None, training=None, **kwargs):
        shapes = self.compute_output_shape(tuple(sequences.shape))
        has_mask = bool(self.return_sequences and (getattr(sequences, "_has_mask", False)
                                                   or isinstance(mask, KerasTensor)))
        dt = self.compute_dtype
        if isinstance(shapes, tuple) and shapes and isinstance(shapes[0], tuple):
            n_out = 2 if self.merge_mode is None else 1
            return tuple(OutputSpec(tuple(s), dt, has_mask and i < n_out) for i, s in enumerate(shapes))
        return OutputSpec(tuple(shapes), dt, has_mask)

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_layer(self.forward_layer), "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = dict(config)
        layer = config.pop("layer")
        if isinstance(layer, dict):
            layer = deserialize_layer(layer, custom_objects, safe_mode)
        backward = config.pop("backward_layer", None)
        if isinstance(backward, dict):
            backward = deserialize_layer(backward, custom_objects, safe_mode)
        return cls(layer, backward_layer=backward, **config)


__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "SimpleRNN", "LSTM", "GRU", "Bidirectional"]
