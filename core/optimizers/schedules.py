"""Learning-rate schedules with Keras 3 ``keras.optimizers.schedules`` semantics.

A schedule maps the optimizer's step counter (``optimizer.iterations``, 0 before the first
update) to a learning rate: ``schedule(step) -> float``. Steps are host integers, so the
math runs in float64 on the host (Keras computes it in float32; values agree to ~1e-7).
An array of steps gives an array of rates (handy for plotting a schedule).

    lr = ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    opt = core.optimizers.SGD(learning_rate=lr)
"""
from __future__ import annotations

import math

import numpy as np

from ..object_registration import export_api, get_custom_objects, register_keras_serializable
from ..serialization_lib import UnknownObjectError, deserialize_keras_object, serialize_keras_object


def _steps(step):
    """The step(s) as a float64 NumPy array (Python ints, NumPy scalars/arrays, 0-d tensors)."""
    if hasattr(step, "data") and not isinstance(step, np.ndarray):  # a core Tensor
        step = step.data
    if hasattr(step, "get") and not isinstance(step, np.ndarray):  # a CuPy array
        step = step.get()
    return np.asarray(step, dtype=np.float64)


def _out(values):
    """A Python float for a scalar step, an ndarray for an array of steps."""
    values = np.asarray(values, dtype=np.float64)
    return float(values) if values.ndim == 0 else values


def _check_positive(name, value, cls):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value <= 0:
        raise ValueError(f"{cls}: argument `{name}` must be a number > 0, received {name}={value!r}")


