"""``keras.preprocessing.text``: ``text_dataset_from_directory`` (Keras 3 keeps no tokenizer here;
use the ``TextVectorization`` layer)."""
from ..utils.text_dataset_utils import text_dataset_from_directory

__all__ = ["text_dataset_from_directory"]
