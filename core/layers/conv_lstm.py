"""``ConvLSTM1D`` / ``ConvLSTM2D`` / ``ConvLSTM3D``: LSTMs whose input and recurrent transforms are
1-, 2- or 3-d convolutions, over (batch, time, *spatial, channels) (Keras 3 semantics and weight
layout: ``conv_lstm_cell`` with ``kernel`` (k..., C, 4 * filters), ``recurrent_kernel``
(k..., filters, 4 * filters), ``bias`` (4 * filters,), gate order i, f, c, o).

The cell is stepped by ``RNN`` (a loop over time steps); the recurrent convolution uses "same"
padding and stride 1, the input one the layer's strides/padding/dilation. Dropout masks are
Keras's: one per gate, drawn once per sequence.
"""
from __future__ import annotations

import numpy as np

from .. import activations, ops, regularizers
from ..autodiff import Tensor
from .base import Layer, OutputSpec
from .convolutional import conv_output_length, standardize_data_format, standardize_padding, standardize_tuple
from .recurrent import DropoutRNNCell, _rate, _set_weight_arguments, _weight_config
from .rnn import RNN


def _conv(rank, x, kernel, bias, strides, padding, dilation):
    if rank == 1:
        return ops.conv1d(x, kernel, bias, strides=strides[0], padding=padding, dilation=dilation[0])
    if rank == 2:
        return ops.conv2d(x, kernel, bias, strides=strides, padding=padding, dilation=dilation)
    return ops.conv3d(x, kernel, bias, strides=strides, padding=padding, dilation=dilation)


