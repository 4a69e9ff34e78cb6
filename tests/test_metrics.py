"""core.metrics: every metric vs Keras 3 fixtures (one update, two updates, reset, sample weights),
statefulness, names/configs, get() and the shape-based "accuracy" resolution."""
import json
import os

import numpy as np
import pytest

from core import losses, metrics, ops
from core.autodiff import Tensor
from tests.fixture_utils import FIXTURE_DIR

MODELS_DIR = os.path.join(FIXTURE_DIR, "models")


def _load(path):
    if not os.path.exists(path + ".json"):
        pytest.skip(f"fixture {path} not found")
    with open(path + ".json") as f:
        meta = json.load(f)
    with np.load(path + ".npz") as z:
        return meta, {k: z[k] for k in z.files}


def _cases(path, key="cases"):
    if not os.path.exists(path + ".json"):
        return [pytest.param(None, marks=pytest.mark.skip(reason="fixture missing"))]
    with open(path + ".json") as f:
        meta = json.load(f)
    return [pytest.param(c, id=c["name"]) for c in meta[key]]


# --------------------------------------------------------------------------- tests/fixtures/models/metrics
BASE = os.path.join(MODELS_DIR, "metrics")


def _base_data(A):
    return {"bin": (A["bin/y_true"], A["bin/y_pred"]), "onehot": (A["multi/y_true_onehot"], A["multi/y_pred"]),
            "sparse": (A["multi/y_true_int"], A["multi/y_pred"]), "reg": (A["reg/y_true"], A["reg/y_pred"])}


