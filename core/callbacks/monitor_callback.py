"""``MonitorCallback``: the base of callbacks that watch one logged value."""
from __future__ import annotations

import warnings

import numpy as np

from .callback import Callback


_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "iou",
              "r2_score", "cosine_similarity", "pearson", "concordance")
_MIN_HINTS = ("loss", "error", "crossentropy", "hinge", "divergence", "poisson", "logcosh",
              "squared", "absolute")


def _iter_metrics(model):
    """All metric objects reachable from ``model.metrics`` (containers flattened)."""
    stack = list(getattr(model, "metrics", None) or [])
    seen = set()
    while stack:
        m = stack.pop(0)
        if id(m) in seen:
            continue
        seen.add(id(m))
        yield m
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack.extend(inner)


class MonitorCallback(Callback):
    """Base of callbacks that watch ``logs[monitor]`` for improvements (Keras 3 semantics).

    ``mode="auto"``: "loss"/"val_loss" is minimised; otherwise the metric's ``_direction``
    ("up"/"down") is used when the model's metric of that name has one, as Keras 3 does; zoo
    then falls back on the directions of the Keras built-in metric names (accuracy, auc,
    precision, recall, ... maximised; errors, crossentropies ... minimised); anything else raises.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{self.__class__.__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = np.less
            for m in _iter_metrics(self.model):
                if getattr(m, "name", None) == name and hasattr(m, "_direction"):
                    self.monitor_op = np.greater if m._direction == "up" else np.less
            if self.monitor_op is None:
                lname = name.lower()
                if any(h in lname for h in _MAX_HINTS):
                    self.monitor_op = np.greater
                elif any(h in lname for h in _MIN_HINTS):
                    self.monitor_op = np.less
            if self.monitor_op is None:
                raise ValueError(
                    f"{self.__class__.__name__} callback received monitor={self.monitor}, but "
                    "it isn't possible to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                    "highest metric value, or pass `mode='min'` in order to use the lowest value.")
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
