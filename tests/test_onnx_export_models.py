"""ONNX export of every zoo model and of a model made by each app: onnxruntime's outputs equal
``predict`` to 1e-4 with ``onnx.checker`` passing, on random inputs at two batch sizes (random
weights: parity does not need trained ones), plus the pretrained CIFAR ResNet-20 on real CIFAR-10
test images (skipped without ../shared/data) and the SentenceEncoder's embeddings through the
exported encoder. The app models are trained for one epoch by the apps' own CLI on tiny data."""
from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import zoo  # noqa: E402
from core.models import load_model  # noqa: E402

from tests.app_helpers import MINILM_FIXDIR, make_folder, monthly_csv, tiny_encoder_dir, write_csv  # noqa: E402
from tests.onnx_helpers import ATOL, assert_onnx_matches, ort_session, randomize  # noqa: E402
from tests.shared_data import SHARED_DATA, require  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _ids(rng, n, length, vocab, lengths=None):
    """Token ids right-padded with 0 (the apps' padding), rows of different lengths."""
    ids = rng.integers(1, vocab, size=(n, length)).astype(np.int64)
    lengths = lengths if lengths is not None else rng.integers(1, length + 1, size=n)
    for row, k in enumerate(lengths):
        ids[row, k:] = 0
    return ids


def calibrate_batchnorm(model, x):
    """Set every BatchNormalization's moving statistics to the batch statistics of ``x`` (one
    training-mode pass with momentum 0), as a trained network has them: with the initial (0, 1)
    statistics random deep ResNets give logits of 1e4 and saturated (one-hot) probabilities,
    which would make the comparison trivial."""
    from core.autodiff import no_grad
    from core.layers import BatchNormalization

    bns = [layer for layer in model.layers if isinstance(layer, BatchNormalization)]
    momenta = [b.momentum for b in bns]
    for b in bns:
        b.momentum = 0.0
    try:
        with no_grad():
            model(x, training=True)
    finally:
        for b, m in zip(bns, momenta):
            b.momentum = m


# --------------------------------------------------------------------------- image models
@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet20", "resnet32"])
def test_cifar_resnets(name, rng, tmp_path):
    """The logits (classifier_activation=None): softmax would hide differences."""
    model = zoo.create_model(name, weights=None, classifier_activation=None)
    calibrate_batchnorm(model, rng.normal(size=(8, 32, 32, 3)).astype(np.float32))
    x = rng.normal(size=(3, 32, 32, 3)).astype(np.float32)
    assert 0.5 < np.abs(model.predict(x, verbose=0)).max() < 100
    assert_onnx_matches(model, [x], tmp_path / "m.onnx")


@pytest.mark.slow
@pytest.mark.parametrize("name,batches,scale", [("resnet50", (1, 2), 1.0), ("vgg16", (1,), 100.0)])
def test_imagenet_models(name, batches, scale, tmp_path):
    """One export each at 224x224, compared on the logits (classifier_activation=None).
    VGG16 (553 MB, 15 GFLOPs an image here) at batch 1 only, its input scaled so that the logits
    of the random ReLU network (no batch norm, zero biases) are of order 1, not 1e-2."""
    model = zoo.create_model(name, weights=None, classifier_activation=None)
    x = (np.random.default_rng(1).normal(size=(max(batches), 224, 224, 3)) * scale).astype(np.float32)
    worst, _, sess = assert_onnx_matches(model, [x], tmp_path / "m.onnx", batches=batches, load_proto=False)
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["opset"] == "17" and json.loads(meta["inputs"])[0]["shape"] == [None, 224, 224, 3]


# --------------------------------------------------------------------------- text models
@pytest.mark.parametrize("options", [dict(vocab_size=40, embed_dim=8, units=(6, 5), bidirectional=True),
                                     dict(vocab_size=40, embed_dim=8, units=(6,), rnn="gru", pooling="max")],
                         ids=["bilstm_stacked", "gru_maxpool"])
def test_lstm_classifier(options, rng, tmp_path):
    model = zoo.create_model("lstm_classifier", **options)
    ids = _ids(rng, 5, 11, 40, lengths=[11, 4, 1, 7, 2])
    assert_onnx_matches(model, [ids], tmp_path / "m.onnx")


