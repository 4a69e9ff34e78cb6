"""zoo: model architectures, the model registry and the weight registry.

    import zoo
    model = zoo.create_model("resnet20", weights="cifar10")
    zoo.list_models("resnet*", pretrained=True)
"""
from . import weights
from .registry import create_model, list_models, register_model
from .labels import decode_predictions


def __getattr__(name):  # Keras-style constructors (zoo.ResNet50, zoo.VGG16, ...) and SentenceEncoder
    import importlib

    if name.startswith("_") or name in ("models", "registry", "labels", "classifier", "preprocessing"):
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    importlib.import_module("zoo.models")
    for mod in ("resnet", "vgg", "text"):
        try:
            m = importlib.import_module(f"zoo.models.{mod}")
        except ModuleNotFoundError:
            continue
        if hasattr(m, name):
            return getattr(m, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = ["create_model", "list_models", "register_model", "decode_predictions"]
