"""Nesterov Adam, Keras's ``Nadam``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _kcast, _lr_cast


class Nadam(Optimizer):
    """Nesterov Adam with Keras's momentum schedule ``u_t = b1 * (1 - 0.5 * 0.96^t)`` and its
    running product (the optimizer-wide ``u_product`` state)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.beta_1 = _check_range("Nadam", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range("Nadam", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range("Nadam", "epsilon", epsilon)
        self._u_product = None

    def _slot_groups(self):
        return [(("momentum", 0.0), ("velocity", 0.0))]

    def _build_extra(self, params):
        params = list(params)
        dtype = params[0].data.dtype if params else np.dtype(backend.floatx())
        self._u_product = np.asarray(1.0, dtype=dtype)

    def _reset_state(self):
        super()._reset_state()
        self._u_product = None

    def _extra_variables(self):
        def set_u(value):
            self._u_product = np.asarray(backend.to_numpy(getattr(value, "data", value)),
                                         dtype=self._u_product.dtype).reshape(())
        return [("variable", lambda: self._u_product.copy(), set_u)] if self._u_product is not None else []

    def _update_all(self, grads, params, learning_rate):
        u = self._u_product
        t = u.dtype.type
        step = t(self.iterations + 1)
        self._u_product = np.asarray(u * t(self.beta_1) * (t(1.0) - t(0.5) * t(0.96) ** step), dtype=u.dtype)
        super()._update_all(grads, params, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        next_step = t(self.iterations + 2)
        decay = _kcast(t, 0.96)
        beta_1, beta_2 = _kcast(t, self.beta_1), _kcast(t, self.beta_2)
        u_t = beta_1 * (t(1.0) - t(0.5) * decay ** local_step)
        u_t_1 = beta_1 * (t(1.0) - t(0.5) * decay ** next_step)
        u_product_t = t(self._u_product)
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = beta_2 ** local_step
        m = self._slot("momentum", variable)
        v = self._slot("velocity", variable)
        m += (gradient - m) * (1 - beta_1)
        v += (xp.square(gradient) - v) * (1 - beta_2)
        m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * gradient) / (1 - u_product_t)
        v_hat = v / (1 - beta_2_power)
        variable.data -= (m_hat * lr) / (xp.sqrt(v_hat) + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
