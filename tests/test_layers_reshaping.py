"""ZeroPadding / Cropping / UpSampling layers against Keras 3.15 (tests/fixtures/layers.*)."""
import numpy as np
import pytest

from core.gradient_check import check_gradients
from core.layers import reshaping as R
from core.layers.base import KerasTensor, to_snake_case
from tests.fixture_utils import case_params, load_cases

CLASSES = ["ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D"]
CASES = case_params("layers", op=CLASSES)


def make(case, dtype="float32"):
    p = case.params
    layer = getattr(R, p["op"])(**p["config"], name=p["layer_name"], dtype=dtype)
    x = case.arrays["x"].astype(dtype)
    return layer, x, layer(x)


def _json(v):
    return [_json(a) for a in v] if isinstance(v, (list, tuple)) else v


@pytest.mark.parametrize("case", CASES)
def test_output_matches_keras(case):
    layer, x, y = make(case)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-5, atol=1e-6)
    _, _, y64 = make(case, "float64")
    # TensorFlow's bilinear resize computes in float32 even for float64 images
    tol = 1e-6 if case.params["config"].get("interpolation") == "bilinear" else 1e-12
    np.testing.assert_allclose(y64.numpy(), case.arrays["y"], rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES)
def test_shapes_weights_and_config(case):
    p = case.params
    layer, x, y = make(case)
    assert layer.weights == [] and layer.count_params() == p["count_params"] == 0
    assert layer.compute_output_shape(x.shape) == tuple(y.shape)
    for in_shape, out_shape in p["shapes"]:
        got = layer.compute_output_shape(tuple(in_shape))
        assert isinstance(got, tuple) and list(got) == out_shape, (in_shape, got, out_shape)
    sym = KerasTensor(tuple(p["shapes"][-1][0]))
    assert list(layer(sym).shape) == p["shapes"][-1][1]
    cfg = layer.get_config()
    keras_cfg = p["keras_config"]
    assert set(cfg) - {"dtype"} == set(keras_cfg)
    for k, v in keras_cfg.items():
        if k != "name":
            assert _json(cfg[k]) == v, k
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    np.testing.assert_array_equal(clone(x).numpy(), y.numpy())


def test_default_names_match_keras():
    (names,) = load_cases("layers", op="names") or [None]
    if names is None:
        pytest.skip("layer fixtures missing")
    for cls in CLASSES:
        assert to_snake_case(cls) == names.params["names"][cls]


def test_padding_and_cropping_forms():
    assert R.ZeroPadding2D(2).padding == ((2, 2), (2, 2))
    assert R.ZeroPadding2D((1, 3)).padding == ((1, 1), (3, 3))
    assert R.ZeroPadding2D(((1, 0), (2, 3))).padding == ((1, 0), (2, 3))
    assert R.Cropping2D((1, 2)).cropping == ((1, 1), (2, 2))
    assert R.ZeroPadding1D(3).padding == (3, 3)
    assert R.Cropping1D(2).cropping == (2, 2)
    x = np.arange(2 * 5 * 6 * 1, dtype=np.float32).reshape(2, 5, 6, 1)
    y = R.Cropping2D(((1, 2), (0, 3)))(x).numpy()
    np.testing.assert_array_equal(y, x[:, 1:3, 0:3])
    z = R.ZeroPadding2D(((1, 0), (2, 1)))(x).numpy()
    assert z.shape == (2, 6, 9, 1) and z[:, 0].sum() == 0 and z[:, :, :2].sum() == 0 and z[:, :, -1].sum() == 0
    np.testing.assert_array_equal(z[:, 1:, 2:-1], x)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("layer,shape", [
    (lambda: R.ZeroPadding2D(((1, 2), (0, 1)), dtype="float64"), (2, 2, 3, 2)),
    (lambda: R.Cropping2D(((1, 0), (1, 2)), dtype="float64"), (2, 4, 5, 2)),
    (lambda: R.UpSampling2D((2, 3), dtype="float64"), (1, 2, 2, 2)),
    (lambda: R.UpSampling2D(2, interpolation="bilinear", dtype="float64"), (2, 3, 2, 2)),
    (lambda: R.ZeroPadding1D((2, 1), dtype="float64"), (2, 3, 2)),
    (lambda: R.Cropping1D((1, 2), dtype="float64"), (2, 5, 2)),
    (lambda: R.UpSampling1D(3, dtype="float64"), (2, 3, 2)),
], ids=["zeropad2d", "cropping2d", "upsampling2d_nearest", "upsampling2d_bilinear", "zeropad1d", "cropping1d",
        "upsampling1d"])
def test_gradients(layer, shape):
    layer = layer()
    x = np.random.default_rng(5).standard_normal(shape)
    check_gradients(lambda t: layer(t), [x])


# ----------------------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(ValueError, match=r"expected ndim=4.*found ndim=3.*\(2, 3, 4\)"):
        R.ZeroPadding2D()(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=3.*found ndim=4"):
        R.UpSampling1D()(np.zeros((2, 3, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=4.*found ndim=2"):
        R.Cropping2D(1).compute_output_shape((None, 4))
    with pytest.raises(ValueError, match=r"smaller than the corresponding spatial dimension.*\(1, 3, 6, 1\)"):
        R.Cropping2D(((1, 2), (0, 0)))(np.zeros((1, 3, 6, 1), np.float32))
    with pytest.raises(ValueError, match="smaller than the input length"):
        R.Cropping1D((2, 2))(np.zeros((1, 4, 1), np.float32))
    with pytest.raises(ValueError, match="bicubic.*not supported.*nearest.*bilinear"):
        R.UpSampling2D(interpolation="bicubic")
    for make_layer in [lambda: R.ZeroPadding2D(data_format="channels_first"),
                       lambda: R.Cropping2D(data_format="channels_first"),
                       lambda: R.UpSampling2D(data_format="channels_first"),
                       lambda: R.ZeroPadding1D(data_format="channels_first")]:
        with pytest.raises(ValueError, match="channels_first.*not supported"):
            make_layer()
    with pytest.raises(ValueError, match="negative"):
        R.Cropping2D(-1)
    with pytest.raises(ValueError, match="padding"):
        R.ZeroPadding2D(((1, -1), (0, 0)))
    with pytest.raises(ValueError, match="two elements"):
        R.ZeroPadding2D((1, 2, 3))
    with pytest.raises(TypeError, match="integer"):
        R.UpSampling1D(2.0)
    with pytest.raises(ValueError, match="size"):
        R.UpSampling2D((2, 0))
