"""The catalogue layers of issue 22 against Keras 3.15 (tests/fixtures/catalog_layers*.*, made by
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

ALL = case_params("catalog_layers") + case_params("catalog_layers2")
CASES = [c for c in ALL if c.values[0] is None or ("n_inputs" not in c.values[0].params
                                                   and c.values[0].params["op"] != "RNN"
                                                   and "recurrent_dropout_case" not in c.values[0].params)]
# (RNN and the recurrent_dropout cases have their own test files)
MULTI = [c for c in ALL if c.values[0] is None or "n_inputs" in c.values[0].params]


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


def _tol64(case):
    """float64 tolerances; float32 ones where Keras could only run in float32 (TF's 3-d pooling)."""
    if case.params.get("keras_dtype", "float64") == "float32":
        return dict(rtol=1e-5, atol=1e-6)
    return dict(rtol=1e-10, atol=1e-12)


def _gtol64(case):
    if case.params.get("keras_dtype", "float64") == "float32":
        return dict(rtol=1e-5, atol=1e-6)
    return dict(rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("case", CASES)
def test_output_and_mask_match_keras_float64(case):
    layer, x = make(case, "float64")
    y = layer(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], **_tol64(case))
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
    np.testing.assert_allclose(xt.grad, case.arrays["gx"], **_gtol64(case))
    assert len(layer.trainable_weights) == sum(k.startswith("g") and k[1:].isdigit() for k in case.arrays)
    for i, w in enumerate(layer.trainable_weights):
        np.testing.assert_allclose(w.grad, case.arrays[f"g{i}"], err_msg=w.path, **_gtol64(case))


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


def _fd_params():
    out = []
    for c in CASES:
        case = c.values[0]
        if case is not None and case.params["op"] == "Masking":
            continue
        slow = case is not None and case.params["op"].startswith("ConvLSTM")  # seconds each: weights x steps
        out.append(pytest.param(case, id=c.id, marks=pytest.mark.slow) if slow else c)
    return out


@pytest.mark.parametrize("case", _fd_params())
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


# ----------------------------------------------------------------------------- layers on a list of inputs
def make_multi(case, dtype="float32"):
    p = case.params
    layer = getattr(L, p["op"])(**p["config"], name=p["layer_name"], dtype=dtype)
    xs = [case.arrays[f"x{i}"].astype(dtype) for i in range(p["n_inputs"])]
    masks = [case.arrays.get(f"mask{i}") for i in range(p["n_inputs"])]
    kw = dict(p["call_kwargs"])
    if any(m is not None for m in masks):
        kw["mask"] = masks
    layer(xs, **kw)
    layer.set_weights([case.arrays[f"w{i}"].astype(dtype) for i in range(len(p["paths"]))])
    return layer, xs, kw


def _outs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("case", MULTI)
@pytest.mark.parametrize("dtype,tol", [("float32", dict(rtol=1e-5, atol=2e-6)),
                                       ("float64", dict(rtol=1e-10, atol=1e-12))])
def test_multi_outputs_and_mask_match_keras(case, dtype, tol):
    layer, xs, kw = make_multi(case, dtype)
    outs = _outs(layer(xs, **kw))
    assert len(outs) == case.params["n_outputs"]
    for i, o in enumerate(outs):
        assert o.dtype == np.dtype(dtype)
        np.testing.assert_allclose(o.numpy(), case.arrays["y" if i == 0 else f"y{i}"], **tol)
    mask = getattr(outs[0], "_keras_mask", None)
    assert (mask is not None) == case.params["out_mask"]
    if mask is not None:
        np.testing.assert_array_equal(np.asarray(getattr(mask, "data", mask)), case.arrays["y_mask"])


@pytest.mark.parametrize("case", MULTI)
def test_multi_training_step_gradients_match_keras(case):
    layer, xs, kw = make_multi(case, "float64")
    ts = [Tensor(x, requires_grad=True) for x in xs]
    outs = _outs(layer(ts, training=True, **kw))
    loss = None
    for i, o in enumerate(outs):
        term = (o * Tensor(case.arrays["r" if i == 0 else f"r{i}"].astype(np.float64))).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    for i, t in enumerate(ts):
        g = np.zeros_like(xs[i]) if t.grad is None else t.grad
        np.testing.assert_allclose(g, case.arrays[f"gx{i}"], rtol=1e-9, atol=1e-11, err_msg=f"input {i}")
    for i, w in enumerate(layer.trainable_weights):
        np.testing.assert_allclose(w.grad, case.arrays[f"g{i}"], rtol=1e-9, atol=1e-11, err_msg=w.path)


@pytest.mark.parametrize("case", MULTI)
def test_multi_weights_shapes_config(case):
    p = case.params
    layer, xs, kw = make_multi(case)
    assert [w.path for w in layer.weights] == p["paths"]
    assert [list(w.shape) for w in layer.weights] == p["weight_shapes"]
    assert layer.count_params() == p["count_params"]
    (in_shapes, out_shape), = p["shapes"]
    assert list(layer.compute_output_shape([tuple(s) for s in in_shapes])) == out_shape
    sym = [KerasTensor(tuple(s)) for s in in_shapes]
    assert list(_outs(layer(sym, **{k: v for k, v in kw.items() if k != "mask"}))[0].shape) == out_shape
    cfg = layer.get_config()
    keras_cfg = p["keras_config"]
    assert set(cfg) - {"dtype"} == set(keras_cfg) - {"dtype"}
    for k, v in keras_cfg.items():
        if k not in ("name", "dtype"):
            assert _json(cfg[k]) == v, k
    clone = type(layer).from_config(cfg)
    clone(xs, **kw)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(_outs(clone(xs, **kw))[0].numpy(), _outs(layer(xs, **kw))[0].numpy())


@pytest.mark.parametrize("case", MULTI)
def test_multi_finite_difference_gradients(case):
    layer, xs, kw = make_multi(case, "float64")
    n = len(xs)
    names = [a for a in ("scale", "concat_score_weight") if getattr(layer, a, None) is not None]

    def fn(*args):
        old = [getattr(layer, a) for a in names]
        for a, w in zip(names, args[n:]):
            object.__setattr__(layer, a, w)
        try:
            return tuple(_outs(layer(list(args[:n]), **kw)))
        finally:
            for a, w in zip(names, old):
                object.__setattr__(layer, a, w)

    check_gradients(fn, xs + [getattr(layer, a).numpy() for a in names])


def test_attention_dropout_in_training_only_and_seeded():
    q = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    v = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    a, b = L.Attention(dropout=0.5, seed=3), L.Attention(dropout=0.5, seed=3)
    np.testing.assert_array_equal(a([q, v]).numpy(), L.Attention()([q, v]).numpy())
    _, wa = a([q, v], training=True, return_attention_scores=True)
    _, wb = b([q, v], training=True, return_attention_scores=True)
    np.testing.assert_array_equal(wa.numpy(), wb.numpy())
    assert ((wa.numpy() == 0).mean() > 0.2) and set(np.unique(wa.numpy() > 0)) == {False, True}


def test_attention_errors():
    with pytest.raises(ValueError, match="score_mode"):
        L.Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"list of inputs"):
        L.Attention()(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"length 2 or 3"):
        L.Attention()([np.zeros((1, 2, 3), np.float32)])


@pytest.mark.parametrize("case", CASES)
def test_keras_written_config_rebuilds(case):
    """The config Keras wrote (less dtype) deserializes through the registry to the same layer."""
    cfg = dict(case.params["keras_config"])
    layer = L.deserialize({"module": "keras.layers", "class_name": case.params["op"], "config": cfg,
                           "registered_name": None})
    assert type(layer).__name__ == case.params["op"]
    x = case.arrays["x"]
    layer(x)
    layer.set_weights([case.arrays[f"w{i}"] for i in range(len(case.params["paths"]))])
    np.testing.assert_allclose(layer(x).numpy(), case.arrays["y"], rtol=1e-5, atol=2e-6)
