"""Stateful metrics with the Keras 3 API: ``update_state(y_true, y_pred, sample_weight=None)``,
``result()`` (a Python float; a NumPy array for per-threshold / per-class results), ``reset_state()``.

Metrics are plain array math on NumPy or CuPy (no autodiff); their state lives on the device of
the data they are fed and is kept in the metric's dtype (float32), as Keras' metric variables.
The algorithms follow Keras 3 exactly: ``Mean``'s sample-weight reduction
(``reduce_to_samplewise_values``), the accuracy functions (TensorFlow ``in_top_k`` tie rule),
the thresholded confusion-matrix update (bucketed for evenly spaced thresholds, as AUC) and
AUC's ROC / PR (Davis-Goadrich interpolation) / PRGAIN summations.
"""
from __future__ import annotations

import inspect
import re

import numpy as np

from . import backend
from .autodiff import Tensor, no_grad
from .backend import get_xp, is_array, to_device, to_numpy
from .object_registration import export_api, get_registered_object, scoped_custom_objects
from .ops import losses as loss_ops
from .ops.activations import _stable_sigmoid
from .serialization_lib import deserialize_keras_object, serialize_keras_object

EPSILON = 1e-7  # keras.config.epsilon()
NEG_INF = -1e10

__all__ = [
    "Metric", "Variable", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision", "Recall",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "AUC", "F1Score", "FBetaScore",
    "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsolutePercentageError",
    "CosineSimilarity", "LogCoshError", "KLDivergence", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "get", "serialize", "deserialize",
]


# --------------------------------------------------------------------------- array helpers
def _arr(x, dtype=None):
    """A NumPy/CuPy array from an array, Tensor, list or scalar (cast to ``dtype`` when given)."""
    if isinstance(x, Tensor):
        x = x.data
    if not is_array(x):
        x = np.asarray(x)
    if dtype is not None and x.dtype != np.dtype(dtype):
        x = x.astype(dtype)
    return x


def _same_device(x, like):
    if is_array(like) and backend.device_of(x) != backend.device_of(like):
        return to_device(x, backend.device_of(like))
    return x


def _result(x):
    """Python float for a scalar, NumPy array otherwise."""
    x = to_numpy(x)
    return float(x) if x.ndim == 0 else x


def _snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _shape_str(shape):
    shape = tuple(shape)
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rule for ranks differing by a trailing 1 (arrays)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _divide_no_nan(a, b):
    xp = get_xp(a, b)
    z = a.dtype.type(0)
    safe = xp.where(b == 0, a.dtype.type(1), b)
    return xp.where(b == 0, z, a / safe)


def _apply_mask(sample_weight, mask, dtype, reduction="sum"):
    """Keras ``apply_mask`` on arrays."""
    if mask is None:
        return sample_weight
    m = _arr(mask).astype(bool)
    xp = get_xp(m)
    ty = np.dtype(dtype).type
    if reduction in ("mean", "sum_over_batch_size"):
        valid = m.sum(dtype=dtype)
        scale = xp.where(valid > 0, ty(m.size) / xp.maximum(valid, ty(1)), ty(0))
        fm = xp.where(m, scale, ty(0)).astype(dtype)
    else:
        fm = m.astype(dtype)
    if sample_weight is None:
        return fm
    fm, sample_weight = squeeze_or_expand_to_same_rank(fm, _same_device(sample_weight, fm))
    return sample_weight * fm


def _mask_of(x):
    m = getattr(x, "_keras_mask", None)
    return None if m is None else _arr(m)


