"""EfficientNetV2 B0-B3, S, M, L with ``keras.applications``' layer names, creation order and
defaults, so Keras's published legacy ``.h5`` files load by layer name.

The graph takes RGB pixels in [0, 255] (``include_preprocessing=True``, Keras's default): the
B variants rescale by 1/255 and normalise with the ImageNet mean/variance (a ``Normalization``
with fixed statistics, no weights), S/M/L map to [-1, 1] (``Rescaling(1/128, offset=-1)``). The
early stages are fused MBConv blocks (one full convolution instead of expand + depthwise), the
later ones MBConv with squeeze-excitation; identity shortcuts carry Keras's drop-path
``Dropout(noise_shape=(None, 1, 1, 1))`` (``<block>drop``, the identity at inference).
Batch norms use momentum 0.9 and epsilon 1e-3; "same" padding throughout (TensorFlow's).
"""
from __future__ import annotations

import math

from core import layers as L

from ..registry import register_model
from .mobilenet import build_application, check_weights_arg
from .resnet import classifier_top, image_input, load_keras_h5, obtain_input_shape

_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}
BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (fused, kernel, repeats, filters in, filters out, expansion, stride, squeeze-excite ratio) per stage
_B = ((1, 3, 1, 32, 16, 1, 1, 0.0), (1, 3, 2, 16, 32, 4, 2, 0.0), (1, 3, 2, 32, 48, 4, 2, 0.0),
      (0, 3, 3, 48, 96, 4, 2, 0.25), (0, 3, 5, 96, 112, 6, 1, 0.25), (0, 3, 8, 112, 192, 6, 2, 0.25))
BLOCKS_ARGS = {
    "b": _B,
    "s": ((1, 3, 2, 24, 24, 1, 1, 0.0), (1, 3, 4, 24, 48, 4, 2, 0.0), (1, 3, 4, 48, 64, 4, 2, 0.0),
          (0, 3, 6, 64, 128, 4, 2, 0.25), (0, 3, 9, 128, 160, 6, 1, 0.25), (0, 3, 15, 160, 256, 6, 2, 0.25)),
    "m": ((1, 3, 3, 24, 24, 1, 1, 0.0), (1, 3, 5, 24, 48, 4, 2, 0.0), (1, 3, 5, 48, 80, 4, 2, 0.0),
          (0, 3, 7, 80, 160, 4, 2, 0.25), (0, 3, 14, 160, 176, 6, 1, 0.25), (0, 3, 18, 176, 304, 6, 2, 0.25),
          (0, 3, 5, 304, 512, 6, 1, 0.25)),
    "l": ((1, 3, 4, 32, 32, 1, 1, 0.0), (1, 3, 7, 32, 64, 4, 2, 0.0), (1, 3, 7, 64, 96, 4, 2, 0.0),
          (0, 3, 10, 96, 192, 4, 2, 0.25), (0, 3, 19, 192, 224, 6, 1, 0.25), (0, 3, 25, 224, 384, 6, 2, 0.25),
          (0, 3, 7, 384, 640, 6, 1, 0.25)),
}
# variant -> (width, depth, default size, blocks); dropout 0.2 and drop-connect 0.2 for all
VARIANTS = {"b0": (1.0, 1.0, 224, "b"), "b1": (1.0, 1.1, 240, "b"), "b2": (1.1, 1.2, 260, "b"),
            "b3": (1.2, 1.4, 300, "b"), "s": (1.0, 1.0, 384, "s"), "m": (1.0, 1.0, 480, "m"),
            "l": (1.0, 1.0, 480, "l")}
_CTOR = {"b0": "B0", "b1": "B1", "b2": "B2", "b3": "B3", "s": "S", "m": "M", "l": "L"}


def round_filters(filters, width, divisor=8, min_depth=8):
    """EfficientNetV2's channel rounding: nearest multiple of ``divisor`` of ``filters * width``
    (no 10% floor, unlike V1's), at least ``min_depth``."""
    filters *= width
    return int(max(min_depth, int(filters + divisor / 2) // divisor * divisor))


def _bn(name):
    return L.BatchNormalization(axis=3, momentum=0.9, name=name)


def _squeeze_excite(x, filters_in, filters, se_ratio, activation, name):
    se = L.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = L.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    se = L.Conv2D(max(1, int(filters_in * se_ratio)), 1, padding="same", activation=activation,
                  name=f"{name}se_reduce")(se)
    se = L.Conv2D(filters, 1, padding="same", activation="sigmoid", name=f"{name}se_expand")(se)
    return L.Multiply(name=f"{name}se_excite")([x, se])


def _shortcut(x, inputs, filters_in, filters_out, strides, drop_rate, name):
    if strides == 1 and filters_in == filters_out:
        if drop_rate:
            x = L.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = L.Add(name=f"{name}add")([x, inputs])
    return x


def _mbconv(inputs, filters_in, filters_out, expand, kernel, strides, se_ratio, activation, drop_rate, name):
    filters = filters_in * expand
    x = inputs
    if expand != 1:
        x = L.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{name}expand_conv")(x)
        x = _bn(f"{name}expand_bn")(x)
        x = L.Activation(activation, name=f"{name}expand_activation")(x)
    x = L.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False, name=f"{name}dwconv2")(x)
    x = _bn(f"{name}bn")(x)
    x = L.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        x = _squeeze_excite(x, filters_in, filters, se_ratio, activation, name)
    x = L.Conv2D(filters_out, 1, padding="same", use_bias=False, name=f"{name}project_conv")(x)
    x = _bn(f"{name}project_bn")(x)
    return _shortcut(x, inputs, filters_in, filters_out, strides, drop_rate, name)


def _fused_mbconv(inputs, filters_in, filters_out, expand, kernel, strides, se_ratio, activation, drop_rate, name):
    filters = filters_in * expand
    x = inputs
    if expand != 1:
        x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}expand_conv")(x)
        x = _bn(f"{name}expand_bn")(x)
        x = L.Activation(activation, name=f"{name}expand_activation")(x)
    if 0 < se_ratio <= 1:
        x = _squeeze_excite(x, filters_in, filters, se_ratio, activation, name)
    x = L.Conv2D(filters_out, 1 if expand != 1 else kernel, strides=1 if expand != 1 else strides, padding="same",
                 use_bias=False, name=f"{name}project_conv")(x)
    x = _bn(f"{name}project_bn")(x)
    if expand == 1:
        x = L.Activation(activation, name=f"{name}project_activation")(x)
    return _shortcut(x, inputs, filters_in, filters_out, strides, drop_rate, name)


