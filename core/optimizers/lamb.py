"""LAMB (Adam with a layer-wise trust ratio), Keras's ``Lamb``."""
from __future__ import annotations

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _kcast, _lr_cast


class Lamb(Optimizer):
    """Lamb: Adam's bias-corrected step ``u = m_hat / (sqrt(v_hat) + epsilon)`` scaled by the
    trust ratio ``||p|| / ||u||`` (1 when either norm is 0): ``p -= ratio * lr * u``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.beta_1 = _check_range("Lamb", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range("Lamb", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range("Lamb", "epsilon", epsilon)

    def _slot_groups(self):
        return [(("momentum", 0.0), ("velocity", 0.0))]

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        beta_1_power = _kcast(t, self.beta_1) ** local_step
        beta_2_power = _kcast(t, self.beta_2) ** local_step
        m = self._slot("momentum", variable)
        v = self._slot("velocity", variable)
        m += (gradient - m) * t(1 - self.beta_1)
        v += (xp.square(gradient) - v) * t(1 - self.beta_2)
        m_hat = m / (t(1) - beta_1_power)
        v_sqrt = xp.sqrt(v / (t(1) - beta_2_power)) + t(self.epsilon)
        update = m_hat / v_sqrt
        w_norm = xp.sqrt(xp.sum(xp.square(variable.data)))
        g_norm = xp.sqrt(xp.sum(xp.square(update)))
        ratio = w_norm / g_norm if (w_norm > 0 and g_norm > 0) else t(1)
        variable.data -= t(ratio) * lr * update

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
