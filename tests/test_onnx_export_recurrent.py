"""ONNX export of the recurrent and attention layers: onnxruntime's outputs equal ``predict`` to
1e-4 (``onnx.checker`` passing) at two batch sizes, for SimpleRNN / LSTM / GRU (both
``reset_after``), every return_sequences / return_state / go_backwards combination, masks (explicit,
from ``Embedding(mask_zero=True)``, through Dropout), initial states, non-default activations,
Bidirectional with every merge mode, and MultiHeadAttention with its masks, causal / sliding
windows, gates, scores and rank-4 inputs."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from core import layers as L  # noqa: E402
from core.export import OnnxExportError, export_onnx  # noqa: E402
from core.models import Model, Sequential  # noqa: E402

from tests.onnx_helpers import ATOL, assert_onnx_matches, ort_session, randomize  # noqa: E402

T, F, U = 6, 3, 5


def _ops(proto):
    return [n.op_type for n in proto.graph.node]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _data(rng, n=5):
    x = rng.normal(size=(n, T, F)).astype(np.float32)
    lens = np.array([T, 3, 1, 0, 4][:n])
    mask = np.arange(T)[None] < lens[:, None]  # right padding; one fully masked row
    return x, mask


RNNS = {
    "lstm": (L.LSTM, {}), "gru": (L.GRU, {}), "gru_reset_before": (L.GRU, {"reset_after": False}),
    "simple_rnn": (L.SimpleRNN, {}),
    "lstm_relu_hard_sigmoid": (L.LSTM, {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    "gru_linear": (L.GRU, {"activation": "linear"}),
}
OP_OF = {L.LSTM: "LSTM", L.GRU: "GRU", L.SimpleRNN: "RNN"}


# --------------------------------------------------------------------------- SimpleRNN / LSTM / GRU
@pytest.mark.parametrize("kind", sorted(RNNS))
@pytest.mark.parametrize("return_sequences,go_backwards", [(False, False), (True, False), (False, True),
                                                           (True, True)])
def test_recurrent_layers_match(kind, return_sequences, go_backwards, rng, tmp_path):
    cls, kw = RNNS[kind]
    x, mask = _data(rng)
    worst = 0.0
    for use_mask in (False, True):
        for zero_out in ((False, True) if use_mask else (False,)):
            inp, m = L.Input((T, F)), L.Input((T,), dtype="bool")
            layer = cls(U, return_sequences=return_sequences, go_backwards=go_backwards, return_state=True,
                        zero_output_for_mask=zero_out, **kw)
            out = layer(inp, mask=m) if use_mask else layer(inp)
            model = Model([inp, m] if use_mask else inp, out)
            randomize(model, rng)
            d, proto, _ = assert_onnx_matches(model, [x, mask] if use_mask else [x], tmp_path / "m.onnx")
            worst = max(worst, d)
            ops = _ops(proto)
            assert ops.count(OP_OF[cls]) == 1  # one fused ONNX op, not an unrolled loop
    assert worst < ATOL


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_initial_state_inputs(cls, go_backwards, rng, tmp_path):
    x, mask = _data(rng)
    n_states = 2 if cls is L.LSTM else 1
    states = [rng.normal(size=(len(x), U)).astype(np.float32) for _ in range(n_states)]
    for use_mask in (False, True):
        for rs in (False, True):
            inp, m = L.Input((T, F)), L.Input((T,), dtype="bool")
            s_in = [L.Input((U,)) for _ in range(n_states)]
            layer = cls(U, return_sequences=rs, return_state=True, go_backwards=go_backwards)
            out = layer(inp, initial_state=s_in, mask=m) if use_mask else layer(inp, initial_state=s_in)
            model = Model([inp] + s_in + ([m] if use_mask else []), out)
            randomize(model, rng)
            # the fully masked row keeps its initial state and outputs zeros, as the layer does
            assert_onnx_matches(model, [x] + states + ([mask] if use_mask else []), tmp_path / "m.onnx")


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode, rng, tmp_path):
    x, mask = _data(rng)
    for inner in (L.LSTM, L.GRU):
        for rs in (False, True):
            for use_mask in (False, True):
                inp, m = L.Input((T, F)), L.Input((T,), dtype="bool")
                layer = L.Bidirectional(inner(U, return_sequences=rs, return_state=True), merge_mode=merge_mode)
                out = layer(inp, mask=m) if use_mask else layer(inp)
                model = Model([inp, m] if use_mask else inp, out)
                randomize(model, rng)
                assert_onnx_matches(model, [x, mask] if use_mask else [x], tmp_path / "m.onnx")


def test_bidirectional_with_own_backward_layer_and_states(rng, tmp_path):
    x, mask = _data(rng)
    inp, m = L.Input((T, F)), L.Input((T,), dtype="bool")
    s_in = [L.Input((U,)) for _ in range(2)] + [L.Input((4,))]
    layer = L.Bidirectional(L.LSTM(U, return_sequences=True), backward_layer=L.GRU(4, return_sequences=True,
                                                                                    go_backwards=True))
    model = Model([inp, m] + s_in, layer(inp, mask=m, initial_state=s_in))
    randomize(model, rng)
    states = [rng.normal(size=(len(x), s)).astype(np.float32) for s in (U, U, 4)]
    assert_onnx_matches(model, [x, mask] + states, tmp_path / "m.onnx")


def test_masks_from_embedding_through_dropout_and_stacked_layers(rng, tmp_path):
    """Embedding(mask_zero) -> Dropout -> LSTM(seq) -> Bidirectional GRU -> Dense, as Sequential
    and Functional; ids right-padded with 0 (a row of only padding too)."""
    ids = rng.integers(1, 30, size=(5, 9))
    for row, n in enumerate([9, 4, 1, 0, 6]):
        ids[row, n:] = 0
    seq = Sequential([L.Input((None,), dtype="int64"), L.Embedding(30, 6, mask_zero=True), L.Dropout(0.3),
                      L.LSTM(5, return_sequences=True), L.Bidirectional(L.GRU(4)), L.Dense(3, activation="softmax")])
    randomize(seq, rng)
    assert_onnx_matches(seq, [ids], tmp_path / "seq.onnx")
    inp = L.Input((9,), dtype="int64")
    h = L.Embedding(30, 6, mask_zero=True)(inp)
    h = L.SimpleRNN(5, return_sequences=True, go_backwards=True)(h)
    h = L.LSTM(4, return_sequences=True)(h)
    model = Model(inp, L.GRU(3)(h))
    randomize(model, rng)
    assert_onnx_matches(model, [ids], tmp_path / "fn.onnx")


def test_integer_and_float_masks(rng, tmp_path):
    x, mask = _data(rng)
    for dtype in ("int64", "float32"):
        inp, m = L.Input((T, F)), L.Input((T,), dtype=dtype)
        model = Model([inp, m], L.LSTM(U, return_sequences=True)(inp, mask=m))
        randomize(model, rng)
        assert_onnx_matches(model, [x, mask.astype(dtype)], tmp_path / "m.onnx")


def test_left_padding_is_the_documented_difference(rng, tmp_path):
    """sequence_lens reproduces right padding only: a left-padded mask gives other numbers
    (documented in core.export.onnx_recurrent), which this pins down."""
    x, _ = _data(rng, 2)
    left = np.array([[False, False, True, True, True, True]] * 2)
    inp, m = L.Input((T, F)), L.Input((T,), dtype="bool")
    model = Model([inp, m], L.LSTM(U)(inp, mask=m))
    randomize(model, rng)
    export_onnx(model, tmp_path / "m.onnx")
    sess = ort_session(tmp_path / "m.onnx")
    got = sess.run(None, dict(zip([i.name for i in sess.get_inputs()], [x, left])))[0]
    assert np.abs(got - model.predict([x, left], verbose=0)).max() > 1e-3


def test_dynamic_batch_and_time_major_transposes(rng, tmp_path):
    inp = L.Input((None, F))
    model = Model(inp, L.GRU(U, return_sequences=True)(inp))
    randomize(model, rng)
    x = rng.normal(size=(3, 7, F)).astype(np.float32)
    _, proto, _ = assert_onnx_matches(model, [x], tmp_path / "m.onnx")
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].dim_value
    gru = next(n for n in proto.graph.node if n.op_type == "GRU")
    assert {a.name: a.i for a in gru.attribute}["linear_before_reset"] == 1
    # another sequence length than the one exported with
    sess = ort_session(tmp_path / "m.onnx")
    x2 = rng.normal(size=(2, 4, F)).astype(np.float32)
    got = sess.run(None, {sess.get_inputs()[0].name: x2})[0]
    np.testing.assert_allclose(got, model.predict(x2, verbose=0), atol=ATOL, rtol=0)


def test_clear_errors(tmp_path):
    from core.export.onnx_graph import OnnxGraph
    from core.export.onnx_recurrent import emit_rnn

    with pytest.raises(OnnxExportError, match="not a SimpleRNN, LSTM or GRU"):
        emit_rnn(OnnxGraph(), L.Dense(3), "x")
    inp = L.Input((T, F), dtype="float64")
    model = Model(inp, L.LSTM(U, dtype="float64")(inp))
    with pytest.raises(OnnxExportError, match="only float32 recurrent layers"):
        export_onnx(model, tmp_path / "m.onnx")
    q = L.Input((TQ, D), dtype="float64")
    model = Model(q, L.MultiHeadAttention(2, 4, dtype="float64")(q, q))
    with pytest.raises(OnnxExportError, match="only float32 layers"):
        export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# --------------------------------------------------------------------------- MultiHeadAttention
B, TQ, TS, D = 4, 5, 4, 8


def _mha_data(rng):
    q = rng.normal(size=(B, TQ, D)).astype(np.float32)
    v = rng.normal(size=(B, TS, D)).astype(np.float32)
    qm = rng.random((B, TQ)) > 0.3
    vm = rng.random((B, TS)) > 0.4
    vm[0] = False  # a query row whose keys are all masked
    am = rng.random((B, TQ, TS)) > 0.5
    return q, v, {"query_mask": qm, "value_mask": vm, "attention_mask": am}


MASK_SHAPES = {"query_mask": (TQ,), "value_mask": (TS,), "attention_mask": (TQ, TS)}


@pytest.mark.slow
@pytest.mark.parametrize("options", [{}, {"dropout": 0.1}, {"use_gate": True}, {"output_shape": (3, 2)},
                                     {"value_dim": 3, "use_bias": False}, {"sliding_window": 2}],
                         ids=["plain", "dropout", "gate", "output_shape", "value_dim_no_bias", "sliding_window"])
def test_multi_head_attention_matches(options, rng, tmp_path):
    q_arr, v_arr, masks = _mha_data(rng)
    worst = 0.0
    for scores in (False, True):
        for names in ((), ("query_mask",), ("value_mask",), ("attention_mask",),
                      ("query_mask", "value_mask", "attention_mask")):
            for causal in (False, True):
                q, v = L.Input((TQ, D)), L.Input((TS, D))
                kw = {n: L.Input(MASK_SHAPES[n], dtype="bool") for n in names}
                mha = L.MultiHeadAttention(2, 4, **options)
                out = mha(q, v, return_attention_scores=scores, use_causal_mask=causal, **kw)
                model = Model([q, v] + list(kw.values()), out)
                randomize(model, rng)
                d, proto, _ = assert_onnx_matches(model, [q_arr, v_arr] + [masks[n] for n in names],
                                               tmp_path / "m.onnx")
                worst = max(worst, d)
                assert "Softmax" in _ops(proto)
    assert worst < ATOL


def test_attention_masks_of_other_dtypes_and_key_input(rng, tmp_path):
    q_arr, v_arr, masks = _mha_data(rng)
    k_arr = rng.normal(size=(B, TS, 6)).astype(np.float32)
    for dtype in ("float32", "int64"):
        q, v, k = L.Input((TQ, D)), L.Input((TS, D)), L.Input((TS, 6))
        am = L.Input((TQ, TS), dtype=dtype)
        model = Model([q, v, k, am], L.MultiHeadAttention(2, 3)(q, v, k, attention_mask=am))
        randomize(model, rng)
        am_arr = masks["attention_mask"].astype(dtype)
        if dtype == "float32":
            am_arr = am_arr * 0.9 + 0.05  # > 0.5 attends
        assert_onnx_matches(model, [q_arr, v_arr, k_arr, am_arr], tmp_path / "m.onnx")


def test_attention_uses_the_embedding_masks(rng, tmp_path):
    """Self-attention on Embedding(mask_zero) tokens: the Keras query/value masks become the
    attention mask, and the output keeps the query's mask for a following LSTM."""
    ids = rng.integers(1, 20, size=(4, 7))
    for row, n in enumerate([7, 3, 1, 5]):
        ids[row, n:] = 0
    inp = L.Input((7,), dtype="int64")
    h = L.Embedding(20, 8, mask_zero=True)(inp)
    a = L.MultiHeadAttention(2, 4)(h, h)
    model = Model(inp, L.LSTM(3)(L.Add()([h, a])))
    randomize(model, rng)
    assert_onnx_matches(model, [ids], tmp_path / "m.onnx")


