"""Models: Sequential, Functional (``Model(inputs, outputs)``) and subclassed ``Model``."""
from .model import Model
from .functional import Functional
from .sequential import Sequential

__all__ = ["Model", "Functional", "Sequential"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved with ``model.save``: a Keras 3 ``.keras`` archive (written here or by Keras),
    this project's HDF5 file (whatever its extension: older ones were named ``.keras``), or a Keras 2
    full-model HDF5 file; the format is read from the content. Nothing in the file is executed;
    Lambda layers need ``safe_mode=False`` and their function in ``custom_objects``."""
    from ..saving.keras_h5 import detect_format
    from ..saving.zoo_format import SavingError, load_zoo_model

    import os

    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no such model file: {filepath}")
    fmt = detect_format(filepath)
    if fmt == "keras_archive":
        from ..saving.keras_archive import load_keras_archive

        return load_keras_archive(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if fmt == "zoo_h5":
        return load_zoo_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if fmt == "keras_full_h5":
        from ..saving.keras_model import load_keras_full_model

        return load_keras_full_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    raise SavingError(f"{filepath} is a {fmt!r} file, which holds weights but no model; build the model and "
                      "call model.load_weights(path)")


def model_from_json(json_string, custom_objects=None):
    """A model from ``model.to_json()`` output, Keras 3's or this project's (weights freshly
    initialized). A ``Lambda`` layer is refused: its function is code."""
    import json

    from ..saving.keras_archive import model_from_keras_config

    return model_from_keras_config(json.loads(json_string), custom_objects=custom_objects)


__all__ += ["load_model", "model_from_json"]
