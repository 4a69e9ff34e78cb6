"""zoo registry API: register/list/create, weights by path, head reset, preprocessing from the
manifest input spec, decode_predictions."""
import logging

import numpy as np
import pytest

import zoo
from core import layers as L
from zoo.classifier import ClassifierModel
from zoo.preprocessing import preprocess_images
from zoo.registry import register_model


@register_model("toy_cnn", default_num_classes=3)
def toy_cnn(num_classes=3, input_shape=(8, 8, 3), classifier_activation="softmax"):
    inp = L.Input(input_shape)
    f = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu", name="conv")(inp))
    out = L.Dense(num_classes, activation=classifier_activation, name="fc")(f)
    return ClassifierModel(inp, out, features_tensor=f, head_name="fc", name="toy_cnn",
                           classifier_activation=classifier_activation)


def test_list_and_unknown_names():
    assert "toy_cnn" in zoo.list_models()
    assert zoo.list_models("toy_*") == ["toy_cnn"]
    with pytest.raises(ValueError, match="unknown model 'toy_cn'; did you mean toy_cnn"):
        zoo.create_model("toy_cn")
    with pytest.raises(ValueError, match="no weights 'imagenet' for model 'toy_cnn'"):
        zoo.create_model("toy_cnn", weights="imagenet")


def test_weights_from_path_and_head_reset(tmp_path, caplog):
    src = zoo.create_model("toy_cnn", num_classes=3)
    path = tmp_path / "toy.h5"
    src.save_weights(path)
    same = zoo.create_model("toy_cnn", weights=str(path))
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(same.predict(x, verbose=0), src.predict(x, verbose=0))
    conv_before = src.get_layer("conv").kernel.numpy().copy()
    with caplog.at_level(logging.INFO, logger="zoo"):
        src.reset_classifier(5)
    assert "classifier head reset from 3 to 5 classes" in caplog.text
    assert src.predict(x, verbose=0).shape == (2, 5) and src.num_classes == 5
    np.testing.assert_array_equal(src.get_layer("conv").kernel.numpy(), conv_before)
    assert src.features(x).shape == (2, 4)
    src.reset_classifier(0)
    assert src.predict(x, verbose=0).shape == (2, 4) and src.head is None


def test_fine_tuning_after_reset_trains_only_the_head():
    m = zoo.create_model("toy_cnn").reset_classifier(2)
    m.freeze(until="fc")
    conv = m.get_layer("conv").kernel.numpy().copy()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    m.fit(rng.random((16, 8, 8, 3)).astype("float32"), rng.integers(0, 2, 16), epochs=1, verbose=0)
    np.testing.assert_array_equal(m.get_layer("conv").kernel.numpy(), conv)


def test_preprocess_caffe_and_torch_specs():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    caffe = {"size": [6, 6], "channel_order": "BGR", "scale": 1.0, "mean": [103.939, 116.779, 123.68], "std": None}
    out = preprocess_images([img], caffe)
    expected = img[..., ::-1].astype(np.float32) - np.asarray([103.939, 116.779, 123.68], np.float32)
    np.testing.assert_array_equal(out[0], expected)
    torch_spec = {"size": [6, 6], "channel_order": "RGB", "scale": 1 / 255, "mean": [0.485, 0.456, 0.406],
                  "std": [0.229, 0.224, 0.225]}
    out = preprocess_images(img[None], torch_spec)
    f32 = np.float32
    expected = (img.astype(f32) * f32(1 / 255) - np.asarray([0.485, 0.456, 0.406], f32)) / np.asarray(
        [0.229, 0.224, 0.225], f32)
    np.testing.assert_array_equal(out[0], expected)
    crop = {"resize": 8, "crop": 4, "interpolation": "bilinear", "scale": 1.0}
    assert preprocess_images([rng.integers(0, 256, (10, 20, 3), dtype=np.uint8)], crop).shape == (1, 4, 4, 3)
    with pytest.raises(ValueError, match="NHWC"):
        preprocess_images(np.zeros((2, 3, 4, 5)), caffe)


def test_model_preprocess_uses_its_weights_spec():
    m = zoo.create_model("toy_cnn")
    m.pretrained_cfg = {"input": {"size": [8, 8], "scale": 0.5}, "labels": ["a", "b", "c"]}
    img = np.full((16, 16, 3), 200, np.uint8)
    x = m.preprocess([img])
    assert x.shape == (1, 8, 8, 3) and np.allclose(x, 100.0)
    preds = np.array([[0.1, 0.7, 0.2]])
    assert m.decode_predictions(preds, top=2) == [[("b", 0.7), ("c", 0.2)]]


def test_decode_predictions_checks():
    assert zoo.decode_predictions(np.array([[0.2, 0.8]]), top=1, labels=["no", "yes"]) == [[("yes", 0.8)]]
    with pytest.raises(ValueError, match="2 labels for predictions with 3 classes"):
        zoo.decode_predictions(np.ones((1, 3)), labels=["a", "b"])
    with pytest.raises(ValueError, match="no labels known for 3 classes"):
        zoo.decode_predictions(np.ones((1, 3)))


def test_classifier_model_saves_and_loads_with_head_and_features(tmp_path):
    from core.models import load_model

    m = zoo.create_model("toy_cnn").reset_classifier(2)
    m.pretrained_cfg = {"input": {"size": [8, 8], "scale": 0.5}, "labels": ["no", "yes"]}
    m.save(tmp_path / "clf.h5")
    loaded = load_model(tmp_path / "clf.h5")
    assert type(loaded).__name__ == "ClassifierModel" and loaded.head_name == "fc" and loaded.num_classes == 2
    x = np.random.default_rng(0).random((3, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), m.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.features(x).data, m.features(x).data)
    assert loaded.labels == ["no", "yes"]
    loaded.reset_classifier(4)
    assert loaded.predict(x, verbose=0).shape == (3, 4)
