"""Indexing a directory of class folders, the training/validation split, label encoding and
``split_dataset`` (the shared parts of the ``*_dataset_from_directory`` utilities)."""
from __future__ import annotations

import os
import random
import stat

import numpy as np

from ..data import Dataset, _map_structure, _stack
from .io_utils import print_msg


def check_validation_split_arg(validation_split, subset, shuffle, seed):
    """Keras's argument rules for ``validation_split`` / ``subset``."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
                         "to make sure that there is no overlap between the training and validation subset.")


def check_label_arguments(labels, label_mode, class_names, kind):
    """Keras's checks of ``labels`` / ``label_mode`` / ``class_names``; returns ``(labels, label_mode)``
    with both None when either is (no labels)."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError("`labels` argument should be a list/tuple of integer labels, of the same size as the "
                             f"number of {kind} files in the target directory. If you wish to infer the labels from "
                             'the subdirectory names in the target directory, pass `labels="inferred"`. If you '
                             f"wish to get a dataset that only contains {kind} samples (no labels), pass "
                             f"`labels=None`. Received: labels={labels}")
        if class_names:
            raise ValueError(f'You can only pass `class_names` if `labels="inferred"`. Received: labels={labels}, '
                             f"and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode}")
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def check_binary_classes(label_mode, class_names):
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. '
                         f"Received: class_names={class_names}")


def check_format(format):
    if format != "tf":
        raise ValueError(f'`format` "{format}" is not supported: the result is a core.data.Dataset '
                         '(pass format="tf", the default)')


def datasets_for_subset(paths, labels, class_names, validation_split, subset, shuffle, verbose, make, none_found):
    """The dataset of ``subset`` (both for ``"both"``: training shuffled, validation not), made by
    ``make(paths, labels, shuffle)`` and given ``class_names``; ``none_found(which)`` is the error
    message when a part is empty."""
    parts = []
    for which in (("training", "validation") if subset == "both" else (subset,)):
        part_paths, part_labels = get_training_or_validation_split(paths, labels, validation_split, which, verbose)
        if not part_paths:
            raise ValueError(none_found(which if subset == "both" else None))
        ds = make(part_paths, part_labels, shuffle and which != "validation")
        ds.class_names = class_names
        parts.append(ds)
    return parts if subset == "both" else parts[0]


def _is_kind(path, follow_links, test):
    """``test(mode)`` of ``path`` (of the link itself unless ``follow_links``); False if it is gone."""
    try:
        st = os.stat(path) if follow_links else os.lstat(path)
    except OSError:
        return False
    return test(st.st_mode)


def _walk_files(directory, follow_links, formats):
    """``(root, fname)`` of the files under ``directory`` whose extension is in ``formats``, sorted
    by folder then name (as Keras lists them). Only regular files; symbolic links (to files or
    folders) are skipped unless ``follow_links``, and then each real folder is visited once."""
    seen = set()
    found = []
    for root, dirs, files in os.walk(directory, followlinks=follow_links):
        if follow_links:
            real = os.path.realpath(root)
            if real in seen:  # a link cycle or a second link to the same folder
                dirs[:] = []
                continue
            seen.add(real)
        for fname in files:
            if fname.lower().endswith(formats) and _is_kind(os.path.join(root, fname), follow_links, stat.S_ISREG):
                found.append((root, fname))
    found.sort(key=lambda rf: (rf[0], rf[1]))
    return found


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """``(file_paths, labels, class_names)`` of the files in ``directory`` (Keras's rules: with
    ``labels="inferred"`` one class per sub-folder, alphanumerically or in ``class_names``'
    order; with ``shuffle`` the files are shuffled once with ``np.random.RandomState(seed)``)."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"the directory {directory!r} does not exist or is not a directory")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if not d.startswith(".") and _is_kind(os.path.join(directory, d), follow_links, stat.S_ISDIR)]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument `class_names` cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument `class_names` cannot be specified "
                             "(the `class_names` will be the sorted list of labels).")
    class_names = subdirs
    filenames, label_list = [], []
    for index, subdir in enumerate(subdirs):
        sub = os.path.join(directory, subdir)
        dirname = os.path.basename(sub)
        for root, fname in _walk_files(sub, follow_links, formats):
            filenames.append(os.path.join(dirname, os.path.relpath(os.path.join(root, fname), sub)))
            label_list.append(index)

    if labels == "inferred":
        labels = np.asarray(label_list, dtype="int32")
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError("Expected the lengths of `labels` to match the number of files in the target directory. "
                             f"len(labels) is {len(labels)} while we found {len(filenames)} files in directory "
                             f"{directory}.")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        if labels is None:
            print_msg(f"Found {len(filenames)} files.")
        else:
            print_msg(f"Found {len(filenames)} files belonging to {len(class_names)} classes.")
    file_paths = [os.path.join(directory, fname) for fname in filenames]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        perm = np.random.RandomState(seed).permutation(len(file_paths))
        file_paths = [file_paths[i] for i in perm]
        if labels is not None:
            labels = labels[perm]
    return file_paths, labels, class_names


def get_training_or_validation_split(samples, labels, validation_split, subset, verbose=True):
    """The last ``int(validation_split * n)`` samples are the validation subset, the rest training."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    if subset == "training":
        if verbose:
            print_msg(f"Using {len(samples) - num_val} files for training.")
        samples = samples[:len(samples) - num_val]
        labels = None if labels is None else labels[:len(labels) - num_val]
    elif subset == "validation":
        if verbose:
            print_msg(f"Using {num_val} files for validation.")
        samples = samples[len(samples) - num_val:]
        labels = None if labels is None else labels[len(labels) - num_val:]
    else:
        raise ValueError(f'`subset` must be either "training" or "validation", received: {subset}')
    return samples, labels


