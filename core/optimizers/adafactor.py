"""Adafactor (factored second moments), Keras's ``Adafactor``."""
from __future__ import annotations

import numpy as np

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _lr_cast


def _rms(xp, x):
    return xp.sqrt(xp.mean(xp.square(x)))


class Adafactor(Optimizer):
    """Adafactor: for a variable of rank >= 2 the second moment is kept as its row and column
    means ``r`` (shape[:-1]) and ``c`` (shape[:-2] + shape[-1:]) and rebuilt as
    ``v = (r / mean(r))[..., None] * c[..., None, :]``; smaller variables keep a full ``v``.
    The step ``g / sqrt(v)`` is clipped to an RMS of ``clip_threshold`` and scaled by
    ``max(epsilon_2, rms(p)) * min(lr, 1/sqrt(t))``; with ``relative_step`` (and a float learning
    rate) ``lr`` itself is capped at ``1/sqrt(t)``. ``beta_2`` at step t is ``1 - t^beta_2_decay``."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.beta_2_decay = _check_range("Adafactor", "beta_2_decay", beta_2_decay, None, 0.0)
        self.epsilon_1 = _check_range("Adafactor", "epsilon_1", epsilon_1)
        self.epsilon_2 = _check_range("Adafactor", "epsilon_2", epsilon_2)
        self.clip_threshold = _check_range("Adafactor", "clip_threshold", clip_threshold)
        if self.clip_threshold == 0:
            raise ValueError("Adafactor: argument `clip_threshold` must be > 0, received clip_threshold=0")
        self.relative_step = bool(relative_step)

    def _slot_groups(self):
        return [(("r", 0.0), ("c", 0.0), ("velocity", 0.0))]

    def _new_slot(self, slot, init, p, xp):
        shape = p.data.shape
        if slot == "r":
            return xp.zeros(shape[:-1], p.data.dtype) if len(shape) >= 2 else np.zeros((), np.int32)
        if slot == "c":
            return xp.zeros(shape[:-2] + shape[-1:], p.data.dtype) if len(shape) >= 2 else np.zeros((), np.int32)
        return super()._new_slot(slot, init, p, xp)

    def _slot_variable_name(self, ref, slot):
        return ref if slot in ("r", "c") else super()._slot_variable_name(ref, slot)

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        inv_sqrt_step = t(1) / xp.sqrt(local_step)
        if self.relative_step and not callable(self._learning_rate):
            lr = min(lr, inv_sqrt_step)
        rho_t = min(lr, inv_sqrt_step)
        alpha_t = max(t(self.epsilon_2), _rms(xp, variable.data)) * rho_t
        regulated_grad_square = xp.square(gradient) + t(self.epsilon_1)
        beta_2_t = t(1) - xp.power(local_step, t(self.beta_2_decay))
        v = self._slot("velocity", variable)
        if variable.data.ndim >= 2:
            r = self._slot("r", variable)
            c = self._slot("c", variable)
            r[...] = beta_2_t * r + (t(1) - beta_2_t) * xp.mean(regulated_grad_square, axis=-1)
            c[...] = beta_2_t * c + (t(1) - beta_2_t) * xp.mean(regulated_grad_square, axis=-2)
            v[...] = (r / xp.mean(r, axis=-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v[...] = beta_2_t * v + (t(1) - beta_2_t) * regulated_grad_square
        u_t = gradient / xp.sqrt(v)
        u_t_hat = u_t / max(t(1), _rms(xp, u_t) / t(self.clip_threshold))
        variable.data -= alpha_t * u_t_hat

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}
