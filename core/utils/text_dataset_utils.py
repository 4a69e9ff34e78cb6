"""``text_dataset_from_directory``: a folder of class sub-folders of ``.txt`` files as a
``Dataset`` of ``(texts, labels)`` batches (texts: a NumPy array of Python strings)."""
from __future__ import annotations

import os

import numpy as np

from . import dataset_utils


def read_text_file(path, max_length=None):
    """The UTF-8 text of a file; ``max_length`` keeps its first ``max_length`` bytes (as
    ``tf.strings.substr``; a character cut in half is dropped). Undecodable bytes raise an
    error naming the file."""
    with open(path, "rb") as f:
        data = f.read() if max_length is None else f.read(int(max_length))
    try:
        return data.decode("utf-8", errors="strict" if max_length is None else "ignore")
    except UnicodeDecodeError as e:
        raise ValueError(f"the text file {os.fspath(path)!r} is not valid UTF-8: {e}") from None


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """A ``Dataset`` of text batches from the ``.txt`` files of ``directory`` (Keras 3
    semantics; labels, splits and shuffling as ``image_dataset_from_directory``). Each batch is
    ``texts`` or ``(texts, labels)`` with ``texts`` a 1-D array of ``str``; the result has
    ``.class_names`` and ``.file_paths``."""
    labels, label_mode = dataset_utils.check_label_arguments(labels, label_mode, class_names, "text")
    dataset_utils.check_format(format)
    if max_length is not None and (not isinstance(max_length, (int, np.integer)) or max_length < 0):
        raise ValueError(f"`max_length` must be a non-negative integer or None, received {max_length!r}")
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    file_paths, labels, class_names = dataset_utils.index_directory(
        directory, labels, formats=(".txt",), class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    dataset_utils.check_binary_classes(label_mode, class_names)
    options = dict(label_mode=label_mode, num_classes=len(class_names) if class_names else 0,
                   max_length=max_length, batch_size=batch_size)
    return dataset_utils.datasets_for_subset(
        file_paths, labels, class_names, validation_split, subset, shuffle, verbose,
        lambda paths, labs, shuffled: paths_and_labels_to_dataset(paths, labs, shuffle=shuffled, seed=seed,
                                                                  **options),
        lambda which: f"No {which + ' ' if which else ''}text files found in directory {directory}. "
                      "Allowed format: .txt")


def paths_and_labels_to_dataset(file_paths, labels, label_mode, num_classes, max_length, batch_size,
                                shuffle=False, seed=None):
    """A ``Dataset`` of ``texts`` or ``(texts, labels)`` for these files, read batch by batch."""
    paths = list(file_paths)
    encoded = None if label_mode is None else dataset_utils.encode_labels(labels, label_mode, num_classes)

    def fetch(idx):
        texts = np.empty(len(idx), dtype=object)
        texts[:] = [read_text_file(paths[i], max_length) for i in idx]
        return texts if encoded is None else (texts, encoded[idx])

    ds = dataset_utils.dataset_from_rows(len(paths), fetch, batch_size, shuffle, seed)
    ds.file_paths = paths
    return ds
