"""Every activation in core/ops/activations.py against the Keras 3 fixtures (forward, dtype)."""
import numpy as np
import pytest

from core import Tensor
from core.ops import activations as A
from tests.fixture_utils import case_params, load_cases

# float64: rtol 1e-5 / atol 1e-7; float32: atol 1e-6 covers float32 round-off of values near zero.
TOL = {np.float64: dict(rtol=1e-5, atol=1e-7), np.float32: dict(rtol=1e-5, atol=1e-6)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", case_params("activations"))
def test_activation_fixture(case, dtype):
    fn = getattr(A, case.params["op"])
    x = case.arrays["x"].astype(dtype)
    y = fn(Tensor(x), **case.params["kwargs"])
    assert y.dtype == dtype
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], **TOL[dtype])


def test_every_activation_has_a_fixture():
    cases = load_cases("activations")
    if not cases:
        pytest.skip("fixtures for 'activations' not found")
    covered = {c.params["op"] for c in cases}
    ours = {"relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh", "softmax",
            "log_softmax", "silu", "softplus"}
    assert ours <= covered, ours - covered
    # swish is silu, linear is the identity: checked directly
    assert A.swish is A.silu
    x = Tensor(np.array([-1.5, 0.0, 2.0], np.float32))
    assert A.linear(x) is x
