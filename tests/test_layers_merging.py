"""Merge layers against Keras 3.15 (tests/fixtures/layers.*): values, broadcasting, masks,
output shapes with None dims, configs, gradients and errors."""
import numpy as np
import pytest

from core.autodiff import Tensor
from core.gradient_check import check_gradients
from core.layers import merging as M
from core.layers.base import KerasTensor, to_snake_case
from tests.fixture_utils import case_params, load_cases

CLASSES = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"]
CASES = case_params("layers", op=CLASSES)


def inputs_of(case, dtype="float32"):
    xs = []
    for i in range(case.params["n_inputs"]):
        t = Tensor(case.arrays[f"x{i}"].astype(dtype))
        if f"mask{i}" in case.arrays:
            t._keras_mask = Tensor(case.arrays[f"mask{i}"])
        xs.append(t)
    return xs


def make(case, dtype="float32"):
    p = case.params
    layer = getattr(M, p["op"])(**p["config"], name=p["layer_name"], dtype=dtype)
    xs = inputs_of(case, dtype)
    return layer, xs, layer(xs)


def _json(v):
    return [_json(a) for a in v] if isinstance(v, (list, tuple)) else v


@pytest.mark.parametrize("case", CASES)
def test_output_and_mask_match_keras(case):
    layer, xs, y = make(case)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-5, atol=1e-6)
    mask = getattr(y, "_keras_mask", None)
    assert (mask is not None) == case.params["out_mask"]
    if mask is not None:
        assert mask.dtype == bool
        np.testing.assert_array_equal(mask.numpy(), case.arrays["y_mask"])
    _, _, y64 = make(case, "float64")
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64.numpy(), case.arrays["y"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_shapes_config_and_symbolic(case):
    p = case.params
    layer, xs, y = make(case)
    assert layer.weights == [] and layer.count_params() == p["count_params"] == 0
    assert layer.compute_output_shape([tuple(x.shape) for x in xs]) == tuple(y.shape)
    for in_shapes, out_shape in p["shapes"]:
        got = layer.compute_output_shape([tuple(s) for s in in_shapes])
        assert isinstance(got, tuple) and list(got) == out_shape, (in_shapes, got, out_shape)
    # Functional API: a fresh layer on KerasTensors gives Keras's symbolic shape (None dims kept)
    for in_shapes, out_shape in p["shapes"]:
        fresh = getattr(M, p["op"])(**p["config"])
        out = fresh([KerasTensor(tuple(s)) for s in in_shapes])
        assert list(out.shape) == out_shape
    cfg = layer.get_config()
    keras_cfg = p["keras_config"]
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


def test_mask_is_logical_or_and_none_when_one_input_has_no_mask():
    a = Tensor(np.ones((2, 3, 1), np.float32))
    b = Tensor(np.ones((2, 3, 1), np.float32))
    a._keras_mask = Tensor(np.array([[1, 0, 0], [1, 1, 0]], bool))
    b._keras_mask = Tensor(np.array([[0, 1, 0], [1, 0, 0]], bool))
    np.testing.assert_array_equal(M.Add()([a, b])._keras_mask.numpy(), [[1, 1, 0], [1, 1, 0]])
    c = Tensor(np.ones((2, 3, 1), np.float32))
    assert getattr(M.Add()([a, c]), "_keras_mask", None) is None
    assert getattr(M.Dot(axes=2)([a, b]), "_keras_mask", None) is None
    # Concatenate: a missing mask counts as all-True
    m = M.Concatenate(axis=1)([a, c])._keras_mask.numpy()
    np.testing.assert_array_equal(m, [[1, 0, 0, 1, 1, 1], [1, 1, 0, 1, 1, 1]])


def test_functional_helpers():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(M.add([a, b]).numpy(), a + b)
    np.testing.assert_array_equal(M.subtract([a, b]).numpy(), a - b)
    np.testing.assert_array_equal(M.multiply([a, b, b]).numpy(), a)
    np.testing.assert_array_equal(M.average([a, b]).numpy(), (a + b) / 2)
    np.testing.assert_array_equal(M.maximum([a, b]).numpy(), np.maximum(a, b))
    np.testing.assert_array_equal(M.minimum([a, b]).numpy(), np.minimum(a, b))
    np.testing.assert_array_equal(M.concatenate([a, b], axis=0).numpy(), np.concatenate([a, b], 0))
    np.testing.assert_allclose(M.dot([a, b], axes=1).numpy(), (a * b).sum(1, keepdims=True))


def test_dot_normalize_zero_vector_is_finite():
    a = np.zeros((1, 3), np.float32)
    b = np.ones((1, 3), np.float32)
    y = M.Dot(axes=1, normalize=True)([a, b])
    assert np.all(np.isfinite(y.numpy())) and y.numpy()[0, 0] == 0


# ----------------------------------------------------------------------------- gradients
def _check(layer, shapes, masks=None, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]

    def fn(*ts):
        ts = list(ts)
        for t, m in zip(ts, masks or [None] * len(ts)):
            if m is not None:
                t._keras_mask = Tensor(m)
        return layer(ts)

    check_gradients(fn, arrays)


M_A = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
M_B = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)


