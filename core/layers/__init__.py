"""Keras 3 layers: ``from core.layers import Dense, Conv2D, LSTM, ...``."""
from .base import KerasTensor, Layer, clear_session, register_serializable
from .core_layers import (ELU, Activation, Dense, Flatten, Identity, Input, InputLayer, Lambda, LeakyReLU, Permute,
                          ReLU, RepeatVector, Reshape, Softmax)
from .convolutional import (Conv1D, Conv2D, Conv2DTranspose, Convolution1D, Convolution2D, Convolution2DTranspose,
                            DepthwiseConv2D, SeparableConv2D, SeparableConvolution2D)
from .pooling import (AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalMaxPool1D, GlobalMaxPool2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPool1D, MaxPool2D, MaxPooling1D, MaxPooling2D)
from .reshaping import Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate,
                      dot, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization, LayerNormalization
from .regularization import (ActivityRegularization, AlphaDropout, Dropout, GaussianDropout, GaussianNoise,
                             SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
from .embedding import Embedding
from .preprocessing import Normalization, RandomCrop, RandomFlip, RandomRotation, Rescaling, Resizing
from .recurrent import SimpleRNNCell, LSTMCell, GRUCell, SimpleRNN, LSTM, GRU, Bidirectional
from .wrappers import TimeDistributed, Wrapper
from .attention import EinsumDense, MultiHeadAttention
from .masking import Masking
from .prelu import PReLU
from .group_normalization import GroupNormalization
from .unit_normalization import UnitNormalization
from .rms_normalization import RMSNormalization
from .convolutional_1d import (Conv1DTranspose, Convolution1DTranspose, DepthwiseConv1D, SeparableConv1D,
                               SeparableConvolution1D)
from .sequence_attention import AdditiveAttention, Attention
from .rnn import RNN, StackedRNNCells
from .convolutional_3d import Conv3D, Conv3DTranspose, Convolution3D, Convolution3DTranspose
from .pooling_3d import (AveragePooling3D, AvgPool3D, GlobalAveragePooling3D, GlobalAvgPool3D, GlobalMaxPool3D,
                         GlobalMaxPooling3D, MaxPool3D, MaxPooling3D)
from .reshaping_3d import Cropping3D, UpSampling3D, ZeroPadding3D
from .image_augmentation import CenterCrop, RandomBrightness, RandomContrast, RandomTranslation, RandomZoom
from .category_encoding import CategoryEncoding
from .discretization import Discretization
from .index_lookup import IntegerLookup, StringLookup
from .text_vectorization import TextVectorization
from .image_mixing import CutMix, MixUp, RandomErasing
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from .hashing import Hashing
from .adaptive_pooling import (AdaptiveAveragePooling1D, AdaptiveAveragePooling2D, AdaptiveAveragePooling3D,
                               AdaptiveMaxPooling1D, AdaptiveMaxPooling2D, AdaptiveMaxPooling3D)
from .base import build_sublayer, clone_initializer, deserialize_layer, own_scope, serialize_layer
from .input_spec import InputSpec


def serialize(layer) -> dict:
    """A layer's Keras config dict (``keras.layers.serialize``)."""
    return serialize_layer(layer)


def deserialize(config, custom_objects=None, safe_mode=True):
    """The layer a ``serialize`` output describes (``keras.layers.deserialize``)."""
    return deserialize_layer(config, custom_objects=custom_objects, safe_mode=safe_mode)

from ..object_registration import export_api as _export_api

# every layer class of this package under its Keras name ("keras.layers.Dense"), for saved configs
_export_api("keras.layers", {_n: _o for _n, _o in globals().items() if isinstance(_o, type) and issubclass(_o, Layer)})
