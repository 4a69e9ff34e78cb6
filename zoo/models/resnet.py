"""ResNet v1 for ImageNet.

* ``resnet50``/``resnet101``/``resnet152``: bottleneck ResNets with exactly the layer names and
  weight order of ``keras.applications.ResNet50`` etc., so Keras's published legacy ``.h5`` files
  load by layer name with no conversion table.
* ``resnet18``/``resnet34``: basic-block ResNets in torchvision's layout (its ImageNet state dicts
  load through ``core.saving.torch_mapping``; PyTorch's symmetric padding is reproduced with
  ``ZeroPadding2D`` + ``valid`` convolutions).

Keras-style constructors: ``ResNet50(include_top=True, weights="imagenet", ...)``, ``ResNet101``,
``ResNet152``. The helpers in the first part of this module are shared with :mod:`zoo.models.vgg`.
"""
from __future__ import annotations

import logging
import os
import re

import numpy as np

from core import activations
from core import layers as L
from core.layers.base import KerasTensor

from ..classifier import ClassifierModel
from ..registry import register_model

log = logging.getLogger("zoo")

KERAS_BN_EPS = 1.001e-5   # keras.applications ResNet
TORCH_BN_EPS = 1e-5       # torch.nn.BatchNorm2d


# ============================================================================= shared helpers
def source_inputs(tensor):
    """The ``Input()`` tensors a symbolic tensor depends on (Keras ``get_source_inputs``)."""
    out, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if getattr(t, "_input_layer", None) is not None:
            out.append(t)
        elif t._history is not None:
            stack.extend(reversed(t._history[0].input_tensors))
        else:
            raise ValueError(f"input_tensor {t!r} is not connected to any Input()")
    return out[0] if len(out) == 1 else out


def image_input(input_tensor, input_shape, default_shape):
    """``(image tensor, model inputs)`` from ``input_tensor`` (a symbolic tensor) or ``input_shape``."""
    if input_tensor is not None:
        if not isinstance(input_tensor, KerasTensor):
            raise TypeError("input_tensor must be a symbolic tensor (from core.layers.Input), got "
                            f"{type(input_tensor).__name__}")
        if len(input_tensor.shape) != 4:
            raise ValueError(f"input_tensor must be an NHWC image batch (rank 4), got shape {input_tensor.shape}")
        return input_tensor, source_inputs(input_tensor)
    shape = tuple(default_shape if input_shape is None else input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {shape}")
    x = L.Input(shape=shape)
    return x, x


def check_input_size(model_name, x, min_size=32, static=False):
    """Height/width at least ``min_size``; static (known) when a Flatten head needs them."""
    hw = tuple(x.shape[1:3])
    if any(d is not None and d < min_size for d in hw):
        raise ValueError(f"{model_name}: input size must be at least {min_size}x{min_size}, got {hw}")
    if static and None in hw:
        raise ValueError(f"{model_name} with include_top=True needs a static input size (its Flatten head), "
                         f"got {hw}")


def obtain_input_shape(input_shape, default_size, min_size, require_flatten, weights):
    """Keras's ``imagenet_utils.obtain_input_shape`` (channels_last)."""
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, `input_shape` "
                             f"should be {default_shape}.  Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be a tuple of three integers, got {input_shape}")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(d is not None and d < min_size for d in input_shape[:2]):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    else:
        input_shape = default_shape if require_flatten else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return input_shape


