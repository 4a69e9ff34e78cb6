"""Probabilistic metrics: the mean cross-entropies, KL divergence and Poisson loss (values from
``core.ops.losses`` / ``core.losses``)."""
from __future__ import annotations

from ..autodiff import no_grad
from ..backend import get_xp
from .. import losses
from ..ops import losses as loss_ops
from .metrics_utils import _arr, _array_fn, _fixed_config, _same_device, loss_metric_fn
from .reduction_metrics import MeanMetricWrapper


def _loss_op_fn(op, name):
    def fn(y_true, y_pred, **kwargs):
        with no_grad():
            return op(_arr(y_true), _arr(y_pred), **kwargs).data
    fn.__name__ = name
    fn.__doc__ = f"Per-sample {name} (arrays), from core.ops.losses."
    return _array_fn(fn)


def _sparse_ce(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    y_pred = _arr(y_pred)
    y_true = _arr(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = y_true.reshape(tuple(s for i, s in enumerate(y_true.shape) if i != axis % y_true.ndim))
    if ignore_class is None:
        with no_grad():
            return loss_ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis).data
    xp = get_xp(y_true)
    valid = y_true != ignore_class
    t = xp.where(valid, y_true, xp.zeros((), y_true.dtype))
    with no_grad():
        res = loss_ops.sparse_categorical_crossentropy(t, y_pred, from_logits=from_logits, axis=axis).data
    return xp.where(_same_device(valid, res).reshape(res.shape), res, res.dtype.type(0))


binary_crossentropy = _loss_op_fn(loss_ops.binary_crossentropy, "binary_crossentropy")


categorical_crossentropy = _loss_op_fn(loss_ops.categorical_crossentropy, "categorical_crossentropy")


kl_divergence = _loss_op_fn(loss_ops.kl_divergence, "kl_divergence")


sparse_categorical_crossentropy = _array_fn(_sparse_ce)
sparse_categorical_crossentropy.__name__ = "sparse_categorical_crossentropy"

poisson = loss_metric_fn(losses.poisson)
binary_focal_crossentropy = loss_metric_fn(losses.binary_focal_crossentropy)
categorical_focal_crossentropy = loss_metric_fn(losses.categorical_focal_crossentropy)


class Poisson(MeanMetricWrapper):
    """Mean of mean(y_pred - y_true * log(y_pred + eps))."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(poisson, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)

    def get_config(self):
        return _fixed_config(self)


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing

    def get_config(self):
        return _fixed_config(self, "from_logits", "label_smoothing")


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return _fixed_config(self, "from_logits", "label_smoothing", "axis")


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical cross-entropy."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def get_config(self):
        return _fixed_config(self, "from_logits", "ignore_class", "axis")
