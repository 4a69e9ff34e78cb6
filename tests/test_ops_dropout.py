"""dropout and core.random: seeding, masks, scaling, noise_shape, gradients, dtypes and errors."""
import threading

import numpy as np
import pytest

from core import Tensor
from core.random import generator as zrandom
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops.dropout import dropout

rng = np.random.default_rng(0)


# --------------------------------------------------------------------------- core.random
def test_set_seed_reproduces_draws_and_seeds_numpy_legacy():
    zrandom.set_seed(123)
    a = zrandom.uniform((3, 4))
    b = zrandom.normal((5,), "float64", np, mean=2.0, stddev=0.5)
    m = zrandom.bernoulli_mask((100,), 0.3, "float32", np)
    legacy = np.random.rand(3)
    zrandom.set_seed(123)
    np.testing.assert_array_equal(a, zrandom.uniform((3, 4)))
    np.testing.assert_array_equal(b, zrandom.normal((5,), "float64", np, mean=2.0, stddev=0.5))
    np.testing.assert_array_equal(m, zrandom.bernoulli_mask((100,), 0.3, "float32", np))
    np.testing.assert_array_equal(legacy, np.random.rand(3))
    assert isinstance(zrandom.get_generator(), np.random.Generator)


def test_random_dtypes_and_ranges():
    zrandom.set_seed(0)
    u = zrandom.uniform((1000,), low=-2.0, high=3.0)
    assert u.dtype == np.float32 and u.min() >= -2.0 and u.max() < 3.0
    n = zrandom.normal((20000,), "float32", np, mean=1.0, stddev=2.0)
    assert n.dtype == np.float32 and abs(n.mean() - 1.0) < 0.1 and abs(n.std() - 2.0) < 0.1
    assert zrandom.uniform(4, "float64").dtype == np.float64
    m = zrandom.bernoulli_mask((20000,), 0.8, "float32", np)
    assert m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0} and abs(m.mean() - 0.8) < 0.02
    assert zrandom.bernoulli_mask((5,), 1.0, bool, np).all() and not zrandom.bernoulli_mask((5,), 0.0, bool, np).any()


def test_random_errors():
    with pytest.raises(ValueError, match="dtype must be floating"):
        zrandom.uniform((2,), "int32")
    with pytest.raises(ValueError, match="keep_prob must be in"):
        zrandom.bernoulli_mask((2,), 1.5, "float32", np)
    with pytest.raises(ValueError, match="non-negative integer"):
        zrandom.set_seed(-1)


def test_random_thread_safe_draws():
    zrandom.set_seed(7)
    out = []

    def work():
        for _ in range(50):
            out.append(zrandom.uniform((64,)))

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(out) == 200
    # every draw is a distinct slice of one stream: no two threads got the same numbers
    assert len({a.tobytes() for a in out}) == 200


# --------------------------------------------------------------------------- dropout
def test_dropout_scales_kept_values_and_zeroes_the_rest():
    x = rng.standard_normal((200, 50)).astype(np.float32) + 3.0
    y = dropout(Tensor(x), 0.25, seed=1).numpy()
    assert y.dtype == np.float32
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / np.float32(0.75), rtol=1e-7)
    assert abs(kept.mean() - 0.75) < 0.02


def test_dropout_identity_when_not_training_or_rate_zero():
    x = Tensor(rng.standard_normal((3, 4)))
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x


def test_dropout_seeds():
    x = Tensor(np.ones((10, 10), np.float32))
    np.testing.assert_array_equal(dropout(x, 0.5, seed=3).numpy(), dropout(x, 0.5, seed=3).numpy())
    assert not np.array_equal(dropout(x, 0.5, seed=3).numpy(), dropout(x, 0.5, seed=4).numpy())
    zrandom.set_seed(5)
    a = dropout(x, 0.5).numpy()
    b = dropout(x, 0.5).numpy()
    zrandom.set_seed(5)
    np.testing.assert_array_equal(a, dropout(x, 0.5).numpy())
    np.testing.assert_array_equal(b, dropout(x, 0.5).numpy())
    gen = np.random.default_rng(9)
    np.testing.assert_array_equal(dropout(x, 0.5, seed=gen).numpy(),
                                  dropout(x, 0.5, seed=np.random.default_rng(9)).numpy())


