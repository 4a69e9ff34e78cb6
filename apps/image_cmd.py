"""``zoo image train | evaluate | predict``: fine-tune a registry model on a folder of images."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from apps.options import use_device, work_options


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
@click.option("--model", "model_name", default="resnet20", show_default=True, help="Registry image model to fine-tune.")
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
@work_options(json_help="Print metrics.json's summary as JSON instead of a sentence.")
def train(data, model_name, weights, output, val_data, val_split, epochs, freeze_epochs, unfreeze, lr, finetune_lr,
          batch_size, augment, class_weight, patience, seed, as_json, quiet, device):
    """Fine-tune MODEL on DATA: a folder per class, or a CSV of path,label.

    Stage 1 trains a new head on the frozen backbone (--freeze-epochs); stage 2 unfreezes
    (--unfreeze) at a lower learning rate with early stopping. The weights saved are those of the
    best validation accuracy over both stages.
    """
    args = dict(click.get_current_context().params)  # the arguments only
    import zoo
    from apps.classification_report import (balanced_class_weights, classification_metrics, save_plots,
                                            stratified_split, write_json)
    from apps.image_training import BatchStream, DataError, load_dataset, parse_unfreeze, predict_stream, unfreeze_top
    from apps.model_files import check_output_dir
    from apps.progress import EpochProgress
    from core.callbacks import EarlyStopping
    from core.optimizers import Adam, schedules
    from core.utils import set_random_seed
    from zoo.registry import pretrained_tags

    t0 = time.time()
    use_device(device)
    try:  # every check before any work: arguments, model name, output folder, data
        parse_unfreeze(unfreeze)
        augment_spec = [a.strip() for a in augment.split(",") if a.strip() and a.strip() != "none"]
        bad = set(augment_spec) - {"flip", "crop", "rotation"}
        if bad:
            raise DataError(f"--augment: unknown {sorted(bad)} (use flip, crop, rotation or none)")
        image_models = _image_models()
        if model_name not in image_models:
            other = model_name in zoo.list_models()
            what = f"{model_name!r} is not an image model" if other else f"unknown model {model_name!r}"
            raise DataError(f"{what}; image models: {', '.join(image_models)}")
        out = check_output_dir(output)
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
        tags = pretrained_tags(model_name)
        tag = None if weights == "none" else (tags[0] if weights == "auto" and tags else
                                              (None if weights == "auto" else weights))
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
    try:
        parse_unfreeze(unfreeze, model)
    except DataError as e:
        _fail(e)
    size = tuple(model.inputs[0].shape[1:3])
    spec = _input_spec(model)
    if None in size:  # a model of any input size (MobileNetV3...): its weights' size, else ImageNet's
        size = tuple(spec.get("size") or (224, 224))
        spec["size"] = list(size)  # saved with the model: evaluate/predict resize to it too
    preprocess = _preprocessor(spec, size)
    say = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    say(f"preprocessing: {spec['mode']} mode, as the {tag} weights expect" if spec.get("mode") else
        "preprocessing: pixels scaled to [0, 1] (no pretrained weights of a known family)")
    aug = {"flip": "flip" in augment_spec, "crop": "crop" in augment_spec,
           "rotation": 0.05 if "rotation" in augment_spec else 0.0}
    train_stream = BatchStream(tr_paths, tr_y, preprocess, batch_size, True, seed, augment=aug if augment_spec else None)
    val_stream = BatchStream(va_paths, va_y, preprocess, batch_size, False, seed)
    cw = balanced_class_weights(tr_y, k) if class_weight == "auto" else None
    history = {}
    best = _BestWeights("val_accuracy")

    def run_stage(n_epochs, learning_rate, stage, first_epoch):
        steps = len(train_stream) * n_epochs
        schedule = schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1), alpha=0.05)
        model.compile(optimizer=Adam(schedule), loss=_loss_for(model), metrics=["accuracy"])
        es = EarlyStopping(monitor="val_accuracy", patience=patience)
        say(f"stage {stage}: {n_epochs} epoch(s), {len(model.trainable_weights)} trainable tensors, lr {learning_rate:g}")
        h = model.fit(_with_weights(train_stream, cw), epochs=n_epochs, validation_data=val_stream, verbose=0,
                      callbacks=[best.at(first_epoch), es,
                                 EpochProgress(epochs, first_epoch, quiet=quiet, steps=len(train_stream))])
        for key, values in h.history.items():
            history.setdefault(key, []).extend(values)
        return len(h.history.get("loss", []))

    try:
        done = 0
        if freeze_epochs:
            model.freeze(until=model.head_name)
            done = run_stage(min(freeze_epochs, epochs), lr, "1/2 (head only, backbone frozen)", 0)
        rest = epochs - (freeze_epochs if freeze_epochs else 0)
        if rest > 0:
            unfreeze_top(model, unfreeze)
            run_stage(rest, finetune_lr or (lr / 3 if freeze_epochs else lr),
                      "2/2 (unfrozen)" if freeze_epochs else "1/1", done)
    except DataError as e:
        _fail(e)
    best.restore(model)
    probs, ys = predict_stream(model, val_stream)
    metrics = classification_metrics(ys, probs.argmax(1), ds.class_names)
    metrics["best_epoch"] = best.epoch + 1
    metrics["train_seconds"] = round(time.time() - t0, 1)
    model.assets["labels"] = list(ds.class_names)
    model.assets["input_spec"] = spec
    model.save(out / "model.h5")
    write_json(out / "metrics.json", metrics)
    write_json(out / "args.json", args)
    write_json(out / "history.json", history)
    plots = save_plots(out, history, metrics)
    for _, reason in ds.skipped:
        click.echo(f"skipped: {reason}", err=True)
    for _, reason in {**train_stream.skipped, **val_stream.skipped}.items():
        click.echo(f"skipped: {reason}", err=True)
    if as_json:
        click.echo(json.dumps({"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                               "num_samples": metrics["num_samples"], "best_epoch": metrics["best_epoch"],
                               "model": str(out / "model.h5")}))
        return
    click.echo(f"validation accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
               f"({len(va_y)} images; best epoch {metrics['best_epoch']} of {len(history.get('loss', []))}); saved "
               f"{out / 'model.h5'}, metrics.json" + (", plots" if plots else ""))


def _image_models():
    """Registered models that classify images (text encoders and forecasters are not)."""
    import zoo
    from zoo.registry import get_entry

    return [n for n in zoo.list_models()
            if get_entry(n).builder.__module__.rsplit(".", 1)[-1] not in ("text", "timeseries")]


class _BestWeights:
    """The weights of the best epoch by ``monitor`` (higher is better) across every ``fit`` it is
    given to (one per stage), restored at the end: a later stage never saves a worse model."""

    def __init__(self, monitor):
        self.monitor, self.value, self.weights, self.epoch = monitor, None, None, -1

    def at(self, first_epoch):
        from core.callbacks import Callback

        tracker = self

        class Track(Callback):
            def on_epoch_end(self, epoch, logs=None):
                v = (logs or {}).get(tracker.monitor)
                if v is not None and (tracker.value is None or float(v) > tracker.value):
                    tracker.value, tracker.epoch = float(v), first_epoch + epoch
                    tracker.weights = [w.copy() for w in self.model.get_weights()]

        return Track()

    def restore(self, model):
        if self.weights is not None:
            model.set_weights(self.weights)


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
    """(model, labels, preprocess, model file) for a model file or run folder made by `zoo image train`."""
    from apps.model_files import require_app, resolve_model_file
    from core.models import load_model

    path = resolve_model_file(model_path)
    require_app(path, "image", "zoo image evaluate")
    import zoo.models  # noqa: F401  (registers the zoo layers saved models use)

    try:
        model = load_model(str(path), compile=False)
    except Exception as e:
        raise click.ClickException(f"cannot load {path}: {e}") from None
    labels = model.assets.get("labels")
    if not labels or not model.assets.get("input_spec"):
        raise click.ClickException(f"{path} has no labels or input_spec: was it made by `zoo image train`?")
    size = tuple(model.inputs[0].shape[1:3])
    return model, labels, _preprocessor(model.assets.get("input_spec") or {}, size if None not in size else None), path


@image.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", type=click.Path())
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--output", "-o", type=click.Path(),
              help="Folder for metrics.json and confusion_matrix.png. [default: MODEL's folder/evaluate_<DATA name>]")
@work_options(json_help="Print the metrics as one JSON object instead of the table.")
def evaluate(model_path, data, batch_size, output, as_json, quiet, device):
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages and the
    confusion matrix of MODEL (a model.h5 made by `zoo image train`, or its run folder) on DATA
    (a folder per class or a CSV of path,label)."""
    from apps.classification_report import classification_metrics, write_evaluation
    from apps.image_training import BatchStream, DataError, load_dataset, predict_stream
    from apps.model_files import check_output_dir, evaluation_dir
    from apps.progress import Progress

    use_device(device)
    model, labels, preprocess, path = _load(model_path)
    out = check_output_dir(evaluation_dir(path, data, output))
    try:
        ds = load_dataset(data, class_names=labels)
        stream = BatchStream(ds.paths, ds.labels, preprocess, batch_size, False, 0)
        with Progress(len(ds.paths), "evaluating", unit="img", quiet=quiet) as bar:
            probs, ys = predict_stream(model, stream, progress=bar)
    except DataError as e:
        _fail(e)
    metrics = classification_metrics(ys, probs.argmax(1), labels)
    for _, reason in ds.skipped:
        click.echo(f"skipped: {reason}", err=True)
    for p, reason in stream.skipped.items():
        click.echo(f"skipped: {reason}", err=True)
    write_evaluation(out, metrics, as_json, click.echo)


@image.command("predict")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--top", default=3, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 4096))
@work_options(json_help="One JSON object per image.")
def predict(model_path, images, top, batch_size, as_json, quiet, device):
    """Top labels for IMAGES (files or folders) with MODEL, a model.h5 made by `zoo image train` or
    its run folder."""
    from apps.classify_cmd import classify
    from apps.model_files import require_app, resolve_model_file

    require_app(resolve_model_file(model_path), "image", "zoo image predict")
    ctx = click.get_current_context()
    ctx.invoke(classify, images=images, model_spec=str(model_path), weights=None, top=top, as_json=as_json,
               batch_size=batch_size, quiet=quiet, device=device)