def _efficientnet_v2(registry_name, variant, num_classes, input_shape, include_top, pooling, classifier_activation,
                     input_tensor, model_name, include_preprocessing=True, dropout_rate=0.2, drop_connect_rate=0.2,
                     activation="swish"):
    width, depth, default_size, blocks = VARIANTS[variant]
    default = (default_size, default_size, 3) if include_top else (None, None, 3)
    img, inputs = image_input(input_tensor, input_shape, default)
    if any(d is not None and d < 32 for d in img.shape[1:3]):
        raise ValueError(f"Input size must be at least 32x32; Received: input_shape={tuple(img.shape[1:])}")
    x = img
    if include_preprocessing:
        if variant.startswith("b") and img.shape[-1] == 3:
            x = L.Rescaling(1.0 / 255)(x)
            x = L.Normalization(axis=3, mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD])(x)
        else:
            x = L.Rescaling(1.0 / 128.0, offset=-1)(x)
    stages = BLOCKS_ARGS[blocks]
    x = L.Conv2D(round_filters(stages[0][3], width), 3, strides=2, padding="same", use_bias=False,
                 name="stem_conv")(x)
    x = _bn("stem_bn")(x)
    x = L.Activation(activation, name="stem_activation")(x)
    total, b = float(sum(s[2] for s in stages)), 0
    for i, (fused, kernel, repeats, f_in, f_out, expand, stride, se) in enumerate(stages):
        f_in, f_out = round_filters(f_in, width), round_filters(f_out, width)
        block = _fused_mbconv if fused else _mbconv
        for j in range(int(math.ceil(depth * repeats))):
            x = block(x, f_in if j == 0 else f_out, f_out, expand, kernel, stride if j == 0 else 1, se, activation,
                      drop_connect_rate * b / total, f"block{i + 1}{chr(j + 97)}_")
            b += 1
    x = L.Conv2D(round_filters(1280, width), 1, padding="same", use_bias=False, name="top_conv")(x)
    x = _bn("top_bn")(x)
    x = L.Activation(activation, name="top_activation")(x)

    def features(t):
        t = L.GlobalAveragePooling2D(name="avg_pool")(t)
        return L.Dropout(dropout_rate, name="top_dropout")(t) if dropout_rate > 0 else t

    return classifier_top(model_name or f"efficientnetv2-{variant}", x, inputs, features, include_top, pooling,
                          num_classes, classifier_activation, "predictions", registry_name)


def _register(variant):
    key = f"efficientnet_v2_{variant}"

    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None, include_preprocessing=True, dropout_rate=0.2,
                drop_connect_rate=0.2):
        return _efficientnet_v2(key, variant, num_classes, input_shape, include_top, pooling, classifier_activation,
                                input_tensor, model_name, include_preprocessing, dropout_rate, drop_connect_rate)

    builder.__name__ = builder.__qualname__ = key
    builder.__doc__ = (f"EfficientNetV2-{_CTOR[variant]} (keras.applications layout; {VARIANTS[variant][2]}px "
                       "default); takes RGB pixels in [0, 255] (in-graph preprocessing).")
    register_model(key, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


(efficientnet_v2_b0, efficientnet_v2_b1, efficientnet_v2_b2, efficientnet_v2_b3, efficientnet_v2_s,
 efficientnet_v2_m, efficientnet_v2_l) = (_register(v) for v in VARIANTS)


def _constructor(variant):
    def ctor(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", include_preprocessing=True, name=f"efficientnetv2-{variant}"):
        check_weights_arg(weights)
        if input_tensor is None:
            input_shape = obtain_input_shape(input_shape, VARIANTS[variant][2], 32, include_top, weights)
        return build_application(f"efficientnet_v2_{variant}", weights, include_top, classes, input_shape,
                                 input_tensor, pooling, classifier_activation, name,
                                 include_preprocessing=include_preprocessing)

    ctor.__name__ = ctor.__qualname__ = f"EfficientNetV2{_CTOR[variant]}"
    ctor.__doc__ = (f"``keras.applications.EfficientNetV2{_CTOR[variant]}``: the same arguments, checks and layer "
                    "names; takes RGB pixels in [0, 255].")
    return ctor


(EfficientNetV2B0, EfficientNetV2B1, EfficientNetV2B2, EfficientNetV2B3, EfficientNetV2S, EfficientNetV2M,
 EfficientNetV2L) = (_constructor(v) for v in VARIANTS)

__all__ = [f"EfficientNetV2{c}" for c in _CTOR.values()] + [f"efficientnet_v2_{v}" for v in VARIANTS]