def _check_number(name, value, cls):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{cls}: argument `{name}` must be a number, received {name}={value!r}")


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`__call__(self, step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
                                  "in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        """Re-create the schedule from ``get_config()`` output."""
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: the arguments, their checks, the config,
    and the progress ``step / decay_steps`` (floored when ``staircase``); ``_decay`` applies it."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        cls = type(self).__name__
        _check_number("initial_learning_rate", initial_learning_rate, cls)
        _check_positive("decay_steps", decay_steps, cls)
        _check_number("decay_rate", decay_rate, cls)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = cls if name is None else name

    def __call__(self, step):
        p = _steps(step) / float(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _out(self._decay(float(self.initial_learning_rate), float(self.decay_rate), p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (integer division of the
    exponent when ``staircase``)."""

    @staticmethod
    def _decay(lr, rate, p):
        return lr * np.power(rate, p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and values={values} "
                f"of length {len(values)}.")
        if any(b2 < b1 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must be increasing, received {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        s = _steps(step)
        # index of the first boundary >= step: step <= b[0] -> 0, b[i-1] < step <= b[i] -> i
        idx = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64), s, side="left")
        return _out(np.asarray(self.values, dtype=np.float64)[idx])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``; with
    ``cycle`` the horizon grows to the next multiple of ``decay_steps`` instead."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _check_number("initial_learning_rate", initial_learning_rate, "PolynomialDecay")
        _check_positive("decay_steps", decay_steps, "PolynomialDecay")
        _check_number("end_learning_rate", end_learning_rate, "PolynomialDecay")
        _check_number("power", power, "PolynomialDecay")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        s = _steps(step)
        decay_steps = np.full_like(s, float(self.decay_steps))
        if self.cycle:
            decay_steps = decay_steps * np.where(s == 0, 1.0, np.ceil(s / float(self.decay_steps)))
        else:
            s = np.minimum(s, decay_steps)
        p = s / decay_steps
        init, end = float(self.initial_learning_rate), float(self.end_learning_rate)
        return _out((init - end) * np.power(1.0 - p, float(self.power)) + end)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored ratio when
    ``staircase``)."""

    @staticmethod
    def _decay(lr, rate, p):
        return lr / (1.0 + rate * p)


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial_learning_rate`` over
    ``decay_steps``. With ``warmup_target``, first a linear warmup from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then the cosine
    decay from ``warmup_target``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _check_number("initial_learning_rate", initial_learning_rate, "CosineDecay")
        _check_positive("decay_steps", decay_steps, "CosineDecay")
        _check_number("alpha", alpha, "CosineDecay")
        if warmup_target is not None:
            _check_number("warmup_target", warmup_target, "CosineDecay")
        _check_number("warmup_steps", warmup_steps, "CosineDecay")
        if warmup_steps < 0:
            raise ValueError(f"CosineDecay: argument `warmup_steps` must be >= 0, received warmup_steps={warmup_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, s, decay_from):
        cosine = 0.5 * (1.0 + np.cos(math.pi * (s / float(self.decay_steps))))
        alpha = float(self.alpha)
        return decay_from * ((1.0 - alpha) * cosine + alpha)

    def __call__(self, step):
        s = _steps(step)
        init = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return _out(self._decay(np.minimum(s, float(self.decay_steps)), init))
        target, warm = float(self.warmup_target), float(self.warmup_steps)
        s = np.minimum(s, float(self.decay_steps) + warm)
        with np.errstate(divide="ignore", invalid="ignore"):  # warmup_steps == 0: that branch is unused
            warmup = (target - init) * (s / warm) + init
        return _out(np.where(s < warm, warmup, self._decay(s - warm, target)))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods of ``first_decay_steps * t_mul**i``
    steps, each restarting at ``initial_learning_rate * m_mul**i``."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        _check_number("initial_learning_rate", initial_learning_rate, "CosineDecayRestarts")
        _check_positive("first_decay_steps", first_decay_steps, "CosineDecayRestarts")
        _check_positive("t_mul", t_mul, "CosineDecayRestarts")
        _check_number("m_mul", m_mul, "CosineDecayRestarts")
        _check_number("alpha", alpha, "CosineDecayRestarts")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        frac = _steps(step) / float(self.first_decay_steps)
        t_mul, m_mul, alpha = float(self._t_mul), float(self._m_mul), float(self.alpha)
        if t_mul == 1.0:
            i_restart = np.floor(frac)
            frac = frac - i_restart
        else:
            i_restart = np.floor(np.log(1.0 - frac * (1.0 - t_mul)) / math.log(t_mul))
            sum_r = (1.0 - np.power(t_mul, i_restart)) / (1.0 - t_mul)
            frac = (frac - sum_r) / np.power(t_mul, i_restart)
        cosine = 0.5 * np.power(m_mul, i_restart) * (1.0 + np.cos(math.pi * frac))
        return _out(float(self.initial_learning_rate) * ((1.0 - alpha) * cosine + alpha))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


# ------------------------------------------------------------------------------ serialization
_SCHEDULES = {c.__name__: c for c in (LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay,
                                      PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts)}
export_api("keras.optimizers.schedules", _SCHEDULES)


def register_schedule(cls):
    """Register a custom ``LearningRateSchedule`` subclass under ``"Custom>Name"`` (usable as a
    decorator; ``core.saving.register_keras_serializable`` does the same with a package name)."""
    if not (isinstance(cls, type) and issubclass(cls, LearningRateSchedule)):
        raise ValueError(f"register_schedule expects a LearningRateSchedule subclass, received {cls!r}")
    return register_keras_serializable()(cls)


def serialize(learning_rate_schedule) -> dict:
    """The Keras 3 serialized form: ``{"module", "class_name", "config", "registered_name"}``."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise ValueError(f"serialize expects a LearningRateSchedule, received {learning_rate_schedule!r}")
    return serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """A schedule from ``serialize()`` output (or a legacy ``{"class_name", "config"}`` dict)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize expects a dict with 'class_name' and 'config', received {config!r}")
    try:
        return deserialize_keras_object(config, custom_objects=custom_objects,
                                        namespaces=("keras.optimizers.schedules",))
    except UnknownObjectError as e:
        raise UnknownObjectError(f"unknown learning rate schedule {config['class_name']!r}; known: "
                                 f"{sorted(set(_SCHEDULES) - {'LearningRateSchedule'})}; {e}") from None


def get(identifier, custom_objects=None):
    """A schedule from an instance, a callable, a serialized dict, or a number (returned as float)."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects=custom_objects)
    if isinstance(identifier, (int, float, np.integer, np.floating)) and not isinstance(identifier, bool):
        return float(identifier)
    if isinstance(identifier, str):
        known = sorted(set(_SCHEDULES) | {k for k, v in get_custom_objects().items()
                                          if isinstance(v, type) and issubclass(v, LearningRateSchedule)})
        if identifier in known:
            raise ValueError(f"schedule {identifier!r} needs arguments: pass an instance or a "
                             "{'class_name': ..., 'config': {...}} dict")
        raise ValueError(f"unknown learning rate schedule {identifier!r}; known: {known}")
    if callable(identifier):
        return identifier
    raise ValueError(f"cannot interpret {identifier!r} as a learning rate schedule")


__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize", "get",
           "register_schedule"]
