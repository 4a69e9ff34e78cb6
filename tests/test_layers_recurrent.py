"""SimpleRNN / LSTM / GRU layers, their cells, and Bidirectional: Keras 3.15 fixtures (family
``rnn_layers`` from tests/fixtures/make_rnn_layer_fixtures.py, and the lstm_text / gru_text /
gru_text_noreset / bilstm model fixtures), weight paths, shapes, masks, configs, gradients, errors."""
import json
import os

import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.layers.base import clear_session
from core.layers.recurrent import GRU, LSTM, Bidirectional, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell
from tests.fixture_utils import FIXTURE_DIR, case_params

LAYERS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}
RTOL, ATOL = 1e-5, 1e-6
rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


def outputs_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# --------------------------------------------------------------------------- Keras fixtures
def _make_layer(p):
    if p["layer"] == "Bidirectional":
        cls, kw = p["inner"]
        extra = {}
        if p["backward"]:
            bcls, bkw = p["backward"]
            extra["backward_layer"] = LAYERS[bcls](**bkw)
        return Bidirectional(LAYERS[cls](**kw), merge_mode=p["merge_mode"], **extra)
    return LAYERS[p["layer"]](**p["kwargs"])


def _call_kwargs(a):
    kw = {}
    if "mask" in a:
        kw["mask"] = a["mask"]
    states = sorted(k for k in a if k.startswith("state"))
    if states:
        kw["initial_state"] = [a[k] for k in states]
    return kw


RNN_CASES = case_params("rnn_layers", None)
RNN_CASES = [c for c in RNN_CASES if c.values[0] is None
             or c.values[0].params["layer"] in ("LSTM", "GRU", "SimpleRNN", "Bidirectional")]


@pytest.mark.parametrize("case", RNN_CASES)
def test_keras_fixture_outputs_and_weights(case):
    p, a = case.params, case.arrays
    layer = _make_layer(p)
    x = a["x"]
    layer.build((None,) + x.shape[1:])
    assert [w.path for w in layer.weights] == p["weight_paths"]
    assert [list(w.shape) for w in layer.weights] == p["weight_shapes"]
    assert [w.name for w in layer.weights] == [q.rsplit("/", 1)[1] for q in p["weight_paths"]]
    layer.set_weights([a[f"w{i}"] for i in range(len(p["weight_paths"]))])
    out = layer(x, **_call_kwargs(a))
    outs = outputs_list(out)
    n_ref = len([k for k in a if k.startswith("out")])
    assert len(outs) == n_ref
    assert (type(out).__name__ if isinstance(out, (list, tuple)) else "tensor") == p["output_type"]
    for i, o in enumerate(outs):
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.numpy(), a[f"out{i}"], rtol=RTOL, atol=ATOL, err_msg=f"output {i}")
    # compute_output_shape: Keras's, except a custom backward layer of other units (Keras reports
    # twice the forward units there; the real output has forward + backward units)
    shape = layer.compute_output_shape((None,) + x.shape[1:])
    got = [list(s) for s in shape] if isinstance(shape[0], tuple) else list(shape)
    if case.name == "bi_custom_backward":
        assert got == [None] + p["output_shapes"][0][1:]
    else:
        assert got == p["compute_output_shape"]
    if p["layer"] == "Bidirectional":
        assert [layer.forward_layer.name, layer.backward_layer.name] == p["sublayer_names"]


@pytest.mark.parametrize("case", RNN_CASES)
def test_config_round_trip_and_keras_config_keys(case):
    p, a = case.params, case.arrays
    layer = _make_layer(p)
    x = a["x"]
    layer.build((None,) + x.shape[1:])
    layer.set_weights([a[f"w{i}"] for i in range(len(p["weight_paths"]))])
    config = layer.get_config()
    json.dumps(config)  # serializable
    missing = set(p["config"]) - set(config)
    assert not missing, f"config keys Keras has and we lack: {missing}"
    clone = type(layer).from_config(config)
    clone.build((None,) + x.shape[1:])
    assert [w.path for w in clone.weights] == p["weight_paths"]
    clone.set_weights(layer.get_weights())
    for o1, o2 in zip(outputs_list(layer(x, **_call_kwargs(a))), outputs_list(clone(x, **_call_kwargs(a)))):
        np.testing.assert_array_equal(o1.numpy(), o2.numpy())
    for k, v in p["config"].items():
        if k in ("dtype", "layer", "backward_layer") or "initializer" in k:
            continue
        assert config[k] == v, k


