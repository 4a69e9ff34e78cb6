"""ImageNet ResNet 18/34/50/101/152 and VGG 11/13/16/19 (+ _bn): Keras/torchvision layouts, weight
loading and parity with Keras / PyTorch outputs.

The reference outputs come from tests/fixtures/make_imagenet_fixtures.py (Keras 3 / PyTorch in a
separate environment). The weights are regenerated here from the same NumPy recipe, written in
Keras's legacy ``.h5`` layout (or as a torchvision-layout state dict / torch zip file) and loaded
into the zoo models through the public API.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import struct
import zipfile

import numpy as np
import pytest

import zoo
from core import layers as L
from core.saving.errors import WeightFileError
from core.saving.torch_mapping import StateDictMappingError
from zoo.models.resnet import keras_layer_order

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_imagenet_fixtures",
                                               os.path.join(HERE, "fixtures", "make_imagenet_fixtures.py"))
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)

if not (os.path.exists(recipe.LAYOUT_JSON) and os.path.exists(recipe.OUTPUTS_NPZ)):
    pytest.skip("tests/fixtures/imagenet_models is missing", allow_module_level=True)
with open(recipe.LAYOUT_JSON) as _f:
    META = json.load(_f)
with np.load(recipe.OUTPUTS_NPZ) as _z:
    OUT = {k: _z[k] for k in _z.files}
MODELS = META["models"]
TOL = 1e-4
VGG_HEAD = 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000   # fc1, fc2, predictions at 224x224


def _layout(key):
    return [(name, [(w, tuple(s)) for w, s in ws]) for name, ws in MODELS[key]["layers"]]


def _keras_values(key):
    family = MODELS[key]["family"]
    sums = MODELS[key]["checksums"]

    def value(layer, wname, shape):
        v = recipe.keras_weight(family, layer, wname, shape)
        np.testing.assert_allclose(recipe.checksum(v), sums[wname], rtol=1e-6, atol=1e-6,
                                   err_msg=f"the recipe no longer reproduces {wname}")
        return v
    return value


def _write_h5(tmp_dir, key):
    path = os.path.join(tmp_dir, f"{key}.h5")
    recipe.write_keras_legacy_h5(path, _layout(key), _keras_values(key))
    return path


def _torch_state_dict(key):
    family, sums = MODELS[key]["family"], MODELS[key]["checksums"]
    sd = {}
    for k, shape, dtype in MODELS[key]["state_dict"]:
        v = recipe.torch_weight(family, k, tuple(shape))
        assert str(v.dtype) == dtype
        np.testing.assert_allclose(recipe.checksum(v), sums[k], rtol=1e-6, atol=1e-6, err_msg=k)
        sd[k] = v
    return sd


def _max_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b).max())


@pytest.fixture(scope="module")
def resnet50_h5(tmp_path_factory):
    return _write_h5(str(tmp_path_factory.mktemp("resnet50")), "resnet50")


@pytest.fixture(scope="module")
def resnet18_state_dict():
    """The recipe's torchvision resnet18 state dict, made once for the tests that read it (none writes it)."""
    return _torch_state_dict("resnet18")


@pytest.fixture(scope="module")
def resnet50_notop_h5(tmp_path_factory):
    return _write_h5(str(tmp_path_factory.mktemp("resnet50_notop")), "resnet50_notop_avg")


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ============================================================================ architecture / layout
def _our_layout(model):
    """[(layer name, [(weight name, shape)])] for layers with weights, as Keras lists them."""
    return [(l.name, [(w.name, tuple(w.shape)) for w in l.weights]) for l in model.layers if l.weights]


def _keras_weighted_layout(key):
    return [(n, [(w.split("/")[-1].split(":")[0], s) for w, s in ws]) for n, ws in _layout(key) if ws]


@pytest.mark.slow
@pytest.mark.parametrize("key,ctor,total", [
    ("resnet50", "ResNet50", "25,636,712"), ("resnet101", "ResNet101", "44,707,176"),
    ("resnet152", "ResNet152", "60,419,944"), ("vgg16", "VGG16", "138,357,544"), ("vgg19", "VGG19", None)])