def validate_activation(classifier_activation, weights):
    """Pretrained heads allow only ``None`` or ``"softmax"`` (as Keras)."""
    if weights is None:
        return
    act = activations.get(classifier_activation)
    if act not in (activations.get("softmax"), activations.get(None)):
        raise ValueError("Only `None` and `softmax` activations are allowed for the `classifier_activation` "
                         "argument when using pretrained weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


def keras_application(registry_name, include_top, weights, input_tensor, input_shape, pooling, classes,
                      classifier_activation, name):
    """The body of the Keras-style constructors (``ResNet50(...)``, ``VGG16(...)``): Keras's argument
    checks, then :func:`zoo.create_model` (``weights="imagenet"`` reads the ``imagenet`` or, without
    the top, the ``imagenet_notop`` manifest entry)."""
    from ..registry import create_model

    if not (weights in ("imagenet", None) or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                         "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
                         f"Received: weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f"Received classes={classes}")
    if input_tensor is None:
        input_shape = obtain_input_shape(input_shape, 224, 32, include_top, weights)
    if include_top:
        validate_activation(classifier_activation, weights)
    kw = dict(include_top=include_top, pooling=pooling, classifier_activation=classifier_activation,
              input_tensor=input_tensor, model_name=name)
    if weights is None:
        return create_model(registry_name, num_classes=classes, input_shape=input_shape, **kw)
    if weights == "imagenet":
        return create_model(registry_name, weights="imagenet" if include_top else "imagenet_notop",
                            input_shape=input_shape, **kw)
    return create_model(registry_name, weights=os.fspath(weights), num_classes=classes if include_top else None,
                        input_shape=input_shape, **kw)


def classifier_top(name, x, inputs, features, include_top, pooling, num_classes, classifier_activation,
                   head_name, registry_name):
    """Finish a backbone: ``features`` -> Dense head (``include_top``), else optional pooling.
    ``x`` is the last 4-d map (used when headless), ``features`` a callable giving the pooled
    features tensor for the head."""
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{name}: pooling must be None, 'avg' or 'max', got {pooling!r}")
    if include_top:
        if not isinstance(num_classes, (int, np.integer)) or num_classes <= 0:
            raise ValueError(f"{name}: num_classes must be a positive integer with include_top=True, "
                             f"got {num_classes!r}")
        feats = features(x)
        out = L.Dense(int(num_classes), activation=classifier_activation, name=head_name)(feats)
    else:
        if pooling == "avg":
            feats = out = pooling_layer("avg", registry_name)(x)
        elif pooling == "max":
            feats = out = pooling_layer("max", registry_name)(x)
        else:
            feats, out = None, x
        head_name = None
    model = ClassifierModel(inputs, out, features_tensor=feats, head_name=head_name, name=name,
                            classifier_activation=classifier_activation)
    model.registry_name = registry_name
    return model


def keras_layer_order(model):
    """``model.layers`` in Keras 3's order (Functional models here use it: see
    ``core.models.functional.keras_layer_order``)."""
    from core.models.functional import keras_layer_order as order

    return order(model._flat_inputs, model._flat_outputs)


def pooling_layer(kind, registry_name):
    """Global pooling as keras.applications names it (``avg_pool``/``max_pool`` for ResNets,
    MobileNetV3, EfficientNet and DenseNet; VGG and MobileNetV2 leave the layer unnamed)."""
    named = registry_name.startswith(("resnet", "mobilenet_v3", "efficientnet", "densenet"))
    if kind == "avg":
        return L.GlobalAveragePooling2D(name="avg_pool" if named else None)
    return L.GlobalMaxPooling2D(name="max_pool" if named else None)


# ----------------------------------------------------------------------------- loaders
def _head_note(model, what):
    return (f"{model.name}: the weights' classifier {what}; the head '{model.head_name}' is re-initialised "
            f"({model.num_classes} classes)")


def _keras_file_layers(model, path):
    """The (layer name, weights) list of a Keras full-model or legacy ``.h5``; for any other format
    (this project's files, Keras 3 ``.weights.h5``) the file is loaded with ``model.load_weights``
    and None is returned."""
    from core.saving import keras_h5

    fmt = keras_h5.detect_format(path)
    if fmt == "keras_full_h5":
        return keras_h5.read_keras_full_model(path).weights
    if fmt == "keras_legacy_h5":
        return keras_h5.read_keras_legacy_weights(path)
    model.load_weights(path)
    return None


def load_keras_h5(model, path, wentry=None):
    """A Keras legacy ``.h5`` (keras.applications layout) into ``model`` by layer name.

    The classifier head is loaded when the file has it with the right shape; otherwise (a
    ``_notop`` file, another class count) it keeps fresh weights and a log line says so. Every
    other layer with weights must be in the file with the right shapes (checked before anything
    is assigned)."""
    from core.saving.errors import WeightFileError

    file_layers = _keras_file_layers(model, path)
    if file_layers is None:
        return
    table = {name: ws for name, ws in file_layers if ws}
    head = model.head if isinstance(model, ClassifierModel) else None
    assignments = []
    for layer in model.layers:
        params = layer.weights
        if not params:
            continue
        ws = table.get(layer.name)
        ok = ws is not None and len(ws) == len(params) and all(
            tuple(a.shape) == tuple(p.shape) for p, (_, a) in zip(params, ws))
        if layer is head and not ok:
            log.warning(_head_note(model, "is not in the file" if ws is None else
                                   f"has shapes {[tuple(a.shape) for _, a in ws]}"))
            continue
        if ws is None:
            raise WeightFileError(f"{path}: no weights for layer '{layer.name}' of model '{model.name}' "
                                  f"(the file has {len(table)} layers with weights, e.g. {list(table)[:3]})")
        if not ok:
            raise WeightFileError(f"{path}: layer '{layer.name}' expects weights "
                                  f"{[(p.name, tuple(p.shape)) for p in params]}, the file has "
                                  f"{[(n, tuple(a.shape)) for n, a in ws]}")
        assignments.extend(zip(params, (a for _, a in ws)))
    for p, a in assignments:
        p.assign(np.asarray(a, dtype=p.dtype))


# the automatic names Keras gives weighted layers built without a name (conv2d_3, batch_normalization, ...)
_AUTO_WEIGHTED_NAME = re.compile(r"^(conv2d|batch_normalization|separable_conv2d|depthwise_conv2d|dense)(_\d+)?$")


def load_keras_h5_ordered(model, path, wentry=None):
    """A Keras legacy ``.h5`` into ``model`` by position, as Keras's ``load_weights`` reads these
    files: the i-th layer with weights in the file into the i-th layer with weights of the model.
    For keras.applications that leave layers unnamed (Xception's shortcuts, InceptionV3's
    convolutions), whose names in a file depend on what the saving session had built before.

    Layer names are still checked wherever either side's name is one Keras sets (not an automatic
    ``conv2d_7``), and every shape. The classifier head follows :func:`load_keras_h5`: loaded when
    the file has it with the right shape, else freshly initialised with a log line; a file's
    classifier is ignored by a headless model."""
    from core.saving.errors import WeightFileError

    file_layers = _keras_file_layers(model, path)
    if file_layers is None:
        return
    ours = [layer for layer in model.layers if layer.weights]
    theirs = [(name, ws) for name, ws in file_layers if ws]
    counts = (len(theirs), len(ours))
    head = model.head if isinstance(model, ClassifierModel) else None
    head_note = None
    if head is not None and ours and ours[-1] is head:
        if len(theirs) == len(ours) - 1:
            head_note = "is not in the file"
            ours = ours[:-1]
        elif len(theirs) == len(ours) and [tuple(a.shape) for _, a in theirs[-1][1]] != [
                tuple(p.shape) for p in head.weights]:
            head_note = f"has shapes {[tuple(a.shape) for _, a in theirs[-1][1]]}"
            ours, theirs = ours[:-1], theirs[:-1]
    elif len(theirs) == len(ours) + 1 and theirs[-1][0] == "predictions":
        theirs = theirs[:-1]   # a file with the classifier, a model without it
    if len(theirs) != len(ours):
        raise WeightFileError(f"{path}: the file has {counts[0]} layers with weights, model '{model.name}' "
                              f"has {counts[1]}: not the weights of this architecture")
    assignments = []
    for layer, (name, ws) in zip(ours, theirs):
        params = layer.weights
        if layer.name != name and not (_AUTO_WEIGHTED_NAME.match(layer.name) and _AUTO_WEIGHTED_NAME.match(name)):
            raise WeightFileError(f"{path}: layer '{layer.name}' of model '{model.name}' is at the place of the "
                                  f"file's layer '{name}': not the weights of this architecture")
        if len(ws) != len(params) or any(tuple(a.shape) != tuple(p.shape) for p, (_, a) in zip(params, ws)):
            raise WeightFileError(f"{path}: layer '{layer.name}' expects weights "
                                  f"{[(p.name, tuple(p.shape)) for p in params]}, the file's layer '{name}' has "
                                  f"{[(n, tuple(a.shape)) for n, a in ws]}")
        assignments.extend(zip(params, (a for _, a in ws)))
    if head_note is not None:
        log.warning(_head_note(model, head_note))
    for p, a in assignments:
        p.assign(np.asarray(a, dtype=p.dtype))


def read_torch_state_dict(path):
    """A PyTorch checkpoint's state dict as {key: numpy array}."""
    from core.saving import load_torch_checkpoint, state_dict_from_checkpoint

    sd = state_dict_from_checkpoint(load_torch_checkpoint(path))
    return {k: np.asarray(v) for k, v in sd.items()}


def load_state_dict_with_head(model, state_dict, mapping, head_prefix):
    """``core.saving.torch_mapping.load_torch_state_dict`` where a head of another class count (or
    none in the state dict) is left freshly initialised, with a log line; all else is strict."""
    from core.saving.torch_mapping import StateDictMappingError, load_torch_state_dict

    head = model.head if isinstance(model, ClassifierModel) else None
    sd, mapping = dict(state_dict), dict(mapping)
    wkey = f"{head_prefix}.weight"
    head_ok = head is not None and wkey in sd and tuple(np.shape(sd[wkey])) == (head.units,
                                                                                 int(head.weights[0].shape[0]))
    if head_ok:
        load_torch_state_dict(model, sd, mapping)
        return
    if head is not None:
        log.warning(_head_note(model, f"'{head_prefix}' has shape {tuple(np.shape(sd[wkey]))}" if wkey in sd
                               else f"'{head_prefix}' is not in the state dict"))
        mapping.pop(head.name, None)
    sd = {k: v for k, v in sd.items() if not k.startswith(head_prefix + ".")}
    prefixes = tuple(p + "." for p in mapping.values())
    unused = sorted(k for k in sd if not k.startswith(prefixes))
    if unused:
        raise StateDictMappingError(f"state dict keys not used by the mapping: {unused[:10]}")
    load_torch_state_dict(model, sd, mapping, strict=False)


# ============================================================================= Keras ResNet50/101/152
_KERAS_DEPTHS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}


def _bn(name, eps=KERAS_BN_EPS):
    return L.BatchNormalization(axis=3, epsilon=eps, name=name)


def _bottleneck(x, filters, stride=1, conv_shortcut=True, name=None):
    """``keras.applications`` ``residual_block_v1`` (same layer names, creation order and biases)."""
    if conv_shortcut:
        shortcut = L.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = L.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(f"{name}_1_bn")(x)
    x = L.Activation("relu", name=f"{name}_1_relu")(x)
    x = L.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = L.Activation("relu", name=f"{name}_2_relu")(x)
    x = L.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(f"{name}_3_bn")(x)
    x = L.Add(name=f"{name}_add")([shortcut, x])
    return L.Activation("relu", name=f"{name}_out")(x)


def _keras_resnet(arch, num_classes=1000, input_shape=None, include_top=True, pooling=None,
                  classifier_activation="softmax", input_tensor=None, model_name=None):
    img, inputs = image_input(input_tensor, input_shape, (224, 224, 3) if include_top else (None, None, 3))
    check_input_size(arch, img)
    x = L.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img)
    x = L.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = _bn("conv1_bn")(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), _KERAS_DEPTHS[arch])):
        label = f"conv{stage + 2}"
        x = _bottleneck(x, filters, stride=1 if stage == 0 else 2, name=f"{label}_block1")
        for i in range(2, blocks + 1):
            x = _bottleneck(x, filters, conv_shortcut=False, name=f"{label}_block{i}")
    return classifier_top(model_name or arch, x, inputs, lambda t: L.GlobalAveragePooling2D(name="avg_pool")(t),
                          include_top, pooling, num_classes, classifier_activation, "predictions", arch)


