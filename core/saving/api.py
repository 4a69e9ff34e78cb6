"""The Keras saving API: ``load_model``, ``save_model``, ``load_weights``, ``save_weights``.

Model files: Keras 3's ``.keras`` zip (read from Keras or written here, which Keras loads), this
project's HDF5 layout (``.zoo.h5``/``.h5``: architecture as a Keras 3 config, weights by layer
path, optimizer state, compile config, assets) and Keras 2 full-model HDF5 files; ``load_model``
reads the format from the content. Weight files: Keras 3 ``.weights.h5`` (read and written), this
project's, Keras legacy HDF5, and the weights inside a ``.keras`` archive."""
from __future__ import annotations

import os

from .. import distribute
from .keras_archive import load_keras_archive, save_keras_archive, write_keras3_weights
from .keras_h5 import detect_format
from .keras_model import load_keras_full_model
from .zoo_format import SavingError, load_weights_file, load_zoo_model
from .zoo_format import save_model as _save_zoo_model
from .zoo_format import save_weights as _save_zoo_weights

__all__ = ["load_model", "save_model", "load_weights", "save_weights"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved with ``model.save`` / ``save_model``: a Keras 3 ``.keras`` archive (written here
    or by Keras), this project's HDF5 file (whatever its extension: older ones were named ``.keras``)
    or a Keras 2 full-model HDF5 file. Nothing in the file is executed; classes resolve through the
    object registry (or ``custom_objects``); Lambda layers need ``safe_mode=False``."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no such model file: {filepath}")
    fmt = detect_format(filepath)
    if fmt == "keras_archive":
        return load_keras_archive(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if fmt == "zoo_h5":
        return load_zoo_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if fmt == "keras_full_h5":
        return load_keras_full_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    raise SavingError(f"{filepath} is a {fmt!r} file, which holds weights but no model; build the model and "
                      "call model.load_weights(path)")


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Save ``model`` to one file (written atomically), the format chosen by the extension:
    ``.keras`` Keras 3's zip (Keras loads it), ``.zoo.h5`` (any ``.h5``/``.hdf5``) this project's
    HDF5 format, which also holds subclassed models and ``assets``. Under data parallelism only
    rank 0 writes (the other ranks return at once: call ``core.distribute.barrier()`` before another
    rank reads the file)."""
    path = os.fspath(filepath)
    if not distribute.writes_files():
        return
    if path.endswith(".keras"):
        save_keras_archive(model, path, overwrite=overwrite, include_optimizer=include_optimizer)
    elif path.endswith((".h5", ".hdf5")):
        _save_zoo_model(model, path, overwrite=overwrite, include_optimizer=include_optimizer)
    else:
        raise ValueError(f"save_model: unknown extension in {path!r}: use '.keras' for Keras 3's format or "
                         "'.zoo.h5' for this project's HDF5 format")


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """Load weights into ``model`` (as ``model.load_weights``)."""
    load_weights_file(model, os.fspath(filepath), by_name=by_name, skip_mismatch=skip_mismatch)


def save_weights(model, filepath, overwrite=True):
    """Save ``model``'s weights, written atomically: ``.weights.h5`` in Keras 3's layout (with the
    optimizer's state, as Keras), any other ``.h5`` in this project's format (by layer path).
    Under data parallelism only rank 0 writes, as ``save_model``."""
    path = os.fspath(filepath)
    if not distribute.writes_files():
        return
    if path.endswith(".weights.h5"):
        if os.path.exists(path) and not overwrite:
            raise SavingError(f"{path} exists; pass overwrite=True to replace it")
        write_keras3_weights(model, path)
    else:
        _save_zoo_weights(model, path, overwrite=overwrite)
