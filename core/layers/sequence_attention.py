"""``Attention`` (Luong-style, dot or concat scores) and ``AdditiveAttention`` (Bahdanau-style):
a query sequence attends over a value sequence, ``inputs = [query, value]`` or ``[query, value, key]``.

Scores ``(batch, Tq, Tv)`` are masked by the value mask (and ``use_causal_mask``) with Keras's
``scores - 1e9``, soft-maxed over ``Tv`` (dropout on them in training), and applied to ``value``;
outputs at masked query steps are zero and the query mask travels on.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..autodiff import Tensor
from .regularization import _SeededLayer

_MASKED_SCORE = 1.0e9  # Keras subtracts this from masked scores (65504 in float16)


class Attention(_SeededLayer):
    """Dot-product attention: scores ``query @ key^T`` (times a learned scalar ``scale`` with
    ``use_scale``), or with ``score_mode="concat"`` ``concat_score_weight * sum(tanh(scale * (q + k)))``."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Invalid value for argument score_mode. Expected one of {{'dot', 'concat'}}. "
                             f"Received: score_mode={score_mode!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be a float in [0, 1), got {dropout!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self._init_seed(seed)
        self.supports_masking = True
        self.scale = self.concat_score_weight = None

    # ------------------------------------------------------------- inputs
    def _validate_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely [query, value] or "
                             f"[query, value, key]. Received: inputs={inputs!r}.")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely [query, value] or "
                             f"[query, value, key]. Received length: {len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name} layer mask must be a list, namely [query_mask, value_mask]. "
                                 f"Received: mask={mask!r}.")
            if not 2 <= len(mask) <= 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. Received: mask={mask!r}.")

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")

    # ------------------------------------------------------------- scores
    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores * self.scale if self.scale is not None else scores
        s = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)
        if self.scale is not None:
            s = s * self.scale
        return self.concat_score_weight * ops.sum(ops.tanh(s), axis=-1)

    @staticmethod
    def _as_bool(mask):
        if mask is None:
            return None
        data = mask.data if isinstance(mask, Tensor) else mask
        return data.astype(bool) if data.dtype != np.bool_ else data

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._validate_inputs(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = self._as_bool(mask[0]) if mask else None
        v_mask = self._as_bool(mask[1]) if mask else None
        scores = self._calculate_scores(q, k)
        xp = scores.xp
        keep = None if v_mask is None else xp.asarray(v_mask)[..., None, :]
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal = xp.tril(xp.ones((tq, tv), dtype=bool))[None]
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = ops.where(keep, scores, scores - _MASKED_SCORE)
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = ops.dropout(weights, self.dropout, training=True, seed=self._generator)
        out = ops.matmul(weights, v)
        if q_mask is not None:
            out = ops.where(xp.asarray(q_mask)[..., None], out, 0.0)
            out._keras_mask = Tensor(q_mask)
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        self._validate_inputs(inputs, mask)
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: scores ``sum(scale * tanh(q + k))`` with a learned vector
    ``scale`` of the feature size (``use_scale=True``, default) or 1."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        dim = input_shape[0][-1]
        if self.use_scale:
            self.scale = self.add_weight((dim,), "glorot_uniform", name="scale")

    def _calculate_scores(self, query, key):
        t = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))
        return ops.sum(t * self.scale if self.scale is not None else t, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
