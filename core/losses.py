"""Loss classes with Keras 3 semantics: ``losses.get("categorical_crossentropy")(y_true, y_pred)``.

A ``Loss`` computes per-sample values with ``call(y_true, y_pred)`` (differentiable Tensors) and
reduces them as ``keras.losses.Loss`` does (``reduce_weighted_values``):

* sample weights (and a ``_keras_mask`` on y_pred or on the per-sample losses) multiply the
  per-sample values after Keras' squeeze/expand of a trailing 1;
* ``"sum_over_batch_size"`` (default) and ``"mean"``: sum of the weighted values divided by the
  NUMBER of values (not by the sum of the weights); a mask rescales valid entries by
  ``total / valid`` so that masked positions drop out of the count;
* ``"mean_with_sample_weight"``: divided by the sum of the weights; ``"sum"``: the sum;
  ``"none"`` / ``None``: the weighted per-sample values.

``check_targets(y_true, y_pred_shape)`` validates a whole target array before training and
raises ValueError naming the loss, what it expects and what it received.
"""
from __future__ import annotations

import inspect
import math
import re

import numpy as np

from . import backend, ops
from .autodiff import Tensor, as_tensor
from .backend import get_xp, is_array, to_device
from .object_registration import (export_api, get_custom_objects, get_registered_name, get_registered_object,
                                  scoped_custom_objects)
from .ops import losses as loss_ops
from .serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = [
    "Loss", "LossFunctionWrapper", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "Huber",
    "LogCosh", "KLDivergence", "CosineSimilarity", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error", "huber",
    "log_cosh", "kl_divergence", "cosine_similarity", "Hinge", "SquaredHinge", "CategoricalHinge", "Poisson",
    "MeanSquaredLogarithmicError", "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "Dice", "Tversky",
    "CTC", "hinge", "squared_hinge", "categorical_hinge", "poisson", "mean_squared_logarithmic_error",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "dice", "tversky", "ctc", "Circle",
    "CategoricalGeneralizedCrossEntropy", "circle", "categorical_generalized_cross_entropy", "get", "serialize",
    "deserialize",
]

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    """The reduction, checked against the values Keras 3 accepts."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"invalid reduction {reduction!r}; expected one of "
                         f"{', '.join(repr(r) for r in REDUCTIONS)}")
    return reduction


# --------------------------------------------------------------------------- helpers
def _shape_str(shape) -> str:
    shape = tuple(shape)
    return "(" + ", ".join("None" if d is None else str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _reshape(x, shape):
    return ops.reshape(x, shape) if isinstance(x, Tensor) else x.reshape(shape)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rule: when ranks differ by one and the longer has a trailing 1, squeeze it (or expand
    the other when it has rank 1). Works on Tensors and arrays."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _reshape(x2, tuple(x2.shape) + (1,))
        else:
            x1 = _reshape(x1, tuple(x1.shape[:-1]))
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _reshape(x1, tuple(x1.shape) + (1,))
        else:
            x2 = _reshape(x2, tuple(x2.shape[:-1]))
    return x1, x2


def _squeeze_expand_shapes(s1, s2):
    """``squeeze_or_expand_to_same_rank`` on shape tuples."""
    s1, s2 = tuple(s1), tuple(s2)
    if len(s1) == len(s2) + 1 and s1[-1] == 1:
        return (s1, s2 + (1,)) if len(s2) == 1 else (s1[:-1], s2)
    if len(s2) == len(s1) + 1 and s2[-1] == 1:
        return (s1 + (1,), s2) if len(s1) == 1 else (s1, s2[:-1])
    return s1, s2


def _as_weight_array(w, dtype, like):
    """Sample weights / masks as an array of ``dtype`` on ``like``'s device (no gradient)."""
    w = _data(w)
    if not is_array(w):
        w = np.asarray(w)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must be numeric, got dtype {w.dtype}")
    if backend.device_of(w) != backend.device_of(like):
        w = to_device(w, backend.device_of(like))
    return w.astype(dtype, copy=False)


def _broadcast_check(op, a_shape, b_shape, what):
    try:
        np.broadcast_shapes(tuple(a_shape), tuple(b_shape))
    except ValueError:
        hint = ""
        if len(b_shape) and len(a_shape) > len(b_shape) and tuple(a_shape[:len(b_shape)]) == tuple(b_shape):
            hint = (f"; to weight whole samples give it shape "
                    f"{_shape_str(tuple(b_shape) + (1,) * (len(a_shape) - len(b_shape)))}")
        raise ValueError(f"{op}: {what} of shape {_shape_str(b_shape)} cannot be broadcast to the per-sample "
                         f"losses of shape {_shape_str(a_shape)}{hint}") from None


