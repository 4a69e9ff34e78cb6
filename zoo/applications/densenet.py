"""``keras.applications.densenet``: ``DenseNet121/169/201``, ``preprocess_input`` (Keras's "torch" mode) and ``decode_predictions``."""
from ..models.densenet import DenseNet121, DenseNet169, DenseNet201
from .imagenet_utils import decode_predictions
from .imagenet_utils import preprocess_input as _preprocess_input


def preprocess_input(x, data_format=None):
    """RGB images in [0, 255] -> the DenseNet weights' input: [0, 1], minus the ImageNet mean, over its std."""
    return _preprocess_input(x, data_format=data_format, mode="torch")


__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input", "decode_predictions"]
