"""``keras.applications.resnet50``: ``ResNet50``, ``preprocess_input`` (Keras's "caffe" mode) and ``decode_predictions``."""
from ..models.resnet import ResNet50
from .imagenet_utils import decode_predictions
from .imagenet_utils import preprocess_input as _preprocess_input


def preprocess_input(x, data_format=None):
    """RGB images in [0, 255] -> the ResNet50 weights' input: BGR minus the ImageNet mean."""
    return _preprocess_input(x, data_format=data_format, mode="caffe")


__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
