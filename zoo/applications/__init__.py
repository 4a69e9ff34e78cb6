"""Keras's ``keras.applications`` namespace served by the zoo's constructors: ``ResNet50``,
``VGG16``, ``MobileNetV3Small``, ... and the Keras submodules (``resnet50``, ``resnet``, ``vgg16``,
``vgg19``, ``mobilenet``, ``mobilenet_v2``, ``mobilenet_v3``, ``efficientnet``, ``densenet``,
``imagenet_utils``, ``efficientnet_v2``, ``convnext``) with their ``preprocess_input`` and ``decode_predictions``.

``core.applications`` (``keras.applications`` under ``import core as keras``) finds this module
through the ``core.applications`` entry point group, or through the registry once ``zoo`` is imported."""
from . import (densenet, efficientnet, imagenet_utils, mobilenet, mobilenet_v2, mobilenet_v3, resnet, resnet50, vgg16,
               vgg19)
from .densenet import DenseNet121, DenseNet169, DenseNet201
from .efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3, EfficientNetB4,
                           EfficientNetB5, EfficientNetB6, EfficientNetB7)
from .mobilenet import MobileNet
from .mobilenet_v2 import MobileNetV2
from .mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from .resnet import ResNet50, ResNet101, ResNet152
from .vgg16 import VGG16
from .vgg19 import VGG19

from . import convnext, efficientnet_v2
from .convnext import ConvNeXtBase, ConvNeXtLarge, ConvNeXtSmall, ConvNeXtTiny, ConvNeXtXLarge
from .efficientnet_v2 import (EfficientNetV2B0, EfficientNetV2B1, EfficientNetV2B2, EfficientNetV2B3, EfficientNetV2L,
                              EfficientNetV2M, EfficientNetV2S)

SUBMODULES = ("densenet", "efficientnet", "imagenet_utils", "mobilenet", "mobilenet_v2", "mobilenet_v3", "resnet",
              "resnet50", "vgg16", "vgg19",
              "efficientnet_v2", "convnext")

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", *(f"EfficientNetB{i}" for i in range(8)), "MobileNet",
           "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small", "ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19",
           "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S",
           "EfficientNetV2M", "EfficientNetV2L", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge",
           "ConvNeXtXLarge", *SUBMODULES]

# and the submodules resnet_v2, xception, inception_v3, inception_resnet_v2, nasnet
from . import inception_resnet_v2, inception_v3, nasnet, resnet_v2, xception  # noqa: E402
from .inception_resnet_v2 import InceptionResNetV2  # noqa: E402
from .inception_v3 import InceptionV3  # noqa: E402
from .nasnet import NASNetLarge, NASNetMobile  # noqa: E402
from .resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2  # noqa: E402
from .xception import Xception  # noqa: E402

SUBMODULES += ("inception_resnet_v2", "inception_v3", "nasnet", "resnet_v2", "xception")
__all__ += ["InceptionResNetV2", "InceptionV3", "NASNetLarge", "NASNetMobile", "ResNet50V2", "ResNet101V2",
            "ResNet152V2", "Xception", "inception_resnet_v2", "inception_v3", "nasnet", "resnet_v2", "xception"]
