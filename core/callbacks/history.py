"""``History``: the per-epoch logs ``fit`` returns."""
from __future__ import annotations

from .callback import Callback


class History(Callback):
    """Records epoch logs: ``history`` (dict of lists, one entry per epoch) and ``epoch``
    (0-based epoch indices). ``fit`` returns it and sets ``model.history``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self
