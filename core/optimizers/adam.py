"""Adam (and AMSGrad), Keras's ``Adam``; a fused update on flat buffers when it applies.

Under ``ZOO_REFERENCE_OPS=1`` the slots stay one array per parameter and each step is
``core.ops.reference.adam_update`` per parameter (the plain Adam step the fused one is tested against)."""
from __future__ import annotations

from .. import parallel
from ..backend import get_xp
from ..ops import reference
from .arguments import _check_range, base_arguments
from .base_optimizer import Optimizer
from .numerics import _host_sqrt, _kcast, _lr_cast, _subtract_in_place


class Adam(Optimizer):
    """Adam: ``m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
    p -= m * lr*sqrt(1 - b2^t)/(1 - b1^t) / (sqrt(v) + epsilon)`` (AMSGrad: max of the v's)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **base_arguments(locals()))
        cls = type(self).__name__
        self.beta_1 = _check_range(cls, "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range(cls, "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range(cls, "epsilon", epsilon)
        self.amsgrad = bool(amsgrad)

    def _slot_groups(self):
        groups = [(("momentum", 0.0), ("velocity", 0.0))]
        if self.amsgrad:
            groups.append((("velocity_hat", 0.0),))
        return groups

    @property
    def _fused_slots(self):
        if reference.ENABLED:  # the reference step works on per-parameter slots
            return ()
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum", "velocity")

    def _update_all(self, grads, params, learning_rate) -> None:
        if reference.ENABLED and type(self).update_step is Adam.update_step:
            return self._reference_update(grads, params, learning_rate)
        plan = self._flat_plan(params) if type(self).update_step is Adam.update_step else None
        if plan is None:
            return super()._update_all(grads, params, learning_rate)
        # the arithmetic of update_step (same operations, same order), in place on flat buffers
        t = params[0].data.dtype.type
        xp = get_xp(params[0].data)
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        beta_1_power = _kcast(t, self.beta_1) ** local_step
        beta_2_power = _kcast(t, self.beta_2) ** local_step
        alpha = lr * _host_sqrt(1 - beta_2_power) / (1 - beta_1_power)
        c1, c2, eps = t(1 - self.beta_1), t(1 - self.beta_2), t(self.epsilon)
        amsgrad = self.amsgrad

        def update(g, m, v, v_hat, tmp, tmp2):
            xp.subtract(g, m, out=tmp)  # m += (g - m) * (1 - beta_1)
            tmp *= c1
            m += tmp
            xp.square(g, out=tmp)  # v += (g^2 - v) * (1 - beta_2)
            tmp -= v
            tmp *= c2
            v += tmp
            if amsgrad:
                xp.maximum(v_hat, v, out=v_hat)
                v = v_hat
            xp.sqrt(v, out=tmp2)  # p -= (m * alpha) / (sqrt(v) + epsilon)
            tmp2 += eps
            xp.multiply(m, alpha, out=tmp)
            tmp /= tmp2

        for g, slots, tmp, tmp2, steps in self._segments(plan, grads):
            # large segments: a contiguous range of the flat buffers per intra-op thread
            parallel.over_flat(xp, update, g, slots["momentum"], slots["velocity"], slots.get("velocity_hat"),
                               tmp, tmp2)
            for i, step in steps:
                if step.size < parallel.MIN_ELEMENTS:
                    params[i].data -= step  # (one thread: over_flat's checks cost more than the pass)
                else:
                    parallel.over_flat(xp, _subtract_in_place, params[i].data, step)

    def _reference_update(self, grads, params, learning_rate) -> None:
        """Each parameter through ``reference.adam_update``; its results written into the parameter
        and its slots in place (the slots stay the arrays ``variables()`` lists)."""
        lr = float(learning_rate)
        for g, p in zip(grads, params):
            m, v = self._slot("momentum", p), self._slot("velocity", p)
            v_hat = self._slot("velocity_hat", p) if self.amsgrad else None
            p_new, m[...], v[...], v_hat_new = reference.adam_update(
                p.data, g, m, v, self.iterations, lr, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                v_hat=v_hat)
            p.data[...] = p_new
            if v_hat is not None:
                v_hat[...] = v_hat_new

    def update_step(self, gradient, variable, learning_rate):
        xp = get_xp(variable.data)
        t = variable.data.dtype.type
        lr = _lr_cast(t, learning_rate)
        local_step = t(self.iterations + 1)
        beta_1_power = _kcast(t, self.beta_1) ** local_step
        beta_2_power = _kcast(t, self.beta_2) ** local_step
        m = self._slot("momentum", variable)
        v = self._slot("velocity", variable)
        alpha = lr * _host_sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (gradient - m) * t(1 - self.beta_1)
        v += (xp.square(gradient) - v) * t(1 - self.beta_2)
        if self.amsgrad:
            v_hat = self._slot("velocity_hat", variable)
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        variable.data -= (m * alpha) / (xp.sqrt(v) + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
