"""ResNets for CIFAR (He et al. 2015, section 4.2): ``resnet20``, ``resnet32``, ``resnet44``,
``resnet56``, ``resnet110``, loading the akamaster/pytorch_resnet_cifar10 checkpoints.

    model = zoo.create_model("resnet20", weights="cifar10")
    probs = model.predict(model.preprocess(images_uint8_nhwc))

Layout: conv3x3(3->16) BN ReLU; three stages of n = (depth - 2) / 6 basic blocks with 16, 32, 64
channels (stride 2 in the first block of stages 2 and 3); global average pooling; Dense ``fc``.
Where the shape changes the shortcut is "option A": a strided identity ``x[:, ::2, ::2, :]``
zero-padded with ``planes // 4`` channels on each side (no weights). BatchNorm uses PyTorch's
epsilon 1e-5 and momentum 0.1 (Keras momentum 0.9). Stride-2 convolutions pad 1 pixel on every
side as PyTorch does (``ZeroPadding2D(1)`` + a "valid" conv), not TensorFlow's asymmetric "same".

Layer names follow the PyTorch modules: ``conv1``, ``bn1``, ``layer2_0_conv1``, ``layer2_0_bn1``,
..., ``fc`` (PyTorch ``linear``), so that ``module.layer2.0.conv1.weight`` maps to ``layer2_0_conv1``.
"""
from __future__ import annotations

from core import layers as L
from core import ops
from core.layers.base import Layer, register_serializable

from ..applications import imagenet_utils
from ..classifier import ClassifierModel
from ..labels import decode_predictions as _decode
from ..registry import register_model

_PARAMS = {20: "0.27M", 32: "0.46M", 44: "0.66M", 56: "0.85M", 110: "1.7M"}
_BN = dict(momentum=0.9, epsilon=1e-5)


@register_serializable(package="zoo")
class ShortcutA(Layer):
    """The "option A" shortcut: ``x[:, ::stride, ::stride, :]`` with ``pad`` zero channels added on
    each side of the channel axis (channels-last). No weights."""

    def __init__(self, pad, stride=2, **kwargs):
        super().__init__(**kwargs)
        if int(pad) < 0 or int(stride) < 1:
            raise ValueError(f"ShortcutA: expected pad >= 0 and stride >= 1, received pad={pad}, stride={stride}")
        self.pad, self.stride = int(pad), int(stride)

    def call(self, inputs):
        if inputs.ndim != 4:
            raise ValueError(f"ShortcutA '{self.name}': expected a 4-D (batch, height, width, channels) input, "
                             f"received shape {tuple(inputs.shape)}")
        s, p = self.stride, self.pad
        x = inputs[:, ::s, ::s, :] if s > 1 else inputs
        return ops.pad(x, ((0, 0), (0, 0), (0, 0), (p, p))) if p else x

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        s = self.stride
        return (n, None if h is None else -(-h // s), None if w is None else -(-w // s),
                None if c is None else c + 2 * self.pad)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad, "stride": self.stride}


def _conv3x3(x, filters, stride, name):
    """A 3x3 conv without bias, padded symmetrically by 1 like PyTorch's ``padding=1``."""
    if stride == 1:
        return L.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name=name)(x)
    x = L.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return L.Conv2D(filters, 3, strides=stride, padding="valid", use_bias=False, kernel_initializer="he_normal",
                    name=name)(x)


