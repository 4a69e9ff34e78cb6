"""MobileNetV2 and MobileNetV3 (Small/Large) with ``keras.applications``' layer names, creation
order and defaults, so Keras's published legacy ``.h5`` files load by layer name.

* ``mobilenet_v2`` (``alpha`` width multiplier; registered width variants ``mobilenet_v2_035`` ...
  ``mobilenet_v2_140``): inverted residual blocks with ReLU6; its weights expect Keras's "tf"
  preprocessing ([-1, 1]).
* ``mobilenet_v3_small`` / ``mobilenet_v3_large`` (``alpha``, ``minimalistic``; registered
  variants ``_075`` and ``_minimalistic``): hard-swish, squeeze-excitation built from
  ``GlobalAveragePooling2D``/``Conv2D``/``ReLU``/``Activation("hard_sigmoid")``/``Multiply``, and the
  ``[0, 255] -> [-1, 1]`` ``Rescaling`` inside the graph (``include_preprocessing``), as Keras builds it.
  Their head is Keras's: pooled map -> 1x1 ``conv_2`` -> hard-swish -> ``Dropout`` -> 1x1 ``logits``
  convolution -> ``Flatten`` -> ``Activation`` named ``predictions``.

Keras-style constructors: ``MobileNetV2(input_shape=None, alpha=1.0, ...)``,
``MobileNetV3Small(...)``, ``MobileNetV3Large(...)``.
"""
from __future__ import annotations

import os
import warnings

from core import layers as L

from ..classifier import ClassifierModel
from ..registry import register_model
from .resnet import classifier_top, image_input, load_keras_h5, obtain_input_shape, validate_activation

_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}


