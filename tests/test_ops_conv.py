"""conv2d, conv1d, depthwise_conv2d and conv2d_transpose: gradients, Keras reference
fixtures (family ``conv``), dtype preservation, consistency between the ops, and errors."""
import importlib
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops.conv import conv1d, conv2d, conv2d_transpose, depthwise_conv2d
from tests.fixture_utils import case_params

rng = np.random.default_rng(0)


def rand(*shape):
    return rng.standard_normal(shape)


# ----------------------------------------------------------------------------- gradients

CONV2D_GRAD = [
    # x shape, kernel shape, strides, padding, dilation, groups, bias
    ((2, 5, 6, 3), (3, 3, 3, 4), 1, "valid", 1, 1, True),
    ((1, 7, 6, 2), (3, 3, 2, 3), 2, "same", 1, 1, True),      # odd size, stride 2: pad after > before
    ((2, 6, 4, 2), (2, 2, 2, 3), 2, "same", 1, 1, False),
    ((1, 7, 7, 2), (3, 3, 2, 2), 1, "same", 2, 1, True),
    ((1, 6, 5, 2), (3, 2, 2, 3), (2, 1), ((1, 0), (2, 1)), 1, 1, True),  # explicit padding
    ((1, 6, 5, 2), (3, 3, 2, 2), 2, "valid", (1, 2), 1, True),
    ((2, 5, 5, 4), (3, 3, 2, 6), 1, "same", 1, 2, True),
    ((1, 7, 6, 6), (3, 3, 2, 3), 2, "valid", 1, 3, False),
    ((2, 4, 5, 3), (1, 1, 3, 4), 1, "valid", 1, 1, True),     # pointwise fast path
    ((2, 4, 5, 4), (1, 1, 2, 4), 1, "valid", 1, 2, False),    # pointwise, grouped
    ((2, 5, 5, 3), (1, 1, 3, 2), 2, "same", 1, 1, True),
    ((2, 6, 5, 3), (3, 3, 1, 3), 1, "same", 1, 3, True),       # groups == channels: the depthwise path
    ((1, 7, 6, 2), (3, 2, 1, 2), 2, "valid", (1, 2), 2, False),
]


@pytest.mark.parametrize("xs,ks,s,pad,dil,g,use_bias", CONV2D_GRAD)
def test_conv2d_gradients(xs, ks, s, pad, dil, g, use_bias):
    arrays = [rand(*xs), rand(*ks)] + ([rand(ks[3])] if use_bias else [])
    check_gradients(lambda x, k, *b: conv2d(x, k, b[0] if b else None, strides=s, padding=pad,
                                            dilation=dil, groups=g), arrays)


CONV1D_GRAD = [
    ((2, 7, 3), (3, 3, 4), 1, "valid", 1, 1, True),
    ((2, 8, 2), (4, 2, 3), 2, "same", 1, 1, True),
    ((1, 9, 2), (3, 2, 3), 1, "causal", 2, 1, True),
    ((2, 7, 4), (3, 2, 4), 1, "same", 1, 2, False),
    ((1, 6, 2), (2, 2, 2), 1, (2, 1), 1, 1, True),
    ((2, 7, 3), (3, 1, 3), 1, "causal", 2, 3, True),           # groups == channels: the depthwise path
]


@pytest.mark.parametrize("xs,ks,s,pad,dil,g,use_bias", CONV1D_GRAD)
def test_conv1d_gradients(xs, ks, s, pad, dil, g, use_bias):
    arrays = [rand(*xs), rand(*ks)] + ([rand(ks[2])] if use_bias else [])
    check_gradients(lambda x, k, *b: conv1d(x, k, b[0] if b else None, strides=s, padding=pad,
                                            dilation=dil, groups=g), arrays)


DW_GRAD = [
    ((2, 5, 6, 3), (3, 3, 3, 1), 1, "same", 1, True),
    ((1, 7, 6, 2), (3, 3, 2, 2), 2, "same", 1, True),
    ((1, 7, 7, 2), (3, 3, 2, 2), 1, "valid", 2, False),
    ((2, 6, 5, 3), (2, 3, 3, 1), (2, 1), "valid", 1, False),
]