class ConvLSTMCell(DropoutRNNCell, Layer):
    """One step of a ``rank``-d ConvLSTM: ``call(inputs, [h, c], training=False) -> (h, [h, c])``."""

    _gates = 4

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(f"Rank {rank} convolutions are not currently implemented. Received: rank={rank}")
        owner = f"ConvLSTM{rank}D"
        self.rank = rank
        self.filters = int(filters)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.padding = standardize_padding(padding, owner)
        self.data_format = standardize_data_format(data_format, owner)
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Specifying `strides > 1` is not compatible with `dilation_rate > 1`. Please provide "
                             f"`strides=1` or `dilation_rate=1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        _set_weight_arguments(self, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                              recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
                              bias_constraint)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.dropout = _rate(owner, "dropout", dropout)
        self.recurrent_dropout = _rate(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.state_size = -1  # as Keras: the state shape follows the input's spatial size
        self.kernel = self.recurrent_kernel = self.bias = None

    def _mask_count(self):
        return 4

    def build(self, input_shape):
        spatial = tuple(input_shape[1:-1])
        if None in spatial:
            raise ValueError(f"ConvLSTM layers only support static input shapes for the spatial dimension. Received "
                             f"invalid input shape: input_shape={tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ValueError(f"The channel dimension of the inputs (last axis) should be defined. Found None. Full "
                             f"input shape received: input_shape={tuple(input_shape)}")
        self.spatial_dims, self.input_dim = spatial, int(input_shape[-1])
        f4 = 4 * self.filters
        self.kernel = self.add_weight(self.kernel_size + (self.input_dim, f4), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(self.kernel_size + (self.filters, f4), self.recurrent_initializer,
                                                name="recurrent_kernel", regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            init, f = self.bias_initializer, self.filters
            if self.unit_forget_bias:
                def bias_init(shape, dtype="float32"):
                    return np.concatenate([np.asarray(init((f,), dtype=dtype)), np.ones((f,), dtype),
                                           np.asarray(init((2 * f,), dtype=dtype))]).astype(dtype)
            else:
                bias_init = init
            self.bias = self.add_weight((f4,), bias_init, name="bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def _state_shape(self, batch_size):
        out = tuple(conv_output_length(n, k, s, d, self.padding)
                    for n, k, s, d in zip(self.spatial_dims, self.kernel_size, self.strides, self.dilation_rate))
        return (batch_size,) + out + (self.filters,)

    def get_initial_state(self, batch_size=None):
        shape = self._state_shape(batch_size)
        return [Tensor(np.zeros(shape, dtype=self.compute_dtype)), Tensor(np.zeros(shape, dtype=self.compute_dtype))]

    def _gate(self, w, g):
        f = self.filters
        return ops.getitem(w, (Ellipsis, slice(g * f, (g + 1) * f)))

    def call(self, inputs, states, training=False):
        h, c = states
        dm = self.get_dropout_mask(inputs) if training and 0.0 < self.dropout < 1.0 else None
        rm = self.get_recurrent_dropout_mask(h) if training and 0.0 < self.recurrent_dropout < 1.0 else None

        ones = (1,) * self.rank
        if dm is None and rm is None:  # every gate sees the same input and state: one convolution each
            z = _conv(self.rank, inputs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
            z = z + _conv(self.rank, h, self.recurrent_kernel, None, ones, "same", ones)

            def pre(g):
                return self._gate(z, g)
        else:  # a dropout mask per gate: the gates' convolutions one by one
            def pre(g):
                x = inputs * Tensor(dm[g]) if dm is not None else inputs
                hh = h * Tensor(rm[g]) if rm is not None else h
                b = self._gate(self.bias, g) if self.bias is not None else None
                xc = _conv(self.rank, x, self._gate(self.kernel, g), b, self.strides, self.padding,
                           self.dilation_rate)
                return xc + _conv(self.rank, hh, self._gate(self.recurrent_kernel, g), None, ones, "same", ones)

        ra, act = self.recurrent_activation, self.activation
        i, f = ra(pre(0)), ra(pre(1))
        c = f * c + i * act(pre(2))
        h = ra(pre(3)) * act(c)
        return h, [h, c]


class _ConvLSTM(RNN):
    """A convolutional LSTM over (batch, time, *spatial, channels); ``return_sequences``,
    ``return_state`` (``(output, h, c)``), ``go_backwards``, masks and ``initial_state`` as ``RNN``."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, **kwargs):
        cell = ConvLSTMCell(self.rank, filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                              dilation_rate=dilation_rate, activation=activation,
                              recurrent_activation=recurrent_activation, use_bias=use_bias,
                              kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                              bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                              kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                              bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                              recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                              dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, name="conv_lstm_cell",
                              dtype=kwargs.get("dtype"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != self.rank + 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of rank {self.rank + 3} (batch, "
                             f"time, {self.rank} spatial axes, channels), got shape {tuple(sequences_shape)}")
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        out = super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(out[0] if isinstance(out, tuple) else out))
        return out

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        n, t = sequences_shape[0], sequences_shape[1]
        cell = self.cell
        spatial = tuple(conv_output_length(d, k, s, r, cell.padding) for d, k, s, r in
                        zip(sequences_shape[2:-1], cell.kernel_size, cell.strides, cell.dilation_rate))
        state = spatial + (cell.filters,)
        out = (n, t) + state if self.return_sequences else (n,) + state
        return (out, (n,) + state, (n,) + state) if self.return_state else out

    def compute_output_spec(self, sequences, initial_state=None, mask=None, training=None, **kwargs):
        shapes = self.compute_output_shape(tuple(sequences.shape))
        dt = self.compute_dtype
        has_mask = bool(self.return_sequences and getattr(sequences, "_has_mask", False))
        if self.return_state:
            return (OutputSpec(shapes[0], dt, has_mask), OutputSpec(shapes[1], dt), OutputSpec(shapes[2], dt))
        return OutputSpec(shapes, dt, has_mask)

    def get_config(self):
        c = self.cell
        config = {k: v for k, v in super().get_config().items() if k != "cell"}
        return {**config, "filters": c.filters, "kernel_size": c.kernel_size, "strides": c.strides,
                "padding": c.padding, "data_format": c.data_format, "dilation_rate": c.dilation_rate,
                "activation": activations.serialize(c.activation),
                "recurrent_activation": activations.serialize(c.recurrent_activation), "use_bias": c.use_bias,
                **_weight_config(c), "unit_forget_bias": c.unit_forget_bias,
                "activity_regularizer": regularizers.serialize(self.activity_regularizer), "dropout": c.dropout,
                "recurrent_dropout": c.recurrent_dropout, "seed": c.seed}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        return cls(**config)


class ConvLSTM1D(_ConvLSTM):
    """1-d convolutional LSTM over (batch, time, steps, channels)."""

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """2-d convolutional LSTM over (batch, time, height, width, channels)."""

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """3-d convolutional LSTM over (batch, time, depth, height, width, channels)."""

    rank = 3


ConvLSTM2DCell = ConvLSTMCell
