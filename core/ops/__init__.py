"""Differentiable ops on Tensors: ``from core import ops; ops.conv2d(x, kernel, ...)``.

Each op checks its arguments (errors name the op and the shapes), then runs a ``Function``
whose forward and backward are written against NumPy or CuPy, whichever holds the data.
"""
from .. import autodiff as _autodiff
from ._util import OpError
from .elementwise import (abs, add, cast, clip, div, exp, log, maximum, minimum, mul, neg, pow, sqrt,
                          square, sub, to_device, where)
from .reductions import argmax, argmin, max, mean, min, std, sum, var
from .shape import (broadcast_to, concatenate, expand_dims, flatten, getitem, pad, repeat, reshape, split,
                    squeeze, stack, swapaxes, tile, transpose)
from .linalg import matmul
from .activations import (elu, gelu, hard_sigmoid, hard_silu, hard_swish, leaky_relu, linear, log_softmax, relu,
                          relu6, selu, sigmoid, silu, softmax, softplus, swish, tanh)
from .conv import conv1d, conv2d, conv2d_transpose, depthwise_conv2d
from .pooling import (avg_pool1d, avg_pool2d, global_avg_pool1d, global_avg_pool2d, global_max_pool1d,
                      global_max_pool2d, max_pool1d, max_pool2d)
from .recurrent import gru, lstm, simple_rnn
from .attention import scaled_dot_product_attention
from .normalization import batch_norm, layer_norm
from .dropout import dropout
from .embedding import embedding
from .losses import (binary_crossentropy, categorical_crossentropy, cosine_similarity, huber, kl_divergence,
                     log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                     sparse_categorical_crossentropy)
from . import image

_autodiff._ops = __import__(__name__, fromlist=["*"])
