"""Regression metrics: mean squared / absolute / percentage / squared logarithmic errors, log-cosh,
cosine similarity, root mean squared error, Huber, R2 score."""
from __future__ import annotations

import warnings

import numpy as np

from ..backend import get_xp
from .metrics_utils import (EPSILON, _arr, _array_fn, _divide_no_nan, _fixed_config, _floatx, _result, _same_device,
                            _shape_str, squeeze_or_expand_to_same_rank)
from .metric import Metric
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


@_array_fn
def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2) over the last axis."""
    t, p = _reg_prep(y_true, y_pred)
    xp = get_xp(p)
    ty = p.dtype.type
    d = xp.log(xp.maximum(p, ty(EPSILON)) + ty(1)) - xp.log(xp.maximum(t, ty(EPSILON)) + ty(1))
    return (d * d).mean(axis=-1)


@_array_fn
def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss averaged over the last axis (quadratic within ``delta``, linear beyond)."""
    t, p = _reg_prep(y_true, y_pred)
    xp = get_xp(p)
    ty = p.dtype.type
    err = xp.abs(p - t)
    d = ty(delta)
    return xp.where(err <= d, ty(0.5) * err * err, d * err - ty(0.5) * d * d).mean(axis=-1)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean of the per-sample mean squared logarithmic errors."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


_R2_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """Coefficient of determination per output (columns of 2-D y), aggregated by ``class_aggregation``
    ("uniform_average", "variance_weighted_average" or None for one score per output);
    ``num_regressors`` > 0 gives the adjusted R2."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in _R2_AGGREGATIONS:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of {_R2_AGGREGATIONS}. "
                             f"Received: class_aggregation={class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"Invalid value for argument `num_regressors`. Expected a value >= 0. Received: "
                             f"num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable((), name="num_samples")
        self._built = False

    def _build(self, yt_shape, yp_shape):
        if len(yp_shape) != 2 or len(yt_shape) != 2:
            raise ValueError(f"R2Score expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                             f"y_pred.shape={_shape_str(yp_shape)} and y_true.shape={_shape_str(yt_shape)}.")
        c = yp_shape[-1]
        self.squared_sum = self.add_variable((c,), name="squared_sum")
        self.sum = self.add_variable((c,), name="sum")
        self.total_mse = self.add_variable((c,), name="residual")
        self.count = self.add_variable((c,), name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _arr(y_pred, self._dtype)
        y_true = _same_device(_arr(y_true, self._dtype), y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        xp = get_xp(y_pred)
        sw = xp.ones((), self._dtype) if sample_weight is None else _same_device(_arr(sample_weight, self._dtype),
                                                                                  y_pred)
        if sw.ndim == 1:
            sw = sw[:, None]
        sw = xp.broadcast_to(sw, y_true.shape)
        wt = y_true * sw
        self.sum.assign_add(wt.sum(axis=0))
        self.squared_sum.assign_add((y_true * wt).sum(axis=0))
        self.total_mse.assign_add(((y_true - y_pred) ** 2 * sw).sum(axis=0))
        self.count.assign_add(sw.sum(axis=0))
        self.num_samples.assign_add(y_true.size)

    def result(self):
        if not self._built:
            return 0.0
        xp = get_xp(self.sum.value)
        ty = self._dtype.type
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum.value / self.count.value
            total = self.squared_sum.value - self.sum.value * mean
            raw = ty(1) - self.total_mse.value / total
        raw = xp.where(xp.isinf(raw), ty(0), raw)
        if self.class_aggregation == "uniform_average":
            r2 = raw.mean(dtype=raw.dtype)
        elif self.class_aggregation == "variance_weighted_average":
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = (total * raw).sum(dtype=raw.dtype) / total.sum(dtype=raw.dtype)
        else:
            r2 = raw
        if self.num_regressors:
            n = float(self.num_samples.value)
            if self.num_regressors > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            elif self.num_regressors == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.", stacklevel=2)
            else:
                r2 = (ty(1) - (ty(1) - r2) * ty(n - 1) / ty(n - self.num_regressors - 1)).astype(self._dtype)
        return _result(r2)

    def reset_state(self):
        for v in self._variables:
            v.reset()

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
