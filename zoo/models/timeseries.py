"""``ts_transformer``: a transformer encoder that forecasts ``horizon`` future steps of a series.

    model = zoo.create_model("ts_transformer", input_length=96, num_features=3, horizon=24, patch_len=16)
    model.compile("adam", "mse"); model.fit(x, y)        # x (B, 96, 3), y (B, 24)

Pipeline: per-series instance normalisation (each sample's features standardised over its input
window; the forecast is mapped back with the target features' statistics, as RevIN/PatchTST), an
embedding of each time step (``patch_len=None``) or of non-overlapping patches of ``patch_len``
steps (PatchTST-style; ``input_length`` must be a multiple), learned position embeddings,
``num_layers`` pre-LN encoder blocks (multi-head self-attention, GELU feed-forward, residuals),
a final LayerNorm, and a linear head on the flattened tokens giving all steps at once.
Targets are the first ``num_targets`` features: output (B, horizon) when ``num_targets`` is None
(feature 0), else (B, horizon, num_targets).
"""
from __future__ import annotations

from core import ops
from core import layers as L
from core.layers.base import Layer, register_serializable
from core.models.functional import Functional

from ..registry import register_model


@register_serializable("zoo")
class SeriesNormalization(Layer):
    """Standardise each sample's features over time: returns ``[(x - mean) / std, mean, std]``
    with mean/std of shape (B, 1, F) (std = sqrt(var + epsilon))."""

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        mean = ops.mean(x, axis=1, keepdims=True)
        centred = x - mean
        std = ops.sqrt(ops.mean(centred * centred, axis=1, keepdims=True) + self.epsilon)
        return [centred / std, mean, std]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@register_serializable("zoo")
class SeriesDenormalization(Layer):
    """``y * std[..., :k] + mean[..., :k]`` for a forecast y (B, H, k) of the first k features."""

    def call(self, inputs):
        y, mean, std = inputs
        k = y.shape[-1]
        sl = (slice(None), slice(None), slice(0, k))
        return y * ops.getitem(std, sl) + ops.getitem(mean, sl)