def apply_mask(sample_weight, mask, dtype, reduction, like):
    """Merge a boolean mask into the sample weights (Keras ``apply_mask``). Arrays in, array out."""
    if mask is None:
        return sample_weight
    m = _as_weight_array(mask, np.bool_, like)
    xp = get_xp(m)
    ty = np.dtype(dtype).type
    if reduction in ("mean", "sum_over_batch_size"):
        total = ty(m.size)
        valid = m.sum(dtype=dtype)
        scale = xp.where(valid > 0, total / xp.maximum(valid, ty(1)), ty(0))
        float_mask = xp.where(m, scale, ty(0)).astype(dtype, copy=False)
    else:
        float_mask = m.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    _broadcast_check("loss", float_mask.shape, sample_weight.shape, "sample_weight")
    return sample_weight * float_mask


def reduce_weighted_values(values: Tensor, sample_weight=None, mask=None, reduction="sum_over_batch_size",
                           name="loss") -> Tensor:
    """Weight, mask and reduce per-sample losses exactly as Keras 3 ``reduce_weighted_values``."""
    reduction = standardize_reduction(reduction)
    dtype = values.dtype
    sw = None if sample_weight is None else _as_weight_array(sample_weight, dtype, values.data)
    sw = apply_mask(sw, mask, dtype, reduction, values.data)
    if sw is not None:
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        _broadcast_check(name, values.shape, sw.shape, "sample_weight")
        values = values * Tensor(sw)
    if reduction in (None, "none") or tuple(values.shape) in ((), (0,)):
        return values
    loss = ops.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sw is not None:
        xp = get_xp(sw)
        div = sw.sum(dtype=dtype)
        safe = xp.where(div != 0, div, dtype.type(1))
        return loss * Tensor(xp.where(div != 0, dtype.type(1) / safe, dtype.type(0)).astype(dtype))
    n = math.prod(values.shape)
    return loss / float(n) if n else loss * 0.0


def _finite_check(name, arr):
    xp = get_xp(arr)
    if arr.dtype.kind == "f":
        bad = ~xp.isfinite(arr)
        nbad = int(bad.sum())
        if nbad:
            first = tuple(int(i) for i in np.unravel_index(int(xp.argmax(bad.reshape(-1))), arr.shape))
            raise ValueError(f"{name}: targets contain {nbad} NaN/inf value{'s' if nbad > 1 else ''} "
                             f"(first at index {first}); clean or impute the targets before training")


def _targets(name, y_true):
    arr = _data(y_true)
    if not is_array(arr):
        arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: targets must be numeric, got dtype {arr.dtype} (shape {_shape_str(arr.shape)})")
    _finite_check(name, arr)
    return arr


def _is_integer_valued(arr) -> bool:
    if arr.dtype.kind in "biu":
        return True
    xp = get_xp(arr)
    return bool(arr.size == 0 or xp.all(arr == xp.floor(arr)))


def _expected_shape(y_true_shape, y_pred_shape):
    """y_pred_shape with None batch filled from y_true."""
    yp = list(y_pred_shape)
    if yp and yp[0] is None and len(y_true_shape):
        yp[0] = y_true_shape[0]
    return tuple(yp)


def _dims_match(a, b) -> bool:
    return len(a) == len(b) and all(x is None or y is None or int(x) == int(y) for x, y in zip(a, b))


def _value_range(arr):
    return float(arr.min()), float(arr.max())


def _fmt_num(v):
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


