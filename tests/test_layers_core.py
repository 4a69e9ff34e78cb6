"""Core layers, initializers, regularizers and constraints: output shapes (call and
compute_output_shape agree), config round trips, behaviour, Keras names, errors."""
import json

import numpy as np
import pytest

from core import Tensor, constraints, initializers, regularizers
from core import layers as L
from core.models import Model, Sequential
from core.models.serialization import deserialize_layer, serialize_layer

rng = np.random.default_rng(0)


CASES = [
    (lambda: L.Dense(5, activation="tanh"), (3, 4)),
    (lambda: L.Dense(2, use_bias=False), (2, 3, 4)),
    (lambda: L.Activation("sigmoid"), (2, 3)),
    (lambda: L.Flatten(), (2, 3, 4, 5)),
    (lambda: L.Reshape((6, 2)), (2, 3, 4)),
    (lambda: L.Reshape((-1, 3)), (2, 3, 4)),
    (lambda: L.Permute((2, 1)), (2, 3, 4)),
    (lambda: L.RepeatVector(3), (2, 5)),
    (lambda: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2), (2, 7)),
    (lambda: L.LeakyReLU(), (2, 7)),
    (lambda: L.ELU(0.5), (2, 7)),
    (lambda: L.Softmax(axis=1), (2, 3, 4)),
    (lambda: L.Identity(), (2, 3)),
]


@pytest.mark.parametrize("make,shape", CASES)
def test_shapes_and_config_round_trip(make, shape):
    layer = make()
    x = rng.standard_normal(shape).astype("float32")
    y = layer(x)
    assert tuple(layer.compute_output_shape((None,) + shape[1:]))[1:] == y.shape[1:]
    assert y.dtype == np.float32
    cfg = json.loads(json.dumps(serialize_layer(layer)))
    clone = deserialize_layer(cfg)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).data, y.data, rtol=1e-6)
    assert clone.get_config() == layer.get_config()


def test_dense_matches_numpy_and_names_weights_as_keras():
    L.clear_session()
    d = L.Dense(3, activation="relu", kernel_initializer="he_normal", bias_initializer="ones")
    x = rng.standard_normal((4, 5)).astype("float32")
    y = d(x).data
    k, b = d.get_weights()
    np.testing.assert_allclose(y, np.maximum(x @ k + b, 0), rtol=1e-6)
    assert [w.path for w in d.weights] == ["dense/kernel", "dense/bias"]
    assert L.Dense(1).name == "dense_1" and L.BatchNormalization().name == "batch_normalization"


def test_values_of_relu_variants_and_permute_repeat():
    x = np.array([[-2.0, -0.5, 0.1, 0.3, 2.0]], np.float32)
    y = L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)(x).data
    np.testing.assert_allclose(y, [[-0.22, -0.07, -0.01, 0.3, 1.0]], rtol=1e-6)
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(L.Permute((2, 1))(a).data, a.transpose(0, 2, 1).astype("float32"))
    np.testing.assert_array_equal(L.RepeatVector(2)(a[:, 0]).data, np.repeat(a[:, None, 0], 2, 1).astype("float32"))


def test_lambda_runs_and_is_refused_on_load_in_safe_mode():
    lam = L.Lambda(lambda t: t * 2)
    assert np.allclose(lam(np.ones(3)).data, 2)
    cfg = serialize_layer(L.Lambda(np.abs))
    with pytest.raises(ValueError, match="refusing to load a Lambda layer"):
        deserialize_layer(cfg)
    restored = deserialize_layer(cfg, custom_objects={"absolute": np.abs}, safe_mode=False)
    assert isinstance(restored, L.Lambda)