def make_divisible(v, divisor=8, min_value=None):
    """The TF-slim channel rounding keras.applications uses: nearest multiple of ``divisor``, at
    least ``min_value``, never more than 10% below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def correct_pad(x, kernel_size):
    """Keras's ``imagenet_utils.correct_pad``: the ``ZeroPadding2D`` before a stride-2 ``valid``
    convolution (TF "same" padding; one less at the top/left for even sizes)."""
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    h, w = x.shape[1:3]
    adjust = (1, 1) if h is None else (1 - h % 2, 1 - w % 2)
    c = (k[0] // 2, k[1] // 2)
    return ((c[0] - adjust[0], c[0]), (c[1] - adjust[1], c[1]))


def _bn(name):
    return L.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=name)


def check_weights_arg(weights):
    if not (weights in ("imagenet", None) or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                         "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
                         f"Received: weights={weights}")


def build_application(registry_name, weights, include_top, classes, input_shape, input_tensor, pooling,
                      classifier_activation, name, **arch):
    """Build ``registry_name`` through :func:`zoo.create_model` the way a Keras constructor loads
    weights: ``"imagenet"`` reads the manifest's ``imagenet`` (or, without the top,
    ``imagenet_notop``) entry; a path loads that file; ``arch`` are the builder's architecture
    arguments (``alpha``...)."""
    from ..registry import create_model

    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f"Received classes={classes}")
    if include_top:
        validate_activation(classifier_activation, weights)
    kw = dict(include_top=include_top, pooling=pooling, classifier_activation=classifier_activation,
              input_tensor=input_tensor, model_name=name, input_shape=input_shape, **arch)
    if weights is None:
        return create_model(registry_name, num_classes=classes, **kw)
    if weights == "imagenet":
        return create_model(registry_name, weights="imagenet" if include_top else "imagenet_notop", **kw)
    return create_model(registry_name, weights=os.fspath(weights), num_classes=classes if include_top else None,
                        **kw)


def keras_constructor(registry_name, default_size, min_size, weights, include_top, classes, input_shape,
                      input_tensor, pooling, classifier_activation, name):
    """:func:`keras_application` for families with their own default and minimum sizes (Xception,
    InceptionV3, NASNet...): Keras's ``obtain_input_shape`` with those sizes, then
    :func:`build_application`."""
    check_weights_arg(weights)
    if input_tensor is None:
        input_shape = obtain_input_shape(input_shape, default_size, min_size, include_top, weights)
    return build_application(registry_name, weights, include_top, classes, input_shape, input_tensor, pooling,
                             classifier_activation, name)


# ============================================================================= MobileNet (v1)
V1_ALPHAS = (0.25, 0.5, 0.75, 1.0)
V1_SIZES = (128, 160, 192, 224)
V1_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
# (pointwise filters, stride) of depthwise-separable blocks 1..13
_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
              (512, 1), (1024, 2), (1024, 1))


def _mobilenet_v1(registry_name, alpha, depth_multiplier, dropout, num_classes, input_shape, include_top, pooling,
                  classifier_activation, input_tensor, model_name):
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"{registry_name}: alpha must be a positive number, got {alpha!r}")
    img, inputs = image_input(input_tensor, input_shape, (224, 224, 3) if include_top else (None, None, 3))
    x = L.Conv2D(int(32 * alpha), (3, 3), padding="same", use_bias=False, strides=(2, 2), name="conv1")(img)
    x = L.BatchNormalization(axis=-1, name="conv1_bn")(x)
    x = L.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, stride) in enumerate(_V1_BLOCKS, start=1):
        if stride != 1:
            x = L.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
        x = L.DepthwiseConv2D((3, 3), padding="same" if stride == 1 else "valid", depth_multiplier=depth_multiplier,
                              strides=stride, use_bias=False, name=f"conv_dw_{block_id}")(x)
        x = L.BatchNormalization(axis=-1, name=f"conv_dw_{block_id}_bn")(x)
        x = L.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
        x = L.Conv2D(int(filters * alpha), (1, 1), padding="same", use_bias=False, name=f"conv_pw_{block_id}")(x)
        x = L.BatchNormalization(axis=-1, name=f"conv_pw_{block_id}_bn")(x)
        x = L.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)
    rows = img.shape[1]
    name = model_name or f"mobilenet_{alpha:0.2f}_{rows if rows is not None else 224}"
    if include_top:
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"{name}: num_classes must be a positive integer with include_top=True, "
                             f"got {num_classes!r}")
        feats = L.GlobalAveragePooling2D(keepdims=True)(x)
        feats = L.Dropout(dropout, name="dropout")(feats)
        out = L.Conv2D(num_classes, (1, 1), padding="same", name="conv_preds")(feats)
        out = L.Reshape((num_classes,), name="reshape_2")(out)
        out = L.Activation(classifier_activation, name="predictions")(out)
        model = ClassifierModel(inputs, out, features_tensor=feats, head_name="conv_preds", name=name,
                                classifier_activation=classifier_activation)
        model.registry_name = registry_name
        return model
    return classifier_top(name, x, inputs, None, False, pooling, None, classifier_activation, None, registry_name)


def _v1_key(alpha):
    return "mobilenet" if alpha == 1.0 else f"mobilenet_{int(round(alpha * 100)):03d}"


def _register_v1(alpha):
    key = _v1_key(alpha)

    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None, alpha=alpha, depth_multiplier=1, dropout=1e-3):
        return _mobilenet_v1(key, alpha, depth_multiplier, dropout, num_classes, input_shape, include_top, pooling,
                             classifier_activation, input_tensor, model_name)

    builder.__name__ = builder.__qualname__ = key
    builder.__doc__ = f"MobileNet v1 (keras.applications layout), width multiplier alpha={alpha}."
    register_model(key, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


mobilenet_025, mobilenet_050, mobilenet_075, mobilenet = (_register_v1(a) for a in V1_ALPHAS)


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights="imagenet",
              input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax", name=None):
    """``keras.applications.MobileNet``: the same arguments, checks and layer names.

    Keras publishes no checksum for these weight files, so the manifest has no ``imagenet`` entry
    for them: ``weights="imagenet"`` raises, naming the file's URL; a downloaded copy loads with
    ``weights=<path>`` (Keras's "tf" preprocessing: ``mobilenet.preprocess_input``)."""
    check_weights_arg(weights)
    if input_tensor is None:
        default = 224
        if input_shape is not None:
            rows, cols = tuple(input_shape)[:2]
            default = rows if rows == cols and rows in V1_SIZES else 224
        input_shape = obtain_input_shape(input_shape, default, 32, include_top, weights)
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must be 1.  "
                             f"Received depth_multiplier={depth_multiplier}")
        if alpha not in V1_ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of`0.25`, `0.50`, `0.75` or "
                             f"`1.0` only.  Received alpha={alpha}")
        rows, cols = (input_shape or tuple(input_tensor.shape[1:]))[:2]
        rows = rows if rows == cols and rows in V1_SIZES else 224
        text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]
        fname = f"mobilenet_{text}_{rows}_tf{'' if include_top else '_no_top'}.h5"
        raise ValueError(f"MobileNet: Keras publishes no checksum for its ImageNet weight files, so the zoo's "
                         f"weight registry has no entry for them (an unverified download is never loaded); "
                         f"download {V1_BASE_URL}{fname} yourself and pass weights=<that file>")
    arch = dict(depth_multiplier=depth_multiplier, dropout=dropout)
    if alpha not in V1_ALPHAS:
        arch["alpha"] = alpha
    return build_application(_v1_key(alpha) if alpha in V1_ALPHAS else "mobilenet", weights, include_top, classes,
                             input_shape if input_tensor is None else None, input_tensor, pooling,
                             classifier_activation, name, **arch)


