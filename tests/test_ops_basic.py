"""Gradient, forward, dtype and error checks for the elementwise, reduction, shape, matmul
and activation primitives."""
import numpy as np
import pytest

from core import Tensor, ops
from core.gradient_check import check_gradients
from core.ops import OpError

rng = np.random.default_rng(0)


def rand(*shape, positive=False):
    a = rng.standard_normal(shape)
    return np.abs(a) + 0.5 if positive else a


BINARY = [
    ("add", ops.add, np.add, False),
    ("sub", ops.sub, np.subtract, False),
    ("mul", ops.mul, np.multiply, False),
    ("div", ops.div, np.divide, True),
    ("pow", ops.pow, np.power, True),
    ("maximum", ops.maximum, np.maximum, False),
    ("minimum", ops.minimum, np.minimum, False),
]
SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 1, 5), (4, 1)), ((5,), (2, 3, 5)), ((), (2, 3)), ((1, 3), (3, 1))]


@pytest.mark.parametrize("name,op,ref,positive", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("sa,sb", SHAPE_PAIRS)
def test_binary_gradients_and_forward(name, op, ref, positive, sa, sb):
    a, b = rand(*sa, positive=positive), rand(*sb, positive=positive)
    check_gradients(op, [a, b])
    np.testing.assert_allclose(op(Tensor(a), Tensor(b)).data, ref(a, b), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3, 4, 5, -2, -3, 3.0, 2, -1, 0, 1])
def test_pow_integer_exponent_of_negative_bases_matches_numpy(n, dtype):
    """A scalar integer exponent over mixed-sign bases (|a| ** n with the sign put back for odd n):
    np.power's values to an ulp (both are faithfully rounded), and its zeros of either sign,
    infinities and NaN exactly."""
    a = np.concatenate([rand(200), [0.0, -0.0, np.inf, -np.inf, np.nan, -2.5, 1e-30, -1e-30]]).astype(dtype)
    with np.errstate(all="ignore"):
        got = ops.pow(Tensor(a), n).data
        want = np.power(a, dtype(n))
    assert got.dtype == dtype
    finite = np.isfinite(want) & (want != 0)
    np.testing.assert_array_max_ulp(got[finite], want[finite], maxulp=1)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("n", [3, 4, -3])
def test_pow_integer_exponent_gradient_over_negative_bases(n):
    check_gradients(lambda x: x ** n, [rand(4, 5) + np.sign(rand(4, 5)) * 0.5])


def test_gelu_tanh_float32_chunks_equal_the_formula(monkeypatch):
    """The float32 tanh GELU, chunk by chunk (chunks of 16 here), gives the generic formula's
    values bit for bit, forward and backward."""
    from core.ops import activations as A

    monkeypatch.setattr(A, "_CHUNK", 16)
    x = (rand(7, 9) * 3).astype(np.float32)
    gy = rand(7, 9).astype(np.float32)
    t = Tensor(x, requires_grad=True)
    y = ops.gelu(t, approximate=True)
    y.backward(gy)
    f = np.float32
    c = f(np.sqrt(2.0 / np.pi))
    th = np.tanh(c * (x + f(0.044715) * (x * x * x)))
    np.testing.assert_array_equal(y.data, f(0.5) * x * (f(1) + th))
    np.testing.assert_array_equal(ops.gelu(Tensor(x), approximate=True).data, y.data)  # inference: no tanh kept
    d_inner = c * (f(1) + f(3 * 0.044715) * x * x)
    np.testing.assert_array_equal(t.grad, gy * (f(0.5) * (f(1) + th) + f(0.5) * x * (f(1) - th * th) * d_inner))


_SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 100.0, -100.0, 1e-30, -1e-30]


def _where_refs(x, gy):
    """The activations as ``np.where`` of their branches (the formulas before the branch-free
    forms): forward and backward values."""
    t = x.dtype.type
    m = x > 0
    e = np.exp(-np.abs(x))
    sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    a, sa, sc = t(1.0), t(1.6732632423543772848170429916717), t(1.0507009873554804934193349852946)
    neg = a * np.exp(np.minimum(x, t(0)))
    sneg = sc * sa * np.exp(np.minimum(x, t(0)))
    return {
        "leaky_relu": (np.where(m, x, x * t(0.2)), np.where(m, gy, gy * t(0.2))),
        "elu": (np.where(m, x, neg - a), np.where(m, gy, gy * neg)),
        "selu": (np.where(m, sc * x, sneg - sc * sa), np.where(m, gy * sc, gy * sneg)),
        "sigmoid": (sig, gy * sig * (1 - sig)),
        "silu": (x * sig, gy * sig * (1 + x * (1 - sig))),
        "softplus": (None, gy * sig),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["leaky_relu", "elu", "selu", "sigmoid", "silu", "softplus"])
