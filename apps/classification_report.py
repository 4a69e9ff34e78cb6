"""Classification metrics and reports shared by the image and text apps: accuracy, macro-F1,
per-class precision/recall, confusion matrix (``metrics.json``) and optional PNG plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.distribute import writes_files


def classification_metrics(y_true, y_pred, labels):
    """The ``metrics.json`` dict: accuracy; macro and weighted precision, recall and F1; per_class;
    confusion_matrix; labels.

    The definitions are scikit-learn's (``precision_recall_fscore_support`` with its defaults): the
    averages run over the classes that occur in ``y_true`` or ``y_pred`` (a class predicted but
    absent from the truth counts, with F1 0); a ratio with a zero denominator is 0
    (``zero_division=0``); "weighted" weights each class by its support (true count).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = len(labels)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(np.float64)
    pred_pos, true_pos = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, pred_pos, out=np.zeros(k), where=pred_pos > 0)
    recall = np.divide(tp, true_pos, out=np.zeros(k), where=true_pos > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    seen = (true_pos > 0) | (pred_pos > 0)
    support = true_pos.astype(np.float64)

    def macro(v):
        return float(v[seen].mean()) if seen.any() else 0.0

    def weighted(v):
        return float((v * support).sum() / support.sum()) if support.sum() > 0 else 0.0

    return {
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "macro_f1": macro(f1),
        "macro_precision": macro(precision),
        "macro_recall": macro(recall),
        "weighted_f1": weighted(f1),
        "weighted_precision": weighted(precision),
        "weighted_recall": weighted(recall),
        "per_class": {labels[i]: {"precision": float(precision[i]), "recall": float(recall[i]),
                                  "f1": float(f1[i]), "support": int(true_pos[i])} for i in range(k)},
        "confusion_matrix": cm.tolist(),
        "labels": list(labels),
        "num_samples": int(len(y_true)),
    }


def format_report(metrics):
    """scikit-learn's ``classification_report`` layout: per class precision, recall, F1 and
    support, then accuracy and the macro and weighted averages."""
    names = list(metrics["labels"])
    width = max(len("weighted avg"), *(len(n) for n in names))
    head = f"{'':>{width}}  {'precision':>9}  {'recall':>9}  {'f1-score':>9}  {'support':>9}"
    lines = [head, ""]
    for n in names:
        c = metrics["per_class"][n]
        lines.append(f"{n:>{width}}  {c['precision']:>9.4f}  {c['recall']:>9.4f}  {c['f1']:>9.4f}  {c['support']:>9d}")
    total = metrics["num_samples"]
    lines += ["", f"{'accuracy':>{width}}  {'':>9}  {'':>9}  {metrics['accuracy']:>9.4f}  {total:>9d}"]
    for avg, key in (("macro avg", "macro"), ("weighted avg", "weighted")):
        lines.append(f"{avg:>{width}}  {metrics[key + '_precision']:>9.4f}  {metrics[key + '_recall']:>9.4f}  "
                     f"{metrics[key + '_f1']:>9.4f}  {total:>9d}")
    return "\n".join(lines)


def write_evaluation(out_dir, metrics, as_json, echo):
    """What ``evaluate`` commands give: metrics.json and confusion_matrix.png in ``out_dir``, then
    the per-class table (or one JSON object with ``as_json``) through ``echo``."""
    out_dir = Path(out_dir)
    write_json(out_dir / "metrics.json", metrics)
    plots = save_plots(out_dir, None, metrics)
    if as_json:
        echo(json.dumps({k: metrics[k] for k in ("accuracy", "macro_f1", "weighted_f1", "num_samples", "per_class")}))
        return
    echo(format_report(metrics))
    echo(f"wrote {out_dir / 'metrics.json'}" + (f", {plots[0]}" if plots else
                                                " (pip install matplotlib for confusion_matrix.png)"))


def write_json(path, obj):
    """``obj`` as indented JSON in ``path`` (under data-parallel training, by rank 0 only)."""
    if not writes_files():
        return
    Path(path).write_text(json.dumps(obj, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def save_plots(out_dir, history=None, metrics=None):
    """Training curves and the confusion matrix as PNG files, when matplotlib is installed.
    Returns the files written (empty without matplotlib, and on the ranks other than 0 under
    data-parallel training, which write nothing)."""
    if not writes_files():
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    out_dir = Path(out_dir)
    if history:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, key in zip(axes, ("loss", "accuracy")):
            for k in (key, f"val_{key}"):
                if k in history:
                    # markers: a one-epoch run is a single point, invisible as a line
                    ax.plot(range(1, len(history[k]) + 1), history[k], marker="o", markersize=3, label=k)
            ax.set_xlabel("epoch")
            n = max((len(history.get(k, ())) for k in (key, f"val_{key}")), default=0)
            if 0 < n <= 20:
                ax.set_xticks(range(1, n + 1))
            else:
                ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_title(key)
            ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "training_curves.png", dpi=100)
        plt.close(fig)
        written.append(out_dir / "training_curves.png")
    if metrics:
        cm = np.asarray(metrics["confusion_matrix"])
        side = min(3 + 0.5 * len(cm), 20)
        fig, ax = plt.subplots(figsize=(side, side))
        ax.imshow(cm, cmap="Blues")
        if "accuracy" in metrics:
            ax.set_title(f"accuracy {metrics['accuracy']:.4f}")
        ax.set_xticks(range(len(cm)), metrics["labels"], rotation=90)
        ax.set_yticks(range(len(cm)), metrics["labels"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(len(cm)):
            for j in range(len(cm)):
                dark = cm[i, j] > cm.max() / 2  # white text on the dark cells
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
        fig.tight_layout()
        fig.savefig(out_dir / "confusion_matrix.png", dpi=100)
        plt.close(fig)
        written.append(out_dir / "confusion_matrix.png")
    return written


def stratified_split(labels, val_fraction, seed):
    """Indices (train, val): each class split by ``val_fraction`` (at least one of each in train)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * val_fraction))
        n_val = min(n_val, len(idx) - 1)
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(val), dtype=np.int64)


def balanced_class_weights(labels, num_classes):
    counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
    total = counts.sum()
    return {i: float(total / (num_classes * c)) for i, c in enumerate(counts) if c > 0}
