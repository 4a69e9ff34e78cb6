"""Muon (momentum orthogonalized by Newton-Schulz iterations), Keras's ``Muon``."""
from __future__ import annotations

import math
import re

import numpy as np

from ..backend import get_xp
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _kcast, _lr_cast


def _swap_last_axes(xp, x):
    return xp.swapaxes(x, -1, -2)


class Muon(Optimizer):
    """Muon: 2-D weights follow ``m += g + (momentum - 1) m`` and step along the
    Newton-Schulz orthogonalization of ``g + momentum m`` (Nesterov) or ``m``, scaled by
    ``sqrt(max(rows, cols)) * rms_rate``; every other variable (not 2-D, an embedding when
    ``exclude_embeddings``, or a path matching ``exclude_layers``) is updated by AdamW with
    ``learning_rate * adam_lr_ratio`` and ``adam_weight_decay``."""

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004,
                 epsilon=1e-7, weight_decay=0.004, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, exclude_layers=None, exclude_embeddings=True,
                 muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315, adam_lr_ratio=1, momentum=0.95, ns_steps=5,
                 nesterov=True, rms_rate=0.2, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        self.adam_beta_1 = _check_range("Muon", "adam_beta_1", adam_beta_1, 0.0, 1.0)
        self.adam_beta_2 = _check_range("Muon", "adam_beta_2", adam_beta_2, 0.0, 1.0)
        self.adam_weight_decay = _check_range("Muon", "adam_weight_decay", adam_weight_decay, allow_none=True)
        self.epsilon = _check_range("Muon", "epsilon", epsilon)
        self.muon_a, self.muon_b, self.muon_c = float(muon_a), float(muon_b), float(muon_c)
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = _check_range("Muon", "momentum", momentum, 0.0, 1.0)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(f"Muon: argument `ns_steps` must be an integer >= 0, received {ns_steps!r}")
        self.ns_steps = ns_steps
        self.nesterov = bool(nesterov)
        self.exclude_embeddings = bool(exclude_embeddings)
        self.exclude_layers = list(exclude_layers or [])
        self.rms_rate = rms_rate

    def _path(self, variable):
        return str(getattr(variable, "path", None) or getattr(variable, "name", "") or "")

    def _should_use_adamw(self, variable) -> bool:
        """AdamW for variables that are not 2-D, embeddings (when excluded) and excluded layers."""
        if variable.data.ndim != 2:
            return True
        path = self._path(variable)
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def _slot_groups(self):
        return [(("momentum", 0.0), ("velocity", 0.0))]

    def _new_slot(self, slot, init, p, xp):
        if slot == "velocity" and not self._should_use_adamw(p):
            return None  # (as Keras: only the AdamW-updated variables have a velocity)
        return super()._new_slot(slot, init, p, xp)

    def update_step(self, gradient, variable, learning_rate):
        m = self._slot("momentum", variable)
        v = self._slot("velocity", variable)
        if v is not None:
            self._adamw_update_step(gradient, variable, np.float32(learning_rate) * np.float32(self.adam_lr_ratio),
                                    m, v)
        else:
            self._muon_update_step(gradient, variable, np.float32(learning_rate), m)

    def _muon_update_step(self, gradient, variable, lr, m):
        t = variable.data.dtype.type
        m += gradient + m * t(self.momentum - 1)
        g = gradient + t(self.momentum) * m if self.nesterov else m
        update = lr.astype(t) * self.zeropower_via_newtonschulz5(g, self.ns_steps)
        if self.rms_rate is not None:
            update = update * t(math.sqrt(max(update.shape[0], update.shape[1]))) * t(self.rms_rate)
        variable.data -= update

    def _adamw_update_step(self, gradient, variable, learning_rate, m, v):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        beta_1_power = _kcast(t, self.adam_beta_1) ** local_step
        beta_2_power = _kcast(t, self.adam_beta_2) ** local_step
        alpha = lr * xp.sqrt(t(1) - beta_2_power) / (t(1) - beta_1_power)
        m += (gradient - m) * t(1 - self.adam_beta_1)
        v += (xp.square(gradient) - v) * t(1 - self.adam_beta_2)
        variable.data -= (m * alpha) / (xp.sqrt(v) + t(self.epsilon))

    def zeropower_via_newtonschulz5(self, x, steps):
        """The Newton-Schulz quintic iteration towards the orthogonal factor of ``x`` (..., rows, cols)."""
        if x.ndim < 2:
            raise ValueError(f"Expected gradient or momentum to have at least 2 dimensions. Received: shape={x.shape}")
        xp = get_xp(x)
        t = x.dtype.type
        a, b, c = t(self.muon_a), t(self.muon_b), t(self.muon_c)
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = _swap_last_axes(xp, x)
        x = x / (xp.sqrt(xp.sum(xp.square(x), axis=(-2, -1), keepdims=True)) + t(1e-7))
        for _ in range(steps):
            temp_a = x @ _swap_last_axes(xp, x)
            temp_b = b * temp_a + (c * temp_a) @ temp_a
            x = a * x + temp_b @ x
        return _swap_last_axes(xp, x) if tall else x

    def _apply_weight_decay(self, params) -> None:
        lr = self.learning_rate
        for p in params:
            if not self._use_weight_decay(p):
                continue
            wd = self.adam_weight_decay if self._should_use_adamw(p) else self.weight_decay
            if wd is None:
                continue
            t = p.data.dtype.type
            p.data -= p.data * _kcast(t, wd) * _lr_cast(t, lr)

    def get_config(self):
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
                "epsilon": self.epsilon, "exclude_layers": self.exclude_layers, "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c, "adam_lr_ratio": self.adam_lr_ratio,
                "momentum": self.momentum, "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings, "adam_weight_decay": self.adam_weight_decay,
                "rms_rate": self.rms_rate}
