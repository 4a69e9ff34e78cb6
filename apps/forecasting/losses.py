"""The pinball (quantile) loss for networks that forecast several quantiles."""
from __future__ import annotations

import numpy as np

from core import ops
from core.autodiff import Tensor
from core.backend import get_xp
from core.losses import Loss


class PinballLoss(Loss):
    """Mean over quantiles of ``max(tau * (y - q_tau), (tau - 1) * (y - q_tau))`` for y_true (batch, H) and
    y_pred (batch, H, Q); per sample the mean over steps and quantiles."""

    def __init__(self, quantiles, name="pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = [float(q) for q in quantiles]

    def call(self, y_true, y_pred):
        tau = Tensor(get_xp(y_pred.data).asarray(np.asarray(self.quantiles, dtype=y_pred.dtype)))
        d = ops.expand_dims(y_true, -1) - y_pred
        loss = ops.maximum(d * tau, d * (tau - 1.0))
        return ops.mean(ops.reshape(loss, (loss.shape[0], -1)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles}