def test_branch_free_activations_equal_where(name, dtype):
    """The branches selected without ``where`` (a bit blend, or e^min(x, 0) / (1 + e^-|x|) for
    the sigmoid): ``where``'s values bit for bit, infinities, NaN and signed zeros included."""
    x = np.concatenate([rand(300) * 5, _SPECIAL]).astype(dtype)
    gy = np.concatenate([rand(300), [1.0, -2.0, 0.5, np.inf, 1.0, -np.inf, 3.0, 1.0, np.nan]]).astype(dtype)
    fn = {"leaky_relu": lambda v: ops.leaky_relu(v, 0.2), "elu": ops.elu, "selu": ops.selu,
          "sigmoid": ops.sigmoid, "silu": ops.silu, "softplus": ops.softplus}[name]
    with np.errstate(all="ignore"):
        want_y, want_g = _where_refs(x, gy)[name]
        t = Tensor(x, requires_grad=True)
        y = fn(t)
        y.backward(gy)
    if want_y is not None:
        np.testing.assert_array_equal(y.data, want_y)
        num = ~np.isnan(want_y)  # (a NaN's sign bit means nothing)
        np.testing.assert_array_equal(np.signbit(y.data[num]), np.signbit(want_y[num]))
    np.testing.assert_array_equal(t.grad, want_g)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, 3.0])
def test_leaky_relu_any_slope_equals_where(slope):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 2.5, -2.5], np.float32)
    gy = np.array([1, 2, 3, 4, np.inf, 6, 7], np.float32)
    s = np.float32(slope)
    with np.errstate(all="ignore"):  # (inf * 0 with slope 0)
        t = Tensor(x, requires_grad=True)
        y = ops.leaky_relu(t, slope)
        y.backward(gy)
        np.testing.assert_array_equal(y.data, np.where(x > 0, x, x * s))
        np.testing.assert_array_equal(t.grad, np.where(x > 0, gy, gy * s))


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "selu", "sigmoid", "silu", "softplus"])
@pytest.mark.parametrize("v", [-1.5, 2.0])
def test_branch_free_activations_on_a_scalar(name, v):
    # a 0-d array's comparisons and arithmetic give NumPy scalars, which the bit blends accept
    x = np.array(v, np.float32)
    want_y, want_g = _where_refs(x, np.array(1.0, np.float32))[name]
    fn = {"leaky_relu": lambda t: ops.leaky_relu(t, 0.2), "elu": ops.elu, "selu": ops.selu,
          "sigmoid": ops.sigmoid, "silu": ops.silu, "softplus": ops.softplus}[name]
    t = Tensor(x, requires_grad=True)
    y = fn(t)
    y.backward()
    if want_y is not None:
        assert float(y.data) == float(want_y)
    assert float(t.grad) == float(want_g)


UNARY = [
    ("neg", ops.neg, np.negative, False),
    ("exp", ops.exp, np.exp, False),
    ("log", ops.log, np.log, True),
    ("sqrt", ops.sqrt, np.sqrt, True),
    ("abs", ops.abs, np.abs, False),
    ("square", ops.square, np.square, False),
]


@pytest.mark.parametrize("name,op,ref,positive", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 5), ()])
def test_unary_gradients_and_forward(name, op, ref, positive, shape):
    a = rand(*shape, positive=positive)
    check_gradients(op, [a])
    np.testing.assert_allclose(op(Tensor(a)).data, ref(a), rtol=1e-12)


def test_clip_where_gradients():
    a = rand(4, 5)
    check_gradients(lambda x: ops.clip(x, -0.5, 0.7), [a])
    check_gradients(lambda x: ops.clip(x, min_value=0.1), [a])
    cond = rng.random((4, 1)) > 0.5
    check_gradients(lambda x, y: ops.where(cond, x, y), [rand(4, 5), rand(5)])
    np.testing.assert_allclose(ops.where(cond, Tensor(a), 0.0).data, np.where(cond, a, 0.0))
    with pytest.raises(OpError, match="clip"):
        ops.clip(Tensor(a))


@pytest.mark.parametrize("op,ref", [(ops.sum, np.sum), (ops.mean, np.mean), (ops.max, np.max),
                                    (ops.min, np.min), (ops.var, np.var)])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, False)])
