"""Stateful metrics with the Keras 3 API: ``update_state(y_true, y_pred, sample_weight=None)``,
``result()`` (a Python float; a NumPy array for per-threshold / per-class results), ``reset_state()``.

Metrics are plain array math on NumPy or CuPy (no autodiff); their state lives on the device of
the data they are fed and is kept in the metric's dtype (float32), as Keras' metric variables.
The algorithms follow Keras 3 exactly: ``Mean``'s sample-weight reduction
(``reduce_to_samplewise_values``), the accuracy functions (TensorFlow ``in_top_k`` tie rule),
the thresholded confusion-matrix update (bucketed for evenly spaced thresholds, as AUC) and
AUC's ROC / PR (Davis-Goadrich interpolation) / PRGAIN summations.

One module per family, as Keras lays them out: ``metric`` (base, state), ``reduction_metrics``,
``accuracy_metrics``, ``regression_metrics``, ``probabilistic_metrics``, ``confusion_metrics``,
``f_score_metrics``, ``hinge_metrics``, ``iou_metrics``, ``correlation_metrics``; ``metrics_utils``
holds the shared array helpers.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..autodiff import Tensor
from ..object_registration import export_api, get_registered_object, scoped_custom_objects
from ..serialization_lib import deserialize_keras_object, serialize_keras_object
from .metrics_utils import (EPSILON, NEG_INF, _apply_mask, _arr, _divide_no_nan, _mask_of, _result, _same_device,
                            _shape_str, _snake, squeeze_or_expand_to_same_rank, update_confusion_matrix_variables)
from .metric import Metric, Variable
from .reduction_metrics import _FUNCTIONS, Mean, MeanMetricWrapper, Sum, reduce_to_samplewise_values
from .accuracy_metrics import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                               SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy, binary_accuracy,
                               categorical_accuracy, in_top_k, sparse_categorical_accuracy,
                               sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from .regression_metrics import (CosineSimilarity, LogCoshError, MeanAbsoluteError, MeanAbsolutePercentageError,
                                 MeanSquaredError, MeanSquaredLogarithmicError, R2Score, RootMeanSquaredError,
                                 cosine_similarity, huber, log_cosh, mean_absolute_error,
                                 mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error)
from .probabilistic_metrics import (BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson,
                                    SparseCategoricalCrossentropy, binary_crossentropy, binary_focal_crossentropy,
                                    categorical_crossentropy, categorical_focal_crossentropy, kl_divergence, poisson,
                                    sparse_categorical_crossentropy)
from .confusion_metrics import (AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
                                RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives,
                                TruePositives)
from .f_score_metrics import F1Score, FBetaScore
from .hinge_metrics import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from .iou_metrics import IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from .correlation_metrics import (ConcordanceCorrelation, PearsonCorrelation, concordance_correlation,
                                  pearson_correlation)

__all__ = [
    "Metric", "Variable", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision", "Recall",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "AUC", "F1Score", "FBetaScore",
    "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsolutePercentageError",
    "CosineSimilarity", "LogCoshError", "KLDivergence", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "Hinge", "SquaredHinge", "CategoricalHinge", "Poisson",
    "MeanSquaredLogarithmicError", "R2Score", "IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU",
    "PearsonCorrelation", "ConcordanceCorrelation", "PrecisionAtRecall", "RecallAtPrecision",
    "SensitivityAtSpecificity", "SpecificityAtSensitivity", "hinge", "squared_hinge", "categorical_hinge", "poisson",
    "mean_squared_logarithmic_error", "huber", "binary_focal_crossentropy", "categorical_focal_crossentropy",
    "pearson_correlation", "concordance_correlation", "get", "serialize", "deserialize",
]


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

    @property
    def variables(self):
        """The resolved metric's state (none before it resolves)."""
        return [] if self.resolved is None else self.resolved.variables

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
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, Hinge, SquaredHinge, CategoricalHinge,
    Poisson, MeanSquaredLogarithmicError, R2Score, IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU,
    PearsonCorrelation, ConcordanceCorrelation, PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity,
    SpecificityAtSensitivity)}

_FUNCTIONS.update({f.__name__: f for f in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy, mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    log_cosh, cosine_similarity, kl_divergence, binary_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy, hinge, squared_hinge, categorical_hinge, poisson, mean_squared_logarithmic_error,
    huber, binary_focal_crossentropy, categorical_focal_crossentropy, pearson_correlation, concordance_correlation)})

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
                 "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                 "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})
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
        try:
            m = cls()
        except TypeError:
            required = [n for n, q in inspect.signature(cls).parameters.items()
                        if q.default is inspect.Parameter.empty and q.kind is q.POSITIONAL_OR_KEYWORD]
            raise ValueError(f"metric {identifier!r} needs arguments ({', '.join(required)}): pass an instance, "
                             f"e.g. metrics=[core.metrics.{cls.__name__}(...)]") from None
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
