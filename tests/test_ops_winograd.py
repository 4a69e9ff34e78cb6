"""Winograd F(2x2, 3x3) (core/ops/winograd.py): equal to the direct convolution, and conv2d's
gradients through it (its threshold lowered so that small test layers take it)."""
import importlib
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
C = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function; the module by its path
from core.ops import winograd
from core.ops.conv import conv2d

rng = np.random.default_rng(0)


def direct(xpad, k, Ho, Wo):
    """Reference: the sum over the nine taps, in float64."""
    x = xpad.astype(np.float64)
    y = np.zeros((xpad.shape[0], Ho, Wo, k.shape[3]))
    for a in range(3):
        for b in range(3):
            y += np.einsum("nhwc,co->nhwo", x[:, a:a + Ho, b:b + Wo], k[a, b].astype(np.float64))
    return y


@pytest.mark.parametrize("shape,cout", [((2, 6, 8, 3), 4), ((1, 7, 5, 2), 3), ((3, 3, 3, 5), 2), ((1, 4, 9, 1), 1)])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 3e-6)])
def test_equals_direct_convolution(shape, cout, dtype, tol):
    """Even and odd output sizes (odd ones compute and drop a row/column of tiles)."""
    xpad = rng.standard_normal(shape).astype(dtype)
    k = rng.standard_normal((3, 3, shape[3], cout)).astype(dtype)
    Ho, Wo = shape[1] - 2, shape[2] - 2
    y = winograd.conv3x3(np, xpad, k, Ho, Wo)
    assert y.dtype == dtype and y.shape == (shape[0], Ho, Wo, cout) and y.flags.c_contiguous
    ref = direct(xpad, k, Ho, Wo)
    np.testing.assert_allclose(y, ref, rtol=0, atol=tol * np.abs(ref).max())


def test_wider_output_than_needed_input_is_cropped():
    """An input larger than Ho + 2 (the caller's padding) only contributes its top-left part."""
    xpad = rng.standard_normal((1, 9, 9, 2))
    k = rng.standard_normal((3, 3, 2, 2))
    np.testing.assert_allclose(winograd.conv3x3(np, xpad, k, 5, 4), direct(xpad, k, 5, 4), atol=1e-12)


def test_threshold():
    assert winograd.worth_it(256, 512) and not winograd.worth_it(128, 512) and not winograd.worth_it(512, 64)


@pytest.fixture
def always_winograd(monkeypatch):
    calls = []
    real = winograd.conv3x3

    def spy(*args):
        calls.append(args[2].shape)
        return real(*args)

    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "conv3x3", spy)
    return calls


@pytest.mark.parametrize("xs,pad", [((2, 5, 6, 3), "same"), ((1, 6, 7, 2), "valid"), ((1, 5, 5, 2), ((0, 2), (2, 0)))])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_gradients_through_winograd(always_winograd, xs, pad, activation):
    arrays = [rng.standard_normal(xs), rng.standard_normal((3, 3, xs[3], 4)), rng.standard_normal(4)]
    check_gradients(lambda x, k, b: conv2d(x, k, b, padding=pad, activation=activation), arrays)
    assert len(always_winograd) >= 1  # the forward (and, for same-size outputs, the input gradient)


def test_conv2d_float32_equals_im2col_path(always_winograd):
    x = rng.standard_normal((4, 10, 9, 6)).astype(np.float32)
    k = rng.standard_normal((3, 3, 6, 5)).astype(np.float32)
    y = conv2d(Tensor(x), Tensor(k), padding="same").numpy()
    assert always_winograd
    xpad = C._pad(np, x, ((1, 1), (1, 1)))
    ref = C._conv_gemm(np, xpad, ((0, 0), (0, 0)), k.reshape(-1, 5), 3, 3, 1, 1, 1, 1, 10, 9)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
