"""``keras.applications.vgg19``: ``VGG19``, ``preprocess_input`` (Keras's "caffe" mode) and ``decode_predictions``."""
from ..models.vgg import VGG19
from .imagenet_utils import decode_predictions
from .imagenet_utils import preprocess_input as _preprocess_input


def preprocess_input(x, data_format=None):
    """RGB images in [0, 255] -> the VGG19 weights' input: BGR minus the ImageNet mean."""
    return _preprocess_input(x, data_format=data_format, mode="caffe")


__all__ = ["VGG19", "preprocess_input", "decode_predictions"]
