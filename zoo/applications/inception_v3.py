"""``keras.applications.inception_v3``: ``InceptionV3``, ``preprocess_input`` (Keras's "tf" mode: [-1, 1])
and ``decode_predictions``."""
from ..models.inception_v3 import InceptionV3
from .imagenet_utils import decode_predictions
from .resnet_v2 import preprocess_input

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]
