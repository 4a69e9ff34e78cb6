"""NASNet-A Mobile and Large with ``keras.applications``' layer names, creation order and defaults,
so Keras's published legacy ``.h5`` files load by layer name. Its weights expect Keras's "tf"
preprocessing (pixels scaled to [-1, 1]); NASNetMobile takes 224x224 by default, NASNetLarge
331x331, both at least 32x32. The cells choose their shortcut adjustment from the static input
size, so the input size must be known when the model is built (as in Keras).

Keras-style constructors: ``NASNetMobile(input_shape=None, include_top=True, weights="imagenet", ...)``,
``NASNetLarge``.
"""
from __future__ import annotations

from core import layers as L

from ..registry import register_model
from .mobilenet import correct_pad, keras_constructor
from .resnet import check_input_size, classifier_top, image_input, load_keras_h5

_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}
# penultimate filters, cells per stack, stem filters, skip_reduction, default size, Keras name
VARIANTS = {"nasnet_mobile": (1056, 4, 32, False, 224, "nasnet_mobile"),
            "nasnet_large": (4032, 6, 96, True, 331, "nasnet_large")}
FILTER_MULTIPLIER = 2


def _bn(name):
    return L.BatchNormalization(axis=-1, momentum=0.9997, epsilon=1e-3, name=name)


def _conv1x1(x, filters, name):
    return L.Conv2D(filters, 1, padding="same", use_bias=False, name=name)(x)


def _separable_block(x, filters, kernel_size=3, strides=1, block_id=None):
    """Two ReLU - separable conv - BN, the first strided (with Keras's ``correct_pad`` padding)."""
    x = L.Activation("relu")(x)
    if strides == 2:
        x = L.ZeroPadding2D(padding=correct_pad(x, kernel_size), name=f"separable_conv_1_pad_{block_id}")(x)
    x = L.SeparableConv2D(filters, kernel_size, strides=strides, padding="valid" if strides == 2 else "same",
                          use_bias=False, name=f"separable_conv_1_{block_id}")(x)
    x = _bn(f"separable_conv_1_bn_{block_id}")(x)
    x = L.Activation("relu")(x)
    x = L.SeparableConv2D(filters, kernel_size, padding="same", use_bias=False, name=f"separable_conv_2_{block_id}")(x)
    return _bn(f"separable_conv_2_bn_{block_id}")(x)


