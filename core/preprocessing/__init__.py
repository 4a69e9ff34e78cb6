"""``keras.preprocessing``: the dataset utilities and the ``image``, ``sequence`` and ``text``
submodules, as Keras 3 exposes them (the same functions as ``core.utils``)."""
from ..utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array
from . import image, sequence, text

__all__ = ["image", "sequence", "text", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
