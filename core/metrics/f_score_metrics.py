"""F-scores: ``FBetaScore`` and ``F1Score``."""
from __future__ import annotations

from ..backend import get_xp
from .metric import Metric
from .metrics_utils import EPSILON, _arr, _result, _same_device, _shape_str


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
