"""``keras.applications.nasnet``: ``NASNetMobile/NASNetLarge``, ``preprocess_input`` (Keras's "tf" mode: [-1, 1])
and ``decode_predictions``."""
from ..models.nasnet import NASNetLarge, NASNetMobile
from .imagenet_utils import decode_predictions
from .resnet_v2 import preprocess_input

__all__ = ["NASNetLarge", "NASNetMobile", "preprocess_input", "decode_predictions"]
