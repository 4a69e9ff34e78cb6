"""Architectures; importing this package registers them with the model registry."""
import importlib as _importlib

for _mod in ("resnet_cifar", "resnet", "vgg", "mobilenet", "efficientnet", "densenet", "text", "timeseries",
             "resnet_v2", "xception", "inception_v3", "inception_resnet_v2", "nasnet",
             "efficientnet_v2", "convnext"):
    try:
        _importlib.import_module(f"{__name__}.{_mod}")
    except ModuleNotFoundError as _e:  # a family not written yet
        if _e.name != f"{__name__}.{_mod}":
            raise