def test_attention_over_two_axes(rng, tmp_path):
    q, v, k = L.Input((2, 3, D)), L.Input((2, 2, D)), L.Input((2, 2, 6))
    arrays = [rng.normal(size=(3,) + s).astype(np.float32) for s in [(2, 3, D), (2, 2, D), (2, 2, 6)]]
    for scores in (False, True):
        model = Model([q, v, k], L.MultiHeadAttention(2, 4)(q, v, k, return_attention_scores=scores))
        randomize(model, rng)
        assert_onnx_matches(model, arrays, tmp_path / "m.onnx")


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_other_opsets(opset, rng, tmp_path):
    """Axes as attributes (ReduceMax before opset 18) or inputs: the same numbers, the opset recorded."""
    x, mask = _data(rng)
    inp, m = L.Input((T, F)), L.Input((T,), dtype="bool")
    h = L.LSTM(4, return_sequences=True)(inp, mask=m)
    a = L.MultiHeadAttention(2, 2, dropout=0.1)(h, h, value_mask=m, use_causal_mask=True)
    model = Model([inp, m], L.Bidirectional(L.GRU(3))(a, mask=m))
    randomize(model, rng)
    _, proto, _ = assert_onnx_matches(model, [x, mask], tmp_path / "m.onnx", opset=opset)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [opset]
