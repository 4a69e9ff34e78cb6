"""FTRL-Proximal, Keras's ``Ftrl``."""
from __future__ import annotations

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _lr_cast


class Ftrl(Optimizer):
    """Follow The Regularized Leader with L1/L2 and L2-shrinkage regularization:
    ``n' = n + g^2; z += g' - (n'^-p - n^-p)/lr * w; w = (clip(z, -l1, l1) - z) / (n'^-p/lr + 2 l2)``
    with ``p = learning_rate_power``, ``g' = g + 2 l2_shrinkage w`` and ``l2 += beta / (2 lr)``."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.initial_accumulator_value = _check_range("Ftrl", "initial_accumulator_value",
                                                      initial_accumulator_value)
        self.learning_rate_power = _check_range("Ftrl", "learning_rate_power", learning_rate_power, None, 0.0)
        self.l1_regularization_strength = _check_range("Ftrl", "l1_regularization_strength",
                                                       l1_regularization_strength)
        self.l2_regularization_strength = _check_range("Ftrl", "l2_regularization_strength",
                                                       l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = _check_range("Ftrl", "l2_shrinkage_regularization_strength",
                                                                 l2_shrinkage_regularization_strength)
        self.beta = _check_range("Ftrl", "beta", beta, None)

    def _slot_groups(self):
        return [(("accumulator", self.initial_accumulator_value), ("linear", 0.0))]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        accum = self._slot("accumulator", variable)
        linear = self._slot("linear", variable)
        power = t(-self.learning_rate_power)
        l2_reg = t(self.l2_regularization_strength) + t(self.beta) / (t(2.0) * lr)
        grad_to_use = gradient + t(2 * self.l2_shrinkage_regularization_strength) * variable.data
        new_accum = accum + xp.square(gradient)
        new_accum_power = xp.power(new_accum, power)
        linear += grad_to_use - ((new_accum_power - xp.power(accum, power)) / lr) * variable.data
        quadratic = new_accum_power / lr + t(2) * l2_reg
        l1 = t(self.l1_regularization_strength)
        variable.data[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
        accum[...] = new_accum

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