_KERAS_LOADERS = {"keras_h5": load_keras_h5, "keras_legacy_h5": load_keras_h5, "keras_full_h5": load_keras_h5}


@register_model("resnet50", loaders=_KERAS_LOADERS, default_num_classes=1000)
def resnet50(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
             input_tensor=None, model_name=None):
    """ResNet-50 v1 (keras.applications layout; 25.6M parameters)."""
    return _keras_resnet("resnet50", num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name)


@register_model("resnet101", loaders=_KERAS_LOADERS, default_num_classes=1000)
def resnet101(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
              input_tensor=None, model_name=None):
    """ResNet-101 v1 (keras.applications layout; 44.7M parameters)."""
    return _keras_resnet("resnet101", num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name)


@register_model("resnet152", loaders=_KERAS_LOADERS, default_num_classes=1000)
def resnet152(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
              input_tensor=None, model_name=None):
    """ResNet-152 v1 (keras.applications layout; 60.4M parameters)."""
    return _keras_resnet("resnet152", num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name)


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    """``keras.applications.ResNet50``: the same arguments, checks and layer names."""
    return keras_application("resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                             classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet101"):
    """``keras.applications.ResNet101``: the same arguments, checks and layer names."""
    return keras_application("resnet101", include_top, weights, input_tensor, input_shape, pooling, classes,
                             classifier_activation, name)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet152"):
    """``keras.applications.ResNet152``: the same arguments, checks and layer names."""
    return keras_application("resnet152", include_top, weights, input_tensor, input_shape, pooling, classes,
                             classifier_activation, name)


