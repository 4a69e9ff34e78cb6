"""The image fine-tuning app: datasets (folder per class or CSV of path,label), streamed
batches with the model's own preprocessing and optional augmentation, and staged fine-tuning
(head on a frozen backbone, then more layers at a lower learning rate)."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .images import IMAGE_EXTENSIONS, not_regular_file, read_image


class DataError(ValueError):
    """A dataset the app cannot train on; the message says why and what to do."""


@dataclass
class ImageDataset:
    paths: list
    labels: np.ndarray
    class_names: list
    skipped: list = field(default_factory=list)


def load_dataset(data, class_names=None) -> ImageDataset:
    """Images and labels from a folder per class or a CSV of ``path,label`` (paths relative to the
    CSV's folder). ``class_names`` fixes the label order (for evaluation with a trained model)."""
    data = Path(data)
    if not data.exists():
        raise DataError(f"data not found: {data}")
    if data.is_file() and data.suffix.lower() in IMAGE_EXTENSIONS:
        raise DataError(f"{data} is an image, not a dataset: give a folder with one subfolder of images per class, "
                        "or a CSV of path,label (to classify images, use `zoo classify` or `zoo image predict`)")
    pairs = []
    if data.is_dir():
        classes = sorted(d.name for d in data.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise DataError(f"{data} has no class folders: put the images of each class in a folder named after it")
        for c in classes:
            files = sorted(f for f in (data / c).rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and not f.is_dir())
            pairs += [(f, c) for f in files]
    elif not_regular_file(data):
        raise DataError(f"{data}: {not_regular_file(data).replace(': skipped', '')}; give a folder per class "
                        "or a CSV file of path,label")
    else:
        try:
            with open(data, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
        except UnicodeDecodeError:
            raise DataError(f"{data} is not a UTF-8 CSV of path,label: give a folder per class or such a CSV") from None
        if rows and [c.strip().lower() for c in rows[0][:2]] in (["path", "label"], ["file", "label"],
                                                                 ["filename", "label"], ["image", "label"]):
            rows = rows[1:]
        for line, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise DataError(f"{data}, line {line}: expected 'path,label', got {row!r}")
            p = Path(row[0].strip())
            pairs.append((p if p.is_absolute() else data.parent / p, row[1].strip()))
    if not pairs:
        raise DataError(f"no images found in {data}")
    names = sorted({c for _, c in pairs}) if class_names is None else list(class_names)
    unknown = sorted({c for _, c in pairs} - set(names))
    if unknown:
        raise DataError(f"labels {unknown} are not classes of the model ({names})")
    if class_names is None and len(names) < 2:
        raise DataError(f"{data} has a single class ({names[0]!r}): a classifier needs at least two")
    index = {c: i for i, c in enumerate(names)}
    skipped, kept = [], []
    for p, c in pairs:
        if not Path(p).exists():
            skipped.append((str(p), f"{p}: file not found"))
        elif not_regular_file(p):   # a FIFO or device would block (or never end) when read
            skipped.append((str(p), f"{p}: {not_regular_file(p)}"))
        else:
            kept.append((p, c))
    return ImageDataset([p for p, _ in kept], np.array([index[c] for _, c in kept], np.int64), names,
                        skipped=skipped)


def augment_batch(x, rng, flip=True, crop=True, rotation=0.0):
    """Random horizontal flips, shifts (pad 4 and crop) and small rotations, one draw per image."""
    n, h, w, _ = x.shape
    if flip:
        m = rng.random(n) < 0.5
        x[m] = x[m, :, ::-1]
    if crop:
        pad = max(1, min(h, w) // 8)
        padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
        dy, dx = rng.integers(0, 2 * pad + 1, n), rng.integers(0, 2 * pad + 1, n)
        rows = dy[:, None] + np.arange(h)[None, :]
        cols = dx[:, None] + np.arange(w)[None, :]
        x = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if rotation:
        from core.ops.image import affine_transform, rotation_matrix

        angles = rng.uniform(-rotation, rotation, n) * 360.0
        x = np.asarray(affine_transform(x, rotation_matrix(angles, h, w), fill_mode="reflect").data, np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


class BatchStream:
    """Re-iterable batches (x, y) read from disk per batch: never the whole set in memory.
    Unreadable images are skipped and remembered in ``skipped``."""

    def __init__(self, paths, labels, preprocess, batch_size, shuffle, seed, augment=None):
        self.paths, self.labels = list(paths), np.asarray(labels)
        self.preprocess, self.batch_size = preprocess, batch_size
        self.shuffle, self.augment = shuffle, augment
        self.rng = np.random.default_rng(seed)
        self.skipped = {}

    def __len__(self):
        return -(-len(self.paths) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.paths)) if self.shuffle else np.arange(len(self.paths))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            imgs, ys = [], []
            for i in idx:
                p = self.paths[i]
                if p in self.skipped:
                    continue
                try:
                    imgs.append(read_image(p))
                    ys.append(self.labels[i])
                except ValueError as e:
                    self.skipped[p] = str(e)
            if not imgs:
                continue
            x = self.preprocess(imgs)
            if self.augment:
                x = augment_batch(x, self.rng, **self.augment)
            yield x, np.asarray(ys, np.int64)


def predict_stream(model, stream, progress=None):
    """Probabilities and labels over ``stream``; ``progress(n)`` is told of each batch's size."""
    probs, ys = [], []
    for x, y in stream:
        probs.append(model.predict(x, verbose=0))
        ys.append(y)
        if progress is not None:
            progress(len(y))
    if not probs:
        raise DataError("none of the images could be read")
    return np.concatenate(probs), np.concatenate(ys)


def parse_unfreeze(spec, model=None):
    """None for ``all``, N for ``top-N`` (N >= 1, and at most the model's layers with weights when
    ``model`` is given); DataError otherwise. Called before training starts."""
    if spec == "all":
        return None
    if not spec.startswith("top-") or not spec[4:].isdigit() or int(spec[4:]) < 1:
        raise DataError(f"--unfreeze must be 'all' or 'top-N' with N >= 1, got {spec!r}")
    n = int(spec[4:])
    if model is not None:
        have = sum(1 for l in model.layers if l.weights)
        if n > have:
            raise DataError(f"--unfreeze {spec}: the model has {have} layers with weights (use 'all' or top-{have})")
    return n


def unfreeze_top(model, spec):
    """``all``: every layer trainable; ``top-N``: only the last N layers that have weights."""
    n = parse_unfreeze(spec)
    if n is None:
        model.unfreeze()
        return
    with_weights = [l for l in model.layers if l.weights]
    for layer in model.layers:
        layer.trainable = False
    for layer in with_weights[-n:]:
        layer.trainable = True
