"""A saved ``zoo text train`` run as a Python object that classifies raw strings.

    from apps.text_classifier import load_text_classifier
    clf = load_text_classifier("runs/spam")              # the run folder or its model.h5
    clf.predict(["WIN a free prize now!"])               # (1, classes) probabilities
    clf.predict_labels(["see you at 6?"], top=2)         # [[("ham", 0.99), ("spam", 0.01)]]

The tokenizer, maximum length and labels are assets of the model file, so nothing else is needed.
``clf.model`` is the Keras-style model itself (token ids in, probabilities out) for ``load_model``
users: ``load_model(path)`` gives that model, which takes padded token ids, not strings.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

RUN_MODEL_FILE = "model.h5"


class TextClassifier:
    """A text classifier that takes raw strings: ``predict``, ``predict_labels``, ``labels``, ``model``."""

    def __init__(self, model, tokenizer, labels, max_length):
        self.model, self.tokenizer = model, tokenizer
        self.labels, self.max_length = list(labels), int(max_length)

    def predict(self, texts, batch_size=64, progress=None):
        """Class probabilities (N, len(labels)) of ``texts`` (a string or a list of strings)."""
        from .text_models import predict_ids

        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("predict expects strings (raw texts)")
        if not texts:
            return np.zeros((0, len(self.labels)), np.float32)
        ids = self.tokenizer.encode_batch(texts, self.max_length)
        return predict_ids(self.model, ids, batch_size, self.tokenizer.pad_id, progress=progress)

    def predict_labels(self, texts, top=1, batch_size=64):
        """For each text, the ``top`` (label, probability) pairs, best first."""
        probs = self.predict(texts, batch_size)
        k = min(int(top), len(self.labels))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [[(self.labels[j], float(p[j])) for j in row] for row, p in zip(order, probs)]


def load_text_classifier(path) -> TextClassifier:
    """The :class:`TextClassifier` of a ``zoo text train`` run folder or its ``model.h5``.
    FileNotFoundError for a missing file; ValueError for a file that is not a text run."""
    from core.models import load_model

    from .text_models import tokenizer_from_assets  # importing it registers the text models' layers

    p = Path(path)
    if p.is_dir():
        p = p / RUN_MODEL_FILE
    if not p.is_file():
        raise FileNotFoundError(f"model file not found: {p}")
    model = load_model(str(p), compile=False)
    labels = model.assets.get("labels")
    if not labels or "vocab" not in model.assets:
        raise ValueError(f"{p} has no labels or vocabulary: was it made by `zoo text train`?")
    return TextClassifier(model, tokenizer_from_assets(model.assets), labels, model.assets.get("max_length") or 128)


__all__ = ["TextClassifier", "load_text_classifier"]