def test_keras_architectures_match_layer_by_layer(key, ctor, total):
    """Layer names, order, weights and parameter counts equal keras.applications' (VGG19 without
    its 124M-weight top, which is the same as VGG16's, to keep the test fast)."""
    top = total is not None
    model = getattr(zoo, ctor)(weights=None, include_top=top, input_shape=None if top else (224, 224, 3))
    assert model.name == key
    assert model.count_params() == MODELS[key]["params"] - (0 if top else VGG_HEAD)
    if top:
        lines = []
        model.summary(print_fn=lines.append)
        assert any(f"Total params: {total}" in line for line in lines)
    # every layer with Keras's name, each layer's weights in Keras's legacy order and shapes
    keras_names = [n for n, _ in _layout(key)][1:]          # [0] is the InputLayer
    top_layers = ["flatten", "fc1", "fc2", "predictions"]
    if not top:
        keras_names = [n for n in keras_names if n not in top_layers]
    assert sorted(l.name for l in model.layers[1:]) == sorted(keras_names)
    assert dict(_our_layout(model)) == {n: ws for n, ws in _keras_weighted_layout(key) if top or n not in top_layers}
    # Keras's own layer order (by depth; shortcut branches interleaved) is reproduced exactly
    assert [l.name for l in keras_layer_order(model)][1:] == keras_names
    first = "conv1_conv" if key.startswith("resnet") else "block1_conv1"
    assert [w.path for w in model.weights][:2] == [f"{first}/kernel", f"{first}/bias"]


@pytest.mark.parametrize("name,params", [
    ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("vgg11", 132_863_336), ("vgg13", 133_047_848),
    ("vgg16", 138_357_544), ("vgg19", 143_667_240), ("vgg11_bn", 132_868_840), ("vgg13_bn", 133_053_736),
    ("vgg16_bn", 138_365_992), ("vgg19_bn", 143_678_248)])
def test_torchvision_parameter_counts(name, params):
    """Trainable counts equal torchvision's (its BN running statistics are buffers, not parameters);
    VGGs are built without their 124M-weight top here, which is added by hand."""
    vgg = name.startswith("vgg")
    model = zoo.create_model(name, include_top=not vgg)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights) + (VGG_HEAD if vgg else 0)
    assert trainable == params
    if not vgg and name in MODELS:
        assert MODELS[name]["torch_params"] == params


def test_registered_names():
    expected = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg13", "vgg16", "vgg19",
                "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"}
    assert expected <= set(zoo.list_models())
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg16", "vgg19"} <= set(
        zoo.list_models(pretrained=True))
    assert zoo.list_models("vgg1?_bn") == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]


def test_vgg_bn_and_small_variants_layout():
    m = zoo.create_model("vgg13_bn", include_top=False, input_shape=(32, 32, 3))
    names = [l.name for l in m.layers]
    assert names[1:5] == ["block1_conv1", "block1_conv1_bn", "block1_conv1_relu", "block1_conv2"]
    assert sum(n.endswith("_bn") for n in names) == 10 and names[-1] == "block5_pool"
    assert m.output.shape == (None, 1, 1, 512)
    m11 = zoo.create_model("vgg11", include_top=False)
    assert [l.name for l in m11.layers if l.weights] == [
        "block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2", "block4_conv1", "block4_conv2",
        "block5_conv1", "block5_conv2"]


# ============================================================================ Keras parity
@pytest.mark.slow
def test_resnet50_keras_h5_parity(resnet50_h5):
    """One forward through ``features()``; the head is applied here. ``predict`` (the softmax head
    in the graph) is compared in test_keras_constructor_imagenet_goes_through_the_manifest."""
    x = recipe.recipe_input(MODELS["resnet50"]["input"])
    model = zoo.ResNet50(weights=resnet50_h5)                      # softmax head, as Keras
    feats = np.asarray(model.features(x).data)
    logits = feats @ model.head.kernel.numpy() + model.head.bias.numpy()
    d = {"features": _max_diff(feats, OUT["resnet50/features"]), "logits": _max_diff(logits, OUT["resnet50/y"]),
         "probs": _max_diff(_softmax(logits), OUT["resnet50/probs"])}
    print("resnet50 max |diff| vs Keras:", d)
    assert max(d.values()) < TOL, d


