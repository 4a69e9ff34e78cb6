"""``keras.applications.efficientnet``: ``EfficientNetB0`` ... ``EfficientNetB7``, ``preprocess_input``
(the identity: these models rescale and normalise [0, 255] inputs in their graph) and ``decode_predictions``."""
from ..models.efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3, EfficientNetB4,
                                   EfficientNetB5, EfficientNetB6, EfficientNetB7)
from .imagenet_utils import decode_predictions


def preprocess_input(x, data_format=None):
    """Returns ``x`` unchanged, as Keras does: the models take RGB pixels in [0, 255]."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"preprocess_input: data_format={data_format!r} is not supported (channels_last only)")
    return x


__all__ = [f"EfficientNetB{i}" for i in range(8)] + ["preprocess_input", "decode_predictions"]
