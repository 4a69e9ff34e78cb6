"""``keras.applications.efficientnet_v2``: ``EfficientNetV2B0`` ... ``EfficientNetV2B3``,
``EfficientNetV2S``/``M``/``L``, ``preprocess_input`` (the identity: these models preprocess [0, 255]
inputs in their graph) and ``decode_predictions``."""
from ..models.efficientnet_v2 import (EfficientNetV2B0, EfficientNetV2B1, EfficientNetV2B2, EfficientNetV2B3,
                                      EfficientNetV2L, EfficientNetV2M, EfficientNetV2S)
from .efficientnet import preprocess_input
from .imagenet_utils import decode_predictions

__all__ = ["EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S",
           "EfficientNetV2M", "EfficientNetV2L", "preprocess_input", "decode_predictions"]
