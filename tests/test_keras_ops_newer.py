"""keras.ops names newer than Keras 3.15 (column_stack, matrix_power): NumPy's values, gradients
by float64 finite differences, and use on symbolic tensors."""
import numpy as np
import pytest

import core as keras
from core import ops
from core.gradient_check import check_gradients
from core.ops import OpError


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2])
def test_matrix_power_values_and_gradient(n):
    a = np.random.default_rng(0).normal(size=(2, 3, 3))
    got = ops.convert_to_numpy(ops.matrix_power(a.astype("float32"), n))
    np.testing.assert_allclose(got, np.linalg.matrix_power(a, n), rtol=1e-4, atol=1e-5)
    if n:
        check_gradients(lambda t: ops.matrix_power(t, n), [a])


def test_matrix_power_errors_and_symbolic():
    with pytest.raises(OpError, match="square"):
        ops.matrix_power(np.ones((2, 3), "float32"), 2)
    with pytest.raises(OpError, match="integer"):
        ops.matrix_power(np.eye(2, dtype="float32"), 1.5)
    x = keras.Input((3, 3))
    model = keras.Model(x, ops.matrix_power(x, 2))
    a = np.random.default_rng(1).normal(size=(4, 3, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(a, verbose=0), a @ a, rtol=1e-5)


def test_column_stack_like_numpy():
    parts = [np.arange(3.0), np.arange(3.0, 6.0), np.ones((3, 2))]
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.column_stack(parts)), np.column_stack(parts))
    check_gradients(lambda a, b: ops.column_stack([a, b]), [np.arange(3.0), np.ones((3, 2))])
    y = keras.Input((3,))
    assert keras.Model(y, ops.column_stack([y, y])).output.shape == (None, 6)
