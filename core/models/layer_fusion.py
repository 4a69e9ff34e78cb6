"""Layer pairs that ``Sequential`` and Functional models run as one op.

**Conv2D -> MaxPooling2D**, in training and inference.

``Conv2D`` (stride 1, no dilation or groups, linear or ReLU activation, no activity regularizer)
followed by ``MaxPooling2D`` with 2x2 windows, stride 2 and "valid" padding (or "same" on a map of
even height and width, where it pads nothing) runs as
``ops.conv_pool.conv2d_max_pool2d``: the convolution's whole output is never written (see that
module). Inside a Sequential stack the convolution's output has no other reader; in a Functional
graph the pair is fused where the pooling is the output's only consumer and the output is not a
model output (``conv_pool_pairs``). Layers that Winograd runs faster (wide 3x3) and large images
(one image's im2col over ``MAX_IMAGE_BYTES``, which the plain convolution runs in row bands) are
left alone. The pair is fused only where calling the layers one by one would do nothing else: both
layers exact instances of those classes (a subclass may override ``call``) whose ``call`` is not
replaced on the instance, the convolution built, an eager input on the CPU without a mask, and no
cast between the layers (mixed-precision policies).

**BatchNormalization -> ReLU** (a ``ReLU()`` with its defaults or ``Activation("relu")``) while
training, where the normalization uses the batch statistics: ``ops.batch_norm(...,
activation="relu")``, the ReLU applied to each block of the normalized output while it is in
cache and the backward masking the gradient as it reads it (no separate ReLU pass over the
activations either way). The same conditions as above (exact classes, no hook, built, no mask, no
cast), and a plain batch normalization: no renormalization, not synchronized across processes.
At inference the normalization is folded into a preceding convolution instead (inference_fusion).

Nothing is fused under ZOO_REFERENCE_OPS=1.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autodiff import Tensor
from .. import distribute
from ..layers.base import current_training
from ..layers.convolutional import Conv2D
from ..layers.normalization import BatchNormalization
from ..layers.pooling import MaxPooling2D
from ..ops.conv import _uses_winograd
from ..ops.conv_pool import MAX_IMAGE_BYTES, conv2d_max_pool2d, image_bytes
from ..ops.reference import ENABLED as REFERENCE_OPS
from .inference_fusion import _is_plain_relu, only_input, sole_consumers


def conv_pool_fusable(conv, pool, x) -> bool:
    """Whether ``pool(conv(x))`` may run as ``run_conv_pool(conv, pool, x)``."""
    if REFERENCE_OPS:  # ZOO_REFERENCE_OPS: each layer runs its own (reference) op
        return False
    if type(conv) is not Conv2D or type(pool) is not MaxPooling2D or type(x) is not Tensor:
        return False
    if not conv.built or getattr(x, "_keras_mask", None) is not None:
        return False
    if "call" in conv.__dict__ or "call" in pool.__dict__:  # a call replaced on the instance (a hook)
        return False
    if (conv.strides != (1, 1) or conv.dilation_rate != (1, 1) or conv.groups != 1
            or conv.activity_regularizer is not None or conv.activation not in (ops.relu, ops.linear)):
        return False
    if pool.pool_size != (2, 2) or pool.strides != (2, 2) or pool.padding not in ("valid", "same"):
        return False
    if x.ndim != 4 or x.dtype.kind != "f" or x.xp is not np:  # (blocks sized for a CPU's caches)
        return False
    dt = x.dtype
    for layer in (conv, pool):
        if layer.autocast and np.dtype(layer.compute_dtype) != dt:
            return False
    if conv.kernel.dtype != dt or (conv.bias is not None and conv.bias.dtype != dt):
        return False
    kh, kw = conv.kernel_size
    if _uses_winograd(kh, kw, 1, 1, 1, 1, x.shape[-1], conv.filters):
        return False
    # (the input's size bounds a stride-1 output's when the padding is at most 'same')
    if image_bytes(x.shape[1:3], (kh, kw, x.shape[-1], conv.filters), dt.itemsize) > MAX_IMAGE_BYTES:
        return False
    # the pooled output must not be empty (else the layers' own errors apply)
    try:
        out = conv.compute_output_shape(tuple(x.shape))
    except ValueError:
        return False
    if out[1] is None or out[2] is None or out[1] < 2 or out[2] < 2:
        return False
    # 'same' 2x2 / 2 pooling of an even-sized map pads nothing: it is the 'valid' pooling
    return pool.padding == "valid" or (out[1] % 2 == 0 and out[2] % 2 == 0)


def run_conv_pool(conv, pool, x):
    """``pool(conv(x))`` as one op, with the per-call steps of ``Layer.__call__`` that apply."""
    conv._check_input(x)
    conv._check_call_input(x)
    conv._losses = []  # activity losses belong to the latest call (neither layer adds one)
    pool._losses = []
    return conv2d_max_pool2d(x, conv.kernel, conv.bias, padding=conv.padding,
                             activation="relu" if conv.activation is ops.relu else None)


def conv_pool_pairs(model) -> dict:
    """``{id(conv node): pool node}`` for the Functional ``model``'s Conv2D nodes whose output goes
    to a MaxPooling2D node alone (``conv_pool_fusable`` decides at each call)."""
    sole_consumer = sole_consumers(model)
    pairs = {}
    for node in model._nodes:
        if type(node.layer) is Conv2D and only_input(node) is not None:
            nxt = sole_consumer(node)
            if nxt is not None and type(nxt.layer) is MaxPooling2D:
                pairs[id(node)] = nxt
    return pairs


def _same_compute_dtype(layers, x) -> bool:
    """Whether every layer computes in x's dtype (else calling it would cast its input)."""
    return all(not layer.autocast or np.dtype(layer.compute_dtype) == x.dtype for layer in layers)


