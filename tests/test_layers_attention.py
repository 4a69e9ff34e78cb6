"""MultiHeadAttention and EinsumDense: Keras 3.15 fixtures (family ``rnn_layers`` from
tests/fixtures/make_rnn_layer_fixtures.py, incl. the transformer_block model's attention, and
``keras_mha_self`` of the ``attention`` family), weight paths, masks (Keras masks, value/key
masks, causal, attention_mask, sliding window), symbolic calls, configs, gradients, errors."""
import json

import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.layers.attention import EinsumDense, MultiHeadAttention
from core.layers.base import clear_session
from tests.fixture_utils import case_params

RTOL, ATOL = 1e-5, 1e-6
rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


def outputs_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# --------------------------------------------------------------------------- Keras fixtures
MHA_CASES = [c for c in case_params("rnn_layers") if c.values[0] is None
             or c.values[0].params["layer"] == "MultiHeadAttention"]


def _setup(case):
    p, a = case.params, case.arrays
    layer = MultiHeadAttention(**p["kwargs"])
    q = Tensor(a["query"])
    if "keras_mask" in a:  # as Masking / Embedding(mask_zero) put it on the tensor
        q._keras_mask = Tensor(a["keras_mask"])
    args = [q, Tensor(a["value"]) if "value" in a else q]
    if "key" in a:
        args.append(Tensor(a["key"]))
    call = {k: v for k, v in p["call"].items() if v != "array"}
    for k in ("value_mask", "key_mask", "attention_mask"):
        if k in a:
            call[k] = a[k]
    return layer, args, call


