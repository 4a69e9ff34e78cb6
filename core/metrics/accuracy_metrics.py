"""Accuracy metrics: exact, binary, categorical, sparse categorical and top-k (TensorFlow's
``in_top_k`` tie rule)."""
from __future__ import annotations

import numpy as np

from ..backend import get_xp
from .metrics_utils import _arr, _array_fn, _fixed_config, _floatx, _same_device, squeeze_or_expand_to_same_rank
from .reduction_metrics import MeanMetricWrapper


@_array_fn
def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred exactly."""
    y_pred = _arr(y_pred)
    y_true = _same_device(_arr(y_true, y_pred.dtype), y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).astype(_floatx())


@_array_fn
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true."""
    y_pred = _arr(y_pred)
    y_true = _same_device(_arr(y_true), y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    pred = (y_pred > y_pred.dtype.type(threshold) if y_pred.dtype.kind == "f" else y_pred > threshold)
    return (y_true == pred.astype(y_true.dtype)).astype(_floatx())


@_array_fn
def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) == argmax(y_pred) along the last axis."""
    y_pred = _arr(y_pred)
    y_true = _same_device(_arr(y_true), y_pred).argmax(axis=-1)
    reshape = False
    org_shape = y_true.shape
    if y_true.ndim == y_pred.ndim:
        y_true = y_true[..., 0] if y_true.shape[-1] == 1 else y_true
        reshape = True
    pred = y_pred.argmax(axis=-1)
    matches = (y_true == pred).astype(_floatx())
    return matches.reshape(org_shape) if reshape else matches


@_array_fn
def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals argmax(y_pred) along the last axis."""
    y_pred = _arr(y_pred)
    y_true = _same_device(_arr(y_true), y_pred)
    org_shape = y_true.shape
    reshape = False
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
        reshape = True
    pred = y_pred.argmax(axis=-1)
    matches = (y_true.astype(y_pred.dtype) == pred.astype(y_pred.dtype)).astype(_floatx())
    if reshape:
        matches = matches.reshape(org_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return matches


def in_top_k(targets, predictions, k):
    """TensorFlow's in_top_k: the target is in the top k when fewer than k classes score strictly
    higher (ties at the boundary count as in); False for out-of-range targets or non-finite scores."""
    xp = get_xp(predictions)
    c = predictions.shape[-1]
    t = targets.astype(np.int64)
    valid = (t >= 0) & (t < c)
    tc = xp.clip(t, 0, max(c - 1, 0))
    pt = xp.take_along_axis(predictions, tc[:, None], axis=-1)
    higher = (predictions > pt).sum(axis=-1)
    return valid & xp.isfinite(pt[:, 0]) & (higher < k)


@_array_fn
def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where argmax(y_true) is among the k highest predictions."""
    y_pred = _arr(y_pred)
    y_true = _same_device(_arr(y_true), y_pred).argmax(axis=-1)
    org_shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.ndim > 1
    matches = in_top_k(y_true.reshape(-1), y_pred, k).astype(_floatx())
    return matches.reshape(org_shape) if reshape else matches


@_array_fn
def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k highest predictions (or, with
    ``from_sorted_ids``, among the first k ids of y_pred)."""
    y_pred = _arr(y_pred)
    y_true = _same_device(_arr(y_true), y_pred)
    if not from_sorted_ids:
        y_true = y_true.astype(np.int32)
    org_shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.ndim > 1
    flat = y_true.reshape(-1)
    if from_sorted_ids:
        matches = (flat[:, None].astype(y_pred.dtype) == y_pred[:, :k]).any(axis=1)
    else:
        matches = in_top_k(flat, y_pred, k)
    matches = matches.astype(_floatx())
    return matches.reshape(org_shape) if reshape else matches


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) matches the binary labels."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return _fixed_config(self, "threshold")


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches argmax of the one-hot y_true."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches the integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is in the top ``k`` predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return _fixed_config(self, "k")


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target is in the top ``k`` predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k, self.from_sorted_ids = k, from_sorted_ids

    def get_config(self):
        config = _fixed_config(self, "k")
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
