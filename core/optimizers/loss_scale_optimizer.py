"""Dynamic loss scaling around another optimizer, Keras's ``LossScaleOptimizer``."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_xp
from .base_optimizer import Optimizer
from .numerics import _array_of

_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                  "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None}


class LossScaleOptimizer(Optimizer):
    """Wraps ``inner_optimizer``: the training loss is multiplied by ``dynamic_scale``
    (``scale_loss``) and the gradients divided by it before the inner update. When a gradient is
    not finite the update is skipped and the scale halved; after ``dynamic_growth_steps``
    finite steps in a row it is doubled. ``learning_rate`` and ``iterations`` are the inner
    optimizer's; ``variables()`` is ``[iteration, learning_rate, step_counter, dynamic_scale]``
    followed by the inner optimizer's, as Keras lists them."""

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000, name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                             "`loss_scale_factor` directly on the `inner_optimizer`.")
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs:
                value = kwargs.pop(arg)
                if value != default:
                    raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set `{arg}` on the "
                                     "`inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if not isinstance(inner_optimizer, Optimizer):
            raise ValueError(f"LossScaleOptimizer: `inner_optimizer` must be an Optimizer, received {inner_optimizer!r}")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, (int, np.integer)) \
                or dynamic_growth_steps < 1:
            raise ValueError("LossScaleOptimizer: `dynamic_growth_steps` must be an integer >= 1, received "
                             f"{dynamic_growth_steps!r}")
        if not float(initial_scale) > 0:
            raise ValueError(f"LossScaleOptimizer: `initial_scale` must be > 0, received {initial_scale!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.inner_optimizer.loss_scale_factor = None
        self.step_counter = 0
        self.dynamic_scale = np.float32(initial_scale)

    # the learning rate and step count are the inner optimizer's
    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):
        self.inner_optimizer.iterations = value

    def build(self, params) -> None:
        self.inner_optimizer.build(params)
        self.built = True

    def scale_loss(self, loss):
        """``loss * dynamic_scale``."""
        return loss * float(self.dynamic_scale)

    def check_finite(self, grads) -> bool:
        """Whether every (non-None) gradient is finite."""
        for g in grads:
            if g is None:
                continue
            a = _array_of(g)
            if not bool(get_xp(a).isfinite(a).all()):
                return False
        return True

    def apply(self, grads, params=None) -> None:
        grads = list(grads)
        if params is not None:
            self.build(params)
        self.built = True
        if self.check_finite(grads):
            scale = self.dynamic_scale
            unscaled = [None if g is None else _array_of(g) / _array_of(g).dtype.type(scale) for g in grads]
            self.inner_optimizer.apply(unscaled, params)
            if self.step_counter == self.dynamic_growth_steps - 1:
                self.step_counter = 0
                self.dynamic_scale = np.float32(self.dynamic_scale * 2.0)
            else:
                self.step_counter += 1
        else:
            self.step_counter = 0
            self.dynamic_scale = np.float32(self.dynamic_scale * 0.5)

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def to(self, device):
        self.inner_optimizer.to(device)
        return self

    # state: own variables, then the inner optimizer's
    def _own_entries(self):
        def set_counter(v):
            self.step_counter = int(backend.to_numpy(getattr(v, "data", v)).reshape(()))

        def set_scale(v):
            self.dynamic_scale = np.float32(backend.to_numpy(getattr(v, "data", v)).reshape(()))

        return [("iteration", lambda: np.asarray(0, dtype=np.int64), lambda v: None),
                ("learning_rate", lambda: np.asarray(0.0, dtype=backend.floatx()), lambda v: None),
                ("step_counter", lambda: np.asarray(self.step_counter, dtype=np.int64), set_counter),
                ("dynamic_scale", lambda: np.asarray(self.dynamic_scale, dtype=np.float32), set_scale)]

    def _state_entries(self) -> list:
        return self._own_entries() + self.inner_optimizer._state_entries()

    def set_variables(self, arrays, params=None) -> None:
        arrays = list(arrays)
        own = self._own_entries()
        if len(arrays) < len(own):
            raise ValueError(f"LossScaleOptimizer.set_variables: expected at least {len(own)} arrays, "
                             f"received {len(arrays)}")
        self.inner_optimizer.set_variables(arrays[len(own):], params)
        for (_, _, setter), value in zip(own, arrays[:len(own)]):
            setter(value)
        self.built = True

    def get_config(self):
        from . import serialize  # the package's lookup (it imports this module)

        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import deserialize  # the package's lookup (it imports this module)

        config = dict(config)
        inner = deserialize(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)

    def __repr__(self):
        return f"<LossScaleOptimizer name={self.name!r} inner={self.inner_optimizer!r} " \
               f"dynamic_scale={float(self.dynamic_scale):g}>"
