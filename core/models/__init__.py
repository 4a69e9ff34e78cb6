"""Models: Sequential, Functional (``Model(inputs, outputs)``) and subclassed ``Model``."""
from .model import Model
from .functional import Functional
from .sequential import Sequential
from .cloning import clone_model
from .serialization import model_from_config
from ..object_registration import export_api as _export_api

# the names Keras writes in saved configs (a Functional model: module "keras.src.models.functional")
_export_api("keras", [Model, Sequential])
_export_api("keras.models", [Model, Sequential])
_export_api("keras.src.models.functional", [Functional])

__all__ = ["Model", "Functional", "Sequential", "clone_model", "model_from_config", "model_from_json",
           "load_model", "save_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """``core.saving.load_model`` (as ``keras.models.load_model``)."""
    from ..saving.api import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """A model (weights freshly initialized) from ``model.to_json()`` output, this project's or
    Keras's: Keras-written configs go through the Keras config reader (``core.saving``), which also
    takes what Keras records beyond the layer set (the mask op of ``Embedding(mask_zero=True)``,
    the ``training`` defaults of its nodes, keys of features at their defaults)."""
    import json

    from ..saving.keras_archive import model_from_keras_config

    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: not a JSON model config ({e})") from None
    return model_from_keras_config(config, custom_objects=custom_objects, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """``model.save(filepath)`` (as ``keras.models.save_model``)."""
    model.save(filepath, overwrite=overwrite, include_optimizer=include_optimizer)
