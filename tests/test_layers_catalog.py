"""The catalogue layers of issue 22 against Keras 3.15 (tests/fixtures/catalog_layers.*, made by
make_catalog_layer_fixtures.py): outputs in float32 and float64, output masks, weight paths/shapes,
count_params, compute_output_shape, configs, one training step's gradients (input and weights)
and float64 finite-difference gradient checks."""
import numpy as np
import pytest

from core import layers as L
from core.autodiff import Tensor
from core.gradient_check import check_gradients
from core.layers.base import KerasTensor
from tests.fixture_utils import case_params

CASES = case_params("catalog_layers")


def make(case, dtype="float32"):
    """The layer of a fixture case, built, with the fixture's weights; returns (layer, x)."""
    p = case.params
    layer = getattr(L, p["op"])(**p["config"], name=p["layer_name"], dtype=dtype)
    x = case.arrays["x"].astype(dtype)
    layer(x)
    layer.set_weights([case.arrays[f"w{i}"].astype(dtype) for i in range(len(p["paths"]))])
    return layer, x


def _json(v):
    if isinstance(v, (list, tuple)):
        return [_json(a) for a in v]
    return v


@pytest.mark.parametrize("case", CASES)
def test_output_matches_keras_float32(case):
    layer, x = make(case)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES)
def test_output_and_mask_match_keras_float64(case):
    layer, x = make(case, "float64")
    y = layer(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-10, atol=1e-12)
    mask = getattr(y, "_keras_mask", None)
    assert (mask is not None) == case.params["out_mask"]
    if mask is not None:
        np.testing.assert_array_equal(np.asarray(getattr(mask, "data", mask)), case.arrays["y_mask"])


@pytest.mark.parametrize("case", CASES)
def test_training_step_gradients_match_keras(case):
    layer, x = make(case, "float64")
    xt = Tensor(x, requires_grad=True)
    loss = (layer(xt, training=True) * Tensor(case.arrays["r"].astype(np.float64))).sum()
    loss.backward()
    np.testing.assert_allclose(xt.grad, case.arrays["gx"], rtol=1e-9, atol=1e-11)
    assert len(layer.trainable_weights) == sum(k.startswith("g") and k[1:].isdigit() for k in case.arrays)
    for i, w in enumerate(layer.trainable_weights):
        np.testing.assert_allclose(w.grad, case.arrays[f"g{i}"], rtol=1e-9, atol=1e-11, err_msg=w.path)


@pytest.mark.parametrize("case", CASES)
def test_weights_paths_shapes_and_count(case):
    p = case.params
    layer, x = make(case)
    assert [w.path for w in layer.weights] == p["paths"]
    assert [list(w.shape) for w in layer.weights] == p["weight_shapes"]
    assert layer.count_params() == p["count_params"]


@pytest.mark.parametrize("case", CASES)
def test_compute_output_shape(case):
    layer, x = make(case)
    assert tuple(layer.compute_output_shape(x.shape)) == tuple(case.arrays["y"].shape)
    for in_shape, out_shape in case.params["shapes"]:
        got = layer.compute_output_shape(tuple(in_shape))
        assert list(got) == out_shape, (in_shape, got, out_shape)
    sym = KerasTensor(tuple(case.params["shapes"][-1][0]))
    assert list(layer(sym).shape) == case.params["shapes"][-1][1]


@pytest.mark.parametrize("case", CASES)
def test_config_matches_keras_and_round_trips(case):
    layer, x = make(case)
    cfg = layer.get_config()
    keras_cfg = case.params["keras_config"]
    assert set(cfg) - {"dtype"} == set(keras_cfg) - {"dtype"}
    for k, v in keras_cfg.items():
        if k == "name" or isinstance(v, dict):
            continue
        assert _json(cfg[k]) == v, k
    for k in [k for k, v in keras_cfg.items() if isinstance(v, dict) and "class_name" in v]:
        assert cfg[k]["class_name"] == keras_cfg[k]["class_name"], k
    clone = type(layer).from_config(cfg)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0] is None or c.values[0].params["op"] != "Masking"])
def test_finite_difference_gradients(case):
    """(Masking is left out: its fixtures sit exactly on the mask's discontinuity, where a finite
    difference unmasks the step; its gradient is checked against Keras above.)"""
    layer, x = make(case, "float64")
    attrs = [w for w in layer.trainable_weights]
    names = [a for a, v in vars(layer).items() if any(v is w for w in attrs)]
    names.sort(key=lambda a: [id(w) for w in attrs].index(id(getattr(layer, a))))

    def fn(xt, *ws):
        old = [getattr(layer, a) for a in names]
        for a, w in zip(names, ws):
            object.__setattr__(layer, a, w)
        try:
            return layer(xt)
        finally:
            for a, w in zip(names, old):
                object.__setattr__(layer, a, w)

    check_gradients(fn, [x] + [getattr(layer, a).numpy() for a in names])