@pytest.mark.slow
def test_resnet50_notop_odd_size_parity(resnet50_notop_h5):
    key = "resnet50_notop_avg"
    model = zoo.ResNet50(include_top=False, weights=resnet50_notop_h5, pooling="avg", input_shape=(97, 83, 3))
    assert model.head is None and model.output.shape == (None, 2048)
    y = model.predict(recipe.recipe_input(MODELS[key]["input"]), verbose=0)
    d = _max_diff(y, OUT[f"{key}/y"])
    print("resnet50 notop (97x83, avg) max |diff|:", d)
    assert d < TOL


@pytest.mark.slow
def test_vgg16_keras_h5_parity(tmp_path):
    """VGG16 with its top at 64x64 (Keras builds it so with weights=None; the Flatten sees 2x2x512)."""
    key = "vgg16_64"
    x = recipe.recipe_input(MODELS[key]["input"])
    model = zoo.VGG16(weights=_write_h5(str(tmp_path), key), input_shape=(64, 64, 3))
    assert model.num_features == 4096 and model.head_name == "predictions"
    assert model.count_params() == MODELS[key]["params"]
    feats = np.asarray(model.features(x).data)
    logits = feats @ model.head.kernel.numpy() + model.head.bias.numpy()
    d = {"features": _max_diff(feats, OUT[f"{key}/features"]), "logits": _max_diff(logits, OUT[f"{key}/y"]),
         "probs": _max_diff(_softmax(logits), OUT[f"{key}/probs"])}
    print("vgg16 (64x64) max |diff| vs Keras:", d)
    assert max(d.values()) < TOL, d


# ============================================================================ torchvision parity
def _op_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _op_int(i):
    return b"J" + struct.pack("<i", i)


def _op_tuple(items):
    return b"(" + b"".join(items) + b"t"


def _op_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def write_torch_zip(path, state_dict):
    """A ``torch.save(state_dict)`` zip checkpoint written without torch (pickle opcodes)."""
    storages = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}
    pkl, records = [b"\x80\x02}("], []
    for i, (k, v) in enumerate(state_dict.items()):
        v = np.ascontiguousarray(v)
        strides = tuple(s // v.itemsize for s in v.strides)
        pid = _op_tuple([_op_str("storage"), _op_global("torch", storages[v.dtype]), _op_str(str(i)),
                         _op_str("cpu"), _op_int(v.size)])
        args = [pid + b"Q", _op_int(0), _op_tuple([_op_int(s) for s in v.shape]),
                _op_tuple([_op_int(s) for s in strides]), b"\x89", _op_global("collections", "OrderedDict") + b")R"]
        pkl.append(_op_str(k) + _op_global("torch._utils", "_rebuild_tensor_v2") + _op_tuple(args) + b"R")
        records.append((str(i), v.astype(v.dtype.newbyteorder("<")).tobytes()))
    pkl.append(b"u.")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"".join(pkl))
        z.writestr("archive/byteorder", b"little")
        for key, data in records:
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", b"3\n")


@pytest.mark.slow
def test_resnet18_torch_zip_parity_two_sizes(tmp_path, resnet18_state_dict):
    path = str(tmp_path / "resnet18-recipe.pth")
    write_torch_zip(path, resnet18_state_dict)
    model = zoo.create_model("resnet18", weights=path, input_shape=(None, None, 3))
    assert model.head_name == "fc" and model.num_classes == 1000
    for name in MODELS["resnet18"]["inputs"]:
        d = _max_diff(model.predict(recipe.recipe_input(name), verbose=0), OUT[f"resnet18/{name}"])
        print(f"resnet18 {name} max |diff| vs PyTorch:", d)
        assert d < TOL


@pytest.mark.slow
def test_resnet34_state_dict_parity():
    from zoo.models.resnet import load_torchvision_state_dict

    model = zoo.create_model("resnet34")
    load_torchvision_state_dict(model, _torch_state_dict("resnet34"))
    ref = OUT["resnet34/img224"]
    d = _max_diff(model.predict(recipe.recipe_input("img224"), verbose=0), ref)
    print("resnet34 max |diff| vs PyTorch:", d, "(logits up to", float(np.abs(ref).max()), ")")
    assert d < TOL


