"""The base ``Optimizer`` (Keras 3 ``keras.optimizers.Optimizer``): arguments, ``apply`` and config.

``opt.apply(grads, params)`` runs one step exactly as Keras 3 does: drop ``None`` gradients,
clip (``clipnorm`` per gradient, ``global_clipnorm`` across all, or ``clipvalue``
elementwise), decoupled weight decay ``p -= p * weight_decay * lr``, the optimizer's update,
then each parameter's ``constraint``; finally ``iterations += 1``. Updates are plain array
math on ``p.data`` (NumPy or CuPy; no autodiff graph), in the parameter's dtype.

Slot variables (momentum, Adam's m/v, ...) are created per parameter the first time it is
seen, in the parameter's dtype and device (``slots.py``). ``variables()`` lists the whole
state in Keras's order and ``set_variables(arrays, params)`` restores it (``state_io.py``), so
a resumed run continues bit for bit.
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from .. import backend
from ..backend import get_xp
from . import schedules
from .arguments import _check_range
from .clipping import ClippingMixin
from .ema import EMAMixin
from .flat_buffers import FlatBuffersMixin
from .learning_rate import LearningRateMixin
from .numerics import _array_of
from .schedules import LearningRateSchedule
from .slots import SlotsMixin
from .state_io import StateIOMixin
from .weight_decay import WeightDecayMixin

_UIDS: dict = {}


def _to_snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _auto_name(cls_name: str) -> str:
    """``adam``, ``adam_1``, ... as Keras names optimizers."""
    base = _to_snake_case(cls_name)
    n = _UIDS.get(base, 0)
    _UIDS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


class Optimizer(LearningRateMixin, SlotsMixin, FlatBuffersMixin, StateIOMixin, WeightDecayMixin, ClippingMixin,
                EMAMixin):
    """Base optimizer (Keras 3 ``keras.optimizers.Optimizer``).

    Subclasses define ``_slot_groups()`` (the slot variables, grouped in Keras's creation
    order) and ``update_step(gradient, variable, learning_rate)``.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        cls = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        for legacy in ("is_legacy_optimizer", "jit_compile"):  # keys of tf.keras / Keras 2 configs
            kwargs.pop(legacy, None)
        if kwargs:
            raise ValueError(f"{cls}: argument(s) not recognized: {kwargs}")
        self.name = name if name is not None else _auto_name(cls)
        self.weight_decay = _check_range(cls, "weight_decay", weight_decay, allow_none=True)
        self.clipnorm = _check_range(cls, "clipnorm", clipnorm, allow_none=True)
        self.clipvalue = _check_range(cls, "clipvalue", clipvalue, allow_none=True)
        self.global_clipnorm = _check_range(cls, "global_clipnorm", global_clipnorm, allow_none=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.use_ema = bool(use_ema)
        self.ema_momentum = _check_range(cls, "ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (
                not isinstance(ema_overwrite_frequency, (int, np.integer)) or ema_overwrite_frequency < 1):
            raise ValueError(f"{cls}: `ema_overwrite_frequency` must be an integer >= 1 or None. "
                             f"Received: ema_overwrite_frequency={ema_overwrite_frequency!r}")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = _check_range(cls, "loss_scale_factor", loss_scale_factor, allow_none=True)
        if self.loss_scale_factor == 0.0:
            raise ValueError(f"{cls}: `loss_scale_factor` must be > 0, received 0")
        if gradient_accumulation_steps is not None and (
                not isinstance(gradient_accumulation_steps, (int, np.integer)) or gradient_accumulation_steps < 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. "
                             f"Received: gradient_accumulation_steps={gradient_accumulation_steps!r}")
        self.gradient_accumulation_steps = gradient_accumulation_steps

        self._learning_rate = self._check_learning_rate(learning_rate)
        self._iterations = 0  # raw step counter (Keras's `iteration` variable)
        self._params: list = []  # parameters in the order first seen
        self._index: dict = {}  # id(param) -> position in _params
        self._slots: dict = {}  # slot name -> list of arrays aligned with _params
        self._exclude_ids: set = set()
        self._exclude_pattern = None
        self._wd_cache: dict = {}
        self._warned_missing: set = set()
        self._flat = None  # flat slot/scratch buffers of a fused update (see _pack_slots)
        self.built = False


    # ------------------------------------------------------------------ applying
    def _prepare_grad(self, g, p):
        d = p.data
        if type(g) is np.ndarray and type(d) is np.ndarray and g.dtype == d.dtype and g.shape == d.shape:
            return g  # the usual case, checked first (once per parameter and step)
        g = _array_of(g)
        if get_xp(g) is not get_xp(p.data):
            g = backend.to_device(g, backend.device_of(p.data))
        if g.dtype != p.data.dtype:
            g = g.astype(p.data.dtype)
        if g.shape != p.data.shape:
            name = getattr(p, "path", None) or p.name
            raise ValueError(f"{type(self).__name__}: gradient for {name!r} has shape {tuple(g.shape)}, "
                             f"expected the parameter's shape {tuple(p.data.shape)}")
        return g

    def apply_gradients(self, grads_and_vars) -> int:
        """Apply ``[(grad, param), ...]`` (Keras style); returns ``iterations``."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, params = zip(*pairs)
            self.apply(list(grads), list(params))
        return self.iterations

    def apply(self, grads, params=None) -> None:
        """One optimization step: ``grads[i]`` (an array, or None to skip) updates ``params[i]``
        in place. ``params`` may be omitted once the optimizer is built (then the gradients
        follow the built parameters one to one)."""
        grads = list(grads)
        if len(grads) == 0:
            return
        if params is None:
            if not self.built:
                raise ValueError("When passing `grads` without `params`, the optimizer must already be built "
                                 "on a list of parameters. Call `optimizer.build(params)` first.")
            params = self._params
            if len(grads) != len(params):
                raise ValueError(f"{type(self).__name__}.apply: received {len(grads)} gradients, but the "
                                 f"optimizer tracks {len(params)} parameters")
        else:
            params = list(params)
            if len(grads) != len(params):
                raise ValueError(f"{type(self).__name__}.apply: received {len(grads)} gradients for "
                                 f"{len(params)} parameters")
        self.build(params)

        missing = tuple(getattr(p, "path", None) or p.name for g, p in zip(grads, params) if g is None)
        pairs = [(self._prepare_grad(g, p), p) for g, p in zip(grads, params) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        if missing and missing not in self._warned_missing:
            self._warned_missing.add(missing)
            warnings.warn(f"Gradients do not exist for variables {list(missing)} when minimizing the loss. "
                          "If using `model.compile()`, did you forget to provide a `loss` argument?",
                          stacklevel=2)
        grads = [g for g, _ in pairs]
        params = [p for _, p in pairs]
        if self.loss_scale_factor is not None:
            grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]

        self._apply_gradients(grads, params)

        for p in params:
            constraint = getattr(p, "constraint", None)
            if constraint is not None:
                p.data[...] = constraint(p.data)
        self._iterations += 1

    def _apply_gradients(self, grads, params) -> None:
        steps = self.gradient_accumulation_steps
        if steps:
            accs = [self._slot("gradient_accumulator", p) for p in params]
            if (self._iterations + 1) % steps == 0:
                grads = [(g + acc) / g.dtype.type(steps) for g, acc in zip(grads, accs)]
                self._update(grads, params)
                for acc in self._slots["gradient_accumulator"]:
                    acc[...] = 0
            else:
                for g, acc in zip(grads, accs):
                    acc += g
        else:
            self._update(grads, params)
        if self.use_ema:
            self._update_moving_average()
            if self.ema_overwrite_frequency and (self.iterations + 1) % self.ema_overwrite_frequency == 0:
                self._overwrite_with_average(self._params)

    def _update(self, grads, params) -> None:
        grads = self._clip_gradients(grads)
        self._apply_weight_decay(params)
        self._update_all(grads, params, self.learning_rate)

    def _update_all(self, grads, params, learning_rate) -> None:
        for g, p in zip(grads, params):
            self.update_step(g, p, learning_rate)

    def update_step(self, gradient, variable, learning_rate) -> None:
        """Update ``variable.data`` in place from ``gradient`` (clipped, in the variable's dtype)."""
        raise NotImplementedError

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` when one is set (mixed precision)."""
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """Keras's config keys; ``learning_rate`` is a float or a serialized schedule."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif callable(lr):
            lr = float(lr())
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Re-create the optimizer (without its state) from ``get_config()`` output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate:g} " \
               f"iterations={self.iterations}>"

