"""DenseNet 121/169/201 with ``keras.applications``' layer names, creation order and defaults, so
Keras's published legacy ``.h5`` files load by layer name. Its weights expect Keras's "torch"
preprocessing ([0, 1], then the ImageNet mean/std).

Keras-style constructors: ``DenseNet121(include_top=True, weights="imagenet", ...)``,
``DenseNet169``, ``DenseNet201``.
"""
from __future__ import annotations

from core import layers as L

from ..registry import register_model
from .resnet import KERAS_BN_EPS, check_input_size, classifier_top, image_input, keras_application, load_keras_h5

_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}
BLOCKS = {"densenet121": (6, 12, 24, 16), "densenet169": (6, 12, 32, 32), "densenet201": (6, 12, 48, 32)}
GROWTH_RATE = 32


def _bn(name):
    return L.BatchNormalization(axis=3, epsilon=KERAS_BN_EPS, name=name)


def _conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4k) - BN-ReLU-3x3 conv (k), concatenated to the input."""
    y = _bn(f"{name}_0_bn")(x)
    y = L.Activation("relu", name=f"{name}_0_relu")(y)
    y = L.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = _bn(f"{name}_1_bn")(y)
    y = L.Activation("relu", name=f"{name}_1_relu")(y)
    y = L.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return L.Concatenate(axis=3, name=f"{name}_concat")([x, y])


def _transition(x, reduction, name):
    x = _bn(f"{name}_bn")(x)
    x = L.Activation("relu", name=f"{name}_relu")(x)
    x = L.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return L.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _densenet(arch, num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor, model_name):
    img, inputs = image_input(input_tensor, input_shape, (224, 224, 3) if include_top else (None, None, 3))
    check_input_size(arch, img)
    x = L.ZeroPadding2D(padding=((3, 3), (3, 3)))(img)
    x = L.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn("conv1_bn")(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1")(x)
    blocks = BLOCKS[arch]
    for stage, n in enumerate(blocks):
        for i in range(n):
            x = _conv_block(x, GROWTH_RATE, f"conv{stage + 2}_block{i + 1}")
        if stage < len(blocks) - 1:
            x = _transition(x, 0.5, f"pool{stage + 2}")
    x = _bn("bn")(x)
    x = L.Activation("relu", name="relu")(x)
    return classifier_top(model_name or arch, x, inputs, lambda t: L.GlobalAveragePooling2D(name="avg_pool")(t),
                          include_top, pooling, num_classes, classifier_activation, "predictions", arch)


def _register(arch):
    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None):
        return _densenet(arch, num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor,
                         model_name)

    builder.__name__ = builder.__qualname__ = arch
    builder.__doc__ = f"DenseNet-{arch[8:]} (keras.applications layout; Keras's \"torch\" preprocessing)."
    register_model(arch, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


densenet121, densenet169, densenet201 = (_register(a) for a in BLOCKS)


def _constructor(arch):
    def ctor(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=arch):
        return keras_application(arch, include_top, weights, input_tensor, input_shape, pooling, classes,
                                 classifier_activation, name)

    ctor.__name__ = ctor.__qualname__ = f"DenseNet{arch[8:]}"
    ctor.__doc__ = f"``keras.applications.DenseNet{arch[8:]}``: the same arguments, checks and layer names."
    return ctor


DenseNet121, DenseNet169, DenseNet201 = (_constructor(a) for a in BLOCKS)

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "densenet121", "densenet169", "densenet201"]
