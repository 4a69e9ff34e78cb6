"""Regression metrics: mean squared / absolute / percentage errors, log-cosh, cosine similarity,
root mean squared error."""
from __future__ import annotations

import numpy as np

from ..backend import get_xp
from .metrics_utils import (EPSILON, _arr, _array_fn, _divide_no_nan, _fixed_config, _floatx, _result, _same_device,
                            _shape_str, squeeze_or_expand_to_same_rank)
from .reduction_metrics import Mean, MeanMetricWrapper


def _reg_prep(y_true, y_pred):
    y_pred = _arr(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(_floatx())
    y_true = _same_device(_arr(y_true, y_pred.dtype), y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true shape {_shape_str(y_true.shape)} and y_pred shape {_shape_str(y_pred.shape)} must "
                         f"match")
    return y_true, y_pred


@_array_fn
def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2) over the last axis."""
    t, p = _reg_prep(y_true, y_pred)
    d = p - t
    return (d * d).mean(axis=-1)


@_array_fn
def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|) over the last axis."""
    t, p = _reg_prep(y_true, y_pred)
    return get_xp(p).abs(p - t).mean(axis=-1)


@_array_fn
def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis."""
    t, p = _reg_prep(y_true, y_pred)
    xp = get_xp(p)
    ty = p.dtype.type
    return ty(100) * (xp.abs(t - p) / xp.maximum(xp.abs(t), ty(EPSILON))).mean(axis=-1)


@_array_fn
def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true))) over the last axis (stable form)."""
    t, p = _reg_prep(y_true, y_pred)
    xp = get_xp(p)
    ty = p.dtype.type
    x = p - t
    m = ty(-2) * x
    sp = xp.maximum(m, ty(0)) + xp.log1p(xp.exp(-xp.abs(m)))
    return (x + sp - ty(np.log(2.0))).mean(axis=-1)


def _l2_normalize(x, axis):
    xp = get_xp(x)
    ty = x.dtype.type
    ss = (x * x).sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = xp.minimum(ty(1) / xp.sqrt(ss), ty(1.0 / EPSILON))
    return x * inv


@_array_fn
def cosine_similarity(y_true, y_pred, axis=-1):
    """sum(l2_normalize(y_true) * l2_normalize(y_pred)) along ``axis`` (the metric: +1 = same direction)."""
    t, p = _reg_prep(y_true, y_pred)
    return (_l2_normalize(t, axis) * _l2_normalize(p, axis)).sum(axis=axis)


class MeanSquaredError(MeanMetricWrapper):
    """Mean of the per-sample mean squared errors."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of the per-sample mean absolute errors."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean of the per-sample mean absolute percentage errors."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class LogCoshError(MeanMetricWrapper):
    """Mean of the per-sample log-cosh errors."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between y_true and y_pred along ``axis``."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return _fixed_config(self)


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean of the squared errors."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _arr(y_pred, self._dtype)
        y_true = _same_device(_arr(y_true, self._dtype), y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        d = y_pred - y_true
        return super().update_state(d * d, sample_weight=sample_weight)

    def result(self):
        xp = get_xp(self.total.value)
        return _result(xp.sqrt(_divide_no_nan(self.total.value, self.count.value)))
