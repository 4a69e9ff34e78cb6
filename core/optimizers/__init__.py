"""Optimizers with Keras 3 semantics (``keras.optimizers``), updating parameters in place.

One module per optimizer; the base class (``base_optimizer.py``) is built from its concerns:
learning rate (``learning_rate.py``), slots and flat buffers (``slots.py``, ``flat_buffers.py``),
state I/O (``state_io.py``), weight decay, clipping and EMA. Schedules live in
``core.optimizers.schedules`` (``core.schedules`` is the same module).
"""
from __future__ import annotations

from ..object_registration import export_api, get_custom_objects, register_keras_serializable
from ..serialization_lib import deserialize_keras_object, serialize_keras_object
from . import schedules
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .base_optimizer import Optimizer
from .clipping import clip_by_global_norm, global_norm
from .ftrl import Ftrl
from .lamb import Lamb
from .lion import Lion
from .loss_scale_optimizer import LossScaleOptimizer
from .multi_optimizer import MultiOptimizer, OptimizerMap
from .muon import Muon
from .nadam import Nadam
from .rmsprop import RMSprop
from .schedule_free_adamw import ScheduleFreeAdamW
from .schedules import LearningRateSchedule
from .sgd import SGD

# ==================================================================================== lookup
_OPTIMIZERS = {c.__name__: c for c in (Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Nadam, Adamax, Lion,
                                        Lamb, Adafactor, Ftrl, LossScaleOptimizer, Muon, ScheduleFreeAdamW,
                                        MultiOptimizer, OptimizerMap)}
export_api("keras.optimizers", _OPTIMIZERS)
_BY_LOWER = {name.lower(): c for name, c in _OPTIMIZERS.items() if c is not Optimizer and c is not OptimizerMap}


def register_optimizer(cls):
    """Register a custom ``Optimizer`` subclass under ``"Custom>Name"`` (usable as a decorator;
    ``core.saving.register_keras_serializable`` does the same with a package name)."""
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise ValueError(f"register_optimizer expects an Optimizer subclass, received {cls!r}")
    return register_keras_serializable()(cls)


def _lookup(name, custom_objects=None):
    """An optimizer class by name: custom objects, registered names (also by their bare class name,
    case-insensitively) and the built-ins (case-insensitively)."""
    registered = {k: v for k, v in get_custom_objects().items() if isinstance(v, type) and issubclass(v, Optimizer)}
    candidates = {**registered, **{k.split(">", 1)[1]: v for k, v in registered.items()}, **(custom_objects or {})}
    cls = candidates.get(name) or _BY_LOWER.get(str(name).lower()) or \
        {k.lower(): v for k, v in candidates.items()}.get(str(name).lower())
    if cls is None:
        known = sorted(set(_BY_LOWER) | {k.lower() for k in candidates})
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {', '.join(known)}")
    return cls


def serialize(optimizer) -> dict:
    """Keras 3 form: ``{"module", "class_name", "config", "registered_name"}``."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"serialize expects an Optimizer, received {optimizer!r}")
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None) -> Optimizer:
    """An optimizer from ``serialize()`` output or a ``{"class_name", "config"}`` dict."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize expects a dict with 'class_name' and 'config', received {config!r}")
    registered = config.get("registered_name")
    if registered in (None, config["class_name"]) and config.get("module") in (None, "keras.optimizers") \
            and not (custom_objects and config["class_name"] in custom_objects):
        cls = _lookup(config["class_name"], custom_objects)  # Keras 2 files wrote "adam"-style names too
        return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)
    return deserialize_keras_object(config, custom_objects=custom_objects, namespaces=("keras.optimizers",))


def get(identifier, custom_objects=None) -> Optimizer:
    """An optimizer from an instance (returned as is), a name (``"adam"``, case-insensitive,
    Keras defaults) or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects=custom_objects)
    if isinstance(identifier, str):
        return _lookup(identifier, custom_objects)()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (expected an Optimizer, "
                     f"a name among {sorted(_BY_LOWER)}, or a config dict)")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Nadam", "Adamax", "Lion", "Lamb",
           "Adafactor", "Ftrl", "LossScaleOptimizer", "Muon", "ScheduleFreeAdamW", "MultiOptimizer",
           "OptimizerMap", "get", "serialize",
           "deserialize", "register_optimizer", "schedules", "LearningRateSchedule", "clip_by_global_norm",
           "global_norm"]