@pytest.mark.parametrize("case", _cases(BASE))
def test_metric_matches_keras(case):
    _, A = _load(BASE)
    yt, yp = _base_data(A)[case["data"]]
    cls = getattr(metrics, case["class_name"])
    m = cls(**case["kwargs"])
    assert m.name == case["metric_name"]
    assert m.get_config() == case["config"]
    assert m.result() == 0.0
    m.update_state(yt, yp)
    v = m.result()
    assert isinstance(v, float)
    np.testing.assert_allclose(v, A[f"{case['name']}/value"], rtol=1e-6, atol=1e-7)
    m2 = cls(**case["kwargs"])
    h = case["split"]
    m2.update_state(yt[:h], yp[:h])
    np.testing.assert_allclose(m2.result(), A[f"{case['name']}/value_first_half"], rtol=1e-6, atol=1e-7)
    m2.update_state(Tensor(yt[h:]), Tensor(yp[h:]))  # Tensors are accepted too
    np.testing.assert_allclose(m2.result(), A[f"{case['name']}/value_two_updates"], rtol=1e-6, atol=1e-7)
    m2.reset_state()
    assert m2.result() == case["value_after_reset_state"]
    m2.update_state(yt[:h], yp[:h])  # fresh after reset
    np.testing.assert_allclose(m2.result(), A[f"{case['name']}/value_first_half"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", _cases(BASE, "accuracy_resolution"))
def test_accuracy_resolution_matches_keras_compile(case):
    _, A = _load(BASE)
    yt = np.zeros(case["y_true_shape"], np.float32)
    y_pred_shape = (None,) + tuple(case["y_pred_shape"][1:])
    loss = losses.get(case["loss"])
    for ident in ("accuracy", "acc"):
        m = metrics.get(ident, loss=loss, y_true=yt, y_pred_shape=y_pred_shape)
        assert type(m).__name__ == case["resolves_to"]
        assert m.name == ident  # the user's string stays the log name
    # without shapes: resolved on the first update, to the same class
    lazy = metrics.get("accuracy")
    rng = np.random.default_rng(0)
    lazy.update_state(yt, rng.random((case["y_true_shape"][0],) + y_pred_shape[1:]).astype(np.float32))
    assert type(lazy.resolved).__name__ == case["resolves_to"]


# --------------------------------------------------------------------------- tests/fixtures/metric_classes
EXTRA = os.path.join(FIXTURE_DIR, "metric_classes")


@pytest.mark.parametrize("case", [c for c in _cases(EXTRA) if c.values[0] is None or
                                  c.values[0]["params"]["class_name"] != "Mean"])
def test_extra_metrics_match_keras(case):
    _, A = _load(EXTRA)
    p = case["params"]
    yt, yp = A[f"data/{p['data']}/y_true"], A[f"data/{p['data']}/y_pred"]
    sw = A["data/sample_weight"]
    cls = getattr(metrics, p["class_name"])
    m = cls(**p["kwargs"])
    m.update_state(yt, yp)
    np.testing.assert_allclose(m.result(), A[f"{case['name']}/value"], rtol=2e-6, atol=2e-7)
    m = cls(**p["kwargs"])
    h = len(yt) // 2
    m.update_state(yt[:h], yp[:h], sample_weight=sw[:h])
    m.update_state(yt[h:], yp[h:], sample_weight=Tensor(sw[h:]))
    np.testing.assert_allclose(m.result(), A[f"{case['name']}/weighted_two_updates"], rtol=2e-6, atol=2e-7)
    # Keras uniquifies default names across a session (precision_1, auc_3, ...); we do not
    cfg, ref = m.get_config(), dict(p["config"])
    assert ref.pop("name").startswith(cfg.pop("name"))
    assert cfg == ref
    back = cls.from_config(m.get_config())
    assert back.get_config() == m.get_config()


def test_mean_and_sum_weight_reduction_match_keras():
    meta, A = _load(EXTRA)
    vals, w = A["reduction_metrics/values"], A["reduction_metrics/weights"]
    m = metrics.Mean()
    m.update_state(vals, sample_weight=w)
    np.testing.assert_allclose(m.result(), A["reduction_metrics/mean_w2d"], rtol=1e-6)
    m = metrics.Mean()
    m.update_state(vals, sample_weight=w[:, 0])
    np.testing.assert_allclose(m.result(), A["reduction_metrics/mean_w1d"], rtol=1e-6)
    m = metrics.Mean()
    m.update_state(vals[:, 0], sample_weight=2.0)
    m.update_state(vals[:, 1])
    np.testing.assert_allclose(m.result(), A["reduction_metrics/mean_scalar_then_none"], rtol=1e-6)
    s = metrics.Sum()
    s.update_state(vals, sample_weight=w)
    np.testing.assert_allclose(s.result(), A["reduction_metrics/sum_w2d"], rtol=1e-6)


# --------------------------------------------------------------------------- behaviour by hand
def test_mean_running_loss():
    m = metrics.Mean(name="loss")
    m.update_state(Tensor(np.float32(2.0)))
    m.update_state(4.0)
    assert m.result() == pytest.approx(3.0)
    m.update_state(np.float32(10.0), sample_weight=2.0)  # weight = number of samples in the batch
    assert m.result() == pytest.approx((2 + 4 + 20) / 4)
    assert m.total.dtype == np.float32 and m.count.value.dtype == np.float32
    m.reset_state()
    assert m.result() == 0.0 and float(m.count) == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mean_of_weighted_scalars_matches_the_general_path(dtype):
    # the training loop's loss tracker adds one 0-d value and its 0-d weight per step (a fast
    # path): the same running total and count, bit for bit, as the same values as 1-element arrays
    rng = np.random.default_rng(0)
    fast, general = metrics.Mean(dtype=dtype), metrics.Mean(dtype=dtype)
    for v, w in zip(rng.random(50) * 3, rng.integers(1, 129, 50)):
        fast.update_state(np.asarray(float(v)), sample_weight=np.asarray(float(w)))
        general.update_state(np.asarray([float(v)]), sample_weight=np.asarray([float(w)]))
        assert fast.total.value == general.total.value and fast.count.value == general.count.value
    assert np.asarray(fast.total.value).dtype == np.asarray(fast.count.value).dtype == np.dtype(dtype)
    assert fast.result() == general.result()
    fast.update_state(np.asarray(float("nan")), sample_weight=np.asarray(1.0))
    assert np.isnan(fast.result())


def test_mean_with_mask_on_values():
    v = Tensor(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    v._keras_mask = Tensor(np.array([True, False, True, True]))
    m = metrics.Mean()
    m.update_state(v, sample_weight=np.ones(4, np.float32))
    assert m.result() == pytest.approx((1 + 3 + 4) / 3)


def test_mean_metric_wrapper_with_mask_on_y_pred():
    yt = np.array([[1.0], [0.0], [1.0]], np.float32)
    yp = Tensor(np.array([[0.9], [0.8], [0.2]], np.float32))
    yp._keras_mask = Tensor(np.array([True, False, True]))
    m = metrics.BinaryAccuracy()
    m.update_state(yt, yp)
    assert m.result() == pytest.approx(0.5)


def test_two_updates_equal_one_update():
    rng = np.random.default_rng(3)
    y = (rng.random((50, 3)) < 0.4).astype(np.float32)
    p = rng.random((50, 3)).astype(np.float32)
    w = rng.random(50).astype(np.float32)
    for make in (lambda: metrics.AUC(multi_label=True), lambda: metrics.Precision(thresholds=[0.2, 0.7]),
                 lambda: metrics.F1Score(average="weighted", threshold=0.5), metrics.RootMeanSquaredError,
                 lambda: metrics.Recall(top_k=1), metrics.BinaryAccuracy):
        a, b = make(), make()
        a.update_state(y, p, sample_weight=w)
        b.update_state(y[:17], p[:17], sample_weight=w[:17])
        b.update_state(y[17:], p[17:], sample_weight=w[17:])
        np.testing.assert_allclose(a.result(), b.result(), rtol=1e-5, atol=1e-6)


def test_array_results_and_call():
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    p = np.array([[0.9], [0.6], [0.4], [0.1]], np.float32)
    pr = metrics.Precision(thresholds=[0.3, 0.5, 0.95])
    r = pr(y, p)  # __call__ updates and returns the result
    assert isinstance(r, np.ndarray) and r.shape == (3,)
    np.testing.assert_allclose(r, [2 / 3, 1 / 2, 0.0])
    f1 = metrics.F1Score()  # Keras default average=None: one score per class
    onehot = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    scores = f1(onehot, np.array([[.8, .1, .1], [.2, .7, .1], [.5, .3, .2], [.1, .8, .1]], np.float32))
    assert scores.shape == (3,)
    np.testing.assert_allclose(scores, [2 / 3, 1.0, 0.0], atol=1e-6)


def test_top_k_ties_count_as_in():
    y = np.array([0, 1, 3])
    p = np.array([[0.3, 0.3, 0.3, 0.1], [0.25, 0.25, 0.25, 0.25], [0.4, 0.3, 0.2, 0.1]], np.float32)
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(y, p, k=1), [1, 1, 0])
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(np.eye(4)[y], p, k=1), [1, 1, 0])
    # out-of-range labels are never in the top k
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(np.array([7]), p[:1], k=4), [0])


