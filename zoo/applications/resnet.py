"""``keras.applications.resnet``: ``ResNet50``, ``ResNet101``, ``ResNet152``, ``preprocess_input``
(Keras's "caffe" mode) and ``decode_predictions``."""
from ..models.resnet import ResNet50, ResNet101, ResNet152
from .imagenet_utils import decode_predictions
from .resnet50 import preprocess_input

__all__ = ["ResNet50", "ResNet101", "ResNet152", "preprocess_input", "decode_predictions"]
