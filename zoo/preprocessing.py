"""Image preprocessing from a weights entry's ``input`` spec: resize (or resize + center crop),
channel order, scale, mean/std. A model carries the spec of its weights, so users never pick
"caffe"/"tf"/"torch" by hand; ``family_spec(mode)`` is the spec of each of Keras's modes (the
functions for those who pick by hand are keras.applications', in ``zoo.applications``)."""
from __future__ import annotations

import numpy as np

IMAGENET_MEAN_RGB = [0.485, 0.456, 0.406]
IMAGENET_STD_RGB = [0.229, 0.224, 0.225]
CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]

# Keras's three modes (keras.applications.imagenet_utils) as input specs
_FAMILIES = {
    "caffe": {"channel_order": "BGR", "scale": 1.0, "mean": CAFFE_MEAN_BGR, "std": None},
    "torch": {"channel_order": "RGB", "scale": 1 / 255.0, "mean": IMAGENET_MEAN_RGB, "std": IMAGENET_STD_RGB},
    "tf": {"channel_order": "RGB", "scale": 1 / 127.5, "mean": [1.0, 1.0, 1.0], "std": None},
}


def family_spec(mode, size=None):
    """The ``input`` spec of a preprocessing family: "caffe" (RGB->BGR, ImageNet mean subtracted;
    Keras ResNet/VGG), "torch" ([0, 1], ImageNet mean/std; torchvision and the CIFAR ResNets) or
    "tf" ([-1, 1])."""
    if mode not in _FAMILIES:
        raise ValueError(f"unknown preprocessing mode {mode!r}; expected one of {sorted(_FAMILIES)}")
    spec = {"type": "image", "mode": mode, "layout": "NHWC", "channels": 3, **_FAMILIES[mode]}
    if size is not None:
        spec["size"] = list(size)
    return spec


def _normalise(x, spec):
    if spec.get("channel_order", "RGB").upper() == "BGR":
        x = x[..., ::-1]
    x = x * np.float32(spec.get("scale", 1.0) or 1.0)
    mean, std = spec.get("mean"), spec.get("std")
    if mean is not None:
        x = x - np.asarray(mean, np.float32)
    if std is not None:
        x = x / np.asarray(std, np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def _to_batch(images):
    """uint8/float NHWC RGB batch from an array, a list of arrays, or PIL images."""
    if isinstance(images, np.ndarray):
        arr = images
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
            raise ValueError(f"images must be NHWC (or HWC) with 1, 3 or 4 channels, got shape {arr.shape}")
        return [a for a in arr]
    out = []
    for img in images:
        if hasattr(img, "convert"):  # PIL image
            img = np.asarray(img.convert("RGB"))
        img = np.asarray(img)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=-1)
        if img.ndim != 3:
            raise ValueError(f"an image must be HWC or HW, got shape {img.shape}")
        out.append(img)
    return out


def _resize(img, size, interpolation):
    from core.ops.image import resize

    if tuple(img.shape[:2]) == tuple(size):
        return img.astype(np.float32)
    method = {"none": "bilinear", None: "bilinear"}.get(interpolation, interpolation)
    return np.asarray(resize(img.astype(np.float32), size, interpolation=method).data)


def preprocess_images(images, spec, size=None):
    """A float32 NHWC batch ready for the model. ``spec`` is a manifest ``input`` dict; ``size``
    (H, W) overrides its size (e.g. a model built for another input size)."""
    spec = dict(spec or {})
    size = tuple(size or spec.get("size") or ())
    batch = []
    for img in _to_batch(images):
        img = img[..., :3] if img.shape[-1] == 4 else img
        if img.shape[-1] == 1:
            img = np.repeat(img, 3, axis=-1)
        resize_to, crop = spec.get("resize"), spec.get("crop")
        if resize_to and crop:  # torchvision: shorter side to `resize`, then a center crop
            h, w = img.shape[:2]
            s = resize_to / min(h, w)
            img = _resize(img, (max(int(round(h * s)), crop), max(int(round(w * s)), crop)), spec.get("interpolation"))
            top, left = (img.shape[0] - crop) // 2, (img.shape[1] - crop) // 2
            img = img[top:top + crop, left:left + crop]
        elif size:
            img = _resize(img, size, spec.get("interpolation"))
        batch.append(img.astype(np.float32))
    return _normalise(np.stack(batch), spec)