# --------------------------------------------------------------------------- state
class Variable:
    """A metric state array with ``assign``/``assign_add``; follows the device of what is added."""

    __array_priority__ = 1000

    def __init__(self, shape=(), dtype="float32", name=None, initializer="zeros"):
        self.name = name
        self.dtype = np.dtype(dtype)
        self._shape = tuple(shape)
        self._initializer = initializer
        self.value = self._initial()

    def _initial(self):
        init = self._initializer
        if callable(init) and not isinstance(init, str):
            return np.asarray(init(self._shape, self.dtype), dtype=self.dtype)
        if init in ("zeros", None):
            return np.zeros(self._shape, self.dtype)
        if init == "ones":
            return np.ones(self._shape, self.dtype)
        raise ValueError(f"metric variable {self.name!r}: unknown initializer {init!r}; use 'zeros', 'ones' or a "
                         f"function (shape, dtype) -> array")

    @property
    def shape(self):
        return self.value.shape

    def _coerce(self, v):
        v = _arr(v)
        if backend.device_of(v) != backend.device_of(self.value):
            if backend.device_of(v).kind == "cpu":
                v = to_device(v, backend.device_of(self.value))
            else:
                self.value = to_device(self.value, backend.device_of(v))
        return v.astype(self.dtype, copy=False)

    def assign(self, v):
        v = self._coerce(v)
        xp = get_xp(self.value)
        self.value = xp.array(xp.broadcast_to(v, self.value.shape), dtype=self.dtype)
        return self

    def assign_add(self, v):
        self.value = (self.value + self._coerce(v)).astype(self.dtype, copy=False)
        return self

    def assign_sub(self, v):
        self.value = (self.value - self._coerce(v)).astype(self.dtype, copy=False)
        return self

    def reset(self):
        self.value = self._initial()

    def numpy(self):
        return to_numpy(self.value)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a.astype(dtype) if dtype is not None else a

    def __float__(self):
        return float(self.value)

    def __getitem__(self, i):
        return self.value[i]

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return f"<Variable {self.name} shape={self.shape} dtype={self.dtype.name}>"

    # arithmetic on the current value (for result() code written Keras-style)
    def __add__(self, o): return self.value + _val(o)
    def __radd__(self, o): return _val(o) + self.value
    def __sub__(self, o): return self.value - _val(o)
    def __rsub__(self, o): return _val(o) - self.value
    def __mul__(self, o): return self.value * _val(o)
    def __rmul__(self, o): return _val(o) * self.value
    def __truediv__(self, o): return self.value / _val(o)
    def __rtruediv__(self, o): return _val(o) / self.value
    def __neg__(self): return -self.value


def _val(o):
    return o.value if isinstance(o, Variable) else o


# --------------------------------------------------------------------------- base
class Metric:
    """Base class: state in ``add_variable`` Variables; subclasses implement ``update_state``
    and ``result``. ``metric(y_true, y_pred)`` updates and returns the result."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self._dtype = np.dtype(dtype or backend.floatx())
        self._variables = []

    @property
    def dtype(self):
        return self._dtype.name

    @property
    def variables(self):
        return list(self._variables)

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A new state Variable (reset to its initial value by ``reset_state``)."""
        v = Variable(shape, dtype or self._dtype, name=name, initializer=initializer)
        self._variables.append(v)
        return v

    add_weight = add_variable

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self):
        """Back to the initial state (zeros)."""
        for v in self._variables:
            v.reset()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


# --------------------------------------------------------------------------- reduction metrics
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
            # arithmetic in the metric's dtype, without its conversions (14 -> 3 us)
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


def _array_fn(fn):
    fn._array_fn = True
    return fn


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


def _fixed_config(metric, *keys):
    return {"name": metric.name, "dtype": metric.dtype, **{k: getattr(metric, k) for k in keys}}


# --------------------------------------------------------------------------- accuracy functions
def _floatx():
    return np.dtype(backend.floatx())


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


# --------------------------------------------------------------------------- regression functions
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


# --------------------------------------------------------------------------- wrapper classes
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


# --------------------------------------------------------------------------- confusion matrices
def _parse_thresholds(thresholds, default):
    if thresholds is None:
        return [float(default)]
    ts = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in ts if t is None or t < 0 or t > 1]
    if bad:
        raise ValueError(f"threshold values must be in [0, 1]; got {bad}")
    return [float(t) for t in ts]


def _evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(np.asarray(thresholds, np.float64), even, atol=EPSILON))