# --------------------------------------------------------------------------- model fixtures
def _model_fixture(name):
    path = os.path.join(FIXTURE_DIR, "models", f"{name}.npz")
    if not os.path.exists(path):
        pytest.skip(f"model fixture {name} not found")
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    with open(os.path.join(FIXTURE_DIR, "models", f"{name}.json")) as f:
        meta = json.load(f)
    return data, meta


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("name,cls", [("lstm_text", LSTM), ("gru_text", GRU)])
def test_text_model_fixture_embedded_vectors_and_mask(name, cls):
    """Embedding(mask_zero) -> LSTM/GRU(6) -> Dense(1, sigmoid) of a Keras model, fed the embedded
    vectors and the padding mask directly."""
    z, meta = _model_fixture(name)
    x_ids = z["x"]
    emb = z["weights/0"][x_ids]
    layer = cls(6)
    layer.build((None, 7, 8))
    assert ["sequential/" + w.path for w in layer.weights] == [w["path"] for w in meta["weights"][1:4]]
    layer.set_weights([z["weights/1"], z["weights/2"], z["weights/3"]])
    h = layer(emb, mask=x_ids != 0).numpy()
    pred = _sigmoid(h @ z["weights/4"] + z["weights/5"])
    np.testing.assert_allclose(pred, z["predict"], rtol=RTOL, atol=ATOL)


def test_gru_noreset_fixture_intermediate_sequence():
    z, meta = _model_fixture("gru_text_noreset")
    x_ids = z["x"]
    layer = GRU(6, reset_after=False, return_sequences=True)
    layer.build((None, 7, 8))
    assert layer.weights[2].shape == (18,)
    layer.set_weights([z["weights/1"], z["weights/2"], z["weights/3"]])
    mask = x_ids != 0
    y = layer(z["weights/0"][x_ids], mask=mask)
    np.testing.assert_allclose(y.numpy(), z["intermediate/gru"], rtol=RTOL, atol=ATOL)
    assert np.array_equal(np.asarray(y._keras_mask), mask)  # the mask is passed on with return_sequences


def test_bilstm_model_fixture():
    z, meta = _model_fixture("bilstm")
    x_ids = z["x"]
    mask = x_ids != 0
    b1 = Bidirectional(LSTM(5, return_sequences=True))
    b2 = Bidirectional(LSTM(4))
    b1.build((None, 7, 8))
    b2.build((None, 7, 10))
    paths = ["sequential/" + w.path for w in b1.weights + b2.weights]
    assert paths == [w["path"] for w in meta["weights"][1:13]]
    b1.set_weights([z[f"weights/{i}"] for i in range(1, 7)])
    b2.set_weights([z[f"weights/{i}"] for i in range(7, 13)])
    h1 = b1(z["weights/0"][x_ids], mask=mask)
    assert np.array_equal(np.asarray(h1._keras_mask), mask)
    h2 = b2(h1)  # the mask travels on h1
    assert getattr(h2, "_keras_mask", None) is None
    pred = _softmax(h2.numpy() @ z["weights/13"] + z["weights/14"])
    np.testing.assert_allclose(pred, z["predict"], rtol=RTOL, atol=ATOL)


