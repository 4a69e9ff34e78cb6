"""ConvNeXt Tiny/Small/Base/Large/XLarge with ``keras.applications``' layer names, nesting and
defaults, so Keras's published legacy ``.h5`` files load by layer name.

As Keras builds it: a ``Normalization`` with the ImageNet statistics on [0, 255] pixels
(``<name>_prestem_normalization``, ``include_preprocessing``), the stem and the three
downsampling blocks as nested ``Sequential`` models (``<name>_stem``,
``<name>_downsampling_block_<i>``), and blocks of 7x7 depthwise convolution (a ``Conv2D`` with
``groups`` = channels) -> ``LayerNormalization`` -> ``Dense`` x4 -> GELU -> ``Dense`` ->
``LayerScale`` -> drop-path (``StochasticDepth`` when ``drop_path_rate`` > 0, else a linear
``Activation`` named ``_identity``) added to the block input. Every layer name starts with the
model's name. The head: global average pooling -> ``LayerNormalization`` -> ``Dense``; without it,
the optional pooling is followed by a ``LayerNormalization`` (named ``layer_normalization``, as in
Keras's ``_notop`` files).
"""
from __future__ import annotations

import numpy as np

from core import layers as L
from core.models import Sequential

from ..classifier import ClassifierModel
from ..layers import LayerScale, StochasticDepth
from ..registry import register_model
from .mobilenet import build_application, check_weights_arg
from .resnet import image_input, load_keras_h5, obtain_input_shape, pooling_layer

_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}
BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
# variant -> (depths, projection dims); all 224px by default
VARIANTS = {"tiny": ((3, 3, 9, 3), (96, 192, 384, 768)), "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
            "base": ((3, 3, 27, 3), (128, 256, 512, 1024)), "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
            "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048))}
DEFAULT_SIZE = 224
LN_EPS = 1e-6


def _block(x, dim, drop_path_rate, layer_scale_init_value, name):
    inputs = x
    x = L.Conv2D(dim, 7, padding="same", groups=dim, name=f"{name}_depthwise_conv")(x)
    x = L.LayerNormalization(epsilon=LN_EPS, name=f"{name}_layernorm")(x)
    x = L.Dense(4 * dim, name=f"{name}_pointwise_conv_1")(x)
    x = L.Activation("gelu", name=f"{name}_gelu")(x)
    x = L.Dense(dim, name=f"{name}_pointwise_conv_2")(x)
    if layer_scale_init_value is not None:
        x = LayerScale(layer_scale_init_value, dim, name=f"{name}_layer_scale")(x)
    if drop_path_rate:
        x = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")(x)
    else:
        x = L.Activation("linear", name=f"{name}_identity")(x)
    return inputs + x


def _convnext(registry_name, variant, num_classes, input_shape, include_top, pooling, classifier_activation,
              input_tensor, model_name, include_preprocessing=True, drop_path_rate=0.0, layer_scale_init_value=1e-6):
    depths, dims = VARIANTS[variant]
    name = model_name or f"convnext_{variant}"
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{name}: pooling must be None, 'avg' or 'max', got {pooling!r}")
    default = (DEFAULT_SIZE, DEFAULT_SIZE, 3) if include_top else (None, None, 3)
    img, inputs = image_input(input_tensor, input_shape, default)
    if any(d is not None and d < 32 for d in img.shape[1:3]):
        raise ValueError(f"Input size must be at least 32x32; Received: input_shape={tuple(img.shape[1:])}")
    x = img
    if include_preprocessing and img.shape[-1] == 3:
        x = L.Normalization(mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
                            variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
                            name=f"{name}_prestem_normalization")(x)
    downsampling = [Sequential([L.Conv2D(dims[0], 4, strides=4, name=f"{name}_stem_conv"),
                                L.LayerNormalization(epsilon=LN_EPS, name=f"{name}_stem_layernorm")],
                               name=f"{name}_stem")]
    for i in range(3):
        downsampling.append(Sequential([L.LayerNormalization(epsilon=LN_EPS, name=f"{name}_downsampling_layernorm_{i}"),
                                        L.Conv2D(dims[i + 1], 2, strides=2, name=f"{name}_downsampling_conv_{i}")],
                                       name=f"{name}_downsampling_block_{i}"))
    rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    cur = 0
    for i in range(4):
        x = downsampling[i](x)
        for j in range(depths[i]):
            x = _block(x, dims[i], rates[cur + j], layer_scale_init_value, f"{name}_stage_{i}_block_{j}")
        cur += depths[i]
    if include_top:
        if not isinstance(num_classes, (int, np.integer)) or num_classes <= 0:
            raise ValueError(f"{name}: num_classes must be a positive integer with include_top=True, "
                             f"got {num_classes!r}")
        feats = L.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        feats = L.LayerNormalization(epsilon=LN_EPS, name=f"{name}_head_layernorm")(feats)
        head_name = f"{name}_head_dense"
        out = L.Dense(int(num_classes), activation=classifier_activation, name=head_name)(feats)
    else:
        if pooling is not None:
            x = pooling_layer(pooling, registry_name)(x)
        feats = out = L.LayerNormalization(epsilon=LN_EPS, name="layer_normalization")(x)
        head_name = None
        if pooling is None:
            feats = None
    model = ClassifierModel(inputs, out, features_tensor=feats, head_name=head_name, name=name,
                            classifier_activation=classifier_activation)
    model.registry_name = registry_name
    return model


def _register(variant):
    key = f"convnext_{variant}"

    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None, include_preprocessing=True, drop_path_rate=0.0,
                layer_scale_init_value=1e-6):
        return _convnext(key, variant, num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name, include_preprocessing, drop_path_rate, layer_scale_init_value)

    builder.__name__ = builder.__qualname__ = key
    builder.__doc__ = (f"ConvNeXt-{variant.capitalize()} (keras.applications layout, 224px default); takes RGB "
                       "pixels in [0, 255] (in-graph normalization); ``drop_path_rate`` > 0 adds stochastic "
                       "depth for fine-tuning.")
    register_model(key, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


convnext_tiny, convnext_small, convnext_base, convnext_large, convnext_xlarge = (_register(v) for v in VARIANTS)


def _constructor(variant):
    def ctor(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name=f"convnext_{variant}"):
        check_weights_arg(weights)
        if weights == "imagenet" and f"convnext_{variant}" not in name:
            raise ValueError(f'Model name "{name}" does not match weights variant "convnext_{variant}". When using '
                             'imagenet weights, model name must contain the weights variant (e.g., '
                             f'"convnext_{variant}").')
        if input_tensor is None:
            input_shape = obtain_input_shape(input_shape, DEFAULT_SIZE, 32, include_top, weights)
        return build_application(f"convnext_{variant}", weights, include_top, classes, input_shape, input_tensor,
                                 pooling, classifier_activation, name, include_preprocessing=include_preprocessing)

    ctor.__name__ = ctor.__qualname__ = f"ConvNeXt{variant.capitalize().replace('large', 'Large')}"
    ctor.__doc__ = (f"``keras.applications.{ctor.__name__}``: the same arguments, checks and layer names; takes "
                    "RGB pixels in [0, 255].")
    return ctor


ConvNeXtTiny, ConvNeXtSmall, ConvNeXtBase, ConvNeXtLarge, ConvNeXtXLarge = (_constructor(v) for v in VARIANTS)

__all__ = ["ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge",
           "convnext_tiny", "convnext_small", "convnext_base", "convnext_large", "convnext_xlarge"]
