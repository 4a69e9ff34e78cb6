"""Intersection-over-union metrics from an accumulated confusion matrix: ``IoU``, ``MeanIoU``,
``BinaryIoU``, ``OneHotIoU``, ``OneHotMeanIoU``.

As Keras 3.15, the confusion matrix is kept in the metric's dtype, which defaults to int64: float
sample weights are then truncated to integers (a warning says so; pass ``dtype="float32"`` for
fractional weights).
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import backend
from ..backend import get_xp
from .metric import Metric
from .metrics_utils import EPSILON, _arr, _result, _same_device


class _IoUBase(Metric):
    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int64")
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"{type(self).__name__}: num_classes must be a positive integer, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true, self.sparse_y_pred = sparse_y_true, sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable((self.num_classes, self.num_classes), name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _arr(y_true), _arr(y_pred)
        y_true = _same_device(y_true, y_pred)
        if not self.sparse_y_true:
            y_true = y_true.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(axis=self.axis)
        xp = get_xp(y_pred)
        dt = self._dtype
        t = y_true.astype(dt).reshape(-1)
        p = y_pred.astype(dt).reshape(-1)
        if sample_weight is None:
            w = xp.ones(t.shape, dt)
        else:
            sw = _same_device(_arr(sample_weight), y_pred)
            if sw.dtype.kind == "f" and dt.kind in "iu":
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result in an "
                              "incorrect weight due to type casting Consider using integer weights.", stacklevel=2)
            w = xp.broadcast_to(sw.astype(dt).reshape(-1) if sw.ndim > 1 else sw.astype(dt), t.shape)
        n = self.num_classes
        keep = (t >= 0) & (t < n) & (p >= 0) & (p < n)
        if self.ignore_class is not None:
            keep &= t != dt.type(self.ignore_class)
        idx = (t[keep].astype(np.int64) * n + p[keep].astype(np.int64))
        cm = backend.scatter_add(xp, xp.zeros(n * n, dt), idx, w[keep]).reshape(n, n)
        self.total_cm.assign_add(cm)

    def reset_state(self):
        self.total_cm.reset()


class IoU(_IoUBase):
    """Mean IoU = TP / (TP + FP + FN) over the classes ``target_class_ids`` (classes absent from
    both labels and predictions are left out of the mean)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which is [0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = self.total_cm.value
        xp = get_xp(cm)
        rows = cm.sum(axis=0).astype(np.float32)
        cols = cm.sum(axis=1).astype(np.float32)
        tp = xp.diagonal(cm).astype(np.float32)
        ids = xp.asarray(self.target_class_ids)
        tp, den = tp[ids], (rows + cols - tp)[ids]
        valid = den > np.float32(1e-9)
        iou = xp.where(valid, tp / (den + np.float32(EPSILON)), np.float32(0))
        return _result(iou.sum(dtype=np.float32) / (valid.sum(dtype=np.float32) + np.float32(EPSILON)))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of a binary task: predictions >= ``threshold`` are class 1."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _arr(y_pred).astype(np.float32)
        return super().update_state(y_true, (y_pred >= np.float32(self.threshold)).astype(self._dtype),
                                    sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over all ``num_classes`` classes."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """IoU with one-hot labels (and, unless ``sparse_y_pred``, per-class scores): argmax over ``axis``."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids, "name": self.name,
                "dtype": self.dtype, "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot labels (and, unless ``sparse_y_pred``, per-class scores)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}
