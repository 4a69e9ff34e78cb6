"""Reading the weight files that exist in the wild, with NumPy and h5py only.

* PyTorch checkpoints (zip and legacy formats) through a restricted unpickler:
  :func:`load_torch_checkpoint`, :func:`state_dict_from_checkpoint`.
* safetensors: :func:`load_safetensors`, :func:`save_safetensors`, :func:`read_safetensors_metadata`.
* Keras HDF5 (legacy weights, Keras 2 full models, Keras 3 ``.weights.h5``):
  :func:`read_keras_legacy_weights`, :func:`read_keras_full_model`, :func:`read_keras3_weights`.
* Keras 3 ``.keras`` archives and ``.weights.h5`` files, both ways: :func:`save_keras_archive`,
  :func:`load_keras_archive`, :func:`read_keras_archive` (checked, untrusted input),
  :func:`write_keras3_weights`, :func:`keras_config` (a model's config in Keras's form).
* :func:`detect_format` names a file's layout from its content.

And Keras's saving API: :func:`load_model`, :func:`save_model`, :func:`load_weights`,
:func:`save_weights`, and the object registry (:func:`register_keras_serializable`,
:func:`get_custom_objects`, :class:`CustomObjectScope`, :func:`serialize_keras_object`, ...).
"""
from .errors import (CheckpointFormatError, KerasH5FormatError, SafetensorsFormatError,
                     UnknownFormatError, UnsafeCheckpointError, UnsafeWeightFileError, WeightFileError)
from .keras_h5 import (KerasFullModel, detect_format, read_keras3_object_names, read_keras3_weights,
                       read_keras_full_model, read_keras_legacy_weights, read_keras_optimizer_weights)
from .keras_archive import (KerasArchiveError, keras_config, load_keras_archive, read_keras_archive,
                            save_keras_archive, write_keras3_weights)
from .safetensors import (atomic_write, load_safetensors, read_safetensors_header,
                          read_safetensors_metadata, save_safetensors)
from .torch_checkpoint import load_torch_checkpoint, state_dict_from_checkpoint
from ..layers.base import register_serializable
from ..object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                                   get_registered_object, register_keras_serializable)
from ..serialization_lib import deserialize_keras_object, enable_unsafe_deserialization, serialize_keras_object
from .api import load_model, load_weights, save_model, save_weights

__all__ = [
    "load_model", "save_model", "load_weights", "save_weights",
    "register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
    "serialize_keras_object", "deserialize_keras_object", "get_registered_name", "get_registered_object",
    "enable_unsafe_deserialization",
    "register_serializable",
    "load_torch_checkpoint", "state_dict_from_checkpoint",
    "load_safetensors", "save_safetensors", "read_safetensors_metadata", "read_safetensors_header",
    "atomic_write",
    "read_keras_legacy_weights", "read_keras3_weights", "read_keras3_object_names",
    "read_keras_full_model", "read_keras_optimizer_weights", "KerasFullModel", "detect_format",
    "WeightFileError", "CheckpointFormatError", "UnsafeCheckpointError", "SafetensorsFormatError",
    "KerasH5FormatError", "UnknownFormatError", "UnsafeWeightFileError",
    "save_keras_archive", "load_keras_archive", "read_keras_archive", "write_keras3_weights", "keras_config",
    "KerasArchiveError",
]
