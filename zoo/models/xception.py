"""Xception with ``keras.applications``' layer names, creation order and defaults. Keras leaves the
four strided shortcut convolutions and their batch norms unnamed, so its published legacy ``.h5``
files load by position, as Keras's ``load_weights`` reads them (``load_keras_h5_ordered``). Its
weights expect Keras's "tf" preprocessing (pixels scaled to [-1, 1]); 299x299 by default, at least
71x71.

Keras-style constructor: ``Xception(include_top=True, weights="imagenet", ...)``.
"""
from __future__ import annotations

from core import layers as L

from ..registry import register_model
from .mobilenet import keras_constructor
from .resnet import check_input_size, classifier_top, image_input, load_keras_h5_ordered

_KERAS_LOADERS = {"keras_h5": load_keras_h5_ordered, "keras_legacy_h5": load_keras_h5_ordered,
                  "keras_full_h5": load_keras_h5_ordered}
DEFAULT_SIZE, MIN_SIZE = 299, 71


def _bn(name=None):
    return L.BatchNormalization(axis=-1, name=name)   # Keras's defaults: epsilon 1e-3


def _sepconv_bn(x, filters, name):
    x = L.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return _bn(f"{name}_bn")(x)


def _shortcut(x, filters):
    """The unnamed strided 1x1 projection (``conv2d_N`` + ``batch_normalization_N`` in Keras)."""
    residual = L.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
    return _bn()(residual)


def _xception(registry_name, num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor,
              model_name):
    default = (DEFAULT_SIZE, DEFAULT_SIZE, 3) if include_top else (None, None, 3)
    img, inputs = image_input(input_tensor, input_shape, default)
    check_input_size(registry_name, img, MIN_SIZE)
    x = L.Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(img)
    x = _bn("block1_conv1_bn")(x)
    x = L.Activation("relu", name="block1_conv1_act")(x)
    x = L.Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = _bn("block1_conv2_bn")(x)
    x = L.Activation("relu", name="block1_conv2_act")(x)
    # entry flow: blocks 2-4 (block 2 starts without an activation)
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        residual = _shortcut(x, filters)
        if block > 2:
            x = L.Activation("relu", name=f"block{block}_sepconv1_act")(x)
        x = _sepconv_bn(x, filters, f"block{block}_sepconv1")
        x = L.Activation("relu", name=f"block{block}_sepconv2_act")(x)
        x = _sepconv_bn(x, filters, f"block{block}_sepconv2")
        x = L.MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
        x = L.Add()([x, residual])
    # middle flow: blocks 5-12
    for block in range(5, 13):
        residual = x
        for i in (1, 2, 3):
            x = L.Activation("relu", name=f"block{block}_sepconv{i}_act")(x)
            x = _sepconv_bn(x, 728, f"block{block}_sepconv{i}")
        x = L.Add()([x, residual])
    # exit flow
    residual = _shortcut(x, 1024)
    x = L.Activation("relu", name="block13_sepconv1_act")(x)
    x = _sepconv_bn(x, 728, "block13_sepconv1")
    x = L.Activation("relu", name="block13_sepconv2_act")(x)
    x = _sepconv_bn(x, 1024, "block13_sepconv2")
    x = L.MaxPooling2D(3, strides=2, padding="same", name="block13_pool")(x)
    x = L.Add()([x, residual])
    x = _sepconv_bn(x, 1536, "block14_sepconv1")
    x = L.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2")
    x = L.Activation("relu", name="block14_sepconv2_act")(x)
    return classifier_top(model_name or "xception", x, inputs, lambda t: L.GlobalAveragePooling2D(name="avg_pool")(t),
                          include_top, pooling, num_classes, classifier_activation, "predictions", registry_name)


@register_model("xception", loaders=_KERAS_LOADERS, default_num_classes=1000)
def xception(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
             input_tensor=None, model_name=None):
    """Xception (keras.applications layout; 299px default, 71px minimum; Keras's "tf" preprocessing)."""
    return _xception("xception", num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor,
                     model_name)


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="xception"):
    """``keras.applications.Xception``: the same arguments, checks and layer names."""
    return keras_constructor("xception", DEFAULT_SIZE, MIN_SIZE, weights, include_top, classes, input_shape,
                             input_tensor, pooling, classifier_activation, name)


__all__ = ["Xception", "xception"]