@pytest.mark.parametrize("xs,ks,s,pad,dil,use_bias", DW_GRAD)
def test_depthwise_gradients(xs, ks, s, pad, dil, use_bias):
    arrays = [rand(*xs), rand(*ks)] + ([rand(ks[2] * ks[3])] if use_bias else [])
    check_gradients(lambda x, k, *b: depthwise_conv2d(x, k, b[0] if b else None, strides=s, padding=pad,
                                                      dilation=dil), arrays)


CONVT_GRAD = [
    # x shape, kernel (kh, kw, Cout, Cin), strides, padding, output_padding, dilation, bias
    ((2, 3, 4, 3), (3, 3, 2, 3), 2, "same", None, 1, True),
    ((1, 3, 4, 2), (3, 3, 3, 2), 2, "valid", None, 1, True),
    ((1, 3, 3, 2), (2, 2, 3, 2), 2, "valid", None, 1, False),
    ((1, 3, 4, 2), (4, 4, 2, 2), 2, "same", None, 1, True),
    ((2, 3, 4, 2), (3, 3, 2, 2), 1, "same", None, 1, True),
    ((1, 3, 4, 2), (3, 3, 2, 2), 2, "same", 1, 1, True),
    ((1, 3, 3, 2), (3, 3, 2, 2), 2, "valid", (1, 0), 1, False),
    ((1, 2, 3, 2), (3, 3, 2, 2), 3, "same", None, 1, True),
    ((1, 3, 3, 2), (1, 1, 2, 2), 2, "valid", None, 1, True),    # k < s: zero cells at the end
    ((1, 3, 4, 2), (3, 3, 2, 2), 1, "valid", None, 2, True),    # dilated
]


@pytest.mark.parametrize("xs,ks,s,pad,op_pad,dil,use_bias", CONVT_GRAD)
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_transpose_gradients(xs, ks, s, pad, op_pad, dil, use_bias, activation):
    arrays = [rand(*xs), rand(*ks)] + ([rand(ks[2])] if use_bias else [])
    check_gradients(lambda x, k, *b: conv2d_transpose(x, k, b[0] if b else None, strides=s, padding=pad,
                                                      output_padding=op_pad, dilation=dil, activation=activation),
                    arrays)


@pytest.mark.parametrize("block_bytes", [64, 3000, 1 << 21])
@pytest.mark.parametrize("xs,ks,s,pad,op_pad,dil", [
    ((5, 4, 5, 3), (3, 3, 4, 3), 2, "same", None, 1),
    ((4, 3, 4, 2), (3, 2, 3, 2), (2, 3), "valid", None, 1),
    ((3, 3, 4, 2), (3, 3, 2, 2), 2, "same", 1, 1),          # output_padding: a zero-extended last row
    ((4, 3, 3, 2), (2, 2, 3, 2), 1, "valid", None, 2),
    ((3, 3, 3, 2), (1, 1, 2, 2), 3, "valid", (2, 1), 1),     # k < s: phases no tap reaches
])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_transpose_blocks_and_threads_equal_the_reference(monkeypatch, block_bytes, xs, ks, s, pad,
                                                                  op_pad, dil, activation):
    """The forward's image blocks (the taps scattered by phases) and the backward's im2col blocks of
    dy, shared out among the intra-op threads, against the plain reference: values and gradients."""
    from core.ops import reference
    C = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function; the module by its path

    x, k, b, w = rand(*xs), rand(*ks), rand(ks[2]), None

    def run():
        nonlocal w
        ts = [Tensor(x, requires_grad=True), Tensor(k, requires_grad=True), Tensor(b, requires_grad=True)]
        y = conv2d_transpose(*ts, strides=s, padding=pad, output_padding=op_pad, dilation=dil, activation=activation)
        w = rand(*y.shape) if w is None else w
        (y * Tensor(w)).sum().backward()
        return [y.numpy()] + [t.grad for t in ts]

    for name in ("_BLOCK_BYTES", "_BLOCK_BYTES_PER_THREAD", "_DX_BLOCK_BYTES", "_TRANSPOSE_BLOCK_BYTES"):
        monkeypatch.setattr(C, name, block_bytes)
    monkeypatch.setattr(C, "_PARALLEL_MIN_BYTES", 0)
    fast = run()
    monkeypatch.setattr(C, "Conv2DTranspose", reference.Conv2DTranspose)
    for a, r in zip(fast, run()):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn,xs,ks", [
    (lambda x, k: conv2d(x, k, strides=2, padding="same"), (2, 5, 6, 3), (3, 3, 3, 4)),
    (lambda x, k: conv2d(x, k, padding="same", groups=2), (1, 5, 4, 4), (3, 3, 2, 4)),
    (lambda x, k: conv2d(x, k), (2, 3, 4, 3), (1, 1, 3, 2)),
    (lambda x, k: depthwise_conv2d(x, k, strides=2, padding="same"), (1, 5, 6, 3), (3, 3, 3, 2)),
    (lambda x, k: conv2d_transpose(x, k, strides=2, padding="same"), (1, 3, 4, 3), (3, 3, 2, 3)),
])
def test_single_input_grads(fn, xs, ks):
    """Only x or only the kernel requires grad (first layer / frozen kernel): the grads match."""
    x, k = rand(*xs), rand(*ks)
    w = rand(*fn(Tensor(x), Tensor(k)).shape)
    both = [Tensor(x, requires_grad=True), Tensor(k, requires_grad=True)]
    (fn(*both) * Tensor(w)).sum().backward()
    for i in range(2):
        ts = [Tensor(x, requires_grad=(i == 0)), Tensor(k, requires_grad=(i == 1))]
        (fn(*ts) * Tensor(w)).sum().backward()
        np.testing.assert_allclose(ts[i].grad, both[i].grad, rtol=1e-12, atol=1e-12)
        assert ts[1 - i].grad is None


