"""Keras's ``keras.applications`` namespace served by the zoo's constructors: ``ResNet50``,
``VGG16``, ... and the Keras submodules (``resnet50``, ``resnet``, ``vgg16``, ``vgg19``,
``imagenet_utils``) with their ``preprocess_input`` and ``decode_predictions``.

``core.applications`` (``keras.applications`` under ``import core as keras``) finds this module
through the ``core.applications`` entry point group, or through the registry once ``zoo`` is imported."""
from . import imagenet_utils, resnet, resnet50, vgg16, vgg19
from .resnet import ResNet50, ResNet101, ResNet152
from .vgg16 import VGG16
from .vgg19 import VGG19

SUBMODULES = ("imagenet_utils", "resnet", "resnet50", "vgg16", "vgg19")

__all__ = ["ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19", *SUBMODULES]