def test_input_and_functional_config_round_trip():
    inp = L.Input((4,), name="features")
    h = L.Dense(3, activation="relu")(inp)
    out = L.Add()([L.Dense(2)(h), L.Dense(2)(h)])
    m = Model(inp, out)
    clone = deserialize_layer(json.loads(json.dumps(serialize_layer(m))))
    clone.set_weights(m.get_weights())
    x = rng.standard_normal((5, 4)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    assert [l.name for l in clone.layers] == [l.name for l in m.layers]


def test_sequential_config_round_trip_and_pop():
    m = Sequential([L.Dense(4, input_shape=(3,)), L.Dropout(0.2), L.Dense(1)])
    clone = deserialize_layer(json.loads(json.dumps(serialize_layer(m))))
    assert [type(l).__name__ for l in clone.layers] == ["Dense", "Dropout", "Dense"]
    assert clone.count_params() == m.count_params()
    m.pop()
    assert len(m.layers) == 2


def test_layer_errors():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        L.Dense(0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        L.Dense(3, unitz=4)
    d = L.Dense(2)
    d(np.ones((1, 3)))
    with pytest.raises(ValueError, match="expected last dimension 3"):
        d(np.ones((1, 4)))
    with pytest.raises(ValueError, match="set_weights expected 2 arrays"):
        d.set_weights([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"has shape \(3, 2\), got an array of shape \(2, 2\)"):
        d.set_weights([np.ones((2, 2)), np.ones(2)])
    with pytest.raises(ValueError, match="unknown activation"):
        L.Dense(2, activation="relux")
    with pytest.raises(ValueError, match="not built yet"):
        L.Dense(2).count_params()


def test_user_layer_gets_automatic_gradients():
    class Poly(L.Layer):
        def build(self, input_shape):
            self.a = self.add_weight((), "ones", name="a")

        def call(self, x):
            return self.a * x * x

    layer = Poly()
    x = Tensor(np.array([1.0, 2.0], np.float32))
    layer(x).sum().backward()
    assert float(layer.a.grad) == pytest.approx(5.0)
    assert layer.built and layer.count_params() == 1


@pytest.mark.parametrize("name,check", [
    ("zeros", lambda w: np.all(w == 0)),
    ("ones", lambda w: np.all(w == 1)),
    ("glorot_uniform", lambda w: np.abs(w).max() <= np.sqrt(6 / (200 + 300))),
    ("he_uniform", lambda w: np.abs(w).max() <= np.sqrt(6 / 200)),
    ("he_normal", lambda w: abs(w.std() - np.sqrt(2 / 200)) < 0.01 and np.abs(w).max() <= 2 * np.sqrt(2 / 200) / 0.8796 + 1e-6),
    ("glorot_normal", lambda w: abs(w.std() - np.sqrt(2 / 500)) < 0.005),
    ("lecun_normal", lambda w: abs(w.std() - np.sqrt(1 / 200)) < 0.005),
    ("random_normal", lambda w: abs(w.std() - 0.05) < 0.003),
    ("random_uniform", lambda w: np.abs(w).max() <= 0.05),
    ("truncated_normal", lambda w: np.abs(w).max() <= 0.1 + 1e-6),
    ("orthogonal", lambda w: np.allclose(w.T @ w, np.eye(300), atol=1e-4) if w.shape[0] >= w.shape[1] else np.allclose(w @ w.T, np.eye(200), atol=1e-4)),
])
def test_initializers(name, check):
    w = initializers.get(name)((200, 300), dtype="float32")
    assert w.dtype == np.float32 and w.shape == (200, 300) and check(w)


def test_conv_kernel_fans_and_seeded_initializers():
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)
    a = initializers.get({"class_name": "GlorotUniform", "config": {"seed": 3}})((4, 4))
    b = initializers.GlorotUniform(seed=3)((4, 4))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        initializers.get("glorot")


def test_regularizers_and_constraints():
    w = Tensor(np.array([[1.0, -2.0], [3.0, 0.5]], np.float32))
    assert float(regularizers.get("l2")(w).data) == pytest.approx(0.01 * 14.25)
    assert float(regularizers.L1L2(l1=0.1, l2=0.2)(w).data) == pytest.approx(0.1 * 6.5 + 0.2 * 14.25)
    arr = np.array([[3.0, 0.1], [4.0, 0.1]], np.float32)
    out = constraints.get("max_norm")(arr)
    assert np.linalg.norm(out[:, 0]) == pytest.approx(2.0, rel=1e-5) and np.allclose(out[:, 1], 0.1)
    np.testing.assert_array_equal(constraints.get("non_neg")(np.array([-1.0, 2.0])), [0.0, 2.0])
    with pytest.raises(ValueError, match="unknown regularizer"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="unknown constraint"):
        constraints.get("maxnorm")


@pytest.mark.parametrize("mode, keras_value", [("rows", 0.050731949508190155), ("columns", 0.04730726778507233)])
def test_orthogonal_regularizer_matches_keras_and_its_gradient(mode, keras_value):
    """Keras 3.15.1's OrthogonalRegularizer(0.1, mode) on this matrix gives keras_value (computed in a
    Keras venv); the penalty is differentiable (float64 finite differences)."""
    from core import regularizers
    from core.gradient_check import check_gradients

    w = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    reg = regularizers.get({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.1, "mode": mode}})
    assert float(reg(Tensor(w)).data) == pytest.approx(keras_value, rel=1e-6)
    v = w if mode == "rows" else w.T
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    gram = np.abs(unit @ unit.T - np.diag(np.diag(unit @ unit.T)))
    assert float(reg(Tensor(w)).data) == pytest.approx(0.1 * 0.5 * gram.sum() / (len(v) * (len(v) - 1) / 2), rel=1e-5)
    check_gradients(lambda t: reg(t), [w.astype("float64")])
    with pytest.raises(ValueError, match="rank-2"):
        reg(Tensor(np.ones((2, 2, 2), "float32")))
    assert regularizers.orthogonal_regularizer is regularizers.OrthogonalRegularizer
