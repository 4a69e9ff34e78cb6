"""``keras.applications.xception``: ``Xception``, ``preprocess_input`` (Keras's "tf" mode: [-1, 1])
and ``decode_predictions``."""
from ..models.xception import Xception
from .imagenet_utils import decode_predictions
from .resnet_v2 import preprocess_input

__all__ = ["Xception", "preprocess_input", "decode_predictions"]