def test_reductions(op, ref, axis, keepdims):
    a = rand(3, 4, 5)
    check_gradients(lambda x: op(x, axis=axis, keepdims=keepdims), [a])
    np.testing.assert_allclose(op(Tensor(a), axis=axis, keepdims=keepdims).data,
                               ref(a, axis=axis, keepdims=keepdims), rtol=1e-12)


def test_max_ties_share_gradient():
    x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    ops.max(x).backward()
    np.testing.assert_allclose(x.grad, [0, 0.5, 0.5])


def test_argmax_argmin():
    a = rand(3, 6)
    np.testing.assert_array_equal(ops.argmax(Tensor(a), axis=-1).data, a.argmax(-1))
    np.testing.assert_array_equal(ops.argmin(Tensor(a), axis=0).data, a.argmin(0))
    assert ops.argmax(Tensor(a), axis=-1, keepdims=True).shape == (3, 1)
    # Keras's default: the index into the flattened tensor, int32
    assert int(ops.argmax(Tensor(a)).data) == a.argmax() and ops.argmax(Tensor(a)).dtype == np.int32


def test_reduction_errors():
    with pytest.raises(OpError, match="axis 3 is out of range for a tensor of rank 2"):
        ops.sum(Tensor(rand(2, 2)), axis=3)
    with pytest.raises(OpError, match="empty"):
        ops.max(Tensor(np.zeros((0,))))


def test_shape_op_gradients():
    a = rand(2, 3, 4)
    check_gradients(lambda x: ops.reshape(x, (4, -1)) * np.arange(6.0), [a])
    check_gradients(lambda x: ops.transpose(x, (2, 0, 1)), [a])
    check_gradients(lambda x: ops.transpose(x), [a])
    check_gradients(lambda x: ops.expand_dims(x, 1), [a])
    check_gradients(lambda x: ops.squeeze(x, 1), [rand(3, 1, 2)])
    check_gradients(lambda x: ops.broadcast_to(x, (2, 3, 4)), [rand(3, 1)])
    check_gradients(lambda x, y: ops.concatenate([x, y, x], axis=1), [a, rand(2, 2, 4)])
    check_gradients(lambda x, y: ops.stack([x, y], axis=-1), [rand(2, 3), rand(2, 3)])
    check_gradients(lambda x: tuple(ops.split(x, 2, axis=2)), [a])
    check_gradients(lambda x: tuple(ops.split(x, [1, 3], axis=2)), [a])
    check_gradients(lambda x: ops.pad(x, ((0, 0), (1, 2), (3, 0))), [a])
    check_gradients(lambda x: ops.repeat(x, 3, axis=1), [a])
    check_gradients(lambda x: ops.tile(x, (2, 1, 3)), [a])
    check_gradients(lambda x: ops.tile(x, (2, 1, 1, 2)), [a])
    check_gradients(lambda x: ops.flatten(x), [a])


def test_shape_op_forward_matches_numpy():
    a = rand(2, 3, 4)
    np.testing.assert_array_equal(ops.repeat(Tensor(a), 2, axis=0).data, np.repeat(a, 2, axis=0))
    np.testing.assert_array_equal(ops.tile(Tensor(a), (1, 2, 2)).data, np.tile(a, (1, 2, 2)))
    np.testing.assert_array_equal(ops.pad(Tensor(a), 1, constant_values=7).data, np.pad(a, 1, constant_values=7))
    np.testing.assert_array_equal(ops.stack([Tensor(a), Tensor(a)], 1).data, np.stack([a, a], 1))
    parts = ops.split(Tensor(a), [1, 3], axis=2)
    for p, q in zip(parts, np.split(a, [1, 3], axis=2)):
        np.testing.assert_array_equal(p.data, q)


@pytest.mark.parametrize("index", [
    (slice(1, None), 2),
    (Ellipsis, slice(None, None, 2)),
    np.array([0, 0, 2]),            # repeated integer rows accumulate
    (np.array([1, 0, 1]), np.array([2, 2, 2])),
    (slice(None), [3, 0, 3]),
    None,
])
def test_getitem_gradients(index):
    check_gradients(lambda x: x[index], [rand(3, 4)])


def test_getitem_boolean_mask_and_tensor_index():
    a = rand(3, 4)
    mask = a > 0
    check_gradients(lambda x: x[mask], [a])
    check_gradients(lambda x: x[Tensor(np.array([2, 2]))], [a])
    np.testing.assert_array_equal(Tensor(a)[Tensor(mask)].data, a[mask])
    with pytest.raises(OpError, match="getitem.*shape \\(3, 4\\)"):
        Tensor(a)[5]