# --------------------------------------------------------------------------- base classes
class Loss:
    """Base loss: subclass and implement ``call(y_true, y_pred)`` returning per-sample Tensors.

    ``loss(y_true, y_pred, sample_weight=None)`` -> the reduced scalar Tensor (differentiable).
    """

    _int_targets = False  # keep integer y_true as is (sparse labels) instead of casting to y_pred's dtype

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = None if dtype is None else np.dtype(dtype)

    @property
    def dtype(self):
        return self._dtype.name if self._dtype is not None else backend.floatx()

    def _convert(self, y_true, y_pred):
        if isinstance(y_pred, Tensor):
            pred = y_pred
            if self._dtype is not None and pred.dtype != self._dtype:
                pred = ops.cast(pred, self._dtype)
            elif pred.dtype.kind != "f":
                pred = ops.cast(pred, backend.floatx())
        else:
            arr = y_pred if is_array(y_pred) else np.asarray(y_pred)
            pred = Tensor(arr.astype(self._dtype or backend.floatx(), copy=False))
        if isinstance(y_true, Tensor):
            true = y_true
            keep = self._int_targets and true.dtype.kind in "biu"
            if not keep and true.dtype != pred.dtype:
                true = as_tensor(true.data, like=pred)
        else:
            arr = y_true if is_array(y_true) else np.asarray(y_true)
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"{self.name}: y_true must be numeric, got dtype {arr.dtype}")
            if self._int_targets and arr.dtype.kind in "biu":
                true = Tensor(arr, device=pred.device)
            else:
                true = as_tensor(arr, like=pred)
        return true, pred

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = getattr(y_pred, "_keras_mask", None)
        true, pred = self._convert(y_true, y_pred)
        losses = self.call(true, pred)
        if not isinstance(losses, Tensor):
            losses = as_tensor(losses, like=pred)
        out_mask = getattr(losses, "_keras_mask", None)
        mask = _merge_masks(in_mask, out_mask, losses.data)
        if losses.dtype != pred.dtype and losses.dtype.kind == "f":
            losses = ops.cast(losses, pred.dtype)
        return reduce_weighted_values(losses, sample_weight=sample_weight, mask=mask, reduction=self.reduction,
                                      name=self.name)

    def call(self, y_true, y_pred):
        """Per-sample losses (a Tensor); implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def check_targets(self, y_true, y_pred_shape=None):
        """Validate a target array (the whole dataset or one batch) before training: numeric and finite.
        Subclasses add shape/value checks. Raises ValueError naming the loss."""
        _targets(self.name, y_true)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


def _merge_masks(a, b, like):
    a = None if a is None else _as_weight_array(a, np.bool_, like)
    b = None if b is None else _as_weight_array(b, np.bool_, like)
    if a is not None and b is not None:
        return a & b
    return a if a is not None else b


def _snake(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class LossFunctionWrapper(Loss):
    """A Loss from a function ``fn(y_true, y_pred, **kwargs)`` returning per-sample values
    (y_true/y_pred first reconciled by Keras' squeeze/expand of a trailing 1)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper: fn must be callable, got {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        name = getattr(self.fn, "__name__", None)
        config["fn"] = name if _FUNCTIONS.get(name) is self.fn else serialize_keras_object(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" not in config:  # the built-in subclasses take their own arguments
            return cls(**config)
        fn = config.pop("fn")
        if isinstance(fn, dict):
            fn = deserialize_keras_object(fn, module_objects=_FUNCTIONS, namespaces=("keras.losses",))
        elif isinstance(fn, str):
            found = _FUNCTIONS.get(fn) or get_registered_object(fn, custom_objects=scoped_custom_objects())
            if found is None:
                raise ValueError(f"LossFunctionWrapper.from_config: unknown loss function {fn!r}; "
                                 f"known: {sorted(_FUNCTIONS)} (or register yours with "
                                 "@core.saving.register_keras_serializable())")
            fn = found
        return cls(fn, **config)

    def __repr__(self):
        if type(self) is not LossFunctionWrapper:
            return super().__repr__()
        return f"<LossFunctionWrapper({getattr(self.fn, '__name__', self.fn)}, kwargs={self._fn_kwargs})>"


# --------------------------------------------------------------------------- per-sample functions
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical cross-entropy (targets one-hot / distributions along ``axis``)."""
    return loss_ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits,
                                             label_smoothing=label_smoothing, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample cross-entropy with integer targets; entries equal to ``ignore_class`` give 0 and
    are masked out of the reduction (their count is not in the divisor), as Keras."""
    if ignore_class is None:
        return loss_ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    pred = y_pred if isinstance(y_pred, Tensor) else as_tensor(y_pred)
    t = _data(y_true)
    if not is_array(t):
        t = np.asarray(t)
    a = axis % pred.ndim if pred.ndim else axis
    if t.ndim == pred.ndim and t.shape[a] == 1:
        t = t.reshape(tuple(s for i, s in enumerate(t.shape) if i != a))
    xp = get_xp(t)
    valid = t != xp.asarray(ignore_class).astype(t.dtype)
    t = xp.where(valid, t, xp.zeros((), t.dtype))
    res = loss_ops.sparse_categorical_crossentropy(t, pred, from_logits=from_logits, axis=axis)
    valid = to_device(valid, res.device) if backend.device_of(valid) != res.device else valid
    valid = valid.reshape(res.shape)
    res = ops.where(valid, res, 0.0)
    res._keras_mask = Tensor(valid)
    return res


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy, averaged over ``axis`` (the last by default)."""
    nd = len(y_pred.shape)
    if nd and axis % nd != nd - 1:
        y_pred = ops.swapaxes(y_pred if isinstance(y_pred, Tensor) else as_tensor(y_pred), axis, -1)
        y_true = ops.swapaxes(y_true if isinstance(y_true, Tensor) else Tensor(y_true), axis, -1)
    return loss_ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean((y_pred - y_true)^2) over the last axis."""
    return loss_ops.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean(|y_pred - y_true|) over the last axis."""
    return loss_ops.mean_absolute_error(y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample 100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis."""
    return loss_ops.mean_absolute_percentage_error(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss averaged over the last axis."""
    return loss_ops.huber(y_true, y_pred, delta=delta)


def log_cosh(y_true, y_pred):
    """Per-sample mean(log(cosh(y_pred - y_true))) over the last axis."""
    return loss_ops.log_cosh(y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """Per-sample sum(t * log(t / p)) over the last axis (t, p clipped to [eps, 1])."""
    return loss_ops.kl_divergence(y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample negative cosine similarity along ``axis``."""
    return loss_ops.cosine_similarity(y_true, y_pred, axis=axis)


EPSILON = 1e-7  # keras.config.epsilon()
_NEG_LOG = -1e30  # log(0) where Keras uses -inf: finite, so that gradients through it stay 0, not NaN


def _hinge_labels(y_true):
    """Keras's ``convert_binary_labels_to_hinge``: labels all in {0, 1} become {-1, 1}; others unchanged."""
    t = _data(y_true)
    if bool(((t == 0) | (t == 1)).all()):
        return y_true * 2.0 - 1.0
    return y_true


def hinge(y_true, y_pred):
    """Per-sample mean(max(1 - y_true * y_pred, 0)) over the last axis; {0, 1} labels become {-1, 1}."""
    return ops.mean(ops.relu(1.0 - _hinge_labels(y_true) * y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    """Per-sample mean(max(1 - y_true * y_pred, 0)^2) over the last axis; {0, 1} labels become {-1, 1}."""
    return ops.mean(ops.square(ops.relu(1.0 - _hinge_labels(y_true) * y_pred)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """Per-sample max(neg - pos + 1, 0): pos = sum(y_true * y_pred), neg = max((1 - y_true) * y_pred)."""
    pos = ops.sum(y_true * y_pred, axis=-1)
    neg = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.relu(neg - pos + 1.0)


def poisson(y_true, y_pred):
    """Per-sample mean(y_pred - y_true * log(y_pred + eps)) over the last axis."""
    return ops.mean(y_pred - y_true * ops.log(y_pred + EPSILON), axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2) over the last axis."""
    first = ops.log(ops.maximum(y_pred, EPSILON) + 1.0)
    second = ops.log(ops.maximum(y_true, EPSILON) + 1.0)
    return ops.mean(ops.square(first - second), axis=-1)


def _elementwise_bce(target, output):
    """Keras's backend binary cross-entropy on probabilities (clipped to [eps, 1 - eps]), elementwise."""
    output = ops.clip(output, EPSILON, 1.0 - EPSILON)
    return -(target * ops.log(output) + (1.0 - target) * ops.log(1.0 - output))


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1):
    """Per-sample focal binary cross-entropy (Lin et al., 2017): ``(1 - p_t)^gamma * bce``, weighted by
    ``alpha`` / ``1 - alpha`` with ``apply_class_balancing``, averaged over ``axis``."""
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    bce = _elementwise_bce(y_true, y_pred)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = ops.pow(1.0 - p_t, float(gamma)) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return ops.mean(focal, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """Per-sample focal categorical cross-entropy: ``sum(alpha * (1 - p)^gamma * -y_true * log(p))`` over
    ``axis`` (``p`` the renormalized, clipped predictions)."""
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    output = ops.clip(y_pred / ops.sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    cce = -(y_true * ops.log(output))
    return ops.sum(ops.pow(1.0 - output, float(gamma)) * alpha * cce, axis=axis)


def dice(y_true, y_pred, axis=None):
    """1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + eps), summed over ``axis`` (all axes
    by default, giving one value for the batch)."""
    inter = ops.sum(y_true * y_pred, axis=axis)
    return 1.0 - 2.0 * inter / (ops.sum(y_true, axis=axis) + ops.sum(y_pred, axis=axis) + EPSILON)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - TP / (TP + alpha * sum((1 - y_pred) * y_true) + beta * sum(y_pred * (1 - y_true)) + eps), as Keras
    computes it, summed over ``axis`` (all axes by default)."""
    inter = ops.sum(y_true * y_pred, axis=axis)
    fp = ops.sum((1.0 - y_pred) * y_true, axis=axis)
    fn = ops.sum(y_pred * (1.0 - y_true), axis=axis)
    return 1.0 - inter / (inter + fp * alpha + fn * beta + EPSILON)


def ctc(y_true, y_pred):
    """Per-sample CTC loss -log p(labels | logits) (Graves et al., 2006), as Keras's ``ctc``:
    ``y_true`` (batch, max_label_length) integer labels padded with 0, class 0 is the blank;
    ``y_pred`` (batch, steps, classes) logits; every sequence uses all steps and the first
    ``count_nonzero(labels)`` labels, as Keras (``core.ops.ctc_loss``)."""
    if len(y_true.shape) != 2:
        raise ValueError(f"Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` in "
                         f"integer format. Received: y_true.shape={tuple(y_true.shape)}")
    if len(y_pred.shape) != 3:
        raise ValueError(f"Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
                         f"num_classes)`. Received: y_pred.shape={tuple(y_pred.shape)}")
    pred = y_pred if isinstance(y_pred, Tensor) else as_tensor(y_pred)
    labels = np.asarray(backend.to_numpy(_data(y_true))).astype(np.int64)
    n, steps, classes = pred.shape
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"ctc: labels must be in [0, {classes}) (0 is the blank / padding), got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    label_length = (labels != 0).sum(axis=1)
    return ops.ctc_loss(labels, pred, label_length, np.full(n, steps, np.int64), mask_index=0)


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Per-sample Circle loss (Sun et al., 2020) of L2-normalized embeddings ``y_pred`` (batch, dim)
    with integer labels ``y_true``: positives (same label, not itself) pulled to cosine 1, negatives
    pushed below; samples with a zero loss are masked out of the reduction, as Keras."""
    pred = y_pred if isinstance(y_pred, Tensor) else as_tensor(y_pred)
    xp = pred.xp
    labels = xp.asarray(_data(y_true)).astype(np.int64).reshape(-1, 1)
    ref = pred if ref_embeddings is None else (ref_embeddings if isinstance(ref_embeddings, Tensor)
                                               else as_tensor(ref_embeddings, like=pred))
    ref_labels = labels if ref_labels is None else xp.asarray(_data(ref_labels)).astype(np.int64).reshape(-1, 1)
    dist = ops.relu(1.0 - ops.matmul(pred, ops.transpose(ref)))
    pos = labels == ref_labels.T
    neg = ~pos
    if remove_diagonal:
        pos = pos & ~xp.eye(labels.shape[0], ref_labels.shape[0], dtype=bool)
    posf, negf = Tensor(pos.astype(pred.dtype)), Tensor(neg.astype(pred.dtype))
    pos_w = ops.relu((margin + dist) * posf)
    neg_w = ops.relu((1.0 + margin - dist) * negf)
    p_loss = ops.logsumexp(ops.where(pos, -gamma * pos_w * (margin - dist), _NEG_LOG), axis=1)
    n_loss = ops.logsumexp(ops.where(neg, gamma * neg_w * ((1.0 - margin) - dist), _NEG_LOG), axis=1)
    loss = ops.softplus(p_loss + n_loss)
    loss._keras_mask = Tensor(loss.data > 0)
    return loss


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Per-sample generalized cross-entropy (Zhang & Sabuncu, 2018) for integer labels:
    ``(1 - p_true^q) / q``, ``p_true`` the predicted probability of the label."""
    pred = y_pred if isinstance(y_pred, Tensor) else as_tensor(y_pred)
    labels = pred.xp.asarray(_data(y_true)).astype(np.int64)
    onehot = (labels[..., None] == pred.xp.arange(pred.shape[-1])).astype(pred.dtype)
    p = ops.sum(pred * Tensor(onehot), axis=-1)
    return (1.0 - ops.pow(p, float(q))) / q


# --------------------------------------------------------------------------- target checks
def _check_same_shape(name, arr, y_pred_shape, what="targets"):
    if y_pred_shape is None:
        return
    ys = tuple(arr.shape)
    exp = _expected_shape(ys, y_pred_shape)
    a, b = _squeeze_expand_shapes(ys, exp)
    if not _dims_match(a, b):
        raise ValueError(f"{name} expects {what} of shape {_shape_str(exp)} (the model output shape "
                         f"{_shape_str(y_pred_shape)}); got {what} of shape {_shape_str(ys)}")


def _check_batch(name, arr, y_pred_shape):
    if y_pred_shape is not None and len(y_pred_shape) and y_pred_shape[0] is not None and arr.ndim \
            and arr.shape[0] != y_pred_shape[0]:
        raise ValueError(f"{name}: targets have {arr.shape[0]} samples but the predictions have {y_pred_shape[0]} "
                         f"(targets shape {_shape_str(arr.shape)}, predictions shape {_shape_str(y_pred_shape)})")


class _RegressionMixin:
    def check_targets(self, y_true, y_pred_shape=None):
        arr = _targets(self.name, y_true)
        _check_same_shape(self.name, arr, y_pred_shape)


# --------------------------------------------------------------------------- loss classes
class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot (or soft) targets; ``from_logits``, ``label_smoothing``, ``axis``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}

    def check_targets(self, y_true, y_pred_shape=None):
        arr = _targets(self.name, y_true)
        if y_pred_shape is None:
            return
        _check_batch(self.name, arr, y_pred_shape)
        exp = _expected_shape(arr.shape, y_pred_shape)
        if _dims_match(arr.shape, exp):
            return
        a = self.axis % len(exp) if exp else 0
        without = exp[:a] + exp[a + 1:]
        c = exp[a] if exp else None
        sparse_like = _dims_match(arr.shape, without) or (
            _dims_match(arr.shape, exp[:a] + (1,) + exp[a + 1:]) and c != 1)
        if sparse_like and _is_integer_valued(arr):
            raise ValueError(f"{self.name} expects one-hot targets of shape {_shape_str(exp)}; got integer labels of "
                             f"shape {_shape_str(arr.shape)}. Use sparse_categorical_crossentropy or one-hot encode "
                             f"the labels")
        raise ValueError(f"{self.name} expects one-hot targets of shape {_shape_str(exp)} (the model output shape "
                         f"{_shape_str(y_pred_shape)}); got targets of shape {_shape_str(arr.shape)}")


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class targets; ``from_logits``, ``ignore_class``, ``axis``."""

    _int_targets = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits, "ignore_class": self.ignore_class,
                "axis": self.axis}

    def check_targets(self, y_true, y_pred_shape=None):
        arr = _targets(self.name, y_true)
        if y_pred_shape is None:
            if not _is_integer_valued(arr):
                raise ValueError(f"{self.name} expects integer class labels; got non-integer values "
                                 f"(dtype {arr.dtype})")
            return
        _check_batch(self.name, arr, y_pred_shape)
        exp_p = _expected_shape(arr.shape, y_pred_shape)
        a = self.axis % len(exp_p) if exp_p else 0
        c = exp_p[a] if exp_p else None
        want = exp_p[:a] + exp_p[a + 1:]
        ok = _dims_match(arr.shape, want) or _dims_match(arr.shape, exp_p[:a] + (1,) + exp_p[a + 1:])
        if not ok:
            if _dims_match(arr.shape, exp_p) and c not in (None, 1):
                raise ValueError(f"{self.name} expects integer class labels of shape {_shape_str(want)}; got one-hot "
                                 f"targets of shape {_shape_str(arr.shape)}. Use categorical_crossentropy or convert "
                                 f"the targets with argmax(axis={self.axis})")
            raise ValueError(f"{self.name} expects integer class labels of shape {_shape_str(want)} (the model output "
                             f"shape {_shape_str(y_pred_shape)} without the class axis); got targets of shape "
                             f"{_shape_str(arr.shape)}")
        if not _is_integer_valued(arr):
            raise ValueError(f"{self.name} expects integer class labels; got non-integer values (dtype {arr.dtype}, "
                             f"shape {_shape_str(arr.shape)})")
        if c is None or arr.size == 0:
            return
        xp = get_xp(arr)
        check = arr
        if self.ignore_class is not None:
            check = arr[arr != self.ignore_class]
            if check.size == 0:
                return
        lo, hi = _value_range(check)
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            where = tuple(int(i) for i in np.unravel_index(int(xp.argmax((arr == bad).reshape(-1))), arr.shape))
            ign = f" (ignore_class={self.ignore_class})" if self.ignore_class is not None else ""
            raise ValueError(f"{self.name}: labels must be in [0, {c}) for a model output with {c} class{'es' if c != 1 else ''}{ign}; "
                             f"got labels in [{_fmt_num(lo)}, {_fmt_num(hi)}] (e.g. {_fmt_num(bad)} at index {where})")


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy for targets in [0, 1]; ``from_logits``, ``label_smoothing``, ``axis``."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}

    def check_targets(self, y_true, y_pred_shape=None):
        arr = _targets(self.name, y_true)
        if arr.size:
            lo, hi = _value_range(arr)
            if lo < 0 or hi > 1:
                hint = (" For integer class labels use sparse_categorical_crossentropy with a softmax output."
                        if _is_integer_valued(arr) and hi > 1 else "")
                raise ValueError(f"{self.name} expects targets in [0, 1]; got values in [{_fmt_num(lo)}, "
                                 f"{_fmt_num(hi)}].{hint}")
        if y_pred_shape is not None:
            _check_batch(self.name, arr, y_pred_shape)
            _check_same_shape(self.name, arr, y_pred_shape)


class MeanSquaredError(_RegressionMixin, LossFunctionWrapper):
    """mean((y_true - y_pred)^2) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class MeanAbsoluteError(_RegressionMixin, LossFunctionWrapper):
    """mean(|y_true - y_pred|) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class MeanAbsolutePercentageError(_RegressionMixin, LossFunctionWrapper):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class Huber(_RegressionMixin, LossFunctionWrapper):
    """Huber loss: quadratic for |error| <= delta, linear beyond; averaged over the last axis."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self):  # Keras 3 drops delta here; we keep it so from_config round-trips
        return {**Loss.get_config(self), "delta": self.delta}


class LogCosh(_RegressionMixin, LossFunctionWrapper):
    """mean(log(cosh(y_pred - y_true))) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence sum(t * log(t / p)) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)

    def check_targets(self, y_true, y_pred_shape=None):
        arr = _targets(self.name, y_true)
        if y_pred_shape is not None:
            _check_batch(self.name, arr, y_pred_shape)
            exp = _expected_shape(arr.shape, y_pred_shape)
            if not _dims_match(arr.shape, exp):
                raise ValueError(f"{self.name} expects target distributions of shape {_shape_str(exp)} (the model "
                                 f"output shape {_shape_str(y_pred_shape)}); got targets of shape "
                                 f"{_shape_str(arr.shape)}")


class CosineSimilarity(_RegressionMixin, LossFunctionWrapper):
    """Negative cosine similarity along ``axis`` (-1 = same direction), then reduced."""

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):  # Keras 3 drops axis here; kept so from_config round-trips
        return {**Loss.get_config(self), "axis": self.axis}


class Hinge(_RegressionMixin, LossFunctionWrapper):
    """mean(max(1 - y_true * y_pred, 0)) over the last axis, then reduced; {0, 1} labels become {-1, 1}."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class SquaredHinge(_RegressionMixin, LossFunctionWrapper):
    """mean(max(1 - y_true * y_pred, 0)^2) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class CategoricalHinge(_RegressionMixin, LossFunctionWrapper):
    """max(neg - pos + 1, 0) per sample (pos = sum(y_true * y_pred), neg = max((1 - y_true) * y_pred)), then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class Poisson(_RegressionMixin, LossFunctionWrapper):
    """mean(y_pred - y_true * log(y_pred + eps)) over the last axis, then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class MeanSquaredLogarithmicError(_RegressionMixin, LossFunctionWrapper):
    """mean((log(y_pred + 1) - log(y_true + 1))^2) over the last axis (both clipped at eps), then reduced."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Focal binary cross-entropy: ``gamma`` down-weights easy examples; ``apply_class_balancing``
    weights positives by ``alpha`` and negatives by ``1 - alpha``."""

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.apply_class_balancing, self.alpha, self.gamma = apply_class_balancing, alpha, gamma
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}

    check_targets = BinaryCrossentropy.check_targets


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Focal categorical cross-entropy for one-hot targets: ``alpha * (1 - p)^gamma`` times the cross-entropy."""

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.alpha, self.gamma = alpha, gamma
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "alpha": self.alpha, "gamma": self.gamma}

    check_targets = CategoricalCrossentropy.check_targets


class Dice(_RegressionMixin, LossFunctionWrapper):
    """Dice loss 1 - 2|A n B| / (|A| + |B|), summed over ``axis`` (all axes by default)."""

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "axis": self.axis}


class Tversky(_RegressionMixin, LossFunctionWrapper):
    """Tversky loss (a Dice generalization with ``alpha``/``beta`` weighting the two error kinds)."""

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha, beta=beta, axis=axis)
        self.alpha, self.beta, self.axis = alpha, beta, axis

    def get_config(self):
        return {**Loss.get_config(self), "alpha": self.alpha, "beta": self.beta, "axis": self.axis}


class CTC(LossFunctionWrapper):
    """Connectionist temporal classification loss: ``y_true`` (batch, max_label_length) integer labels
    padded with 0 (the blank), ``y_pred`` (batch, steps, classes) logits."""

    _int_targets = True

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return ctc(y_true, y_pred)

    def check_targets(self, y_true, y_pred_shape=None):
        arr = _targets(self.name, y_true)
        if arr.ndim != 2 or not _is_integer_valued(arr) or (arr.size and arr.min() < 0):
            raise ValueError(f"{self.name} expects integer labels of shape (batch, max_label_length), padded with 0 "
                             f"(the blank); got targets of shape {_shape_str(arr.shape)}")
        if y_pred_shape is not None:
            _check_batch(self.name, arr, y_pred_shape)

    def get_config(self):
        return Loss.get_config(self)


class Circle(LossFunctionWrapper):
    """Circle loss for metric learning: integer labels, L2-normalized embeddings; ``gamma`` the
    scale, ``margin`` the relaxation; samples with zero loss are masked out of the mean."""

    _int_targets = True

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction="sum_over_batch_size", name="circle",
                 dtype=None):
        super().__init__(circle, name=name, reduction=reduction, dtype=dtype, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)
        self.gamma, self.margin, self.remove_diagonal = gamma, margin, remove_diagonal

    def get_config(self):
        return {**Loss.get_config(self), "gamma": self.gamma, "margin": self.margin,
                "remove_diagonal": self.remove_diagonal}


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized cross-entropy ``(1 - p_true^q) / q`` for integer labels (robust to label noise;
    q -> 0 is the cross-entropy, q = 1 the MAE)."""

    _int_targets = True

    def __init__(self, q=0.5, reduction="sum_over_batch_size", name="categorical_generalized_cross_entropy",
                 dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(categorical_generalized_cross_entropy, name=name, reduction=reduction, dtype=dtype, q=q)
        self.q = q

    def get_config(self):
        return {**Loss.get_config(self), "q": self.q}


# --------------------------------------------------------------------------- "crossentropy" by shapes
def _binary_or_sparse(y_true_shape, y_pred_shape):
    """Keras 3 compile_utils.is_binary_or_sparse_categorical on shapes."""
    yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
    yt_last = yt[-1] if yt else None
    yp_last = yp[-1] if yp else None
    is_binary = yp_last == 1
    is_sparse = len(yt) < len(yp) or (yt_last == 1 and yp_last is not None and yp_last > 1)
    return is_binary, is_sparse


def _resolve_crossentropy(name, y_true, y_pred_shape):
    yt_shape = tuple(_data(y_true).shape) if hasattr(_data(y_true), "shape") else np.shape(y_true)
    is_binary, is_sparse = _binary_or_sparse(yt_shape, y_pred_shape)
    if is_binary:
        return BinaryCrossentropy(name=name)
    if is_sparse:
        return SparseCategoricalCrossentropy(name=name)
    return CategoricalCrossentropy(name=name)


class AutoCrossentropy(Loss):
    """``loss="crossentropy"`` / ``"ce"``: binary, sparse or categorical cross-entropy chosen from the
    target and output shapes on first use (Keras 3 ``compile_utils.get_loss``)."""

    def __init__(self, reduction="sum_over_batch_size", name="crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.resolved = None

    def _resolve(self, y_true, y_pred_shape):
        if self.resolved is None:
            r = _resolve_crossentropy(self.name, y_true, y_pred_shape)
            r.reduction, r._dtype = self.reduction, self._dtype
            self.resolved = r
        return self.resolved

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self._resolve(y_true, tuple(y_pred.shape) if hasattr(y_pred, "shape") else np.shape(y_pred))(
            y_true, y_pred, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        return self._resolve(y_true, tuple(y_pred.shape)).call(y_true, y_pred)

    def check_targets(self, y_true, y_pred_shape=None):
        if y_pred_shape is None:
            return super().check_targets(y_true)
        return self._resolve(y_true, y_pred_shape).check_targets(y_true, y_pred_shape)


# --------------------------------------------------------------------------- registry
_CLASSES = {c.__name__: c for c in (
    Loss, LossFunctionWrapper, CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, Huber, LogCosh, KLDivergence,
    CosineSimilarity, Hinge, SquaredHinge, CategoricalHinge, Poisson, MeanSquaredLogarithmicError,
    BinaryFocalCrossentropy, CategoricalFocalCrossentropy, Dice, Tversky, CTC, Circle,
    CategoricalGeneralizedCrossEntropy)}

_FUNCTIONS = {f.__name__: f for f in (
    categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error,
    mean_absolute_error, mean_absolute_percentage_error, huber, log_cosh, kl_divergence, cosine_similarity, hinge,
    squared_hinge, categorical_hinge, poisson, mean_squared_logarithmic_error, binary_focal_crossentropy,
    categorical_focal_crossentropy, dice, tversky, ctc, circle, categorical_generalized_cross_entropy)}

# name -> (class, Keras function name it stands for)
_BY_NAME = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "huber": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "cosine_similarity": CosineSimilarity,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge, "poisson": Poisson,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError, "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy, "dice": Dice, "tversky": Tversky, "ctc": CTC,
    "circle": Circle, "categorical_generalized_cross_entropy": CategoricalGeneralizedCrossEntropy,
}


export_api("keras.losses", list(_CLASSES.values()) + list(_FUNCTIONS.values()),
           aliases={k: v for k, v in _BY_NAME.items() if k not in _FUNCTIONS})


def known_names():
    """Every string ``get`` accepts (besides registered 'Package>Name' names)."""
    return sorted(set(_BY_NAME) | (set(_CLASSES) - {"Loss", "LossFunctionWrapper"}) | {"crossentropy", "ce"})


def get(identifier, y_true=None, y_pred_shape=None):
    """A Loss from a name ("categorical_crossentropy", "mse", "CategoricalCrossentropy", ...), a config
    dict, a Loss instance or class, or a function ``fn(y_true, y_pred)`` (wrapped). None -> None.

    A function name gives an instance named as the user wrote it (as Keras' compile does).
    "crossentropy"/"ce" resolve from ``y_true`` and ``y_pred_shape`` (now when given, else on first use)."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in ("crossentropy", "ce"):
            if y_true is not None and y_pred_shape is not None:
                return _resolve_crossentropy(identifier, y_true, y_pred_shape)
            return AutoCrossentropy(name=identifier)
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](name=identifier)
        if identifier in _CLASSES and identifier not in ("Loss", "LossFunctionWrapper"):
            return _CLASSES[identifier]()
        custom = get_registered_object(identifier, custom_objects=scoped_custom_objects())
        if custom is None:
            raise ValueError(f"unknown loss {identifier!r}; known losses: {', '.join(known_names())} "
                             "(or a name registered with @core.saving.register_keras_serializable())")
        return get(custom)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"cannot interpret {identifier!r} as a loss: expected a name, a config dict, a Loss or a "
                     f"function fn(y_true, y_pred)")


def serialize(loss):
    """Keras's config dict of a Loss (``{"module", "class_name", "config", "registered_name"}``); a
    built-in loss function serializes to its name, a registered one to its function config."""
    if isinstance(loss, str) or loss is None:
        return loss
    name = getattr(loss, "__name__", None)
    if name in _FUNCTIONS and _FUNCTIONS[name] is loss:
        return name
    if isinstance(loss, Loss) or get_registered_name(loss) in get_custom_objects():
        return serialize_keras_object(loss)
    raise ValueError(f"cannot serialize loss {loss!r}: not a Loss instance, a built-in loss function or a "
                     "function registered with @core.saving.register_keras_serializable()")


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``: a Loss instance (or the built-in function of a name)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"cannot deserialize loss from {config!r}: expected a dict with 'class_name' and 'config'")
    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=_MODULE_OBJECTS,
                                    namespaces=("keras.losses",))


_MODULE_OBJECTS = {**_CLASSES, **_FUNCTIONS}