# ============================================================================= torchvision ResNet18/34
_TORCH_DEPTHS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


def _torch_conv3x3(x, filters, stride, name):
    """``nn.Conv2d(k=3, stride, padding=1, bias=False)`` as ``<name>_conv``: symmetric padding, then
    ``valid`` (Keras ``same`` pads stride-2 convolutions of even inputs only at the bottom/right)."""
    if stride == 1:
        return L.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)  # = pad 1
    x = L.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_pad")(x)
    return L.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_conv")(x)


def _basic_block(x, filters, stride, downsample, name):
    """torchvision ``BasicBlock`` (``conv1``/``bn1``/``conv2``/``bn2``, ``downsample`` = ``_0_*``)."""
    if downsample:
        shortcut = L.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn", TORCH_BN_EPS)(shortcut)
    else:
        shortcut = x
    y = _torch_conv3x3(x, filters, stride, f"{name}_1")
    y = _bn(f"{name}_1_bn", TORCH_BN_EPS)(y)
    y = L.Activation("relu", name=f"{name}_1_relu")(y)
    y = _torch_conv3x3(y, filters, 1, f"{name}_2")
    y = _bn(f"{name}_2_bn", TORCH_BN_EPS)(y)
    y = L.Add(name=f"{name}_add")([shortcut, y])
    return L.Activation("relu", name=f"{name}_out")(y)


