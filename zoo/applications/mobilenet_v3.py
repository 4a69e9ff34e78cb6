"""``keras.applications.mobilenet_v3``: ``MobileNetV3Small``, ``MobileNetV3Large``, ``preprocess_input``
(the identity: these models rescale [0, 255] inputs in their graph) and ``decode_predictions``."""
from ..models.mobilenet import MobileNetV3Large, MobileNetV3Small
from .imagenet_utils import decode_predictions


def preprocess_input(x, data_format=None):
    """Returns ``x`` unchanged, as Keras does: the models' ``Rescaling`` layer maps [0, 255] to [-1, 1]."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"preprocess_input: data_format={data_format!r} is not supported (channels_last only)")
    return x


__all__ = ["MobileNetV3Small", "MobileNetV3Large", "preprocess_input", "decode_predictions"]