@pytest.mark.slow
def test_vgg11_bn_torchvision_state_dict_parity():
    from zoo.models.vgg import load_torchvision_state_dict

    model = zoo.create_model("vgg11_bn", classifier_activation=None, input_shape=(64, 64, 3))
    load_torchvision_state_dict(model, _torch_state_dict("vgg11_bn"))   # classifier.0 re-ordered (C,H,W)->(H,W,C)
    d = _max_diff(model.predict(recipe.recipe_input("img64"), verbose=0), OUT["vgg11_bn/img64"])
    print("vgg11_bn max |diff| vs PyTorch:", d)
    assert d < TOL


@pytest.mark.slow
def test_torch_state_dict_errors(resnet18_state_dict):
    from zoo.models.resnet import load_torchvision_state_dict

    sd = resnet18_state_dict
    with pytest.raises(StateDictMappingError, match="layer1.2.conv1.weight"):
        load_torchvision_state_dict(zoo.create_model("resnet34", input_shape=(32, 32, 3)), sd)
    with pytest.raises(StateDictMappingError, match="not used"):
        load_torchvision_state_dict(zoo.create_model("resnet18", input_shape=(32, 32, 3)),
                                    dict(sd, **{"extra.weight": np.zeros(3, np.float32)}))


# ============================================================================ heads, pooling, features
@pytest.mark.slow
def test_create_model_with_path_and_other_class_count_resets_head(resnet50_h5, caplog):
    with caplog.at_level(logging.WARNING, logger="zoo"):
        model = zoo.create_model("resnet50", weights=resnet50_h5, num_classes=10, input_shape=(64, 48, 3))
    assert model.num_classes == 10 and model.output.shape == (None, 10)
    assert any("re-initialised" in r.getMessage() and "10 classes" in r.getMessage() for r in caplog.records)
    # the backbone still has the file's weights
    want = recipe.keras_weight("resnet", "conv5_block3_3_bn", "conv5_block3_3_bn/moving_variance:0", (2048,))
    np.testing.assert_array_equal(model.get_layer("conv5_block3_3_bn").moving_variance.numpy(), want)
    y = model.predict(recipe.recipe_input("img64x48"), verbose=0)
    assert y.shape == (2, 10) and np.allclose(y.sum(1), 1, atol=1e-5)
    # a model's reset_classifier keeps the backbone and the log line says so
    with caplog.at_level(logging.INFO, logger="zoo"):
        model.reset_classifier(3)
    assert model.output.shape == (None, 3)
    assert any("from 10 to 3 classes" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_positional_load_of_a_keras_file_never_mixes_up_layers(resnet50_h5):
    """``load_weights`` without ``by_name`` pairs layers in order: where the model's layer order is
    not Keras's (ResNet shortcut branches) it must fail loudly, or else load every weight right."""
    model = zoo.create_model("resnet50", input_shape=(32, 32, 3))
    try:
        model.load_weights(resnet50_h5)
    except Exception as e:   # the shortcut conv of conv2_block1 meets the file's conv2_block1_1_conv
        assert "conv2_block1_0_conv" in str(e) and "(1, 1, 64, 64)" in str(e), e
    else:
        for name in ("conv2_block1_0_conv", "conv2_block1_3_conv"):
            want = recipe.keras_weight("resnet", name, f"{name}/kernel:0", (1, 1, 64, 256))
            np.testing.assert_array_equal(model.get_layer(name).kernel.numpy(), want)
    model.load_weights(resnet50_h5, by_name=True)
    want = recipe.keras_weight("resnet", "conv2_block1_0_conv", "conv2_block1_0_conv/kernel:0", (1, 1, 64, 256))
    np.testing.assert_array_equal(model.get_layer("conv2_block1_0_conv").kernel.numpy(), want)


@pytest.mark.slow
def test_save_and_load_model_round_trip(tmp_path, resnet18_state_dict):
    from core.models import load_model
    from zoo.models.resnet import load_torchvision_state_dict, torchvision_mapping

    model = zoo.create_model("resnet18", input_shape=(None, None, 3))
    load_torchvision_state_dict(model, resnet18_state_dict)
    model.save(str(tmp_path / "r18.h5"))
    back = load_model(str(tmp_path / "r18.h5"))
    assert type(back).__name__ == "ClassifierModel" and back.head_name == "fc"
    x = recipe.recipe_input("img64x48")[:, :32, :32]
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    # the torchvision mapping is derived from layer names: a restored model maps state dicts too
    assert torchvision_mapping(back) == torchvision_mapping(model)
    assert torchvision_mapping(back)["conv5_block1_0_bn"] == "layer4.0.downsample.1"


@pytest.mark.slow
def test_notop_file_with_a_head_builds_a_fresh_head(resnet50_notop_h5, caplog):
    with caplog.at_level(logging.WARNING, logger="zoo"):
        model = zoo.create_model("resnet50", weights=resnet50_notop_h5, num_classes=5, input_shape=(64, 64, 3))
    assert model.num_classes == 5
    assert any("not in the file" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_missing_backbone_layer_in_file_is_an_error(tmp_path):
    path = str(tmp_path / "partial.h5")
    layout = [(n, ws) for n, ws in _layout("resnet50") if n != "conv3_block2_2_bn"]
    recipe.write_keras_legacy_h5(path, layout, lambda l, w, s: np.zeros(s, np.float32))
    with pytest.raises(WeightFileError, match="conv3_block2_2_bn"):
        zoo.create_model("resnet50", weights=path)
    with pytest.raises(WeightFileError, match=r"conv1_conv.*\(7, 7, 3, 64\)"):
        zoo.create_model("resnet50", weights=path, input_shape=(64, 64, 1))


@pytest.mark.slow
@pytest.mark.parametrize("name,pooling,shape,layer", [
    ("resnet50", "avg", (None, 2048), "avg_pool"), ("resnet50", "max", (None, 2048), "max_pool"),
    ("resnet50", None, (None, 1, 1, 2048), "conv5_block3_out"), ("resnet18", "avg", (None, 512), "avg_pool"),
    ("vgg16", "avg", (None, 512), "global_average_pooling2d"), ("vgg19_bn", None, (None, 1, 1, 512), "block5_pool")])
def test_include_top_false_pooling(name, pooling, shape, layer):
    from core.layers import clear_session

    clear_session()  # Keras's automatic names (global_average_pooling2d) count from a fresh session
    model = zoo.create_model(name, include_top=False, pooling=pooling, input_shape=(32, 32, 3))
    assert model.output.shape == shape and model.layers[-1].name == layer and model.head is None
    y = model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0)
    assert y.shape == (1,) + shape[1:]
    if pooling is None:
        with pytest.raises(ValueError, match="no recorded feature tensor"):
            model.features(np.zeros((1, 32, 32, 3), np.float32))
    else:
        model.reset_classifier(4)  # a new head on the pooled features
        assert model.output.shape == (None, 4)


@pytest.mark.slow
def test_features_and_head_any_input_size():
    model = zoo.create_model("resnet18", num_classes=7, input_shape=(None, None, 3))
    x = recipe.recipe_input("img64x48")
    f = model.features(x)
    assert f.shape == (2, 512) and model.num_features == 512
    logits = np.asarray(f.data) @ model.head.kernel.numpy() + model.head.bias.numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), logits, atol=1e-5)   # torchvision: logits
    assert zoo.create_model("resnet50", num_classes=3).classifier_activation == "softmax"