def encode_labels(labels, label_mode, num_classes):
    """Integer labels as ``label_mode`` gives them: int32, one-hot float32, or float32 (n, 1)."""
    labels = np.asarray(labels)
    if label_mode == "int":
        return labels.astype("int32")
    if label_mode == "binary":
        return labels.astype("float32")[:, None]
    if label_mode == "categorical":
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f'label_mode="categorical" needs labels in [0, {num_classes}) (one per class), got '
                             f"labels from {labels.min()} to {labels.max()}; pass labels 0..{num_classes - 1}")
        out = np.zeros((len(labels), num_classes), dtype="float32")
        out[np.arange(len(labels)), labels.astype(np.int64)] = 1
        return out
    raise ValueError(f'label_mode must be "int", "categorical", "binary" or None, got {label_mode!r}')


def dataset_from_rows(n, fetch, batch_size, shuffle, seed):
    """A ``Dataset`` over rows ``fetch(indices)``, reshuffled every epoch when ``shuffle`` (seeded:
    the same sequence of epochs every run), batched unless ``batch_size`` is None."""
    ds = Dataset._from_rows(n, fetch)
    if shuffle:
        ds = ds.shuffle(max(n, 1), seed=seed)
    if batch_size is not None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        ds = ds.batch(int(batch_size))
    return ds


# ------------------------------------------------------------------------------- split_dataset
def _rescale_split_sizes(left_size, right_size, total):
    """Keras's rules for ``left_size`` / ``right_size`` (fractions or counts)."""
    for name, v in (("left_size", left_size), ("right_size", right_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))):
            raise TypeError(f"Invalid `{name}` type. Expected: int or float or None, received {type(v).__name__}")
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split sizes must be "
                         "non-zero.")
    for name, v in (("left_size", left_size), ("right_size", right_size)):
        if v is None:
            continue
        if isinstance(v, (int, np.integer)) and not 0 < v < total or \
                isinstance(v, (float, np.floating)) and not 0 < v < 1:
            raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float "
                             f"within the range `[0, 1]`. Received: {name}={v}")
    if isinstance(left_size, float) and isinstance(right_size, float) and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or "
                         "equal to 1.")
    left = None if left_size is None else (round(left_size * total) if isinstance(left_size, float)
                                           else int(left_size))
    right = None if right_size is None else (round(right_size * total) if isinstance(right_size, float)
                                             else int(right_size))
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the {total}. "
                         f"Received: left_size + right_size = {left + right} and total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and `right_size`={right}. "
                             f"Resulting {side} side dataset split will be empty. Adjust any of the "
                             "aforementioned parameters")
    return left, right


def _index(x, idx):
    if isinstance(x, tuple):
        return tuple(_index(v, idx) for v in x)
    if isinstance(x, list):
        return tuple(_index(v, idx) for v in x)  # as Keras: lists become tuples
    if isinstance(x, dict):
        return {k: _index(v, idx) for k, v in x.items()}
    return x[idx]


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Split arrays (an array, or a tuple/list/dict of arrays of one length) or a ``Dataset`` into
    two ``Dataset`` objects: ``left_size`` / ``right_size`` are fractions or counts (one may be
    None: the complement), the right part is the last ``right_size`` samples, ``shuffle``
    shuffles the samples first (Python's ``random.Random(seed)``, as Keras). A batched dataset is
    split by sample and both parts are batched with its batch size."""
    batch_size = None
    if isinstance(dataset, Dataset):
        if getattr(dataset, "_is_batched", False):
            batch_size = dataset._batch_size
            dataset = dataset.unbatch()
        samples = list(dataset)
        if not samples:
            raise ValueError("split_dataset: the dataset is empty")

        arrays = _stack(samples)
    else:
        arrays = dataset
    arrays = _map_structure(lambda a: np.asarray(getattr(a, "data", a)), arrays)
    leaves = []
    _map_structure(leaves.append, arrays)
    sizes = {len(a) for a in leaves}
    if len(sizes) != 1:
        raise ValueError(f"split_dataset: the arrays have different lengths {sorted(sizes)}")
    total = sizes.pop()
    left, right = _rescale_split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        random.Random(random.randint(0, int(1e6)) if seed is None else seed).shuffle(order)
    order = np.asarray(order, dtype=np.int64)
    left_ds = Dataset.from_tensor_slices(_index(arrays, order[:left]))
    right_ds = Dataset.from_tensor_slices(_index(arrays, order[total - right:]))
    if batch_size is not None:
        left_ds, right_ds = left_ds.batch(batch_size), right_ds.batch(batch_size)
    return left_ds, right_ds

