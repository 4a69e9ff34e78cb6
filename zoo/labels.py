"""Class labels of pretrained weights and ``decode_predictions``."""
from __future__ import annotations

import json

import numpy as np


def resolve_labels(cfg):
    """The label list of a weights entry: an inline list, or another manifest entry's file
    (``imagenet.labels``: Keras's imagenet_class_index.json) fetched through the registry."""
    labels = (cfg or {}).get("labels")
    if labels is None:
        return None
    if isinstance(labels, list):
        return list(labels)
    if isinstance(labels, str):
        from . import weights

        path = weights.fetch(labels)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict):  # {"0": ["n01440764", "tench"], ...}
            return [data[str(i)][1] if isinstance(data[str(i)], list) else data[str(i)] for i in range(len(data))]
        return list(data)
    raise ValueError(f"cannot interpret labels {labels!r}")


def decode_predictions(preds, top=5, labels=None):
    """For each row of ``preds`` (N, C): the ``top`` (label, score) pairs, best first."""
    preds = np.asarray(preds)
    if preds.ndim != 2:
        raise ValueError(f"decode_predictions expects a batch of scores (N, classes), got shape {preds.shape}")
    if labels is None:
        if preds.shape[1] == 1000:
            labels = resolve_labels({"labels": "imagenet.labels"})
        else:
            raise ValueError(f"no labels known for {preds.shape[1]} classes: pass labels=[...] or use the "
                             "model's own decode_predictions")
    if len(labels) != preds.shape[1]:
        raise ValueError(f"{len(labels)} labels for predictions with {preds.shape[1]} classes")
    top = min(int(top), preds.shape[1])
    idx = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [[(labels[j], float(row[j])) for j in order] for row, order in zip(preds, idx)]