def test_lstm_classifier_on_feature_sequences(rng, tmp_path):
    """input_dim: ZeroMasking (all-zero steps masked) -> GRU."""
    model = zoo.create_model("lstm_classifier", input_dim=3, units=(6,), rnn="gru", classifier_activation=None)
    x = rng.normal(size=(4, 9, 3)).astype(np.float32)
    x[1, 5:] = 0
    x[2, 2:] = 0
    assert_onnx_matches(model, [x], tmp_path / "m.onnx")


@pytest.fixture(scope="module")
def minilm_inputs():
    rng = np.random.default_rng(2)
    ids = _ids(rng, 3, 12, 30522, lengths=[12, 5, 1])
    mask = (ids != 0).astype(np.int64)
    types = np.zeros_like(ids)
    types[0, 6:] = 1
    return [ids, mask, types]


@pytest.fixture(scope="module")
def minilm():
    return zoo.create_model("minilm_l6", weights=None)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", [None, "mean"])
def test_minilm_l6_encoder(pooling, minilm, minilm_inputs, tmp_path):
    """The MiniLM-L6 encoder (token ids, attention mask, token types; random weights): the last
    hidden states, and their masked mean (the SentenceEncoder's pooling, as ``pooling="mean"``
    builds it) on the same encoder."""
    from core.models import Model
    from zoo.models.text import MaskedMeanPooling

    model = minilm
    if pooling == "mean":
        model = Model(minilm.inputs, MaskedMeanPooling(name="mean_pooling")(minilm.outputs[0], mask=minilm.inputs[1]))
    worst, proto, _ = assert_onnx_matches(model, minilm_inputs, tmp_path / "m.onnx")
    assert [i.name for i in proto.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert "Erf" in {n.op_type for n in proto.graph.node}  # exact GELU


def test_bert_classifier_with_pooler(rng, tmp_path):
    """A small BERT text classifier: [CLS] through BertPooler's tanh Dense, then the head;
    without token types (segment 0 everywhere) as a second input layout."""
    from zoo.models.text import bert

    model = bert(vocab_size=50, hidden_size=16, num_layers=2, num_heads=4, intermediate_size=32,
                 max_position_embeddings=16, num_classes=3, classifier_activation=None)
    randomize(model, rng, scale=0.3)
    ids = _ids(rng, 4, 9, 50, lengths=[9, 3, 1, 6])
    types = np.zeros_like(ids)
    types[:, 5:] = 1
    assert_onnx_matches(model, [ids, (ids != 0).astype(np.int64), types], tmp_path / "m.onnx")


def test_sentence_encoder_embeddings_through_onnx(tmp_path):
    """SentenceEncoder (the tiny HF BERT fixture as a local folder): its tokenizer's ids and
    attention mask through the exported encoder, mean-pooled and L2-normalised, give encode()."""
    enc = zoo.SentenceEncoder(str(tiny_encoder_dir(tmp_path)))
    export_path = tmp_path / "enc.onnx"
    enc.model.export(export_path)
    sess = ort_session(export_path)
    sentences = ["the movie was great", "awful plot", "a happy and nice movie it was !"]
    batch = enc.tokenizer.pad([enc.tokenizer.encode(s, max_length=enc.max_length) for s in sentences])
    feeds = {i.name: np.asarray(batch[i.name], np.int64) for i in sess.get_inputs()}
    h = sess.run(None, feeds)[0]
    m = feeds["attention_mask"][:, :, None].astype(np.float32)
    emb = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    np.testing.assert_allclose(emb, enc.encode(sentences), atol=ATOL, rtol=0)


def test_ts_transformer(rng, tmp_path):
    model = zoo.create_model("ts_transformer", input_length=32, num_features=3, horizon=6, patch_len=8,
                             num_targets=2)
    x = (rng.normal(size=(3, 32, 3)) * 5 + 10).astype(np.float32)
    assert_onnx_matches(model, [x], tmp_path / "m.onnx")
    model = zoo.create_model("ts_transformer", input_length=16, num_features=1, horizon=4, d_model=16, num_heads=2)
    assert_onnx_matches(model, [rng.normal(size=(2, 16, 1)).astype(np.float32)], tmp_path / "m2.onnx")


# --------------------------------------------------------------------------- models made by the apps
def _cli(*args):
    from click.testing import CliRunner

    from apps.cli import main

    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


def test_image_app_model(rng, tmp_path):
    """``zoo image train`` with the small registered ``tiny_image_test`` model (a conv, global
    pooling and a softmax Dense; the CIFAR ResNets are tested above)."""
    data = make_folder(tmp_path / "data", per_class=4, corrupt=False)
    out = tmp_path / "run"
    _cli("image", "train", data, "--model", "tiny_image_test", "--weights", "none", "--epochs", "1",
         "--freeze-epochs", "0", "--batch-size", "8", "-o", out)
    model = load_model(out / "model.h5", compile=False)
    x = rng.normal(size=(3,) + tuple(model.inputs[0].shape[1:])).astype(np.float32)
    assert model.predict(x, verbose=0).min() > 1e-4  # not saturated: the comparison means something
    _, proto, _ = assert_onnx_matches(model, [x], tmp_path / "m.onnx")
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["labels"]) == ["bright", "dark"]