def test_embedding_lstm_sequential_matches_fixture():
    emb_mod = pytest.importorskip("core.layers.embedding")
    from core.layers import Dense, Input
    from core.models.sequential import Sequential

    z, meta = _model_fixture("lstm_text")
    model = Sequential([Input((7,), dtype="int32"), emb_mod.Embedding(50, 8, mask_zero=True), LSTM(6),
                        Dense(1, activation="sigmoid")])
    assert [w.path for w in model.weights] == [w["path"] for w in meta["weights"]]
    model.set_weights([z[f"weights/{i}"] for i in range(6)])
    np.testing.assert_allclose(model(z["x"]).numpy(), z["predict"], rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- shapes, masks, states
@pytest.mark.parametrize("cls,n_states", [(LSTM, 2), (GRU, 1), (SimpleRNN, 1)])
@pytest.mark.parametrize("seq", [False, True])
def test_return_state_shapes_and_masks(cls, n_states, seq):
    layer = cls(3, return_sequences=seq, return_state=True)
    x = Tensor(rng.standard_normal((2, 4, 5)).astype(np.float32))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    x._keras_mask = Tensor(mask)
    out = layer(x)
    assert isinstance(out, tuple) and len(out) == 1 + n_states
    assert out[0].shape == ((2, 4, 3) if seq else (2, 3))
    assert all(s.shape == (2, 3) for s in out[1:])
    assert layer.compute_output_shape((None, 4, 5)) == (((None, 4, 3) if seq else (None, 3)),) + ((None, 3),) * n_states
    if seq:
        assert np.array_equal(np.asarray(out[0]._keras_mask), mask)
    else:
        assert getattr(out[0], "_keras_mask", None) is None
    assert all(getattr(s, "_keras_mask", None) is None for s in out[1:])
    # the final h equals the last real step's output; masked steps repeat it
    if seq:
        np.testing.assert_array_equal(out[0].numpy()[1, 1], out[1].numpy()[1])
        np.testing.assert_array_equal(out[0].numpy()[1, 3], out[1].numpy()[1])
    else:
        np.testing.assert_array_equal(out[0].numpy(), out[1].numpy())


def test_symbolic_calls_give_keras_shapes():
    from core.layers import Input
    from core.models.functional import Functional

    inp = Input((6, 4))
    o, h, c = LSTM(3, return_sequences=True, return_state=True)(inp)
    assert (o.shape, h.shape, c.shape) == ((None, 6, 3), (None, 3), (None, 3))
    b = Bidirectional(GRU(2, return_sequences=True), merge_mode="concat")(o)
    assert b.shape == (None, 6, 4)
    bn = Bidirectional(GRU(2), merge_mode=None)(b)
    assert isinstance(bn, tuple) and [t.shape for t in bn] == [(None, 2), (None, 2)]
    model = Functional(inp, [o, h, c, b, *bn])
    ys = model(rng.standard_normal((3, 6, 4)).astype(np.float32))
    assert [y.shape for y in ys] == [(3, 6, 3), (3, 3), (3, 3), (3, 6, 4), (3, 2), (3, 2)]
    assert [w.path for w in model.weights][:4] == ["lstm/lstm_cell/kernel", "lstm/lstm_cell/recurrent_kernel",
                                                    "lstm/lstm_cell/bias", "bidirectional/forward_gru/gru_cell/kernel"]


def test_initial_state_changes_output_and_is_differentiable():
    layer = LSTM(3, dtype="float64")
    x = rng.standard_normal((2, 4, 2))
    layer.build((None, 4, 2))
    h0, c0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    assert not np.allclose(layer(x).numpy(), layer(x, initial_state=[h0, c0]).numpy())
    np.testing.assert_allclose(layer(x, initial_state=[np.zeros((2, 3))] * 2).numpy(), layer(x).numpy())
    check_gradients(lambda x_, h, c: layer(x_, initial_state=[h, c]), [x, h0, c0])


def test_float32_stays_float32_and_float64_layers():
    x = rng.standard_normal((2, 3, 4))  # float64 input is cast to the layer's float32
    y = GRU(2)(x)
    assert y.dtype == np.float32
    layer = LSTM(2, dtype="float64")
    assert layer(x.astype(np.float32)).dtype == np.float64
    assert all(w.dtype == np.float64 for w in layer.weights)


def test_lstm_unit_forget_bias_and_gru_bias_shapes():
    lstm = LSTM(3)
    lstm.build((None, 2, 4))
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    lstm2 = LSTM(3, unit_forget_bias=False)
    lstm2.build((None, 2, 4))
    np.testing.assert_array_equal(lstm2.cell.bias.numpy(), np.zeros(12))
    for ra, shape in ((True, (2, 9)), (False, (9,))):
        g = GRU(3, reset_after=ra)
        g.build((None, 2, 4))
        assert g.cell.bias.shape == shape
    s = SimpleRNN(3, use_bias=False)
    s.build((None, 2, 4))
    assert [w.name for w in s.weights] == ["kernel", "recurrent_kernel"]
    assert s.count_params() == 4 * 3 + 3 * 3


def test_layer_attributes_delegate_to_cell_and_trainable():
    layer = LSTM(4, dropout=0.25, recurrent_activation="hard_sigmoid", trainable=False)
    assert (layer.units, layer.dropout, layer.unit_forget_bias) == (4, 0.25, True)
    assert layer.cell.name == "lstm_cell"
    layer.build((None, 3, 2))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 3
    assert GRU(2).reset_after is True


def test_regularizers_and_constraints_reach_the_cell_weights():
    layer = LSTM(2, kernel_regularizer="l2", recurrent_constraint="non_neg", activity_regularizer="l1")
    layer.build((None, 3, 2))
    assert layer.cell.kernel.regularizer is not None and layer.cell.recurrent_kernel.constraint is not None
    layer(rng.standard_normal((2, 3, 2)).astype(np.float32))
    assert len(layer.losses) == 2  # kernel l2 + activity l1


# --------------------------------------------------------------------------- cells
@pytest.mark.parametrize("layer_cls,cell_cls,n_states", [(LSTM, LSTMCell, 2), (GRU, GRUCell, 1),
                                                         (SimpleRNN, SimpleRNNCell, 1)])
def test_cell_step_equals_first_step_of_layer(layer_cls, cell_cls, n_states):
    layer = layer_cls(3, return_sequences=True, return_state=True)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    states = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(n_states)]
    out = layer(x, initial_state=states)
    cell = cell_cls(3)
    cell.build((None, 5))
    cell.set_weights(layer.get_weights())
    h, new = cell(x[:, 0], states)
    np.testing.assert_allclose(h.numpy(), out[0].numpy()[:, 0], rtol=1e-6, atol=1e-7)
    assert isinstance(new, list) and len(new) == n_states
    if n_states == 1:
        h1, s1 = cell(x[:, 0], Tensor(states[0]))  # a single (non-list) state comes back single
        assert isinstance(s1, Tensor)


