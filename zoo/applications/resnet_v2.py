"""``keras.applications.resnet_v2``: ``ResNet50V2/101V2/152V2``, ``preprocess_input`` (Keras's "tf"
mode: [-1, 1]) and ``decode_predictions``."""
from ..models.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from .imagenet_utils import decode_predictions
from .imagenet_utils import preprocess_input as _preprocess_input


def preprocess_input(x, data_format=None):
    """RGB images in [0, 255] -> the ResNetV2 weights' input: scaled to [-1, 1]."""
    return _preprocess_input(x, data_format=data_format, mode="tf")


__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions"]
