import gc
import weakref

import numpy as np
import pytest

from core import Function, Parameter, Tensor, no_grad, ops


def test_fan_out_accumulates():
    x = Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    y = x * x + x * 3 + x  # dy/dx = 2x + 4
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 4)


def test_diamond_graph_topological_order():
    # x -> a -> (b, c) -> d: a's grad must be complete before its backward runs
    x = Tensor(np.array([2.0]), requires_grad=True)
    a = x * 3
    b = a * a
    c = ops.exp(a * 0.1)
    d = b + c
    d.backward()
    expected = 3 * (2 * 6.0) + 3 * 0.1 * np.exp(0.6)
    np.testing.assert_allclose(x.grad, [expected])


def test_broadcasting_gradients_sum_back():
    a = Tensor(np.ones((3, 1, 4)), requires_grad=True)
    b = Tensor(np.ones((5, 1)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1, 4) and b.grad.shape == (5, 1)
    np.testing.assert_allclose(a.grad, np.full((3, 1, 4), 5.0))
    np.testing.assert_allclose(b.grad, np.full((5, 1), 12.0))


def test_grads_accumulate_across_backward_calls():
    w = Parameter(np.ones(3, np.float32))
    (w * 2).sum().backward()
    (w * 2).sum().backward()
    np.testing.assert_allclose(w.grad, 4.0)
    w.zero_grad()
    assert w.grad is None


def test_no_grad_records_nothing():
    w = Parameter(np.ones(3, np.float32))
    with no_grad():
        y = w * 2
    assert y.creator is None and not y.requires_grad


def test_graph_is_freed_after_backward():
    x = Tensor(np.ones(1000), requires_grad=True)
    y = ops.exp(x)
    fn = y.creator
    ref = weakref.ref(fn)
    z = y.sum()
    z.backward()
    assert fn.inputs is None and not hasattr(fn, "y")  # saved arrays released
    with pytest.raises(RuntimeError, match="graph was freed"):
        z.backward()
    del fn, y, z
    gc.collect()
    assert ref() is None


def test_retain_graph_allows_second_backward():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_retain_grad_on_intermediate():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_intermediate_without_retain_has_no_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    (h * h).sum().backward()
    assert h.grad is None


def test_only_requires_grad_inputs_get_grads():
    x = Tensor(np.ones(3), requires_grad=True)
    c = Tensor(np.ones(3))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_non_scalar_backward_with_explicit_grad():
    x = Tensor(np.arange(3.0), requires_grad=True)
    y = x * 2
    y.backward(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, 4.0])
    with pytest.raises(ValueError, match="grad shape"):
        (x * 2).backward(np.ones(4))


def test_int_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        Tensor(np.arange(3), requires_grad=True)


def test_custom_function_with_two_outputs():
    class SplitHalf(Function):
        def forward(self, x):
            return x[:2] * 2, x[2:] * 3

        def backward(self, g1, g2):
            return np.concatenate([g1 * 2, g2 * 3])

    x = Tensor(np.ones(4), requires_grad=True)
    a, b = SplitHalf().apply(x)
    a.sum().backward()  # b unused: its grad is zeros
    np.testing.assert_allclose(x.grad, [2, 2, 0, 0])


def test_comparisons_have_no_grad_and_are_bool():
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    m = x > 0
    assert m.dtype == bool and not m.requires_grad
    np.testing.assert_array_equal(m.data, [True, False])
    assert (x == x).data.all()


def test_parameter_assign_and_trainable():
    p = Parameter(np.zeros((2, 2), np.float32), name="w")
    p.assign(np.ones((2, 2)))
    assert p.dtype == np.float32 and p.data.sum() == 4
    with pytest.raises(ValueError, match="shape"):
        p.assign(np.ones(3))
    p.trainable = False
    assert not p.requires_grad


def test_python_lists_become_float32():
    assert Tensor([1.5, 2.0]).dtype == np.float32
    assert Tensor(np.array([1.5], np.float64)).dtype == np.float64  # arrays keep their dtype
    assert Tensor([1, 2]).dtype.kind == "i"


def test_parameter_keras_variable_methods():
    """Keras's Variable API on Parameter: assign_add/assign_sub in place, .value is the tensor itself."""
    p = Parameter(np.zeros(3, dtype="float32"))
    data = p.data
    p.assign_add(np.array([1.0, 2.0, 3.0]))
    p.assign_sub(Tensor(np.ones(3, dtype="float32")))
    np.testing.assert_array_equal(p.numpy(), [0.0, 1.0, 2.0])
    assert p.data is data and p.value is p
