"""The learning rate of an optimizer: a float, a ``LearningRateSchedule`` or a callable, and
the step counter it is evaluated at."""
from __future__ import annotations

import numpy as np

from .. import backend
from . import schedules
from .arguments import _check_range, _is_number
from .schedules import LearningRateSchedule


class LearningRateMixin:
    """``learning_rate`` (settable unless a schedule) and ``iterations`` of an ``Optimizer``."""

    def _check_learning_rate(self, lr):
        if isinstance(lr, LearningRateSchedule) or (callable(lr) and not _is_number(lr)):
            return lr
        if isinstance(lr, dict):
            return schedules.deserialize(lr)
        data = getattr(lr, "data", lr)
        if backend.is_array(data) and data.size == 1:
            lr = float(data.reshape(()).item())
        if not _is_number(lr):
            raise ValueError(
                f"{type(self).__name__}: argument `learning_rate` should be a float, a LearningRateSchedule or a "
                f"callable (returning the learning rate). Received instead: learning_rate={lr!r}")
        return _check_range(type(self).__name__, "learning_rate", lr)

    @property
    def learning_rate(self) -> float:
        """The current learning rate as a float (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, LearningRateSchedule) and not (
                isinstance(value, LearningRateSchedule) or callable(value)):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. "
                            "If you need the learning rate to be settable, you should instantiate the "
                            "optimizer with a float `learning_rate` argument.")
        self._learning_rate = self._check_learning_rate(value)

    @property
    def iterations(self) -> int:
        """Number of updates applied (with gradient accumulation: the number of real updates)."""
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"iterations must be an integer >= 0, received {value!r}")
        self._iterations = int(value)
