"""keras.random (core.random): Keras's seed semantics and the distributions' moments."""
import numpy as np
import pytest

from core import Tensor
from core import random as R
from core.utils import set_random_seed


def _np(t):
    assert isinstance(t, Tensor)
    return t.data


@pytest.mark.parametrize("draw", [
    lambda s: R.normal((4, 3), seed=s),
    lambda s: R.uniform((5,), minval=-1, maxval=2, seed=s),
    lambda s: R.truncated_normal((6,), seed=s),
    lambda s: R.randint((7,), 0, 100, seed=s),
    lambda s: R.categorical(np.zeros((2, 5)), 4, seed=s),
    lambda s: R.shuffle(np.arange(10), seed=s),
    lambda s: R.gamma((5,), 2.0, seed=s),
    lambda s: R.binomial((5,), 10, 0.3, seed=s),
    lambda s: R.beta((5,), 2.0, 3.0, seed=s),
    lambda s: R.dropout(np.ones((4, 4), np.float32), 0.5, seed=s),
])
def test_seed_semantics(draw):
    a, b = _np(draw(3)), _np(draw(3))
    np.testing.assert_array_equal(a, b)  # an int seed: the same values at every call
    gen = R.SeedGenerator(3)
    c, d = _np(draw(gen)), _np(draw(gen))
    assert not np.array_equal(c, d)  # a SeedGenerator: new values at each call ...
    gen2 = R.SeedGenerator(3)
    np.testing.assert_array_equal(_np(draw(gen2)), c)  # ... the same sequence for the same seed
    np.testing.assert_array_equal(_np(draw(gen2)), d)
    set_random_seed(5)
    e = _np(draw(None))
    set_random_seed(5)
    np.testing.assert_array_equal(_np(draw(None)), e)  # None: the engine generator


def test_moments_and_ranges():
    n = 200_000
    z = _np(R.normal((n,), mean=2.0, stddev=3.0, seed=0))
    assert z.dtype == np.float32 and abs(z.mean() - 2) < 0.05 and abs(z.std() - 3) < 0.05
    u = _np(R.uniform((n,), minval=-2.0, maxval=6.0, dtype="float64", seed=0))
    assert u.dtype == np.float64 and u.min() >= -2 and u.max() < 6 and abs(u.mean() - 2) < 0.05
    t = _np(R.truncated_normal((n,), mean=1.0, stddev=0.5, seed=0))
    assert np.all(np.abs(t - 1.0) <= 1.0 + 1e-6) and abs(t.std() - 0.5 * 0.8796) < 0.01
    r = _np(R.randint((n,), 3, 9, seed=0))
    assert r.dtype == np.int32 and r.min() == 3 and r.max() == 8
    g = _np(R.gamma((n,), 3.0, seed=0))
    assert abs(g.mean() - 3.0) < 0.05 and abs(g.var() - 3.0) < 0.1
    b = _np(R.binomial((n,), 10, 0.25, seed=0))
    assert b.dtype == np.float32 and abs(b.mean() - 2.5) < 0.03 and set(np.unique(b)) <= set(range(11))
    be = _np(R.beta((n,), 2.0, 6.0, seed=0))
    assert abs(be.mean() - 0.25) < 0.005 and be.min() > 0 and be.max() < 1


def test_categorical_follows_softmax_and_never_draws_minus_inf():
    with np.errstate(divide="ignore"):
        logits = np.log(np.array([[0.1, 0.2, 0.7, 0.0], [0.5, 0.25, 0.25, 0.0]]))
    s = _np(R.categorical(logits, 50_000, seed=1))
    assert s.shape == (2, 50_000) and s.dtype == np.int32
    for row, p in zip(s, np.exp(logits)):
        np.testing.assert_allclose(np.bincount(row, minlength=4) / row.size, p, atol=0.01)
    assert not (s == 3).any()
    with pytest.raises(ValueError, match="2-D"):
        R.categorical(np.zeros(3), 2)


def test_dropout_scales_kept_values_and_is_differentiable():
    x = Tensor(np.ones((200, 100), np.float32), requires_grad=True)
    y = R.dropout(x, 0.25, seed=2)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.01 and np.allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75, rtol=1e-6)
    shared = R.dropout(np.ones((4, 6), np.float32), 0.5, noise_shape=(1, 6), seed=0).data
    assert (shared == shared[0]).all()


def test_shuffle_along_an_axis_is_a_permutation():
    x = np.arange(24).reshape(2, 12)
    s = _np(R.shuffle(x, axis=1, seed=4))
    assert sorted(s[0].tolist()) == list(range(12)) and (s[1] - s[0] == 12).all() and not (s == x).all()


def test_argument_errors_and_config():
    with pytest.raises(ValueError, match="floating point"):
        R.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="integer `dtype`"):
        R.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match="SeedGenerator"):
        R.normal((2,), seed="abc")
    with pytest.raises(ValueError, match="must be an integer"):
        R.SeedGenerator(1.5)
    with pytest.raises(TypeError, match="core.random.generator.uniform"):
        R.uniform((2,), "float32", np)
    with pytest.raises(TypeError, match="engine's array form"):
        R.normal((2,), np.float32)
    with pytest.raises(ValueError, match="alpha"):
        R.gamma((2,), -1.0)
    gen = R.SeedGenerator(7, name="g")
    again = R.SeedGenerator.from_config(gen.get_config())
    assert again.name == "g" and again.state.tolist() == [7, 0]
    assert R.SeedGenerator().state[0] != R.SeedGenerator().state[0]
