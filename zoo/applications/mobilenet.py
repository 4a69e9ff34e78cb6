"""``keras.applications.mobilenet``: ``MobileNet``, ``preprocess_input`` (Keras's "tf" mode) and ``decode_predictions``."""
from ..models.mobilenet import MobileNet
from .imagenet_utils import decode_predictions
from .imagenet_utils import preprocess_input as _preprocess_input


def preprocess_input(x, data_format=None):
    """RGB images in [0, 255] -> the MobileNet weights' input: scaled to [-1, 1]."""
    return _preprocess_input(x, data_format=data_format, mode="tf")


__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]
