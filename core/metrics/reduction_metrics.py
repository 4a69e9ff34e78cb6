"""Reduction metrics: ``Sum``, ``Mean`` and ``MeanMetricWrapper`` (the mean of a per-sample function),
with Keras' sample-weight reduction (``reduce_to_samplewise_values``)."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor, no_grad
from ..backend import get_xp
from .metric import Metric
from .metrics_utils import (_apply_mask, _arr, _divide_no_nan, _mask_of, _result, _same_device, _shape_str,
                            squeeze_or_expand_to_same_rank)

# name -> built-in metric function, for MeanMetricWrapper.from_config (filled by the package __init__)
_FUNCTIONS = {}


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype, mask=None):
    """Keras' reduction of values (and weights) to one value per sample (arrays)."""
    values = _arr(values, dtype)
    if sample_weight is not None:
        sample_weight = _same_device(_arr(sample_weight, dtype), values)
        if mask is not None:
            sample_weight = _apply_mask(sample_weight, mask, dtype, reduction="sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        wn, vn = sample_weight.ndim, values.ndim
        if vn > wn:
            values = reduce_fn(values, axis=tuple(range(wn, vn)))
        xp = get_xp(values)
        try:
            sample_weight = xp.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {_shape_str(sample_weight.shape)} cannot be broadcast to the "
                             f"values of shape {_shape_str(values.shape)}") from None
        values = values * sample_weight
        if wn > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, wn)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


_HOST_SCALARS = (np.ndarray, np.float16, np.float32, np.float64)


def _mean(x, axis):
    return x.mean(axis=axis, dtype=x.dtype)


def _sum(x, axis):
    return x.sum(axis=axis, dtype=x.dtype)


class Sum(Metric):
    """The (weighted) sum of the values."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, _sum, self._dtype, mask=_mask_of(values))
        self.total.assign_add(values.sum(dtype=self._dtype))

    def result(self):
        return _result(self.total.value)


class Mean(Metric):
    """The (weighted) mean of the values: total / count, where count is the number of samples or
    the sum of the (per-sample reduced) weights."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None):
        if (type(values) is np.ndarray and values.ndim == 0 and type(sample_weight) is np.ndarray
                and sample_weight.ndim == 0 and type(self.total.value) in _HOST_SCALARS
                and type(self.count.value) in _HOST_SCALARS):
            # one weighted scalar (the training loop's loss, once per step): the general path's
            # arithmetic in the metric's dtype, without its conversions
            t = np.dtype(self._dtype).type
            w = t(sample_weight)
            self.total.value = (self.total.value + t(values) * w).astype(self._dtype, copy=False)
            self.count.value = (self.count.value + w).astype(self._dtype, copy=False)
            return
        mask = _mask_of(values)
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, _mean, self._dtype, mask=mask)
        self.total.assign_add(values.sum(dtype=self._dtype))
        if sample_weight is not None:
            n = sample_weight.sum(dtype=self._dtype)
        elif values.ndim >= 1:
            n = values.shape[0]
        else:
            n = 1
        self.count.assign_add(n)

    def result(self):
        return _result(_divide_no_nan(self.total.value, self.count.value))


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` over all samples seen. Built-in functions get
    arrays; a user function gets Tensors (under ``no_grad``) and may return a Tensor or an array."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        default = getattr(fn, "name", None) or getattr(fn, "__name__", None) or "mean_metric_wrapper"
        super().__init__(name=name or default, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def _values(self, y_true, y_pred):
        if getattr(self._fn, "_array_fn", False):
            return self._fn(_arr(y_true), _arr(y_pred), **self._fn_kwargs)
        yt = y_true if isinstance(y_true, Tensor) else Tensor(_arr(y_true))
        yp = y_pred if isinstance(y_pred, Tensor) else Tensor(_arr(y_pred))
        with no_grad():
            out = self._fn(yt, yp, **self._fn_kwargs)
        return out

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = _mask_of(y_pred)
        values = self._values(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = _arr(sample_weight, self._dtype)
        sample_weight = _apply_mask(sample_weight, mask, self._dtype, reduction="sum")
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = {**super().get_config(), "fn": getattr(self._fn, "__name__", repr(self._fn))}
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" not in config:
            return cls(**config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            if fn not in _FUNCTIONS:
                raise ValueError(f"MeanMetricWrapper.from_config: unknown metric function {fn!r}; known: "
                                 f"{sorted(_FUNCTIONS)}")
            fn = _FUNCTIONS[fn]
        return cls(fn, **config)
