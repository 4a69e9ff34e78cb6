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

    def spy(*args, **kwargs):
        calls.append(args[2].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "conv3x3", spy)
    return calls


@pytest.mark.parametrize("xs,pad", [((2, 5, 6, 3), "same"), ((1, 6, 7, 2), "valid"), ((1, 5, 5, 2), ((0, 2), (2, 0)))])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("winograd_grads", [False, True])
def test_conv2d_gradients_through_winograd(always_winograd, monkeypatch, xs, pad, activation, winograd_grads):
    """The forward by Winograd; the gradients by the im2col paths or in the Winograd domain."""
    monkeypatch.setattr(C, "_WINOGRAD_GRADS_MIN_PIXELS", 0 if winograd_grads else 1 << 40)
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


def test_forward_threshold():
    """A layer's forward takes Winograd from 32 channels each and Cin * Cout >= 2048 on, for images
    of 144 outputs to 1024 output tiles; its input gradient (the full convolution of dy) only for
    wide layers."""
    hw = (28, 28)
    assert winograd.worth_it(32, 64, True, hw) and winograd.worth_it(64, 32, True, hw)
    assert not winograd.worth_it(32, 64) and not winograd.worth_it(32, 32, True, hw)
    assert not winograd.worth_it(16, 256, True, hw)
    assert winograd.worth_it(64, 64, True, (64, 64)) and not winograd.worth_it(64, 64, True, (65, 64))
    assert winograd.worth_it(64, 64, True, (12, 12)) and not winograd.worth_it(64, 64, True, (11, 11))
    assert winograd.worth_it(256, 256, True, (224, 224)) and winograd.worth_it(256, 256, True, (7, 7))


@pytest.mark.parametrize("block_bytes", [1, 20000, 1 << 30])
@pytest.mark.parametrize("shape,cout", [((5, 6, 8, 3), 4), ((3, 7, 5, 2), 3)])
def test_image_blocks_over_threads_equal_direct_convolution(monkeypatch, block_bytes, shape, cout):
    """Blocks of one image, of a few, and the whole batch, shared out among the intra-op threads."""
    monkeypatch.setattr(winograd, "_BLOCK_BYTES", block_bytes)
    xpad = rng.standard_normal(shape)
    k = rng.standard_normal((3, 3, shape[3], cout))
    Ho, Wo = shape[1] - 2, shape[2] - 2
    np.testing.assert_allclose(winograd.conv3x3(np, xpad, k, Ho, Wo), direct(xpad, k, Ho, Wo), rtol=0, atol=1e-12)


@pytest.mark.parametrize("pad,activation", [("valid", "relu"), ("same", None)])
@pytest.mark.parametrize("hw", [(8, 7), (14, 16)])
@pytest.mark.parametrize("grad_of", ["all", "x", "kernel"])
def test_conv2d_forward_threshold_equals_the_reference(monkeypatch, pad, activation, hw, grad_of):
    """A 32 -> 64 channel layer (forward by Winograd; backward by the im2col paths on the small
    map, in the Winograd domain on the larger one) against the plain reference op: values and
    gradients."""
    from core.ops import reference
    monkeypatch.setattr(winograd, "FORWARD_MIN_PIXELS", 1)
    x = rng.standard_normal((2,) + hw + (32,)).astype(np.float32)
    k = (rng.standard_normal((3, 3, 32, 64)) * 0.1).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    assert C._uses_winograd(3, 3, 1, 1, 1, 1, 32, 64, True, hw)

    def run():
        ts = [Tensor(a, requires_grad=grad_of in ("all", name)) for a, name in ((x, "x"), (k, "kernel"), (b, "b"))]
        y = conv2d(*ts, padding=pad, activation=activation)
        y.backward(np.cos(np.arange(y.size, dtype=np.float32)).reshape(y.shape))
        return [y.numpy()] + [t.grad for t in ts]

    fast = run()
    monkeypatch.setattr(C, "Conv2D", reference.Conv2D)
    for a, r in zip(fast, run()):
        if r is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4)


def direct_grads(xpad, k, dy):
    """Reference gradients of the valid 3x3 cross-correlation, in float64."""
    Ho, Wo = dy.shape[1:3]
    dk, dx = np.zeros(k.shape), np.zeros(xpad.shape)
    for a in range(3):
        for b in range(3):
            dk[a, b] = np.einsum("nhwc,nhwo->co", xpad[:, a:a + Ho, b:b + Wo], dy)
            dx[:, a:a + Ho, b:b + Wo] += np.einsum("nhwo,co->nhwc", dy, k[a, b])
    return dx, dk


@pytest.mark.parametrize("block_bytes", [1, 1 << 30])
@pytest.mark.parametrize("shape,cout,hw", [((2, 6, 8, 3), 4, (4, 6)), ((3, 7, 5, 2), 3, (5, 3)),
                                           ((3, 9, 9, 5), 2, (7, 6)),      # input larger than needed
                                           ((2, 11, 10, 3), 2, (9, 8))])
def test_grads_equal_direct(monkeypatch, block_bytes, shape, cout, hw):
    """conv3x3_grads: the kernel and input gradients (each alone too), odd sizes (zero-extended
    dy tiles), image blocks over the intra-op threads."""
    monkeypatch.setattr(winograd, "_BLOCK_BYTES", block_bytes)
    xpad, k = rng.standard_normal(shape), rng.standard_normal((3, 3, shape[3], cout))
    dy = rng.standard_normal((shape[0],) + hw + (cout,))
    ref_dx, ref_dk = direct_grads(xpad, k, dy)
    dx, dk = winograd.conv3x3_grads(np, dy, xpad.shape, xpad=xpad, kernel=k)
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dk, ref_dk, rtol=0, atol=1e-12)
    assert winograd.conv3x3_grads(np, dy, xpad.shape, kernel=k)[1] is None
    assert winograd.conv3x3_grads(np, dy, xpad.shape, xpad=xpad)[0] is None
    f32 = winograd.conv3x3_grads(np, dy.astype(np.float32), xpad.shape, xpad=xpad.astype(np.float32),
                                 kernel=k.astype(np.float32))
    assert all(g.dtype == np.float32 and g.flags.c_contiguous for g in f32)
    np.testing.assert_allclose(f32[0], ref_dx, rtol=0, atol=3e-6 * np.abs(ref_dx).max())
    np.testing.assert_allclose(f32[1], ref_dk, rtol=0, atol=3e-6 * np.abs(ref_dk).max())
