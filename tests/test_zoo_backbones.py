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
from tests.markers import slow_except

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
                   r"global_max_pooling2d|flatten|dropout|multiply|add|zero_padding2d|max_pooling2d|"
                   r"average_pooling2d|concatenate|cropping2d|custom_scale_layer)(_\d+)?$")
_AUTO_WEIGHTED = re.compile(r"^(conv2d|batch_normalization|separable_conv2d)(_\d+)?$")


def _weighted_name(name):
    return "<automatic>" if _AUTO_WEIGHTED.match(name) else name


def _kwargs(case):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in case["kwargs"].items()}


def _layout(case):
    return [(name, [(w, tuple(s)) for w, s in ws]) for name, ws in case["layers"]]


def _shifted(name):
    """An automatic name as a session that had built more layers would give it (``conv2d`` ->
    ``conv2d_1``, ``conv2d_4`` -> ``conv2d_5``: Keras 2's published files count from 1)."""
    m = re.match(r"^(.*?)(?:_(\d+))?$", name)
    return f"{m.group(1)}_{int(m.group(2) or 0) + 1}"


_WRITTEN = {}


def _write(tmp_path, key, case):
    """The recipe weights in the legacy layout, Keras's automatic layer names of weighted layers
    shifted (their names in a published file are not those of a fresh session). Written once per
    session: later tests of the same case reuse the file, read-only."""
    if key in _WRITTEN and os.path.exists(_WRITTEN[key]):
        return _WRITTEN[key]
    path = str(tmp_path / f"{key}.h5")
    gain = case.get("kernel_gain", 1.0)
    original = {}
    layout = []
    for name, ws in _layout(case):
        new = _shifted(name) if _AUTO_WEIGHTED.match(name) else name
        original[new] = name
        layout.append((new, [(w.replace(name, new, 1), s) for w, s in ws]))

    def value(layer, wname, shape):
        return gen.weight_value(original[layer], wname.replace(layer, original[layer], 1), shape, gain)

    gen.recipe.write_keras_legacy_h5(path, layout, value)
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


def _check_parity(tmp_path, family, key, monkeypatch=None):
    """Load the recipe file through the Keras-style constructor, check Keras's layout and compare
    with Keras's outputs; returns ``(model, input, Keras's output)``."""
    meta, outputs = FAMILIES[family]
    case = meta["cases"][key]
    path = _write(tmp_path, key, case)
    if monkeypatch is not None:
        _zero_init(monkeypatch)    # every weight comes from the file (the loader requires each layer's)
    model = _build(case, path)
    assert model.count_params() == case["params"]
    assert model.name == case["name"]
    # every weighted layer under Keras's name with Keras's weight shapes, in Keras's order (the order
    # Keras's load_weights reads files in), every named layer present; Keras's automatic names of
    # weighted layers (Xception's shortcuts, InceptionV3's convolutions) depend on what was built before
    ours = [(_weighted_name(l.name), [tuple(w.shape) for w in l.weights]) for l in model.layers if l.weights]
    assert ours == [(_weighted_name(n), [s for _, s in ws]) for n, ws in _layout(case) if ws]
    named = {n for n, _ in _layout(case) if not (_AUTO.match(n) or _AUTO_WEIGHTED.match(n))}
    assert named <= {l.name for l in model.layers}
    x = gen.recipe_input(case["input"], case["input_scale"], case["input_offset"])
    y = np.asarray(model.predict(x, verbose=0))
    ref = outputs[f"{key}/y"]
    assert y.shape == ref.shape
    assert np.abs(ref[0] - ref[1]).max() > 1e-2 * np.abs(ref).max()   # the reference depends on its input
    np.testing.assert_allclose(y, ref, rtol=TOL, atol=TOL * float(np.abs(ref).max()))
    return model, x, ref


# families whose parity and ONNX export are checked together on one loaded model
# (test_part_b_keras_parity_and_onnx_export): their models are large, built once
PART_B_FAMILIES = ("resnet_v2", "xception", "inception_v3", "inception_resnet_v2", "nasnet")


# the fast loop keeps the cheapest case of the MobileNet families (under 0.4 s each)
FAST_CASES = [("mobilenet", "mobilenet_050_dm2_notop_avg"), ("mobilenet_v2", "mobilenet_v2_035_notop_avg"),
              ("mobilenet_v3", "mobilenet_v3_small_min_075_notop")]


@pytest.mark.parametrize("family,key", slow_except([c for c in CASES if c[0] not in PART_B_FAMILIES],
                                                   [c for c in FAST_CASES if c in CASES]))
