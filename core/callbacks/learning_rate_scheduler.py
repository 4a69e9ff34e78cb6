"""``LearningRateScheduler``."""
from __future__ import annotations

import numpy as np

from ._utils import _print_msg, _get_lr
from .callback import Callback


class LearningRateScheduler(Callback):
    """Before each epoch set ``optimizer.learning_rate = schedule(epoch, lr)`` (0-based epoch);
    a one-argument ``schedule(epoch)`` is accepted too. Adds ``"learning_rate"`` to epoch logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"schedule must be callable as schedule(epoch, lr). Received: {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = _get_lr(optimizer)
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:  # old API: schedule(epoch)
            new_lr = self.schedule(epoch)
        if isinstance(new_lr, bool) or not isinstance(new_lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {new_lr!r}")
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                       f"{new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model.optimizer)
