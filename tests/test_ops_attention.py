"""scaled_dot_product_attention: gradients, PyTorch / Keras reference fixtures (family
``attention``), masking semantics, dropout, dtypes and errors."""
import numpy as np
import pytest

from core import Tensor
from core import random as zrandom
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops.attention import scaled_dot_product_attention as sdpa
from tests.fixture_utils import case_params

rng = np.random.default_rng(0)


def rand(*shape):
    return rng.standard_normal(shape)


def _np_sdpa(q, k, v, keep, scale=None):
    s = (1 / np.sqrt(q.shape[-1]) if scale is None else scale) * q @ np.swapaxes(k, -1, -2)
    s = np.where(keep, s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return w @ v, w


# ----------------------------------------------------------------------------- gradients

KPM = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], bool)


@pytest.mark.parametrize("kw", [
    {},
    {"key_padding_mask": KPM},
    {"attn_mask": rng.random((3, 5)) > 0.3, "key_padding_mask": KPM, "return_weights": True},
    {"scale": 0.3, "return_weights": True},
], ids=["plain", "key_padding", "attn_mask+kpm+weights", "scale+weights"])
def test_gradients(kw):
    check_gradients(lambda q, k, v: sdpa(q, k, v, **kw), [rand(2, 2, 3, 4), rand(2, 2, 5, 4), rand(2, 2, 5, 3)])


def test_gradients_causal_and_broadcast_heads():
    # key/value shared over the heads axis: their gradients are summed over it
    check_gradients(lambda q, k, v: sdpa(q, k, v, causal=True, key_padding_mask=np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)),
                    [rand(2, 3, 4, 3), rand(2, 1, 4, 3), rand(2, 1, 4, 2)])


def test_gradients_3d_layout_and_fully_masked_row():
    am = np.ones((3, 4), bool)
    am[1] = False  # query 1 sees no key: uniform weights, no gradient to q[1]
    q, k, v = rand(2, 3, 2), rand(2, 4, 2), rand(2, 4, 3)
    check_gradients(lambda q, k, v: sdpa(q, k, v, attn_mask=am, return_weights=True), [q, k, v])
    qt = Tensor(q, requires_grad=True)
    y, w = sdpa(qt, Tensor(k), Tensor(v), attn_mask=am, return_weights=True)
    np.testing.assert_allclose(w.numpy()[:, 1], 0.25, rtol=1e-12)
    np.testing.assert_allclose(y.numpy()[:, 1], v.mean(axis=1), rtol=1e-12)
    y.sum().backward()
    assert np.all(np.isfinite(qt.grad)) and np.all(qt.grad[:, 1] == 0)


def test_gradients_with_dropout():
    def fn(q, k, v):
        zrandom.set_seed(7)  # the same dropout mask at every evaluation
        return sdpa(q, k, v, dropout_rate=0.4, training=True, return_weights=True)

    check_gradients(fn, [rand(1, 2, 3, 4), rand(1, 2, 5, 4), rand(1, 2, 5, 3)])


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Attention weights of a single batch item already exceed the chunk budget: every batch
    item is its own chunk (the NumPy chunked path)."""
    import importlib

    A = importlib.import_module("core.ops.attention")
    monkeypatch.setattr(A, "_CHUNK_BYTES", 1)
    chunked = []
    real = A.SDPA._forward_chunked

    def spy(self, *args):
        chunked.append(len(self.chunks))
        return real(self, *args)

    monkeypatch.setattr(A.SDPA, "_forward_chunked", spy)
    return chunked


@pytest.mark.parametrize("kw", [
    {},
    {"key_padding_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], bool)},
    {"attn_mask": rng.random((3, 5)) > 0.3, "return_weights": True},
    {"attn_mask": rng.random((3, 2, 3, 5)) > 0.3, "causal": True},
], ids=["plain", "key_padding", "attn_mask+weights", "per-item mask+causal"])
def test_gradients_chunked(tiny_chunks, kw):
    check_gradients(lambda q, k, v: sdpa(q, k, v, **kw), [rand(3, 2, 3, 4), rand(3, 2, 5, 4), rand(3, 2, 5, 3)])
    assert tiny_chunks and all(n == 3 for n in tiny_chunks)


def test_gradients_chunked_with_dropout(tiny_chunks):
    def fn(q, k, v):
        zrandom.set_seed(7)
        return sdpa(q, k, v, dropout_rate=0.4, training=True, return_weights=True)

    check_gradients(fn, [rand(2, 2, 3, 4), rand(2, 2, 5, 4), rand(2, 2, 5, 3)])
    assert tiny_chunks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunked_equals_whole_bit_for_bit(monkeypatch, dtype):
    import importlib

    A = importlib.import_module("core.ops.attention")
    q, k, v = (rand(4, 3, 6, 5).astype(dtype) for _ in range(3))
    kpm = rng.random((4, 6)) > 0.3
    g = rand(4, 3, 6, 5).astype(dtype)
    results = []
    for budget in (1 << 40, 1):
        monkeypatch.setattr(A, "_CHUNK_BYTES", budget)
        ts = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        y, w = sdpa(*ts, key_padding_mask=kpm, return_weights=True)
        (y * Tensor(g)).sum().backward()
        results.append([y.numpy(), w.numpy()] + [t.grad for t in ts])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("case", case_params("attention", op="scaled_dot_product_attention"))
def test_sdpa_matches_torch(case):
    A, p = case.arrays, case.params
    for dtype, atol in ((np.float64, 1e-7), (np.float32, 1e-6)):  # float32: atol covers round-off near zero
        y = sdpa(*(Tensor(A[n].astype(dtype)) for n in ("q", "k", "v")), key_padding_mask=A.get("key_padding_mask"),
                 causal=p["causal"], scale=p["scale"])
        assert y.dtype == dtype
        np.testing.assert_allclose(y.numpy(), A["y"], rtol=1e-5, atol=atol)


@pytest.mark.parametrize("case", case_params("attention", op="keras_multi_head_attention"))
def test_keras_mha_core_matches(case):
    """Keras MultiHeadAttention with the projections done in NumPy and the attention core by
    sdpa: both the output and Keras' attention_scores (the weights, before dropout) match."""
    A, p = case.arrays, case.params
    for dtype, atol in ((np.float64, 1e-7), (np.float32, 1e-6)):  # float32: atol covers round-off near zero
        w = [A[f"w{i}"].astype(dtype) for i in range(8)]
        x = A["query"].astype(dtype)
        q, k, v = (np.einsum("btf,fhd->bhtd", x, w[2 * i]) + w[2 * i + 1][:, None, :] for i in range(3))
        o, scores = sdpa(q, k, v, return_weights=True)
        assert o.dtype == dtype and scores.dtype == dtype
        y = np.einsum("bhtd,hdf->btf", o.numpy(), w[6]) + w[7]
        np.testing.assert_allclose(y, A["y"], rtol=1e-5, atol=atol)
        np.testing.assert_allclose(scores.numpy(), A["attention_scores"], rtol=1e-5, atol=atol)


