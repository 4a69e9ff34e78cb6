"""Inception v3 with ``keras.applications``' layer names, creation order and defaults. Keras names
only the ``mixed*`` concatenations and the head; its convolutions and batch norms (``scale=False``)
are automatic ``conv2d_N``/``batch_normalization_N``, so its published legacy ``.h5`` files load by
position, as Keras's ``load_weights`` reads them (``load_keras_h5_ordered``). Its weights expect
Keras's "tf" preprocessing (pixels scaled to [-1, 1]); 299x299 by default, at least 75x75.

Keras-style constructor: ``InceptionV3(include_top=True, weights="imagenet", ...)``.
"""
from __future__ import annotations

from core import layers as L

from ..registry import register_model
from .mobilenet import keras_constructor
from .resnet import check_input_size, classifier_top, image_input, load_keras_h5_ordered

_KERAS_LOADERS = {"keras_h5": load_keras_h5_ordered, "keras_legacy_h5": load_keras_h5_ordered,
                  "keras_full_h5": load_keras_h5_ordered}
DEFAULT_SIZE, MIN_SIZE = 299, 75


def conv2d_bn(x, filters, rows, cols, padding="same", strides=1, name=None):
    """Conv (no bias) - BN (no scale) - ReLU, unnamed unless ``name`` (``<name>_conv``/``_bn``/``name``)."""
    x = L.Conv2D(filters, (rows, cols), strides=strides, padding=padding, use_bias=False,
                 name=None if name is None else f"{name}_conv")(x)
    x = L.BatchNormalization(axis=3, scale=False, name=None if name is None else f"{name}_bn")(x)
    return L.Activation("relu", name=name)(x)


def _avg_branch(x, filters):
    return conv2d_bn(L.AveragePooling2D(3, strides=1, padding="same")(x), filters, 1, 1)


def _inception_v3(registry_name, num_classes, input_shape, include_top, pooling, classifier_activation,
                  input_tensor, model_name):
    default = (DEFAULT_SIZE, DEFAULT_SIZE, 3) if include_top else (None, None, 3)
    img, inputs = image_input(input_tensor, input_shape, default)
    check_input_size(registry_name, img, MIN_SIZE)
    x = conv2d_bn(img, 32, 3, 3, strides=2, padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = L.MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = L.MaxPooling2D(3, strides=2)(x)
    # mixed 0-2: 35x35 blocks
    for i, pool_filters in enumerate((32, 64, 64)):
        b1 = conv2d_bn(x, 64, 1, 1)
        b5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
        b3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
        x = L.Concatenate(axis=3, name=f"mixed{i}")([b1, b5, b3, _avg_branch(x, pool_filters)])
    # mixed 3: 17x17 reduction
    b3 = conv2d_bn(x, 384, 3, 3, strides=2, padding="valid")
    bd = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, strides=2, padding="valid")
    x = L.Concatenate(axis=3, name="mixed3")([b3, bd, L.MaxPooling2D(3, strides=2)(x)])
    # mixed 4-7: 17x17 blocks with factorised 7x7 convolutions
    for i, c in enumerate((128, 160, 160, 192)):
        b1 = conv2d_bn(x, 192, 1, 1)
        b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, c, 1, 1), c, 1, 7), 192, 7, 1)
        bd = conv2d_bn(x, c, 1, 1)
        for filters, rows, cols in ((c, 7, 1), (c, 1, 7), (c, 7, 1), (192, 1, 7)):
            bd = conv2d_bn(bd, filters, rows, cols)
        x = L.Concatenate(axis=3, name=f"mixed{4 + i}")([b1, b7, bd, _avg_branch(x, 192)])
    # mixed 8: 8x8 reduction
    b3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=2, padding="valid")
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = conv2d_bn(b7, 192, 3, 3, strides=2, padding="valid")
    x = L.Concatenate(axis=3, name="mixed8")([b3, b7, L.MaxPooling2D(3, strides=2)(x)])
    # mixed 9-10: 8x8 blocks with split 1x3/3x1 branches
    for i in range(2):
        b1 = conv2d_bn(x, 320, 1, 1)
        b3 = conv2d_bn(x, 384, 1, 1)
        b3 = L.Concatenate(axis=3, name=f"mixed9_{i}")([conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)])
        bd = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
        bd = L.Concatenate(axis=3)([conv2d_bn(bd, 384, 1, 3), conv2d_bn(bd, 384, 3, 1)])
        x = L.Concatenate(axis=3, name=f"mixed{9 + i}")([b1, b3, bd, _avg_branch(x, 192)])
    return classifier_top(model_name or "inception_v3", x, inputs,
                          lambda t: L.GlobalAveragePooling2D(name="avg_pool")(t), include_top, pooling, num_classes,
                          classifier_activation, "predictions", registry_name)


@register_model("inception_v3", loaders=_KERAS_LOADERS, default_num_classes=1000)
def inception_v3(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                 input_tensor=None, model_name=None):
    """Inception v3 (keras.applications layout; 299px default, 75px minimum; Keras's "tf" preprocessing)."""
    return _inception_v3("inception_v3", num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name)


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="inception_v3"):
    """``keras.applications.InceptionV3``: the same arguments, checks and layer names."""
    return keras_constructor("inception_v3", DEFAULT_SIZE, MIN_SIZE, weights, include_top, classes, input_shape,
                             input_tensor, pooling, classifier_activation, name)


__all__ = ["InceptionV3", "inception_v3"]
