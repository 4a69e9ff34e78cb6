"""`zoo text train | evaluate | predict` with CliRunner on small data the tests make: CSV/TSV
(named or indexed columns, several text columns), folders of .txt files, the three models
(minilm on the tiny BERT fixture as a local encoder folder), and every error case."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main
from apps.text_data import DataError, load_text_dataset, read_table
from apps.text_vocab import PAD, UNK, Vocabulary, pad_batch

from tests.app_helpers import make_texts, tiny_encoder_dir, write_csv

HERE = os.path.dirname(os.path.abspath(__file__))

def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


# --------------------------------------------------------------------------- vocabulary and data
def test_vocabulary_words_counts_and_round_trip():
    v = Vocabulary.build(["Don't stop! Été à Paris, l'été", "stop stop naïve café", "x"], max_size=7)
    assert v.tokens[:2] == [PAD, UNK] and len(v) == 7
    assert v.tokens[2] == "stop"  # most frequent (3x), then ties in order of appearance
    assert v.tokens[3:7] == ["don't", "!", "été", "à"]
    assert v.split("l'été l’été") == ["l'été", "l’été"]  # inner apostrophes keep a word whole
    assert v.split("Hello, WORLD… naïve") == ["hello", ",", "world", "…", "naïve"]
    assert v.encode("STOP été zebra", max_length=2) == [2, 5]
    assert v.encode("zebra stop") == [1, 2]  # unknown -> <unk> = 1
    again = Vocabulary.from_config(json.loads(json.dumps(v.to_config())))
    assert again.tokens == v.tokens and again.encode("don't stop") == v.encode("don't stop")
    assert pad_batch([[5, 6, 7], [8], []]).tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert pad_batch([[], []]).shape == (2, 1)
    with pytest.raises(ValueError, match="at least 3"):
        Vocabulary.build(["a"], max_size=2)
    cased = Vocabulary.build(["Apple apple"], lowercase=False)
    assert cased.tokens[2:] == ["Apple", "apple"]


def test_tables_columns_delimiters_and_label_order(tmp_path):
    p = tmp_path / "news.csv"
    p.write_text('id,Title,Body,label\n1,"Big, news",story one,10\n2,Small,"two\nlines",2\n3,Other,three,2\n')
    texts, labels = read_table(p, text_columns=("title", "Body"), label_column="LABEL")
    assert texts == ["Big, news story one", "Small two\nlines", "Other three"] and labels == ["10", "2", "2"]
    ds = load_text_dataset(p, text_columns=("Title,Body",))
    assert ds.class_names == ["2", "10"]  # integer labels sort numerically
    ds = load_text_dataset(p, text_columns=("Title",), label_names=["two", "ten"])
    assert ds.class_names == ["two", "ten"] and ds.labels.tolist() == [1, 0, 0]
    assert ds.label_map == {"2": "two", "10": "ten"}
    ds = load_text_dataset(p, text_columns=("Title",), label_names={"10": "ten"}, class_names=["two", "ten", "2"])
    assert ds.labels.tolist() == [1, 2, 2]  # a dict renames the labels it names
    t = tmp_path / "spam"  # no extension, tab in the first line: TSV; stray quotes kept literally
    t.write_text('ham\tsay "hi" to\tmum\nspam\tWIN "now\n')
    texts, labels = read_table(t, no_header=True)
    assert texts == ['say "hi" to mum', 'WIN "now'] and labels == ["ham", "spam"]
    texts, _ = read_table(t, text_columns=("1",), no_header=True)
    assert texts[0] == 'say "hi" to'
    s = tmp_path / "semi.txt"
    s.write_text("text;label\na b;x\nc;y\n")
    assert read_table(s, delimiter="semicolon")[0] == ["a b", "c"]


# --------------------------------------------------------------------------- the three models end to end
@pytest.mark.slow
def test_lstm_train_evaluate_predict(tmp_path):
    data = write_csv(tmp_path / "reviews.csv", n=80)
    out = tmp_path / "run"
    r = run("text", "train", data, "--model", "lstm", "-o", out, "--epochs", "10", "--embed-dim", "8", "--units", "8",
            "--lr", "0.02", "--batch-size", "16", "--patience", "10")
    assert r.exit_code == 0, r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "labels"} <= set(metrics)
    assert metrics["labels"] == ["neg", "pos"] and metrics["split"] == "test"
    assert metrics["num_test"] == 16 and np.sum(metrics["confusion_matrix"]) == 16
    assert metrics["num_train"] + metrics["num_validation"] + metrics["num_test"] == 80
    assert metrics["accuracy"] >= 0.9, metrics
    args = json.loads((out / "args.json").read_text())
    assert args["model_kind"] == "lstm" and args["max_length"] == 128 and args["seed"] == 0
    assert "val_macro_f1" in json.loads((out / "history.json").read_text())

    from core.models import load_model

    model = load_model(out / "model.h5", compile=False)
    assert model.assets["labels"] == ["neg", "pos"] and model.assets["text_model"] == "lstm"
    assert model.assets["vocab"]["tokens"][:2] == [PAD, UNK] and model.assets["max_length"] == 128

    r = run("text", "evaluate", out / "model.h5", data, "--json")  # the data options are remembered
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout.strip().splitlines()[-1])
    assert ev["num_samples"] == 80 and ev["accuracy"] >= 0.9
    r = run("text", "evaluate", out, data, "-o", tmp_path / "ev", "--json")  # the run folder works too
    assert r.exit_code == 0 and json.loads((tmp_path / "ev" / "metrics.json").read_text())["num_samples"] == 80

    r = run("text", "predict", out, "A great and happy movie", "bad, awful plot", "--json", "--top", "1")
    assert r.exit_code == 0, r.output
    lines = [json.loads(l) for l in r.stdout.strip().splitlines()]
    assert [l["predictions"][0]["label"] for l in lines] == ["pos", "neg"]
    assert len(lines[0]["predictions"]) == 1 and 0.5 < lines[0]["predictions"][0]["probability"] <= 1
    r = run("text", "predict", out, "", "zebra xylophone", "--json")  # no known word: still a prediction
    assert r.exit_code == 0 and len(r.stdout.strip().splitlines()) == 2, r.output
    r = run("text", "predict", out / "model.h5", "nice", "-f", "-", input="sad movie\n\nugly plot\n")
    assert r.exit_code == 0, r.output
    rows = r.stdout.strip().splitlines()
    assert len(rows) == 3 and rows[1].startswith("sad movie") and "neg" in rows[1] and "pos" in rows[1]


def test_vocabulary_comes_from_the_training_split_only(tmp_path):
    texts, labels = make_texts(60)
    texts = [t + f" only{i}" for i, t in enumerate(texts)]  # one word unique to each row
    p = tmp_path / "d.tsv"
    p.write_text("".join(f"{l}\t{t}\n" for t, l in zip(texts, labels)))
    out = tmp_path / "run"
    r = run("text", "train", p, "--no-header", "--label-column", "0", "--text-column", "1", "-o", out,
            "--epochs", "1", "--embed-dim", "4", "--units", "4", "--test-split", "0.25", "--seed", "3")
    assert r.exit_code == 0, r.output
    from core.models import load_model

    tokens = set(load_model(out / "model.h5", compile=False).assets["vocab"]["tokens"])
    unique = {f"only{i}" for i in range(60)}
    m = json.loads((out / "metrics.json").read_text())
    assert len(tokens & unique) == m["num_train"]  # validation and test rows added no word


@pytest.mark.slow
def test_transformer_on_tsv_without_header_and_two_text_columns(tmp_path):
    texts, labels = make_texts(200, seed=1)
    p = tmp_path / "d.tsv"
    p.write_text("".join(f"{l}\t{t[:len(t) // 2]}\t{t[len(t) // 2:]}\n" for t, l in zip(texts, labels)))
    out = tmp_path / "run"
    r = run("text", "train", p, "--no-header", "--label-column", "0", "--text-column", "1", "--text-column", "2",
            "--model", "transformer", "-o", out, "--epochs", "8", "--patience", "8", "--embed-dim", "16", "--units",
            "32", "--num-heads", "2", "--num-layers", "2", "--lr", "0.005", "--batch-size", "16", "--class-weight",
            "none")
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == "transformer" and m["num_test"] == 40 and m["accuracy"] >= 0.9, m
    from core.models import load_model

    model = load_model(out / "model.h5", compile=False)
    assert [l.name for l in model.layers if l.name.startswith("encoder_layer_")] == ["encoder_layer_0",
                                                                                   "encoder_layer_1"]
    # padding does not change a prediction
    a = model.predict(np.array([[5, 6, 7]]), verbose=0)
    b = model.predict(np.array([[5, 6, 7, 0, 0, 0]]), verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-5)
    r = run("text", "evaluate", out, p, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["num_samples"] == 200


def test_label_names_are_remembered_for_evaluate(tmp_path):
    texts, labels = make_texts(40, seed=5)
    p = tmp_path / "d.csv"
    p.write_text("".join(f'"{1 if l == "neg" else 2}","{t}"\n' for t, l in zip(texts, labels)))
    out = tmp_path / "run"
    r = run("text", "train", p, "--no-header", "-o", out, "--label-names", "negative,positive", "--epochs", "1",
            "--embed-dim", "4", "--units", "4")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["labels"] == ["negative", "positive"]
    only_pos = tmp_path / "pos.csv"  # one class only: the saved raw -> name map still applies
    only_pos.write_text("".join(f'"2","{t}"\n' for t, l in zip(texts, labels) if l == "pos"))
    r = run("text", "evaluate", out, only_pos, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["num_samples"] == 20


def test_folder_of_txt_files_skips_unreadable_ones(tmp_path):
    texts, labels = make_texts(40, seed=2)
    root = tmp_path / "folder"
    for i, (t, l) in enumerate(zip(texts, labels)):
        (root / l).mkdir(parents=True, exist_ok=True)
        (root / l / f"{i}.txt").write_text(t + "\n", encoding="utf-8")
    (root / "pos" / "latin.txt").write_bytes(b"caf\xe9 \xff")
    (root / "neg" / "empty.txt").write_text("  \n")
    (root / "neg" / "notes.md").write_text("ignored")
    ds = load_text_dataset(root)
    assert len(ds.texts) == 40 and ds.class_names == ["neg", "pos"] and len(ds.skipped) == 2
    out = tmp_path / "run"
    r = run("text", "train", root, "-o", out, "--epochs", "1", "--embed-dim", "4", "--units", "4")
    assert r.exit_code == 0, r.output
    assert "latin.txt: not valid utf-8" in r.stderr and "empty.txt: empty" in r.stderr
    r = run("text", "evaluate", out, root, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["num_samples"] == 40


@pytest.mark.slow
def test_minilm_head_and_top_layer_on_a_local_encoder(tmp_path):
    from zoo import SentenceEncoder

    from apps.text_models import (HiddenBatches, PieceTokenizer, adapt_feature_norm, build_head, build_minilm, build_top, copy_layers,
                                  encode_split, predict_ids)
    from core.models import load_model

    enc_dir = tiny_encoder_dir(tmp_path)
    data = write_csv(tmp_path / "d.csv", n=200, seed=4)
    out = tmp_path / "run"
    r = run("text", "train", data, "--model", "minilm", "--encoder", enc_dir, "-o", out, "--finetune-top", "1",
            "--finetune-epochs", "2", "--finetune-lr", "1e-3", "--head-units", "16", "--epochs", "30", "--lr", "0.01")
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == "minilm" and m["finetune_top"] == 1 and m["accuracy"] >= 0.8, m
    assert m["max_length"] == 40  # the default, capped at the encoder's 40 positions
    # the saved model needs nothing else: the encoder folder goes away
    for f in enc_dir.iterdir():
        f.unlink()
    enc_dir.rmdir()
    model = load_model(out / "model.h5", compile=False)
    assert model.assets["vocab"]["type"] == "wordpiece" and model.assets["vocab"]["tokens"][5] == "good"
    r = run("text", "evaluate", out, data, "--json")
    assert r.exit_code == 0, r.output
    r = run("text", "predict", out, "a good and great movie", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["predictions"][0]["label"] in ("pos", "neg")

    # the model's pooled features are sentence-transformers' mean pooling (unnormalized)
    enc = SentenceEncoder(str(tiny_encoder_dir(tmp_path)), normalize=False)
    clf = build_minilm(2, {k: enc.model.config[k] for k in ("vocab_size", "hidden_size", "num_layers", "num_heads",
                                                             "intermediate_size", "max_position_embeddings")},
                       head_units=16)
    copy_layers(clf, enc.model)
    texts = ["good movie", "the plot was awful and sad", "nice"]
    ids = PieceTokenizer(enc.tokenizer).encode_batch(texts, 40)
    feats, hidden = encode_split(clf, ids, 1, batch_size=2)
    np.testing.assert_allclose(feats, enc.encode(texts), atol=1e-5)
    assert [h.shape for h in hidden] == [(len(i), 32) for i in ids]
    np.testing.assert_allclose(clf.features(pad_batch(ids)).numpy(), feats, atol=1e-5)
    # the head trained on the features (standardized by its first layer), copied into the model, and
    # the top-layer model on the cached hidden states both give the full model's probabilities
    head = build_head(32, 2, head_units=16)
    fake = np.random.default_rng(0).normal(2.0, 3.0, (200, 32)).astype(np.float32)
    fake[:, 3] = 0.5  # a constant feature (MiniLM has some): its deviation is floored, not ~0
    adapt_feature_norm(head, fake)
    mean, var, _ = head.get_layer("feature_norm").get_weights()
    assert abs(mean[0] - 2.0) < 0.5 and abs(np.median(var) - 9.0) < 2.0
    np.testing.assert_allclose(np.sqrt(var[3]), 0.01 * np.median(np.sqrt(var)), rtol=1e-3)
    adapt_feature_norm(head, feats)
    copy_layers(clf, head)
    full = predict_ids(clf, ids, batch_size=2)
    np.testing.assert_allclose(head.predict(feats, verbose=0), full, atol=1e-5)
    np.testing.assert_allclose(HiddenBatches(hidden, None, 2).predict(build_top(clf, 1)), full, atol=1e-5)


@pytest.mark.slow
def test_same_seed_same_result(tmp_path):
    data = write_csv(tmp_path / "d.csv", n=40)
    outs = []
    for name in ("a", "b"):
        r = run("text", "train", data, "-o", tmp_path / name, "--epochs", "1", "--embed-dim", "4", "--units", "4")
        assert r.exit_code == 0, r.output
        outs.append(json.loads((tmp_path / name / "metrics.json").read_text()))
    assert outs[0]["confusion_matrix"] == outs[1]["confusion_matrix"]
    h = [json.loads((tmp_path / n / "history.json").read_text())["loss"] for n in ("a", "b")]
    assert h[0] == h[1]


# --------------------------------------------------------------------------- errors
def _err(r, *needles):
    assert r.exit_code != 0, r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in r.output, r.output


def test_data_errors(tmp_path):
    out = tmp_path / "out"
    _err(run("text", "train", tmp_path / "missing.csv", "-o", out), "data not found")
    good = write_csv(tmp_path / "good.csv")
    _err(run("text", "train", good, "-o", out, "--text-column", "review"), "no text column 'review'", "['text', 'label']")
    _err(run("text", "train", good, "-o", out, "--label-column", "stars"), "no label column 'stars'")
    _err(run("text", "train", good, "-o", out, "--no-header", "--text-column", "text"), "0-based index")
    _err(run("text", "train", good, "-o", out, "--no-header", "--label-column", "-1"), ">= 0")
    _err(run("text", "train", good, "-o", out, "--text-column", "label"), "both the label and a text column")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,pos\nno label here\nok,\nalso fine,neg\na,b,c\n")
    _err(run("text", "train", bad, "-o", out), "3 bad row(s)", "line 3: 1 field(s), the header has 2",
         "line 4: empty label", "line 6: 3 field(s)")
    idx = tmp_path / "idx.tsv"
    idx.write_text("pos\tgood\nneg\n")
    _err(run("text", "train", idx, "-o", out, "--no-header", "--text-column", "1"), "line 2: 1 field(s), column 1 is needed")
    one = tmp_path / "one.csv"
    one.write_text("text,label\na,x\nb,x\nc,x\n")
    _err(run("text", "train", one, "-o", out), "single class ('x')", "at least two")
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n\n")
    _err(run("text", "train", empty, "-o", out), "no texts found")
    (tmp_path / "nothing.csv").write_text("")
    _err(run("text", "train", tmp_path / "nothing.csv", "-o", out), "is empty")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"text,label\ngood,pos\ncaf\xe9,neg\n")
    _err(run("text", "train", latin, "-o", out), "line 3: not valid utf-8", "--encoding")
    _err(run("text", "train", latin, "-o", out, "--encoding", "nope"), "unknown --encoding")
    _err(run("text", "train", good, "-o", out, "--delimiter", "::"), "--delimiter must be one character")
    _err(run("text", "train", good, "-o", out, "--label-names", "a,b,c"), "3 names for the 2 labels")
    _err(run("text", "train", good, "-o", out, "--label-names", "a,a"), "duplicates")
    nofolders = tmp_path / "flat"
    nofolders.mkdir()
    (nofolders / "a.txt").write_text("x")
    _err(run("text", "train", nofolders, "-o", out), "no class folders")
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("text,label\na,x\nb,y\nc,x\nd,y\n")
    _err(run("text", "train", tiny, "-o", out, "--test-split", "0.1"), "test split is empty")
    _err(run("text", "train", tiny, "-o", out, "--test-split", "0", "--val-split", "0.1"), "validation split is empty")
    with pytest.raises(DataError, match="not classes of the model"):
        load_text_dataset(good, class_names=["pos", "other"])


def test_model_and_option_errors(tmp_path):
    data = write_csv(tmp_path / "d.csv", n=40)
    out = tmp_path / "run"
    _err(run("text", "train", data, "-o", out, "--model", "minilm", "--encoder", tmp_path / "no-such-encoder"),
         "cannot load the text encoder")
    enc_dir = tiny_encoder_dir(tmp_path)
    _err(run("text", "train", data, "-o", out, "--model", "minilm", "--encoder", enc_dir, "--finetune-top", "3"),
         "the encoder has 2 layers")
    _err(run("text", "train", data, "-o", out, "--model", "gru"), "Invalid value for '--model'")
    _err(run("text", "train", data, "-o", out, "--model", "transformer", "--embed-dim", "10", "--num-heads", "4"),
         "must be divisible by --num-heads 4")
    _err(run("text", "evaluate", tmp_path / "none.h5", data), "model file not found")
    _err(run("text", "predict", tmp_path / "none.h5", "hi"), "model file not found")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    _err(run("text", "predict", tmp_path / "junk.h5", "hi"), "cannot load")
    from core import layers as L
    from core.models import Sequential

    plain = Sequential([L.Input((3,)), L.Dense(2)])
    plain.save(tmp_path / "plain.h5")
    _err(run("text", "predict", tmp_path / "plain.h5", "hi"), "was it made by `zoo text train`")
    r = run("text", "train", data, "-o", out, "--epochs", "1", "--embed-dim", "4", "--units", "4")
    assert r.exit_code == 0, r.output
    _err(run("text", "predict", out), "give at least one text")
    _err(run("text", "predict", out, "-f", tmp_path / "nofile.txt"), "cannot read")
    other = tmp_path / "other.csv"
    other.write_text("text,label\ngood,pos\nbad,maybe\n")
    _err(run("text", "evaluate", out, other), "labels ['maybe']", "not classes of the model")
    _err(run("text", "evaluate", out, other, "--text-column", "body"), "no text column 'body'")


def test_help_is_fast_and_lazy():
    code = ("import sys, time; t = time.time(); import apps.text_cmd; "
            "assert 'numpy' not in sys.modules, 'numpy imported'; print(time.time() - t)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(HERE))
    assert res.returncode == 0, res.stderr
    r = run("text", "train", "--help")
    assert r.exit_code == 0 and "--text-column" in r.output and "--finetune-top" in r.output


# --------------------------------------------------------------------------- Python API, output, checks
def test_saved_run_predicts_raw_strings_in_python(tmp_path):
    data = write_csv(tmp_path / "reviews.csv", n=80)
    out = tmp_path / "run"
    r = run("text", "train", data, "--model", "lstm", "-o", out, "--epochs", "6", "--embed-dim", "8", "--units", "8",
            "--lr", "0.02", "--batch-size", "16", "-q", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["split"] == "test" and summary["model"].endswith("model.h5")
    assert "epoch 1/" not in r.stderr  # -q: no progress lines
    args = json.loads((out / "args.json").read_text())
    assert not any(isinstance(v, str) and v.startswith("<") for v in args.values()), args

    from apps.text_classifier import load_text_classifier

    texts = ["A great and happy movie", "bad, awful plot"]
    for where in (out, out / "model.h5"):
        clf = load_text_classifier(where)
        probs = clf.predict(texts)
        assert probs.shape == (2, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
        assert clf.labels == ["neg", "pos"]
    assert clf.predict("one string").shape == (1, 2)
    r = run("text", "predict", out, *texts, "--json", "--top", "2")
    cli = [{p["label"]: p["probability"] for p in json.loads(l)["predictions"]} for l in r.stdout.splitlines()]
    for row, d in zip(probs, cli):
        assert [round(float(v), 6) for v in row] == [d["neg"], d["pos"]]
    assert [[l for l, _ in p] for p in clf.predict_labels(texts)] == [[max(d, key=d.get)] for d in cli]
    with pytest.raises(TypeError):
        clf.predict([1, 2])
    with pytest.raises(FileNotFoundError):
        load_text_classifier(tmp_path / "nothing")


def test_evaluate_prints_the_table_and_writes_the_png(tmp_path):
    data = write_csv(tmp_path / "reviews.csv", n=40)
    out = tmp_path / "run"
    assert run("text", "train", data, "-o", out, "--epochs", "1", "--embed-dim", "4", "--units", "4",
               "-q").exit_code == 0
    r = run("text", "evaluate", out, data)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert any(l.split()[:1] == ["neg"] for l in lines) and any("weighted avg" in l for l in lines)
    assert (out / "evaluate_reviews.csv" / "metrics.json").is_file()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (out / "evaluate_reviews.csv" / "confusion_matrix.png").is_file()


def test_unwritable_output_and_an_image_run_are_one_line_errors(tmp_path):
    data = write_csv(tmp_path / "reviews.csv", n=40)
    (tmp_path / "afile").write_text("x")
    _err(run("text", "train", data, "-o", tmp_path / "afile" / "run", "--epochs", "1"),
         "cannot write to the output folder")
    from core import layers as L
    from zoo.classifier import ClassifierModel

    inp = L.Input((8, 8, 3))
    f = L.GlobalAveragePooling2D()(inp)
    m = ClassifierModel(inp, L.Dense(2, activation="softmax", name="fc")(f), features_tensor=f, head_name="fc")
    m.assets.update(labels=["a", "b"], input_spec={"scale": 1 / 255})
    (tmp_path / "img_run").mkdir()
    m.save(tmp_path / "img_run" / "model.h5")
    _err(run("text", "predict", tmp_path / "img_run", "hello"), "is an image model", "zoo image predict")
