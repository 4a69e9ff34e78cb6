"""``zoo classify``: top-k labels for images with a registry model or a trained model file."""
from __future__ import annotations

import json
import os

import click


def _load_classifier(model_spec, weights):
    """(model, preprocess(images) -> batch, labels) for a registry name or a saved model file."""
    import zoo
    from core.models import load_model
    from zoo.registry import pretrained_tags

    if os.path.exists(model_spec) or model_spec.endswith((".h5", ".hdf5")):
        if not os.path.exists(model_spec):
            raise click.ClickException(f"model file not found: {model_spec}")
        model = load_model(model_spec, compile=False)
        spec = model.assets.get("input_spec") or getattr(model, "pretrained_cfg", {}).get("input") or {}
        labels = model.assets.get("labels") or getattr(model, "labels", None)
    else:
        if model_spec not in zoo.list_models():
            raise click.ClickException(f"unknown model {model_spec!r}; models with weights: "
                                       f"{', '.join(zoo.list_models(pretrained=True))}")
        tags = pretrained_tags(model_spec)
        tag = weights or ("imagenet" if "imagenet" in tags else (tags[0] if tags else None))
        if tag is None:
            raise click.ClickException(f"model {model_spec!r} has no pretrained weights to classify with")
        model = zoo.create_model(model_spec, weights=tag)
        spec = model.pretrained_cfg.get("input") or {}
        labels = model.labels
    if not labels:
        raise click.ClickException(f"model {model_spec!r} has no labels: it cannot name classes")
    from zoo.preprocessing import preprocess_images

    size = tuple(model.inputs[0].shape[1:3])
    return model, (lambda imgs: preprocess_images(imgs, spec, size if None not in size else None)), list(labels)


def _probabilities(out):
    import numpy as np

    out = np.asarray(out, dtype=np.float64)
    rows_sum_to_one = np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)
    if rows_sum_to_one:
        return out
    e = np.exp(out - out.max(axis=1, keepdims=True))  # logits: the head has no softmax
    return e / e.sum(axis=1, keepdims=True)


@click.command("classify")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_spec", default="resnet50", show_default=True,
              help="A registry model name (see `zoo weights list`) or a model file from `zoo image train`.")
@click.option("--weights", default=None, help="Weights tag of a registry model (default: imagenet, else its only tag).")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 1000), help="Labels per image.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image instead of a table.")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1, 4096), help="Images per batch.")
@click.option("--device", default="cpu", show_default=True, help="cpu, gpu or gpu:N.")
def classify(images, model_spec, weights, top, as_json, batch_size, device):
    """Classify IMAGES (files or folders of images) and print the top labels with probabilities.

    The first use of a registry model downloads and verifies its weights. Unreadable images are
    skipped and listed; the others are still classified.
    """
    from apps.images import collect_images, read_images
    from core import backend

    try:
        backend.set_default_device(device)
    except (RuntimeError, ValueError) as e:
        raise click.ClickException(str(e))
    files, missing = collect_images(images)
    for m in missing:
        click.echo(f"skipped: {m}: no such file or folder", err=True)
    if not files:
        raise click.ClickException("no image files found in " + ", ".join(images))
    try:
        model, preprocess, labels = _load_classifier(model_spec, weights)
    except click.ClickException:
        raise
    except Exception as e:  # registry, download and file errors carry their own message
        raise click.ClickException(str(e))
    top = min(top, len(labels))
    results, skipped = [], []
    from tqdm import tqdm

    batches = range(0, len(files), batch_size)
    for start in tqdm(batches, desc="classifying", unit="batch", disable=len(files) <= batch_size, file=None):
        imgs, good, bad = read_images(files[start:start + batch_size])
        skipped.extend(bad)
        if not imgs:
            continue
        probs = _probabilities(model.predict(preprocess(imgs), verbose=0))
        order = probs.argsort(axis=1)[:, ::-1][:, :top]
        for path, row, idx in zip(good, probs, order):
            results.append((str(path), [(labels[j], float(row[j])) for j in idx]))
    for path, reason in skipped:
        click.echo(f"skipped: {reason}", err=True)
    if not results:
        raise click.ClickException("none of the images could be read")
    if as_json:
        for path, preds in results:
            click.echo(json.dumps({"file": path, "predictions": [{"label": l, "probability": round(p, 6)}
                                                                  for l, p in preds]}))
        return
    width = max(len(p) for p, _ in results)
    for path, preds in results:
        text = ", ".join(f"{l} ({p:.1%})" for l, p in preds)
        click.echo(f"{path.ljust(width)}  {text}")
