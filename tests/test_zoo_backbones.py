"""keras.applications backbones (MobileNetV2, MobileNetV3 Small/Large, ...): layer names, parameter
counts and parity with Keras 3 outputs on weights from a NumPy recipe.

The reference outputs and layouts come from tests/fixtures/make_backbone_fixtures.py (Keras 3.15.1
in a separate environment). The weights are regenerated here, written in the legacy ``.h5`` layout
of Keras's published files and loaded through the Keras-style constructors (``weights=<path>``).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re

import numpy as np
import pytest

import zoo

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_backbone_fixtures",
                                               os.path.join(HERE, "fixtures", "make_backbone_fixtures.py"))
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

FAMILIES = {}
for _family in gen.CASES:
    _path = os.path.join(gen.OUT, f"{_family}.json")
    if os.path.exists(_path):
        with open(_path) as _f, np.load(os.path.join(gen.OUT, f"{_family}.npz")) as _z:
            FAMILIES[_family] = (json.load(_f), {k: _z[k] for k in _z.files})
CASES = [(fam, key) for fam, (meta, _) in FAMILIES.items() for key in meta["cases"]]
COUNTS = [(fam, i) for fam, (meta, _) in FAMILIES.items() for i in range(len(meta["param_counts"]))]
TOL = 1e-4
# Keras's automatic names of weightless layers (re_lu_12, activation_3, ...) depend on what was built
# before; only the names keras.applications sets are compared
_AUTO = re.compile(r"^(input_layer|re_lu|activation|rescaling|normalization|global_average_pooling2d|"
                   r"global_max_pooling2d|flatten|dropout|multiply|add|zero_padding2d)(_\d+)?$")


def _kwargs(case):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in case["kwargs"].items()}


def _layout(case):
    return [(name, [(w, tuple(s)) for w, s in ws]) for name, ws in case["layers"]]


_WRITTEN = {}


def _write(tmp_path, key, case):
    """The case's recipe weights in Keras's legacy .h5 layout (written once per session: later
    tests of the same case reuse the file, read-only)."""
    if key in _WRITTEN and os.path.exists(_WRITTEN[key]):
        return _WRITTEN[key]
    path = str(tmp_path / f"{key}.h5")
    gain = case.get("kernel_gain", 1.0)
    gen.recipe.write_keras_legacy_h5(path, _layout(case), lambda l, w, s: gen.weight_value(l, w, s, gain))
    _WRITTEN[key] = path
    return path


def _zero_init(monkeypatch):
    """Build at real shapes without drawing random values (tests that look at the graph, or load every weight)."""
    from core import initializers

    zeros = initializers.Zeros()
    monkeypatch.setattr(initializers, "get", lambda identifier: zeros)


def _build(case, weights):
    kw = _kwargs(case)
    if kw.get("include_top", True):
        kw["classifier_activation"] = None
    return getattr(zoo, case["constructor"])(weights=weights, **kw)


@pytest.mark.parametrize("family,key", CASES)
def test_keras_parity_on_published_h5_layout(tmp_path, family, key, monkeypatch):
    meta, outputs = FAMILIES[family]
    case = meta["cases"][key]
    path = _write(tmp_path, key, case)
    _zero_init(monkeypatch)    # every weight comes from the file (the loader requires each layer's)
    model = _build(case, path)
    assert model.count_params() == case["params"]
    assert model.name == case["name"]
    # every weighted layer under Keras's name with Keras's weight shapes, every named layer present
    ours = {l.name: [tuple(w.shape) for w in l.weights] for l in model.layers if l.weights}
    assert ours == {n: [s for _, s in ws] for n, ws in _layout(case) if ws}
    named = {n for n, _ in _layout(case) if not _AUTO.match(n)}
    assert named <= {l.name for l in model.layers}
    x = gen.recipe_input(case["input"], case["input_scale"], case["input_offset"])
    y = np.asarray(model.predict(x, verbose=0))
    ref = outputs[f"{key}/y"]
    assert y.shape == ref.shape
    assert np.abs(ref[0] - ref[1]).max() > 1e-2 * np.abs(ref).max()   # the reference depends on its input
    np.testing.assert_allclose(y, ref, rtol=TOL, atol=TOL * float(np.abs(ref).max()))


@pytest.mark.parametrize("family,index", COUNTS)
def test_parameter_counts_and_names_equal_keras(family, index, monkeypatch):
    ctor, kwargs, params, name = FAMILIES[family][0]["param_counts"][index]
    # the architecture code builds every weight at its real shape, only without drawing random
    # values (np.zeros): ConvNeXtXLarge's 350M parameters cost no time
    _zero_init(monkeypatch)
    model = getattr(zoo, ctor)(weights=None, **kwargs)
    assert (model.count_params(), model.name) == (params, name)


def _first_case(family):
    if family not in FAMILIES:
        pytest.skip(f"tests/fixtures/backbones/{family}.json is missing")
    meta, outputs = FAMILIES[family]
    key = next(iter(meta["cases"]))
    return key, meta["cases"][key], outputs


@pytest.mark.parametrize("family", list(gen.CASES))
def test_onnx_export_matches_onnxruntime(tmp_path, family, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.test_onnx_export_recurrent import assert_onnx_matches

    key, case, outputs = _first_case(family)
    if "configs" in FAMILIES[family][0]:
        # a small model of the family's generic builder, from its Keras-written config (ConvNeXt:
        # LayerScale, StochasticDepth, nested Sequentials, symbolic adds) with the recipe weights
        model, x, ref = _config_model(tmp_path, family)
        assert_onnx_matches(model, [x], tmp_path / "m.onnx", atol=TOL * float(np.abs(ref).max()), load_proto=False)
        return
    path = _write(tmp_path, key, case)
    _zero_init(monkeypatch)    # every weight comes from the file
    model = _build(case, path)
    x = gen.recipe_input(case["input"], case["input_scale"], case["input_offset"])
    scale = float(np.abs(outputs[f"{key}/y"]).max())
    assert_onnx_matches(model, [x], tmp_path / "m.onnx", atol=TOL * scale, load_proto=False)


# ============================================================================ MobileNetV2
def test_mobilenet_v2_imagenet_says_why_there_is_no_entry_and_where_the_file_is():
    with pytest.raises(ValueError, match=r"no checksum.*mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
                                         r"0\.35_96_no_top\.h5"):
        zoo.MobileNetV2(alpha=0.35, include_top=False, input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match="alpha must be one of"):
        zoo.MobileNetV2(alpha=0.6)
    assert zoo.MobileNetV2(weights=None, alpha=0.6, include_top=False).count_params() > 0


def test_mobilenet_v2_other_class_count_resets_the_dense_head(tmp_path, caplog):
    key, case, _ = _first_case("mobilenet_v2")
    path = _write(tmp_path, key, case)
    model = zoo.create_model("mobilenet_v2", weights=path, num_classes=3, input_shape=(96, 96, 3))
    assert model.num_classes == 3 and model.output.shape == (None, 3) and model.head_name == "predictions"
    assert model.get_layer("Conv1").kernel.numpy().ravel()[0] == pytest.approx(
        gen.weight_value("Conv1", "Conv1/kernel:0", (3, 3, 3, 32)).ravel()[0])


def test_keras_namespace_and_preprocessing():
    import core as keras

    assert keras.applications.mobilenet_v2.MobileNetV2 is zoo.MobileNetV2
    assert keras.applications.MobileNetV3Small is zoo.MobileNetV3Small
    from core.applications.mobilenet_v3 import preprocess_input as v3_pre
    from core.applications.mobilenet_v2 import preprocess_input as v2_pre

    x = np.array([[[0.0, 127.5, 255.0]]], np.float32)
    np.testing.assert_allclose(v2_pre(x.copy()), [[[-1.0, 0.0, 1.0]]])
    assert v3_pre(x) is x                       # Keras: the identity (the model rescales in its graph)


# ============================================================================ MobileNetV3
def test_mobilenet_v3_variants_and_manifest_entries():
    from zoo import weights as wreg

    from zoo.models.mobilenet import V3_VARIANTS

    for key, (_, _, _, stem) in V3_VARIANTS.items():
        top, notop = wreg.get_entry(f"{key}.imagenet"), wreg.get_entry(f"{key}.imagenet_notop")
        assert top["filename"] == f"weights_mobilenet_v3_{stem}.h5" and top["num_classes"] == 1000
        assert notop["filename"] == f"weights_mobilenet_v3_{stem}_no_top_v2.h5" and notop["num_classes"] is None
        assert len(top["md5"]) == 32 and top["input"]["scale"] == 1.0 and top["input"]["mean"] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="alpha can be one of"):
        zoo.MobileNetV3Small(alpha=0.5)


@pytest.fixture
def v3_small_h5(tmp_path):
    key, case, _ = _first_case("mobilenet_v3")
    return _write(tmp_path, key, case), case


def test_mobilenet_v3_imagenet_through_the_manifest(monkeypatch, v3_small_h5):
    path, case = v3_small_h5
    seen = []
    monkeypatch.setattr(zoo.weights, "fetch", lambda key, *a, **k: seen.append(key) or path)
    with pytest.warns(UserWarning, match="rows` is not 224"):
        model = zoo.MobileNetV3Small(input_shape=(96, 96, 3), classifier_activation=None)
    assert seen == ["mobilenet_v3_small.imagenet"] and model.num_classes == 1000
    img = np.full((1, 96, 96, 3), (10, 20, 30), np.uint8)
    np.testing.assert_allclose(model.preprocess(img)[0, 0, 0], [10, 20, 30])   # raw pixels: rescaled in the graph
    x = gen.recipe_input(case["input"], case["input_scale"], case["input_offset"])
    ref = FAMILIES["mobilenet_v3"][1]["mobilenet_v3_small_96/y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=TOL, atol=TOL * np.abs(ref).max())


def test_mobilenet_v3_conv_head_reset_and_fine_tuning(v3_small_h5):
    from core import optimizers

    path, case = v3_small_h5
    model = zoo.create_model("mobilenet_v3_small", weights=path, num_classes=4, input_shape=(96, 96, 3))
    assert model.num_classes == 4 and model.head_name == "logits" and model.output.shape == (None, 4)
    assert model.head.kernel.shape == (1, 1, 1024, 4)
    assert model.layers[-1].name == "predictions"
    kernel = model.get_layer("conv").kernel.numpy().copy()
    np.testing.assert_allclose(kernel, gen.weight_value("conv", "conv/kernel:0", kernel.shape, case["kernel_gain"]))
    x = np.random.default_rng(0).uniform(0, 255, (8, 96, 96, 3)).astype(np.float32)
    y = np.arange(8) % 4
    model.compile(optimizer=optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert not np.allclose(model.get_layer("conv").kernel.numpy(), kernel)   # the backbone trains too


@pytest.mark.slow
def test_image_train_cli_fine_tunes_mobilenet_v3_small(tmp_path):
    """``zoo image train --model mobilenet_v3_small`` on a tiny folder (any-size model: trained at
    224x224, the size saved with the model so that ``evaluate`` resizes the same way)."""
    from click.testing import CliRunner

    from apps.cli import main
    from tests.test_image_cli import make_folder

    data = make_folder(tmp_path / "data", per_class=5, corrupt=False)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["image", "train", str(data), "--model", "mobilenet_v3_small", "--weights", "none",
                                    "--epochs", "1", "--batch-size", "4", "-o", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["image", "evaluate", str(out / "model.h5"), str(data), "--json"])
    assert res.exit_code == 0, res.output
    assert '"accuracy"' in res.output


# ============================================================================ EfficientNet
def test_efficientnet_imagenet_weights_add_keras_std_rescaling(monkeypatch, tmp_path):
    """Keras adds ``Rescaling(1/sqrt(std))`` after the Normalization for weights="imagenet" only."""
    from core import layers as L

    key, case, _ = _first_case("efficientnet")
    path = _write(tmp_path, key, case)
    monkeypatch.setattr(zoo.weights, "fetch", lambda k, *a, **kw: path)
    # (Keras's constructor allows only 224x224 with the ImageNet top; the registry takes any size)
    imagenet = zoo.create_model("efficientnet_b0", weights="imagenet", input_shape=(96, 96, 3),
                                classifier_activation=None)
    from_file = zoo.EfficientNetB0(weights=path, input_shape=(96, 96, 3), classifier_activation=None)
    scales = [l.scale for l in imagenet.layers if isinstance(l, L.Rescaling)]
    assert len(scales) == 2 and len([l for l in from_file.layers if isinstance(l, L.Rescaling)]) == 1
    np.testing.assert_allclose(scales[1], [1 / np.sqrt(s) for s in (0.229, 0.224, 0.225)], rtol=1e-6)
    assert imagenet.count_params() == from_file.count_params() == case["params"]
    assert imagenet.pretrained_cfg["input"]["scale"] == 1.0
    x = gen.recipe_input(case["input"], case["input_scale"], case["input_offset"])
    ref = FAMILIES["efficientnet"][1][f"{key}/y"]
    np.testing.assert_allclose(from_file.predict(x, verbose=0), ref, rtol=TOL, atol=TOL * np.abs(ref).max())
    assert not np.allclose(imagenet.predict(x, verbose=0), ref, rtol=1e-2)
    assert from_file.get_layer("block2b_drop").noise_shape == (None, 1, 1, 1)


def test_efficientnet_manifest_entries():
    from zoo import weights as wreg

    for v, size in enumerate((224, 240, 260, 300, 380, 456, 528, 600)):
        top = wreg.get_entry(f"efficientnet_b{v}.imagenet")
        notop = wreg.get_entry(f"efficientnet_b{v}.imagenet_notop")
        assert top["urls"] == [f"https://storage.googleapis.com/keras-applications/efficientnetb{v}.h5"]
        assert notop["filename"] == f"efficientnetb{v}_notop.h5" and top["input"]["size"] == [size, size]
        m = getattr(zoo, f"EfficientNetB{v}")(weights=None, include_top=False)
        assert m.name == f"efficientnetb{v}"


# ============================================================================ DenseNet
def test_densenet_imagenet_through_the_manifest_uses_torch_preprocessing(monkeypatch, tmp_path):
    key, case, _ = _first_case("densenet")
    path = _write(tmp_path, key, case)
    seen = []
    monkeypatch.setattr(zoo.weights, "fetch", lambda k, *a, **kw: seen.append(k) or path)
    model = zoo.DenseNet121(include_top=False, input_shape=(64, 64, 3), pooling="avg")
    assert seen == ["densenet121.imagenet_notop"] and model.output.shape == (None, 1024)
    img = np.full((1, 64, 64, 3), 255, np.uint8)
    np.testing.assert_allclose(model.preprocess(img)[0, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) /
                               np.array([0.229, 0.224, 0.225]), rtol=1e-5)
    from core.applications.densenet import preprocess_input

    np.testing.assert_allclose(preprocess_input(img.astype(np.float32))[0, 0, 0], model.preprocess(img)[0, 0, 0],
                               rtol=1e-6)


@pytest.mark.parametrize("model", ["mobilenet_v3_small", "efficientnet_b0", "densenet121", "efficientnet_v2_b0",
                                   "convnext_tiny"])
def test_classify_cli_offline_names_the_import_command(tmp_path, monkeypatch, model):
    """``zoo classify --model <backbone>`` resolves its ImageNet entry; offline, without the file,
    it says how to place a copy (``zoo weights import``), whose md5 is then checked."""
    from click.testing import CliRunner

    from apps.cli import main

    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    sample = os.path.join(os.path.dirname(HERE), "apps", "samples", "chelsea.jpg")
    r = CliRunner().invoke(main, ["classify", sample, "--model", model])
    assert r.exit_code != 0
    assert f"zoo weights import {model}.imagenet" in r.output and "Traceback" not in r.output
    fake = tmp_path / "copy.h5"
    fake.write_bytes(b"not the published file")
    r = CliRunner().invoke(main, ["weights", "import", f"{model}.imagenet", str(fake)])
    assert r.exit_code != 0 and re.search(r"md5|checksum mismatch", r.output.lower())


# ============================================================================ MobileNet (v1)
def test_mobilenet_v1_imagenet_names_the_file_and_conv_head_resets(tmp_path):
    with pytest.raises(ValueError, match=r"no checksum.*mobilenet/mobilenet_7_5_160_tf_no_top\.h5"):
        zoo.MobileNet(alpha=0.75, include_top=False, input_shape=(160, 160, 3))
    with pytest.raises(ValueError, match="depth multiplier must be 1"):
        zoo.MobileNet(depth_multiplier=2)
    key, case, _ = _first_case("mobilenet")
    model = zoo.create_model("mobilenet", weights=_write(tmp_path, key, case), num_classes=3,
                             input_shape=(96, 96, 3))
    assert model.head_name == "conv_preds" and model.num_classes == 3 and model.output.shape == (None, 3)


# ============================================================================ EfficientNetV2
def test_efficientnet_v2_variants_preprocessing_and_manifest(monkeypatch):
    from core import layers as L
    from zoo import weights as wreg
    from zoo.models.efficientnet_v2 import VARIANTS

    _zero_init(monkeypatch)
    for v, (_, _, size, _) in VARIANTS.items():
        wname = v if v.startswith("b") else "-" + v
        top, notop = wreg.get_entry(f"efficientnet_v2_{v}.imagenet"), wreg.get_entry(f"efficientnet_v2_{v}.imagenet_notop")
        assert top["urls"] == [f"https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
                               f"efficientnetv2-{v}.h5"]
        assert notop["filename"] == f"efficientnetv2-{v}_notop.h5" and notop["num_classes"] is None
        assert top["input"]["size"] == [size, size] and top["input"]["mode"] == "in_graph"
        assert f"WEIGHTS_HASHES['{wname}']" in top["checksum_source"] and len(top["md5"]) == 32
    b3 = zoo.EfficientNetV2B3(weights=None, include_top=False, input_shape=(64, 64, 3))
    s = zoo.EfficientNetV2S(weights=None, include_top=False, input_shape=(64, 64, 3))
    assert (b3.name, s.name) == ("efficientnetv2-b3", "efficientnetv2-s")
    norm = [l for l in b3.layers if isinstance(l, L.Normalization)]
    assert len(norm) == 1 and not norm[0].weights      # fixed ImageNet statistics, nothing to load
    np.testing.assert_allclose(np.ravel(norm[0].input_variance), np.array([0.229, 0.224, 0.225]) ** 2)
    rescale = [l for l in s.layers if isinstance(l, L.Rescaling)]
    assert not any(isinstance(l, L.Normalization) for l in s.layers)
    assert len(rescale) == 1 and rescale[0].scale == pytest.approx(1 / 128) and rescale[0].offset == -1
    bare = zoo.EfficientNetV2S(weights=None, include_top=False, input_shape=(64, 64, 3), include_preprocessing=False)
    assert not any(isinstance(l, (L.Rescaling, L.Normalization)) for l in bare.layers)
    assert s.get_layer("block1b_drop").noise_shape == (None, 1, 1, 1)      # Keras's drop-path Dropout
    assert s.get_layer("block1a_project_activation") is not None           # fused block without expansion
    with pytest.raises(ValueError, match="should be \\(224, 224, 3\\)"):
        zoo.EfficientNetV2B0(input_shape=(96, 96, 3))


def test_efficientnet_v2_imagenet_through_the_manifest(monkeypatch, tmp_path):
    key, case, outputs = _first_case("efficientnet_v2")
    path = _write(tmp_path, key, case)
    seen = []
    monkeypatch.setattr(zoo.weights, "fetch", lambda k, *a, **kw: seen.append(k) or path)
    _zero_init(monkeypatch)    # every weight comes from the file
    # (Keras's constructor allows only 224x224 with the ImageNet top; the registry takes any size)
    model = zoo.create_model("efficientnet_v2_b0", weights="imagenet", input_shape=(64, 64, 3),
                             classifier_activation=None)
    assert seen == ["efficientnet_v2_b0.imagenet"] and model.head_name == "predictions"
    img = np.full((1, 64, 64, 3), (10, 20, 30), np.uint8)
    np.testing.assert_allclose(model.preprocess(img)[0, 0, 0], [10, 20, 30])   # raw pixels: in-graph preprocessing
    x = gen.recipe_input(case["input"], case["input_scale"], case["input_offset"])
    ref = outputs[f"{key}/y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=TOL, atol=TOL * np.abs(ref).max())
    import core as keras

    assert keras.applications.efficientnet_v2.EfficientNetV2S is zoo.EfficientNetV2S
    assert keras.applications.EfficientNetV2B0 is zoo.EfficientNetV2B0
    assert keras.applications.efficientnet_v2.preprocess_input(img) is img


# ============================================================================ ConvNeXt
def test_convnext_manifest_entries_and_keras_checks(monkeypatch):
    import core as keras
    from core import layers as L
    from zoo import weights as wreg
    from zoo.models.convnext import VARIANTS

    for v in VARIANTS:
        top, notop = wreg.get_entry(f"convnext_{v}.imagenet"), wreg.get_entry(f"convnext_{v}.imagenet_notop")
        assert top["urls"] == [f"https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_{v}.h5"]
        assert notop["filename"] == f"convnext_{v}_notop.h5" and notop["num_classes"] is None
        assert len(top["sha256"]) == 64 and "md5" not in top and top["input"]["size"] == [224, 224]
    with pytest.raises(ValueError, match='Model name "mine" does not match weights variant "convnext_small"'):
        zoo.ConvNeXtSmall(name="mine")
    assert keras.applications.convnext.ConvNeXtXLarge is zoo.ConvNeXtXLarge
    assert keras.applications.convnext.LayerScale.__module__ == "zoo.layers"
    _zero_init(monkeypatch)
    m = zoo.ConvNeXtBase(weights=None, include_top=False, pooling="max", input_shape=(64, 64, 3), name="cb")
    assert m.name == "cb" and m.get_layer("cb_stem").layers[0].name == "cb_stem_conv"
    assert m.layers[-1].name == "layer_normalization" and isinstance(m.layers[-2], L.GlobalMaxPooling2D)
    assert m.output.shape == (None, 1024)
    assert m.get_layer("cb_stage_2_block_26_identity") is not None        # no stochastic depth by default


def test_convnext_keras_written_config_with_stochastic_depth_rebuilds_and_matches_keras(tmp_path):
    """A Keras 3.15.1 ConvNeXt config (drop_path_rate=0.1: StochasticDepth and LayerScale layers,
    nested Sequential stem/downsampling, symbolic adds) rebuilds with model_from_json and, given
    the recipe weights, reproduces Keras's outputs."""
    from core.models import load_model
    from zoo.layers import LayerScale, StochasticDepth

    model, x, ref = _config_model(tmp_path, "convnext")
    drops = [l for l in model.layers if isinstance(l, StochasticDepth)]
    assert len(drops) == 4 and drops[-1].drop_path_rate == pytest.approx(0.1)
    assert sum(isinstance(l, LayerScale) for l in model.layers) == 5
    y = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(y, ref, rtol=TOL, atol=TOL * float(np.abs(ref).max()))
    # in training the paths drop per sample: the outputs change, and differ from inference
    assert not np.allclose(np.asarray(model(x, training=True)), y, rtol=1e-3)
    model.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(load_model(tmp_path / "m.keras").predict(x, verbose=0)), y)