def test_keras_parity_on_published_h5_layout(tmp_path, family, key, monkeypatch):
    _check_parity(tmp_path, family, key, monkeypatch)


@pytest.mark.parametrize("family,index", slow_except(COUNTS, [c for c in COUNTS if c[1] < 2]))  # larger variants
def test_parameter_counts_and_names_equal_keras(family, index, monkeypatch):
    from core import initializers

    # the count does not depend on the values: zero kernels instead of drawing ~300M random numbers
    monkeypatch.setattr(initializers.VarianceScaling, "__call__", lambda self, shape, dtype="float32":
                        np.zeros(shape, dtype))
    ctor, kwargs, params, name, *layout = FAMILIES[family][0]["param_counts"][index]
    model = getattr(zoo, ctor)(weights=None, **kwargs)
    assert (model.count_params(), model.name) == (params, name)
    if layout:   # Keras's weighted layers, in order (NASNetLarge: a path no parity case runs)
        ours = [[l.name, [list(w.shape) for w in l.weights]] for l in model.layers if l.weights]
        assert ours == layout[0]


def _first_case(family):
    if family not in FAMILIES:
        pytest.skip(f"tests/fixtures/backbones/{family}.json is missing")
    meta, outputs = FAMILIES[family]
    key = next(iter(meta["cases"]))
    return key, meta["cases"][key], outputs


@pytest.mark.parametrize("family", slow_except([f for f in gen.CASES if f not in PART_B_FAMILIES],
                                                [f for f in ("convnext",) if f in gen.CASES]))
