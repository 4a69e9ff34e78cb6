"""`zoo text` on real data (../shared/data; skipped without it).

- SMS Spam Collection, `--model lstm`: macro-F1 >= 0.92 on a held-out 20% (about 30 s on 2 cores).
- AG News with `--model minilm` through the weight registry (the all-MiniLM-L6-v2 files served by
  a local mirror, the minilm_mirror fixture of tests/conftest.py; skipped when the files are not installed): a
  400-text subset always; the full acceptance run (7,600 texts, 80/20, >= 87% accuracy; about
  5 minutes on 2 cores, nearly all of it encoding) only with ZOO_SLOW_TESTS=1.
"""
import json
import os

import pytest
from click.testing import CliRunner

from apps.cli import main
from tests.shared_data import require

SMS = "text/sms_spam_collection/SMSSpamCollection"
AG = "text/ag_news/test.csv"
AG_CLASSES = "text/ag_news/classes.txt"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.slow  # trains on real data
def test_sms_spam_lstm_macro_f1(tmp_path):
    data = require(SMS)
    out = tmp_path / "sms"
    r = run("text", "train", data, "--no-header", "--label-column", "0", "--text-column", "1", "--model", "lstm",
            "-o", out, "--epochs", "3", "--embed-dim", "32", "--units", "32", "--max-length", "80",
            "--batch-size", "64", "--lr", "0.01", "--seed", "0")
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["labels"] == ["ham", "spam"] and m["split"] == "test"
    assert m["num_test"] == 1114 and sum(map(sum, m["confusion_matrix"])) == 1114  # 20% of each class held out
    assert m["macro_f1"] >= 0.92, m
    assert m["per_class"]["spam"]["recall"] >= 0.85, m["per_class"]
    r = run("text", "predict", out, "URGENT! You have WON a guaranteed 1000 cash prize. Call 09061701461 now",
            "Sorry, I'll call you later. Going home now", "--json", "--top", "1")
    assert r.exit_code == 0, r.output
    assert [json.loads(l)["predictions"][0]["label"] for l in r.stdout.strip().splitlines()] == ["spam", "ham"]


def _ag_subset(tmp_path, n):
    rows = require(AG).read_text(encoding="utf-8").splitlines(keepends=True)[:n]
    p = tmp_path / "ag_subset.csv"
    p.write_text("".join(rows), encoding="utf-8")
    return p


def _ag_train(data, out, *extra):
    return run("text", "train", data, "--no-header", "--label-column", "0", "--text-column", "1,2",
               "--label-names", require(AG_CLASSES), "--model", "minilm", "-o", out, *extra)


@pytest.mark.slow  # trains on real data
def test_ag_news_subset_minilm_through_the_registry(tmp_path, minilm_mirror):  # noqa: F811
    data = _ag_subset(tmp_path, 400)
    out = tmp_path / "ag"
    r = _ag_train(data, out, "--max-length", "64")
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["labels"] == ["World", "Sports", "Business", "Sci/Tech"] and m["num_test"] == 80
    assert m["accuracy"] >= 0.7, m  # 288 training texts (chance: 0.25)
    assert "/model.safetensors" in minilm_mirror["requests"]
    r = run("text", "predict", out, "The striker scored twice as the home team won the cup final", "--top", "1",
            "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["predictions"][0]["label"] == "Sports", r.output


@pytest.mark.skipif(os.environ.get("ZOO_SLOW_TESTS") != "1", reason="about 5 minutes: set ZOO_SLOW_TESTS=1")
def test_ag_news_minilm_accuracy(tmp_path, minilm_mirror):  # noqa: F811
    out = tmp_path / "ag"
    r = _ag_train(require(AG), out)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["num_test"] == 1520 and m["accuracy"] >= 0.87, m
