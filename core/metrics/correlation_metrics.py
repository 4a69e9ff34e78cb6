"""Correlation metrics: the mean Pearson and concordance correlation coefficients along an axis."""
from __future__ import annotations

from ..backend import get_xp
from .metrics_utils import EPSILON, _array_fn, _fixed_config
from .reduction_metrics import MeanMetricWrapper
from .regression_metrics import _reg_prep


@_array_fn
def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's r between y_true and y_pred along ``axis`` (one value per sample)."""
    t, p = _reg_prep(y_true, y_pred)
    tn = t - t.mean(axis=axis, keepdims=True)
    pn = p - p.mean(axis=axis, keepdims=True)
    tn = tn / tn.std(axis=axis, keepdims=True)
    pn = pn / pn.std(axis=axis, keepdims=True)
    return (tn * pn).mean(axis=axis)


@_array_fn
def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along ``axis``, as Keras computes it (its covariance term
    centres y_true on y_pred's mean)."""
    t, p = _reg_prep(y_true, y_pred)
    ty = p.dtype.type
    tm = t.mean(axis=axis, keepdims=True)
    pm = p.mean(axis=axis, keepdims=True)
    tv = (t - tm).var(axis=axis, keepdims=True)
    pv = (p - pm).var(axis=axis, keepdims=True)
    covar = (t - pm) * (p - pm)
    norm = tv + pv + get_xp(p).square(tm - pm)
    return (ty(2) * covar / (norm + ty(EPSILON))).mean(axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """Mean of the per-sample Pearson correlations along ``axis``."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return _fixed_config(self, "axis")


class ConcordanceCorrelation(MeanMetricWrapper):
    """Mean of the per-sample concordance correlations along ``axis``."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return _fixed_config(self, "axis")
