"""``keras.applications.inception_resnet_v2``: ``InceptionResNetV2``, ``preprocess_input`` (Keras's "tf" mode: [-1, 1])
and ``decode_predictions``."""
from ..models.inception_resnet_v2 import InceptionResNetV2
from .imagenet_utils import decode_predictions
from .resnet_v2 import preprocess_input

__all__ = ["InceptionResNetV2", "preprocess_input", "decode_predictions"]
