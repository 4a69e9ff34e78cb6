"""VGG 11/13/16/19 for ImageNet, optionally with batch normalisation (``vgg16_bn``...).

Layers are named as ``keras.applications.VGG16``/``VGG19`` name them (``block1_conv1``, ...,
``block5_pool``, ``flatten``, ``fc1``, ``fc2``, ``predictions``), so Keras's published legacy ``.h5``
files load by layer name; VGG11/13 follow the same style. The ``_bn`` variants put a
``BatchNormalization`` (``block1_conv1_bn``) and a ReLU (``block1_conv1_relu``) after each
(linear) convolution.

Torchvision VGG state dicts (``features.<i>.*``, ``classifier.{0,3,6}.*``) load too: the first
classifier layer's input axis is permuted from PyTorch's (C, H, W) flattening to Keras's (H, W, C).

Keras-style constructors: ``VGG16(include_top=True, weights="imagenet", ...)``, ``VGG19``.
"""
from __future__ import annotations

import re

import numpy as np

from core import layers as L

from ..registry import register_model
from .resnet import (TORCH_BN_EPS, check_input_size, classifier_top, image_input, keras_application,
                     load_keras_h5, load_state_dict_with_head, read_torch_state_dict)

# convolutions per block (the widths are 64, 128, 256, 512, 512)
_CONFIGS = {"vgg11": (1, 1, 2, 2, 2), "vgg13": (2, 2, 2, 2, 2), "vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_WIDTHS = (64, 128, 256, 512, 512)


def _vgg(arch, batch_norm=False, num_classes=1000, input_shape=None, include_top=True, pooling=None,
         classifier_activation="softmax", input_tensor=None, model_name=None):
    registry_name = arch + ("_bn" if batch_norm else "")
    img, inputs = image_input(input_tensor, input_shape, (224, 224, 3) if include_top else (None, None, 3))
    check_input_size(registry_name, img, static=include_top)
    x = img
    for block, (n, width) in enumerate(zip(_CONFIGS[arch], _WIDTHS), start=1):
        for i in range(1, n + 1):
            conv = f"block{block}_conv{i}"
            if batch_norm:
                x = L.Conv2D(width, (3, 3), padding="same", name=conv)(x)
                x = L.BatchNormalization(axis=3, epsilon=TORCH_BN_EPS, name=f"{conv}_bn")(x)
                x = L.Activation("relu", name=f"{conv}_relu")(x)
            else:
                x = L.Conv2D(width, (3, 3), activation="relu", padding="same", name=conv)(x)
        x = L.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)

    def top(t):
        t = L.Flatten(name="flatten")(t)
        t = L.Dense(4096, activation="relu", name="fc1")(t)
        return L.Dense(4096, activation="relu", name="fc2")(t)

    return classifier_top(model_name or registry_name, x, inputs, top, include_top, pooling, num_classes,
                          classifier_activation, "predictions", registry_name)


def torchvision_mapping(model):
    """{layer name here: torchvision module prefix} (``features.<i>``, ``classifier.{0,3,6}``) of a
    VGG built here, from its layer names (conv, [bn, relu,] ... pool: torchvision's indices)."""
    names = [l.name for l in model.layers]
    batch_norm = any(n.endswith("_bn") for n in names)
    mapping, index = {}, 0
    for name in names:
        if re.fullmatch(r"block\d_conv\d", name):
            mapping[name] = f"features.{index}"
            index += 1 if batch_norm else 2        # conv [bn] relu
        elif re.fullmatch(r"block\d_conv\d_bn", name):
            mapping[name] = f"features.{index}"
            index += 2                              # bn relu
        elif re.fullmatch(r"block\d_pool", name):
            index += 1
    for ours, theirs in (("fc1", "classifier.0"), ("fc2", "classifier.3"), (model.head_name, "classifier.6")):
        if ours in names:
            mapping[ours] = theirs
    return mapping


def _pool5_shape(model):
    """(H, W, C) of ``block5_pool``: five 2x2/2 poolings of the input."""
    h, w = model.inputs[0].shape[1:3]
    return (None if h is None else h // 32, None if w is None else w // 32, 512)


def torchvision_state_dict_to_keras(model, state_dict):
    """A torchvision VGG state dict with ``classifier.0.weight`` re-ordered for this model's
    (H, W, C) Flatten (PyTorch flattens (C, H, W) after its 7x7 adaptive pooling)."""
    sd = dict(state_dict)
    key = "classifier.0.weight"
    if key in sd and None not in _pool5_shape(model):
        h, w, c = _pool5_shape(model)
        wt = np.asarray(sd[key])
        if wt.shape[1] != c * h * w:
            raise ValueError(f"{key} has {wt.shape[1]} inputs, the model's flatten gives {h}x{w}x{c}={h * w * c} "
                             "(torchvision VGG heads expect 224x224 inputs)")
        sd[key] = np.ascontiguousarray(wt.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(wt.shape[0], -1))
    return sd


def load_torchvision_vgg(model, path, wentry=None):
    """A torchvision VGG checkpoint (``features.*``, ``classifier.*``) into a VGG built here."""
    load_torchvision_state_dict(model, read_torch_state_dict(path))


def load_torchvision_state_dict(model, state_dict):
    """Copy an in-memory torchvision VGG state dict (arrays) into ``model``."""
    mapping = torchvision_mapping(model)
    if "fc1" not in mapping:  # headless model: the classifier keys are not used
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("classifier.")}
    load_state_dict_with_head(model, torchvision_state_dict_to_keras(model, state_dict), mapping, "classifier.6")


_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5,
            "torch_zip": load_torchvision_vgg, "torch_legacy": load_torchvision_vgg}


def _register(arch, batch_norm):
    key = arch + ("_bn" if batch_norm else "")
    params = {"vgg11": "132.9M", "vgg13": "133.0M", "vgg16": "138.4M", "vgg19": "143.7M"}[arch]

    def builder(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                input_tensor=None, model_name=None):
        return _vgg(arch, batch_norm, num_classes, input_shape, include_top, pooling, classifier_activation,
                    input_tensor, model_name)

    builder.__name__ = key
    builder.__qualname__ = key
    builder.__doc__ = (f"VGG-{arch[3:]}{' with batch normalisation' if batch_norm else ''} "
                       f"({'Keras layer names' if arch in ('vgg16', 'vgg19') else 'Keras-style layer names'}; "
                       f"about {params} parameters with the 1000-class top).")
    register_model(key, loaders=_LOADERS, default_num_classes=1000)(builder)
    return builder


vgg11, vgg13, vgg16, vgg19 = (_register(a, False) for a in ("vgg11", "vgg13", "vgg16", "vgg19"))
vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn = (_register(a, True) for a in ("vgg11", "vgg13", "vgg16", "vgg19"))


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    """``keras.applications.VGG16``: the same arguments, checks and layer names."""
    return keras_application("vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
                             classifier_activation, name)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    """``keras.applications.VGG19``: the same arguments, checks and layer names."""
    return keras_application("vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
                             classifier_activation, name)



__all__ = ["VGG16", "VGG19", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
           "load_torchvision_vgg", "load_torchvision_state_dict"]
