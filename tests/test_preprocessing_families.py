"""Preprocessing belongs to the architecture and weight family: Keras's "caffe" mode for the Keras
ResNets/VGGs, torch mean/std for torchvision and the CIFAR ResNets (``preprocess_input`` per
family: keras.applications' in zoo.applications, the CIFAR one in zoo.models.resnet_cifar); a
model from a local weights file gets its family's spec and preprocesses as the family's function
does; a model whose preprocessing is unknown raises."""
import numpy as np
import pytest

import zoo
from zoo import preprocessing
from zoo.applications import imagenet_utils, resnet50, vgg16
from zoo.models import resnet_cifar
from zoo.registry import family_input_spec

RNG = np.random.default_rng(0)
X = RNG.integers(0, 256, (2, 5, 4, 3)).astype(np.uint8)


def test_preprocess_input_modes_by_hand():
    x = X.astype(np.float64)
    caffe = x[..., ::-1] - np.array([103.939, 116.779, 123.68])
    torch = (x / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(resnet50.preprocess_input(X), caffe, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(vgg16.preprocess_input(X), caffe, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(resnet_cifar.preprocess_input(X), torch, rtol=1e-5, atol=1e-5)
    assert X.dtype == np.uint8 and X.max() > 200  # a uint8 input is not modified


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_family_spec_matches_keras_modes(mode):
    """A model's spec of a family preprocesses exactly as Keras's function of that mode."""
    spec = preprocessing.family_spec(mode, size=(5, 4))
    np.testing.assert_allclose(preprocessing.preprocess_images(X, spec),
                               imagenet_utils.preprocess_input(X.astype(np.float32), mode=mode), rtol=1e-6, atol=1e-5)
    with pytest.raises(ValueError, match="unknown preprocessing mode"):
        preprocessing.family_spec("inception")


def test_family_of_a_local_weights_file():
    assert family_input_spec("resnet50", "keras_legacy_h5")["mode"] == "caffe"
    assert family_input_spec("vgg16", "keras_full_h5")["channel_order"] == "BGR"
    spec = family_input_spec("resnet18", "torch_zip")
    assert spec["mode"] == "torch" and spec["crop"] == 224  # the manifest's torchvision spec
    assert family_input_spec("vgg11", "torch_zip")["mode"] == "torch"  # no entry: torch's ImageNet mean/std
    assert family_input_spec("resnet20", "torch_legacy")["size"] == [32, 32]
    assert family_input_spec("resnet50", "zoo_h5") is None
    assert family_input_spec("resnet50", "safetensors") is None


def test_model_without_known_preprocessing_raises():
    m = zoo.create_model("resnet20")
    with pytest.raises(ValueError, match="does not know its preprocessing"):
        m.preprocess(X)
    m.pretrained_cfg["input"] = preprocessing.family_spec("torch", size=(32, 32))
    assert m.preprocess(X).shape == (2, 32, 32, 3)


def test_local_checkpoint_gets_the_family_preprocessing():
    from tests.shared_data import require

    ckpt = require("weights/akamaster_resnet_cifar10/resnet20-12fca82f.th")
    m = zoo.create_model("resnet20", weights=str(ckpt))
    imgs = RNG.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    # x / 255 here, x * (1 / 255) in the spec: the same values up to float32 rounding
    np.testing.assert_allclose(m.preprocess(imgs), resnet_cifar.preprocess_input(imgs), rtol=1e-6, atol=1e-6)


def test_cifar_decode_predictions():
    p = np.zeros((1, 10))
    p[0, 3], p[0, 5] = 0.7, 0.2
    assert resnet_cifar.decode_predictions(p, top=2) == [[("cat", 0.7), ("dog", 0.2)]]
