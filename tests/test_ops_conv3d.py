"""core.ops.conv3d / conv3d_transpose / max_pool3d / avg_pool3d: float64 finite-difference gradient
checks, a direct-sum reference for conv3d, and errors. (Keras parity of the layers built on them:
tests/test_layers_catalog.py.)"""
import numpy as np
import pytest

from core import ops
from core.autodiff import Tensor
from core.gradient_check import check_gradients
from core.ops import OpError

rng = np.random.default_rng(0)


@pytest.mark.parametrize("kw", [dict(), dict(strides=(2, 1, 2), padding="same"), dict(dilation=(2, 1, 1)),
                                dict(groups=2)])
def test_conv3d_gradients(kw):
    x = rng.standard_normal((1, 5, 4, 4, 4))
    k = rng.standard_normal((2, 2, 3, 4 // kw.get("groups", 1), 2))
    b = rng.standard_normal(2)
    check_gradients(lambda x_, k_, b_: ops.conv3d(x_, k_, b_, **kw), [x, k, b])


@pytest.mark.parametrize("kw", [dict(), dict(strides=2, padding="same"),
                                dict(strides=(2, 1, 2), output_padding=(1, 0, 1)), dict(dilation=(2, 1, 1))])
def test_conv3d_transpose_gradients(kw):
    x = rng.standard_normal((1, 3, 2, 3, 2))
    k = rng.standard_normal((3, 2, 2, 3, 2))
    check_gradients(lambda x_, k_: ops.conv3d_transpose(x_, k_, **kw), [x, k])


@pytest.mark.parametrize("fn", [ops.max_pool3d, ops.avg_pool3d])
@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=(3, 2, 2), strides=(2, 1, 2), padding="same")])
def test_pool3d_gradients(fn, kw):
    x = rng.standard_normal((1, 5, 4, 5, 2))
    check_gradients(lambda x_: fn(x_, **kw), [x])


def test_conv3d_matches_direct_sum():
    x = rng.standard_normal((2, 4, 5, 3, 2))
    k = rng.standard_normal((2, 3, 2, 2, 3))
    got = ops.conv3d(Tensor(x), Tensor(k), strides=(1, 2, 1)).numpy()
    od, oh, ow = 3, 2, 2
    want = np.zeros((2, od, oh, ow, 3))
    for a in range(2):
        for b in range(3):
            for c in range(2):
                patch = x[:, a:a + od, b:b + 2 * oh - 1:2, c:c + ow]
                want += np.einsum("ndhwi,io->ndhwo", patch, k[a, b, c])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_pool3d_matches_numpy_valid():
    x = rng.standard_normal((2, 4, 4, 6, 3))
    r = x.reshape(2, 2, 2, 2, 2, 3, 2, 3)
    np.testing.assert_allclose(ops.max_pool3d(Tensor(x), 2).numpy(), r.max(axis=(2, 4, 6)))
    np.testing.assert_allclose(ops.avg_pool3d(Tensor(x), 2).numpy(), r.mean(axis=(2, 4, 6)), rtol=1e-12)


def test_errors():
    with pytest.raises(OpError, match="conv3d: expected x"):
        ops.conv3d(Tensor(np.zeros((1, 3, 3, 3))), Tensor(np.zeros((1, 1, 1, 3, 2))))
    with pytest.raises(OpError, match="larger than the input depth"):
        ops.conv3d(Tensor(np.zeros((1, 2, 3, 3, 1))), Tensor(np.zeros((3, 1, 1, 1, 1))))
    with pytest.raises(OpError, match="padding"):
        ops.max_pool3d(Tensor(np.zeros((1, 2, 2, 2, 1))), 2, padding="full")
