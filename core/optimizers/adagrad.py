"""Adagrad, Keras's ``Adagrad``."""
from __future__ import annotations

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _lr_cast


class Adagrad(Optimizer):
    """Adagrad: ``acc += g^2; p -= lr*g / sqrt(acc + epsilon)`` (``acc`` starts at
    ``initial_accumulator_value``)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.initial_accumulator_value = _check_range("Adagrad", "initial_accumulator_value",
                                                      initial_accumulator_value)
        self.epsilon = _check_range("Adagrad", "epsilon", epsilon)

    def _slot_groups(self):
        return [(("accumulator", self.initial_accumulator_value),)]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        accumulator = self._slot("accumulator", variable)
        accumulator += xp.square(gradient)
        variable.data -= (_lr_cast(t, learning_rate) * gradient) / xp.sqrt(accumulator + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
