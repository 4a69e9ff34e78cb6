"""Label encoding and array normalisation (``keras.utils.to_categorical`` / ``normalize``)."""
from __future__ import annotations

import numpy as np


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels (as keras.utils.to_categorical)."""
    y = np.asarray(getattr(y, "data", y), dtype="int64")
    shape = y.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    y = y.reshape(-1)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be non-negative, got {y.min()}")
    num_classes = int(num_classes or (y.max() + 1 if y.size else 0))
    if y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {y.max()} is out of range for num_classes={num_classes}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero norms left as 1), as
    ``keras.utils.normalize`` on a NumPy array."""
    x = np.asarray(getattr(x, "data", x))
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    axis = -1 if axis is None else axis  # (Keras writes `axis or -1`, which breaks axis=0)
    return x / np.expand_dims(norm, axis)