def test_onnx_export_matches_onnxruntime(tmp_path, family, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.onnx_helpers import assert_onnx_matches

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


@pytest.mark.slow
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


@pytest.mark.slow
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
    from tests.app_helpers import make_folder

    data = make_folder(tmp_path / "data", per_class=5, corrupt=False)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["image", "train", str(data), "--model", "mobilenet_v3_small", "--weights", "none",
                                    "--epochs", "1", "--batch-size", "4", "-o", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["image", "evaluate", str(out / "model.h5"), str(data), "--json"])
    assert res.exit_code == 0, res.output
    assert '"accuracy"' in res.output


# ============================================================================ EfficientNet
@pytest.mark.slow
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


@pytest.mark.slow
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
@pytest.mark.slow
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


@pytest.mark.parametrize("model", ["mobilenet_v3_small", "efficientnet_b0", "densenet121", "resnet50_v2", "xception",
                                   "inception_v3", "inception_resnet_v2", "nasnet_mobile", "efficientnet_v2_b0",
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
@pytest.mark.slow
def test_mobilenet_v1_imagenet_names_the_file_and_conv_head_resets(tmp_path):
    with pytest.raises(ValueError, match=r"no checksum.*mobilenet/mobilenet_7_5_160_tf_no_top\.h5"):
        zoo.MobileNet(alpha=0.75, include_top=False, input_shape=(160, 160, 3))
    with pytest.raises(ValueError, match="depth multiplier must be 1"):
        zoo.MobileNet(depth_multiplier=2)
    key, case, _ = _first_case("mobilenet")
    model = zoo.create_model("mobilenet", weights=_write(tmp_path, key, case), num_classes=3,
                             input_shape=(96, 96, 3))
    assert model.head_name == "conv_preds" and model.num_classes == 3 and model.output.shape == (None, 3)


# ============================================================================ ResNetV2, Xception, Inception, NASNet
@pytest.mark.slow
@pytest.mark.parametrize("family", PART_B_FAMILIES)
def test_part_b_keras_parity_and_onnx_export(tmp_path, family):
    """Keras parity on the published layout, then, on the same model, ONNX export against
    onnxruntime, compared with Keras's outputs. (Their ``.keras`` round trips: these models are made
    of core layers whose configs the core tests round-trip, and of ``CustomScaleLayer``, round-tripped
    in ``test_custom_scale_layer_equals_keras_formula_gradients_and_config``.)"""
    key, _, _ = _first_case(family)
    model, x, ref = _check_parity(tmp_path, family, key)
    atol = TOL * float(np.abs(ref).max())
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"):
        from tests.onnx_helpers import export_onnx, ort_session

        export_onnx(model, tmp_path / "m.onnx", check=True)
        sess = ort_session(tmp_path / "m.onnx")
        name = sess.get_inputs()[0].name
        np.testing.assert_allclose(sess.run(None, {name: x})[0], ref, rtol=TOL, atol=atol)
        np.testing.assert_allclose(sess.run(None, {name: x[:1]})[0], ref[:1], rtol=TOL, atol=atol)


def test_part_b_manifest_entries_and_tf_preprocessing():
    """Top and no-top entries of every variant, Keras's file names, "tf" preprocessing at the
    family's default size; each keras.applications submodule's preprocess_input is "tf" mode."""
    import importlib

    from zoo import weights as wreg

    files = {"resnet50_v2": ("resnet50v2_weights_tf_dim_ordering_tf_kernels.h5",
                             "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
             "xception": ("xception_weights_tf_dim_ordering_tf_kernels.h5",
                          "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
             "nasnet_mobile": ("NASNet-mobile.h5", "NASNet-mobile-no-top.h5"),
             "nasnet_large": ("NASNet-large.h5", "NASNet-large-no-top.h5")}
    sizes = {"resnet50_v2": 224, "resnet101_v2": 224, "resnet152_v2": 224, "xception": 299, "inception_v3": 299,
             "inception_resnet_v2": 299, "nasnet_mobile": 224, "nasnet_large": 331}
    for arch, size in sizes.items():
        top, notop = wreg.get_entry(f"{arch}.imagenet"), wreg.get_entry(f"{arch}.imagenet_notop")
        assert top["num_classes"] == 1000 and notop["num_classes"] is None
        assert top["input"]["mode"] == notop["input"]["mode"] == "tf" and top["input"]["size"] == [size, size]
        assert top["md5"] != notop["md5"] and top["urls"][0].startswith(
            "https://storage.googleapis.com/tensorflow/keras-applications/")
        if arch in files:
            assert (top["filename"], notop["filename"]) == files[arch]
    x = np.array([[[0.0, 127.5, 255.0]]], np.float32)
    for module in ("resnet_v2", "xception", "inception_v3", "inception_resnet_v2", "nasnet"):
        mod = importlib.import_module(f"core.applications.{module}")
        np.testing.assert_allclose(mod.preprocess_input(x.copy()), [[[-1.0, 0.0, 1.0]]])
        assert mod.decode_predictions is importlib.import_module("core.applications.imagenet_utils").decode_predictions


def test_keras_namespace_part_b():
    import core as keras

    assert keras.applications.resnet_v2.ResNet101V2 is zoo.ResNet101V2
    assert keras.applications.Xception is keras.applications.xception.Xception is zoo.Xception
    assert keras.applications.inception_v3.InceptionV3 is zoo.InceptionV3
    assert keras.applications.InceptionResNetV2 is zoo.InceptionResNetV2
    assert keras.applications.nasnet.NASNetLarge is zoo.NASNetLarge and keras.applications.NASNetMobile is zoo.NASNetMobile


def test_part_b_keras_argument_checks():
    with pytest.raises(ValueError, match="at least 71x71"):
        zoo.Xception(weights=None, include_top=False, input_shape=(70, 90, 3))
    with pytest.raises(ValueError, match="at least 75x75"):
        zoo.InceptionV3(weights=None, include_top=False, input_shape=(74, 75, 3))
    with pytest.raises(ValueError, match="at least 75x75"):
        zoo.create_model("inception_resnet_v2", include_top=False, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"input_shape` should be \(299, 299, 3\)"):
        zoo.Xception(input_shape=(128, 128, 3))
    with pytest.raises(ValueError, match="must be static"):
        zoo.NASNetMobile(include_top=False, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="input size must be static"):
        zoo.create_model("nasnet_large", include_top=False, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="classes` should be 1000"):
        zoo.ResNet50V2(classes=10)


@pytest.mark.slow
def test_nasnet_mobile_headless_defaults_to_224_and_names_its_pooling_as_keras():
    model = zoo.NASNetMobile(weights=None, include_top=False, pooling="max")
    assert model.input.shape == (None, 224, 224, 3) and model.output.shape == (None, 1056)
    assert model.layers[-1].name.startswith("global_max_pooling2d")   # unnamed in Keras too
    assert zoo.ResNet50V2(weights=None, include_top=False, pooling="avg").layers[-1].name == "avg_pool"


def _tiny_unnamed(include_top=True, num_classes=4):
    """A small keras.applications-like model: unnamed convolutions/batch norms (automatic names)
    between named ones, and a ``predictions`` head."""
    from core import layers as L
    from zoo.models.resnet import classifier_top

    x = img = L.Input((8, 8, 3))
    x = L.Conv2D(4, 3, name="stem_conv")(x)
    x = L.BatchNormalization()(L.Conv2D(5, 1)(x))
    x = L.BatchNormalization(name="stem_bn")(L.Conv2D(6, 1)(x))
    return classifier_top("tiny", x, img, lambda t: L.GlobalAveragePooling2D()(t), include_top, None,
                          num_classes, None, "predictions", "tiny")


def _tiny_file(path, layout):
    """The tiny model's weights (recipe values) in the legacy layout with automatic names shifted."""
    gen.recipe.write_keras_legacy_h5(str(path), layout, lambda l, w, s: gen.weight_value(l, w, s))
    return str(path)


def test_ordered_loading_by_position_head_rules_and_mismatch_errors(tmp_path, caplog):
    """``load_keras_h5_ordered`` (Keras's own reading of legacy files) matches layers by position
    whatever the automatic names; the head follows ``load_keras_h5``'s rules (another class count or
    a no-top file: re-initialised with a log line; a headless model ignores the file's classifier);
    a file of another architecture, or whose Keras-named layers do not line up, is refused."""
    from core.saving.errors import WeightFileError
    from zoo.models.resnet import load_keras_h5_ordered

    layout = [(_shifted(l.name) if _AUTO_WEIGHTED.match(l.name) else l.name,
               [(f"{_shifted(l.name) if _AUTO_WEIGHTED.match(l.name) else l.name}/{w.name}:0", tuple(w.shape))
                for w in l.weights]) for l in _tiny_unnamed().layers]
    assert [n for n, ws in layout if ws][1:3] != [l.name for l in _tiny_unnamed().layers if l.weights][1:3]
    path = _tiny_file(tmp_path / "tiny.h5", layout)
    model = _tiny_unnamed()
    load_keras_h5_ordered(model, path)
    file_layers = [(n, ws) for n, ws in layout if ws]
    for layer, (name, ws) in zip([l for l in model.layers if l.weights], file_layers):
        for w, (wname, shape) in zip(layer.weights, ws):
            np.testing.assert_array_equal(w.numpy(), gen.weight_value(name, wname, shape))
    other = _tiny_unnamed(num_classes=3)
    load_keras_h5_ordered(other, path)
    assert "re-initialised" in caplog.text
    np.testing.assert_array_equal(other.get_layer("stem_bn").moving_mean.numpy(),
                                  model.get_layer("stem_bn").moving_mean.numpy())
    headless = _tiny_unnamed(include_top=False)
    load_keras_h5_ordered(headless, path)
    np.testing.assert_array_equal(headless.get_layer("stem_conv").kernel.numpy(),
                                  model.get_layer("stem_conv").kernel.numpy())
    notop = _tiny_file(tmp_path / "notop.h5", [(n, ws) for n, ws in layout if n != "predictions"])
    caplog.clear()
    load_keras_h5_ordered(_tiny_unnamed(), notop)
    assert "is not in the file" in caplog.text
    with pytest.raises(WeightFileError, match="the file has 2 layers with weights, model 'tiny' has 6"):
        load_keras_h5_ordered(_tiny_unnamed(), _tiny_file(tmp_path / "short.h5", layout[:3]))
    swapped = [(("stem_bn" if n == "stem_conv" else "stem_conv" if n == "stem_bn" else n), ws) for n, ws in layout]
    with pytest.raises(WeightFileError, match="layer 'stem_conv' of model 'tiny' is at the place of the file's "
                                              "layer 'stem_bn'"):
        load_keras_h5_ordered(_tiny_unnamed(), _tiny_file(tmp_path / "swapped.h5", swapped))
    with pytest.raises(WeightFileError, match="expects weights"):
        load_keras_h5_ordered(_tiny_unnamed(), _tiny_file(tmp_path / "shapes.h5", [
            (n, [(w, s[:-1] + (s[-1] + 1,)) for w, s in ws]) if n == "stem_conv" else (n, ws) for n, ws in layout]))


def test_part_b_imagenet_weights_resolve_to_their_entries(monkeypatch):
    """``weights="imagenet"`` of every Keras-style constructor asks the manifest for its own entry
    (top or no-top) before building anything; a local Keras file of these architectures gets the
    "tf" preprocessing of their entries."""
    from zoo.registry import family_input_spec

    class Fetched(Exception):
        pass

    def fetch(key, *a, **kw):
        raise Fetched(key)

    monkeypatch.setattr(zoo.weights, "fetch", fetch)
    ctors = {"resnet50_v2": "ResNet50V2", "resnet101_v2": "ResNet101V2", "resnet152_v2": "ResNet152V2",
             "xception": "Xception", "inception_v3": "InceptionV3", "inception_resnet_v2": "InceptionResNetV2",
             "nasnet_mobile": "NASNetMobile", "nasnet_large": "NASNetLarge"}
    for arch, ctor in ctors.items():
        for include_top, tag in ((True, "imagenet"), (False, "imagenet_notop")):
            with pytest.raises(Fetched) as got:
                getattr(zoo, ctor)(include_top=include_top)
            assert got.value.args[0] == f"{arch}.{tag}"
        spec = family_input_spec(arch, "keras_legacy_h5")
        assert spec["mode"] == "tf" and spec["scale"] == pytest.approx(1 / 127.5) and spec["mean"] == [1.0] * 3


def test_custom_scale_layer_equals_keras_formula_gradients_and_config(tmp_path):
    from core import layers as L
    from core.gradient_check import check_gradients
    from core.models import Model, load_model
    from zoo.models.inception_resnet_v2 import CustomScaleLayer

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 3, 4)), rng.normal(size=(2, 3, 3, 4))
    layer = CustomScaleLayer(0.17, dtype="float64")
    np.testing.assert_allclose(layer([a, b]).numpy(), a + 0.17 * b, rtol=1e-12)
    check_gradients(lambda x, r: layer([x, r]), [a, b])
    assert layer.get_config()["scale"] == 0.17
    x, r = L.Input((3, 3, 4)), L.Input((3, 3, 4))
    model = Model([x, r], CustomScaleLayer(0.5)([x, r]))
    assert model.output.shape == (None, 3, 3, 4)
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras")
    assert isinstance(back.layers[-1], CustomScaleLayer) and back.layers[-1].scale == 0.5
    np.testing.assert_allclose(back.predict([a, b], verbose=0), a + 0.5 * b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_classify_cli_with_nasnet_mobile_imagenet_entry(monkeypatch, tmp_path):
    """``zoo classify --model nasnet_mobile``: the manifest's top entry (here the recipe file in
    Keras's layout, at the entry's 224x224) and its labels; "tf" preprocessing."""
    import json

    from click.testing import CliRunner

    from apps.cli import main

    key, case, _ = _first_case("nasnet")
    path = _write(tmp_path, key, case)
    labels = tmp_path / "imagenet_class_index.json"
    labels.write_text(json.dumps({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}))
    files = {"nasnet_mobile.imagenet": path, "imagenet.labels": str(labels)}
    monkeypatch.setattr(zoo.weights, "fetch", lambda k, *a, **kw: files[k])
    sample = os.path.join(os.path.dirname(HERE), "apps", "samples", "chelsea.jpg")
    r = CliRunner().invoke(main, ["classify", sample, "--model", "nasnet_mobile", "--top", "2", "--json"])
    assert r.exit_code == 0, r.output
    row = json.loads(r.output.strip().splitlines()[-1])
    text = json.dumps(row)
    assert "class_" in text and "chelsea.jpg" in text


# ============================================================================ EfficientNetV2
def test_efficientnet_v2_variants_preprocessing_and_manifest(monkeypatch):
    from core import layers as L
    from zoo import weights as wreg
    from zoo.models.efficientnet_v2 import VARIANTS

    _zero_init(monkeypatch)
    for v, (_, _, size, _) in VARIANTS.items():
        wname = v if v.startswith("b") else "-" + v
        top = wreg.get_entry(f"efficientnet_v2_{v}.imagenet")
        notop = wreg.get_entry(f"efficientnet_v2_{v}.imagenet_notop")
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


@pytest.mark.slow
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


@pytest.mark.slow
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
    # the first block has no stochastic depth (rate 0): a dropped block gets no gradient in its step, and
    # with the head starting at zero only the second step reaches the backbone
    scale = model.get_layer("convnext_tiny_stage_0_block_0_layer_scale").gamma
    (wname, _), = dict(_layout(case))["convnext_tiny_stage_0_block_0_layer_scale"]
    np.testing.assert_allclose(scale.numpy(), gen.weight_value("convnext_tiny_stage_0_block_0_layer_scale", wname,
                                                               scale.shape))
    x = gen.recipe_input("img64", 60.0, 127.5)
    model.compile(optimizer=optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    hist = model.fit(x, np.array([0, 2]), epochs=1, batch_size=1, verbose=0)   # two steps
    assert np.isfinite(hist.history["loss"]).all()
    assert np.abs(model.head.kernel.numpy()).max() > 0                # the new head trains...
    assert not np.allclose(scale.numpy(), gen.weight_value("convnext_tiny_stage_0_block_0_layer_scale", wname,
                                                           scale.shape))   # ...and the backbone (LayerScale) too
