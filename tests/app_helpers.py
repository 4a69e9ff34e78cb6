"""Small data and models the app tests share: texts and CSVs for ``zoo text``, image folders and
the tiny registered classifiers for ``zoo image``/``zoo serve``, a monthly series for ``zoo forecast``
and a local BERT folder made from the tiny HF fixture. Import it as ``tests.app_helpers`` (one module
name, so that the models are registered once)."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from apps.cli import main
from core import layers as L
from zoo.classifier import ClassifierModel
from zoo.registry import register_model

from tests.fixture_utils import FIXTURE_DIR

MINILM_FIXDIR = os.path.join(FIXTURE_DIR, "minilm")


def run_cli(*args, input=None):
    """``zoo ARGS`` through click's runner; asserts it succeeded."""
    r = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert r.exit_code == 0, r.output
    return r


# --------------------------------------------------------------------------- text
POS = ["good", "great", "fine", "happy", "nice"]
NEG = ["bad", "awful", "sad", "poor", "ugly"]
FILLER = ["the", "a", "movie", "was", "and", "plot", "it"]


def make_texts(n=80, seed=0):
    """(texts, labels): filler words plus one or two words of the class (pos/neg)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = list(rng.choice(FILLER, rng.integers(3, 8))) + list(rng.choice(POS if label == "pos" else NEG,
                                                                                 rng.integers(1, 3)))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + "!")
        labels.append(label)
    return texts, labels


def write_csv(path, n=80, header=True, sep=",", seed=0):
    texts, labels = make_texts(n, seed)
    rows = (["text,label"] if header else []) + [f"{t}{sep}{l}" for t, l in zip(texts, labels)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def tiny_encoder_dir(root):
    """A local BERT folder (the tiny random HF BertModel fixture) whose vocabulary has our words."""
    d = root / "tiny-encoder"
    d.mkdir()
    os.symlink(os.path.join(MINILM_FIXDIR, "tiny_bert.safetensors"), d / "model.safetensors")
    (d / "config.json").write_text(open(os.path.join(MINILM_FIXDIR, "tiny_bert.json")).read())
    words = POS + NEG + FILLER + ["!"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    vocab += [f"w{i}" for i in range(100 - len(vocab))]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return d


# --------------------------------------------------------------------------- images
def _tiny_classifier(num_classes, input_shape, classifier_activation):
    inp = L.Input(input_shape)
    h = L.Conv2D(4, 3, activation="relu", name="conv")(inp)
    f = L.GlobalAveragePooling2D()(h)
    out = L.Dense(num_classes, activation=classifier_activation, name="fc")(f)
    return ClassifierModel(inp, out, features_tensor=f, head_name="fc", classifier_activation=classifier_activation)


@register_model("tiny_image_test")
def tiny_image_test(num_classes=2, input_shape=(16, 16, 3), classifier_activation="softmax"):
    return _tiny_classifier(num_classes, input_shape, classifier_activation)


@register_model("tiny_serve_image")
def tiny_serve_image(num_classes=3, input_shape=(16, 16, 3), classifier_activation="softmax"):
    return _tiny_classifier(num_classes, input_shape, classifier_activation)


def make_folder(root, per_class=12, classes=("bright", "dark"), corrupt=True):
    """Class folders of 18x20 PNGs of different brightness (and one broken file unless ``corrupt=False``)."""
    rng = np.random.default_rng(0)
    for c, base in zip(classes, (210, 40, 120)):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = np.clip(base + rng.normal(0, 20, (18, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.png")
    if corrupt:
        (root / classes[1] / "broken.png").write_bytes(b"not a png")
    return root


SERVE_CLASSES = ("bright", "dark", "mid")


def png_bytes(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def make_images(root, per_class=6, seed=0):
    """Folders of small PNGs of three brightness classes; the images vary in size (the server resizes)."""
    rng = np.random.default_rng(seed)
    for c, base in zip(SERVE_CLASSES, (210, 40, 120)):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = np.clip(base + rng.normal(0, 30, (18 + i % 3, 20, 3)), 0, 255).astype(np.uint8)
            (root / c / f"{i}.png").write_bytes(png_bytes(arr))
    return root


def train_image_model(root):
    """``zoo image train`` of ``tiny_serve_image`` for one epoch; returns (model path, image folder)."""
    data = make_images(root / "images")
    run_cli("image", "train", data, "--model", "tiny_serve_image", "--weights", "none", "--epochs", "1",
            "--batch-size", "8", "--augment", "none", "-o", root / "image_run")
    return root / "image_run" / "model.h5", data


# --------------------------------------------------------------------------- time series
def series_csv(path, n, noise=1.0, seed=0):
    """A monthly series (trend, yearly season, AR(1) noise: forecastable, not trivial) of ``n`` rows."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = 0.6 * e[i - 1] + rng.normal(0, noise)
    y = 50 + 0.05 * t + 8 * np.sin(2 * np.pi * t / 12) + e
    lines = ["month,y"] + [f"{1900 + i // 12}-{i % 12 + 1:02d},{v:.4f}" for i, v in enumerate(y)]
    Path(path).write_text("\n".join(lines) + "\n")
    return str(path)


def monthly_csv(path, n=96, extra=None, crlf=False, quote=False):
    """A seasonal monthly series with trend (and a second channel and a feature)."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    y = 100 + 0.8 * t + 15 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.0, n)
    z = 50 + 5 * np.cos(2 * np.pi * t / 12) + rng.normal(0, 0.5, n)
    f = np.sin(2 * np.pi * t / 12 + 0.3)
    lines = ['"Month","sales","visits","promo"' if quote else "Month,sales,visits,promo"]
    for i in range(n):
        d = f"{1990 + i // 12}-{i % 12 + 1:02d}"
        lines.append((f'"{d}"' if quote else d) + f",{y[i]:.3f},{z[i]:.3f},{f[i]:.3f}")
    if extra:
        for line_no, text in extra.items():  # replace a data line (1-based file line numbers)
            lines[line_no - 1] = text
    Path(path).write_text(("\r\n" if crlf else "\n").join(lines))
    return str(path)