@pytest.mark.parametrize("make_layer,shapes,masks", [
    (lambda: M.Add(dtype="float64"), [(2, 4, 3), (2, 3)], None),
    (lambda: M.Add(dtype="float64"), [(2, 4, 3), (2, 1, 3), (2, 4, 3)], None),
    (lambda: M.Subtract(dtype="float64"), [(2, 3), (2, 3)], None),
    (lambda: M.Multiply(dtype="float64"), [(2, 3), (2, 3), (2, 3)], None),
    (lambda: M.Multiply(dtype="float64"), [(2, 4, 3), (2, 4, 3)], [M_A, M_B]),
    (lambda: M.Average(dtype="float64"), [(2, 3), (2, 3)], None),
    (lambda: M.Maximum(dtype="float64"), [(2, 5), (2, 5), (2, 5)], None),
    (lambda: M.Maximum(dtype="float64"), [(2, 4, 3), (2, 4, 3)], [M_A, M_B]),
    (lambda: M.Minimum(dtype="float64"), [(2, 4, 3), (2, 4, 3)], [M_A, None]),
    (lambda: M.Concatenate(axis=1, dtype="float64"), [(2, 2, 3), (2, 4, 3)], None),
    (lambda: M.Dot(axes=(1, 2), dtype="float64"), [(2, 4, 3), (2, 5, 4)], None),
    (lambda: M.Dot(axes=1, normalize=True, dtype="float64"), [(2, 4, 3), (2, 4, 2)], None),
    (lambda: M.Dot(axes=(1, 2), dtype="float64"), [(2, 4), (2, 3, 4)], None),
], ids=["add_rank", "add_broadcast", "subtract", "multiply", "multiply_masked", "average", "maximum",
        "maximum_masked", "minimum_mask_first", "concat", "dot_axes", "dot_normalize", "dot_2d_3d"])
def test_gradients(make_layer, shapes, masks):
    _check(make_layer(), shapes, masks)


# ----------------------------------------------------------------------------- errors
def test_incompatible_shapes():
    with pytest.raises(ValueError, match=r"Inputs have incompatible shapes. Received shapes \(3,\) and \(4,\)"):
        M.Add()([KerasTensor((None, 3)), KerasTensor((None, 4))])
    with pytest.raises(ValueError, match=r"incompatible shapes.*\(3,\) and \(4,\)"):
        M.Add()([np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match="different batch sizes"):
        M.Maximum()([np.zeros((2, 3), np.float32), np.zeros((3, 3), np.float32)])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        M.Subtract()([np.zeros((2, 3), np.float32)] * 3)
    with pytest.raises(ValueError, match=r"matching shapes except for the concatenation axis.*\(None, 4, 3\)"):
        M.Concatenate(axis=1)([KerasTensor((None, 2, 3)), KerasTensor((None, 4, 3)), KerasTensor((None, 4, 2))])
    with pytest.raises(ValueError, match="matching shapes"):
        M.Concatenate()([np.zeros((2, 3), np.float32), np.zeros((2, 3, 1), np.float32)])
    with pytest.raises(ValueError, match=r"axis values 3 \(at axis 2\) != 4 \(at axis 2\)"):
        M.Dot(axes=2)([KerasTensor((None, 5, 3)), KerasTensor((None, 5, 4))])
    with pytest.raises(ValueError, match="list of 2 inputs"):
        M.Dot(axes=1)([np.zeros((2, 3), np.float32)] * 3)


def test_non_list_and_bad_arguments():
    with pytest.raises(ValueError, match="list of inputs"):
        M.Add()(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="list of inputs"):
        M.Concatenate().compute_output_shape((None, 3))
    with pytest.raises(TypeError, match="axes"):
        M.Dot(axes="last")
    with pytest.raises(ValueError, match="two elements"):
        M.Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="batch"):
        M.Dot(axes=0)([np.zeros((2, 3), np.float32)] * 2)


def test_symbolic_mask_flags():
    a, b = KerasTensor((None, 4, 3), has_mask=True), KerasTensor((None, 4, 3), has_mask=True)
    c = KerasTensor((None, 4, 3))
    assert M.Add()([a, b])._has_mask and not M.Add()([a, c])._has_mask
    assert M.Concatenate()([a, c])._has_mask and not M.Concatenate()([c, c])._has_mask
    assert not M.Dot(axes=2)([a, b])._has_mask


def test_residual_functional_model_matches_manual_composition():
    from core.layers.core_layers import Input
    from core.models.functional import Functional

    inp = Input((5, 4))
    d1 = M.Add()
    cat = M.Concatenate(axis=1)
    h = d1([inp, inp])
    out = cat([h, inp])
    model = Functional(inp, out)
    x = np.random.default_rng(2).standard_normal((3, 5, 4)).astype(np.float32)
    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, np.concatenate([2 * x, x], axis=1), rtol=1e-6)
    assert y.shape == (3, 10, 4) and out.shape == (None, 10, 4)
