"""Convolution layers against Keras 3.15 (tests/fixtures/layers.*, make_layer_fixtures.py):
outputs, weight order/paths/shapes, count_params, compute_output_shape, configs, gradients, errors."""
import numpy as np
import pytest

from core import Parameter, ops
from core.autodiff import Tensor
from core.gradient_check import check_gradients
from core.layers import convolutional as C
from core.layers.base import KerasTensor, to_snake_case
from tests.fixture_utils import case_params, load_cases

CLASSES = ["Conv1D", "Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose"]
CASES = case_params("layers", op=CLASSES)
WEIGHT_ATTRS = {"SeparableConv2D": ["depthwise_kernel", "pointwise_kernel", "bias"]}


def make(case, dtype="float32"):
    """The layer of a fixture case, built, with the fixture's weights; returns (layer, x, y)."""
    p = case.params
    layer = getattr(C, p["op"])(**p["config"], name=p["layer_name"], dtype=dtype)
    x = case.arrays["x"].astype(dtype)
    layer(x)
    layer.set_weights([case.arrays[f"w{i}"].astype(dtype) for i in range(len(p["paths"]))])
    return layer, x, layer(x)


def _json(v):
    if isinstance(v, (list, tuple)):
        return [_json(a) for a in v]
    return v


@pytest.mark.parametrize("case", CASES)
def test_output_matches_keras_float32(case):
    layer, x, y = make(case)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_output_matches_keras_float64(case):
    layer, x, y = make(case, "float64")
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_weights_order_paths_shapes_and_count(case):
    p = case.params
    layer, x, y = make(case)
    assert [w.path for w in layer.weights] == p["paths"]
    assert [list(w.shape) for w in layer.weights] == p["weight_shapes"]
    assert [w.name for w in layer.weights] == [q.split("/")[-1] for q in p["paths"]]
    assert all(isinstance(w, Parameter) and w.trainable for w in layer.weights)
    assert layer.trainable_weights == layer.weights
    assert layer.count_params() == p["count_params"]
    for got, want in zip(layer.get_weights(), [case.arrays[f"w{i}"] for i in range(len(p["paths"]))]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", CASES)
def test_compute_output_shape(case):
    layer, x, y = make(case)
    assert layer.compute_output_shape(x.shape) == tuple(y.shape)
    for in_shape, out_shape in case.params["shapes"]:
        got = layer.compute_output_shape(tuple(in_shape))
        assert isinstance(got, tuple) and list(got) == out_shape, (in_shape, got, out_shape)
    # symbolic call (Functional API) uses compute_output_shape, None dims kept
    sym = KerasTensor(tuple(case.params["shapes"][-1][0]))
    assert list(layer(sym).shape) == case.params["shapes"][-1][1]


@pytest.mark.parametrize("case", CASES)
def test_config_round_trip_and_keras_keys(case):
    layer, x, y = make(case)
    cfg = layer.get_config()
    keras_cfg = case.params["keras_config"]
    assert set(cfg) - {"dtype"} == set(keras_cfg)
    for k, v in keras_cfg.items():
        if k == "name" or isinstance(v, dict):
            continue
        assert _json(cfg[k]) == v, k
    for k in [k for k, v in keras_cfg.items() if isinstance(v, dict)]:  # initializers
        assert cfg[k]["class_name"] == keras_cfg[k]["class_name"]
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), y.numpy())


def test_default_names_match_keras():
    (names,) = load_cases("layers", op="names") or [None]
    if names is None:
        pytest.skip("layer fixtures missing")
    for cls in CLASSES:
        assert to_snake_case(cls) == names.params["names"][cls]


# ----------------------------------------------------------------------------- gradients
def _grad_check(layer, x, attrs):
    """check_gradients w.r.t. the input and every weight: the weights are swapped for the
    checker's Tensors during the call."""
    weights = [getattr(layer, a) for a in attrs]

    def fn(xt, *ws):
        old = [getattr(layer, a) for a in attrs]
        for a, w in zip(attrs, ws):
            object.__setattr__(layer, a, w)
        try:
            return layer(xt)
        finally:
            for a, w in zip(attrs, old):
                object.__setattr__(layer, a, w)

    check_gradients(fn, [x] + [w.numpy() for w in weights])


@pytest.mark.parametrize("layer,x_shape,attrs", [
    (lambda: C.Conv2D(3, 3, strides=2, padding="same", activation="tanh", dtype="float64"), (2, 5, 4, 2),
     ["kernel", "bias"]),
    (lambda: C.Conv2D(4, 2, groups=2, dilation_rate=2, dtype="float64"), (1, 5, 5, 4), ["kernel", "bias"]),
    (lambda: C.Conv1D(2, 3, padding="causal", dilation_rate=2, dtype="float64"), (2, 6, 3), ["kernel", "bias"]),
    (lambda: C.SeparableConv2D(3, 3, padding="same", depth_multiplier=2, dtype="float64"), (1, 4, 4, 2),
     ["depthwise_kernel", "pointwise_kernel", "bias"]),
    (lambda: C.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", dtype="float64"), (2, 5, 5, 2),
     ["kernel", "bias"]),
    (lambda: C.Conv2DTranspose(2, 3, strides=2, padding="same", dtype="float64"), (1, 3, 3, 2),
     ["kernel", "bias"]),
    (lambda: C.Conv2DTranspose(2, 3, strides=2, output_padding=1, dtype="float64"), (1, 2, 3, 2), ["kernel", "bias"]),
], ids=["conv2d_s2_same_tanh", "conv2d_groups_dil", "conv1d_causal", "separable", "depthwise_m2",
        "conv2dT_s2_same", "conv2dT_outpad"])
