"""Lion (sign of an interpolated momentum), Keras's ``Lion``."""
from __future__ import annotations

from ..backend import get_xp
from .base_optimizer import Optimizer
from .arguments import _check_range, base_arguments
from .numerics import _kcast, _lr_cast


class Lion(Optimizer):
    """Lion: ``p -= lr * sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.beta_1 = _check_range("Lion", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range("Lion", "beta_2", beta_2, 0.0, 1.0)
        if self.beta_1 <= 0:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates "
                             f"to SignSGD. Received: beta_1={beta_1}.")

    def _slot_groups(self):
        return [(("momentum", 0.0),)]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        beta_1, beta_2 = _kcast(t, self.beta_1), _kcast(t, self.beta_2)
        m = self._slot("momentum", variable)
        variable.data -= lr * xp.sign(m * beta_1 + gradient * (t(1) - beta_1))
        m[...] = m * beta_2 + gradient * (t(1) - beta_2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