def bn_relu_fusable(bn, act, x) -> bool:
    """Whether ``act(bn(x))`` may run as ``run_bn_relu(bn, act, x)``: a training call (the
    batch statistics) of a plain batch normalization followed by a plain ReLU."""
    if REFERENCE_OPS:
        return False
    if type(bn) is not BatchNormalization or not _is_plain_relu(act) or type(x) is not Tensor:
        return False
    if not bn.built or not bn.trainable or current_training() is not True:
        return False
    if getattr(x, "_keras_mask", None) is not None or "call" in bn.__dict__ or "call" in act.__dict__:
        return False
    if bn.renorm or (bn.synchronized and distribute.distribution() is not None):
        return False
    if getattr(bn, "activity_regularizer", None) is not None or getattr(act, "activity_regularizer", None) is not None:
        return False
    if x.dtype.kind != "f" or not _same_compute_dtype((bn, act), x):
        return False
    return all(w is None or w.dtype == x.dtype for w in (bn.gamma, bn.beta))


def run_bn_relu(bn, act, x):
    """``act(bn(x))`` as one op (training), with the per-call steps of ``Layer.__call__`` that apply."""
    bn._check(x)
    bn._losses = []
    act._losses = []
    return ops.batch_norm(x, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance, training=True,
                          momentum=bn.momentum, epsilon=bn.epsilon, axis=bn._channel_axis, activation="relu")


def bn_relu_pairs(model) -> dict:
    """``{id(batch-norm node): ReLU node}`` for the Functional ``model``'s BatchNormalization nodes
    whose output goes to a plain ReLU alone (``bn_relu_fusable`` decides at each call)."""
    sole_consumer = sole_consumers(model)
    pairs = {}
    for node in model._nodes:
        if type(node.layer) is BatchNormalization and only_input(node) is not None:
            nxt = sole_consumer(node)
            if nxt is not None and _is_plain_relu(nxt.layer):
                pairs[id(node)] = nxt
    return pairs