def update_confusion_matrix_variables(variables, y_true, y_pred, thresholds, top_k=None, class_id=None,
                                      sample_weight=None, multi_label=False, label_weights=None,
                                      thresholds_distributed_evenly=False):
    """Accumulate tp/fp/tn/fn (keys of ``variables``) per threshold, as Keras' metrics_utils:
    a prediction counts as positive when ``y_pred > threshold``; y_true is cast to bool."""
    dtype = next(iter(variables.values())).dtype
    y_pred = _arr(y_pred, dtype)
    y_true = _same_device(_arr(y_true, dtype), y_pred)
    xp = get_xp(y_pred)
    ty = dtype.type
    with_eps = thresholds_distributed_evenly and (thresholds[0] < 0.0 or thresholds[-1] > 1.0)
    thr = xp.asarray(np.asarray(thresholds, dtype=dtype))
    n_thr = thr.shape[0]
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_true shape {_shape_str(y_true.shape)} and y_pred shape {_shape_str(y_pred.shape)} must "
                         f"match")
    if sample_weight is not None:
        sw = _same_device(_arr(sample_weight, dtype), y_pred)[..., None]
        _, sw = squeeze_or_expand_to_same_rank(y_true, sw, expand_rank_1=False)
        try:
            sample_weight = xp.broadcast_to(sw, y_pred.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {_shape_str(_arr(sample_weight).shape)} cannot be broadcast to "
                             f"y_pred of shape {_shape_str(y_pred.shape)}") from None
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(f"when class_id is given, y_pred must be 2-D (num_samples, num_classes); got shape "
                             f"{_shape_str(y_pred.shape)}")
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
        if sample_weight is not None:
            sample_weight = sample_weight[..., class_id, None]
    if label_weights is not None and not multi_label:
        lw = xp.broadcast_to(_same_device(_arr(label_weights, dtype), y_pred)[None], y_pred.shape)
        sample_weight = lw if sample_weight is None else sample_weight * lw

    label = y_true != 0
    if not multi_label:
        label, y_pred = label.reshape(-1), y_pred.reshape(-1)
        w = None if sample_weight is None else sample_weight.reshape(-1)
    else:
        if y_pred.ndim != 2:
            raise ValueError(f"multi_label=True needs 2-D y_pred (samples, labels); got shape "
                             f"{_shape_str(y_pred.shape)}")
        w = sample_weight
    labf = label.astype(dtype)
    w1 = xp.ones((), dtype) if w is None else w
    true_w = labf * w1
    false_w = (ty(1) - labf) * w1
    if thresholds_distributed_evenly:
        p = xp.clip(y_pred, ty(0), ty(1))
        bucket = xp.ceil(p * ty(n_thr - 1)) - ty(1)
        if with_eps:
            bucket = xp.maximum(bucket, ty(0))
        bucket = bucket.astype(np.int64)
        true_w, false_w = xp.broadcast_to(true_w, p.shape), xp.broadcast_to(false_w, p.shape)
        keep = bucket >= 0  # unsorted_segment_sum drops negative ids
        if multi_label:
            n_lab = p.shape[1]
            idx = bucket * n_lab + xp.arange(n_lab)[None, :]
            size, shape = n_thr * n_lab, (n_thr, n_lab)
        else:
            idx, size, shape = bucket, n_thr, (n_thr,)
        idx = idx[keep]
        tp_b = backend.scatter_add(xp, xp.zeros(size, dtype), idx, true_w[keep]).reshape(shape)
        fp_b = backend.scatter_add(xp, xp.zeros(size, dtype), idx, false_w[keep]).reshape(shape)
        tp = xp.flip(xp.cumsum(xp.flip(tp_b, 0), axis=0, dtype=dtype), 0)
        fp = xp.flip(xp.cumsum(xp.flip(fp_b, 0), axis=0, dtype=dtype), 0)
        axis = 0
        tot_t = true_w.sum(axis=axis, dtype=dtype)
        tot_f = false_w.sum(axis=axis, dtype=dtype)
        conf = {"tp": tp, "fp": fp, "tn": tot_f - fp, "fn": tot_t - tp}
    else:
        thr_b = thr.reshape((n_thr,) + (1,) * y_pred.ndim)
        pos = y_pred[None] > thr_b  # (T, ...) predicted positive
        lab = label[None]

        def count(cond):
            c = cond.astype(dtype) if w is None else xp.where(cond, w[None].astype(dtype), ty(0))
            return c.sum(axis=1, dtype=dtype)  # over samples: (T,) or (T, labels)

        conf = {}
        if "tp" in variables:
            conf["tp"] = count(lab & pos)
        if "fn" in variables:
            conf["fn"] = count(lab & ~pos)
        if "fp" in variables:
            conf["fp"] = count(~lab & pos)
        if "tn" in variables:
            conf["tn"] = count(~lab & ~pos)
    for key, var in variables.items():
        var.assign_add(conf[key])


