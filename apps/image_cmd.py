"""``zoo image train | evaluate | predict``: fine-tune a registry model on a folder of images."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click


def _fail(e):
    raise click.ClickException(str(e))


def _input_spec(model):
    spec = dict((getattr(model, "pretrained_cfg", None) or {}).get("input") or {})
    if not spec:  # no pretrained weights: plain [0, 1] scaling
        spec = {"scale": 1 / 255.0, "channel_order": "RGB"}
    spec.pop("resize", None), spec.pop("crop", None)
    return spec


def _preprocessor(spec, size):
    from zoo.preprocessing import preprocess_images

    return lambda imgs: preprocess_images(imgs, spec, size)


@click.group("image")
def image():
    """Fine-tune, evaluate and apply image classifiers."""


@image.command("train")
@click.argument("data", type=click.Path())
@click.option("--model", "model_name", default="resnet20", show_default=True, help="Registry model to fine-tune.")
@click.option("--weights", default="auto", show_default=True,
              help="Pretrained weights tag, 'none' to train from scratch, or auto (the model's first tag).")
@click.option("--output", "-o", required=True, type=click.Path(), help="Output folder.")
@click.option("--val-data", type=click.Path(), help="A separate validation folder (else a stratified split).")
@click.option("--val-split", default=0.2, show_default=True, type=click.FloatRange(0.01, 0.9))
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(1), help="Total epochs.")
@click.option("--freeze-epochs", default=2, show_default=True, type=click.IntRange(0),
              help="Epochs training only the new head on the frozen backbone.")
@click.option("--unfreeze", default="all", show_default=True, help="After the head stage: 'all' or 'top-N' layers.")
@click.option("--lr", default=1e-3, show_default=True, type=float, help="Learning rate of the head stage.")
@click.option("--finetune-lr", default=None, type=float, help="Learning rate after unfreezing (default lr/3).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--augment", default="crop", show_default=True,
              help="Comma list of flip, crop, rotation, or none. Add flip for natural photos; it is off by "
                   "default because it corrupts digits, text and other orientation-bearing images.")
@click.option("--class-weight", type=click.Choice(["auto", "none"]), default="auto", show_default=True)
@click.option("--patience", default=4, show_default=True, type=click.IntRange(1), help="Early-stopping patience.")
@click.option("--seed", default=0, show_default=True, type=int)
def train(data, model_name, weights, output, val_data, val_split, epochs, freeze_epochs, unfreeze, lr, finetune_lr,
          batch_size, augment, class_weight, patience, seed):
    """Fine-tune MODEL on DATA: a folder per class, or a CSV of path,label.

    Stage 1 trains a new head on the frozen backbone (--freeze-epochs); stage 2 unfreezes
    (--unfreeze) at a lower learning rate with early stopping, keeping the best epoch.
    """
    import numpy as np

    import zoo
    from apps.classification_report import (balanced_class_weights, classification_metrics, save_plots,
                                            stratified_split, write_json)
    from apps.image_training import BatchStream, DataError, load_dataset, predict_stream, unfreeze_top
    from core.callbacks import EarlyStopping
    from core.optimizers import Adam, schedules
    from core.utils import set_random_seed
    from zoo.registry import pretrained_tags

    args = dict(locals())
    t0 = time.time()
    try:
        ds = load_dataset(data)
        if val_data:
            vds = load_dataset(val_data, class_names=ds.class_names)
            tr_paths, tr_y, va_paths, va_y = ds.paths, ds.labels, vds.paths, vds.labels
        else:
            tr_idx, va_idx = stratified_split(ds.labels, val_split, seed)
            if len(va_idx) == 0:
                raise DataError("the validation split is empty: add images or raise --val-split")
            tr_paths = [ds.paths[i] for i in tr_idx]
            va_paths = [ds.paths[i] for i in va_idx]
            tr_y, va_y = ds.labels[tr_idx], ds.labels[va_idx]
        if model_name not in zoo.list_models():
            raise DataError(f"unknown model {model_name!r}; models: {', '.join(zoo.list_models())}")
        tags = pretrained_tags(model_name)
        tag = None if weights == "none" else (tags[0] if weights == "auto" and tags else
                                              (None if weights == "auto" else weights))
        augment_spec = [a.strip() for a in augment.split(",") if a.strip() and a.strip() != "none"]
        bad = set(augment_spec) - {"flip", "crop", "rotation"}
        if bad:
            raise DataError(f"--augment: unknown {sorted(bad)} (use flip, crop, rotation or none)")
    except DataError as e:
        _fail(e)
    set_random_seed(seed)
    k = len(ds.class_names)
    try:
        model = zoo.create_model(model_name, weights=tag, num_classes=k)
    except Exception as e:
        _fail(e)
    if tag is not None and list(model.labels or []) != list(ds.class_names) and model.num_classes == k:
        model.reset_classifier(k)  # same class count, other classes: the pretrained head means nothing here
    if tag is None:
        freeze_epochs = 0  # nothing pretrained to protect
    size = tuple(model.inputs[0].shape[1:3])
    spec = _input_spec(model)
    preprocess = _preprocessor(spec, size)
    aug = {"flip": "flip" in augment_spec, "crop": "crop" in augment_spec,
           "rotation": 0.05 if "rotation" in augment_spec else 0.0}
    train_stream = BatchStream(tr_paths, tr_y, preprocess, batch_size, True, seed, augment=aug if augment_spec else None)
    val_stream = BatchStream(va_paths, va_y, preprocess, batch_size, False, seed)
    cw = balanced_class_weights(tr_y, k) if class_weight == "auto" else None
    history = {}
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)

    def run_stage(n_epochs, learning_rate, stage):
        steps = len(train_stream) * n_epochs
        schedule = schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1), alpha=0.05)
        model.compile(optimizer=Adam(schedule), loss=_loss_for(model), metrics=["accuracy"])
        es = EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True)
        click.echo(f"stage {stage}: {n_epochs} epoch(s), {len(model.trainable_weights)} trainable tensors, "
                   f"lr {learning_rate:g}")
        h = model.fit(_with_weights(train_stream, cw), epochs=n_epochs, validation_data=val_stream,
                      callbacks=[es], verbose=2)
        for key, values in h.history.items():
            history.setdefault(key, []).extend(values)

    try:
        if freeze_epochs:
            model.freeze(until=model.head_name)
            run_stage(min(freeze_epochs, epochs), lr, "1/2 (head only, backbone frozen)")
        rest = epochs - (freeze_epochs if freeze_epochs else 0)
        if rest > 0:
            unfreeze_top(model, unfreeze)
            run_stage(rest, finetune_lr or (lr / 3 if freeze_epochs else lr), "2/2 (unfrozen)" if freeze_epochs else "1/1")
    except DataError as e:
        _fail(e)
    probs, ys = predict_stream(model, val_stream)
    metrics = classification_metrics(ys, probs.argmax(1), ds.class_names)
    metrics["train_seconds"] = round(time.time() - t0, 1)
    model.assets["labels"] = list(ds.class_names)
    model.assets["input_spec"] = spec
    model.save(out / "model.h5")
    write_json(out / "metrics.json", metrics)
    write_json(out / "args.json", {k2: v for k2, v in args.items() if k2 not in ("np",)})
    write_json(out / "history.json", history)
    plots = save_plots(out, history, metrics)
    for _, reason in ds.skipped:
        click.echo(f"skipped: {reason}", err=True)
    for _, reason in {**train_stream.skipped, **val_stream.skipped}.items():
        click.echo(f"skipped: {reason}", err=True)
    click.echo(f"validation accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
               f"({len(va_y)} images); saved {out / 'model.h5'}, metrics.json" + (", plots" if plots else ""))


def _loss_for(model):
    """Cross-entropy on probabilities for a softmax head, on logits for a linear one."""
    from core.losses import SparseCategoricalCrossentropy

    activation = getattr(model, "classifier_activation", "softmax")
    return SparseCategoricalCrossentropy(from_logits=activation in (None, "linear"))


def _with_weights(stream, class_weight):
    """Batches (x, y[, sample_weight]) for fit, class weights applied per sample."""
    import numpy as np

    class Weighted:
        def __len__(self):
            return len(stream)

        def __iter__(self):
            for x, y in stream:
                if class_weight:
                    yield x, y, np.array([class_weight.get(int(c), 1.0) for c in y], np.float32)
                else:
                    yield x, y

    return Weighted()


def _load(model_path):
    from core.models import load_model

    if not Path(model_path).exists():
        raise click.ClickException(f"model file not found: {model_path}")
    try:
        model = load_model(model_path, compile=False)
    except Exception as e:
        _fail(e)
    labels = model.assets.get("labels")
    if not labels:
        raise click.ClickException(f"{model_path} has no labels: was it made by `zoo image train`?")
    size = tuple(model.inputs[0].shape[1:3])
    return model, labels, _preprocessor(model.assets.get("input_spec") or {}, size)


@image.command("evaluate")
@click.argument("model_path", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--output", "-o", type=click.Path(), help="Write metrics.json (and plots) here.")
def evaluate(model_path, data, batch_size, output):
    """Accuracy, macro-F1, per-class scores and the confusion matrix of MODEL_PATH on DATA."""
    from apps.classification_report import classification_metrics, save_plots, write_json
    from apps.image_training import BatchStream, DataError, load_dataset, predict_stream

    model, labels, preprocess = _load(model_path)
    try:
        ds = load_dataset(data, class_names=labels)
        stream = BatchStream(ds.paths, ds.labels, preprocess, batch_size, False, 0)
        probs, ys = predict_stream(model, stream)
    except DataError as e:
        _fail(e)
    metrics = classification_metrics(ys, probs.argmax(1), labels)
    for p, reason in stream.skipped.items():
        click.echo(f"skipped: {reason}", err=True)
    if output:
        Path(output).mkdir(parents=True, exist_ok=True)
        write_json(Path(output) / "metrics.json", metrics)
        save_plots(output, None, metrics)
    click.echo(json.dumps({k: metrics[k] for k in ("accuracy", "macro_f1", "num_samples")}))


@image.command("predict")
@click.argument("model_path", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--top", default=3, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image.")
def predict(model_path, images, top, as_json):
    """Top labels for IMAGES (files or folders) with a model made by `zoo image train`."""
    from apps.classify_cmd import classify

    ctx = click.get_current_context()
    ctx.invoke(classify, images=images, model_spec=model_path, weights=None, top=top, as_json=as_json,
               batch_size=32, device="cpu")