# ----------------------------------------------------------------------------- fast paths

# cases that reach each of conv2d's G=1 code paths (see core/ops/conv.py)
FAST_PATHS = [
    # x shape, kernel shape, strides, padding: what it exercises
    ((2, 6, 5, 3), (3, 3, 3, 4), 1, "same"),          # both grads from one im2col of dy (_grads_transposed)
    ((1, 6, 6, 2), (2, 4, 2, 3), 1, "same"),          # the same with uneven kernel and padding
    ((1, 6, 5, 2), (3, 3, 2, 3), 1, ((0, 2), (2, 0))),  # explicit asymmetric pads keeping the size: the same
    ((1, 6, 5, 2), (3, 3, 2, 3), 1, ((0, 2), (1, 0))),  # output smaller than the input: per-tap input grad
    ((2, 6, 5, 1), (3, 3, 1, 4), 1, "valid"),         # one input channel: im2col by strided taps
    ((2, 7, 6, 1), (3, 2, 1, 3), 2, "same"),          # one channel, stride 2
    ((2, 6, 5, 4), (3, 3, 4, 1), 1, "same"),          # one output channel: tap sums of x @ K (_conv_one_out)
    ((2, 7, 6, 5), (3, 2, 5, 1), 1, ((0, 2), (2, 0))),  # the same, uneven kernel and padding
]


@pytest.mark.parametrize("xs,ks,s,pad", FAST_PATHS)
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_fast_path_gradients(xs, ks, s, pad, activation):
    arrays = [rand(*xs), rand(*ks), rand(ks[3])]
    check_gradients(lambda x, k, b: conv2d(x, k, b, strides=s, padding=pad, activation=activation), arrays)


