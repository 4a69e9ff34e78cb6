"""Confusion-matrix metrics: true/false positive/negative counts, precision, recall and AUC
(ROC / PR with Davis-Goadrich interpolation / PRGAIN)."""
from __future__ import annotations

import numpy as np

from ..backend import get_xp
from ..ops.activations import _stable_sigmoid
from .metric import Metric
from .metrics_utils import (EPSILON, NEG_INF, _arr, _divide_no_nan, _evenly_distributed, _parse_thresholds, _result,
                            _same_device, _shape_str, update_confusion_matrix_variables)


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


class _SensitivitySpecificityBase(Metric):
    """Confusion counts at ``num_thresholds`` evenly spaced thresholds in [0, 1]; the subclasses
    report the best of one rate where another meets ``value``."""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. Received: "
                             f"num_thresholds={num_thresholds}")
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            self.thresholds = [0.0] + [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0]
            self._evenly = True
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), name="true_positives")
        self.false_positives = self.add_variable((n,), name="false_positives")
        self.true_negatives = self.add_variable((n,), name="true_negatives")
        self.false_negatives = self.add_variable((n,), name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {"tp": self.true_positives, "tn": self.true_negatives, "fp": self.false_positives,
             "fn": self.false_negatives}, y_true, y_pred, self.thresholds, class_id=self.class_id,
            sample_weight=sample_weight, thresholds_distributed_evenly=self._evenly)

    def _rates(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        return {"sensitivity": _divide_no_nan(tp, tp + fn), "specificity": _divide_no_nan(tn, tn + fp),
                "precision": _divide_no_nan(tp, tp + fp)}

    def _max_under_constraint(self, constrained, dependent):
        xp = get_xp(dependent)
        ty = dependent.dtype.type
        feasible = constrained >= ty(self.value)
        return _result(xp.maximum(xp.where(feasible, dependent, ty(0)).max(), ty(0)))

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id}


def _check_rate(name, v):
    if v < 0 or v > 1:
        raise ValueError(f"Argument `{name}` must be in the range [0, 1]. Received: {name}={v}")


class SensitivityAtSpecificity(_SensitivitySpecificityBase):
    """The best sensitivity (recall) over the thresholds whose specificity is >= ``specificity``."""

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("specificity", specificity)
        self.specificity, self.num_thresholds = specificity, num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["specificity"], r["sensitivity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "specificity": self.specificity}


class SpecificityAtSensitivity(_SensitivitySpecificityBase):
    """The best specificity over the thresholds whose sensitivity (recall) is >= ``sensitivity``."""

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("sensitivity", sensitivity)
        self.sensitivity, self.num_thresholds = sensitivity, num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["sensitivity"], r["specificity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "sensitivity": self.sensitivity}


class PrecisionAtRecall(_SensitivitySpecificityBase):
    """The best precision over the thresholds whose recall is >= ``recall``."""

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("recall", recall)
        self.recall, self.num_thresholds = recall, num_thresholds
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["sensitivity"], r["precision"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "recall": self.recall}


class RecallAtPrecision(_SensitivitySpecificityBase):
    """The best recall over the thresholds whose precision is >= ``precision``."""

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("precision", precision)
        self.precision, self.num_thresholds = precision, num_thresholds
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._max_under_constraint(r["precision"], r["sensitivity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "precision": self.precision}