def test_gradients(layer, x_shape, attrs):
    rng = np.random.default_rng(0)
    layer = layer()
    x = rng.standard_normal(x_shape)
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    _grad_check(layer, x, attrs)


def test_float32_training_step_keeps_dtype_and_fills_grads():
    layer = C.Conv2D(3, 3, padding="same")
    x = Tensor(np.random.default_rng(1).standard_normal((2, 5, 5, 2)).astype(np.float32))
    loss = ops.sum(ops.square(layer(x)))
    loss.backward()
    for w in layer.weights:
        assert w.dtype == np.float32 and w.grad is not None and w.grad.dtype == np.float32
        assert np.abs(w.grad).sum() > 0


def test_regularizers_and_constraints():
    layer = C.Conv2D(2, 3, kernel_regularizer="l2", bias_regularizer="l1", activity_regularizer="l2",
                     kernel_constraint="max_norm")
    x = np.ones((1, 4, 4, 2), np.float32)
    y = layer(x)
    k, b = layer.kernel.numpy(), layer.bias.numpy()
    losses = [float(v.numpy()) for v in layer.losses]
    assert len(losses) == 3  # Keras's order: add_loss (activity) losses, then the weight regularizers
    assert np.isclose(losses[1], 0.01 * (k.astype(np.float64) ** 2).sum(), rtol=1e-5)
    assert np.isclose(losses[2], 0.01 * np.abs(b).sum(), rtol=1e-5, atol=1e-7)
    assert np.isclose(losses[0], 0.01 * (y.numpy().astype(np.float64) ** 2).sum(), rtol=1e-5)
    assert layer.kernel.constraint is not None
    assert layer.get_config()["kernel_constraint"]["class_name"] == "MaxNorm"


# ----------------------------------------------------------------------------- errors
def test_wrong_input_rank():
    with pytest.raises(ValueError, match=r"expected ndim=4.*found ndim=3.*\(2, 5, 3\)"):
        C.Conv2D(2, 3)(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=3.*found ndim=4"):
        C.Conv1D(2, 3)(np.zeros((2, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected ndim=4"):
        C.Conv2DTranspose(2, 3).compute_output_shape((None, 5, 3))


def test_channel_mismatch_after_build():
    layer = C.Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"3.*\(1, 5, 5, 4\)"):
        layer(np.zeros((1, 5, 5, 4), np.float32))
    dw = C.DepthwiseConv2D(3)
    dw.build((None, 5, 5, 2))  # built directly (no call): the layer's own check still fires
    with pytest.raises(ValueError, match=r"expected axis -1 of the input to have value 2.*\(1, 5, 5, 3\)"):
        dw.call(Tensor(np.zeros((1, 5, 5, 3), np.float32)))


def test_unknown_channels_refused():
    with pytest.raises(ValueError, match="channel dimension"):
        C.Conv2D(2, 3).build((None, 5, 5, None))


@pytest.mark.parametrize("make_layer", [
    lambda: C.Conv2D(2, 3, data_format="channels_first"),
    lambda: C.Conv1D(2, 3, data_format="channels_first"),
    lambda: C.SeparableConv2D(2, 3, data_format="channels_first"),
    lambda: C.DepthwiseConv2D(3, data_format="channels_first"),
    lambda: C.Conv2DTranspose(2, 3, data_format="channels_first"),
])
def test_channels_first_refused(make_layer):
    with pytest.raises(ValueError, match="channels_first.*not supported"):
        make_layer()


def test_argument_validation():
    with pytest.raises(ValueError, match="padding"):
        C.Conv2D(2, 3, padding="causal")
    C.Conv1D(2, 3, padding="CAUSAL")  # case-insensitive, causal allowed in 1-d
    with pytest.raises(ValueError, match="filters"):
        C.Conv2D(0, 3)
    with pytest.raises(ValueError, match="groups=2, filters=3"):
        C.Conv2D(3, 3, groups=2)
    with pytest.raises(ValueError, match="input has 3 channels"):
        C.Conv2D(4, 3, groups=2).build((None, 5, 5, 3))
    with pytest.raises(ValueError, match="dilation_rate > 1"):
        C.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size"):
        C.Conv2D(2, (3, 0))
    with pytest.raises(ValueError, match="output_padding"):
        C.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="depth_multiplier"):
        C.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="zero or negative"):
        C.Conv2D(2, 5).build((None, 3, 8, 1))
    with pytest.raises(TypeError, match="unexpected keyword"):
        C.Conv2D(2, 3, lora_rank=4)