def test_shape_errors_name_the_shapes():
    with pytest.raises(OpError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        ops.reshape(Tensor(rand(2, 3)), (4, 2))
    with pytest.raises(OpError, match="concatenate: shapes"):
        ops.concatenate([Tensor(rand(2, 3)), Tensor(rand(3, 3))], axis=1)
    with pytest.raises(OpError, match="squeeze: axis 0"):
        ops.squeeze(Tensor(rand(2, 3)), 0)
    with pytest.raises(OpError, match="broadcast_to"):
        ops.broadcast_to(Tensor(rand(2, 3)), (3, 3))
    with pytest.raises(OpError, match="split"):
        ops.split(Tensor(rand(5)), 2)
    with pytest.raises(OpError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        Tensor(rand(2, 3)) + Tensor(rand(4))
    with pytest.raises(OpError, match="transpose"):
        ops.transpose(Tensor(rand(2, 3)), (0, 0))


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (5, 4, 2)),
                                   ((4,), (4, 3)), ((2, 3, 4), (4,)), ((4,), (4,)), ((3, 4), (2, 4, 5))])
def test_matmul(sa, sb):
    a, b = rand(*sa), rand(*sb)
    check_gradients(ops.matmul, [a, b])
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b, rtol=1e-12)


def test_matmul_errors():
    with pytest.raises(OpError, match=r"matmul: inner dimensions differ: \(3, 4\) @ \(5, 2\)"):
        Tensor(rand(3, 4)) @ Tensor(rand(5, 2))
    with pytest.raises(OpError, match="at least 1-d"):
        ops.matmul(Tensor(np.float64(2.0)), Tensor(rand(3)))


ACTIVATIONS = [
    ("relu", ops.relu), ("relu6", ops.relu6), ("leaky_relu", ops.leaky_relu), ("elu", ops.elu),
    ("selu", ops.selu), ("gelu_tanh", lambda x: ops.gelu(x, approximate=True)),
    ("gelu_exact", lambda x: ops.gelu(x, approximate=False)), ("sigmoid", ops.sigmoid),
    ("hard_sigmoid", ops.hard_sigmoid), ("tanh", ops.tanh), ("softmax", ops.softmax),
    ("softmax_axis0", lambda x: ops.softmax(x, axis=0)), ("log_softmax", ops.log_softmax),
    ("silu", ops.silu), ("softplus", ops.softplus), ("hard_silu", ops.hard_silu),
]


@pytest.mark.parametrize("name,fn", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_gradients_and_dtype(name, fn):
    a = rng.uniform(-7, 7, (4, 9))
    # keep away from the kinks where finite differences are not defined
    a[np.abs(a) < 1e-3] = 0.3
    for kink in (-3.0, 3.0, 6.0):
        a[np.abs(a - kink) < 1e-3] += 0.01
    check_gradients(fn, [a])
    x32 = Tensor(a.astype(np.float32), requires_grad=True)
    y = fn(x32)
    assert y.dtype == np.float32, name
    y.sum().backward()
    assert x32.grad.dtype == np.float32, name
    assert np.all(np.isfinite(fn(Tensor(np.array([-1e4, 1e4], np.float32))).data)), name


def test_hard_silu_is_keras_formula_and_named_hard_swish_too():
    from core import activations

    x = np.array([-5.0, -3.0, -1.5, 0.0, 1.0, 3.0, 4.0], np.float32)
    want = x * np.minimum(np.maximum(x + 3, 0), 6) / 6   # Keras 3: x * relu6(x + 3) / 6
    np.testing.assert_allclose(ops.hard_silu(Tensor(x)).data, want, rtol=1e-6, atol=1e-7)
    assert activations.get("hard_swish") is activations.get("hard_silu") is ops.hard_silu
    assert activations.serialize(ops.hard_swish) == "hard_silu"


def test_stable_sigmoid_softplus_log_softmax_at_extremes():
    x = Tensor(np.array([-1000.0, 0.0, 1000.0], np.float32))
    np.testing.assert_allclose(ops.sigmoid(x).data, [0, 0.5, 1])
    np.testing.assert_allclose(ops.softplus(x).data, [0, np.log(2), 1000], rtol=1e-6)
    ls = ops.log_softmax(Tensor(np.array([[0.0, 1000.0]], np.float32))).data
    np.testing.assert_allclose(ls, [[-1000.0, 0.0]])


def test_exact_gelu_matches_erf():
    import math

    x = np.linspace(-6, 6, 101)
    ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(ops.gelu(Tensor(x), approximate=False).data, ref, rtol=1e-12, atol=1e-15)


def test_exact_gelu_float32_chunked_equals_whole_array(monkeypatch):
    """The float32 NumPy path runs its elementwise chain chunk by chunk (chunks made tiny here):
    forward and gradient equal the whole-array formulas bit for bit, and erf to 5e-7."""
    import math

    from core.ops import activations as A

    monkeypatch.setattr(A, "_CHUNK", 37)
    x = (rng.standard_normal((9, 31)) * 3).astype(np.float32)
    x[0, :4] = [0.0, -9.0, 9.0, 40.0]
    gy = rng.standard_normal(x.shape).astype(np.float32)
    t = Tensor(x, requires_grad=True)
    y = ops.gelu(t, approximate=False)
    (y * Tensor(gy)).sum().backward()
    cdf = A._normal_cdf(np, x)
    np.testing.assert_array_equal(y.data, x * cdf)
    np.testing.assert_array_equal(ops.gelu(Tensor(x), approximate=False).data, y.data)  # inference: no cdf kept
    f = np.float32
    pdf = np.exp(f(-0.5) * x * x) * f(1 / math.sqrt(2 * math.pi))
    np.testing.assert_array_equal(t.grad, gy * (cdf + x * pdf))
    ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64).ravel()])
    np.testing.assert_allclose(y.data.ravel(), ref, rtol=1e-6, atol=5e-7 * 9)