def _filter_top_k(x, k):
    xp = get_xp(x)
    kind = {"kind": "stable"} if xp is np else {}  # CuPy's argsort is always stable
    order = xp.argsort(-x, axis=-1, **kind)  # ties: the lower index first, as top_k
    rank = xp.argsort(order, axis=-1)
    keep = rank < k
    return xp.where(keep, x, x.dtype.type(NEG_INF))


class _ConfusionMatrixConditionCount(Metric):
    _cond = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self._evenly = _evenly_distributed(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables({self._cond: self.accumulator}, y_true, y_pred, self.thresholds,
                                          sample_weight=sample_weight, thresholds_distributed_evenly=self._evenly)

    def result(self):
        v = self.accumulator.value
        return _result(v[0] if len(self.thresholds) == 1 else v)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """Weighted count of true positives (per threshold)."""
    _cond = "tp"


class FalsePositives(_ConfusionMatrixConditionCount):
    """Weighted count of false positives (per threshold)."""
    _cond = "fp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of true negatives (per threshold)."""
    _cond = "tn"


class FalseNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of false negatives (per threshold)."""
    _cond = "fn"


class _PrecisionRecall(Metric):
    _second = None  # "fp" for precision, "fn" for recall

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k, self.class_id = top_k, class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = _parse_thresholds(thresholds, default)
        self._evenly = _evenly_distributed(self.thresholds)
        self.true_positives = self.add_variable((len(self.thresholds),), name="true_positives")
        self.other = self.add_variable((len(self.thresholds),), name="false_positives" if self._second == "fp"
                                       else "false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables({"tp": self.true_positives, self._second: self.other}, y_true, y_pred,
                                          self.thresholds, top_k=self.top_k, class_id=self.class_id,
                                          sample_weight=sample_weight, thresholds_distributed_evenly=self._evenly)

    def result(self):
        tp = self.true_positives.value
        r = _divide_no_nan(tp, tp + self.other.value)
        return _result(r[0] if len(self.thresholds) == 1 else r)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp) with predictions above ``thresholds`` (default 0.5) counted as positive."""
    _second = "fp"

    @property
    def false_positives(self):
        return self.other


class Recall(_PrecisionRecall):
    """tp / (tp + fn) with predictions above ``thresholds`` (default 0.5) counted as positive."""
    _second = "fn"

    @property
    def false_negatives(self):
        return self.other


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC / PR / PRGAIN curve from ``num_thresholds`` evenly spaced thresholds
    (Keras' algorithm: bucketed confusion counts, then a Riemann sum or, for PR with
    "interpolation", the Davis & Goadrich interpolation)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        c = _CURVES.get(str(curve).lower())
        if c is None:
            raise ValueError(f"AUC: invalid curve {curve!r}; expected one of 'ROC', 'PR', 'PRGAIN'")
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f"AUC: invalid summation_method {summation_method!r}; expected one of {_SUMMATIONS}")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            ts = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(ts) + 2
            self._evenly = _evenly_distributed(np.array([0.0] + ts + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1; got {num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            ts = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + ts + [1.0 + EPSILON])
        self.curve = c
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, self._dtype)
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("AUC: num_labels is needed only when multi_label=True")
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"AUC: y_pred must have rank 2 when multi_label=True; got shape {_shape_str(shape)}")
            self._num_labels = shape[1]
            vshape = (self.num_thresholds, self._num_labels)
        else:
            vshape = (self.num_thresholds,)
        self._variables = []
        self.true_positives = self.add_variable(vshape, name="true_positives")
        self.false_positives = self.add_variable(vshape, name="false_positives")
        self.true_negatives = self.add_variable(vshape, name="true_negatives")
        self.false_negatives = self.add_variable(vshape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _arr(y_pred)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            xp = get_xp(y_pred)
            y_pred = _stable_sigmoid(xp, y_pred.astype(self._dtype))
        update_confusion_matrix_variables(
            {"tp": self.true_positives, "tn": self.true_negatives, "fp": self.false_positives,
             "fn": self.false_negatives},
            y_true, y_pred, self._thresholds, thresholds_distributed_evenly=self._evenly, sample_weight=sample_weight,
            multi_label=self.multi_label, label_weights=None if self.multi_label else self.label_weights)

    def _by_label(self, terms):
        xp = get_xp(terms)
        if self.multi_label:
            by_label = terms.sum(axis=0, dtype=terms.dtype)
            if self.label_weights is None:
                return by_label.mean(dtype=terms.dtype)
            lw = _same_device(self.label_weights, by_label)
            return _divide_no_nan((by_label * lw).sum(dtype=terms.dtype), lw.sum(dtype=terms.dtype))
        return terms.sum(dtype=terms.dtype)

    def interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives.value, self.false_positives.value, self.false_negatives.value
        xp = get_xp(tp)
        ty = tp.dtype.type
        n = self.num_thresholds
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        slope = _divide_no_nan(dtp, xp.maximum(dp, ty(0)))
        intercept = tp[1:] - slope * p[1:]
        ratio = xp.where((p[: n - 1] > 0) & (p[1:] > 0), _divide_no_nan(p[: n - 1], xp.maximum(p[1:], ty(0))),
                         xp.ones_like(p[1:]))
        inc = _divide_no_nan(slope * (dtp + intercept * xp.log(ratio)), xp.maximum(tp[1:] + fn[1:], ty(0)))
        return self._by_label(inc)

    def _result_array(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        xp = get_xp(tp)
        ty = tp.dtype.type
        n = self.num_thresholds
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _divide_no_nan(tp + fn, tn + fp)
            rg = ty(1) - scale * _divide_no_nan(fn, tp)
            pg = ty(1) - scale * _divide_no_nan(fp, tp)
            rg = xp.where(tp == 0, ty(0), rg)
            pg = xp.where(tp == 0, ty(1), pg)
            x, y = xp.maximum(rg, ty(0)), pg
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / ty(2)
        elif self.summation_method == "minoring":
            heights = xp.minimum(y[: n - 1], y[1:])
        else:
            heights = xp.maximum(y[: n - 1], y[1:])
        return self._by_label((x[: n - 1] - x[1:]) * heights)

    def result(self):
        if not self._built:
            return 0.0
        return _result(self._result_array())

    def reset_state(self):
        if self._built:
            for v in self._variables:
                v.reset()

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config


class FBetaScore(Metric):
    """F-beta from thresholded predictions (``threshold=None``: the row maximum is positive).
    ``average``: None (per class), "micro", "macro" or "weighted"."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"invalid average {average!r}; expected one of None, 'micro', 'macro', 'weighted'")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"invalid beta {beta!r}; it must be a Python float > 0")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"invalid threshold {threshold!r}; it must be a Python float with 0 < threshold <= 1")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, yt_shape, yp_shape):
        if len(yp_shape) != 2 or len(yt_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects 2-D inputs (batch_size, output_dim); got "
                             f"y_pred.shape={_shape_str(yp_shape)} and y_true.shape={_shape_str(yt_shape)}")
        shape = (yp_shape[-1],) if self.average != "micro" else ()
        self._variables = []
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _arr(y_pred, self._dtype)
        y_true = _same_device(_arr(y_true, self._dtype), y_pred)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        xp = get_xp(y_pred)
        ty = self._dtype.type
        if self.threshold is None:
            pred = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (xp.abs(y_pred) > ty(1e-9))
        else:
            pred = y_pred > ty(self.threshold)
        pred = pred.astype(self._dtype)
        sw = None if sample_weight is None else _same_device(_arr(sample_weight, self._dtype), y_pred)

        def wsum(v):
            if sw is not None:
                v = v * sw[:, None]
            return v.sum(axis=self.axis, dtype=self._dtype)

        self.true_positives.assign_add(wsum(pred * y_true))
        self.false_positives.assign_add(wsum(pred * (ty(1) - y_true)))
        self.false_negatives.assign_add(wsum((ty(1) - pred) * y_true))
        self.intermediate_weights.assign_add(wsum(y_true))

    def result(self):
        if not self._built:
            return 0.0
        tp, fp, fn = self.true_positives.value, self.false_positives.value, self.false_negatives.value
        ty = tp.dtype.type
        eps = ty(EPSILON)
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        b2 = ty(self.beta ** 2)
        f = precision * recall / (b2 * precision + recall + eps) * (ty(1) + b2)
        if self.average == "weighted":
            w = self.intermediate_weights.value
            f = (f * (w / (w.sum(dtype=w.dtype) + eps))).sum(dtype=f.dtype)
        elif self.average is not None:
            f = f.mean(dtype=f.dtype)
        return _result(f)

    def reset_state(self):
        for v in self._variables:
            v.reset()

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 score (FBetaScore with beta=1). Keras' default ``average=None`` gives one value per class."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


# --------------------------------------------------------------------------- accuracy resolution
def _binary_or_sparse(y_true_shape, y_pred_shape):
    """Keras 3 compile_utils.is_binary_or_sparse_categorical, on shapes."""
    yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
    yt_last = yt[-1] if yt else None
    yp_last = yp[-1] if yp else None
    is_binary = yp_last == 1
    is_sparse = len(yt) < len(yp) or (yt_last == 1 and yp_last is not None and yp_last > 1)
    return is_binary, is_sparse


def _shape_of(x):
    d = x.data if isinstance(x, Tensor) else x
    return tuple(d.shape) if hasattr(d, "shape") else np.shape(d)


class _ShapeResolved(Metric):
    """``"accuracy"`` / ``"crossentropy"`` given before any data: resolves on the first
    ``update_state`` from the shapes, as Keras 3 builds its compile metrics on the first batch."""

    def __init__(self, kind, name, from_logits=False):
        super().__init__(name=name)
        self.kind, self.from_logits = kind, from_logits
        self.resolved = None

    def resolve(self, y_true_shape, y_pred_shape):
        if self.resolved is None:
            self.resolved = _resolve_by_shapes(self.kind, self.name, y_true_shape, y_pred_shape, self.from_logits)
        return self.resolved

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.resolve(_shape_of(y_true), _shape_of(y_pred)).update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self):
        return 0.0 if self.resolved is None else self.resolved.result()

    def reset_state(self):
        if self.resolved is not None:
            self.resolved.reset_state()

    def get_config(self):
        return self.resolved.get_config() if self.resolved is not None else {"name": self.name, "dtype": self.dtype}


def _resolve_by_shapes(kind, name, y_true_shape, y_pred_shape, from_logits=False):
    is_binary, is_sparse = _binary_or_sparse(y_true_shape, y_pred_shape)
    if kind == "accuracy":
        if is_binary:
            return BinaryAccuracy(name=name)
        if is_sparse:
            return SparseCategoricalAccuracy(name=name)
        return CategoricalAccuracy(name=name)
    if is_binary:
        return BinaryCrossentropy(name=name, from_logits=from_logits)
    if is_sparse:
        return SparseCategoricalCrossentropy(name=name, from_logits=from_logits)
    return CategoricalCrossentropy(name=name, from_logits=from_logits)


# --------------------------------------------------------------------------- registry
_CLASSES = {c.__name__: c for c in (
    Metric, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, TruePositives, FalsePositives,
    TrueNegatives, FalseNegatives, AUC, F1Score, FBetaScore, MeanAbsoluteError, MeanSquaredError,
    RootMeanSquaredError, MeanAbsolutePercentageError, CosineSimilarity, LogCoshError, KLDivergence,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy)}

_FUNCTIONS = {f.__name__: f for f in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy, mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    log_cosh, cosine_similarity, kl_divergence, binary_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy)}

# Keras 3 metrics.ALL_OBJECTS_DICT: class names, their snake_case, and a few aliases
_BY_NAME = {}
for _n, _c in _CLASSES.items():
    if _c is not Metric:
        _BY_NAME[_n] = _c
        _BY_NAME[_snake(_n)] = _c
_BY_NAME.pop("MeanMetricWrapper", None)
_BY_NAME.pop("mean_metric_wrapper", None)
_BY_NAME.update({"auc": AUC, "f1_score": F1Score, "f_beta_score": FBetaScore, "fbeta_score": FBetaScore,
                 "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
                 "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError})
_SHAPE_NAMES = {"accuracy": "accuracy", "acc": "accuracy", "crossentropy": "crossentropy", "ce": "crossentropy"}


export_api("keras.metrics", list(_CLASSES.values()) + list(_FUNCTIONS.values()),
           aliases={k: v for k, v in _BY_NAME.items() if k not in _CLASSES and k not in _FUNCTIONS})


def known_names():
    """Every string ``get`` accepts (besides registered 'Package>Name' names)."""
    return sorted(set(_BY_NAME) | set(_SHAPE_NAMES))


def get(identifier, loss=None, y_true=None, y_pred_shape=None):
    """A Metric from a name, config dict, Metric instance/class or function, as Keras 3 compile's
    ``get_metric``: "accuracy"/"acc" (and "crossentropy"/"ce") are chosen by SHAPES only: output
    last dim 1 -> binary; rank(y_true) < rank(y_pred) or y_true last dim 1 (output > 1) -> sparse;
    else categorical. The metric keeps the user's string as its name. Without ``y_true`` and
    ``y_pred_shape`` the choice is made on the first ``update_state``. ``loss`` is only used to pass
    ``from_logits`` to a "crossentropy" metric (Keras 3 does not look at the loss)."""
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        kind = _SHAPE_NAMES.get(identifier.lower())
        if kind is not None:
            from_logits = bool(getattr(loss, "from_logits", False)) if kind == "crossentropy" else False
            if y_true is not None and y_pred_shape is not None:
                return _resolve_by_shapes(kind, identifier, _shape_of(y_true), tuple(y_pred_shape), from_logits)
            return _ShapeResolved(kind, identifier, from_logits)
        cls = _BY_NAME.get(identifier)
        if cls is None:
            custom = get_registered_object(identifier, custom_objects=scoped_custom_objects())
            if custom is None:
                raise ValueError(f"unknown metric {identifier!r}; known metrics: {', '.join(known_names())} "
                                 "(or a name registered with @core.saving.register_keras_serializable())")
            return get(custom)
        m = cls()
        m.name = identifier
        return m
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "name", None) or
                                 getattr(identifier, "__name__", None))
    raise ValueError(f"cannot interpret {identifier!r} as a metric: expected a name, a config dict, a Metric or a "
                     f"function fn(y_true, y_pred)")


def serialize(metric):
    """Keras-style config dict of a Metric; a built-in metric function serializes to its name."""
    if isinstance(metric, _ShapeResolved):
        metric = metric.resolved or metric.name
    if isinstance(metric, Metric):
        return serialize_keras_object(metric)
    if isinstance(metric, str) or metric is None:
        return metric
    name = getattr(metric, "__name__", None)
    if name in _FUNCTIONS and _FUNCTIONS[name] is metric:
        return name
    raise ValueError(f"cannot serialize metric {metric!r}: not a Metric instance or a built-in metric function")


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"cannot deserialize metric from {config!r}: expected a dict with 'class_name' and 'config'")
    if config["class_name"] == "Metric":
        raise ValueError("cannot deserialize the abstract Metric base class")
    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=_CLASSES,
                                    namespaces=("keras.metrics",))
