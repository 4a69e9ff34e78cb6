"""Utilities: reproducibility and session state."""
from __future__ import annotations

import random as _pyrandom

import numpy as np

from . import random as zrandom
from .layers.base import clear_session
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                                  get_registered_object, register_keras_serializable)
from .serialization_lib import deserialize_keras_object, serialize_keras_object


def set_random_seed(seed: int) -> None:
    """Make initialisation, shuffling, dropout and augmentation repeatable."""
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed expects an int, got {type(seed).__name__}")
    _pyrandom.seed(int(seed))
    zrandom.set_seed(int(seed))


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch as ``fit`` hands it to ``train_step``: ``x``, ``(x,)``,
    ``(x, y)`` or ``(x, y, sample_weight)`` (a list counts as a tuple); missing parts are None."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     f"found a tuple of {len(data)} elements")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch tuple ``fit`` hands to ``train_step``: ``x`` alone (``(x,)`` when x is a list or
    tuple), ``(x, y)`` or ``(x, y, sample_weight)``."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer labels (as keras.utils.to_categorical)."""
    y = np.asarray(y, dtype="int64")
    shape = y.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    y = y.reshape(-1)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be non-negative, got {y.min()}")
    num_classes = int(num_classes or (y.max() + 1 if y.size else 0))
    if y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {y.max()} is out of range for num_classes={num_classes}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out.reshape(shape + (num_classes,))


# keras.utils carries the object registry's API too (the same functions as core.saving's)
_REGISTRY_API = ["register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
                 "get_registered_name", "get_registered_object", "serialize_keras_object", "deserialize_keras_object"]

__all__ = ["set_random_seed", "clear_session", "to_categorical", "plot_model", "model_to_dot", "pack_x_y_sample_weight",
           "unpack_x_y_sample_weight"] + _REGISTRY_API


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=True,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               **kwargs):
    """Draw the model's layer graph (``core.models.visualization.plot_model``: ``.dot`` without
    anything installed, ``.png``/``.svg``/``.pdf`` with Graphviz's ``dot`` program)."""
    from .models.visualization import plot_model as plot   # models sit above utils: imported on use

    return plot(model, to_file=to_file, show_shapes=show_shapes, show_dtype=show_dtype,
                show_layer_names=show_layer_names, rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                show_layer_activations=show_layer_activations, show_trainable=show_trainable, **kwargs)


def model_to_dot(model, **kwargs):
    """The model's layer graph as Graphviz DOT text (``core.models.visualization.model_to_dot``)."""
    from .models.visualization import model_to_dot as to_dot

    return to_dot(model, **kwargs)
