"""conv2d_max_pool2d: a stride-1 conv (bias, ReLU) and 2x2 max pooling as one op, against the
two ops it replaces."""
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops import conv_pool as CP
from core.ops.conv import conv2d
from core.ops.conv_pool import conv2d_max_pool2d
from core.ops.pooling import max_pool2d

rng = np.random.default_rng(0)

# (x shape, kernel shape, padding): one channel (the per-tap im2col), odd and even sizes (an odd
# last row / column is left out by the pooling), "same" (with even sizes: the input gradient
# as a transposed convolution) and asymmetric explicit padding
CASES = [
    ((2, 8, 8, 1), (3, 3, 1, 4), "valid"),
    ((2, 7, 8, 1), (3, 3, 1, 3), "same"),
    ((3, 9, 7, 3), (3, 3, 3, 5), "valid"),
    ((2, 6, 7, 2), (3, 3, 2, 3), "same"),
    ((2, 6, 8, 3), (3, 3, 3, 4), "same"),
    ((2, 7, 6, 2), (2, 3, 2, 3), ((1, 0), (2, 1))),
    ((1, 5, 5, 4), (1, 1, 4, 2), "valid"),
]


def _pair(x, k, b, padding, activation):
    return max_pool2d(conv2d(x, k, b, padding=padding, activation=activation), 2)


def _grads(fn, arrays, needs, gy):
    ts = [Tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
    y = fn(*ts)
    y.backward(gy)
    return y.data, [t.grad if r else None for t, r in zip(ts, needs)]


# (block bytes, kept im2col bytes): one image per block, the im2col rebuilt for the kernel
# gradient; all in one block, kept from forward; one image per block, kept
BLOCKS = [(1, 0), (1 << 20, 1 << 30), (1, 1 << 30)]


@pytest.mark.parametrize("block_bytes,keep_bytes", BLOCKS)
@pytest.mark.parametrize("xs,ks,padding", CASES)
@pytest.mark.parametrize("activation,use_bias", [("relu", True), (None, True), ("relu", False)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_conv_then_max_pool(monkeypatch, block_bytes, keep_bytes, xs, ks, padding, activation, use_bias,
                                   dtype):
    monkeypatch.setattr(CP, "_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(CP, "_KEEP_COLS_BYTES", keep_bytes)
    x, k = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ks).astype(dtype)
    b = rng.standard_normal(ks[-1]).astype(dtype) if use_bias else None
    arrays = [x, k] + ([b] if use_bias else [])
    tb = Tensor(b) if use_bias else None
    want = _pair(Tensor(x), Tensor(k), tb, padding, activation)
    got = conv2d_max_pool2d(Tensor(x), Tensor(k), tb, padding=padding, activation=activation)
    assert got.shape == want.shape and got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # (equal but for the GEMMs' rounding, which may differ with the number of rows per GEMM)
    np.testing.assert_allclose(got.data, want.data, rtol=tol, atol=tol)

    gy = rng.standard_normal(want.shape).astype(dtype)
    pair = (lambda x_, k_, b_=None: _pair(x_, k_, b_, padding, activation))
    fused = (lambda x_, k_, b_=None: conv2d_max_pool2d(x_, k_, b_, padding=padding, activation=activation))
    only_bias = [[False, False, True]] if use_bias else []
    for needs in [[True] * len(arrays), [False] + [True] * (len(arrays) - 1)] + only_bias:
        _, want_g = _grads(pair, arrays, needs, gy)
        _, got_g = _grads(fused, arrays, needs, gy)
        for w, g in zip(want_g, got_g):
            if w is None:
                assert g is None
            else:
                np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30])
@pytest.mark.parametrize("xs,ks,padding", CASES)
@pytest.mark.parametrize("activation", ["relu", None])
def test_gradient_check(monkeypatch, keep_bytes, xs, ks, padding, activation):
    monkeypatch.setattr(CP, "_BLOCK_BYTES", 1)
    monkeypatch.setattr(CP, "_KEEP_COLS_BYTES", keep_bytes)
    # values kept apart so that no pooling window or ReLU sits on a tie / kink within the finite
    # difference's step
    x = rng.permutation(np.prod(xs)).reshape(xs) * 0.1 / np.prod(xs) ** 0.5
    k = rng.standard_normal(ks)
    b = rng.standard_normal(ks[-1]) * 0.01
    check_gradients(lambda x_, k_, b_: conv2d_max_pool2d(x_, k_, b_, padding=padding, activation=activation),
                    [x, k, b])


def test_ties_below_the_relu_get_no_gradient():
    """All-negative windows: the unfused pair routes the (zero) gradient to a ReLU zero, the fused
    op to the largest negative value; both give zero gradients there."""
    x = -np.abs(rng.standard_normal((1, 4, 4, 1))) - 1
    k = np.ones((1, 1, 1, 1))
    arrays, gy = [x, k, np.zeros(1)], np.ones((1, 2, 2, 1))
    _, want = _grads(lambda *a: _pair(*a, "valid", "relu"), arrays, [True] * 3, gy)
    y, got = _grads(lambda *a: conv2d_max_pool2d(*a, activation="relu"), arrays, [True] * 3, gy)
    assert np.all(y == 0)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
        assert not g.any()


def test_errors():
    x, k = Tensor(np.ones((1, 4, 4, 2))), Tensor(np.ones((3, 3, 2, 3)))
    assert conv2d_max_pool2d(x, k).shape == (1, 1, 1, 3)  # a 2x2 convolution output pools to 1x1
    with pytest.raises(OpError, match="smaller than the 2x2 pooling window"):
        conv2d_max_pool2d(Tensor(np.ones((1, 3, 4, 2))), k)  # 1x2
    with pytest.raises(OpError, match="expects 2 input channels"):
        conv2d_max_pool2d(Tensor(np.ones((1, 4, 4, 3))), k)
    with pytest.raises(OpError, match="activation must be None, 'linear' or 'relu'"):
        conv2d_max_pool2d(x, k, activation="tanh")
    with pytest.raises(OpError, match=r"bias must have shape \(3,\)"):
        conv2d_max_pool2d(x, k, Tensor(np.ones(2)))
    with pytest.raises(OpError, match="rank 4"):
        conv2d_max_pool2d(Tensor(np.ones((4, 4, 2))), k)
