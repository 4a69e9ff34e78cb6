"""``image_dataset_from_directory``: a folder of class sub-folders of images as a ``Dataset``
of ``(images, labels)`` batches that ``fit`` takes directly.

Images are decoded with PIL (first frame; ``color_mode`` channels) and resized as
``tf.image.resize`` does (``core.ops.image.resize``), each batch's images of one size at once.
The folder is untrusted: only regular files with an image extension are read, symbolic links
are skipped unless ``follow_links=True``, and a file that does not decode raises an error
naming it.
"""
from __future__ import annotations

import numpy as np

from .. import autodiff
from ..ops import image as image_ops
from . import dataset_utils
from .image_utils import COLOR_MODES, decode_image_file, standardize_data_format

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb",
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None, validation_split=None,
                                 subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 format="tf", verbose=True):
    """A ``Dataset`` of image batches from ``directory`` (Keras 3 semantics).

    ``labels="inferred"`` takes one class per sub-folder (``class_names`` fixes their order),
    a list gives one integer label per file (in the sorted order of the file paths), None
    gives images only. ``label_mode``: ``"int"`` (int32), ``"categorical"`` (one-hot float32),
    ``"binary"`` (float32 (n, 1), two classes) or None. Images are float32
    ``(batch, height, width, channels)`` with values in [0, 255]. ``validation_split`` with
    ``subset="training"``/``"validation"`` gives one part, ``subset="both"`` the two.
    The result has ``.class_names`` and ``.file_paths``; with ``shuffle`` the order changes
    every epoch (repeatably for a given ``seed``).
    """
    labels, label_mode = dataset_utils.check_label_arguments(labels, label_mode, class_names, "image")
    if color_mode not in COLOR_MODES:
        raise ValueError(f'`color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. Received: color_mode={color_mode}')
    num_channels = COLOR_MODES[color_mode]
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError(f"Invalid `image_size` value. Expected a tuple of 2 integers. Received: image_size={image_size}")
    image_size = (int(image_size[0]), int(image_size[1]))
    if min(image_size) <= 0:
        raise ValueError(f"`image_size` must be two positive integers, received {image_size}")
    interpolation = str(interpolation).lower()
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of {INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation}")
    if interpolation not in image_ops.RESIZE_INTERPOLATIONS:
        raise NotImplementedError(f"image_dataset_from_directory: interpolation={interpolation!r} is not supported "
                                  f"yet; use one of {image_ops.RESIZE_INTERPOLATIONS}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`.")
    dataset_utils.check_format(format)
    data_format = standardize_data_format(data_format)
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    image_paths, labels, class_names = dataset_utils.index_directory(
        directory, labels, formats=ALLOWLIST_FORMATS, class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    dataset_utils.check_binary_classes(label_mode, class_names)
    options = dict(image_size=image_size, num_channels=num_channels, label_mode=label_mode,
                   num_classes=len(class_names) if class_names else 0, interpolation=interpolation,
                   crop_to_aspect_ratio=crop_to_aspect_ratio, pad_to_aspect_ratio=pad_to_aspect_ratio,
                   data_format=data_format, batch_size=batch_size)
    return dataset_utils.datasets_for_subset(
        image_paths, labels, class_names, validation_split, subset, shuffle, verbose,
        lambda paths, labs, shuffled: paths_and_labels_to_dataset(paths, labs, shuffle=shuffled, seed=seed,
                                                                  **options),
        lambda which: f"No {which + ' ' if which else ''}images found in directory {directory}. "
                      f"Allowed formats: {ALLOWLIST_FORMATS}")


def load_images(paths, image_size, num_channels, interpolation="bilinear", crop_to_aspect_ratio=False,
                pad_to_aspect_ratio=False, data_format="channels_last"):
    """The image files ``paths`` decoded and resized to one float32 array
    ``(len(paths), height, width, channels)`` (channels first on request); the images of one
    size are resized together."""
    decoded = [decode_image_file(p, num_channels) for p in paths]
    out = np.empty((len(paths),) + tuple(image_size) + (num_channels,), dtype=np.float32)
    by_shape = {}
    for i, arr in enumerate(decoded):
        by_shape.setdefault(arr.shape, []).append(i)
    with autodiff.no_grad():
        for shape, idx in by_shape.items():
            stack = np.stack([decoded[i] for i in idx])
            resized = image_ops.resize(stack, image_size, interpolation=interpolation,
                                       crop_to_aspect_ratio=crop_to_aspect_ratio,
                                       pad_to_aspect_ratio=pad_to_aspect_ratio)
            out[idx] = resized.data
    if data_format == "channels_first":
        out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    return out


def paths_and_labels_to_dataset(image_paths, labels, image_size, num_channels, label_mode, num_classes,
                                interpolation, data_format, batch_size, crop_to_aspect_ratio=False,
                                pad_to_aspect_ratio=False, shuffle=False, seed=None):
    """A ``Dataset`` of ``images`` or ``(images, labels)`` for these files, decoded batch by batch."""
    paths = np.asarray(image_paths, dtype=object)
    encoded = None if label_mode is None else dataset_utils.encode_labels(labels, label_mode, num_classes)

    def fetch(idx):
        images = load_images(paths[idx], image_size, num_channels, interpolation, crop_to_aspect_ratio,
                             pad_to_aspect_ratio, data_format)
        return images if encoded is None else (images, encoded[idx])

    ds = dataset_utils.dataset_from_rows(len(paths), fetch, batch_size, shuffle, seed)
    ds.file_paths = list(image_paths)
    return ds