def test_binary_accuracy_shapes_and_sample_weight():
    m = metrics.BinaryAccuracy()
    m.update_state(np.array([1, 0, 1, 1]), np.array([[0.8], [0.3], [0.2], [0.6]], np.float32),
                   sample_weight=np.array([1.0, 1.0, 2.0, 0.0], np.float32))
    assert m.result() == pytest.approx(2 / 4)


def test_user_function_metric_gets_tensors():
    seen = []

    def max_err(y_true, y_pred):
        seen.append(type(y_pred))
        return ops.max(ops.abs(y_pred - y_true), axis=-1)

    m = metrics.get(max_err)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "max_err"
    m.update_state(np.array([[1.0, 2.0], [0.0, 0.0]], np.float32), np.array([[1.5, 2.0], [0.0, -3.0]], np.float32))
    assert seen == [Tensor]
    assert m.result() == pytest.approx((0.5 + 3.0) / 2)
    lm = metrics.get(losses.Huber())  # a Loss instance as a metric
    assert lm.name == "huber_loss"
    lm.update_state(np.zeros((2, 1), np.float32), np.array([[0.5], [3.0]], np.float32))
    assert lm.result() == pytest.approx((0.125 + 2.5) / 2)


# --------------------------------------------------------------------------- get / names
@pytest.mark.parametrize("name, cls", [
    ("binary_accuracy", metrics.BinaryAccuracy), ("categorical_accuracy", metrics.CategoricalAccuracy),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
    ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
    ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
    ("precision", metrics.Precision), ("recall", metrics.Recall), ("auc", metrics.AUC), ("AUC", metrics.AUC),
    ("f1_score", metrics.F1Score), ("mae", metrics.MeanAbsoluteError), ("mse", metrics.MeanSquaredError),
    ("mean_absolute_error", metrics.MeanAbsoluteError), ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ("mape", metrics.MeanAbsolutePercentageError), ("binary_crossentropy", metrics.BinaryCrossentropy),
    ("categorical_crossentropy", metrics.CategoricalCrossentropy), ("kl_divergence", metrics.KLDivergence),
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalCrossentropy), ("true_positives",
                                                                                 metrics.TruePositives),
    ("MeanSquaredError", metrics.MeanSquaredError),
])
def test_get_by_name_keeps_the_users_name(name, cls):
    m = metrics.get(name)
    assert type(m) is cls and m.name == name