@pytest.fixture(scope="module")
def text_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("text") / "reviews.csv", n=40)


@pytest.mark.parametrize("kind,options", [("lstm", ["--embed-dim", "8", "--units", "6"]),
                                          ("transformer", ["--embed-dim", "8", "--units", "16", "--num-heads", "2"])])
def test_text_app_models(kind, options, text_csv, rng, tmp_path):
    out = tmp_path / "run"
    _cli("text", "train", text_csv, "--model", kind, "-o", out, "--epochs", "1", "--batch-size", "16", *options)
    model = load_model(out / "model.h5", compile=False)
    vocab = model.get_layer("embedding" if kind == "lstm" else "embeddings")
    vocab = getattr(vocab, "input_dim", None) or vocab.vocab_size
    ids = _ids(rng, 4, 10, vocab, lengths=[10, 3, 1, 6])
    assert_onnx_matches(model, [ids], tmp_path / "m.onnx")


def test_text_app_minilm_head(rng, tmp_path):
    data = write_csv(tmp_path / "d.csv", n=40)
    out = tmp_path / "run"
    _cli("text", "train", data, "--model", "minilm", "--encoder", tiny_encoder_dir(tmp_path), "-o", out,
         "--epochs", "1", "--head-units", "8")
    model = load_model(out / "model.h5", compile=False)
    ids = _ids(rng, 3, 9, 100, lengths=[9, 2, 5])
    assert_onnx_matches(model, [ids], tmp_path / "m.onnx")


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    return monthly_csv(tmp_path_factory.mktemp("fc") / "m.csv", n=60)


@pytest.mark.parametrize("kind,options", [("linear", []), ("lstm", ["--units", "8"]),
                                          ("transformer", ["--d-model", "8", "--num-heads", "2", "--num-layers", "1",
                                                           "--ff-dim", "16", "--patch-len", "4",
                                                           "--patch-stride", "2"])])
def test_forecast_app_models(kind, options, series_csv, rng, tmp_path):
    out = tmp_path / "run"
    _cli("forecast", "train", series_csv, "--target", "sales", "--features", "promo", "--lookback", "12",
         "--horizon", "3", "--model", kind, *options, "--output", out, "--epochs", "1", "--batch-size", "16",
         "--quiet")
    model = load_model(out / "model.h5", compile=False)
    x = (rng.normal(size=(4,) + tuple(model.inputs[0].shape[1:])) * 3 + 50).astype(np.float32)
    assert_onnx_matches(model, [x], tmp_path / "m.onnx")


@pytest.mark.parametrize("norm", ["revin", "last", "none"])
@pytest.mark.parametrize("n_inputs", [1, 3])
def test_forecast_window_normalizations(norm, n_inputs, rng, tmp_path):
    """Every WindowNormalization mode, with and without covariate channels (random weights: the
    app starts the linear maps at zero)."""
    from apps.forecasting.models import build_model

    model = build_model("linear", 12, 3, n_inputs=n_inputs, norm=norm, kernel_size=5)
    randomize(model, rng, scale=0.2)
    x = (rng.normal(size=(4, 12, n_inputs)) * 3 + 20).astype(np.float32)
    assert_onnx_matches(model, [x], tmp_path / "m.onnx")


