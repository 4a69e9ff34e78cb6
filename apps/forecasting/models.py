"""Forecasting networks built with ``core.layers`` (Keras 3 API), channel-independent: input
(batch, lookback, 1 + F) = one target channel's window plus the shared feature columns, output
(batch, horizon) = that channel's direct multi-step forecast.

Every model normalises each window's target channel on its own (RevIN without affine terms:
``norm="revin"`` mean/std of the window, ``"last"`` relative to the last value) and maps the
output back, so series whose level drifts far from the training range stay in range.

* ``linear``: DLinear (Zeng et al. 2023): moving-average trend + seasonal remainder, one linear
  map over the lookback for each.
* ``transformer``: PatchTST-like (Nie et al. 2023): overlapping patches embedded linearly (a
  strided Conv1D), learned positions, pre-residual encoder blocks (MultiHeadAttention, LayerNorm,
  ReLU feed-forward), a flatten head to the horizon.
* ``lstm``: an LSTM encoder and a Dense head.
"""
from __future__ import annotations

import numpy as np

from core import ops
from core.autodiff import Tensor
from core.backend import get_xp
from core.layers import Layer, register_serializable

MODEL_KINDS = ("linear", "transformer", "lstm")
NORMS = ("revin", "last", "none")


def _stats(x, mode, eps=1e-5):
    """Location and scale (batch, 1, 1) of channel 0 of the windows ``x`` (a raw array)."""
    xp = get_xp(x)
    x0 = x[:, :, :1]
    if mode == "revin":
        loc = x0.mean(axis=1, keepdims=True)
        scale = xp.sqrt(x0.var(axis=1, keepdims=True) + x.dtype.type(eps))
    elif mode == "last":
        loc = x0[:, -1:, :]
        scale = xp.ones_like(loc)
    else:
        loc = xp.zeros_like(x0[:, :1, :])
        scale = xp.ones_like(loc)
    return loc.astype(x.dtype), scale.astype(x.dtype)


@register_serializable(package="zoo_forecast")
class WindowNormalization(Layer):
    """Normalise channel 0 of each window (batch, L, C) by its own statistics (RevIN, no affine);
    the other channels (covariates, already z-scored globally) pass through."""

    def __init__(self, mode="revin", **kwargs):
        super().__init__(**kwargs)
        if mode not in NORMS:
            raise ValueError(f"WindowNormalization: mode must be one of {NORMS}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = inputs.data
        loc, scale = _stats(x, self.mode)
        out = x.copy()
        out[:, :, :1] = (x[:, :, :1] - loc) / scale
        return Tensor(out)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@register_serializable(package="zoo_forecast")
class WindowDenormalization(Layer):
    """``[y (batch, H), x (batch, L, C)]`` -> ``y * scale + loc`` with the statistics of x's channel 0."""

    def __init__(self, mode="revin", **kwargs):
        super().__init__(**kwargs)
        if mode not in NORMS:
            raise ValueError(f"WindowDenormalization: mode must be one of {NORMS}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        y, x = inputs
        loc, scale = _stats(x.data, self.mode)
        if self.mode == "none":
            return y
        if len(y.shape) == 3:  # quantile outputs (batch, H, Q): the same statistics for every quantile
            return y * Tensor(scale) + Tensor(loc)
        return y * Tensor(scale[:, 0, :]) + Tensor(loc[:, 0, :])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def moving_average_matrix(length: int, kernel_size: int) -> np.ndarray:
    """(L, L) matrix of a centred moving average with the ends replicated (DLinear's padding)."""
    k = int(kernel_size)
    front, back = (k - 1) // 2, k // 2
    a = np.zeros((length, length), dtype=np.float64)
    for t in range(length):
        for j in range(t - front, t + back + 1):
            a[t, min(max(j, 0), length - 1)] += 1.0 / k
    return a


@register_serializable(package="zoo_forecast")
class SeriesDecomposition(Layer):
    """Trend of (batch, L, C) windows: a centred moving average over time, ends replicated."""

    def __init__(self, kernel_size=25, **kwargs):
        super().__init__(**kwargs)
        if int(kernel_size) < 1:
            raise ValueError(f"SeriesDecomposition: kernel_size must be >= 1, got {kernel_size!r}")
        self.kernel_size = int(kernel_size)
        self._matrix = {}

    def call(self, inputs):
        b, length, c = inputs.shape
        xp = get_xp(inputs.data)
        key = (length, id(xp), str(inputs.dtype))
        if key not in self._matrix:
            self._matrix[key] = xp.asarray(moving_average_matrix(length, self.kernel_size).T.astype(inputs.dtype))
        flat = ops.reshape(ops.transpose(inputs, (0, 2, 1)), (b * c, length))
        trend = ops.matmul(flat, Tensor(self._matrix[key]))
        return ops.transpose(ops.reshape(trend, (b, c, length)), (0, 2, 1))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


@register_serializable(package="zoo_forecast")
class PositionEmbedding(Layer):
    """Add a learned (length, dim) position table to (batch, length, dim) inputs."""

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.initializer = initializer

    def build(self, input_shape):
        from core import initializers

        init = initializers.get(self.initializer) if self.initializer else initializers.RandomUniform(-0.02, 0.02)
        self.embeddings = self.add_weight((input_shape[1], input_shape[2]), init, name="embeddings")

    def call(self, inputs):
        return inputs + self.embeddings

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "initializer": self.initializer}


def monotone_matrices(quantiles):
    """(anchor, increments) matrices (Q, Q) of :class:`MonotoneQuantiles` for sorted ``quantiles``: the
    quantile nearest 0.5 is the anchor; the others are it plus (above) or minus (below) running sums of
    softplus increments, so they are ordered by construction."""
    q = np.asarray(quantiles, dtype=np.float64)
    n, k0 = len(q), int(np.argmin(np.abs(q - 0.5)))
    anchor = np.zeros((n, n))
    anchor[k0, :] = 1.0
    inc = np.zeros((n, n))
    for j in range(n):
        if j > k0:
            inc[k0 + 1:j + 1, j] = 1.0
        elif j < k0:
            inc[j:k0, j] = -1.0
    return anchor, inc


@register_serializable(package="zoo_forecast")
class MonotoneQuantiles(Layer):
    """(batch, H * Q) raw head outputs -> (batch, H, Q) quantiles that never cross: the one nearest the
    median is the raw value, each further quantile adds (or subtracts) softplus of its raw value."""

    def __init__(self, quantiles, **kwargs):
        super().__init__(**kwargs)
        q = [float(v) for v in quantiles]
        if not q or any(not 0 < v < 1 for v in q) or sorted(set(q)) != q:
            raise ValueError(f"MonotoneQuantiles: quantiles must be increasing and inside (0, 1), got {quantiles!r}")
        self.quantiles = q
        self._mats = {}

    def call(self, inputs):
        b = inputs.shape[0]
        n = len(self.quantiles)
        xp = get_xp(inputs.data)
        key = (id(xp), str(inputs.dtype))
        if key not in self._mats:
            self._mats[key] = tuple(Tensor(xp.asarray(a.astype(inputs.dtype))) for a in monotone_matrices(self.quantiles))
        anchor, inc = self._mats[key]
        raw = ops.reshape(inputs, (b, -1, n))
        return ops.matmul(raw, anchor) + ops.matmul(ops.softplus(raw), inc)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // len(self.quantiles), len(self.quantiles))

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles}


