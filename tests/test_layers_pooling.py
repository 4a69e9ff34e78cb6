"""Pooling layers against Keras 3.15 (tests/fixtures/layers.*, make_layer_fixtures.py)."""
import numpy as np
import pytest

from core.autodiff import Tensor
from core.gradient_check import check_gradients
from core.layers import pooling as P
from core.layers.base import KerasTensor, to_snake_case
from tests.fixture_utils import case_params, load_cases

CLASSES = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"]
CASES = case_params("layers", op=CLASSES)


def make(case, dtype="float32"):
    p = case.params
    layer = getattr(P, p["op"])(**p["config"], name=p["layer_name"], dtype=dtype)
    x = case.arrays["x"].astype(dtype)
    y = layer(x, mask=case.arrays["mask"]) if "mask" in case.arrays else layer(x)
    return layer, x, y


def _json(v):
    return [_json(a) for a in v] if isinstance(v, (list, tuple)) else v


@pytest.mark.parametrize("case", CASES)
def test_output_matches_keras(case):
    layer, x, y = make(case)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-5, atol=1e-6)
    layer64, _, y64 = make(case, "float64")
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64.numpy(), case.arrays["y"], rtol=1e-10, atol=1e-12)
    assert getattr(y, "_keras_mask", None) is None  # pooling never outputs a mask


@pytest.mark.parametrize("case", CASES)
def test_no_weights_built_at_init_and_shapes(case):
    p = case.params
    layer = getattr(P, p["op"])(**p["config"])
    assert layer.built and layer.weights == [] and layer.count_params() == p["count_params"] == 0
    layer, x, y = make(case)
    assert layer.compute_output_shape(x.shape) == tuple(y.shape)
    for in_shape, out_shape in p["shapes"]:
        got = layer.compute_output_shape(tuple(in_shape))
        assert isinstance(got, tuple) and list(got) == out_shape, (in_shape, got, out_shape)
    sym = KerasTensor(tuple(p["shapes"][-1][0]))
    assert list(layer(sym).shape) == p["shapes"][-1][1]


@pytest.mark.parametrize("case", CASES)
def test_config_round_trip_and_keras_keys(case):
    layer, x, y = make(case)
    cfg = layer.get_config()
    keras_cfg = case.params["keras_config"]
    assert set(cfg) - {"dtype"} == set(keras_cfg)
    for k, v in keras_cfg.items():
        if k != "name":
            assert _json(cfg[k]) == v, k
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg


def test_default_names_match_keras():
    (names,) = load_cases("layers", op="names") or [None]
    if names is None:
        pytest.skip("layer fixtures missing")
    for cls in CLASSES:
        assert to_snake_case(cls) == names.params["names"][cls]


def test_global_average_pooling1d_mask_from_input_and_explicit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    want = np.stack([x[i][mask[i]].mean(axis=0) for i in range(3)])
    layer = P.GlobalAveragePooling1D()
    assert layer.supports_masking
    np.testing.assert_allclose(layer(x, mask=mask).numpy(), want, rtol=1e-6)
    xt = Tensor(x)
    xt._keras_mask = Tensor(mask)  # a mask carried by the input (Embedding(mask_zero=True), Masking)
    y = layer(xt)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-6)
    assert getattr(y, "_keras_mask", None) is None
    np.testing.assert_allclose(P.GlobalAveragePooling1D(keepdims=True)(x, mask=mask).numpy(), want[:, None],
                               rtol=1e-6)
    # masked-out steps do not matter, even when they hold inf
    x2 = x.copy()
    x2[0, 4] = np.inf
    np.testing.assert_allclose(layer(x2, mask=mask).numpy(), want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, steps\) = \(3, 5\)"):
        layer(x, mask=mask[:, :4])


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("layer,shape", [
    (lambda: P.MaxPooling2D(3, strides=2, padding="same", dtype="float64"), (2, 5, 5, 2)),
    (lambda: P.AveragePooling2D(3, strides=2, padding="same", dtype="float64"), (2, 5, 4, 2)),
    (lambda: P.MaxPooling1D(2, dtype="float64"), (2, 6, 2)),
    (lambda: P.AveragePooling1D(3, strides=1, padding="same", dtype="float64"), (2, 5, 2)),
    (lambda: P.GlobalMaxPooling2D(dtype="float64"), (2, 3, 3, 2)),
    (lambda: P.GlobalAveragePooling2D(keepdims=True, dtype="float64"), (2, 3, 3, 2)),
    (lambda: P.GlobalMaxPooling1D(dtype="float64"), (2, 4, 3)),
], ids=["max2d_same_s2", "avg2d_same_s2", "max1d", "avg1d_same", "gmp2d", "gap2d_keepdims", "gmp1d"])
def test_gradients(layer, shape):
    layer = layer()
    x = np.random.default_rng(3).standard_normal(shape)
    check_gradients(lambda t: layer(t), [x])


def test_gradient_global_average_pooling1d_masked():
    layer = P.GlobalAveragePooling1D(dtype="float64")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    x = np.random.default_rng(4).standard_normal((2, 4, 3))
    check_gradients(lambda t: layer(t, mask=mask), [x])
    xt = Tensor(x, requires_grad=True)
    layer(xt, mask=mask).sum().backward()
    assert np.all(xt.grad[~mask] == 0)  # masked steps get no gradient


# ----------------------------------------------------------------------------- errors
def test_wrong_input_rank():
    with pytest.raises(ValueError, match=r"max_pooling2d.*expected ndim=4.*found ndim=3.*\(2, 5, 3\)"):
        P.MaxPooling2D(name="max_pooling2d_x")(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=3.*found ndim=4"):
        P.AveragePooling1D(2)(np.zeros((2, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=3.*found ndim=2"):
        P.GlobalAveragePooling1D()(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=4"):
        P.GlobalMaxPooling2D().compute_output_shape((None, 4, 3))


def test_argument_errors():
    for make_layer in [lambda: P.MaxPooling2D(data_format="channels_first"),
                       lambda: P.AveragePooling1D(2, data_format="channels_first"),
                       lambda: P.GlobalAveragePooling2D(data_format="channels_first"),
                       lambda: P.GlobalMaxPooling1D(data_format="channels_first")]:
        with pytest.raises(ValueError, match="channels_first.*not supported"):
            make_layer()
    with pytest.raises(ValueError, match="padding"):
        P.MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        P.MaxPooling2D(pool_size=(2, 0))
    with pytest.raises(ValueError, match="zero or negative"):
        P.MaxPooling2D(4)(np.zeros((1, 3, 8, 1), np.float32))
    with pytest.raises(TypeError):
        P.AveragePooling2D()  # pool_size is required, as in Keras