# --------------------------------------------------------------------------- dropout
def test_input_dropout_one_mask_per_sequence():
    """SimpleRNN with identity kernel, zero recurrence: the output is the dropped-out input, and
    the dropout mask is the same at every step (Keras)."""
    layer = SimpleRNN(6, activation="linear", dropout=0.5, kernel_initializer="identity", return_sequences=True,
                      recurrent_initializer="zeros", seed=3)
    x = np.ones((4, 5, 6), np.float32)
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    assert np.all(y == y[:, :1, :])  # same mask at every time step
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)  # inference: no dropout
    y2 = layer(x, training=True).numpy()
    assert not np.array_equal(y, y2)  # a fresh mask per call


def test_dropout_gradients_are_masked_consistently():
    layer = GRU(2, dropout=0.4, dtype="float64", seed=1)
    x = rng.standard_normal((2, 3, 3))
    layer.build((None, 3, 3))

    def fn(x_):
        layer.cell._rng = np.random.default_rng(7)  # the same mask at every evaluation
        return layer(x_, training=True)

    check_gradients(fn, [x], params=layer.trainable_weights)


def test_recurrent_dropout_trains_and_inference_ignores_it():
    """(Parity of the training path: tests/test_layers_recurrent_dropout.py.)"""
    layer = LSTM(3, recurrent_dropout=0.2)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    y = layer(x)  # inference: recurrent dropout has no effect
    assert y.shape == (2, 3)
    assert layer(x, training=True).shape == (2, 3)
    assert LSTM.from_config(layer.get_config()).recurrent_dropout == 0.2


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("cls,kw", [
    (LSTM, dict(return_sequences=True)),
    (LSTM, dict(go_backwards=True, zero_output_for_mask=True, return_sequences=True)),
    (GRU, dict(return_state=True)),
    (GRU, dict(reset_after=False, return_sequences=True, go_backwards=True)),
    (SimpleRNN, dict(return_sequences=True, activation="relu")),
])
def test_layer_gradients_with_mask(cls, kw):
    layer = cls(2, dtype="float64", **kw)
    x = rng.standard_normal((2, 3, 2))
    mask = np.array([[1, 0, 1], [1, 1, 0]], bool)
    layer.build((None, 3, 2))
    for w in layer.weights:  # non-trivial biases
        w.assign(rng.standard_normal(w.shape) * 0.5)
    check_gradients(lambda x_: layer(x_, mask=mask), [x], params=layer.trainable_weights)


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_gradients(mode):
    layer = Bidirectional(LSTM(2, return_sequences=True, dtype="float64"), merge_mode=mode, dtype="float64")
    x = rng.standard_normal((2, 3, 2))
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    layer.build((None, 3, 2))
    assert len(layer.trainable_weights) == 6
    check_gradients(lambda x_: layer(x_, mask=mask), [x], params=layer.trainable_weights)