# --------------------------------------------------------------------------- real weights, real images
def test_pretrained_resnet20_on_real_cifar_images(tmp_path, monkeypatch):
    ckpt = require("weights/akamaster_resnet_cifar10/resnet20-12fca82f.th")
    raw = require("images/cifar10/test_batch_first846_exact.bin").read_bytes()
    rows = np.frombuffer(raw, np.uint8).reshape(-1, 3073)[:64]
    images = rows[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = rows[:, 0].astype(np.int64)
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "zoo_home"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    zoo.weights.import_file("resnet20.cifar10", str(ckpt))
    assert str(SHARED_DATA) in str(ckpt)
    model = zoo.create_model("resnet20", weights="cifar10")
    x = np.asarray(model.preprocess(images), np.float32)
    _, proto, _ = assert_onnx_matches(model, [x], tmp_path / "m.onnx", batches=(1, 64))
    sess = ort_session(tmp_path / "m.onnx")
    probs = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert (probs.argmax(axis=1) == labels).mean() >= 0.85  # a trained network, not noise
    assert "labels" in {p.key for p in proto.metadata_props}


@pytest.mark.slow
def test_real_minilm_weights_on_real_sentences(minilm_mirror, tmp_path):
    """all-MiniLM-L6-v2's real weights (through the registry's local mirror): the exported encoder
    gives the last hidden states of ``predict`` to 1e-4 on the reference sentences, and its
    masked mean, L2-normalised, gives sentence-transformers' embeddings (the fixture) to 1e-4."""
    import os

    enc = zoo.SentenceEncoder("minilm_l6")
    sentences = json.load(open(os.path.join(MINILM_FIXDIR, "embeddings.json"), encoding="utf-8"))["sentences"][:7]
    batch = enc.tokenizer.pad([enc.tokenizer.encode(s, max_length=enc.max_length) for s in sentences])
    names = [i.name for i in enc.model.inputs]
    feeds = [np.asarray(batch[n], np.int64) for n in names]
    _, _, sess = assert_onnx_matches(enc.model, feeds, tmp_path / "minilm.onnx", batches=(1, 3, len(sentences)))
    h = sess.run(None, dict(zip([i.name for i in sess.get_inputs()], feeds)))[0]
    m = feeds[names.index("attention_mask")][:, :, None].astype(np.float32)
    emb = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    ref = np.load(os.path.join(MINILM_FIXDIR, "embeddings.npz"))["embeddings"][:len(sentences)]
    assert np.abs(emb - ref).max() < 1e-4


@pytest.mark.slow
def test_app_models_trained_on_real_data(tmp_path):
    """An LSTM text classifier on 400 real SMS messages and the default forecaster on the airline
    passengers, each trained by its app: onnxruntime equals ``predict`` on real inputs (messages
    the model never saw, tokenized by the saved vocabulary; the held-out months as windows)."""
    from apps.serving import load_handler

    sms = require("text/sms_spam_collection/SMSSpamCollection")
    air = require("timeseries/jbrownlee/airline-passengers.csv")
    lines = sms.read_text(encoding="utf-8").splitlines()
    (tmp_path / "sms.tsv").write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")
    _cli("text", "train", tmp_path / "sms.tsv", "--no-header", "--label-column", "0", "--text-column", "1",
         "--model", "lstm", "--epochs", "1", "--embed-dim", "16", "--units", "16", "-o", tmp_path / "txt")
    text = load_handler(tmp_path / "txt")
    texts = [line.split("\t", 1)[1] for line in lines[400:410]]
    ids = text.decode("texts", texts)
    width = max(len(r) for r in ids)
    ids = np.array([list(r) + [0] * (width - len(r)) for r in ids], np.int64)
    assert (ids[:, 0] != 0).all() and (ids == 0).any()  # real words, rows of different lengths
    assert_onnx_matches(text.model, [ids], tmp_path / "txt.onnx")

    _cli("forecast", "train", air, "--target", "Passengers", "--lookback", "24", "--horizon", "12",
         "--split", "108,24,12", "--epochs", "3", "--quiet", "--output", tmp_path / "fc")
    fc = load_handler(tmp_path / "fc")
    values = np.loadtxt(air, delimiter=",", skiprows=1, usecols=1, dtype=np.float64)
    windows = np.concatenate(fc.decode("series", [values[:n].tolist() for n in range(120, 145, 4)]))
    assert_onnx_matches(fc.model, [windows.astype(np.float32)], tmp_path / "fc.onnx")
