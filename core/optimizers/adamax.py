"""Adamax (Adam with the infinity norm), Keras's ``Adamax``."""
from __future__ import annotations

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _kcast, _lr_cast


class Adamax(Optimizer):
    """Adamax: ``m += (g - m)(1 - b1); u = max(b2 u, |g|); p -= lr m / ((1 - b1^t)(u + epsilon))``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.beta_1 = _check_range("Adamax", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range("Adamax", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range("Adamax", "epsilon", epsilon)

    def _slot_groups(self):
        return [(("momentum", 0.0), ("norm", 0.0))]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        beta_1_power = _kcast(t, self.beta_1) ** t(self.iterations + 1)
        m = self._slot("momentum", variable)
        u = self._slot("norm", variable)
        m += (gradient - m) * t(1 - self.beta_1)
        xp.maximum(t(self.beta_2) * u, xp.abs(gradient), out=u)
        variable.data -= (lr * m) / ((1 - beta_1_power) * (u + t(self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
