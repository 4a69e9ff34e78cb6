"""Models: Sequential, Functional (``Model(inputs, outputs)``) and subclassed ``Model``."""
from .model import Model
from .functional import Functional
from .sequential import Sequential
from .cloning import clone_model
from .serialization import model_from_config, model_from_json
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


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """``model.save(filepath)`` (as ``keras.models.save_model``)."""
    model.save(filepath, overwrite=overwrite, include_optimizer=include_optimizer)
