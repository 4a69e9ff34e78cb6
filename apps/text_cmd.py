"""``zoo text train | evaluate | predict``: text classifiers on CSV/TSV files or folders of .txt files.

Only click is imported at module level; numpy and the engine are imported inside the commands so
``zoo text --help`` stays fast.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from apps.options import use_device, work_options

# per-model defaults of the options left unset
DEFAULTS = {
    "lstm": dict(epochs=6, lr=5e-3, max_length=128, batch_size=32, dropout=0.2, patience=3),
    "transformer": dict(epochs=6, lr=2e-3, max_length=128, batch_size=32, dropout=0.1, patience=3),
    "minilm": dict(epochs=60, lr=1e-3, max_length=128, batch_size=64, dropout=0.3, patience=8),
}


def _fail(e):
    raise click.ClickException(str(e)) from None


def _data_options(f):
    """The options that say how to read DATA (shared by train and evaluate)."""
    opts = [
        click.option("--text-column", "text_columns", multiple=True,
                     help="Text column(s): a header name or, with --no-header, a 0-based index; several (repeat the "
                          "option or comma-separate) are joined with a space. [default: text; with --no-header: every "
                          "column but the label's]"),
        click.option("--label-column", help="Label column. [default: label; with --no-header: 0]"),
        click.option("--no-header", is_flag=True, default=None, help="The file has no header row: columns by 0-based index."),
        click.option("--delimiter", help="Field delimiter: a character or tab/comma/semicolon/pipe. "
                                         "[default: tab for .tsv, comma for .csv, else guessed from the first line]"),
        click.option("--encoding", default=None, help="Text encoding of the data. [default: utf-8]"),
        click.option("--label-names", help="Names for the labels found, in their sorted order: a comma list or a "
                                           "file with one name per line (e.g. AG News classes.txt for labels 1..4)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _progress(total, label, quiet=False):
    """Progress of a long pass (a callable taking the number of items done): a tqdm bar on a
    terminal, plain lines in logs, nothing when quiet; it closes itself at ``total``."""
    from apps.progress import Progress

    bar = Progress(total, label, unit="text", quiet=quiet)

    def step(n):
        bar.update(n)
        if bar.done >= total:
            bar.close()

    return step


_QUIET = {"on": False}


def _say(message):
    """An informational line on stderr (none with -q)."""
    if not _QUIET["on"]:
        click.echo(message, err=True)


@click.group("text")
def text():
    """Train, evaluate and apply text classifiers (lstm, transformer, minilm).

    \b
    zoo text train spam.tsv --no-header --model lstm --output runs/spam
    zoo text evaluate runs/spam/model.h5 more_spam.tsv
    zoo text predict runs/spam "WIN a free prize now!" "see you at 6?"
    """


@text.command("train")
@click.argument("data", type=click.Path())
@click.option("--model", "model_kind", type=click.Choice(["lstm", "transformer", "minilm"]), default="lstm",
              show_default=True, help="lstm / transformer: trained from scratch on a word vocabulary; minilm: a new "
                                      "head on the pretrained MiniLM sentence encoder.")
@click.option("--output", "-o", required=True, type=click.Path(), help="Output folder.")
@_data_options
@click.option("--test-split", default=0.2, show_default=True, type=click.FloatRange(0.0, 0.9),
              help="Held-out fraction for the final metrics (never used for training or early stopping); 0 reports "
                   "the validation split instead.")
@click.option("--val-split", default=0.1, show_default=True, type=click.FloatRange(0.01, 0.9),
              help="Fraction of the rest for early stopping and the best epoch.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the splits, initial weights and shuffling.")
@click.option("--max-length", type=click.IntRange(1), help="Tokens kept per text (the first ones). [default: 128, for minilm at most the encoder's]")
@click.option("--vocab-size", default=20000, show_default=True, type=click.IntRange(3),
              help="lstm/transformer: words in the vocabulary (with <pad> and <unk>), the most frequent of the "
                   "training split.")
@click.option("--min-count", default=1, show_default=True, type=click.IntRange(1),
              help="lstm/transformer: drop words seen fewer times in the training split.")
@click.option("--epochs", type=click.IntRange(1), help="Maximum epochs (early stopping ends sooner). "
                                                       "[default: 6; minilm head: 60]")
@click.option("--batch-size", type=click.IntRange(1), help="[default: 32; minilm: 64]")
@click.option("--lr", type=float, help="Peak learning rate (Adam, cosine decay). [default: lstm 5e-3, "
                                       "transformer 2e-3, minilm head 1e-3]")
@click.option("--patience", type=click.IntRange(1),
              help="Early stopping: epochs without a better validation macro-F1. [default: 3; minilm head: 8]")
@click.option("--class-weight", type=click.Choice(["auto", "none"]), default="auto", show_default=True,
              help="auto: weight classes inversely to their training frequency.")
@click.option("--embed-dim", default=64, show_default=True, type=click.IntRange(1), help="lstm/transformer: embedding size.")
@click.option("--units", default=64, show_default=True, type=click.IntRange(1),
              help="lstm: units per direction; transformer: feed-forward width.")
@click.option("--num-layers", default=1, show_default=True, type=click.IntRange(1, 12), help="transformer: encoder blocks.")
@click.option("--num-heads", default=4, show_default=True, type=click.IntRange(1), help="transformer: attention heads.")
@click.option("--dropout", type=click.FloatRange(0.0, 0.9), help="[default: 0.2; transformer 0.1; minilm head 0.3]")
@click.option("--encoder", default="minilm_l6", show_default=True,
              help="minilm: a registered text encoder, or a local sentence-transformers / Hugging Face BERT folder.")
@click.option("--weights", "weights_tag", default="sentence", show_default=True,
              help="minilm: the encoder's weights tag in the registry.")
@click.option("--head-units", default=256, show_default=True, type=click.IntRange(0),
              help="minilm: width of the head's hidden ReLU layer (0: a linear head).")
@click.option("--finetune-top", default=0, show_default=True, type=click.IntRange(0),
              help="minilm: after the head, also train the top N encoder layers (their input is computed once).")
@click.option("--finetune-epochs", default=2, show_default=True, type=click.IntRange(1))
@click.option("--finetune-lr", default=5e-5, show_default=True, type=float)
@work_options(json_help="Print the metrics summary as JSON instead of a sentence.")
def train(data, model_kind, output, text_columns, label_column, no_header, delimiter, encoding, label_names, test_split,
          val_split, seed, max_length, vocab_size, min_count, epochs, batch_size, lr, patience, class_weight,
          embed_dim, units, num_layers, num_heads, dropout, encoder, weights_tag, head_units, finetune_top,
          finetune_epochs, finetune_lr, as_json, quiet, device):
    """Train a text classifier on DATA: a CSV/TSV file (one text per row) or a folder per class of .txt files.

    DATA is split (stratified, --seed) into a held-out test part (--test-split), a validation part
    for early stopping (--val-split of the rest) and the training part, on which alone the
    vocabulary is built. The output folder gets model.h5 (tokenizer, max length and labels inside:
    `evaluate` and `predict` need nothing else), metrics.json (accuracy, macro_f1, per_class,
    confusion_matrix, labels: on the test part), args.json, history.json and PNG plots when
    matplotlib is installed.
    """
    args = dict(click.get_current_context().params)  # the arguments only (resolved defaults added below)
    import numpy as np

    from apps.classification_report import balanced_class_weights, save_plots, stratified_split, write_json
    from apps.model_files import check_output_dir
    from apps.text_data import DataError, load_text_dataset, parse_label_names
    from core.utils import set_random_seed

    _QUIET["on"] = quiet
    t0 = time.time()
    use_device(device)
    d = DEFAULTS[model_kind]
    epochs, lr = epochs or d["epochs"], lr if lr is not None else d["lr"]
    user_max_length = max_length
    max_length, batch_size = max_length or d["max_length"], batch_size or d["batch_size"]
    dropout = d["dropout"] if dropout is None else dropout
    patience = patience or d["patience"]
    args.update(epochs=epochs, lr=lr, max_length=max_length, batch_size=batch_size, dropout=dropout, patience=patience)
    if model_kind == "transformer" and embed_dim % num_heads:
        raise click.BadParameter(f"--embed-dim {embed_dim} must be divisible by --num-heads {num_heads}",
                                 param_hint="--num-heads")
    out = check_output_dir(output)
    try:
        ds = load_text_dataset(data, text_columns, label_column, bool(no_header), delimiter, encoding or "utf-8",
                               label_names=parse_label_names(label_names))
        data_format = {"text_columns": list(text_columns), "label_column": label_column,
                       "no_header": bool(no_header), "delimiter": delimiter, "encoding": encoding or "utf-8",
                       "label_map": ds.label_map}
        labels = ds.class_names
        y = ds.labels
        idx = np.arange(len(y))
        if test_split > 0:
            rest, te = (a.astype(np.int64) for a in stratified_split(y, test_split, seed))
            if len(te) == 0:
                raise DataError(f"the test split is empty ({len(y)} texts): add data or raise --test-split")
        else:
            rest, te = idx, np.array([], np.int64)
        tr_rel, va_rel = (a.astype(np.int64) for a in stratified_split(y[rest], val_split, seed + 1))
        tr, va = rest[tr_rel], rest[va_rel]
        if len(va) == 0:
            raise DataError(f"the validation split is empty ({len(rest)} texts before it): add data or raise "
                            "--val-split")
        if len(np.unique(y[tr])) < 2:
            raise DataError("the training split has a single class: add data")
    except DataError as e:
        _fail(e)
    for _, reason in ds.skipped:
        click.echo(f"skipped: {reason}", err=True)
    eval_idx, eval_name = (te, "test") if len(te) else (va, "validation")
    counts = np.bincount(y, minlength=len(labels))
    _say(f"{len(y)} texts, {len(labels)} classes ({', '.join(f'{l}: {c}' for l, c in zip(labels, counts))}); "
         f"train {len(tr)}, validation {len(va)}, test {len(te)}")
    set_random_seed(seed)
    cw = balanced_class_weights(y[tr], len(labels)) if class_weight == "auto" else None
    texts = ds.texts
    try:
        if model_kind == "minilm":
            model, probs, history, info = _train_minilm(
                texts, y, tr, va, eval_idx, labels, encoder, weights_tag, user_max_length, epochs, batch_size, lr,
                patience, cw, dropout, head_units, finetune_top, finetune_epochs, finetune_lr, seed)
        else:
            model, probs, history, info = _train_words(
                model_kind, texts, y, tr, va, eval_idx, labels, max_length, vocab_size, min_count, epochs,
                batch_size, lr, patience, cw, embed_dim, units, num_layers, num_heads, dropout, seed)
    except DataError as e:
        _fail(e)
    except MemoryError:
        _fail("out of memory: lower --batch-size or --max-length")
    from apps.classification_report import classification_metrics

    max_length = info.get("max_length", max_length)
    args["max_length"] = max_length
    metrics = classification_metrics(y[eval_idx], probs.argmax(1), labels)
    metrics.update(split=eval_name, model=model_kind, num_train=int(len(tr)), num_validation=int(len(va)),
                   num_test=int(len(te)), train_seconds=round(time.time() - t0, 1), **info)
    model.assets.update(labels=list(labels), max_length=int(max_length), text_model=model_kind,
                        data_format=data_format)
    model.save(out / "model.h5", include_optimizer=False)
    write_json(out / "metrics.json", metrics)
    write_json(out / "args.json", args)
    write_json(out / "history.json", history)
    plots = save_plots(out, history, metrics)
    if as_json:
        click.echo(json.dumps({"split": eval_name, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                               "num_samples": metrics["num_samples"], "model": str(out / "model.h5")}))
        return
    click.echo(f"{eval_name} accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
               f"({len(eval_idx)} texts) in {metrics['train_seconds']:.0f} s; saved {out / 'model.h5'}, metrics.json"
               + (", plots" if plots else ""))


def _fit(model, stream, predict_val, y_val, labels, epochs, lr, patience, history, warmup=0):
    """Adam with cosine decay, early stopping on the validation macro-F1 (ties: lower validation
    loss), the best epoch's weights restored."""
    from apps.progress import EpochProgress
    from apps.text_models import ValidationMetrics, cosine_lr
    from core.callbacks import EarlyStopping
    from core.optimizers import Adam

    steps = len(stream) * epochs
    model.compile(optimizer=Adam(cosine_lr(lr, steps, warmup), global_clipnorm=5.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    es = EarlyStopping(monitor="val_score", mode="max", patience=patience, restore_best_weights=True)
    h = model.fit(stream, epochs=epochs, verbose=0,
                  callbacks=[ValidationMetrics(predict_val, y_val, labels), es,
                             EpochProgress(epochs, quiet=_QUIET["on"], steps=len(stream))])
    for key, values in h.history.items():
        history.setdefault(key, []).extend(values)
    best = int(es.best_epoch)
    return {"best_epoch": best + 1, "best_val_macro_f1": float(h.history["val_macro_f1"][best])
            if best < len(h.history.get("val_macro_f1", [])) else None, "epochs_run": len(h.history.get("loss", []))}


def _train_words(kind, texts, y, tr, va, ev, labels, max_length, vocab_size, min_count, epochs, batch_size, lr,
                 patience, cw, embed_dim, units, num_layers, num_heads, dropout, seed):
    from apps.text_models import TokenBatches, WordTokenizer, build_lstm, build_transformer, predict_ids
    from apps.text_vocab import Vocabulary

    vocab = Vocabulary.build([texts[i] for i in tr], max_size=vocab_size, min_count=min_count)
    tok = WordTokenizer(vocab)
    enc = lambda idx: tok.encode_batch([texts[i] for i in idx], max_length)  # noqa: E731
    tr_ids, va_ids, ev_ids = enc(tr), enc(va), enc(ev)
    _say(f"vocabulary: {len(vocab)} words from the training split "
               f"({100 * vocab.coverage([texts[i] for i in va]):.1f}% of the validation words known)")
    if kind == "lstm":
        model = build_lstm(len(vocab), len(labels), embed_dim, units, dropout)
    else:
        model = build_transformer(len(vocab), len(labels), max_length, embed_dim, num_heads, units, num_layers,
                                  dropout)
    stream = TokenBatches(tr_ids, y[tr], batch_size, shuffle=True, seed=seed, class_weight=cw)
    history = {}
    _say(f"{kind}: {model.count_params():,} parameters, up to {epochs} epochs of {len(stream)} batches")
    info = _fit(model, stream, lambda m: predict_ids(m, va_ids), y[va], labels, epochs, lr, patience, history)
    model.assets["vocab"] = vocab.to_config()
    info["vocab_size"] = len(vocab)
    return model, predict_ids(model, ev_ids), history, info


def _train_minilm(texts, y, tr, va, ev, labels, encoder, weights_tag, max_length, epochs, batch_size, lr, patience,
                  cw, dropout, head_units, finetune_top, finetune_epochs, finetune_lr, seed):
    import numpy as np

    import zoo
    from apps.text_data import DataError
    from apps.text_models import (HiddenBatches, PieceTokenizer, build_head, build_minilm, build_top, copy_layers,
                                  adapt_feature_norm, encode_split, encoder_layers)

    try:
        enc = zoo.SentenceEncoder(encoder, weights=weights_tag, max_length=max_length, normalize=False)
    except Exception as e:  # missing weights offline, a bad folder, an unknown name, a too long max_length
        raise DataError(f"cannot load the text encoder {encoder!r}: {e}") from None
    if max_length is None:  # the default, within what the encoder allows
        enc.max_length = min(DEFAULTS["minilm"]["max_length"], enc.max_length)
    cfg = {k: enc.model.config[k] for k in ("vocab_size", "hidden_size", "num_layers", "num_heads",
                                            "intermediate_size", "max_position_embeddings", "type_vocab_size",
                                            "layer_norm_eps")}
    n_layers = cfg["num_layers"]
    if finetune_top > n_layers:
        raise DataError(f"--finetune-top {finetune_top}: the encoder has {n_layers} layers")
    model = build_minilm(len(labels), cfg, head_units=head_units, head_dropout=dropout)
    copy_layers(model, enc.model)
    tok = PieceTokenizer(enc.tokenizer)
    ids = tok.encode_batch(texts, enc.max_length)
    pad = tok.pad_id
    split = n_layers - finetune_top
    todo = np.concatenate([tr, va, ev])
    _say(f"encoding {len(todo)} texts with {encoder} ({n_layers} layers, max {enc.max_length} tokens)")
    feats, hidden = encode_split(model, [ids[i] for i in todo], split, batch_size=64, pad_id=pad,
                                 progress=_progress(len(todo), "encoding", _QUIET["on"]))
    n1, n2 = len(tr), len(tr) + len(va)
    history = {}
    # stage 1: the head on the frozen pooled features, standardized with the training statistics
    head = build_head(feats.shape[1], len(labels), dropout, head_units)
    adapt_feature_norm(head, feats[:n1])
    class Arrays:
        def __init__(self, x, yy, shuffle):
            self.x, self.y, self.shuffle = x, yy, shuffle
            self.w = None if cw is None else np.array([cw.get(int(c), 1.0) for c in yy], np.float32)
            self.rng = np.random.default_rng(seed)

        def __len__(self):
            return -(-len(self.y) // batch_size)

        def __iter__(self):
            order = self.rng.permutation(len(self.y)) if self.shuffle else np.arange(len(self.y))
            for s in range(0, len(order), batch_size):
                i = order[s:s + batch_size]
                yield (self.x[i], self.y[i]) if self.w is None else (self.x[i], self.y[i], self.w[i])

    val_feats = feats[n1:n2]
    _say(f"head: {head.count_params():,} parameters on frozen {feats.shape[1]}-d features, up to {epochs} epochs")
    info = _fit(head, Arrays(feats[:n1], y[tr], True), lambda m: m.predict(val_feats, batch_size=512, verbose=0),
                y[va], labels, epochs, lr, patience, history)
    copy_layers(model, head)
    probs = head.predict(feats[n2:], batch_size=512, verbose=0)
    info.update(encoder=encoder, finetune_top=int(finetune_top), max_length=int(enc.max_length))
    if finetune_top:
        info["head_only_accuracy"] = float((probs.argmax(1) == y[ev]).mean())  # reported, never used to choose
        top = build_top(model, split, dropout=dropout)
        trainable = [l.name for l in encoder_layers(model)[split:]]
        _say(f"fine-tuning {', '.join(trainable)} and the head: up to {finetune_epochs} epochs")
        stream = HiddenBatches(hidden[:n1], y[tr], 32, shuffle=True, seed=seed, class_weight=cw)
        val = HiddenBatches(hidden[n1:n2], None, 64)
        info_ft = _fit(top, stream, val.predict, y[va], labels, finetune_epochs, finetune_lr, patience, history,
                       warmup=max(1, len(stream) // 10))
        if (info_ft["best_val_macro_f1"] or 0) >= (info["best_val_macro_f1"] or 0):
            copy_layers(model, top)
            probs = HiddenBatches(hidden[n2:], None, 64).predict(top)
            info.update(finetune_best_epoch=info_ft["best_epoch"], best_val_macro_f1=info_ft["best_val_macro_f1"])
        else:
            _say("fine-tuning did not improve the validation macro-F1: keeping the head-only model")
    pieces = [t for t, _ in sorted(enc.tokenizer.vocab.items(), key=lambda kv: kv[1])]
    model.assets["vocab"] = {"type": "wordpiece", "tokens": pieces,
                             "lowercase": enc.tokenizer.lowercase, "strip_accents": enc.tokenizer.strip_accents}
    return model, probs, history, info


# --------------------------------------------------------------------------- evaluate / predict
def _load(model_path, command="zoo text predict"):
    """(model, labels, tokenizer, max_length) of a run folder or model file (apps.serving uses it)."""
    clf = _classifier(model_path, command)
    return clf.model, clf.labels, clf.tokenizer, clf.max_length


def _classifier(model_path, command):
    """The :class:`~apps.text_classifier.TextClassifier` of a run folder or model file, as one-line errors."""
    from apps.model_files import require_app, resolve_model_file
    from apps.text_classifier import load_text_classifier

    path = resolve_model_file(model_path)
    require_app(path, "text", command)
    try:
        return load_text_classifier(path)
    except Exception as e:
        _fail(f"cannot load {path}: {e}")


@text.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("data", type=click.Path())
@_data_options
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--output", "-o", type=click.Path(),
              help="Folder for metrics.json and confusion_matrix.png. [default: MODEL's folder/evaluate_<DATA name>]")
@work_options(json_help="Print the metrics as one JSON object instead of the table.")
def evaluate(model_path, data, text_columns, label_column, no_header, delimiter, encoding, label_names, batch_size,
             output, as_json, quiet, device):
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages and the
    confusion matrix of MODEL (a model.h5 or its run folder) on DATA, read as at training unless the
    data options say otherwise."""
    from apps.classification_report import classification_metrics, write_evaluation
    from apps.model_files import check_output_dir, evaluation_dir
    from apps.text_data import DataError, load_text_dataset, parse_label_names

    use_device(device)
    clf = _classifier(model_path, "zoo text evaluate")
    labels = clf.labels
    out = check_output_dir(evaluation_dir(Path(model_path) / "model.h5" if Path(model_path).is_dir() else model_path,
                                          data, output))
    fmt = clf.model.assets.get("data_format") or {}
    try:
        ds = load_text_dataset(data, text_columns or fmt.get("text_columns") or (),
                               label_column if label_column is not None else fmt.get("label_column"),
                               bool(fmt.get("no_header")) if no_header is None else no_header,
                               delimiter or fmt.get("delimiter"), encoding or fmt.get("encoding") or "utf-8",
                               class_names=labels,
                               label_names=parse_label_names(label_names) if label_names else fmt.get("label_map"))
    except DataError as e:
        _fail(e)
    for _, reason in ds.skipped:
        click.echo(f"skipped: {reason}", err=True)
    probs = clf.predict(ds.texts, batch_size, progress=_progress(len(ds.texts), "predicting", quiet))
    metrics = classification_metrics(ds.labels, probs.argmax(1), labels)
    write_evaluation(out, metrics, as_json, click.echo)


@text.command("predict")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "files", multiple=True, type=click.Path(),
              help="Also classify each line of this file ('-' for standard input).")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@work_options(json_help="One JSON object per text.")
def predict(model_path, texts, files, top, batch_size, as_json, quiet, device):
    """Top labels with probabilities for each of TEXTS (raw strings), with MODEL (a model.h5 made by
    `zoo text train`, or its run folder). In Python: apps.text_classifier.load_text_classifier."""
    items = list(texts)
    for f in files:
        try:
            content = sys.stdin.read() if f == "-" else Path(f).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            _fail(f"cannot read {f}: {e}")
        items += [line.strip() for line in content.splitlines() if line.strip()]
    if not items:
        raise click.UsageError("give at least one text (or --file)")
    use_device(device)
    clf = _classifier(model_path, "zoo text predict")
    quiet = quiet or len(items) <= 2000
    probs = clf.predict(items, batch_size, progress=_progress(len(items), "predicting", quiet))
    k = min(top, len(clf.labels))
    import numpy as np

    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    for t, row, p in zip(items, order, probs):
        preds = [(clf.labels[j], float(p[j])) for j in row]
        if as_json:
            click.echo(json.dumps({"text": t, "predictions": [{"label": l, "probability": round(v, 6)}
                                                              for l, v in preds]}, ensure_ascii=False))
        else:
            short = t if len(t) <= 48 else t[:45] + "..."
            click.echo(f"{short:<48}  " + "  ".join(f"{l} {v:.3f}" for l, v in preds))