# ============================================================================= MobileNetV2
V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
V2_SIZES = (96, 128, 160, 192, 224)
V2_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
# (expansion, output filters, stride) of blocks 0..16
_V2_BLOCKS = ((1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1), (6, 64, 2), (6, 64, 1),
              (6, 64, 1), (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1), (6, 160, 2), (6, 160, 1), (6, 160, 1),
              (6, 320, 1))


def _v2_block(inputs, expansion, stride, alpha, filters, block_id):
    in_channels = inputs.shape[-1]
    out_filters = make_divisible(int(filters * alpha), 8)
    x = inputs
    if block_id:
        prefix = f"block_{block_id}_"
        x = L.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand")(x)
        x = _bn(f"{prefix}expand_BN")(x)
        x = L.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = L.ZeroPadding2D(padding=correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = L.DepthwiseConv2D(3, strides=stride, use_bias=False, padding="same" if stride == 1 else "valid",
                          name=f"{prefix}depthwise")(x)
    x = _bn(f"{prefix}depthwise_BN")(x)
    x = L.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = L.Conv2D(out_filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == out_filters and stride == 1:
        return L.Add(name=f"{prefix}add")([inputs, x])
    return x


def _mobilenet_v2(registry_name, alpha, num_classes, input_shape, include_top, pooling, classifier_activation,
                  input_tensor, model_name):
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"{registry_name}: alpha must be a positive number, got {alpha!r}")
    img, inputs = image_input(input_tensor, input_shape, (224, 224, 3) if include_top else (None, None, 3))
    x = L.Conv2D(make_divisible(32 * alpha, 8), 3, strides=(2, 2), padding="same", use_bias=False, name="Conv1")(img)
    x = _bn("bn_Conv1")(x)
    x = L.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (expansion, filters, stride) in enumerate(_V2_BLOCKS):
        x = _v2_block(x, expansion, stride, alpha, filters, block_id)
    last = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = L.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = L.ReLU(6.0, name="out_relu")(x)
    rows = img.shape[1]
    name = model_name or f"mobilenetv2_{alpha:0.2f}_{rows if rows is not None else 224}"
    return classifier_top(name, x, inputs, lambda t: L.GlobalAveragePooling2D()(t), include_top, pooling,
                          num_classes, classifier_activation, "predictions", registry_name)


def _v2_key(alpha):
    return "mobilenet_v2" if alpha == 1.0 else f"mobilenet_v2_{int(round(alpha * 100)):03d}"


def _register_v2(alpha):
    key = _v2_key(alpha)

    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None, alpha=alpha):
        return _mobilenet_v2(key, alpha, num_classes, input_shape, include_top, pooling, classifier_activation,
                             input_tensor, model_name)

    builder.__name__ = builder.__qualname__ = key
    builder.__doc__ = f"MobileNetV2 (keras.applications layout), width multiplier alpha={alpha}."
    register_model(key, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


mobilenet_v2_035, mobilenet_v2_050, mobilenet_v2_075, mobilenet_v2, mobilenet_v2_130, mobilenet_v2_140 = (
    _register_v2(a) for a in V2_ALPHAS)


def _square_default_size(input_shape, input_tensor):
    """Keras's MobileNet rule: a square input of a published size is the default size, else 224."""
    if input_shape is not None:
        rows, cols = tuple(input_shape)[:2]
    elif input_tensor is not None:
        rows, cols = input_tensor.shape[1:3]
    else:
        return 224
    return rows if rows == cols and rows in V2_SIZES else 224


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    """``keras.applications.MobileNetV2``: the same arguments, checks and layer names.

    Keras publishes no checksum for these weight files, so the manifest has no ``imagenet`` entry
    for them: ``weights="imagenet"`` raises, naming the file's URL; a downloaded copy loads with
    ``weights=<path>`` (Keras's "tf" preprocessing: ``mobilenet_v2.preprocess_input``)."""
    check_weights_arg(weights)
    if input_tensor is None:
        input_shape = obtain_input_shape(input_shape, _square_default_size(input_shape, None), 32, include_top,
                                         weights)
    if weights == "imagenet":
        if alpha not in V2_ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, "
                             f"`1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`")
        rows = (input_shape or input_tensor.shape[1:])[0]
        cols = (input_shape or input_tensor.shape[1:])[1]
        if rows != cols or rows not in V2_SIZES:
            rows = 224
        fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
                 f"{'' if include_top else '_no_top'}.h5")
        raise ValueError(f"MobileNetV2: Keras publishes no checksum for its ImageNet weight files, so the zoo's "
                         f"weight registry has no entry for them (an unverified download is never loaded); "
                         f"download {V2_BASE_URL}{fname} yourself and pass weights=<that file>")
    return build_application(_v2_key(alpha) if alpha in V2_ALPHAS else "mobilenet_v2", weights, include_top,
                             classes, input_shape if input_tensor is None else None, input_tensor, pooling,
                             classifier_activation, name, **({} if alpha in V2_ALPHAS else {"alpha": alpha}))