def _basic_block(x, planes, stride, name):
    in_planes = x.shape[-1]
    out = _conv3x3(x, planes, stride, f"{name}_conv1")
    out = L.BatchNormalization(name=f"{name}_bn1", **_BN)(out)
    out = L.ReLU(name=f"{name}_relu1")(out)
    out = _conv3x3(out, planes, 1, f"{name}_conv2")
    out = L.BatchNormalization(name=f"{name}_bn2", **_BN)(out)
    shortcut = x
    if stride != 1 or in_planes != planes:
        if planes != in_planes + 2 * (planes // 4):
            raise ValueError(f"{name}: option-A shortcut pads {planes // 4} channels per side, which cannot "
                             f"take {in_planes} channels to {planes}")
        shortcut = ShortcutA(planes // 4, stride, name=f"{name}_shortcut")(x)
    out = L.Add(name=f"{name}_add")([out, shortcut])
    return L.ReLU(name=f"{name}_out")(out)


def cifar_resnet(depth, num_classes=10, input_shape=None, include_top=True, pooling=None,
                 classifier_activation="softmax", name=None):
    """A CIFAR ResNet of ``depth`` = 6n + 2 layers (option-A shortcuts) as a ``ClassifierModel``.

    ``include_top=False`` drops ``fc``; the output is then the last feature map (``pooling=None``),
    or its global average (``"avg"``) or maximum (``"max"``).
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), received {depth}")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', received {pooling!r}")
    if include_top and (num_classes is None or int(num_classes) < 1):
        raise ValueError(f"include_top=True needs num_classes >= 1, received num_classes={num_classes!r}")
    input_shape = tuple(input_shape or (32, 32, 3))
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), received {input_shape}")
    n = (depth - 2) // 6
    inputs = L.Input(shape=input_shape, name="input")
    x = L.Conv2D(16, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name="conv1")(inputs)
    x = L.BatchNormalization(name="bn1", **_BN)(x)
    x = L.ReLU(name="relu")(x)
    for stage, planes in enumerate((16, 32, 64), start=1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            x = _basic_block(x, planes, stride, f"layer{stage}_{i}")
    if pooling == "max" and not include_top:
        features = L.GlobalMaxPooling2D(name="max_pool")(x)
    else:
        features = L.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        outputs = L.Dense(int(num_classes), activation=classifier_activation, name="fc")(features)
        head = "fc"
    else:
        outputs, head = (features if pooling else x), None
    model = ClassifierModel(inputs, outputs, features_tensor=features, head_name=head,
                            name=name or f"resnet{depth}", classifier_activation=classifier_activation)
    model.registry_name = f"resnet{depth}"
    return model


# ---------------------------------------------------------------------------- PyTorch checkpoints
def torch_mapping(model):
    """{layer name here: PyTorch module prefix} for the layers of ``model`` that have weights."""
    mapping = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        nm = layer.name
        if nm in ("conv1", "bn1"):
            mapping[nm] = nm
        elif nm == "fc":
            mapping[nm] = "linear"
        elif nm.startswith("layer"):
            stage, block, part = nm.split("_", 2)
            mapping[nm] = f"{stage}.{block}.{part}"
        else:
            raise ValueError(f"layer '{nm}' of '{model.name}' has weights but no PyTorch counterpart")
    return mapping


def load_torch_weights(model, path, weights_entry=None):
    """Load an akamaster CIFAR ResNet checkpoint (legacy or zip ``torch.save``; a DataParallel
    ``module.`` prefix is stripped) into ``model``. Every tensor must be used and fit."""
    from core.saving import load_torch_checkpoint, state_dict_from_checkpoint
    from core.saving.torch_mapping import load_torch_state_dict

    sd = state_dict_from_checkpoint(load_torch_checkpoint(path))
    mapping = torch_mapping(model)
    if "fc" not in mapping:  # a headless model ignores the checkpoint's classifier
        sd = {k: v for k, v in sd.items() if not k.startswith("linear.")}
    load_torch_state_dict(model, sd, mapping)


_LOADERS = {"torch_legacy": load_torch_weights, "torch_zip": load_torch_weights}


def _make(depth):
    def builder(num_classes=10, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                **kwargs):
        return cifar_resnet(depth, num_classes=num_classes, input_shape=input_shape, include_top=include_top,
                            pooling=pooling, classifier_activation=classifier_activation, **kwargs)

    builder.__name__ = f"resnet{depth}"
    builder.__doc__ = (f"ResNet-{depth} for CIFAR ({(depth - 2) // 6} basic blocks per stage, option-A shortcuts, "
                       f"about {_PARAMS[depth]} parameters).")
    return register_model(f"resnet{depth}", loaders=_LOADERS, default_num_classes=10)(builder)


resnet20 = _make(20)
resnet32 = _make(32)
resnet44 = _make(44)
resnet56 = _make(56)
resnet110 = _make(110)


CIFAR10_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def preprocess_input(x, data_format=None):
    """What the akamaster CIFAR ResNets expect: "torch" mode (RGB scaled to [0, 1], then the
    ImageNet mean/std, as the upstream trainer normalised). Images must already be 32x32."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """For each row of CIFAR-10 scores (N, 10): the ``top`` (class name, score) pairs, best first."""
    return _decode(preds, top=top, labels=CIFAR10_LABELS)

__all__ = ["preprocess_input", "decode_predictions", "CIFAR10_LABELS", "cifar_resnet", "ShortcutA", "load_torch_weights", "torch_mapping",
           "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]