@register_serializable("zoo")
class Patching(Layer):
    """(B, L, F) -> (B, L // patch_len, patch_len * F): non-overlapping patches, steps then features."""

    def __init__(self, patch_len, **kwargs):
        super().__init__(**kwargs)
        self.patch_len = int(patch_len)

    def call(self, x):
        B, T, F = x.shape
        if T % self.patch_len:
            raise ValueError(f"Patching '{self.name}': the series length {T} is not a multiple of "
                             f"patch_len={self.patch_len}")
        return ops.reshape(x, (B, T // self.patch_len, self.patch_len * F))

    def compute_output_shape(self, input_shape):
        B, T, F = input_shape
        return (B, None if T is None else T // self.patch_len, self.patch_len * F)

    def get_config(self):
        return {**super().get_config(), "patch_len": self.patch_len}


@register_serializable("zoo")
class PositionEmbedding(Layer):
    """Adds a learned (length, d) position table to (B, length, d) tokens."""

    def __init__(self, length, initializer_stddev=0.02, **kwargs):
        super().__init__(**kwargs)
        self.length = int(length)
        self.initializer_stddev = float(initializer_stddev)

    def build(self, input_shape):
        from core import initializers

        init = initializers.get({"class_name": "RandomNormal", "config": {"stddev": self.initializer_stddev}})
        self.embeddings = self.add_weight((self.length, input_shape[-1]), init, name="embeddings")

    def call(self, x):
        if x.shape[1] != self.length:
            raise ValueError(f"PositionEmbedding '{self.name}': expected {self.length} tokens, got shape "
                             f"{tuple(x.shape)}")
        return x + self.embeddings

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "length": self.length, "initializer_stddev": self.initializer_stddev}


def _encoder_block(x, i, d_model, num_heads, ff_dim, dropout):
    """Pre-LN transformer encoder block on symbolic tokens (B, n, d)."""
    h = L.LayerNormalization(epsilon=1e-5, name=f"block{i}_attn_norm")(x)
    h = L.MultiHeadAttention(num_heads, d_model // num_heads, dropout=dropout, name=f"block{i}_attn")(h, h)
    if dropout:
        h = L.Dropout(dropout, name=f"block{i}_attn_dropout")(h)
    x = L.Add(name=f"block{i}_attn_add")([x, h])
    h = L.LayerNormalization(epsilon=1e-5, name=f"block{i}_ff_norm")(x)
    h = L.Dense(ff_dim, activation="gelu", name=f"block{i}_ff1")(h)
    if dropout:
        h = L.Dropout(dropout, name=f"block{i}_ff_dropout")(h)
    h = L.Dense(d_model, name=f"block{i}_ff2")(h)
    if dropout:
        h = L.Dropout(dropout, name=f"block{i}_ff2_dropout")(h)
    return L.Add(name=f"block{i}_ff_add")([x, h])


@register_model("ts_transformer", default_num_classes=None)
def ts_transformer(input_length=96, num_features=1, horizon=24, patch_len=None, d_model=64, num_heads=4,
                   num_layers=2, ff_dim=128, dropout=0.1, num_targets=None, instance_norm=True, name="ts_transformer",
                   num_classes=None, input_shape=None, include_top=True, pooling=None, classifier_activation=None):
    """Transformer forecaster: (B, input_length, num_features) -> (B, horizon) or
    (B, horizon, num_targets). ``patch_len`` None embeds each step; an int embeds patches.
    ``input_shape`` = (input_length, num_features) may replace those two; ``num_classes``,
    ``include_top``, ``pooling`` and ``classifier_activation`` belong to the registry's builder
    signature and are ignored (a forecaster has no classifier)."""
    if input_shape is not None:
        if len(tuple(input_shape)) != 2:
            raise ValueError(f"ts_transformer: input_shape must be (input_length, num_features), got {input_shape}")
        input_length, num_features = (int(v) for v in input_shape)
    input_length, num_features, horizon = int(input_length), int(num_features), int(horizon)
    for arg, v in (("input_length", input_length), ("num_features", num_features), ("horizon", horizon),
                   ("d_model", d_model), ("num_heads", num_heads), ("num_layers", num_layers), ("ff_dim", ff_dim)):
        if int(v) < 1:
            raise ValueError(f"ts_transformer: {arg} must be a positive integer, got {v}")
    if d_model % num_heads:
        raise ValueError(f"ts_transformer: d_model={d_model} must be divisible by num_heads={num_heads}")
    if patch_len is not None:
        patch_len = int(patch_len)
        if patch_len < 1 or input_length % patch_len:
            raise ValueError(f"ts_transformer: input_length={input_length} must be a positive multiple of "
                             f"patch_len={patch_len}")
    k = 1 if num_targets is None else int(num_targets)
    if not 1 <= k <= num_features:
        raise ValueError(f"ts_transformer: num_targets={num_targets} must be between 1 and num_features="
                         f"{num_features} (the targets are the first num_targets features)")
    inp = L.Input((input_length, num_features), name="series")
    x, mean, std = (SeriesNormalization(name="instance_norm")(inp) if instance_norm else (inp, None, None))
    if patch_len:
        x = Patching(patch_len, name="patching")(x)
    n_tokens = input_length // (patch_len or 1)
    x = L.Dense(d_model, name="embedding")(x)
    x = PositionEmbedding(n_tokens, name="position_embedding")(x)
    if dropout:
        x = L.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(int(num_layers)):
        x = _encoder_block(x, i, int(d_model), int(num_heads), int(ff_dim), float(dropout))
    x = L.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    x = L.Flatten(name="flatten")(x)
    if dropout:
        x = L.Dropout(dropout, name="head_dropout")(x)
    y = L.Dense(horizon * k, name="head")(x)
    y = L.Reshape((horizon, k), name="forecast")(y)
    if instance_norm:
        y = SeriesDenormalization(name="denormalize")([y, mean, std])
    if num_targets is None:
        y = L.Reshape((horizon,), name="output")(y)
    model = Functional(inp, y, name=name)
    model.config = dict(input_length=input_length, num_features=num_features, horizon=horizon, patch_len=patch_len,
                        d_model=int(d_model), num_heads=int(num_heads), num_layers=int(num_layers), ff_dim=int(ff_dim),
                        dropout=float(dropout), num_targets=num_targets, instance_norm=bool(instance_norm))
    return model


__all__ = ["ts_transformer", "SeriesNormalization", "SeriesDenormalization", "Patching", "PositionEmbedding"]