# ============================================================================= MobileNetV3
# (expansion, filters, kernel ("k": the family's kernel), stride, squeeze-excite, activation ("a": the family's))
_V3_SMALL = ((1, 16, 3, 2, True, "relu"), (72 / 16, 24, 3, 2, False, "relu"), (88 / 24, 24, 3, 1, False, "relu"),
             (4, 40, "k", 2, True, "a"), (6, 40, "k", 1, True, "a"), (6, 40, "k", 1, True, "a"),
             (3, 48, "k", 1, True, "a"), (3, 48, "k", 1, True, "a"), (6, 96, "k", 2, True, "a"),
             (6, 96, "k", 1, True, "a"), (6, 96, "k", 1, True, "a"))
_V3_LARGE = ((1, 16, 3, 1, False, "relu"), (4, 24, 3, 2, False, "relu"), (3, 24, 3, 1, False, "relu"),
             (3, 40, "k", 2, True, "relu"), (3, 40, "k", 1, True, "relu"), (3, 40, "k", 1, True, "relu"),
             (6, 80, 3, 2, False, "a"), (2.5, 80, 3, 1, False, "a"), (2.3, 80, 3, 1, False, "a"),
             (2.3, 80, 3, 1, False, "a"), (6, 112, 3, 1, True, "a"), (6, 112, 3, 1, True, "a"),
             (6, 160, "k", 2, True, "a"), (6, 160, "k", 1, True, "a"), (6, 160, "k", 1, True, "a"))
_V3 = {"small": (_V3_SMALL, 1024), "large": (_V3_LARGE, 1280)}


def _v3_activation(kind, x):
    if kind == "relu":
        return L.ReLU()(x)
    return L.Activation("hard_swish")(x)


