"""core.gradient_check.check_gradients: it passes a right backward and names what a wrong one got wrong,
for inputs and for the variables a layer reads itself."""
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.layers import Dense


def test_right_gradients_pass_for_inputs_and_variables():
    layer = Dense(3, activation="tanh", dtype="float64")
    x = np.random.default_rng(0).standard_normal((4, 2))
    layer.build((None, 2))
    assert check_gradients(layer, [x], params=layer.trainable_weights)
    assert check_gradients(lambda a, b: (a * b).sum(axis=1), [x, x[::-1].copy()])


def test_a_variable_the_backward_misses_is_named():
    layer = Dense(2, dtype="float64")
    layer.build((None, 3))
    x = np.random.default_rng(1).standard_normal((2, 3))

    def detached_bias(t):  # uses the bias's values but never passes it a gradient
        return t @ layer.kernel + Tensor(np.array(layer.bias.data))

    with pytest.raises(AssertionError, match="gradient mismatch for variable .*bias"):
        check_gradients(detached_bias, [x], params=layer.trainable_weights)


def test_a_wrong_input_gradient_is_named():
    def half_gradient(t):  # value t * t, gradient t (the detached factor carries none)
        return t * Tensor(np.array(t.data))

    with pytest.raises(AssertionError, match="gradient mismatch for input 0"):
        check_gradients(half_gradient, [np.array([1.0, 2.0])])


def test_float32_variables_are_refused():
    layer = Dense(2)
    layer.build((None, 2))
    with pytest.raises(ValueError, match="dtype='float64'"):
        check_gradients(layer, [np.ones((1, 2))], params=layer.trainable_weights)