_TV_LAYER = re.compile(r"^conv(\d)_block(\d+)_(\d)_(conv|bn)$")


def torchvision_mapping(model):
    """{layer name here: torchvision module prefix} of a ``resnet18``/``resnet34`` built here (derived
    from the layer names, so it also holds for a model restored with ``load_model``)."""
    mapping = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        name = layer.name
        if name in ("conv1_conv", "conv1_bn"):
            mapping[name] = "conv1" if name == "conv1_conv" else "bn1"
        elif name == model.head_name:
            mapping[name] = "fc"
        else:
            m = _TV_LAYER.match(name)
            if m is None:
                raise ValueError(f"layer '{name}' of model '{model.name}' has no torchvision counterpart")
            stage, block, i, kind = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
            prefix = f"layer{stage - 1}.{block - 1}"
            if i == 0:
                mapping[name] = f"{prefix}.downsample.{0 if kind == 'conv' else 1}"
            else:
                mapping[name] = f"{prefix}.{kind}{i}"
    return mapping


def _torch_resnet(arch, num_classes=1000, input_shape=None, include_top=True, pooling=None,
                  classifier_activation=None, input_tensor=None, model_name=None):
    img, inputs = image_input(input_tensor, input_shape, (224, 224, 3) if include_top else (None, None, 3))
    check_input_size(arch, img)
    x = L.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img)
    x = L.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn("conv1_bn", TORCH_BN_EPS)(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    # MaxPool2d(3, 2, padding=1) pads with -inf; after a ReLU, zero padding gives the same maxima
    x = L.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    in_ch = 64
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), _TORCH_DEPTHS[arch])):
        for b in range(blocks):
            stride = 2 if (stage > 0 and b == 0) else 1
            x = _basic_block(x, filters, stride, stride != 1 or in_ch != filters, f"conv{stage + 2}_block{b + 1}")
            in_ch = filters
    return classifier_top(model_name or arch, x, inputs, lambda t: L.GlobalAveragePooling2D(name="avg_pool")(t),
                          include_top, pooling, num_classes, classifier_activation, "fc", arch)


def load_torchvision_resnet(model, path, wentry=None):
    """A torchvision ResNet state dict (``conv1.weight``, ``bn1.*``, ``layer1.0.conv1.weight``, ...,
    ``fc.*``) into a ``resnet18``/``resnet34`` built here."""
    load_torchvision_state_dict(model, read_torch_state_dict(path))


def load_torchvision_state_dict(model, state_dict):
    """Copy an in-memory torchvision ResNet state dict (arrays) into ``model``."""
    load_state_dict_with_head(model, state_dict, torchvision_mapping(model), "fc")


_TORCH_LOADERS = {"torch_zip": load_torchvision_resnet, "torch_legacy": load_torchvision_resnet}


@register_model("resnet18", loaders=_TORCH_LOADERS, default_num_classes=1000)
def resnet18(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation=None,
             input_tensor=None, model_name=None):
    """ResNet-18 (torchvision layout, basic blocks; 11.7M parameters; outputs logits by default)."""
    return _torch_resnet("resnet18", num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name)


@register_model("resnet34", loaders=_TORCH_LOADERS, default_num_classes=1000)
def resnet34(num_classes=1000, input_shape=None, include_top=True, pooling=None, classifier_activation=None,
             input_tensor=None, model_name=None):
    """ResNet-34 (torchvision layout, basic blocks; 21.8M parameters; outputs logits by default)."""
    return _torch_resnet("resnet34", num_classes, input_shape, include_top, pooling, classifier_activation,
                         input_tensor, model_name)



__all__ = ["ResNet50", "ResNet101", "ResNet152", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "load_keras_h5", "load_keras_h5_ordered", "load_torchvision_resnet", "load_torchvision_state_dict",
           "torchvision_mapping"]