# ----------------------------------------------------------------------------- builders
DEFAULTS = {
    "linear": {"kernel_size": 25},
    "transformer": {"patch_len": 16, "patch_stride": 8, "d_model": 64, "num_heads": 4, "num_layers": 2,
                    "ff_dim": 128, "dropout": 0.2, "head_dropout": 0.0},
    "lstm": {"units": 64, "dropout": 0.0},
}


def build_model(kind: str, lookback: int, horizon: int, n_inputs: int = 1, norm: str = "revin", quantiles=None, **hp):
    """A Functional model (batch, lookback, n_inputs) -> (batch, horizon) of the given kind; with
    ``quantiles`` (increasing, in (0, 1)) -> (batch, horizon, len(quantiles)), never crossing."""
    from core import layers as L
    from core.models import Model

    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    unknown = set(hp) - set(DEFAULTS[kind])
    if unknown:
        raise ValueError(f"{kind} model: unknown option(s) {sorted(unknown)}; it takes {sorted(DEFAULTS[kind])}")
    cfg = {**DEFAULTS[kind], **{k: v for k, v in hp.items() if v is not None}}
    n_out = horizon * len(quantiles) if quantiles else horizon  # quantiles: H * Q outputs, step-major
    inp = L.Input((lookback, n_inputs), name="window")
    x = WindowNormalization(norm, name="window_norm")(inp)
    if kind == "linear":
        trend = SeriesDecomposition(min(cfg["kernel_size"], lookback), name="decomposition")(x)
        seasonal = L.Subtract(name="seasonal")([x, trend])
        yt = L.Dense(n_out, name="trend_linear", kernel_initializer="zeros")(L.Flatten(name="trend_flat")(trend))
        ys = L.Dense(n_out, name="seasonal_linear", kernel_initializer="zeros")(L.Flatten(name="seasonal_flat")(seasonal))
        y = L.Add(name="linear_sum")([yt, ys])
    elif kind == "transformer":
        p_len, p_stride = int(cfg["patch_len"]), int(cfg["patch_stride"])
        if p_len > lookback:
            raise ValueError(f"transformer: patch length {p_len} is longer than the lookback {lookback}")
        d, heads = int(cfg["d_model"]), int(cfg["num_heads"])
        if d % heads:
            raise ValueError(f"transformer: d_model {d} must be a multiple of num_heads {heads}")
        h = L.Conv1D(d, p_len, strides=p_stride, name="patch_embedding")(x)
        h = PositionEmbedding(name="positions")(h)
        h = L.Dropout(cfg["dropout"], name="embedding_dropout")(h)
        for i in range(int(cfg["num_layers"])):
            a = L.MultiHeadAttention(heads, d // heads, name=f"block{i}_attention")(h, h)
            a = L.Dropout(cfg["dropout"], name=f"block{i}_attention_dropout")(a)
            h = L.LayerNormalization(epsilon=1e-5, name=f"block{i}_norm1")(L.Add(name=f"block{i}_add1")([h, a]))
            f = L.Dense(int(cfg["ff_dim"]), activation="relu", name=f"block{i}_ff1")(h)
            f = L.Dense(d, name=f"block{i}_ff2")(f)
            f = L.Dropout(cfg["dropout"], name=f"block{i}_ff2_dropout")(f)
            h = L.LayerNormalization(epsilon=1e-5, name=f"block{i}_norm2")(L.Add(name=f"block{i}_add2")([h, f]))
        h = L.Flatten(name="head_flatten")(h)
        if cfg["head_dropout"]:
            h = L.Dropout(cfg["head_dropout"], name="head_dropout")(h)
        y = L.Dense(n_out, name="head")(h)
    else:
        h = L.LSTM(int(cfg["units"]), dropout=cfg["dropout"], name="encoder")(x)
        y = L.Dense(n_out, name="head")(h)
    if quantiles:
        y = MonotoneQuantiles(quantiles, name="quantiles")(y)
    out = WindowDenormalization(norm, name="window_denorm")([y, inp])
    return Model(inp, out, name=f"forecast_{kind}")
