"""The fused ``dense`` op (matmul + bias + activation as one graph node): gradients, equality
with the three ops applied one by one, the unfused fallbacks and errors."""
import numpy as np
import pytest

from core import Tensor, ops
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops.linalg import Dense, dense

rng = np.random.default_rng(0)


def rand(*shape):
    return rng.standard_normal(shape)


FUSED = [None, ops.linear, ops.relu, ops.sigmoid, ops.tanh, ops.softmax, ops.silu, ops.relu6]
OTHER = [ops.elu, lambda y: ops.leaky_relu(y, 0.1)]  # applied after the node, as their own op


@pytest.mark.parametrize("act", FUSED + OTHER, ids=lambda a: getattr(a, "__name__", "lambda"))
@pytest.mark.parametrize("xs", [(4, 3), (2, 3, 3)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_gradients(act, xs, use_bias):
    arrays = [rand(*xs), rand(3, 5)] + ([rand(5)] if use_bias else [])
    check_gradients(lambda x, k, *b: dense(x, k, b[0] if b else None, act), arrays)


@pytest.mark.parametrize("act", FUSED + OTHER, ids=lambda a: getattr(a, "__name__", "lambda"))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_the_ops_one_by_one(act, dtype):
    x, k, b = (rand(6, 2, 7).astype(dtype), rand(7, 4).astype(dtype), rand(4).astype(dtype))
    tx, tk, tb = (Tensor(a, requires_grad=True) for a in (x, k, b))
    y = dense(tx, tk, tb, act)
    ref_x, ref_k, ref_b = (Tensor(a, requires_grad=True) for a in (x, k, b))
    ref = (act or ops.linear)(ops.matmul(ref_x, ref_k) + ref_b)
    assert y.dtype == dtype and y.shape == (6, 2, 4)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.data, ref.data, rtol=tol, atol=tol)
    w = rand(6, 2, 4).astype(dtype)
    (y * Tensor(w)).sum().backward()
    (ref * Tensor(w)).sum().backward()
    for a, r in ((tx, ref_x), (tk, ref_k), (tb, ref_b)):
        assert a.grad.dtype == dtype
        np.testing.assert_allclose(a.grad, r.grad, rtol=10 * tol, atol=10 * tol)


def test_fused_activations_are_one_node():
    x, k, b = Tensor(rand(3, 4), requires_grad=True), Tensor(rand(4, 2)), Tensor(rand(2))
    for act in FUSED:
        y = dense(x, k, b, act)
        assert isinstance(y.creator, Dense)
    y = dense(x, k, b, ops.elu)
    assert not isinstance(y.creator, Dense)  # elu after the fused node
    assert isinstance(y.creator.inputs[0].creator, Dense)


def test_no_graph_without_grads():
    x, k = Tensor(rand(3, 4)), Tensor(rand(4, 2))
    y = dense(x, k, None, ops.sigmoid)
    assert y.creator is None and not y.requires_grad


def test_inputs_are_not_modified():
    x, k, b = rand(3, 4), rand(4, 2), rand(2)
    copies = [a.copy() for a in (x, k, b)]
    for act in FUSED:
        dense(Tensor(x), Tensor(k), Tensor(b), act)
    for a, c in zip((x, k, b), copies):
        np.testing.assert_array_equal(a, c)


def test_general_path_for_other_shapes():
    """A bias of another shape or a kernel of rank 3 fall back to matmul + add (their broadcasting)."""
    x, k = rand(2, 3), rand(3, 4)
    b2 = rand(2, 4)
    y = dense(Tensor(x), Tensor(k), Tensor(b2), ops.relu)
    np.testing.assert_allclose(y.data, np.maximum(x @ k + b2, 0))
    check_gradients(lambda x, k, b: dense(x, k, b, ops.tanh), [x, k, b2])


def test_plain_arrays_and_numbers_are_converted():
    x, k, b = rand(2, 3), rand(3, 4), rand(4)
    np.testing.assert_allclose(dense(x, k, b).data, x @ k + b)


def test_errors():
    with pytest.raises(OpError, match=r"matmul: inner dimensions differ: \(2, 3\) @ \(4, 5\)"):
        dense(Tensor(rand(2, 3)), Tensor(rand(4, 5)))
    with pytest.raises(OpError, match="matmul"):
        dense(Tensor(np.ones((2, 3), np.float32)), Tensor(np.ones((3, 2), np.float64)))
