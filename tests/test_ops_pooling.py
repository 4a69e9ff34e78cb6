"""Max/average pooling (1-d, 2-d, global): gradients, Keras reference fixtures (family
``pool``), dtype preservation, gradient routing and errors."""
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops import pooling as P
from tests.fixture_utils import case_params

rng = np.random.default_rng(0)


def rand(*shape):
    return rng.standard_normal(shape)  # distinct values: no arg-max ties for the finite differences


# ----------------------------------------------------------------------------- gradients

POOL2D_GRAD = [
    # x shape, pool_size, strides, padding
    ((2, 4, 6, 3), 2, None, "valid"),
    ((1, 7, 6, 2), 3, 2, "same"),
    ((2, 6, 5, 2), 3, 2, "same"),
    ((1, 5, 5, 2), 3, 1, "same"),
    ((1, 5, 7, 2), (2, 3), (1, 2), "same"),
    ((1, 5, 7, 2), (2, 3), (1, 2), "valid"),
    ((1, 5, 5, 2), 2, None, "same"),
    ((1, 6, 6, 1), 2, 3, "valid"),   # stride > pool: skipped cells get zero gradient
]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("xs,pool,s,pad", POOL2D_GRAD)
def test_pool2d_gradients(mode, xs, pool, s, pad):
    fn = P.max_pool2d if mode == "max" else P.avg_pool2d
    check_gradients(lambda x: fn(x, pool, strides=s, padding=pad), [rand(*xs)])


POOL1D_GRAD = [
    ((2, 8, 3), 2, None, "valid"),
    ((2, 9, 2), 3, 2, "same"),
    ((1, 7, 2), 3, 1, "same"),
    ((2, 7, 2), 2, None, "same"),
]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("xs,pool,s,pad", POOL1D_GRAD)
def test_pool1d_gradients(mode, xs, pool, s, pad):
    fn = P.max_pool1d if mode == "max" else P.avg_pool1d
    check_gradients(lambda x: fn(x, pool, strides=s, padding=pad), [rand(*xs)])


@pytest.mark.parametrize("fn,xs", [
    (lambda x: P.global_avg_pool2d(x), (2, 3, 4, 3)),
    (lambda x: P.global_avg_pool2d(x, keepdims=True), (2, 3, 4, 3)),
    (lambda x: P.global_max_pool2d(x), (2, 3, 4, 3)),
    (lambda x: P.global_max_pool2d(x, keepdims=True), (2, 3, 4, 3)),
    (lambda x: P.global_avg_pool1d(x), (2, 5, 3)),
    (lambda x: P.global_max_pool1d(x, keepdims=True), (2, 5, 3)),
])
def test_global_pool_gradients(fn, xs):
    check_gradients(fn, [rand(*xs)])


def test_max_pool_routes_to_first_argmax():
    """A window of equal values sends its whole gradient to its first (top-left) cell."""
    x = Tensor(np.ones((1, 4, 4, 1)), requires_grad=True)
    P.max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(x.grad[0, :, :, 0], expected)


@pytest.mark.parametrize("xs,pool,pad", [((2, 6, 8, 3), 2, "valid"), ((1, 7, 5, 2), 2, "valid"),
                                         ((1, 7, 5, 2), 2, "same"), ((2, 9, 6, 2), 3, "valid")])
def test_max_pool_ties_route_to_first_argmax_in_row_major_order(xs, pool, pad):
    """Values from {0, 1, 2} (many ties): each window's gradient goes to its first maximum
    (row-major), as the general path and TensorFlow do; cells outside every window get none."""
    x = rng.integers(0, 3, xs).astype(np.float64)
    t = Tensor(x, requires_grad=True)
    y = P.max_pool2d(t, pool, padding=pad)
    g = rng.standard_normal(y.shape)
    (y * Tensor(g)).sum().backward()
    ref = np.zeros_like(x)
    for n in range(xs[0]):
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                for c in range(xs[3]):
                    win = x[n, i * pool:(i + 1) * pool, j * pool:(j + 1) * pool, c]
                    a, b = np.unravel_index(np.argmax(win), win.shape)  # first maximum, row-major
                    assert y.data[n, i, j, c] == win.max()
                    ref[n, i * pool + a, j * pool + b, c] += g[n, i, j, c]
    np.testing.assert_array_equal(t.grad, ref)