# ----------------------------------------------------------------------------- semantics


def test_masks_match_numpy_reference():
    q, k, v = rand(2, 3, 4, 5), rand(2, 3, 6, 5), rand(2, 3, 6, 2)
    kpm = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], bool)
    am = rng.random((3, 1, 6)) > 0.2
    am[..., 0] = True
    keep = kpm[:, None, None, :] & am & np.tril(np.ones((4, 6), bool))  # causal, top-left aligned
    ref_y, ref_w = _np_sdpa(q, k, v, keep, 0.5)
    y, w = sdpa(q, k, v, key_padding_mask=kpm, attn_mask=am, causal=True, scale=0.5, return_weights=True)
    np.testing.assert_allclose(y.numpy(), ref_y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-12, atol=1e-15)


def test_dropout():
    q, k, v = rand(2, 2, 3, 4), rand(2, 2, 5, 4), rand(2, 2, 5, 3)
    y_eval = sdpa(q, k, v, dropout_rate=0.5)  # training=False: no dropout
    np.testing.assert_allclose(y_eval.numpy(), sdpa(q, k, v).numpy(), rtol=1e-14)
    zrandom.set_seed(3)
    y, w = sdpa(q, k, v, dropout_rate=0.5, training=True, return_weights=True)
    zrandom.set_seed(3)
    m = zrandom.bernoulli_mask((2, 2, 3, 5), 0.5, dtype=np.float64)
    _, w_ref = _np_sdpa(q, k, v, np.ones((3, 5), bool))
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-12)  # weights returned before dropout
    np.testing.assert_allclose(y.numpy(), (w_ref * m / 0.5) @ v, rtol=1e-12, atol=1e-15)


def test_float32_preserved():
    ts = [Tensor(a.astype(np.float32), requires_grad=True) for a in (rand(2, 2, 3, 4), rand(2, 2, 5, 4), rand(2, 2, 5, 3))]
    zrandom.set_seed(0)
    y, w = sdpa(*ts, key_padding_mask=KPM, causal=True, return_weights=True, dropout_rate=0.2, training=True)
    assert y.dtype == np.float32 and w.dtype == np.float32
    ((y * y).sum() + (w * w).sum()).backward()
    for t in ts:
        assert t.grad.dtype == np.float32


# ----------------------------------------------------------------------------- errors


def test_errors():
    q, k, v = rand(2, 2, 3, 4), rand(2, 2, 5, 4), rand(2, 2, 5, 3)
    op = "scaled_dot_product_attention"
    with pytest.raises(OpError, match=rf"{op}: query and key feature sizes differ"):
        sdpa(q, rand(2, 2, 5, 3), v)
    with pytest.raises(OpError, match=rf"{op}: key and value lengths differ"):
        sdpa(q, k, rand(2, 2, 4, 3))
    with pytest.raises(OpError, match=rf"{op}: query must have rank >= 2"):
        sdpa(rand(4), k, v)
    with pytest.raises(OpError, match="cannot be broadcast"):
        sdpa(q, rand(3, 2, 5, 4), rand(3, 2, 5, 3))
    with pytest.raises(OpError, match=rf"{op}: key_padding_mask must have shape \(B, S\)"):
        sdpa(q, k, v, key_padding_mask=np.ones((2, 4), bool))
    with pytest.raises(OpError, match=rf"{op}: key_padding_mask must be boolean"):
        sdpa(q, k, v, key_padding_mask=np.ones((2, 5)))
    with pytest.raises(OpError, match=rf"{op}: attn_mask of shape \(3, 4\) does not broadcast"):
        sdpa(q, k, v, attn_mask=np.ones((3, 4), bool))
    with pytest.raises(OpError, match=rf"{op}: dropout_rate must be in \[0, 1\)"):
        sdpa(q, k, v, dropout_rate=1.0)
    with pytest.raises(OpError, match=rf"{op}: scale must be a number"):
        sdpa(q, k, v, scale="big")
    with pytest.raises(OpError, match=rf"{op}: expected floating inputs"):
        sdpa(np.ones((2, 3), int), np.ones((2, 3), int), np.ones((2, 3), int))
