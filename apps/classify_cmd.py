"""``zoo classify``: top-k labels for images with a registry model or a trained model file."""
from __future__ import annotations

import json

import click

from apps.options import use_device, work_options

DEFAULT_MODEL = "resnet20"  # its CIFAR-10 weights ship inside the package: the first run needs no network
DEFAULT_HINT = ("for ImageNet's 1,000 classes: --model resnet50 (a 98 MB download, verified by checksum, once; "
                "offline: see `zoo weights list` and `zoo weights import`)")


def _describe(model_spec, tag, model, labels):
    """One line naming the model that answers."""
    from zoo import weights

    key = f"{model_spec}.{tag}"
    if weights.is_builtin(key):
        return f"model: {key} ({weights.BUILTIN[key]['dataset']}, {len(labels)} classes; built in, no download)"
    return f"model: {key} ({len(labels)} classes)"


def _load_classifier(model_spec, weights):
    """(model, preprocess(images) -> batch, labels) for a registry name, a saved model file or a run
    folder (apps.serving uses it)."""
    return _open_classifier(model_spec, weights)[:3]


def _open_classifier(model_spec, weights):
    """(model, preprocess(images) -> batch, labels, description) for a registry name, a saved model
    file or a run folder."""
    from apps.model_files import looks_like_path, require_app, resolve_model_file

    if looks_like_path(model_spec):
        if weights is not None:
            raise click.ClickException("--weights applies to registry models only; a model file has its weights")
        path = resolve_model_file(model_spec)
        require_app(path, "image", "zoo classify")
        import zoo.models  # noqa: F401  (registers the zoo layers saved models use)
        from core.models import load_model

        try:
            model = load_model(str(path), compile=False)
        except Exception as e:  # corrupt or foreign files: their readers' messages name the problem
            raise click.ClickException(f"cannot load {path}: {e}") from None
        spec = model.assets.get("input_spec") or (getattr(model, "pretrained_cfg", None) or {}).get("input")
        if not spec:
            raise click.ClickException(f"{path} does not say how its images are preprocessed (no input_spec): "
                                       "was it made by `zoo image train`?")
        labels = model.assets.get("labels") or getattr(model, "labels", None)
        if not labels:
            raise click.ClickException(f"{path} has no labels: it cannot name classes")
        if not hasattr(model, "inputs") or len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
            raise click.ClickException(f"{path} is not an image classifier (it needs one image input)")
        desc = f"model: {path} ({len(labels)} classes)"
    else:
        import zoo
        from zoo.registry import pretrained_tags

        if model_spec not in zoo.list_models():
            raise click.ClickException(f"unknown model {model_spec!r}; models with weights: "
                                       f"{', '.join(zoo.list_models(pretrained=True))} (or give a model file or "
                                       "run folder)")
        tags = pretrained_tags(model_spec)
        tag = weights or ("imagenet" if "imagenet" in tags else (tags[0] if tags else None))
        if tag is None:
            raise click.ClickException(f"model {model_spec!r} has no pretrained weights to classify with")
        try:
            model = zoo.create_model(model_spec, weights=tag)
        except Exception as e:  # registry, download and file errors carry their own message
            raise click.ClickException(str(e)) from None
        spec = model.pretrained_cfg.get("input") or {}
        labels = model.labels
        if not labels:
            raise click.ClickException(f"model {model_spec!r} has no labels: it cannot name classes")
        desc = _describe(model_spec, tag, model, labels)
    from zoo.preprocessing import preprocess_images

    size = tuple(model.inputs[0].shape[1:3])
    return (model, (lambda imgs: preprocess_images(imgs, spec, size if None not in size else None)), list(labels),
            desc)


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
@click.option("--model", "model_spec", default=None,
              help=f"A registry model name (see `zoo weights list`), a model file or a run folder from `zoo image "
                   f"train`. [default: {DEFAULT_MODEL}, CIFAR-10's 10 classes, built in; --model resnet50 for "
                   "ImageNet's 1,000]")
@click.option("--weights", default=None, help="Weights tag of a registry model (default: imagenet, else its only tag).")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 1000), help="Labels per image.")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1, 4096), help="Images per batch.")
@work_options(json_help="Print one JSON object per image instead of a table.")
def classify(images, model_spec, weights, top, batch_size, as_json, quiet, device):
    """Classify IMAGES (files or folders of images) and print the top labels with probabilities.

    Without --model, the CIFAR-10 ResNet-20 that ships with zoo answers (no download). A registry
    model downloads and verifies its weights on first use. Unreadable images are skipped and
    listed; the others are still classified.
    """
    from apps.images import collect_images, read_images

    use_device(device)
    files, missing = collect_images(images)
    for m in missing:
        click.echo(f"skipped: {m}: no such file or folder", err=True)
    if not files:
        raise click.ClickException("no image files found in " + ", ".join(images))
    default = model_spec is None
    model, preprocess, labels, desc = _open_classifier(DEFAULT_MODEL if default else model_spec, weights)
    top = min(top, len(labels))
    results, skipped = [], []
    from apps.progress import Progress

    with Progress(len(files), "classifying", unit="img", quiet=quiet or len(files) <= batch_size) as bar:
        for start in range(0, len(files), batch_size):
            imgs, good, bad = read_images(files[start:start + batch_size])
            skipped.extend(bad)
            bar.update(len(files[start:start + batch_size]))
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
            click.echo(json.dumps({"file": path, "model": desc[len("model: "):].split(" (")[0],
                                   "predictions": [{"label": l, "probability": round(p, 6)} for l, p in preds]}))
        return
    click.echo(desc)
    width = max(len(p) for p, _ in results)
    for path, preds in results:
        text = ", ".join(f"{l} ({p:.1%})" for l, p in preds)
        click.echo(f"{path.ljust(width)}  {text}")
    if default and not quiet:
        click.echo(DEFAULT_HINT, err=True)