def test_default_names_match_keras():
    assert [c().name for c in (metrics.Precision, metrics.AUC, metrics.LogCoshError, metrics.F1Score,
                               metrics.FBetaScore, metrics.Mean, metrics.RootMeanSquaredError)] == [
        "precision", "auc", "logcosh", "f1_score", "fbeta_score", "mean", "root_mean_squared_error"]


def test_get_other_identifiers_and_errors():
    inst = metrics.AUC(curve="PR")
    assert metrics.get(inst) is inst
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    back = metrics.get(metrics.serialize(metrics.AUC(curve="PR", num_thresholds=50, name="pr_auc")))
    assert isinstance(back, metrics.AUC) and back.curve == "PR" and back.num_thresholds == 50
    assert back.name == "pr_auc"
    with pytest.raises(ValueError) as e:
        metrics.get("accuracyy")
    assert "'accuracyy'" in str(e.value) and "accuracy," in str(e.value) and "auc" in str(e.value)
    with pytest.raises(ValueError, match="cannot interpret"):
        metrics.get(12)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match=r"threshold values must be in \[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])


def test_crossentropy_metric_resolution_and_from_logits():
    m = metrics.get("crossentropy", loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                    y_true=np.zeros(4), y_pred_shape=(None, 3))
    assert isinstance(m, metrics.SparseCategoricalCrossentropy) and m.from_logits and m.name == "crossentropy"
    m = metrics.get("ce", y_true=np.zeros((4, 1)), y_pred_shape=(None, 1))
    assert isinstance(m, metrics.BinaryCrossentropy) and m.name == "ce"
    m = metrics.get("crossentropy", y_true=np.zeros((4, 3)), y_pred_shape=(None, 3))
    assert isinstance(m, metrics.CategoricalCrossentropy)


def test_accuracy_resolution_ignores_the_loss_like_keras3():
    # binary_crossentropy on a 4-unit multi-hot output: Keras 3 picks CategoricalAccuracy (by shapes)
    m = metrics.get("accuracy", loss=losses.get("binary_crossentropy"), y_true=np.zeros((8, 4)),
                    y_pred_shape=(None, 4))
    assert isinstance(m, metrics.CategoricalAccuracy)
    m = metrics.get("accuracy", loss=losses.get("mse"), y_true=np.zeros((8, 1)), y_pred_shape=(None, 1))
    assert isinstance(m, metrics.BinaryAccuracy)
    m = metrics.get("acc", y_true=np.zeros((8, 5)), y_pred_shape=(None, 5, 3))
    assert isinstance(m, metrics.SparseCategoricalAccuracy)


def test_custom_subclass_keras_style():
    class Positives(metrics.Metric):
        def __init__(self, name="positives", **kw):
            super().__init__(name=name, **kw)
            self.n = self.add_variable(shape=(), initializer="zeros", name="n")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n.assign_add((np.asarray(y_pred) > 0.5).sum())

        def result(self):
            return float(self.n)

    m = Positives()
    m.update_state(None, np.array([0.2, 0.7, 0.9]))
    m.update_state(None, np.array([0.6]))
    assert m.result() == 3.0
    m.reset_state()
    assert m.result() == 0.0
    assert m.get_config() == {"name": "positives", "dtype": "float32"}
