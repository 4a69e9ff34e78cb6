"""Preprocessing belongs to the architecture and weight family: Keras's "caffe" mode for the Keras
ResNets/VGGs, torch mean/std for torchvision and the CIFAR ResNets; ``preprocess_input`` and
``decode_predictions`` per family as keras.applications has; a model from a local weights file
gets its family's spec; a model whose preprocessing is unknown raises."""
import numpy as np
import pytest

import zoo
from zoo import preprocessing
from zoo.models import resnet, resnet_cifar, vgg
from zoo.registry import family_input_spec

RNG = np.random.default_rng(0)
X = RNG.integers(0, 256, (2, 5, 4, 3)).astype(np.uint8)


def test_preprocess_input_modes_by_hand():
    x = X.astype(np.float64)
    caffe = x[..., ::-1] - np.array([103.939, 116.779, 123.68])
    torch = (x / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    tf = x / 127.5 - 1.0
    np.testing.assert_allclose(resnet.preprocess_input(X), caffe, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(vgg.preprocess_input(X), caffe, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(resnet_cifar.preprocess_input(X), torch, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(preprocessing.preprocess_input(X, "tf"), tf, rtol=1e-6, atol=1e-6)
    assert resnet.preprocess_input(X).dtype == np.float32
    assert X.dtype == np.uint8 and X.max() > 200  # the input is not modified
    with pytest.raises(ValueError, match="unknown preprocessing mode"):
        preprocessing.preprocess_input(X, "inception")
    with pytest.raises(ValueError, match="channels-last"):
        resnet.preprocess_input(X, data_format="channels_first")


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
    np.testing.assert_array_equal(m.preprocess(imgs), resnet_cifar.preprocess_input(imgs))


def test_cifar_decode_predictions():
    p = np.zeros((1, 10))
    p[0, 3], p[0, 5] = 0.7, 0.2
    assert resnet_cifar.decode_predictions(p, top=2) == [[("cat", 0.7), ("dog", 0.2)]]


def test_imagenet_decode_predictions_keras_triples(monkeypatch):
    import json

    index = {str(i): [f"n{i:08d}", f"class{i}"] for i in range(1000)}
    monkeypatch.setattr("zoo.labels.imagenet_class_index", lambda: [tuple(index[str(i)]) for i in range(1000)])
    p = np.zeros((2, 1000))
    p[0, 281], p[1, 7] = 0.9, 0.5
    out = resnet.decode_predictions(p, top=1)
    assert out == [[("n00000281", "class281", 0.9)], [("n00000007", "class7", 0.5)]]
    with pytest.raises(ValueError, match="shape"):
        vgg.decode_predictions(np.zeros((1, 10)))
    json.dumps(out)
