"""``core.activations``: every ``keras.activations`` name, by name and as a function, on Tensors
and on symbolic tensors, with ``get``/``serialize`` round trips and Dense layers built from them."""
import numpy as np
import pytest

from core import Tensor, activations, ops
from core.layers import Dense, Input
from core.models import Functional, Model

KERAS_NAMES = ["celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
               "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
               "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
               "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold"]


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_every_keras_name_resolves_and_serializes(name):
    fn = activations.get(name)
    assert callable(fn) and getattr(activations, name) is not None
    assert activations.get(activations.serialize(fn)) is fn or activations.serialize(fn) in ("silu", "hard_silu")


@pytest.mark.parametrize("name", sorted(set(KERAS_NAMES) - {"threshold", "glu"}))
def test_dense_with_each_activation_round_trips(name):
    x = Input((4,))
    model = Model(x, Dense(4, activation=name)(x))
    data = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    clone = Functional.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(data, verbose=0), model.predict(data, verbose=0))


def test_relu_options_and_symbolic_use():
    x = np.array([-10.0, -5.0, 0.0, 5.0, 10.0], np.float32)
    t = Tensor(x)
    np.testing.assert_array_equal(activations.relu(t).numpy(), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(t, negative_slope=0.5).numpy(), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(t, max_value=5.0).numpy(), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(activations.relu(t, threshold=5.0).numpy(), [0, 0, 0, 0, 10])
    np.testing.assert_array_equal(activations.mish(t).numpy(), x * np.tanh(np.log1p(np.exp(x))))
    sym = Input((5,))
    out = activations.relu(sym, negative_slope=0.1, max_value=3.0)
    assert out.shape == (None, 5)
    model = Model(sym, activations.mish(out))
    want = np.minimum(np.maximum(x, 0), 3.0) - 0.1 * np.maximum(-x, 0)
    want = want * np.tanh(np.log1p(np.exp(want)))
    np.testing.assert_allclose(model.predict(x[None], verbose=0)[0], want, rtol=1e-6)


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        activations.get("nope")


def test_fused_dense_still_recognises_the_plain_activations():
    """Dense(activation="relu") keeps its fused kernel: ops.relu is the symbolic-aware form of the
    engine's relu, and the fused op unwraps it."""
    from core.ops.linalg import dense

    x = Tensor(np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32))
    k = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    y = dense(x, k, None, activation=ops.relu)
    assert type(y.creator).__name__ == "Dense" and y.creator.relu  # one fused node, not matmul then relu
    np.testing.assert_allclose(y.numpy(), np.maximum(x.numpy() @ k.numpy(), 0))