def _adjust(p, ip, filters, block_id):
    """Match the previous cell's output ``p`` to ``ip``: halve its size (two offset 1x1 strided
    paths, concatenated) or project its channels."""
    if p is None:
        return ip
    if p.shape[2] != ip.shape[2]:
        p = L.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = L.AveragePooling2D(1, strides=2, padding="valid", name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = _conv1x1(p1, filters // 2, f"adjust_conv_1_{block_id}")
        p2 = L.ZeroPadding2D(padding=((0, 1), (0, 1)))(p)
        p2 = L.Cropping2D(cropping=((1, 0), (1, 0)))(p2)
        p2 = L.AveragePooling2D(1, strides=2, padding="valid", name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = _conv1x1(p2, filters // 2, f"adjust_conv_2_{block_id}")
        p = L.Concatenate(axis=-1)([p1, p2])
        return _bn(f"adjust_bn_{block_id}")(p)
    if p.shape[3] != filters:
        p = L.Activation("relu")(p)
        p = _conv1x1(p, filters, f"adjust_conv_projection_{block_id}")
        return _bn(f"adjust_bn_{block_id}")(p)
    return p


def _normal_cell(ip, p, filters, block_id):
    p = _adjust(p, ip, filters, block_id)
    h = L.Activation("relu")(ip)
    h = _bn(f"normal_bn_1_{block_id}")(_conv1x1(h, filters, f"normal_conv_1_{block_id}"))
    x1 = L.Add(name=f"normal_add_1_{block_id}")([
        _separable_block(h, filters, 5, block_id=f"normal_left1_{block_id}"),
        _separable_block(p, filters, block_id=f"normal_right1_{block_id}")])
    x2 = L.Add(name=f"normal_add_2_{block_id}")([
        _separable_block(p, filters, 5, block_id=f"normal_left2_{block_id}"),
        _separable_block(p, filters, 3, block_id=f"normal_right2_{block_id}")])
    x3 = L.AveragePooling2D(3, strides=1, padding="same", name=f"normal_left3_{block_id}")(h)
    x3 = L.Add(name=f"normal_add_3_{block_id}")([x3, p])
    x4 = L.Add(name=f"normal_add_4_{block_id}")([
        L.AveragePooling2D(3, strides=1, padding="same", name=f"normal_left4_{block_id}")(p),
        L.AveragePooling2D(3, strides=1, padding="same", name=f"normal_right4_{block_id}")(p)])
    x5 = _separable_block(h, filters, block_id=f"normal_left5_{block_id}")
    x5 = L.Add(name=f"normal_add_5_{block_id}")([x5, h])
    x = L.Concatenate(axis=-1, name=f"normal_concat_{block_id}")([p, x1, x2, x3, x4, x5])
    return x, ip


def _reduction_cell(ip, p, filters, block_id):
    p = _adjust(p, ip, filters, block_id)
    h = L.Activation("relu")(ip)
    h = _bn(f"reduction_bn_1_{block_id}")(_conv1x1(h, filters, f"reduction_conv_1_{block_id}"))
    h3 = L.ZeroPadding2D(padding=correct_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)
    x1 = L.Add(name=f"reduction_add_1_{block_id}")([
        _separable_block(h, filters, 5, strides=2, block_id=f"reduction_left1_{block_id}"),
        _separable_block(p, filters, 7, strides=2, block_id=f"reduction_right1_{block_id}")])
    x2 = L.Add(name=f"reduction_add_2_{block_id}")([
        L.MaxPooling2D(3, strides=2, padding="valid", name=f"reduction_left2_{block_id}")(h3),
        _separable_block(p, filters, 7, strides=2, block_id=f"reduction_right2_{block_id}")])
    x3 = L.Add(name=f"reduction_add3_{block_id}")([
        L.AveragePooling2D(3, strides=2, padding="valid", name=f"reduction_left3_{block_id}")(h3),
        _separable_block(p, filters, 5, strides=2, block_id=f"reduction_right3_{block_id}")])
    x4 = L.AveragePooling2D(3, strides=1, padding="same", name=f"reduction_left4_{block_id}")(x1)
    x4 = L.Add()([x2, x4])
    x5 = L.Add(name=f"reduction_add4_{block_id}")([
        _separable_block(x1, filters, 3, block_id=f"reduction_left4_{block_id}"),
        L.MaxPooling2D(3, strides=2, padding="valid", name=f"reduction_right5_{block_id}")(h3)])
    x = L.Concatenate(axis=-1, name=f"reduction_concat_{block_id}")([x2, x3, x4, x5])
    return x, ip


def _nasnet(registry_name, num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor,
            model_name):
    penultimate, num_blocks, stem_filters, skip_reduction, default_size, keras_name = VARIANTS[registry_name]
    img, inputs = image_input(input_tensor, input_shape, (default_size, default_size, 3))
    check_input_size(registry_name, img, 32)
    if None in tuple(img.shape[1:3]):
        raise ValueError(f"{registry_name}: the input size must be static (its cells adapt their shortcuts to it); "
                         f"got input_shape={tuple(img.shape[1:])}")
    filters = penultimate // 24
    m = FILTER_MULTIPLIER
    x = L.Conv2D(stem_filters, 3, strides=2, padding="valid", use_bias=False, name="stem_conv1")(img)
    x = _bn("stem_bn1")(x)
    p = None
    x, p = _reduction_cell(x, p, filters // m ** 2, "stem_1")
    x, p = _reduction_cell(x, p, filters // m, "stem_2")
    for i in range(num_blocks):
        x, p = _normal_cell(x, p, filters, f"{i}")
    x, p0 = _reduction_cell(x, p, filters * m, f"reduce_{num_blocks}")
    p = p if skip_reduction else p0
    for i in range(num_blocks):
        x, p = _normal_cell(x, p, filters * m, f"{num_blocks + i + 1}")
    x, p0 = _reduction_cell(x, p, filters * m ** 2, f"reduce_{2 * num_blocks}")
    p = p if skip_reduction else p0
    for i in range(num_blocks):
        x, p = _normal_cell(x, p, filters * m ** 2, f"{2 * num_blocks + i + 1}")
    x = L.Activation("relu")(x)
    return classifier_top(model_name or keras_name, x, inputs, lambda t: L.GlobalAveragePooling2D()(t), include_top,
                          pooling, num_classes, classifier_activation, "predictions", registry_name)


def _register(key):
    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None):
        return _nasnet(key, num_classes, input_shape, include_top, pooling, classifier_activation, input_tensor,
                       model_name)

    size = VARIANTS[key][4]
    builder.__name__ = builder.__qualname__ = key
    builder.__doc__ = (f"NASNet-A {key[7:].title()} (keras.applications layout; {size}px default, static input size; "
                       "Keras's \"tf\" preprocessing).")
    register_model(key, loaders=_KERAS_LOADERS, default_num_classes=1000)(builder)
    return builder


nasnet_mobile, nasnet_large = (_register(k) for k in VARIANTS)


def _keras_nasnet(key, input_shape, include_top, weights, input_tensor, pooling, classes, classifier_activation,
                  name):
    if isinstance(input_shape, tuple) and None in input_shape and weights == "imagenet":
        raise ValueError("When specifying the input shape of a NASNet and loading `ImageNet` weights, the input_shape "
                         f"argument must be static (no None entries). Got: `input_shape={input_shape}`.")
    return keras_constructor(key, VARIANTS[key][4], 32, weights, include_top, classes, input_shape, input_tensor,
                             pooling, classifier_activation, name)


def NASNetMobile(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None, classes=1000,
                 classifier_activation="softmax", name="nasnet_mobile"):
    """``keras.applications.NASNetMobile``: the same arguments, checks and layer names (224x224 when
    ``input_shape`` is not given, with or without the top)."""
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return _keras_nasnet("nasnet_mobile", input_shape, include_top, weights, input_tensor, pooling, classes,
                         classifier_activation, name)


def NASNetLarge(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None, classes=1000,
                classifier_activation="softmax", name="nasnet_large"):
    """``keras.applications.NASNetLarge``: the same arguments, checks and layer names."""
    return _keras_nasnet("nasnet_large", input_shape, include_top, weights, input_tensor, pooling, classes,
                         classifier_activation, name)


__all__ = ["NASNetLarge", "NASNetMobile", "nasnet_large", "nasnet_mobile"]