@pytest.mark.parametrize("xs,pool,s", [((2, 7, 7, 2), 3, 2), ((1, 6, 7, 3), 3, 1), ((2, 8, 9, 2), (2, 3), (1, 2))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overlapping_max_pool_matches_windows_with_ties(xs, pool, s, dtype):
    """Overlapping windows (values from {0, 1, 2}: many ties): the inference output (maxima of
    the rows, then of the columns), the training output, and the gradient, which each window
    adds to its first maximum (row-major), against a loop over the windows."""
    x = rng.integers(0, 3, xs).astype(dtype)
    ph, pw = (pool, pool) if isinstance(pool, int) else pool
    sh, sw = (s, s) if isinstance(s, int) else s
    y_inf = P.max_pool2d(Tensor(x), pool, strides=s).numpy()
    t = Tensor(x, requires_grad=True)
    y = P.max_pool2d(t, pool, strides=s)
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * Tensor(g)).sum().backward()
    want, ref = np.zeros(y.shape, dtype), np.zeros_like(x)
    for n in range(xs[0]):
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                for c in range(xs[3]):
                    win = x[n, i * sh:i * sh + ph, j * sw:j * sw + pw, c]
                    a, b = np.unravel_index(np.argmax(win), win.shape)
                    want[n, i, j, c] = win.max()
                    ref[n, i * sh + a, j * sw + b, c] += g[n, i, j, c]
    np.testing.assert_array_equal(y_inf, want)
    np.testing.assert_array_equal(y.numpy(), want)
    tol = 1e-6 if dtype == np.float32 else 1e-14  # (sums of a few O(1) shares, in another order)
    np.testing.assert_allclose(t.grad, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("pool,s,pad", [(3, 2, "valid"), (3, 1, "same"), (4, 3, "valid")])
def test_overlapping_max_pool1d_matches_windows(pool, s, pad):
    x = rng.standard_normal((2, 11, 3))
    y = P.max_pool1d(Tensor(x), pool, strides=s, padding=pad).numpy()
    xp_ = x if pad == "valid" else np.pad(x, ((0, 0), ((pool - 1) // 2, pool // 2), (0, 0)),
                                         constant_values=-np.inf)
    n = (xp_.shape[1] - pool) // s + 1
    want = np.stack([xp_[:, i * s:i * s + pool].max(axis=1) for i in range(n)], axis=1)
    np.testing.assert_array_equal(y, want)


def test_overlapping_max_pool_image_groups(monkeypatch):
    """All images as one group (as on a GPU) or a few give what one image at a time gives; an
    empty batch pools to an empty batch."""
    x = rng.integers(0, 3, (3, 7, 6, 2)).astype(np.float64)
    g = rng.standard_normal((3, 4, 3, 2))

    def run():
        t = Tensor(x, requires_grad=True)
        y = P.max_pool2d(t, 3, strides=2, padding="same")
        (y * Tensor(g)).sum().backward()
        return P.max_pool2d(Tensor(x), 3, strides=2, padding="same").numpy(), y.numpy(), t.grad

    monkeypatch.setattr(P, "_GROUP_ELEMENTS", 1)   # one image a group
    one_by_one = run()
    monkeypatch.setattr(P, "_GROUP_ELEMENTS", 30)   # groups of 2 images and a last one of 1
    np.testing.assert_array_equal(one_by_one[1], run()[1])
    monkeypatch.setattr(P, "_image_groups", lambda xp, n0, n1, per_image: [(n0, n1)])
    for a, b in zip(one_by_one, run()):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    e = Tensor(np.zeros((0, 7, 6, 2)), requires_grad=True)
    ye = P.max_pool2d(e, 3, strides=2)
    assert ye.shape == (0, 3, 2, 2)
    ye.sum().backward()
    assert e.grad.shape == (0, 7, 6, 2)


def test_avg_pool_same_excludes_padding():
    x = np.ones((1, 5, 5, 1))
    np.testing.assert_allclose(P.avg_pool2d(x, 3, strides=2, padding="same").numpy(), 1.0)
    t = Tensor(x, requires_grad=True)
    P.avg_pool2d(t, 2, padding="same").sum().backward()
    # last row/column windows hold 2 (or 1) real cells: their cells get 1/2 (or 1)
    expected = np.full((5, 5), 0.25)
    expected[4, :4] = expected[:4, 4] = 0.5
    expected[4, 4] = 1.0
    np.testing.assert_allclose(t.grad[0, :, :, 0], expected)


def test_max_pool_same_ignores_padding():
    x = -np.abs(rand(1, 5, 5, 2)) - 1  # all negative: a zero pad would win
    y = P.max_pool2d(x, 3, strides=2, padding="same").numpy()
    assert (y < 0).all()


# ----------------------------------------------------------------------------- fixtures


def _run_case(case, dtype):
    p = dict(case.params)
    op = p.pop("op")
    return getattr(P, op)(Tensor(case.arrays["x"].astype(dtype)), **p)


@pytest.mark.parametrize("case", case_params("pool"))
def test_pool_fixtures(case):
    ref = case.arrays["y"]
    y64 = _run_case(case, np.float64)
    assert y64.shape == ref.shape and y64.dtype == np.float64
    np.testing.assert_allclose(y64.numpy(), ref, rtol=1e-5, atol=1e-7)
    y32 = _run_case(case, np.float32)
    assert y32.shape == ref.shape and y32.dtype == np.float32
    # atol covers float32 round-off on averages near zero
    np.testing.assert_allclose(y32.numpy(), ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- dtype


@pytest.mark.parametrize("fn,xs", [
    (lambda x: P.max_pool2d(x, 3, 2, "same"), (2, 7, 6, 3)),
    (lambda x: P.avg_pool2d(x, 3, 2, "same"), (2, 7, 6, 3)),
    (lambda x: P.avg_pool2d(x, 2), (2, 6, 6, 3)),
    (lambda x: P.max_pool1d(x, 2, padding="same"), (2, 7, 3)),
    (lambda x: P.avg_pool1d(x, 3, 1, "same"), (2, 7, 3)),
    (lambda x: P.global_avg_pool2d(x), (2, 3, 4, 3)),
    (lambda x: P.global_max_pool2d(x, keepdims=True), (2, 3, 4, 3)),
    (lambda x: P.global_avg_pool1d(x), (2, 5, 3)),
    (lambda x: P.global_max_pool1d(x), (2, 5, 3)),
])
def test_float32_preserved(fn, xs):
    x = Tensor(rand(*xs).astype(np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    (y * 1.5).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


# ----------------------------------------------------------------------------- errors

X4 = np.zeros((1, 5, 5, 3), np.float32)


@pytest.mark.parametrize("call,match", [
    (lambda: P.max_pool2d(Tensor(X4[0]), 2), r"max_pool2d: x must have rank 4"),
    (lambda: P.avg_pool2d(Tensor(X4), 2, padding="full"), r"avg_pool2d: padding must be 'valid' or 'same'"),
    (lambda: P.max_pool2d(Tensor(X4), 0), r"max_pool2d: pool_size must be >= 1"),
    (lambda: P.max_pool2d(Tensor(X4), (2, 2, 2)), r"pool_size must be an int or a sequence of 2"),
    (lambda: P.avg_pool2d(Tensor(X4), 2, strides=0), r"avg_pool2d: strides must be >= 1"),
    (lambda: P.max_pool2d(Tensor(X4), 6), r"smaller than pool_size"),
    (lambda: P.max_pool2d(np.zeros((1, 4, 4, 1), np.int64), 2), r"max_pool2d: expected floating"),
    (lambda: P.max_pool1d(Tensor(X4), 2), r"max_pool1d: x must have rank 3"),
    (lambda: P.avg_pool1d(Tensor(X4[0]), 6), r"avg_pool1d: input of spatial size \(5,\) is smaller"),
    (lambda: P.global_avg_pool2d(Tensor(X4[0])), r"global_avg_pool2d: x must have rank 4"),
    (lambda: P.global_max_pool1d(Tensor(X4)), r"global_max_pool1d: x must have rank 3"),
    (lambda: P.global_max_pool2d(Tensor(np.zeros((1, 0, 3, 2), np.float32))), r"empty"),
])
def test_errors(call, match):
    with pytest.raises(OpError, match=match):
        call()
