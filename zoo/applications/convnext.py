"""``keras.applications.convnext``: ``ConvNeXtTiny`` ... ``ConvNeXtXLarge``, ``preprocess_input`` (the
identity: these models normalise [0, 255] inputs in their graph), ``decode_predictions`` and Keras's
``LayerScale``/``StochasticDepth`` layers."""
from ..layers import LayerScale, StochasticDepth
from ..models.convnext import ConvNeXtBase, ConvNeXtLarge, ConvNeXtSmall, ConvNeXtTiny, ConvNeXtXLarge
from .efficientnet import preprocess_input
from .imagenet_utils import decode_predictions

__all__ = ["ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge", "preprocess_input",
           "decode_predictions", "LayerScale", "StochasticDepth"]
