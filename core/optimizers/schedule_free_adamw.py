"""Schedule-Free AdamW, Keras's ``ScheduleFreeAdamW``."""
from __future__ import annotations

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _kcast, _lr_cast


class ScheduleFreeAdamW(Optimizer):
    """Schedule-Free AdamW (Defazio et al., 2024): no learning-rate schedule needed. The slot
    ``momentum`` holds the base sequence ``z`` (starting at the parameter), the parameter is the
    interpolation ``y = (1 - b1) z + b1 x`` where ``x`` is the running average of the ``z``
    (weight ``1/t``): ``z -= lr g / (sqrt(v / (1 - b2^t)) + eps)``; ``lr`` is warmed up linearly
    over ``warmup_steps``. As Keras 3.15 computes it on its TensorFlow and PyTorch backends, ``x``
    is recovered from ``y`` with the *updated* ``z`` (its JAX backend and the paper use the ``z``
    from before the step; the results differ by about ``lr`` per step)."""

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.beta_1 = _check_range("ScheduleFreeAdamW", "beta_1", beta_1, 0.0, 1.0)
        if self.beta_1 == 0:
            raise ValueError("ScheduleFreeAdamW: argument `beta_1` must be in (0, 1], received beta_1=0")
        self.beta_2 = _check_range("ScheduleFreeAdamW", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range("ScheduleFreeAdamW", "epsilon", epsilon)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"ScheduleFreeAdamW: argument `warmup_steps` must be an integer >= 0, received "
                             f"{warmup_steps!r}")
        self.warmup_steps = warmup_steps

    def _slot_groups(self):
        return [(("momentum", 0.0), ("velocity", 0.0))]

    def _new_slot(self, slot, init, p, xp):
        if slot == "momentum":
            return p.data.copy()  # z starts at the parameter
        return super()._new_slot(slot, init, p, xp)

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        beta_1, beta_2, epsilon = _kcast(t, self.beta_1), _kcast(t, self.beta_2), _kcast(t, self.epsilon)
        if self.warmup_steps > 0:
            lr = lr * min(local_step / t(self.warmup_steps), t(1))
        z = self._slot("momentum", variable)
        v = self._slot("velocity", variable)
        bias_correction_2 = t(1) - beta_2 ** local_step
        v += (xp.square(gradient) - v) * (t(1) - beta_2)
        z -= (lr * gradient) / (xp.sqrt(v / bias_correction_2) + epsilon)
        weight = t(1) / local_step
        x_old = (variable.data - (t(1) - beta_1) * z) / beta_1  # (z already updated: see the docstring)
        x_new = (t(1) - weight) * x_old + weight * z
        variable.data[...] = (t(1) - beta_1) * z + beta_1 * x_new

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "warmup_steps": self.warmup_steps}
