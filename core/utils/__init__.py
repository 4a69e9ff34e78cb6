"""``keras.utils``: reproducibility, label encoding, the data utilities every tutorial uses
(``image_dataset_from_directory``, ``text_dataset_from_directory``, ``audio_dataset_from_directory``,
``timeseries_dataset_from_array``, ``pad_sequences``, ``PyDataset``, ``split_dataset``), image
files (``load_img``/``img_to_array``/``array_to_img``/``save_img``), ``get_file`` and ``Progbar``.
What the dataset utilities return is a ``core.data.Dataset`` that ``fit`` takes directly."""
from ..layers.base import clear_session
from ..object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                                   get_registered_object, register_keras_serializable)
from ..py_dataset import PyDataset, Sequence
from ..serialization_lib import deserialize_keras_object, serialize_keras_object
from .audio_dataset_utils import audio_dataset_from_directory
from .config import Config
from .data_adapter_utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from .dtype_utils import standardize_dtype
from .dataset_utils import split_dataset
from .file_utils import get_file
from .graph_utils import get_source_inputs, is_keras_tensor
from .image_dataset_utils import image_dataset_from_directory
from .image_utils import array_to_img, img_to_array, load_img, save_img
from .io_utils import disable_interactive_logging, enable_interactive_logging, is_interactive_logging_enabled
from .model_visualization import model_to_dot, plot_model
from .numerical_utils import normalize, to_categorical
from .progbar import Progbar
from .rng_utils import set_random_seed
from .sequence_utils import pad_sequences
from .text_dataset_utils import text_dataset_from_directory
from .timeseries_dataset_utils import timeseries_dataset_from_array

__all__ = ["set_random_seed", "clear_session", "to_categorical", "normalize", "pad_sequences",
           "image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array",
           "load_img", "img_to_array", "array_to_img", "save_img", "PyDataset", "Sequence", "split_dataset",
           "get_file", "Progbar", "pack_x_y_sample_weight", "unpack_x_y_sample_weight",
           "audio_dataset_from_directory", "Config", "standardize_dtype", "is_keras_tensor", "get_source_inputs",
           "enable_interactive_logging", "disable_interactive_logging", "is_interactive_logging_enabled",
           "plot_model", "model_to_dot"]
# keras.utils carries the object registry's API too (the same functions as core.saving's)
__all__ += ["register_keras_serializable", "get_custom_objects", "custom_object_scope", "CustomObjectScope",
            "get_registered_name", "get_registered_object", "serialize_keras_object", "deserialize_keras_object"]
