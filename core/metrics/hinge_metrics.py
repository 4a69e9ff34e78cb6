"""Hinge metrics: the mean hinge, squared hinge and categorical hinge losses."""
from __future__ import annotations

from .. import losses
from .metrics_utils import _fixed_config, loss_metric_fn
from .reduction_metrics import MeanMetricWrapper

hinge = loss_metric_fn(losses.hinge)
squared_hinge = loss_metric_fn(losses.squared_hinge)
categorical_hinge = loss_metric_fn(losses.categorical_hinge)


class Hinge(MeanMetricWrapper):
    """Mean of mean(max(1 - y_true * y_pred, 0)); {0, 1} labels become {-1, 1}."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class SquaredHinge(MeanMetricWrapper):
    """Mean of mean(max(1 - y_true * y_pred, 0)^2); {0, 1} labels become {-1, 1}."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class CategoricalHinge(MeanMetricWrapper):
    """Mean of max(neg - pos + 1, 0) (pos = sum(y_true * y_pred), neg = max((1 - y_true) * y_pred))."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)
