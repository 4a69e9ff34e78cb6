"""Keras parity: the same architectures with Keras's weights give Keras's predictions, one
SGD train_on_batch step gives Keras's updated weights and loss, and summary() prints Keras's
table. Fixtures: tests/fixtures/models/ (made by tests/fixtures/make_model_fixtures.py)."""
import json
from pathlib import Path

import numpy as np
import pytest

from core import layers as L
from core.layers import clear_session
from core.models import Model, Sequential
from core.optimizers import SGD

FIX = Path(__file__).parent / "fixtures" / "models"


def build_mlp():
    return Sequential([L.Input((784,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                       L.Dense(10, activation="softmax")])


def build_cnn_bn():
    return Sequential([L.Input((12, 12, 3)), L.Conv2D(8, 3, padding="same"), L.BatchNormalization(),
                       L.Activation("relu"), L.MaxPooling2D(2),
                       L.Conv2D(16, 3, strides=2, padding="same", use_bias=False), L.BatchNormalization(momentum=0.9),
                       L.Activation("relu"), L.AveragePooling2D(2, padding="same"), L.Flatten(),
                       L.Dense(5, activation="softmax")])


def _text(rnn, *rest):
    return Sequential([L.Input((7,), dtype="int32"), L.Embedding(50, 8, mask_zero=True), rnn, *rest])


def build_lstm_text():
    return _text(L.LSTM(6), L.Dense(1, activation="sigmoid"))


def build_gru_text():
    return _text(L.GRU(6), L.Dense(1, activation="sigmoid"))


def build_gru_text_noreset():
    return _text(L.GRU(6, reset_after=False, return_sequences=True), L.GlobalAveragePooling1D(),
                 L.Dense(3, activation="softmax"))


def build_bilstm():
    return _text(L.Bidirectional(L.LSTM(5, return_sequences=True)), L.Bidirectional(L.LSTM(4)),
                 L.Dense(2, activation="softmax"))


def build_transformer_block():
    inp = L.Input((6, 16))
    attn = L.MultiHeadAttention(num_heads=2, key_dim=8)(inp, inp)
    x1 = L.LayerNormalization(epsilon=1e-6)(L.Add()([inp, attn]))
    ff = L.Dense(32, activation="gelu")(x1)
    ff = L.Dense(16)(ff)
    x2 = L.LayerNormalization(epsilon=1e-6)(L.Add()([x1, ff]))
    out = L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(x2))
    return Model(inp, out)


def build_functional_multi():
    a, b = L.Input((4,), name="a"), L.Input((4,), name="b")
    shared = L.Dense(6, activation="relu")
    ha, hb = shared(a), shared(b)
    out1 = L.Dense(2, name="out1")(L.Concatenate()([ha, hb]))
    out2 = L.Dense(1, name="out2")(ha)
    return Model(inputs=[a, b], outputs=[out1, out2])


def build_small_resnet():
    inp = L.Input((10, 10, 3))
    x = L.ZeroPadding2D((1, 1))(inp)
    x = L.Conv2D(8, 3, padding="valid")(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    r = L.Conv2D(8, 3, padding="same")(x)
    r = L.BatchNormalization()(r)
    r = L.Activation("relu")(r)
    r = L.Conv2D(8, 3, padding="same")(r)
    r = L.BatchNormalization()(r)
    x = L.Add()([x, r])
    x = L.Activation("relu")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    out = L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(x))
    return Model(inp, out)


MODELS = ["mlp", "cnn_bn", "lstm_text", "gru_text", "gru_text_noreset", "bilstm", "transformer_block",
          "functional_multi", "small_resnet"]


def load(name):
    meta = json.loads((FIX / f"{name}.json").read_text())
    arrays = np.load(FIX / f"{name}.npz")
    return meta, arrays


def indexed(arrays, prefix):
    keys = sorted((k for k in arrays.files if k.startswith(prefix + "/")), key=lambda k: int(k.split("/")[1]))
    return [arrays[k] for k in keys]


def inputs_of(arrays):
    if "x" in arrays.files:
        return arrays["x"]
    return {k[2:]: arrays[k] for k in arrays.files if k.startswith("x_")}


def targets_of(arrays):
    if "y" in arrays.files:
        return arrays["y"]
    return {k[2:]: arrays[k] for k in arrays.files if k.startswith("y_")}


def build(name):
    clear_session()
    model = globals()[f"build_{name}"]()
    meta, arrays = load(name)
    model.set_weights(indexed(arrays, "weights"))
    return model, meta, arrays


def close(ours, ref):
    # float32 computation vs Keras float32: 1e-5 relative; atol covers round-off near zero
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_weight_names_shapes_and_param_counts(name):
    model, meta, arrays = build(name)
    ours = [(w.path, tuple(w.shape)) for w in model.weights]
    ref = [(w["path"], tuple(w["shape"])) for layer in meta["layers"] for w in layer["weights"]]
    assert ours == ref
    assert model.count_params() == meta["total_params"]
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == meta["trainable_params"]
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == meta["non_trainable_params"]
    assert [l.name for l in model.layers] == [l["name"] for l in meta["layers"]]


@pytest.mark.parametrize("name", MODELS)
def test_summary_equals_keras(name):
    model, meta, _ = build(name)
    out = []
    model.summary(print_fn=out.append)
    assert out[0] == meta["summary"]


@pytest.mark.parametrize("name", MODELS)
def test_predict_equals_keras(name):
    model, meta, arrays = build(name)
    pred = model.predict(inputs_of(arrays), verbose=0)
    if isinstance(pred, list):
        for p, out_name in zip(pred, model.output_names):
            close(p, arrays[f"predict_{out_name}"])
    else:
        close(pred, arrays["predict"])


@pytest.mark.parametrize("name", MODELS)
def test_one_sgd_step_equals_keras(name):
    model, meta, arrays = build(name)
    ts = meta["train_step"]
    kwargs = {"loss_weights": ts["loss_weights"]} if ts.get("loss_weights") else {}
    model.compile(optimizer=SGD(learning_rate=ts["learning_rate"]), loss=ts["loss"], **kwargs)
    result = model.train_on_batch(inputs_of(arrays), targets_of(arrays))
    loss = result[0] if isinstance(result, list) else result
    np.testing.assert_allclose(loss, float(np.ravel(arrays["train_loss"])[0]), rtol=1e-5)
    for w, ref in zip(model.weights, indexed(arrays, "trained_weights")):
        np.testing.assert_allclose(w.numpy(), ref, rtol=1e-5, atol=1e-6, err_msg=w.path)
    if isinstance(result, list):  # multi-output: [loss, out1_loss, out2_loss] as Keras returns
        np.testing.assert_allclose(result, ts["train_on_batch_returned"], rtol=1e-5)
    pred = model.predict(inputs_of(arrays), verbose=0)
    if isinstance(pred, list):
        for p, out_name in zip(pred, model.output_names):
            close(p, arrays[f"predict_after_{out_name}"])
    else:
        close(pred, arrays["predict_after"])