def squeeze_excite(inputs, filters, se_ratio, prefix):
    """keras.applications MobileNetV3's squeeze-excitation: global average -> 1x1 conv -> ReLU ->
    1x1 conv -> hard sigmoid -> channel-wise product with ``inputs``."""
    x = L.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs)
    x = L.Conv2D(make_divisible(filters * se_ratio), 1, padding="same", name=f"{prefix}squeeze_excite_conv")(x)
    x = L.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = L.Conv2D(filters, 1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = L.Activation("hard_sigmoid")(x)  # Keras writes relu6(x + 3) * (1 / 6): the same function
    return L.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _v3_block(x, expansion, filters, kernel_size, stride, se_ratio, activation, block_id):
    shortcut, infilters = x, x.shape[-1]
    prefix = "expanded_conv_"
    if block_id:
        prefix = f"expanded_conv_{block_id}_"
        x = L.Conv2D(make_divisible(infilters * expansion), 1, padding="same", use_bias=False,
                     name=f"{prefix}expand")(x)
        x = _bn(f"{prefix}expand_bn")(x)
        x = _v3_activation(activation, x)
    if stride == 2:
        x = L.ZeroPadding2D(padding=correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad")(x)
    x = L.DepthwiseConv2D(kernel_size, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
                          name=f"{prefix}depthwise")(x)
    x = _bn(f"{prefix}depthwise_bn")(x)
    x = _v3_activation(activation, x)
    if se_ratio:
        x = squeeze_excite(x, make_divisible(infilters * expansion), se_ratio, prefix)
    x = L.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_bn")(x)
    if stride == 1 and infilters == filters:
        x = L.Add(name=f"{prefix}add")([shortcut, x])
    return x


def _mobilenet_v3(registry_name, model_type, alpha, minimalistic, num_classes, input_shape, include_top, pooling,
                  classifier_activation, input_tensor, model_name, dropout_rate, include_preprocessing):
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"{registry_name}: alpha must be a positive number, got {alpha!r}")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{registry_name}: pooling must be None, 'avg' or 'max', got {pooling!r}")
    img, inputs = image_input(input_tensor, input_shape, (None, None, 3))
    hw = tuple(img.shape[1:3])
    if any(d is not None and d < 32 for d in hw):
        raise ValueError(f"Input size must be at least 32x32; Received `input_shape={tuple(img.shape[1:])}`")
    kernel, activation, se_ratio = (3, "relu", None) if minimalistic else (5, "hard_swish", 0.25)
    blocks, last_point_ch = _V3[model_type]
    x = img
    if include_preprocessing:
        x = L.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = L.Conv2D(16, 3, strides=(2, 2), padding="same", use_bias=False, name="conv")(x)
    x = _bn("conv_bn")(x)
    x = _v3_activation(activation, x)
    for block_id, (expansion, filters, k, stride, se, act) in enumerate(blocks):
        x = _v3_block(x, expansion, make_divisible(filters * alpha), kernel if k == "k" else k, stride,
                      se_ratio if se else None, activation if act == "a" else "relu", block_id)
    last_conv_ch = make_divisible(x.shape[-1] * 6)
    if alpha > 1.0:
        last_point_ch = make_divisible(last_point_ch * alpha)
    x = L.Conv2D(last_conv_ch, 1, padding="same", use_bias=False, name="conv_1")(x)
    x = _bn("conv_1_bn")(x)
    x = _v3_activation(activation, x)
    name = model_name or ("MobileNetV3Small" if model_type == "small" else "MobileNetV3Large")

    def features(t):
        t = L.GlobalAveragePooling2D(keepdims=True)(t)
        t = L.Conv2D(last_point_ch, 1, padding="same", use_bias=True, name="conv_2")(t)
        t = _v3_activation(activation, t)
        return L.Dropout(dropout_rate)(t) if dropout_rate > 0 else t

    if include_top:
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"{name}: num_classes must be a positive integer with include_top=True, "
                             f"got {num_classes!r}")
        feats = features(x)
        out = L.Conv2D(num_classes, 1, padding="same", name="logits")(feats)
        out = L.Flatten()(out)
        out = L.Activation(classifier_activation, name="predictions")(out)
        model = ClassifierModel(inputs, out, features_tensor=feats, head_name="logits", name=name,
                                classifier_activation=classifier_activation)
        model.registry_name = registry_name
        return model
    return classifier_top(name, x, inputs, None, False, pooling, None, classifier_activation, None, registry_name)


V3_VARIANTS = {  # registry name -> (model type, alpha, minimalistic, Keras's weight-file stem)
    "mobilenet_v3_small": ("small", 1.0, False, "small_224_1.0_float"),
    "mobilenet_v3_small_075": ("small", 0.75, False, "small_224_0.75_float"),
    "mobilenet_v3_small_minimalistic": ("small", 1.0, True, "small_minimalistic_224_1.0_float"),
    "mobilenet_v3_large": ("large", 1.0, False, "large_224_1.0_float"),
    "mobilenet_v3_large_075": ("large", 0.75, False, "large_224_0.75_float"),
    "mobilenet_v3_large_minimalistic": ("large", 1.0, True, "large_minimalistic_224_1.0_float"),
}