# --------------------------------------------------------------------------- Bidirectional specifics
def test_bidirectional_names_weights_and_config():
    b1 = Bidirectional(LSTM(2, return_sequences=True))
    b2 = Bidirectional(LSTM(3))
    assert [b1.forward_layer.name, b1.backward_layer.name] == ["forward_lstm", "backward_lstm"]
    assert [b2.forward_layer.name, b2.backward_layer.name] == ["forward_lstm_1", "backward_lstm_1"]
    assert b1.backward_layer.go_backwards and not b1.forward_layer.go_backwards
    assert b1.forward_layer.zero_output_for_mask and not b2.forward_layer.zero_output_for_mask
    b1.build((None, 4, 3))
    assert [w.path for w in b1.weights][:1] == ["bidirectional/forward_lstm/lstm_cell/kernel"]
    assert b1.compute_output_shape((None, 4, 3)) == (None, 4, 4)
    cfg = b1.get_config()
    assert cfg["layer"]["class_name"] == "LSTM" and cfg["layer"]["config"]["name"] == "forward_lstm"
    assert cfg["backward_layer"]["config"]["go_backwards"] is True
    clone = Bidirectional.from_config(json.loads(json.dumps(cfg)))
    assert [clone.forward_layer.name, clone.backward_layer.name] == ["forward_lstm", "backward_lstm"]
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    clone.build((None, 4, 3))
    clone.set_weights(b1.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), b1(x).numpy())


def test_bidirectional_weights_argument_and_masks_of_outputs():
    inner = GRU(2, return_sequences=True, return_state=True)
    probe = Bidirectional(inner)
    probe.build((None, 3, 2))
    ws = [w + 1.0 for w in probe.get_weights()]
    b = Bidirectional(GRU(2, return_sequences=True, return_state=True), weights=ws)
    x = Tensor(rng.standard_normal((2, 3, 2)).astype(np.float32))
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    x._keras_mask = Tensor(mask)
    out = b(x)
    for w, ref in zip(b.get_weights(), ws):
        np.testing.assert_array_equal(w, ref)
    assert len(out) == 3 and out[0].shape == (2, 3, 4)
    assert np.array_equal(np.asarray(out[0]._keras_mask), mask)
    assert getattr(out[1], "_keras_mask", None) is None
    # masked steps of both directions output zeros when returning sequences
    assert np.all(out[0].numpy()[~mask] == 0)


def test_bidirectional_errors():
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="Layer instance"):
        Bidirectional("lstm")
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True))
    from core.layers import Dense

    with pytest.raises(ValueError, match="recurrent layer"):
        Bidirectional(Dense(2))
    b = Bidirectional(LSTM(2))
    with pytest.raises(ValueError, match="initial_state"):
        b(rng.standard_normal((2, 3, 2)).astype(np.float32), initial_state=[np.zeros((2, 2))] * 3)


# --------------------------------------------------------------------------- errors
def test_errors_are_clear():
    with pytest.raises(ValueError, match="stateful"):
        LSTM(2, stateful=True)
    with pytest.raises(ValueError, match="units"):
        GRU(0)
    with pytest.raises(ValueError, match="activation"):
        LSTM(2, activation="gelu")
    with pytest.raises(ValueError, match="recurrent_activation"):
        GRU(2, recurrent_activation="softmax")
    with pytest.raises(ValueError, match="rank 3"):
        LSTM(2)(np.zeros((2, 3), np.float32))
    layer = LSTM(2)
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"\[h, c\]"):
        layer(x, initial_state=[np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"\(batch, units\)"):
        layer(x, initial_state=[np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\)"):
        layer(x, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="incompatible"):
        layer(np.zeros((2, 3, 5), np.float32))  # features differ from the built ones
    with pytest.raises(ValueError, match="feature dimension"):
        SimpleRNN(2).build((None, 3, None))
