"""Adadelta, Keras's ``Adadelta``."""
from __future__ import annotations

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _lr_cast


class Adadelta(Optimizer):
    """Adadelta: ``Eg = rho*Eg + (1-rho)*g^2; d = -sqrt(Ed + eps)/sqrt(Eg + eps) * g;
    Ed = rho*Ed + (1-rho)*d^2; p += lr*d``."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.rho = _check_range("Adadelta", "rho", rho, 0.0, 1.0)
        self.epsilon = _check_range("Adadelta", "epsilon", epsilon)

    def _slot_groups(self):
        return [(("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0))]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        rho, one_minus_rho, eps = t(self.rho), t(1 - self.rho), t(self.epsilon)
        acc_grad = self._slot("accumulated_grad", variable)
        acc_delta = self._slot("accumulated_delta_var", variable)
        acc_grad[...] = rho * acc_grad + one_minus_rho * xp.square(gradient)
        delta = -((xp.sqrt(acc_delta + eps) * gradient) / xp.sqrt(acc_grad + eps))
        acc_delta[...] = rho * acc_delta + one_minus_rho * xp.square(delta)
        variable.data += _lr_cast(t, learning_rate) * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