@pytest.mark.parametrize("block_bytes", [64, 700, 5000])
@pytest.mark.parametrize("xs,ks,s,pad", FAST_PATHS[:2] + FAST_PATHS[3:] + [((2, 5, 6, 2), (3, 3, 2, 2), 2, "valid"),
                                                                   ((2, 7, 6, 2), (3, 3, 2, 2), 2, "same")])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_blocked_im2col_gradients(monkeypatch, block_bytes, xs, ks, s, pad, activation):
    """Tiny im2col blocks: bands of output rows within an image, and several images a block (the
    bias and ReLU applied block by block, the kernel gradient's blocks masking dy and summing
    the bias gradient)."""
    C = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function; the module by its path

    monkeypatch.setattr(C, "_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(C, "_DX_BLOCK_BYTES", block_bytes)
    arrays = [rand(*xs), rand(*ks), rand(ks[3])]
    check_gradients(lambda x, k, b: conv2d(x, k, b, strides=s, padding=pad, activation=activation), arrays)


@pytest.mark.parametrize("block_bytes", [64, 5000, 1 << 23])
@pytest.mark.parametrize("x_grad,use_bias", [(False, True), (True, True), (False, False), (True, False)])
def test_conv2d_fused_bias_relu_equals_separate_ops(monkeypatch, block_bytes, x_grad, use_bias):
    """conv2d(..., activation="relu") against relu(conv2d(...) + b) as separate ops, for a first
    layer (no input gradient: the masked dy is never materialised) and an inner one."""
    from core import ops
    C = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function; the module by its path

    monkeypatch.setattr(C, "_BLOCK_BYTES", block_bytes)
    x, k, b = rand(3, 9, 8, 2), rand(3, 3, 2, 5), rand(5)
    gy = rand(3, 7, 6, 5)

    def grads(fused):
        ts = [Tensor(x, requires_grad=x_grad), Tensor(k, requires_grad=True), Tensor(b, requires_grad=True)]
        bias = ts[2] if use_bias else None
        if fused:
            y = conv2d(ts[0], ts[1], bias, activation="relu")
        else:
            z = conv2d(ts[0], ts[1])
            y = ops.relu(z + ts[2] if use_bias else z)
        y.backward(gy)
        return [y.data] + [t.grad for t in ts]

    fused, ref = grads(True), grads(False)
    for a, r in zip(fused, ref):
        if r is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_bytes", [64, 1 << 23])
@pytest.mark.parametrize("xs,ks,pads", [((2, 6, 5, 3), (3, 3, 3, 4), ((1, 1), (1, 1))),
                                        ((1, 6, 6, 2), (2, 4, 2, 3), ((0, 1), (1, 2))),
                                        ((2, 6, 5, 2), (3, 3, 2, 3), ((0, 2), (2, 0))),
                                        ((3, 4, 4, 5), (1, 3, 5, 2), ((0, 0), (1, 1)))])
def test_grads_from_one_im2col_of_dy_equal_the_separate_paths(monkeypatch, block_bytes, xs, ks, pads):
    """The input and kernel gradients from one im2col of dy equal the separate kernel-gradient
    (im2col of x) and input-gradient (full convolution of dy) paths."""
    C = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function; the module by its path

    monkeypatch.setattr(C, "_BLOCK_BYTES", block_bytes)
    x, k = rand(*xs).astype(np.float32), rand(*ks).astype(np.float32)
    kh, kw = ks[:2]
    dy = rand(xs[0], xs[1], xs[2], ks[3]).astype(np.float32)
    assert C._use_transposed_dx(pads, kh, kw, (1, 1), (1, 1), xs[1], xs[2], xs[1], xs[2])
    dx, dk = C._grads_transposed(np, x, dy, k, pads)
    ref_dk, _ = C._conv_dk(np, x, pads, dy, kh, kw, 1, 1, 1, 1)
    ref_dx = C._dx_transposed(np, dy, k, pads, xs[1], xs[2])
    np.testing.assert_array_equal(dx, ref_dx)  # the same products, the same blocks
    np.testing.assert_allclose(dk, ref_dk.reshape(ks), rtol=1e-5, atol=1e-5)  # summed in another order
    assert dk.dtype == np.float32 and dk.flags.c_contiguous


def test_padded_rows_equal_slices_of_the_padded_input():
    """A block's padded input rows, built in a reused buffer, equal the same rows of the whole
    padded array: rows above, across and below the input, and a buffer holding an earlier block."""
    from core.ops.conv import _pad, _padded_rows

    x = rand(3, 5, 4, 2)
    for pads in [((1, 1), (1, 1)), ((2, 0), (0, 3)), ((0, 1), (2, 2)), ((0, 0), (1, 0))]:
        full = _pad(np, x, pads)
        buf = np.zeros((3, full.shape[1], full.shape[2], 2))
        for n0, n1, r0, r1 in [(0, 3, 0, full.shape[1]), (1, 2, 0, 1), (0, 2, 2, 5), (2, 3, 4, full.shape[1]),
                               (0, 1, full.shape[1] - 1, full.shape[1]), (0, 3, 1, 3)]:
            got = _padded_rows(np, x, pads, n0, n1, r0, r1, buf)
            np.testing.assert_array_equal(got, full[n0:n1, r0:r1])


def test_blocks_cover_every_output_row_once():
    from core.ops.conv import _blocks

    for N, Ho, row_bytes in [(5, 7, 100), (3, 4, 1 << 19), (2, 9, 3 << 20), (1, 1, 10)]:
        seen = np.zeros((N, Ho), int)
        for n0, n1, h0, h1 in _blocks(N, Ho, row_bytes):
            seen[n0:n1, h0:h1] += 1
        assert (seen == 1).all()


@pytest.mark.parametrize("N,Ho,row_bytes,block_bytes,multiple", [
    (64, 11, 11 * 288 * 4, 1_480_000, 2),   # the MNIST CNN's second conv: 10 images fit a block
    (128, 8, 8 * 576 * 4, 1_890_000, 2),    # ResNet-20's third stage: 12 images fit
    (7, 5, 100, 1000, 2), (3, 9, 1000, 2500, 2), (5, 4, 100, 10**6, 3), (3, 2, 10, 10, 4)])
def test_blocks_balance_for_threads(N, Ho, row_bytes, block_bytes, multiple):
    """Blocks fit the budget, differ by at most one image (or row), and come in a multiple of the
    thread count where the images (rows) allow."""
    from core.ops.conv import _blocks

    blocks = _blocks(N, Ho, row_bytes, block_bytes, multiple)
    seen = np.zeros((N, Ho), int)
    sizes = []
    for n0, n1, h0, h1 in blocks:
        seen[n0:n1, h0:h1] += 1
        sizes.append((n1 - n0) * (h1 - h0))
        assert (n1 - n0) * (h1 - h0) * row_bytes <= max(block_bytes, row_bytes)
    assert (seen == 1).all()
    whole_images = all(h0 == 0 and h1 == Ho for _, _, h0, h1 in blocks)
    assert max(sizes) - min(sizes) <= (Ho if whole_images else 1)  # one image, or one row
    if len(blocks) < N * Ho:
        assert len(blocks) % multiple == 0


@pytest.mark.parametrize("xs,ks,s,pad,dil,g,use_bias", CONV2D_GRAD)
def test_conv2d_fused_relu_gradients(xs, ks, s, pad, dil, g, use_bias):
    arrays = [rand(*xs), rand(*ks)] + ([rand(ks[3])] if use_bias else [])
    check_gradients(lambda x, k, *b: conv2d(x, k, b[0] if b else None, strides=s, padding=pad,
                                            dilation=dil, groups=g, activation="relu"), arrays)


@pytest.mark.parametrize("xs,ks,s,pad,dil,g,use_bias", CONV1D_GRAD)
def test_conv1d_fused_relu_gradients(xs, ks, s, pad, dil, g, use_bias):
    arrays = [rand(*xs), rand(*ks)] + ([rand(ks[2])] if use_bias else [])
    check_gradients(lambda x, k, *b: conv1d(x, k, b[0] if b else None, strides=s, padding=pad,
                                            dilation=dil, groups=g, activation="relu"), arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_relu_equals_relu_after_conv(dtype):
    from core import ops

    x, k, b = (rand(3, 9, 8, 5).astype(dtype), rand(3, 3, 5, 7).astype(dtype), rand(7).astype(dtype))
    fused = conv2d(Tensor(x), Tensor(k), Tensor(b), padding="same", activation="relu")
    ref = ops.relu(conv2d(Tensor(x), Tensor(k), Tensor(b), padding="same"))
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused.data, ref.data)
    assert (fused.data >= 0).all() and (fused.data == 0).any()


def test_fused_activation_errors():
    with pytest.raises(OpError, match=r"conv2d: activation must be None, 'linear' or 'relu'.*'tanh'"):
        conv2d(Tensor(X4_), Tensor(K4_), activation="tanh")
    with pytest.raises(OpError, match=r"conv1d: activation must be"):
        conv1d(Tensor(X4_[0]), Tensor(K4_[0]), activation="gelu")


X4_ = np.zeros((1, 5, 5, 3), np.float32)
K4_ = np.zeros((3, 3, 3, 4), np.float32)


# ----------------------------------------------------------------------------- fixtures


def _run_case(case, dtype):
    p, A = case.params, case.arrays
    x = Tensor(A["x"].astype(dtype))
    k = Tensor(A["kernel"].astype(dtype))
    b = Tensor(A["bias"].astype(dtype)) if "bias" in A else None
    op = p["op"]
    if op == "conv2d":
        return conv2d(x, k, b, strides=p["strides"], padding=p["padding"], dilation=p["dilation"],
                      groups=p["groups"])
    if op == "conv1d":
        return conv1d(x, k, b, strides=p["strides"], padding=p["padding"], dilation=p["dilation"],
                      groups=p["groups"])
    if op == "depthwise_conv2d":
        return depthwise_conv2d(x, k, b, strides=p["strides"], padding=p["padding"], dilation=p["dilation"])
    assert op == "conv2d_transpose", op
    return conv2d_transpose(x, k, b, strides=p["strides"], padding=p["padding"],
                            output_padding=p["output_padding"], dilation=p["dilation"])


@pytest.mark.parametrize("case", case_params("conv"))
def test_conv_fixtures(case):
    ref = case.arrays["y"]
    y64 = _run_case(case, np.float64)
    assert y64.shape == ref.shape and y64.dtype == np.float64
    np.testing.assert_allclose(y64.numpy(), ref, rtol=1e-5, atol=1e-7)
    y32 = _run_case(case, np.float32)
    assert y32.shape == ref.shape and y32.dtype == np.float32
    # atol covers float32 round-off on outputs near zero (sums of ~30 products of O(1) terms)
    np.testing.assert_allclose(y32.numpy(), ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- consistency


def test_conv2d_matches_direct_loops():
    x, k, b = rand(2, 7, 6, 4), rand(3, 2, 2, 6), rand(6)
    y = conv2d(x, Tensor(k), b, strides=(2, 1), padding="same", dilation=(1, 2), groups=2).numpy()
    # direct reference: TF same pads for H (k=3,s=2,n=7): total 2 -> (1,1); W (ke=3,s=1,n=6): (1,1)
    xp_ = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ref = np.zeros((2, 4, 6, 6))
    for i in range(4):
        for j in range(6):
            for a in range(3):
                for c in range(2):
                    pix = xp_[:, 2 * i + a, j + 2 * c]  # (N, 4)
                    for g in range(2):
                        ref[:, i, j, 3 * g:3 * g + 3] += pix[:, 2 * g:2 * g + 2] @ k[a, c][:, 3 * g:3 * g + 3]
    np.testing.assert_allclose(y, ref + b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hw,kk,s,pad", [((8, 6), 3, 2, "same"), ((7, 9), 3, 2, "valid"),
                                         ((6, 6), 4, 2, "same"), ((5, 5), 3, 1, "same")])
def test_transpose_is_adjoint_of_conv2d(hw, kk, s, pad):
    """<conv2d(x, K), y> == <x, conv2d_transpose(y, K)> when the transpose's output has x's shape."""
    k = rand(kk, kk, 3, 4)
    x = rand(2, *hw, 3)
    cy = conv2d(x, Tensor(k), strides=s, padding=pad).numpy()
    y = rand(*cy.shape)
    ty = conv2d_transpose(Tensor(y), Tensor(k), strides=s, padding=pad).numpy()
    assert ty.shape == x.shape
    np.testing.assert_allclose((cy * y).sum(), (x * ty).sum(), rtol=1e-10)


def test_depthwise_equals_grouped_conv():
    x, k = rand(2, 6, 5, 3), rand(3, 3, 3, 2)
    dw = depthwise_conv2d(x, Tensor(k), strides=2, padding="same").numpy()
    # groups = C, kernel (kh, kw, 1, C*M) with output channel c*M + m
    gk = k.reshape(3, 3, 1, 6)
    gc = conv2d(x, Tensor(gk), strides=2, padding="same", groups=3).numpy()
    np.testing.assert_allclose(dw, gc, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("one_d", [False, True])
def test_channelwise_groups_equal_the_grouped_gemm_reference(activation, one_d):
    """conv2d/conv1d with groups == channels (one input and one output channel per group) run the
    depthwise tap loop; the generic grouped GEMM path is the reference, values and gradients."""
    from core.autodiff import Tensor as T
    from core.ops.conv import Conv2D

    x = rand(2, 7, 3) if one_d else rand(2, 9, 8, 4)
    k = rand(5, 1, 3) if one_d else rand(7, 7, 1, 4)
    b, gy = rand(k.shape[-1]), None
    pads = ((0, 0), (2, 2)) if one_d else ((3, 3), (3, 3))
    results = []
    for fast in (True, False):
        xt, kt, bt = T(x, requires_grad=True), T(k, requires_grad=True), T(b, requires_grad=True)
        op = Conv2D((1, 1), pads, (1, 1), k.shape[-1], one_d=one_d, activation=activation)
        op.channelwise_fast_path = fast   # off: the generic grouped GEMM path, the reference
        y = op.apply(xt, kt, bt)
        assert (op.depthwise is not None) == fast
        gy = rand(*y.shape) if gy is None else gy
        y.backward(T(gy))
        results.append([y.numpy()] + [np.asarray(t.grad) for t in (xt, kt, bt)])
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("xs,ks,s,pad", [((3, 40, 36, 48), (7, 7, 48, 1), 1, "same"),     # chunks of 1 image
                                          ((40, 6, 5, 8), (3, 3, 8, 2), 2, "same"),       # many images a chunk
                                          ((5, 9, 11, 3), (2, 3, 3, 1), (2, 1), "valid")])
def test_depthwise_chunked_forward_equals_the_whole_batch_reference(xs, ks, s, pad, monkeypatch):
    """The forward in cache-sized image chunks (over the intra-op threads) adds each output's taps in
    the reference's order: the same bits."""
    import importlib

    C = importlib.import_module("core.ops.conv")   # (core.ops.conv is also the ops function's name)
    x, k = rand(*xs).astype(np.float32), rand(*ks).astype(np.float32)
    outs = []
    for chunked in (True, False):
        monkeypatch.setattr(C.DepthwiseConv2D, "chunked", chunked)
        monkeypatch.setattr(C, "_PARALLEL_MIN_BYTES", 0 if chunked else 2 << 20)   # split even small batches
        outs.append(depthwise_conv2d(x, Tensor(k), strides=s, padding=pad).numpy())
    np.testing.assert_array_equal(outs[0], outs[1])


def test_conv1d_causal_uses_only_the_past():
    x, k = rand(1, 8, 2), rand(3, 2, 2)
    y = conv1d(x, Tensor(k), padding="causal", dilation=2).numpy()
    x2 = x.copy()
    x2[:, 5:] += 10.0
    y2 = conv1d(x2, Tensor(k), padding="causal", dilation=2).numpy()
    assert y.shape == (1, 8, 2)
    np.testing.assert_array_equal(y[:, :5], y2[:, :5])
    assert not np.allclose(y[:, 5:], y2[:, 5:])


@pytest.mark.parametrize("n,k,s,pad,op_pad,expected", [
    (4, 3, 2, "same", None, 8), (4, 3, 2, "valid", None, 9), (4, 2, 2, "valid", None, 8),
    (4, 1, 2, "valid", None, 8), (4, 3, 2, "same", 1, 8), (4, 3, 2, "valid", 1, 10), (3, 3, 3, "same", None, 9),
])
def test_transpose_output_size(n, k, s, pad, op_pad, expected):
    y = conv2d_transpose(rand(1, n, n, 2), Tensor(rand(k, k, 3, 2)), strides=s, padding=pad,
                         output_padding=op_pad)
    assert y.shape == (1, expected, expected, 3)


# ----------------------------------------------------------------------------- dtype


@pytest.mark.parametrize("fn,xs,ks,nb", [
    (lambda x, k, b: conv2d(x, k, b, strides=2, padding="same"), (2, 5, 6, 3), (3, 3, 3, 4), 4),
    (lambda x, k, b: conv2d(x, k, b, groups=3), (2, 5, 6, 3), (1, 1, 1, 6), 6),
    (lambda x, k, b: conv1d(x, k, b, padding="causal"), (2, 7, 3), (3, 3, 4), 4),
    (lambda x, k, b: depthwise_conv2d(x, k, b, padding="same"), (2, 5, 6, 3), (3, 3, 3, 2), 6),
    (lambda x, k, b: conv2d_transpose(x, k, b, strides=2, padding="same"), (2, 3, 4, 3), (3, 3, 4, 3), 4),
])
def test_float32_preserved(fn, xs, ks, nb):
    ts = [Tensor(rand(*s).astype(np.float32), requires_grad=True) for s in (xs, ks, (nb,))]
    y = fn(*ts)
    assert y.dtype == np.float32
    (y * 1.5).sum().backward()
    for t in ts:
        assert t.grad is not None and t.grad.dtype == np.float32 and t.grad.shape == t.shape


# ----------------------------------------------------------------------------- errors

X4 = np.zeros((1, 5, 5, 3), np.float32)
K4 = np.zeros((3, 3, 3, 4), np.float32)


@pytest.mark.parametrize("call,match", [
    (lambda: conv2d(Tensor(X4[0]), Tensor(K4)), r"conv2d: x must have rank 4"),
    (lambda: conv2d(Tensor(X4), Tensor(K4[0])), r"conv2d: kernel must have rank 4"),
    (lambda: conv2d(Tensor(X4), Tensor(np.zeros((3, 3, 2, 4), np.float32))), r"expects 2 input channels.*has 3"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), padding="full"), r"conv2d: padding must be one of 'valid', 'same'"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), padding="causal"), r"conv2d: padding must be"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), padding=((1, 1), (1,))), r"conv2d: padding must be"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), padding=((-1, 1), (1, 1))), r"non-negative"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), strides=0), r"conv2d: strides must be >= 1"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), strides=(1, 2, 3)), r"conv2d: strides must be an int or"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), groups=2), r"groups=2 must divide"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), bias=np.zeros(3, np.float32)), r"bias must have shape \(4,\)"),
    (lambda: conv2d(Tensor(X4[:, :2]), Tensor(K4)), r"smaller than the \(dilated\) kernel"),
    (lambda: conv2d(Tensor(X4), Tensor(K4), dilation=3), r"smaller than the \(dilated\) kernel"),
    (lambda: conv2d(np.zeros((1, 5, 5, 3), np.int32), np.zeros((3, 3, 3, 4), np.int32)), r"floating"),
    (lambda: conv2d(Tensor(X4), Tensor(K4.astype(np.float64))), r"different float dtypes"),
    (lambda: conv1d(Tensor(X4), Tensor(K4[0])), r"conv1d: x must have rank 3"),
    (lambda: conv1d(Tensor(X4[0]), Tensor(K4[0, :, :2])), r"conv1d: kernel .* expects 2 input channels"),
    (lambda: conv1d(Tensor(X4[0]), Tensor(K4[0]), padding="full"), r"'causal'"),
    (lambda: conv1d(Tensor(np.zeros((1, 2, 3), np.float32)), Tensor(K4[0])), r"conv1d: input length 2"),
    (lambda: depthwise_conv2d(Tensor(X4), Tensor(np.zeros((3, 3, 2, 1), np.float32))), r"for 2 channels"),
    (lambda: depthwise_conv2d(Tensor(X4), Tensor(np.zeros((3, 3, 3, 2), np.float32)), np.zeros(3, np.float32)),
     r"bias must have shape \(6,\)"),
    (lambda: conv2d_transpose(Tensor(X4), Tensor(K4)), r"expects 4 input channels"),
    (lambda: conv2d_transpose(Tensor(X4), Tensor(np.zeros((3, 3, 4, 3), np.float32)), padding="causal"),
     r"conv2d_transpose: padding must be 'valid' or 'same'"),
    (lambda: conv2d_transpose(Tensor(X4), Tensor(np.zeros((3, 3, 4, 3), np.float32)), strides=2,
                              output_padding=2), r"output_padding .* smaller than the strides"),
])
def test_errors(call, match):
    with pytest.raises(OpError, match=match):
        call()


@pytest.mark.parametrize("rows", [2047, 2048, pytest.param(5000, marks=pytest.mark.slow)])
def test_gram_in_row_chunks_equals_one_product(rows):
    # a first layer's kernel gradient (small K x N) sums products of 1024-row chunks
    C = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function; the module by its path
    r = np.random.default_rng(rows)
    a, b = r.standard_normal((rows, 9)), r.standard_normal((rows, 32))
    np.testing.assert_allclose(C._gram(np, a, b), a.T @ b, rtol=1e-12, atol=1e-12)
    out = np.empty((9, 32))
    assert C._gram(np, a, b, out=out) is out
    np.testing.assert_allclose(out, a.T @ b, rtol=1e-12, atol=1e-12)
    # a large result is one product
    wide = r.standard_normal((rows, 64))
    np.testing.assert_allclose(C._gram(np, wide, wide), wide.T @ wide, rtol=1e-12, atol=1e-12)
