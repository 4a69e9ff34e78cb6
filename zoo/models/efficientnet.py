"""EfficientNet B0-B7 with ``keras.applications``' layer names, creation order and defaults, so
Keras's published legacy ``.h5`` files load by layer name.

The graph takes RGB pixels in [0, 255]: ``Rescaling(1/255)`` and a ``Normalization`` layer (whose
mean/variance come with the weights) are its first layers, as Keras builds them. For Keras's
ImageNet weights Keras adds one more ``Rescaling`` by ``1/sqrt(ImageNet std)`` (its files store
the std, not the variance, in the Normalization's variance); the zoo adds it exactly when Keras
does: for ``weights="imagenet"`` (builder argument ``imagenet_rescaling``). The blocks are
inverted residual blocks with swish, squeeze-excitation (``se_squeeze``/``se_reshape``/
``se_reduce``/``se_expand``/``se_excite``) and, on identity shortcuts, Keras's drop-path
``Dropout(noise_shape=(None, 1, 1, 1))`` layers (``<block>drop``; the identity at inference).
"""
from __future__ import annotations

import math

from core import layers as L

from ..registry import register_model
from .mobilenet import build_application, check_weights_arg, correct_pad, make_divisible
from .resnet import classifier_top, image_input, load_keras_h5, obtain_input_shape

_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)
BASE_URL = "https://storage.googleapis.com/keras-applications/"

# (kernel, repeats, filters in, filters out, expansion, stride, squeeze-excite ratio) of the 7 stages
BLOCKS_ARGS = ((3, 1, 32, 16, 1, 1, 0.25), (3, 2, 16, 24, 6, 2, 0.25), (5, 2, 24, 40, 6, 2, 0.25),
               (3, 3, 40, 80, 6, 2, 0.25), (5, 3, 80, 112, 6, 1, 0.25), (5, 4, 112, 192, 6, 2, 0.25),
               (3, 1, 192, 320, 6, 1, 0.25))
# width, depth, default size, dropout of B0..B7
VARIANTS = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 300, 0.3),
            4: (1.4, 1.8, 380, 0.4), 5: (1.6, 2.2, 456, 0.4), 6: (1.8, 2.6, 528, 0.5), 7: (2.0, 3.1, 600, 0.5)}


def _bn(name):
    return L.BatchNormalization(axis=3, name=name)   # Keras's defaults: epsilon 1e-3, momentum 0.99


