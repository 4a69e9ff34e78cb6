"""The Keras saving API: ``load_model``, ``save_model``, ``load_weights``, ``save_weights``.

Model files are this project's HDF5 layout (architecture as a Keras 3 config, weights by layer
path, optimizer state, compile config, assets); ``load_model`` also reads Keras 2 full-model HDF5
files. Weight files: this project's, Keras legacy HDF5, Keras 3 ``.weights.h5``."""
from __future__ import annotations

import os

from .keras_h5 import detect_format
from .keras_model import load_keras_full_model
from .zoo_format import SavingError, load_weights_file, load_zoo_model
from .zoo_format import save_model as _save_zoo_model
from .zoo_format import save_weights as _save_zoo_weights

__all__ = ["load_model", "save_model", "load_weights", "save_weights"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved with ``model.save`` / ``save_model`` (architecture, weights, optimizer state,
    assets), or a Keras 2 full-model HDF5 file. Nothing in the file is executed; classes resolve
    through the object registry (or ``custom_objects``); Lambda layers need ``safe_mode=False``."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no such model file: {filepath}")
    fmt = detect_format(filepath)
    if fmt == "zoo_h5":
        return load_zoo_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if fmt == "keras_full_h5":
        return load_keras_full_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    raise SavingError(f"{filepath} is a {fmt!r} file, which holds weights but no model; build the model and "
                      "call model.load_weights(path)")


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Save ``model`` to one HDF5 file (written atomically); ``load_model`` reads it back."""
    _save_zoo_model(model, os.fspath(filepath), overwrite=overwrite, include_optimizer=include_optimizer)


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """Load weights into ``model`` (as ``model.load_weights``)."""
    load_weights_file(model, os.fspath(filepath), by_name=by_name, skip_mismatch=skip_mismatch)


def save_weights(model, filepath, overwrite=True):
    """Save ``model``'s weights by layer path (as ``model.save_weights``)."""
    _save_zoo_weights(model, os.fspath(filepath), overwrite=overwrite)
