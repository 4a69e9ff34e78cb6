"""ResNet v2 (pre-activation) 50/101/152 with ``keras.applications``' layer names, creation order and
defaults, so Keras's published legacy ``.h5`` files load by layer name. Its weights expect Keras's
"tf" preprocessing (pixels scaled to [-1, 1]).

Keras-style constructors: ``ResNet50V2(include_top=True, weights="imagenet", ...)``, ``ResNet101V2``,
``ResNet152V2``.
"""
from __future__ import annotations

from core import layers as L

from ..registry import register_model
from .mobilenet import keras_constructor
from .resnet import KERAS_BN_EPS, check_input_size, classifier_top, image_input, load_keras_h5

_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}
# blocks of the four stages
DEPTHS = {"resnet50_v2": (3, 4, 6, 3), "resnet101_v2": (3, 4, 23, 3), "resnet152_v2": (3, 8, 36, 3)}


def _bn(name):
    return L.BatchNormalization(axis=3, epsilon=KERAS_BN_EPS, name=name)


def _block(x, filters, stride=1, conv_shortcut=False, name=None):
    """Keras's ``residual_block_v2``: BN-ReLU shared by the shortcut projection and the bottleneck;
    a stride-2 identity shortcut is a 1x1 max pooling; the sum is not activated."""
    preact = _bn(f"{name}_preact_bn")(x)
    preact = L.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = L.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = L.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = L.Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn(f"{name}_1_bn")(x)
    x = L.Activation("relu", name=f"{name}_1_relu")(x)
    x = L.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = L.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = L.Activation("relu", name=f"{name}_2_relu")(x)
    x = L.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return L.Add(name=f"{name}_out")([shortcut, x])


def _stack(x, filters, blocks, stride1, name):
    """Keras's ``stack_residual_blocks_v2``: the stride sits in the stage's last block."""
    x = _block(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = _block(x, filters, name=f"{name}_block{i}")
    return _block(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _resnet_v2(arch, num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor,
               model_name):
    img, inputs = image_input(input_tensor, input_shape, (224, 224, 3) if include_top else (None, None, 3))
    check_input_size(arch, img)
    x = L.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img)
    x = L.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = L.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), DEPTHS[arch])):
        x = _stack(x, filters, blocks, 1 if stage == 3 else 2, f"conv{stage + 2}")
    x = _bn("post_bn")(x)
    x = L.Activation("relu", name="post_relu")(x)
    return classifier_top(model_name or arch.replace("_", ""), x, inputs,
                          lambda t: L.GlobalAveragePooling2D(name="avg_pool")(t), include_top, pooling, num_classes,
                          classifier_activation, "predictions", arch)


def _register(arch):
    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None):
        return _resnet_v2(arch, num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor,
                          model_name)

    builder.__name__ = builder.__qualname__ = arch
    builder.__doc__ = (f"ResNet-{arch[6:-3]} v2, pre-activation (keras.applications layout; Keras's \"tf\" "
                       "preprocessing).")
    register_model(arch, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


resnet50_v2, resnet101_v2, resnet152_v2 = (_register(a) for a in DEPTHS)


def _constructor(arch):
    keras_name = arch.replace("_", "")

    def ctor(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=keras_name):
        return keras_constructor(arch, 224, 32, weights, include_top, classes, input_shape, input_tensor, pooling,
                                 classifier_activation, name)

    ctor.__name__ = ctor.__qualname__ = f"ResNet{arch[6:-3]}V2"
    ctor.__doc__ = f"``keras.applications.ResNet{arch[6:-3]}V2``: the same arguments, checks and layer names."
    return ctor


ResNet50V2, ResNet101V2, ResNet152V2 = (_constructor(a) for a in DEPTHS)

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "resnet50_v2", "resnet101_v2", "resnet152_v2"]