@pytest.mark.parametrize("noise_shape", [(4, 1, 1, 3), (None, 1, 1, None), (1, 5, 6, 1)])
def test_dropout_noise_shape_shares_the_mask(noise_shape):
    x = Tensor(np.ones((4, 5, 6, 3)))
    y = dropout(x, 0.5, noise_shape=noise_shape, seed=0).numpy()
    ns = tuple(s if n is None else n for n, s in zip(noise_shape, x.shape))
    for ax, n in enumerate(ns):
        if n == 1:  # constant along the shared axes (SpatialDropout2D drops whole channels)
            np.testing.assert_array_equal(y, np.take(y, [0], axis=ax).repeat(x.shape[ax], axis=ax))
    assert set(np.unique(y)) <= {0.0, 2.0}


@pytest.mark.parametrize("shape,noise_shape", [((4, 5), None), ((3, 4, 5), (3, 1, 5)), ((2, 3), (None, 1))])
def test_dropout_gradients(shape, noise_shape):
    x = rng.standard_normal(shape)
    check_gradients(lambda x: dropout(x, 0.4, noise_shape=noise_shape, seed=11), [x])


def test_dropout_gradient_is_masked_and_scaled_float32():
    x = Tensor(rng.standard_normal((30, 20)).astype(np.float32), requires_grad=True)
    y = dropout(x, 0.3, seed=2)
    y.sum().backward()
    assert x.grad.dtype == np.float32
    mask = y.numpy() != 0
    np.testing.assert_allclose(x.grad, np.where(mask, np.float32(1 / 0.7), 0), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("noise_shape", [None, (None, 1, None)])
def test_dropout_selects_as_where(dtype, noise_shape):
    """The kept entries scaled and the dropped ones +0.0 (by bit masks, not ``where``): the values
    of ``np.where(mask, x / keep, 0)`` bit for bit, infinities and NaN included, in both passes."""
    from core.ops.dropout import Dropout

    x = rng.standard_normal((4, 6, 5)).astype(dtype)
    x[0, :3, 0] = [np.inf, -np.inf, np.nan]
    gy = rng.standard_normal(x.shape).astype(dtype)
    ns = x.shape if noise_shape is None else (4, 1, 5)
    mask = rng.random(ns) > 0.4
    keep = dtype(0.6)
    t = Tensor(x, requires_grad=True)
    y = Dropout(mask, 0.6).apply(t)
    y.backward(gy)
    with np.errstate(all="ignore"):
        want_y, want_g = np.where(mask, x / keep, dtype(0)), np.where(mask, gy / keep, dtype(0))
    np.testing.assert_array_equal(y.data, want_y)
    assert not np.signbit(y.data[~np.broadcast_to(mask, x.shape)]).any()
    np.testing.assert_array_equal(t.grad, want_g)


def test_dropout_of_a_scalar():
    from core.ops.dropout import Dropout

    for keep_it in (np.True_, np.False_):
        t = Tensor(np.array(1.5, np.float32), requires_grad=True)
        y = Dropout(keep_it, 0.5).apply(t)
        y.backward()
        assert float(y.data) == (3.0 if keep_it else 0.0) and float(t.grad) == (2.0 if keep_it else 0.0)


def test_dropout_errors():
    x = Tensor(np.ones((2, 3)))
    for rate in (1.0, -0.1, 1.5):
        with pytest.raises(OpError, match=r"dropout: rate must be in \[0, 1\)"):
            dropout(x, rate)
    with pytest.raises(OpError, match="dropout: rate must be a number"):
        dropout(x, "0.5")
    with pytest.raises(OpError, match=r"dropout: noise_shape \(2, 3, 1\) must have the rank of x \(2, 3\)"):
        dropout(x, 0.5, noise_shape=(2, 3, 1))
    with pytest.raises(OpError, match=r"dropout: noise_shape \(2, 2\) does not broadcast to x \(2, 3\)"):
        dropout(x, 0.5, noise_shape=(2, 2))
    with pytest.raises(OpError, match="dropout: seed must be"):
        dropout(x, 0.5, seed=1.5)
    with pytest.raises(OpError, match="dropout: expected floating inputs"):
        dropout(np.ones(3, np.int64), 0.5)


def test_set_seed_reseeds_the_generator_in_place():
    gen = zrandom.get_generator()
    zrandom.set_seed(42)
    a = gen.random(3)
    zrandom.set_seed(42)
    assert zrandom.get_generator() is gen
    np.testing.assert_array_equal(a, gen.random(3))
    np.testing.assert_array_equal(a, np.random.default_rng(42).random(3))
