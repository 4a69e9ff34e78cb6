"""App inputs from untrusted folders and files: a FIFO or device among the images is skipped with a
note instead of hanging `zoo image train`, and the text CSV reader splits rows only where the csv
module does (not on U+2028, form feeds or NEL inside a text)."""
import os
import threading

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from apps.cli import main
from apps.image_training import DataError, load_dataset
from apps.images import read_image
from apps.text_data import read_table
from core import layers as L
from zoo.classifier import ClassifierModel
from zoo.registry import register_model


@register_model("tiny_fifo_test")
def tiny_fifo_test(num_classes=2, input_shape=(16, 16, 3), classifier_activation="softmax"):
    inp = L.Input(input_shape)
    f = L.GlobalAveragePooling2D()(L.Conv2D(2, 3, name="conv")(inp))
    out = L.Dense(num_classes, activation=classifier_activation, name="fc")(f)
    return ClassifierModel(inp, out, features_tensor=f, head_name="fc", classifier_activation=classifier_activation)


def _folder(root):
    rng = np.random.default_rng(0)
    for c, base in (("bright", 210), ("dark", 40)):
        (root / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.clip(base + rng.normal(0, 20, (18, 20, 3)), 0, 255).astype(np.uint8)).save(
                root / c / f"{i}.png")
    return root


def _unblock(fifo):
    """Open the FIFO's write end so a reader stuck in open() returns (cleanup if a test failed)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def _run_with_deadline(args, seconds, fifos):
    out = {}

    def go():
        out["result"] = CliRunner().invoke(main, [str(a) for a in args])

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(seconds)
    hung = t.is_alive()
    for f in fifos:
        _unblock(f)
    t.join(10)
    assert not hung, f"`zoo {' '.join(map(str, args[:2]))}` hung on a FIFO"
    return out["result"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_image_train_skips_fifos_with_a_note(tmp_path):
    data = _folder(tmp_path / "data")
    fifo = data / "dark" / "trap.png"
    os.mkfifo(fifo)
    csv_fifo = tmp_path / "trap2.png"
    os.mkfifo(csv_fifo)
    r = _run_with_deadline(["image", "train", data, "--model", "tiny_fifo_test", "--weights", "none", "--epochs", "1",
                            "--batch-size", "4", "-o", tmp_path / "out"], 240, [fifo])
    assert r.exit_code == 0, r.output
    assert f"skipped: {fifo}: a FIFO (named pipe), not a regular file: skipped" in r.output
    # the CSV form, and the reader itself
    rows = ["path,label"] + [f"data/bright/{i}.png,bright" for i in range(6)] + \
        [f"data/dark/{i}.png,dark" for i in range(6)] + ["trap2.png,dark", "/dev/zero,dark"]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset(tmp_path / "list.csv")
    assert len(ds.paths) == 12
    reasons = dict(ds.skipped)
    assert "FIFO" in reasons[str(csv_fifo)] and "a device" in reasons["/dev/zero"]
    with pytest.raises(ValueError, match="FIFO"):
        read_image(fifo)
    with pytest.raises(DataError, match="FIFO"):
        load_dataset(csv_fifo)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0c", "\x0b", "\x85", "\x1c", "\x1d", "\x1e"])
def test_text_csv_rows_are_split_only_on_real_newlines(tmp_path, sep):
    p = tmp_path / "t.csv"
    p.write_text(f"text,label\nfirst{sep}part,pos\nsecond,neg\n\"quoted\nnewline\",pos\r\nlast,neg\r\n",
                 encoding="utf-8")
    texts, labels = read_table(p)
    assert labels == ["pos", "neg", "pos", "neg"]
    assert texts[0] == f"first{sep}part".strip() and texts[2] == "quoted\nnewline"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_text_and_forecast_readers_refuse_a_fifo_instead_of_hanging(tmp_path):
    from apps.forecasting.data import ForecastDataError, read_csv
    from apps.text_data import DataError as TextDataError

    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    with pytest.raises(TextDataError, match="FIFO"):
        read_table(fifo)
    with pytest.raises(ForecastDataError, match="FIFO"):
        read_csv(fifo)
    with pytest.raises(TextDataError, match="a device"):
        read_table("/dev/zero")