def _config_model(tmp_path, family):
    """(model rebuilt from the family's Keras-written config with the recipe weights, input, Keras's output)."""
    from core.models import model_from_json
    from zoo.models.resnet import load_keras_h5

    meta, outputs = FAMILIES[family]
    key, cfg = next(iter(meta["configs"].items()))
    model = model_from_json(cfg["keras_json"])
    assert model.count_params() == cfg["params"]
    path = str(tmp_path / f"{key}.h5")
    gen.recipe.write_keras_legacy_h5(path, _layout(cfg), gen.weight_value)
    load_keras_h5(model, path)
    return model, gen.recipe_input(cfg["input"], cfg["input_scale"], cfg["input_offset"]), outputs[f"{key}/y"]


def test_convnext_fine_tunes_with_stochastic_depth_and_a_new_head(tmp_path, monkeypatch):
    from core import optimizers
    from zoo.layers import StochasticDepth

    key, case, _ = _first_case("convnext")
    path = _write(tmp_path, key, case)
    _zero_init(monkeypatch)    # the backbone's weights come from the file; the new head starts at zero
    model = zoo.create_model("convnext_tiny", weights=path, num_classes=3, input_shape=(64, 64, 3),
                             drop_path_rate=0.2)
    assert model.num_classes == 3 and model.head_name == "convnext_tiny_head_dense" and model.output.shape == (None, 3)
    drops = [l.drop_path_rate for l in model.layers if isinstance(l, StochasticDepth)]
    assert len(drops) == 17 and drops[-1] == pytest.approx(0.2)       # linspace(0, 0.2, 18), the first is 0
    scale = model.get_layer("convnext_tiny_stage_3_block_2_layer_scale").gamma
    (wname, _), = dict(_layout(case))["convnext_tiny_stage_3_block_2_layer_scale"]
    np.testing.assert_allclose(scale.numpy(), gen.weight_value("convnext_tiny_stage_3_block_2_layer_scale", wname,
                                                               scale.shape))
    x = gen.recipe_input("img64", 60.0, 127.5)
    model.compile(optimizer=optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    hist = model.fit(x, np.array([0, 2]), epochs=1, batch_size=1, verbose=0)   # two steps
    assert np.isfinite(hist.history["loss"]).all()
    assert np.abs(model.head.kernel.numpy()).max() > 0                # the new head trains...
    assert not np.allclose(scale.numpy(), gen.weight_value("convnext_tiny_stage_3_block_2_layer_scale", wname,
                                                           scale.shape))   # ...and the backbone (LayerScale) too