@pytest.mark.slow
def test_input_tensor_argument():
    inp = L.Input((32, 32, 3), name="image")
    scaled = L.Rescaling(1 / 255.0)(inp)
    model = zoo.ResNet50(weights=None, include_top=False, input_tensor=scaled, pooling="avg")
    assert model.inputs[0] is inp and model.get_layer("rescaling") is not None
    assert model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0).shape == (1, 2048)
    with pytest.raises(TypeError, match="symbolic tensor"):
        zoo.VGG16(weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3)))


# ============================================================================ weights="imagenet", labels
@pytest.fixture
def fake_imagenet_registry(monkeypatch, tmp_path, resnet50_h5):
    """``zoo.weights.fetch`` serving the recipe file for resnet50.imagenet and a fake label file."""
    labels = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    label_path = tmp_path / "imagenet_class_index.json"
    label_path.write_text(json.dumps(labels))
    fetched = []

    def fetch(key, *a, **k):
        fetched.append(key)
        return {"resnet50.imagenet": resnet50_h5, "imagenet.labels": str(label_path)}[key]

    monkeypatch.setattr(zoo.weights, "fetch", fetch)
    return fetched


@pytest.mark.slow
def test_keras_constructor_imagenet_goes_through_the_manifest(fake_imagenet_registry):
    model = zoo.ResNet50()                                   # weights="imagenet"
    assert fake_imagenet_registry == ["resnet50.imagenet"]
    assert model.pretrained_cfg["input"]["mode"] == "caffe" and model.num_classes == 1000
    img = np.full((1, 224, 224, 3), (10, 20, 30), np.uint8)
    x = model.preprocess(img)                                # caffe: BGR, minus the ImageNet mean
    np.testing.assert_allclose(x[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)
    preds = model.predict(recipe.recipe_input("img224"), verbose=0)
    np.testing.assert_allclose(preds, OUT["resnet50/probs"], atol=TOL)
    top = model.decode_predictions(preds, top=3)
    best = np.argsort(-OUT["resnet50/probs"], axis=1)[:, :3]
    assert [[name for name, _ in row] for row in top] == [[f"class_{j}" for j in r] for r in best]
    assert "imagenet.labels" in fake_imagenet_registry


@pytest.mark.slow
def test_keras_constructor_notop_uses_the_notop_entry(monkeypatch, resnet50_notop_h5):
    seen = []
    monkeypatch.setattr(zoo.weights, "fetch", lambda key, *a, **k: seen.append(key) or resnet50_notop_h5)
    model = zoo.ResNet50(include_top=False, pooling="max", input_shape=(64, 64, 3))
    assert seen == ["resnet50.imagenet_notop"] and model.output.shape == (None, 2048)
    assert model.layers[-1].name == "max_pool"
    assert model.get_layer("conv1_conv").kernel.numpy()[0, 0, 0, 0] == pytest.approx(
        MODELS["resnet50_notop_avg"]["checksums"]["conv1_conv/kernel:0"][0])


def test_decode_predictions_with_a_tiny_label_list():
    preds = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]], np.float32)
    out = zoo.decode_predictions(preds, top=2, labels=["cat", "dog", "eel"])
    assert [[n for n, _ in row] for row in out] == [["dog", "eel"], ["cat", "eel"]]
    assert out[0][0][1] == pytest.approx(0.7)
    model = zoo.create_model("resnet18", num_classes=3, input_shape=(32, 32, 3))
    model.pretrained_cfg = {"labels": ["cat", "dog", "eel"]}
    assert model.decode_predictions(preds, top=1) == [[("dog", pytest.approx(0.7))], [("cat", pytest.approx(0.5))]]
    with pytest.raises(ValueError, match="3 labels for predictions with 4 classes"):
        zoo.decode_predictions(np.zeros((1, 4)), labels=["cat", "dog", "eel"])