@pytest.mark.parametrize("case", MHA_CASES)
def test_keras_fixture(case):
    p, a = case.params, case.arrays
    layer, args, call = _setup(case)
    layer(*args, **call)  # builds from the query, value (and key) shapes
    assert [w.path for w in layer.weights] == p["weight_paths"]
    assert [list(w.shape) for w in layer.weights] == p["weight_shapes"]
    layer.set_weights([a[f"w{i}"] for i in range(len(p["weight_paths"]))])
    y = layer(*args, **call)
    assert y.dtype == np.float32 and list(y.shape) == p["output_shapes"][0]
    np.testing.assert_allclose(y.numpy(), a["out0"], rtol=RTOL, atol=ATOL)
    y2, scores = layer(*args, return_attention_scores=True, **call)
    assert list(scores.shape) == p["output_shapes"][1]
    np.testing.assert_allclose(y2.numpy(), a["out_scores"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(scores.numpy(), a["scores"], rtol=RTOL, atol=ATOL)
    if "keras_mask" in a:  # the query's mask is the output's
        assert np.array_equal(np.asarray(y._keras_mask), a["keras_mask"])
        assert np.array_equal(np.asarray(y2._keras_mask), a["keras_mask"])
    cfg = layer.get_config()
    for k, v in p["config"].items():
        if k == "dtype" or "initializer" in k:
            continue
        assert cfg[k] == v, k


def test_fully_masked_rows_follow_the_keras_code_paths():
    """Keras 3.15: uniform attention for a fully masked row on the fused path, zeros otherwise."""
    case = [c for c in MHA_CASES if c.values[0] is not None and c.values[0].name == "mha_cross_key_value_mask"]
    if not case:
        pytest.skip("rnn_layers fixture not found")
    a = case[0].values[0].arrays
    assert not a["value_mask"][1].any()
    scores = a["scores"]
    assert np.all(scores[1] == 0) and np.allclose(scores[0].sum(-1), 1)
    assert not np.allclose(a["out0"][1], a["out_scores"][1])
    np.testing.assert_allclose(a["out0"][0], a["out_scores"][0], atol=1e-12)


def test_attention_family_keras_mha_self():
    cases = case_params("attention", "keras_multi_head_attention")
    case = cases[0].values[0]
    if case is None:
        pytest.skip("attention fixture not found")
    p, a = case.params, case.arrays
    layer = MultiHeadAttention(p["num_heads"], p["key_dim"], dtype="float64")
    x = a["query"]
    layer(x, x)
    assert [w.path for w in layer.weights] == p["weight_paths"]
    layer.set_weights([a[f"w{i}"] for i in range(8)])
    y, s = layer(x, x, return_attention_scores=True)
    np.testing.assert_allclose(y.numpy(), a["y"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s.numpy(), a["attention_scores"], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- symbolic / Functional
def test_functional_self_attention_matches_eager():
    from core.layers import Input
    from core.models.functional import Functional

    inp = Input((5, 8))
    mha = MultiHeadAttention(num_heads=2, key_dim=4)
    out = mha(inp, inp)
    out_kw, scores = mha(query=inp, value=inp, return_attention_scores=True, use_causal_mask=True)
    assert out.shape == (None, 5, 8) and scores.shape == (None, 2, 5, 5)
    model = Functional(inp, [out, out_kw, scores])
    names = ("query", "key", "value", "attention_output")
    assert [w.path for w in model.weights] == [f"multi_head_attention/{n}/{w}" for n in names
                                               for w in ("kernel", "bias")]
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    y, yc, s = model(x)
    np.testing.assert_allclose(y.numpy(), mha(x, x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(yc.numpy(), mha(x, x, use_causal_mask=True).numpy(), rtol=1e-6)
    assert np.all(np.triu(s.numpy()[0, 0], 1) == 0)


def test_symbolic_cross_attention_with_key_and_output_shape():
    from core.layers import Input

    q, v, k = Input((4, 6)), Input((7, 5)), Input((7, 3))
    mha = MultiHeadAttention(3, 2, value_dim=4, output_shape=9)
    out, s = mha(q, v, k, return_attention_scores=True)
    assert out.shape == (None, 4, 9) and s.shape == (None, 3, 4, 7)
    assert [tuple(w.shape) for w in mha.weights] == [(6, 3, 2), (3, 2), (3, 3, 2), (3, 2), (5, 3, 4), (3, 4),
                                                     (3, 4, 9), (9,)]
    assert mha.compute_output_shape((None, 4, 6), (None, 7, 5)) == (None, 4, 9)


# --------------------------------------------------------------------------- masks
def test_keras_masks_of_query_value_key_are_used():
    mha = MultiHeadAttention(2, 3)
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    v = rng.standard_normal((2, 5, 4)).astype(np.float32)
    vmask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 1]], bool)
    qmask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    explicit = mha(q, v, value_mask=vmask, query_mask=qmask, return_attention_scores=True)
    qt, vt = Tensor(q), Tensor(v)
    qt._keras_mask, vt._keras_mask = Tensor(qmask), Tensor(vmask)
    implicit = mha(qt, vt, return_attention_scores=True)
    for e, i in zip(explicit, implicit):
        np.testing.assert_array_equal(e.numpy(), i.numpy())
    s = implicit[1].numpy()
    assert np.all(s[:, :, :, ~vmask[0]][0] == 0)
    assert np.all(s[0, :, 2] == 0)  # a masked query row: zero scores (masked-softmax path)
    # key mask: only from a key that is passed; and-ed with the value mask
    kt = Tensor(v)
    kt._keras_mask = Tensor(np.array([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], bool))
    s2 = mha(q, vt, kt, return_attention_scores=True)[1].numpy()
    assert np.all(s2[0, :, :, 0] == 0) and np.all(s2[0, :, :, 2] == 0)


def test_attention_mask_broadcasting_and_sliding_window():
    mha = MultiHeadAttention(1, 2, sliding_window=2)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    _, s = mha(x, x, return_attention_scores=True)
    band = np.abs(np.arange(5)[:, None] - np.arange(5)[None]) < 2
    assert np.all(s.numpy()[:, :, ~band] == 0) and np.all(s.numpy()[:, :, band] > 0)
    mha2 = MultiHeadAttention(2, 2)
    am = np.tril(np.ones((5, 5), bool))  # (T, S) broadcast over the batch
    a1 = mha2(x, x, attention_mask=am).numpy()
    a2 = mha2(x, x, use_causal_mask=True).numpy()
    a3 = mha2(x, x, attention_mask=np.broadcast_to(am, (2, 5, 5)).astype(np.int32)).numpy()
    np.testing.assert_allclose(a1, a2, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a1, a3, rtol=1e-6, atol=1e-7)


def test_dropout_training_only():
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    ref = MultiHeadAttention(2, 3)
    ref(x, x)
    drop = MultiHeadAttention(2, 3, dropout=0.5)
    drop(x, x)
    drop.set_weights(ref.get_weights())
    np.testing.assert_allclose(drop(x, x).numpy(), ref(x, x).numpy(), rtol=1e-6, atol=1e-7)
    y_train, s_train = drop(x, x, training=True, return_attention_scores=True)
    assert not np.allclose(y_train.numpy(), ref(x, x).numpy())
    np.testing.assert_allclose(s_train.numpy().sum(-1), 1, rtol=1e-5)  # scores before dropout


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("kw,call", [
    (dict(num_heads=2, key_dim=2), dict(use_causal_mask=True)),
    (dict(num_heads=1, key_dim=2, value_dim=3, output_shape=(2,)), dict()),
    (dict(num_heads=2, key_dim=2, use_gate=True), dict(value_mask=np.array([[1, 0, 1], [1, 1, 0]], bool))),
])
def test_gradients(kw, call):
    layer = MultiHeadAttention(dtype="float64", **kw)
    q = rng.standard_normal((2, 2, 3))
    v = rng.standard_normal((2, 3, 3))
    k = rng.standard_normal((2, 3, 2))
    layer(q, v, k)
    for w in layer.weights:
        w.assign(rng.standard_normal(w.shape) * 0.5)
    check_gradients(lambda q_, v_, k_: layer(q_, v_, k_, return_attention_scores=True, **call), [q, v, k],
                    params=layer.trainable_weights)


def test_gradients_fused_path_with_fully_masked_row():
    layer = MultiHeadAttention(1, 2, dtype="float64")
    x = rng.standard_normal((2, 3, 2))
    vmask = np.array([[1, 1, 0], [0, 0, 0]], bool)
    layer(x, x)
    check_gradients(lambda x_: layer(x_, x_, value_mask=vmask), [x], params=layer.trainable_weights)


# --------------------------------------------------------------------------- config and errors
def test_config_round_trip_and_keras_attention_axes():
    mha = MultiHeadAttention(2, 3, value_dim=4, dropout=0.1, use_bias=False, output_shape=(5,),
                             kernel_initializer="he_normal", kernel_regularizer="l2", seed=2)
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    mha(x, x)
    cfg = mha.get_config()
    json.dumps(cfg)
    assert cfg["attention_axes"] == [1] and cfg["output_shape"] == [5] and cfg["value_dim"] == 4
    clone = MultiHeadAttention.from_config(json.loads(json.dumps(cfg)))
    clone(x, x)
    assert [w.path for w in clone.weights] == [w.path for w in mha.weights]
    clone.set_weights(mha.get_weights())
    np.testing.assert_array_equal(clone(x, x).numpy(), mha(x, x).numpy())
    assert len(mha.losses) == 4  # kernel l2 on each projection
    m2 = MultiHeadAttention(2, 3, attention_axes=-2)  # the default for rank-3 inputs, written otherwise
    m2(x, x)
    assert m2.attention_axes == (1,)


def test_errors_are_clear():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match="key_dim"):
        MultiHeadAttention(2, None)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(2, 2, dropout=1.5)
    with pytest.raises(ValueError, match="attention_axes"):
        MultiHeadAttention(2, 2, attention_axes=(2,))(np.zeros((2, 3, 4, 5), np.float32),
                                                      np.zeros((2, 3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="value and key"):
        MultiHeadAttention(2, 2)(x, x, np.zeros((2, 4, 4), np.float32))
    with pytest.raises(TypeError, match="query and a value"):
        MultiHeadAttention(2, 2)(x)
    mha = MultiHeadAttention(2, 2)
    with pytest.raises(ValueError, match="value_mask must have shape"):
        mha(x, x, value_mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="attention_mask of shape"):
        mha(x, x, attention_mask=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match="rank-3"):
        MultiHeadAttention(1, 2)(np.zeros((1, 2, 2, 3), np.float32), np.zeros((1, 2, 2, 3), np.float32),
                                 use_causal_mask=True, value_mask=np.ones((1, 2, 2), bool))


# --------------------------------------------------------------------------- EinsumDense
def test_einsum_dense_projections():
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    layer = EinsumDense("abc,cde->abde", output_shape=(None, 2, 5), bias_axes="de")
    y = layer(x)
    assert [w.path for w in layer.weights] == ["einsum_dense/kernel", "einsum_dense/bias"]
    assert layer.kernel.shape == (4, 2, 5) and layer.bias.shape == (2, 5)
    ref = np.einsum("abc,cde->abde", x, layer.kernel.numpy()) + layer.bias.numpy()
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 2, 5)
    # Keras's broadcasting bias: axes after the first bias axis that are not bias axes get size 1
    l2 = EinsumDense("abc,cde->abde", output_shape=(None, 2, 5), bias_axes="d")
    l2.build((None, 3, 4))
    assert l2.bias.shape == (2, 1)
    l3 = EinsumDense("...b,bc->...c", output_shape=6, activation="relu")
    y3 = l3(rng.standard_normal((2, 3, 4, 5)).astype(np.float32))
    assert y3.shape == (2, 3, 4, 6) and y3.numpy().min() >= 0
    cfg = l3.get_config()
    assert EinsumDense.from_config(cfg).equation == "...b,bc->...c"
    with pytest.raises(ValueError, match="dense form"):
        EinsumDense("ab,ac->bc", output_shape=3)  # contracts a leading (batch) axis
    with pytest.raises(ValueError, match="parse"):
        EinsumDense("abc->ab", output_shape=3)
    with pytest.raises(ValueError, match="output_shape"):
        EinsumDense("abc,cde->abde", output_shape=(None, 2))


def test_einsum_dense_gradients():
    layer = EinsumDense("abcd,cde->abe", output_shape=(None, 3), bias_axes="e", dtype="float64")
    x = rng.standard_normal((2, 2, 2, 3))
    layer(x)
    check_gradients(layer, [x], params=layer.trainable_weights)