# ----------------------------------------------------------------------------- NEP 50 / float32
def test_float32_is_never_upcast_by_scalars():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    outs = [x + 1, 1 + x, x * 2.5, x / np.float64(3.0), np.float64(2.0) - x, x ** 2, 2.0 ** x,
            x + np.array(1.0), ops.maximum(x, 0.5), ops.where(x.data > 0, x, 0.0), ops.clip(x, 0, 1),
            x @ np.ones((3, 2)), ops.mean(x), ops.var(x), ops.pad(x, 1), x * np.ones(3)]
    for y in outs:
        assert y.dtype == np.float32, y
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("number", [32.0, 3, 0.1])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_reduced_scalar_and_python_number(dtype, number, op):
    # a full reduction holds a NumPy scalar (not a 0-d array): the Python-number fast path takes
    # it too, with the general path's (a 0-d tensor operand) value, dtype and gradient
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}[op]
    data = np.arange(1, 7, dtype=dtype).reshape(2, 3) / 7
    xf, xg = Tensor(data, requires_grad=True), Tensor(data, requires_grad=True)
    sf, sg = ops.sum(xf), ops.sum(xg)
    assert isinstance(sf.data, np.generic)
    yf, yg = fn(sf, number), fn(sg, Tensor(np.asarray(number, dtype)))
    assert yf.dtype == yg.dtype == dtype and yf.data == yg.data
    yf.backward()
    yg.backward()
    np.testing.assert_array_equal(xf.grad, xg.grad)


def test_mixed_float_tensors_are_refused():
    with pytest.raises(OpError, match="different float dtypes"):
        Tensor(np.ones(2, np.float32)) + Tensor(np.ones(2, np.float64))


def test_int_tensors_promote_to_the_float_operand():
    y = Tensor(np.ones(2, np.float32)) * Tensor(np.arange(2))
    assert y.dtype == np.float32


def test_float_op_on_ints_gives_floatx_as_keras():
    y = ops.exp(Tensor(np.arange(3)))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, np.exp(np.arange(3)), rtol=1e-6)


def test_cast_is_differentiable():
    x = Tensor(np.ones(2, np.float32), requires_grad=True)
    y = ops.cast(x, "float64") * 3.0
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 3.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_backward_equals_its_formula_bitwise(dtype):
    """SiLU's backward (two temporaries, in place) computes gy * s * (1 + x * (1 - s)) in that order."""
    import importlib

    from core.autodiff import Tensor
    from core import ops

    A = importlib.import_module("core.ops.activations")
    x = (np.random.default_rng(0).normal(size=(17, 9)) * 4).astype(dtype)
    gy = np.random.default_rng(1).normal(size=x.shape).astype(dtype)
    t = Tensor(x, requires_grad=True)
    ops.silu(t).backward(Tensor(gy))
    s = A._stable_sigmoid(np, x)
    np.testing.assert_array_equal(np.asarray(t.grad), gy * s * (1 + x * (1 - s)))
