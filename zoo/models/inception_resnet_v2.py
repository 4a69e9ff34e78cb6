"""Inception-ResNet v2 with ``keras.applications``' layer names, creation order and defaults. Keras
leaves the stem's and the branches' convolutions unnamed (automatic ``conv2d_N``), so its published
legacy ``.h5`` files load by position, as Keras's ``load_weights`` reads them
(``load_keras_h5_ordered``). The residual sum ``x + scale * r`` is Keras's ``CustomScaleLayer``.
Its weights expect Keras's "tf" preprocessing (pixels scaled to [-1, 1]); 299x299 by default, at
least 75x75.

Keras-style constructor: ``InceptionResNetV2(include_top=True, weights="imagenet", ...)``.
"""
from __future__ import annotations

from core import layers as L
from core.layers.base import Layer, register_serializable

from ..registry import register_model
from .mobilenet import keras_constructor
from .resnet import check_input_size, classifier_top, image_input, load_keras_h5_ordered

_KERAS_LOADERS = {"keras_h5": load_keras_h5_ordered, "keras_legacy_h5": load_keras_h5_ordered,
                  "keras_full_h5": load_keras_h5_ordered}
DEFAULT_SIZE, MIN_SIZE = 299, 75


@register_serializable("zoo")
class CustomScaleLayer(Layer):
    """``inputs[0] + inputs[1] * scale``: the scaled residual sum of Keras's InceptionResNetV2 (the
    same class name, call and ``scale`` config)."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        x, residual = inputs
        return x + residual * self.scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def conv2d_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu", use_bias=False, name=None):
    """Conv - BN (``scale=False``, only without a bias) - activation, unnamed unless ``name``
    (``name``, ``<name>_bn``, ``<name>_ac``)."""
    x = L.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name)(x)
    if not use_bias:
        x = L.BatchNormalization(axis=3, scale=False, name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = L.Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


def _block(x, scale, block_type, block_idx, activation="relu"):
    """Keras's ``inception_resnet_block``: branches, ``<block>_mixed``, a 1x1 ``<block>_conv`` (with
    bias, no BN) back to the input's width, the scaled sum, ``<block>_ac``."""
    if block_type == "block35":
        branches = [conv2d_bn(x, 32, 1), conv2d_bn(conv2d_bn(x, 32, 1), 32, 3),
                    conv2d_bn(conv2d_bn(conv2d_bn(x, 32, 1), 48, 3), 64, 3)]
    elif block_type == "block17":
        branches = [conv2d_bn(x, 192, 1), conv2d_bn(conv2d_bn(conv2d_bn(x, 128, 1), 160, (1, 7)), 192, (7, 1))]
    else:  # block8
        branches = [conv2d_bn(x, 192, 1), conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1), 224, (1, 3)), 256, (3, 1))]
    name = f"{block_type}_{block_idx}"
    mixed = L.Concatenate(axis=3, name=f"{name}_mixed")(branches)
    up = conv2d_bn(mixed, x.shape[3], 1, activation=None, use_bias=True, name=f"{name}_conv")
    x = CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = L.Activation(activation, name=f"{name}_ac")(x)
    return x


def _inception_resnet_v2(registry_name, num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name):
    default = (DEFAULT_SIZE, DEFAULT_SIZE, 3) if include_top else (None, None, 3)
    img, inputs = image_input(input_tensor, input_shape, default)
    check_input_size(registry_name, img, MIN_SIZE)
    x = conv2d_bn(img, 32, 3, strides=2, padding="valid")
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = L.MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = L.MaxPooling2D(3, strides=2)(x)
    # mixed 5b (Inception-A), 10 x block35
    b0 = conv2d_bn(x, 96, 1)
    b1 = conv2d_bn(conv2d_bn(x, 48, 1), 64, 5)
    b2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1), 96, 3), 96, 3)
    bp = conv2d_bn(L.AveragePooling2D(3, strides=1, padding="same")(x), 64, 1)
    x = L.Concatenate(axis=3, name="mixed_5b")([b0, b1, b2, bp])
    for i in range(1, 11):
        x = _block(x, 0.17, "block35", i)
    # mixed 6a (Reduction-A), 20 x block17
    b0 = conv2d_bn(x, 384, 3, strides=2, padding="valid")
    b1 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 256, 3), 384, 3, strides=2, padding="valid")
    bp = L.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = L.Concatenate(axis=3, name="mixed_6a")([b0, b1, bp])
    for i in range(1, 21):
        x = _block(x, 0.1, "block17", i)
    # mixed 7a (Reduction-B), 10 x block8 (the last one linear, unscaled)
    b0 = conv2d_bn(conv2d_bn(x, 256, 1), 384, 3, strides=2, padding="valid")
    b1 = conv2d_bn(conv2d_bn(x, 256, 1), 288, 3, strides=2, padding="valid")
    b2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 288, 3), 320, 3, strides=2, padding="valid")
    bp = L.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = L.Concatenate(axis=3, name="mixed_7a")([b0, b1, b2, bp])
    for i in range(1, 10):
        x = _block(x, 0.2, "block8", i)
    x = _block(x, 1.0, "block8", 10, activation=None)
    x = conv2d_bn(x, 1536, 1, name="conv_7b")
    return classifier_top(model_name or "inception_resnet_v2", x, inputs,
                          lambda t: L.GlobalAveragePooling2D(name="avg_pool")(t), include_top, pooling, num_classes,
                          classifier_activation, "predictions", registry_name)


@register_model("inception_resnet_v2", loaders=_KERAS_LOADERS, default_num_classes=1000)
def inception_resnet_v2(num_classes=1000, input_shape=None, include_top=True, pooling=None,
                        classifier_activation="softmax", input_tensor=None, model_name=None):
    """Inception-ResNet v2 (keras.applications layout; 299px default, 75px minimum; Keras's "tf"
    preprocessing)."""
    return _inception_resnet_v2("inception_resnet_v2", num_classes, input_shape, include_top, pooling,
                                classifier_activation, input_tensor, model_name)


def InceptionResNetV2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                      classes=1000, classifier_activation="softmax", name="inception_resnet_v2"):
    """``keras.applications.InceptionResNetV2``: the same arguments, checks and layer names."""
    return keras_constructor("inception_resnet_v2", DEFAULT_SIZE, MIN_SIZE, weights, include_top, classes,
                             input_shape, input_tensor, pooling, classifier_activation, name)


__all__ = ["CustomScaleLayer", "InceptionResNetV2", "inception_resnet_v2"]