def _block(inputs, activation, drop_rate, name, filters_in, filters_out, kernel_size, strides, expand_ratio,
           se_ratio):
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = L.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{name}expand_conv")(x)
        x = _bn(f"{name}expand_bn")(x)
        x = L.Activation(activation, name=f"{name}expand_activation")(x)
    if strides == 2:
        x = L.ZeroPadding2D(padding=correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
    x = L.DepthwiseConv2D(kernel_size, strides=strides, padding="valid" if strides == 2 else "same", use_bias=False,
                          name=f"{name}dwconv")(x)
    x = _bn(f"{name}bn")(x)
    x = L.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        se = L.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se = L.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
        se = L.Conv2D(max(1, int(filters_in * se_ratio)), 1, padding="same", activation=activation,
                      name=f"{name}se_reduce")(se)
        se = L.Conv2D(filters, 1, padding="same", activation="sigmoid", name=f"{name}se_expand")(se)
        x = L.Multiply(name=f"{name}se_excite")([x, se])
    x = L.Conv2D(filters_out, 1, padding="same", use_bias=False, name=f"{name}project_conv")(x)
    x = _bn(f"{name}project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = L.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = L.Add(name=f"{name}add")([x, inputs])
    return x


def _efficientnet(registry_name, variant, num_classes, input_shape, include_top, pooling, classifier_activation,
                  input_tensor, model_name, imagenet_rescaling, drop_connect_rate=0.2, activation="swish"):
    width, depth, default_size, dropout_rate = VARIANTS[variant]
    default = (default_size, default_size, 3) if include_top else (None, None, 3)
    img, inputs = image_input(input_tensor, input_shape, default)
    if any(d is not None and d < 32 for d in img.shape[1:3]):
        raise ValueError(f"Input size must be at least 32x32; Received: input_shape={tuple(img.shape[1:])}")

    def round_filters(filters):
        return int(make_divisible(filters * width, 8))

    x = L.Rescaling(1.0 / 255.0)(img)
    x = L.Normalization(axis=3, name="normalization")(x)   # the name in Keras's published files
    if imagenet_rescaling:
        x = L.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB])(x)
    x = L.ZeroPadding2D(padding=correct_pad(x, 3), name="stem_conv_pad")(x)
    x = L.Conv2D(round_filters(32), 3, strides=2, padding="valid", use_bias=False, name="stem_conv")(x)
    x = _bn("stem_bn")(x)
    x = L.Activation(activation, name="stem_activation")(x)
    repeats = [int(math.ceil(depth * args[1])) for args in BLOCKS_ARGS]
    total, b = float(sum(repeats)), 0
    for i, ((kernel, _, f_in, f_out, expand, stride, se), n) in enumerate(zip(BLOCKS_ARGS, repeats)):
        f_in, f_out = round_filters(f_in), round_filters(f_out)
        for j in range(n):
            x = _block(x, activation, drop_connect_rate * b / total, f"block{i + 1}{chr(j + 97)}_",
                       f_in if j == 0 else f_out, f_out, kernel, stride if j == 0 else 1, expand, se)
            b += 1
    x = L.Conv2D(round_filters(1280), 1, padding="same", use_bias=False, name="top_conv")(x)
    x = _bn("top_bn")(x)
    x = L.Activation(activation, name="top_activation")(x)

    def features(t):
        t = L.GlobalAveragePooling2D(name="avg_pool")(t)
        return L.Dropout(dropout_rate, name="top_dropout")(t) if dropout_rate > 0 else t

    return classifier_top(model_name or f"efficientnetb{variant}", x, inputs, features, include_top, pooling,
                          num_classes, classifier_activation, "predictions", registry_name)


def _imagenet_kwargs(wentry):
    """Keras adds its ImageNet std rescaling for ``weights="imagenet"`` only (a manifest entry)."""
    tag = str(wentry.get("key", "")).split(".", 1)[-1]
    return {"imagenet_rescaling": tag in ("imagenet", "imagenet_notop") and wentry.get("format") == "keras_h5"
            and "urls" in wentry}


def _register(variant):
    key = f"efficientnet_b{variant}"

    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None, imagenet_rescaling=False):
        return _efficientnet(key, variant, num_classes, input_shape, include_top, pooling, classifier_activation,
                             input_tensor, model_name, imagenet_rescaling)

    builder.__name__ = builder.__qualname__ = key
    builder.__doc__ = (f"EfficientNet-B{variant} (keras.applications layout; {VARIANTS[variant][2]}px default); "
                       "takes RGB pixels in [0, 255] (in-graph rescaling and normalization).")
    register_model(key, loaders=_KERAS_LOADERS, default_num_classes=1000, weights_kwargs=_imagenet_kwargs)(builder)
    return builder


(efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4, efficientnet_b5,
 efficientnet_b6, efficientnet_b7) = (_register(v) for v in range(8))


def _keras_efficientnet(variant, include_top, weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation, name):
    check_weights_arg(weights)
    if input_tensor is None:
        input_shape = obtain_input_shape(input_shape, VARIANTS[variant][2], 32, include_top, weights)
    return build_application(f"efficientnet_b{variant}", weights, include_top, classes, input_shape, input_tensor,
                             pooling, classifier_activation, name)


def _constructor(variant):
    def ctor(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=f"efficientnetb{variant}"):
        return _keras_efficientnet(variant, include_top, weights, input_tensor, input_shape, pooling, classes,
                                   classifier_activation, name)

    ctor.__name__ = ctor.__qualname__ = f"EfficientNetB{variant}"
    ctor.__doc__ = (f"``keras.applications.EfficientNetB{variant}``: the same arguments, checks and layer names; "
                    "takes RGB pixels in [0, 255].")
    return ctor


(EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3, EfficientNetB4, EfficientNetB5, EfficientNetB6,
 EfficientNetB7) = (_constructor(v) for v in range(8))

__all__ = [f"EfficientNetB{v}" for v in range(8)] + [f"efficientnet_b{v}" for v in range(8)]
