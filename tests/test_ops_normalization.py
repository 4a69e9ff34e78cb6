"""batch_norm and layer_norm: gradients, Keras 3 fixtures, dtypes, moving statistics and errors."""
import numpy as np
import pytest

from core import Parameter, Tensor
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops.losses import categorical_crossentropy, mean_squared_error
from core.ops.normalization import batch_norm, layer_norm
from tests.fixture_utils import case_params

rng = np.random.default_rng(0)


def rand(*shape, scale=1.0, shift=0.0):
    return rng.standard_normal(shape) * scale + shift


def stats(c, dtype=np.float64):
    return Tensor(rand(c, scale=0.3).astype(dtype)), Tensor((0.5 + rng.random(c)).astype(dtype))


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("shape,axis", [((5, 3), -1), ((3, 4, 5), -1), ((2, 3, 3, 4), -1), ((2, 3, 4), 1),
                                        ((3, 2, 3, 3), 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients(shape, axis, training):
    c = shape[axis]
    x = rand(*shape, scale=1.5, shift=0.4)
    gamma, beta = rand(c, scale=0.3, shift=1.0), rand(c)
    mm, mv = stats(c)

    def fn(x, g, b):  # fresh moving-stat Tensors each call: outputs never depend on them in training
        m, v = Tensor(mm.data.copy()), Tensor(mv.data.copy())
        return batch_norm(x, g, b, m, v, training=training, axis=axis)

    check_gradients(fn, [x, gamma, beta])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("which", ["no_gamma", "no_beta", "neither"])
def test_batch_norm_gradients_without_scale_or_center(training, which):
    x = rand(4, 3, 3)
    g = None if which in ("no_gamma", "neither") else rand(3, shift=1.0)
    b = None if which in ("no_beta", "neither") else rand(3)
    mm, mv = stats(3)
    ins = [x] + [a for a in (g, b) if a is not None]

    def fn(x, *p):
        it = iter(p)
        gg = next(it) if g is not None else None
        bb = next(it) if b is not None else None
        return batch_norm(x, gg, bb, Tensor(mm.data.copy()), Tensor(mv.data.copy()), training=training)

    check_gradients(fn, ins)


@pytest.mark.parametrize("shape,axis", [((5, 3), -1), ((2, 3, 3, 4), -1), ((3, 2, 3, 3), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_fused_relu_gradients(shape, axis, affine):
    """activation="relu" (training): the float64 check of relu(batch_norm(x)) as one op, on the
    channels-last block path and the general one (axis 1)."""
    c = shape[axis]
    x = rand(*shape, scale=1.5, shift=0.4)
    params = [rand(c, scale=0.3, shift=1.0), rand(c, scale=0.5)] if affine else []
    mm, mv = stats(c)

    def fn(x, *p):
        g, b = p if p else (None, None)
        return batch_norm(x, g, b, Tensor(mm.data.copy()), Tensor(mv.data.copy()), training=True, axis=axis,
                          activation="relu")

    y = fn(Tensor(x), *[Tensor(a) for a in params]).data
    assert (y == 0).any() and (y > 0).any()  # the kink is crossed
    check_gradients(fn, [x] + params)


@pytest.mark.parametrize("shape,axis", [((64, 5, 5, 16), -1), ((6, 4, 3, 3), 1)])
@pytest.mark.parametrize("contiguous_gy", [True, False])
def test_batch_norm_fused_relu_equals_relu_after_batch_norm(shape, axis, contiguous_gy):
    """Fused and unfused give the same outputs, gradients and moving statistics (float32), also
    when the incoming gradient is not contiguous (the path that masks it first)."""
    from core.ops import relu

    c = shape[axis]
    r = np.random.default_rng(5)
    x = (r.standard_normal(shape) * 1.5 + 0.3).astype(np.float32)
    g, b = (r.standard_normal(c) * 0.3 + 1).astype(np.float32), (r.standard_normal(c) * 0.5).astype(np.float32)
    gy = r.standard_normal(shape[::-1]).astype(np.float32).T if not contiguous_gy else \
        r.standard_normal(shape).astype(np.float32)

    def run(fused):
        mm, mv = np.zeros(c, np.float32), np.ones(c, np.float32)
        ts = [Tensor(a, requires_grad=True) for a in (x, g, b)]
        if fused:
            y = batch_norm(*ts, mm, mv, training=True, axis=axis, activation="relu")
        else:
            y = relu(batch_norm(*ts, mm, mv, training=True, axis=axis))
        y.backward(gy)
        return [y.data, mm, mv] + [t.grad for t in ts]

    for a, b_ in zip(run(True), run(False)):
        np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-6)


def test_batch_norm_activation_errors():
    x, mm, mv = Tensor(rand(4, 3)), np.zeros(3), np.ones(3)
    with pytest.raises(OpError, match="activation must be None or 'relu'"):
        batch_norm(x, None, None, mm, mv, training=True, activation="gelu")
    with pytest.raises(OpError, match="fused in training only"):
        batch_norm(x, None, None, mm, mv, training=False, activation="relu")


@pytest.mark.parametrize("shape,axis,pshape", [((4, 5), -1, (5,)), ((2, 3, 5), -1, (5,)), ((2, 3, 4), (1, 2), (3, 4)),
                                               ((3, 4, 2), 1, (4,)), ((2, 3, 4), (-1, -2), (3, 4)),
                                               ((2, 3, 4), -1, (1, 1, 4))])
def test_layer_norm_gradients(shape, axis, pshape):
    x = rand(*shape, scale=1.5, shift=0.3)
    check_gradients(lambda x, g, b: layer_norm(x, g, b, axis=axis), [x, rand(*pshape, shift=1.0), rand(*pshape)])
    check_gradients(lambda x: layer_norm(x, None, None, axis=axis, epsilon=1e-5), [x])
    check_gradients(lambda x, g: layer_norm(x, g, None, axis=axis), [x, rand(*pshape, shift=1.0)])


def test_layer_norm_then_loss_gradients():
    x, g, b = rand(3, 5), rand(5, shift=1.0), rand(5)
    t = rng.random((3, 5))
    t /= t.sum(-1, keepdims=True)
    check_gradients(lambda x, g, b: categorical_crossentropy(t, layer_norm(x, g, b), from_logits=True), [x, g, b])
    check_gradients(lambda x, g, b, y: mean_squared_error(y, layer_norm(x, g, b, axis=(1, 2))),
                    [rand(2, 3, 4), rand(3, 4), rand(3, 4), rand(2, 3, 4)])


def test_batch_norm_then_loss_gradients():
    mm, mv = stats(4)
    y = rand(5, 4)
    check_gradients(lambda x, g, b: mean_squared_error(
        y, batch_norm(x, g, b, Tensor(mm.data.copy()), Tensor(mv.data.copy()), training=True)),
        [rand(5, 4), rand(4, shift=1.0), rand(4)])


# --------------------------------------------------------------------------- Keras 3 fixtures
# float64: rtol 1e-5 / atol 1e-7; float32: atol 1e-6 covers float32 round-off of outputs near zero.
TOL = {np.float64: dict(rtol=1e-5, atol=1e-7), np.float32: dict(rtol=1e-5, atol=1e-6)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", case_params("norm", op="batch_norm"))
def test_batch_norm_fixture(case, dtype):
    p, A = case.params, case.arrays
    x, g, b = (Tensor(A[k].astype(dtype)) for k in ("x", "gamma", "beta"))
    mm, mv = Parameter(A["moving_mean"].astype(dtype), trainable=False), Parameter(
        A["moving_variance"].astype(dtype), trainable=False)
    mm_arr = mm.data
    y = batch_norm(x, g, b, mm, mv, training=True, momentum=p["momentum"], epsilon=p["epsilon"], axis=p["axis"])
    assert y.dtype == dtype and mm.dtype == dtype and mv.dtype == dtype
    np.testing.assert_allclose(y.numpy(), A["y_train"], **TOL[dtype])
    # moving statistics updated in place with the biased batch variance (Keras 3)
    assert mm.data is mm_arr
    np.testing.assert_allclose(mm.numpy(), A["new_moving_mean"], **TOL[dtype])
    np.testing.assert_allclose(mv.numpy(), A["new_moving_variance"], **TOL[dtype])
    mm2, mv2 = Tensor(A["moving_mean"].astype(dtype)), Tensor(A["moving_variance"].astype(dtype))
    y = batch_norm(x, g, b, mm2, mv2, training=False, momentum=p["momentum"], epsilon=p["epsilon"], axis=p["axis"])
    assert y.dtype == dtype
    np.testing.assert_allclose(y.numpy(), A["y_infer"], **TOL[dtype])
    np.testing.assert_array_equal(mm2.numpy(), A["moving_mean"].astype(dtype))  # inference leaves them alone


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", case_params("norm", op="layer_norm"))
def test_layer_norm_fixture(case, dtype):
    p, A = case.params, case.arrays
    y = layer_norm(*(Tensor(A[k].astype(dtype)) for k in ("x", "gamma", "beta")), axis=p["axis"],
                   epsilon=p["epsilon"])
    assert y.dtype == dtype
    np.testing.assert_allclose(y.numpy(), A["y"], **TOL[dtype])


# --------------------------------------------------------------------------- semantics and dtypes
def test_batch_norm_channels_first_matches_channels_last():
    x = rand(2, 3, 4, 5)
    g, b = rand(3, shift=1.0), rand(3)
    m1, v1 = stats(3)
    m2, v2 = Tensor(m1.data.copy()), Tensor(v1.data.copy())
    y1 = batch_norm(Tensor(x), g, b, m1, v1, training=True, axis=1).numpy()
    y2 = batch_norm(Tensor(x.transpose(0, 2, 3, 1)), g, b, m2, v2, training=True, axis=-1).numpy()
    np.testing.assert_allclose(y1, y2.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m1.numpy(), m2.numpy(), rtol=1e-12)
    np.testing.assert_allclose(v1.numpy(), v2.numpy(), rtol=1e-12)


def test_batch_norm_training_normalizes_and_updates_raw_arrays():
    x = rand(64, 3, scale=2.0, shift=5.0)
    mm, mv = np.zeros(3), np.ones(3)
    y = batch_norm(Tensor(x), None, None, mm, mv, training=True, momentum=0.9).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(0), x.var(0) / (x.var(0) + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(mm, 0.1 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * x.var(0), rtol=1e-12)


def test_batch_norm_moving_stats_not_in_graph():
    x = Tensor(rand(4, 3), requires_grad=True)
    mm = Parameter(np.zeros(3))  # trainable, yet never part of the graph
    mv = Parameter(np.ones(3))
    batch_norm(x, None, None, mm, mv, training=True).sum().backward()
    assert mm.grad is None and mv.grad is None and x.grad is not None
    batch_norm(x, None, None, mm, mv, training=False).sum().backward()
    assert mm.grad is None and mv.grad is None


@pytest.mark.parametrize("training", [True, False])
def test_norm_float32_grads_stay_float32(training):
    x = Tensor(rand(4, 3, 5).astype(np.float32), requires_grad=True)
    g = Parameter(np.ones(5, np.float32))
    b = Parameter(np.zeros(5, np.float32))
    mm, mv = stats(5, np.float32)
    y = batch_norm(x, g, b, mm, mv, training=training)
    assert y.dtype == np.float32 and mm.dtype == np.float32 and mv.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and g.grad.dtype == np.float32 and b.grad.dtype == np.float32
    x.zero_grad(), g.zero_grad(), b.zero_grad()
    y = layer_norm(x, g, b)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and g.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_float64_moving_stats_with_float32_input_keep_their_dtype():
    mm, mv = Tensor(np.zeros(3)), Tensor(np.ones(3))
    y = batch_norm(Tensor(rand(5, 3).astype(np.float32)), None, None, mm, mv, training=True)
    assert y.dtype == np.float32 and mm.dtype == np.float64
    y = batch_norm(Tensor(rand(5, 3).astype(np.float32)), None, None, mm, mv, training=False)
    assert y.dtype == np.float32


def test_layer_norm_compact_and_broadcast_params_agree():
    x = rand(2, 3, 4)
    g, b = rand(4, shift=1.0), rand(4)
    y1 = layer_norm(Tensor(x), g, b).numpy()
    y2 = layer_norm(Tensor(x), g.reshape(1, 1, 4), b.reshape(1, 1, 4)).numpy()
    np.testing.assert_allclose(y1, y2, rtol=1e-14)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(y1, (x - mu) / np.sqrt(var + 1e-3) * g + b, rtol=1e-12)


# --------------------------------------------------------------------------- errors
def test_batch_norm_errors():
    x = Tensor(rand(4, 3))
    mm, mv = stats(3)
    with pytest.raises(OpError, match=r"batch_norm: gamma must have shape \(3,\), got \(4,\)"):
        batch_norm(x, np.ones(4), None, mm, mv)
    with pytest.raises(OpError, match=r"batch_norm: moving_mean must have shape \(3,\).*got \(2,\)"):
        batch_norm(x, None, None, Tensor(np.zeros(2)), mv)
    with pytest.raises(OpError, match="batch_norm: training=False needs moving_mean"):
        batch_norm(x, None, None, None, None, training=False)
    with pytest.raises(OpError, match="batch_norm: x must have rank >= 2"):
        batch_norm(Tensor(rand(3)), None, None, mm, mv)
    with pytest.raises(OpError, match="batch_norm: axis 2 is out of range"):
        batch_norm(x, None, None, mm, mv, axis=2)
    with pytest.raises(OpError, match="batch_norm: expected floating inputs"):
        batch_norm(np.ones((4, 3), np.int64), None, None, mm, mv)
    with pytest.raises(OpError, match="batch_norm: momentum must be in"):
        batch_norm(x, None, None, mm, mv, momentum=1.5)
    with pytest.raises(OpError, match="batch_norm: epsilon must be > 0"):
        batch_norm(x, None, None, mm, mv, epsilon=0)


def test_layer_norm_errors():
    x = Tensor(rand(2, 3, 4))
    with pytest.raises(OpError, match=r"layer_norm: gamma must have shape \(4,\).*got \(3,\)"):
        layer_norm(x, np.ones(3), None)
    with pytest.raises(OpError, match=r"layer_norm: beta must have shape \(3, 4\)"):
        layer_norm(x, None, np.ones(4), axis=(1, 2))
    with pytest.raises(OpError, match="layer_norm: axis 3 is out of range"):
        layer_norm(x, None, None, axis=3)
    with pytest.raises(OpError, match="layer_norm: repeated axis"):
        layer_norm(x, None, None, axis=(2, -1))
    with pytest.raises(OpError, match="layer_norm: axis must be an int or a tuple"):
        layer_norm(x, None, None, axis="last")
    with pytest.raises(OpError, match="layer_norm: expected floating inputs"):
        layer_norm(np.ones((2, 3), np.int32), None, None)
    with pytest.raises(OpError, match="different float dtypes"):
        layer_norm(x, Tensor(np.ones(4, np.float32)), None)
