"""Array helpers shared by the metrics (Keras' ``metrics_utils``): conversions, Keras' rank rule,
masks, and the thresholded confusion-matrix update."""
from __future__ import annotations

import re

import numpy as np

from .. import backend
from ..autodiff import Tensor, no_grad
from ..backend import get_xp, is_array, to_device, to_numpy

EPSILON = 1e-7  # keras.config.epsilon()
NEG_INF = -1e10


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


def _array_fn(fn):
    fn._array_fn = True
    return fn


def _fixed_config(metric, *keys):
    return {"name": metric.name, "dtype": metric.dtype, **{k: getattr(metric, k) for k in keys}}


def _floatx():
    return np.dtype(backend.floatx())


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


def loss_metric_fn(fn, name=None):
    """A metric function (arrays in, per-sample array out) from a ``core.losses`` function:
    y_pred as float, y_true cast to its dtype, the loss evaluated without gradients."""
    def metric_fn(y_true, y_pred, **kwargs):
        y_pred = _arr(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(_floatx())
        y_true = _same_device(_arr(y_true, y_pred.dtype), y_pred)
        with no_grad():
            return fn(Tensor(y_true), Tensor(y_pred), **kwargs).data

    metric_fn.__name__ = name or fn.__name__
    metric_fn.__doc__ = fn.__doc__
    return _array_fn(metric_fn)
