"""The catalogue metrics of issue 22 against Keras 3.15 (tests/fixtures/catalog_metrics.*, made by
make_catalog_metric_fixtures.py): results after each update_state, configs, names, the metric
functions keras.metrics exposes; plus reset, get/serialize and error messages."""
import re
import warnings

import numpy as np
import pytest

from core import metrics
from tests.fixture_utils import case_params, load_cases

METRICS = case_params("catalog_metrics", op=None)
METRIC_CASES = [c for c in METRICS if c.values[0] is None or c.values[0].params["kind"] == "metric"]
FUNCTION_CASES = [c for c in METRICS if c.values[0] is None or c.values[0].params["kind"] == "function"]


def _make(case):
    return getattr(metrics, case.params["op"])(**case.params["config"])


def _update(m, case, i):
    a = case.arrays
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IoU's float-weight warning, checked below
        m.update_state(a[f"y_true{i}"], a[f"y_pred{i}"], sample_weight=a.get(f"sw{i}"))


@pytest.mark.parametrize("case", METRIC_CASES)
def test_results_match_keras(case):
    m = _make(case)
    for i in range(case.params["batches"]):
        _update(m, case, i)
        np.testing.assert_allclose(m.result(), case.arrays[f"result{i}"], rtol=2e-5, atol=2e-6, err_msg=f"batch {i}")


@pytest.mark.parametrize("case", METRIC_CASES)
def test_config_matches_keras_and_round_trips(case):
    m = _make(case)
    cfg = m.get_config()
    keras_cfg = case.params["keras_config"]
    assert set(cfg) == set(keras_cfg)
    for k, v in keras_cfg.items():
        if k == "name" and "name" not in case.params["config"]:
            continue  # Keras numbers the default names of repeated instances
        got = list(cfg[k]) if isinstance(cfg[k], tuple) else cfg[k]
        assert got == v, k
    clone = metrics.deserialize(metrics.serialize(m))
    assert type(clone) is type(m) and clone.get_config() == cfg
    _update(m, case, 0)
    _update(clone, case, 0)
    np.testing.assert_array_equal(np.asarray(clone.result()), np.asarray(m.result()))
    m.reset_state()
    _update(m, case, 0)
    np.testing.assert_allclose(m.result(), case.arrays["result0"], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", FUNCTION_CASES)
def test_functions_match_keras(case):
    fn = getattr(metrics, case.params["fn"])
    got = fn(case.arrays["y_true"], case.arrays["y_pred"], **case.params["fn_kwargs"])
    np.testing.assert_allclose(got, case.arrays["value"], rtol=2e-5, atol=2e-6)
    assert metrics.serialize(fn) == case.params["fn"]


def test_default_names_match_keras():
    names = {c.params["op"]: c.params["keras_config"]["name"] for c in load_cases("catalog_metrics")
             if c.params["kind"] == "metric" and "name" not in c.params["config"]}
    if not names:
        pytest.skip("catalog metric fixtures missing")
    for cls, name in names.items():
        args = {"IoU": (3, [0]), "MeanIoU": (3,), "OneHotIoU": (3, [0]), "OneHotMeanIoU": (3,),
                "PrecisionAtRecall": (0.5,), "RecallAtPrecision": (0.5,), "SensitivityAtSpecificity": (0.5,),
                "SpecificityAtSensitivity": (0.5,)}.get(cls, ())
        assert getattr(metrics, cls)(*args).name == re.sub(r"_\d+$", "", name), cls  # Keras numbers repeats


def test_iou_float_weights_truncate_with_warning_as_keras():
    m = metrics.MeanIoU(num_classes=2)
    with pytest.warns(UserWarning, match="weight as `float`"):
        m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    assert m.result() == 0.0
    m = metrics.MeanIoU(num_classes=2, dtype="float32")
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    np.testing.assert_allclose(m.result(), 0.23809524, rtol=1e-6)


def test_get_by_name_and_errors():
    assert isinstance(metrics.get("hinge"), metrics.Hinge)
    assert isinstance(metrics.get("msle"), metrics.MeanSquaredLogarithmicError)
    assert isinstance(metrics.get("r2_score"), metrics.R2Score)
    with pytest.raises(ValueError, match=r"'mean_io_u' needs arguments \(num_classes\)"):
        metrics.get("mean_io_u")
    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="median")
    with pytest.raises(ValueError, match="2D inputs"):
        metrics.R2Score().update_state(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"out of range"):
        metrics.IoU(2, [0, 2])
    with pytest.raises(ValueError, match=r"`recall` must be in the range"):
        metrics.PrecisionAtRecall(1.5)


def test_new_metrics_in_fit():
    from core import layers as L
    from core.models import Sequential

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = Sequential([L.Input((4,)), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_focal_crossentropy",
                  metrics=[metrics.BinaryIoU(), metrics.PrecisionAtRecall(0.5), "hinge", metrics.R2Score()])
    hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for k in ("binary_io_u", "precision_at_recall", "hinge", "r2_score"):
        assert k in hist.history and np.all(np.isfinite(hist.history[k])), k
