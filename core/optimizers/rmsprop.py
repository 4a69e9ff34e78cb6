"""RMSprop (plain, centered, with momentum), Keras's ``RMSprop``."""
from __future__ import annotations

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _lr_cast


class RMSprop(Optimizer):
    """RMSprop: ``v = rho*v + (1-rho)*g^2``; ``inc = lr*g / sqrt(v + eps)`` (centered:
    ``sqrt(v - ḡ^2 + eps)`` with ``ḡ = rho*ḡ + (1-rho)*g``); with momentum
    ``mom = momentum*mom + inc; p -= mom``, else ``p -= inc``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.rho = _check_range("RMSprop", "rho", rho, 0.0, 1.0)
        self.momentum = _check_range("RMSprop", "momentum", momentum, 0.0, 1.0)
        self.epsilon = _check_range("RMSprop", "epsilon", epsilon)
        self.centered = bool(centered)

    def _slot_groups(self):
        groups = [(("velocity", 0.0),)]
        if self.momentum > 0:
            groups.append((("momentum", 0.0),))
        if self.centered:
            groups.append((("average_gradient", 0.0),))
        return groups

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        rho = t(self.rho)
        one_minus_rho = t(1 - self.rho)
        velocity = self._slot("velocity", variable)
        velocity[...] = rho * velocity + one_minus_rho * xp.square(gradient)
        if self.centered:
            average_grad = self._slot("average_gradient", variable)
            average_grad[...] = rho * average_grad + one_minus_rho * gradient
            denominator = velocity - xp.square(average_grad) + t(self.epsilon)
        else:
            denominator = velocity + t(self.epsilon)
        increment = (lr * gradient) / xp.sqrt(denominator)
        if self.momentum > 0:
            momentum = self._slot("momentum", variable)
            momentum[...] = t(self.momentum) * momentum + increment
            variable.data -= momentum
        else:
            variable.data -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
