"""Winograd F(2x2, 3x3) and F(4x4, 3x3) (core/ops/winograd.py): equal to the direct convolution, and
conv2d's gradients through it (its thresholds lowered so that small test layers take it)."""
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


# float32 error relative to the largest output: the 4x4 tiles' transforms have larger entries
F32_TOL = {2: 3e-6, 4: 1e-5}


@pytest.mark.parametrize("m", [2, 4])
def test_transforms_give_the_1d_correlation(m):
    """A^T [(G g) * (B^T d)] is the valid correlation of m + 2 inputs with 3 taps."""
    bt, g, at = winograd.transforms(m)
    assert bt.shape == (m + 2, m + 2) and g.shape == (m + 2, 3) and at.shape == (m, m + 2)
    for _ in range(5):
        d, taps = rng.standard_normal(m + 2), rng.standard_normal(3)
        ref = [d[i:i + 3] @ taps for i in range(m)]
        np.testing.assert_allclose(at @ ((g @ taps) * (bt @ d)), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("r,k", [(6, 6), (4, 6), (6, 4), (2, 4)])
def test_tile_transform_is_the_kronecker_product(r, k):
    """The 2-d transform as two 1-d GEMMs equals kron(t, t) @ x, also on a strided slice of tiles."""
    t = rng.standard_normal((r, k))
    x = rng.standard_normal((k * k, 5, 3, 4))[:, 1:4]
    y = winograd._transform_tiles(np, t, x)
    assert y.shape == (r * r, 3, 3, 4)
    np.testing.assert_allclose(y.reshape(r * r, -1), np.kron(t, t) @ x.reshape(k * k, -1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("shape,cout", [((2, 6, 8, 3), 4), ((1, 7, 5, 2), 3), ((3, 3, 3, 5), 2), ((1, 4, 9, 1), 1),
                                        ((2, 11, 10, 3), 2), ((2, 10, 6, 3), 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_direct_convolution(shape, cout, dtype, m):
    """Output sizes that the tiles divide and that they do not (the last tiles compute and drop
    rows/columns)."""
    xpad = rng.standard_normal(shape).astype(dtype)
    k = rng.standard_normal((3, 3, shape[3], cout)).astype(dtype)
    Ho, Wo = shape[1] - 2, shape[2] - 2
    y = winograd.conv3x3(np, xpad, k, Ho, Wo, m=m)
    assert y.dtype == dtype and y.shape == (shape[0], Ho, Wo, cout) and y.flags.c_contiguous
    ref = direct(xpad, k, Ho, Wo)
    tol = 1e-12 if dtype == np.float64 else F32_TOL[m]
    np.testing.assert_allclose(y, ref, rtol=0, atol=tol * np.abs(ref).max())


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("hw", [(8, 4), (5, 7)])
def test_bias_added_in_the_tiles(m, hw):
    """The bias, added to the one tile position that the output transform adds to every output,
    lands on every output once (also where the last tiles are cropped)."""
    xpad = rng.standard_normal((2, hw[0] + 2, hw[1] + 2, 3))
    k, b = rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)
    y = winograd.conv3x3(np, xpad, k, *hw, m=m, bias=b)
    np.testing.assert_allclose(y, direct(xpad, k, *hw) + b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("m", [2, 4])
def test_wider_output_than_needed_input_is_cropped(m):
    """An input larger than Ho + 2 (the caller's padding) only contributes its top-left part."""
    xpad = rng.standard_normal((1, 11, 11, 2))
    k = rng.standard_normal((3, 3, 2, 2))
    np.testing.assert_allclose(winograd.conv3x3(np, xpad, k, 5, 4, m=m), direct(xpad, k, 5, 4), atol=1e-12)


def test_tile_size():
    """4x4 tiles, where allowed, for wide layers where they cover about what 2x2 tiles cover; else 2x2."""
    assert winograd.tile_size(32, 64, (28, 28), True) == 4 and winograd.tile_size(64, 32, (30, 30), True) == 4
    assert winograd.tile_size(512, 512, (7, 7), True) == 4  # 8x8 covered either way
    assert winograd.tile_size(64, 64, (9, 9), True) == 2  # 12x12 against 10x10
    assert winograd.tile_size(256, 256, (14, 14), True) == 2  # 16x16 against 14x14
    assert winograd.tile_size(16, 64, (28, 28), True) == 2 and winograd.tile_size(64, 16, (28, 28), True) == 2
    assert winograd.tile_size(32, 64, (28, 28)) == 2 and winograd.tile_size(512, 512, (56, 56), False) == 2


def test_threshold():
    assert winograd.worth_it(256, 512) and not winograd.worth_it(128, 512) and not winograd.worth_it(512, 64)


@pytest.fixture
def always_winograd(monkeypatch):
    calls = []
    real = winograd.conv3x3

    def spy(*args, **kwargs):
        calls.append((args[2].shape, kwargs.get("m", 2)))
        return real(*args, **kwargs)

    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "conv3x3", spy)
    return calls


@pytest.mark.parametrize("xs,pad", [((2, 5, 6, 3), "same"), ((1, 6, 7, 2), "valid"), ((1, 5, 5, 2), ((0, 2), (2, 0)))])
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("winograd_grads", [False, True])
@pytest.mark.parametrize("m", [2, 4])
def test_conv2d_gradients_through_winograd(always_winograd, monkeypatch, xs, pad, activation, winograd_grads, m):
    """The forward by Winograd (2x2 or 4x4 tiles); the gradients by the im2col paths or in the
    Winograd domain."""
    monkeypatch.setattr(C, "_WINOGRAD_GRADS_MIN_PIXELS", 0 if winograd_grads else 1 << 40)
    monkeypatch.setattr(winograd, "LARGE_TILE_MIN_CHANNELS", 1 if m == 4 else 1 << 30)
    monkeypatch.setattr(winograd, "LARGE_TILE_MAX_COVER", 100)
    arrays = [rng.standard_normal(xs), rng.standard_normal((3, 3, xs[3], 4)), rng.standard_normal(4)]
    check_gradients(lambda x, k, b: conv2d(x, k, b, padding=pad, activation=activation), arrays)
    assert len(always_winograd) >= 1  # the forward (and, for same-size outputs, the input gradient)
    # (the finite differences' forward calls take no gradients: 2x2 tiles under "auto")
    assert m in {used for _, used in always_winograd} <= {2, m}


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
    of 144 outputs to 1024 output tiles (4x4 tiles up to 128x128 outputs); its input gradient (the
    full convolution of dy) only for wide layers."""
    hw = (28, 28)
    assert winograd.worth_it(32, 64, True, hw) and winograd.worth_it(64, 32, True, hw)
    assert not winograd.worth_it(32, 64) and not winograd.worth_it(32, 32, True, hw)
    assert not winograd.worth_it(16, 256, True, hw)
    assert winograd.worth_it(64, 64, True, (64, 64)) and not winograd.worth_it(64, 64, True, (65, 64))
    assert winograd.worth_it(64, 64, True, (128, 128), large=True)  # counted in 4x4 tiles
    # 4x4 tiles from 32 channels on any map they cover (the 2x2 tiles' product and size limits off)
    assert winograd.worth_it(32, 32, True, (16, 16), large=True) and winograd.worth_it(64, 64, True, (4, 4), True)
    assert not winograd.worth_it(64, 64, True, (9, 9), large=True)   # 2x2 tiles there: 81 outputs
    assert not winograd.worth_it(16, 64, True, (28, 28), large=True) and not winograd.worth_it(32, 32, False, (16, 16), True)
    assert not winograd.worth_it(64, 64, True, (129, 128), large=True)
    assert winograd.worth_it(64, 64, True, (12, 12)) and not winograd.worth_it(64, 64, True, (11, 11))
    assert winograd.worth_it(256, 256, True, (224, 224)) and winograd.worth_it(256, 256, True, (7, 7))


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("block_bytes", [1, 20000, 1 << 30])
@pytest.mark.parametrize("shape,cout", [((5, 6, 8, 3), 4), ((3, 7, 5, 2), 3), ((3, 10, 6, 2), 3)])
def test_image_blocks_over_threads_equal_direct_convolution(monkeypatch, block_bytes, shape, cout, m):
    """Blocks of one image, of a few, and the whole batch, shared out among the intra-op threads."""
    monkeypatch.setattr(winograd, "_BLOCK_BYTES", block_bytes)
    xpad = rng.standard_normal(shape)
    k = rng.standard_normal((3, 3, shape[3], cout))
    Ho, Wo = shape[1] - 2, shape[2] - 2
    np.testing.assert_allclose(winograd.conv3x3(np, xpad, k, Ho, Wo, m=m), direct(xpad, k, Ho, Wo),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("hw,pad,activation,m", [((8, 7), "valid", "relu", 2), ((8, 7), "same", None, 4),
                                                 ((14, 16), "valid", "relu", 4), ((14, 16), "same", None, 4),
                                                 ((9, 10), "valid", "relu", 4), ((9, 10), "same", None, 2)])
@pytest.mark.parametrize("grad_of", ["all", "x", "kernel"])
def test_conv2d_forward_threshold_equals_the_reference(monkeypatch, pad, activation, hw, m, grad_of):
    """A 32 -> 64 channel layer (forward by Winograd with 4x4 or 2x2 tiles; backward by the im2col
    paths on the small maps, in the Winograd domain on the larger ones) against the plain
    reference op: values and gradients."""
    from core.ops import reference
    monkeypatch.setattr(winograd, "FORWARD_MIN_PIXELS", 1)
    Ho, Wo = (hw[0] - 2, hw[1] - 2) if pad == "valid" else hw
    assert winograd.tile_size(32, 64, (Ho, Wo), True) == m  # (gradients are taken: "auto" allows 4x4)
    x = rng.standard_normal((2,) + hw + (32,)).astype(np.float32)
    k = (rng.standard_normal((3, 3, 32, 64)) * 0.1).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    assert C._uses_winograd(3, 3, 1, 1, 1, 1, 32, 64, True, hw)
    # no gradient flows from outputs whose pre-activation is within rounding of 0, where the ReLU
    # masks of the two paths may differ
    xpad = x if pad == "valid" else C._pad(np, x, ((1, 1), (1, 1)))
    gy = np.cos(np.arange(2 * Ho * Wo * 64)).reshape(2, Ho, Wo, 64).astype(np.float32)
    gy[np.abs(direct(xpad, k, Ho, Wo) + b) < 1e-4] = 0

    def run():
        ts = [Tensor(a, requires_grad=grad_of in ("all", name)) for a, name in ((x, "x"), (k, "kernel"), (b, "b"))]
        y = conv2d(*ts, padding=pad, activation=activation)
        y.backward(gy)
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
                                           ((2, 11, 10, 3), 2, (9, 8)),
                                           ((3, 10, 10, 3), 2, (8, 8))])  # tiles of 2 and 4 divide it
@pytest.mark.parametrize("m", [2, 4])
def test_grads_equal_direct(monkeypatch, block_bytes, shape, cout, hw, m):
    """conv3x3_grads: the kernel and input gradients (each alone too), odd sizes (zero-extended
    dy tiles), image blocks over the intra-op threads."""
    monkeypatch.setattr(winograd, "_BLOCK_BYTES", block_bytes)
    xpad, k = rng.standard_normal(shape), rng.standard_normal((3, 3, shape[3], cout))
    dy = rng.standard_normal((shape[0],) + hw + (cout,))
    ref_dx, ref_dk = direct_grads(xpad, k, dy)
    dx, dk = winograd.conv3x3_grads(np, dy, xpad.shape, xpad=xpad, kernel=k, m=m)
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dk, ref_dk, rtol=0, atol=1e-12)
    only_dx = winograd.conv3x3_grads(np, dy, xpad.shape, kernel=k, m=m)
    assert only_dx[1] is None
    np.testing.assert_allclose(only_dx[0], ref_dx, rtol=0, atol=1e-12)
    only_dk = winograd.conv3x3_grads(np, dy, xpad.shape, xpad=xpad, m=m)
    assert only_dk[0] is None
    np.testing.assert_allclose(only_dk[1], ref_dk, rtol=0, atol=1e-12)
    f32 = winograd.conv3x3_grads(np, dy.astype(np.float32), xpad.shape, xpad=xpad.astype(np.float32),
                                 kernel=k.astype(np.float32), m=m)
    assert all(g.dtype == np.float32 and g.flags.c_contiguous for g in f32)
    np.testing.assert_allclose(f32[0], ref_dx, rtol=0, atol=F32_TOL[m] * np.abs(ref_dx).max())
    np.testing.assert_allclose(f32[1], ref_dk, rtol=0, atol=F32_TOL[m] * np.abs(ref_dk).max())


@pytest.mark.parametrize("precision,grad,m", [("auto", True, 4), ("auto", False, 2), ("highest", True, 2),
                                              ("highest", False, 2), ("high", True, 4), ("high", False, 4)])
def test_conv_precision_decides_the_tiles(always_winograd, monkeypatch, precision, grad, m):
    """4x4 tiles where gradients are taken ("auto"), always ("high") or never ("highest"); the
    values within each's rounding of the direct product."""
    from core import backend
    from core.autodiff import no_grad
    monkeypatch.setattr(backend.config, "_conv_precision", "auto")
    backend.set_conv_precision(precision)
    x = rng.standard_normal((1, 28, 28, 32)).astype(np.float32)
    k = (rng.standard_normal((3, 3, 32, 64)) * 0.1).astype(np.float32)
    if grad:
        y = conv2d(Tensor(x), Tensor(k, requires_grad=True), padding="same")
    else:
        with no_grad():
            y = conv2d(Tensor(x), Tensor(k, requires_grad=True), padding="same")
    assert [used for _, used in always_winograd] == [m]
    ref = direct(C._pad(np, x, ((1, 1), (1, 1))), k, 28, 28)
    np.testing.assert_allclose(y.numpy(), ref, rtol=0, atol=F32_TOL[m] * np.abs(ref).max())


def test_conv_precision_refuses_unknown_values(monkeypatch):
    from core import backend
    with pytest.raises(ValueError, match="one of auto, highest, high"):
        backend.set_conv_precision("fast")
    monkeypatch.setattr(backend.config, "_conv_precision", "medium")  # as from ZOO_CONV_PRECISION
    with pytest.raises(ValueError, match="ZOO_CONV_PRECISION='medium'"):
        conv2d(Tensor(np.zeros((1, 28, 28, 32), np.float32)), Tensor(np.zeros((3, 3, 32, 64), np.float32)))


def test_image_block_sizes():
    """At least _MIN_TILES tiles a block, but an image whose tile data fills a block alone runs
    alone, unless the transformed kernel is larger still."""
    f32 = np.dtype(np.float32)

    def sizes(*args):
        return {n1 - n0 for n0, n1 in winograd._image_blocks(np, 64, *args, f32)[0]}

    assert sizes(49, 4, 32, 64) == {5, 6}     # j's 28x28 layer: 1.4 MB an image; 256 tiles want 6
    assert sizes(196, 4, 64, 64) == {1}        # 56x56 outputs: 6.9 MB an image, U 0.6 MB
    assert min(sizes(49, 4, 512, 512)) > 1     # 28x28: 14 MB an image, U 38 MB


def test_conv_precision_from_the_environment():
    import os
    import subprocess
    import sys
    code = "from core import backend; print(backend.conv_precision())"
    env = dict(os.environ, ZOO_CONV_PRECISION="high")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "high"
    env.pop("ZOO_CONV_PRECISION")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "auto"


def test_auto_precision_follows_the_training_flag(always_winograd, monkeypatch):
    """"auto" inside layers: 4x4 tiles in calls with training=True (fit), not in ``model(x)``,
    ``training=False`` or ``predict``, where Keras's outputs are matched."""
    from core import backend, layers, losses, models, optimizers
    monkeypatch.setattr(backend.config, "_conv_precision", "auto")
    x = rng.standard_normal((2, 28, 28, 32)).astype(np.float32)
    model = models.Sequential([layers.Input((28, 28, 32)), layers.Conv2D(64, 3, padding="same"),
                               layers.GlobalAveragePooling2D(), layers.Dense(2)])
    model(x)
    model(x, training=False)
    model(x, training=True)
    assert [m for _, m in always_winograd] == [2, 2, 4]
    always_winograd.clear()
    model.compile(optimizer=optimizers.SGD(0.01), loss=losses.MeanSquaredError())
    model.fit(x, np.zeros((2, 2), np.float32), epochs=1, batch_size=2, verbose=0)
    model.predict(x, verbose=0)
    assert [m for _, m in always_winograd] == [4, 2]