def _register_v3(key):
    model_type, alpha0, minimal0, _ = V3_VARIANTS[key]

    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None, alpha=alpha0, minimalistic=minimal0, dropout_rate=0.2,
                include_preprocessing=True):
        return _mobilenet_v3(key, model_type, alpha, minimalistic, num_classes, input_shape, include_top, pooling,
                             classifier_activation, input_tensor, model_name, dropout_rate, include_preprocessing)

    builder.__name__ = builder.__qualname__ = key
    builder.__doc__ = (f"MobileNetV3-{model_type.capitalize()} (keras.applications layout), alpha={alpha0}"
                       f"{', minimalistic' if minimal0 else ''}; takes [0, 255] RGB (in-graph rescaling).")
    register_model(key, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


(mobilenet_v3_small, mobilenet_v3_small_075, mobilenet_v3_small_minimalistic, mobilenet_v3_large,
 mobilenet_v3_large_075, mobilenet_v3_large_minimalistic) = (_register_v3(k) for k in V3_VARIANTS)


def _keras_v3(model_type, input_shape, alpha, minimalistic, include_top, weights, input_tensor, classes, pooling,
              dropout_rate, classifier_activation, include_preprocessing, name):
    check_weights_arg(weights)
    if input_shape is not None and input_tensor is not None and input_tensor.shape[2] != tuple(input_shape)[1]:
        raise ValueError(f"input_shape[1] must equal input_tensor.shape[2].  Received input_shape={input_shape}, "
                         f"input_tensor.shape={input_tensor.shape}")
    if input_shape is not None and len(tuple(input_shape)) != 3:
        raise ValueError(f"`input_shape` must be a tuple of three integers, got {input_shape}")
    key = next((k for k, (t, a, m, _) in V3_VARIANTS.items() if t == model_type and a == alpha
                and m == bool(minimalistic)), None)
    if weights == "imagenet":
        if key is None:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for non "
                             "minimalistic or `1.0` for minimalistic only.")
        shape = tuple(input_shape) if input_shape is not None else (
            tuple(input_tensor.shape[1:]) if input_tensor is not None else (None, None, 3))
        if shape[0] != shape[1] or shape[0] != 224:
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not 224. Weights for input shape "
                          "(224, 224) will be loaded as the default.", stacklevel=3)
    registry = key or f"mobilenet_v3_{model_type}"
    arch = dict(dropout_rate=dropout_rate, include_preprocessing=include_preprocessing)
    if key is None:
        arch.update(alpha=alpha, minimalistic=bool(minimalistic))
    return build_application(registry, weights, include_top, classes, None if input_tensor is not None else
                             input_shape, input_tensor, pooling, classifier_activation,
                             name or ("MobileNetV3Small" if model_type == "small" else "MobileNetV3Large"), **arch)


def MobileNetV3Small(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights="imagenet",
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2, classifier_activation="softmax",
                     include_preprocessing=True, name="MobileNetV3Small"):
    """``keras.applications.MobileNetV3Small``: the same arguments, checks and layer names; takes
    [0, 255] RGB images (the rescaling is in the graph unless ``include_preprocessing=False``)."""
    return _keras_v3("small", input_shape, alpha, minimalistic, include_top, weights, input_tensor, classes, pooling,
                     dropout_rate, classifier_activation, include_preprocessing, name)


def MobileNetV3Large(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights="imagenet",
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2, classifier_activation="softmax",
                     include_preprocessing=True, name="MobileNetV3Large"):
    """``keras.applications.MobileNetV3Large``: the same arguments, checks and layer names; takes
    [0, 255] RGB images (the rescaling is in the graph unless ``include_preprocessing=False``)."""
    return _keras_v3("large", input_shape, alpha, minimalistic, include_top, weights, input_tensor, classes, pooling,
                     dropout_rate, classifier_activation, include_preprocessing, name)


__all__ = ["MobileNet", "mobilenet", "mobilenet_025", "mobilenet_050", "mobilenet_075", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "mobilenet_v2", "mobilenet_v2_035",
           "mobilenet_v2_050", "mobilenet_v2_075", "mobilenet_v2_130", "mobilenet_v2_140", "mobilenet_v3_small",
           "mobilenet_v3_small_075", "mobilenet_v3_small_minimalistic", "mobilenet_v3_large",
           "mobilenet_v3_large_075", "mobilenet_v3_large_minimalistic", "make_divisible", "correct_pad",
           "squeeze_excite"]
