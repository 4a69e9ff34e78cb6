"""Stochastic gradient descent with (Nesterov) momentum, Keras's ``SGD``."""
from __future__ import annotations

from .base_optimizer import Optimizer
from .arguments import _check_range, base_arguments
from .numerics import _kcast, _lr_cast


class SGD(Optimizer):
    """Gradient descent with momentum: ``m = momentum*m - lr*g; p += m`` (Nesterov:
    ``p += momentum*m - lr*g``); plain ``p -= lr*g`` when ``momentum == 0``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.momentum = _check_range("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_groups(self):
        return [(("momentum", 0.0),)] if self.momentum != 0 else []

    def update_step(self, gradient, variable, learning_rate):
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        if self.momentum != 0:
            m = self._slot("momentum", variable)
            momentum = _kcast(t, self.momentum)
            m[...] = m * momentum - gradient * lr
            if self.nesterov:
                variable.data += m * momentum - gradient * lr
            else:
                variable.data += m
        else:
            variable.data -= gradient * lr

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
