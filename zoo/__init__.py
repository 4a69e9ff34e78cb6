"""zoo: model architectures, the model registry and the weight registry.

    import zoo
    model = zoo.create_model("resnet20", weights="cifar10")
    zoo.list_models("resnet*", pretrained=True)
"""
from core.object_registration import register_lazy_module as _register_lazy_module

from . import weights
from .registry import create_model, list_models, register_model
from .labels import decode_predictions


# the zoo's serializable classes (registered as "zoo>Name"), its ONNX converters and its
# keras.applications namespace load on first need, never with `import core` alone
_register_lazy_module("zoo", "zoo.classifier")
_register_lazy_module("zoo", "zoo.models")
_register_lazy_module("onnx_converters", "zoo.onnx_converters")
_register_lazy_module("applications", "zoo.applications")
# Keras's ConvNeXt layers (LayerScale, StochasticDepth) as Keras-written configs name them
_register_lazy_module("keras.src.applications.convnext", "zoo.layers")


def __getattr__(name):  # Keras-style constructors (zoo.ResNet50, zoo.VGG16, ...) and SentenceEncoder
    import importlib

    if name.startswith("_") or name in ("models", "registry", "labels", "classifier", "preprocessing"):
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    importlib.import_module("zoo.models")
    for mod in ("resnet", "vgg", "mobilenet", "efficientnet", "densenet", "text",
                "resnet_v2", "xception", "inception_v3", "inception_resnet_v2", "nasnet",
                "efficientnet_v2", "convnext"):
        try:
            m = importlib.import_module(f"zoo.models.{mod}")
        except ModuleNotFoundError:
            continue
        if hasattr(m, name):
            return getattr(m, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = ["create_model", "list_models", "register_model", "decode_predictions"]
