"""``keras.applications.imagenet_utils``: ``preprocess_input`` (caffe / tf / torch modes) and
``decode_predictions`` (``(wnid, name, score)`` triples, Keras's ImageNet class index)."""
from __future__ import annotations

import json

import numpy as np

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_CLASS_INDEX = None


def preprocess_input(x, data_format=None, mode="caffe"):
    """Keras's ImageNet preprocessing of RGB images in [0, 255], channels last: ``caffe`` (RGB -> BGR,
    minus the ImageNet mean), ``tf`` (scaled to [-1, 1]) or ``torch`` ([0, 1], then the ImageNet mean
    and std). A float NumPy array is modified in place and returned, as Keras does."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"preprocess_input: data_format={data_format!r} is not supported (channels_last only)")
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(f"preprocess_input: mode must be 'caffe', 'tf' or 'torch', got {mode!r}")
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
        out = x
    else:
        out = np.array(x, dtype="float32")
    if out.shape[-1] != 3:
        raise ValueError(f"preprocess_input expects RGB images (last axis 3), got shape {out.shape}")
    if mode == "tf":
        out /= 127.5
        out -= 1.0
        return out
    if mode == "torch":
        out /= 255.0
        out -= np.asarray(_TORCH_MEAN, out.dtype)
        out /= np.asarray(_TORCH_STD, out.dtype)
        return out
    out[...] = out[..., ::-1]
    out -= np.asarray(_CAFFE_MEAN_BGR, out.dtype)
    return out


def _class_index():
    global _CLASS_INDEX
    if _CLASS_INDEX is None:
        from .. import weights

        with open(weights.fetch("imagenet.labels"), encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or not all(isinstance(data.get(str(i)), list) for i in range(len(data))):
            raise ValueError("the imagenet.labels file is not Keras's imagenet_class_index.json")
        _CLASS_INDEX = [tuple(data[str(i)]) for i in range(len(data))]
    return _CLASS_INDEX


def decode_predictions(preds, top=5):
    """For each row of ImageNet scores ``preds`` (N, 1000): the ``top`` ``(wnid, name, score)``
    triples, best first (as Keras)."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("decode_predictions expects a batch of ImageNet predictions (samples, 1000), "
                         f"got shape {preds.shape}")
    index = _class_index()
    top = min(int(top), preds.shape[1])
    order = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [[(index[j][0], index[j][1], float(row[j])) for j in idx] for row, idx in zip(preds, order)]