# ============================================================================ errors
@pytest.mark.slow
def test_unknown_names_tags_and_keras_argument_errors(resnet50_h5):
    with pytest.raises(ValueError, match="unknown model 'resnet51'.*did you mean.*resnet50"):
        zoo.create_model("resnet51")
    with pytest.raises(ValueError, match="no weights 'cifar10' for model 'resnet50'.*imagenet"):
        zoo.create_model("resnet50", weights="cifar10")
    with pytest.raises(ValueError, match="no weights 'imagenet' for model 'vgg11_bn'; available tags: none"):
        zoo.create_model("vgg11_bn", weights="imagenet")
    with pytest.raises(ValueError, match="`weights` argument should be either"):
        zoo.ResNet50(weights="imagenet21k")
    with pytest.raises(ValueError, match="`classes` should be 1000.*classes=10"):
        zoo.VGG16(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        zoo.ResNet50(weights="imagenet", input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="static `input_shape`"):
        zoo.VGG19(weights=None, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="at least 32x32"):
        zoo.ResNet101(weights=None, include_top=False, input_shape=(16, 64, 3))
    with pytest.raises(ValueError, match="Only `None` and `softmax`"):
        zoo.ResNet50(weights=resnet50_h5, classifier_activation="relu")
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max', got 'sum'"):
        zoo.create_model("resnet50", include_top=False, pooling="sum")
    with pytest.raises(ValueError, match="static input size"):
        zoo.create_model("vgg16", input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        zoo.create_model("resnet18", num_classes=0)
    with pytest.raises(FileNotFoundError):
        zoo.create_model("resnet50", weights="/nonexistent/resnet50.h5")
    with pytest.raises(AttributeError, match="ResNet49"):
        zoo.ResNet49  # noqa: B018
