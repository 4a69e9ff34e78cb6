"""`zoo export` with CliRunner: a saved model file exported and verified against predict, the
options (opset, batch-norm folding, --no-verify), a registry model, and every error as a message."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from apps.cli import main  # noqa: E402
from core import layers as L  # noqa: E402
from core.export import register_onnx_converter  # noqa: E402
from core.layers.base import Layer, register_serializable  # noqa: E402
from core.models import Model, Sequential  # noqa: E402


@register_serializable(package="ExportTest")
class Cuber(Layer):
    """A custom layer without an ONNX converter."""

    def call(self, x):
        return x * x * x

    def compute_output_shape(self, s):
        return s


@register_serializable(package="ExportTest")
class Tripler(Layer):
    """A custom layer whose (deliberately wrong) converter doubles."""

    def call(self, x):
        return x * 3.0

    def compute_output_shape(self, s):
        return s


@register_onnx_converter(Tripler)
def _wrong_tripler(g, layer, node, inputs):
    return [g.op("Mul", inputs[0], g.const(np.float32(2.0)))]


def _save(model, path):
    model.save(path)
    return str(path)


@pytest.fixture
def cnn_file(tmp_path):
    model = Sequential([L.Input((8, 8, 3)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(),
                        L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")])
    bn = model.layers[1]
    rng = np.random.default_rng(0)
    bn.moving_mean.assign(rng.normal(size=4).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2, size=4).astype(np.float32))
    model.assets = {"labels": ["a", "b", "c"]}
    return _save(model, tmp_path / "cnn.h5")


def _run(*args):
    return CliRunner().invoke(main, ["export", *map(str, args)])


def _ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def test_export_and_verify(cnn_file, tmp_path):
    out = tmp_path / "cnn.onnx"
    r = _run(cnn_file, "--format", "onnx", "--output", out)
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and "opset 17" in r.output
    line = next(l for l in r.output.splitlines() if l.startswith("verified"))
    assert float(line.rsplit(":", 1)[1]) < 1e-5
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["opset"] == "17" and json.loads(meta["labels"]) == ["a", "b", "c"]
    assert "BatchNormalization" not in _ops(out)
    from core.models import load_model

    model = load_model(cnn_file, compile=False)
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 3)).astype(np.float32)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0], model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)


def test_options(cnn_file, tmp_path):
    out = tmp_path / "plain.onnx"
    r = _run(cnn_file, "-o", out, "--opset", "18", "--no-fold-batchnorm", "--no-verify")
    assert r.exit_code == 0, r.output
    assert "verified" not in r.output
    assert "BatchNormalization" in _ops(out) and onnx.load(str(out)).opset_import[0].version == 18


def test_default_output_name_and_folder_input(cnn_file, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.h5").write_bytes(open(cnn_file, "rb").read())
    monkeypatch.chdir(tmp_path)
    r = _run(folder, "--no-verify")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "model.onnx").exists()


def test_registry_model_random_weights(tmp_path):
    out = tmp_path / "r20.onnx"
    r = _run("resnet20", "--weights", "none", "-o", out)
    assert r.exit_code == 0, r.output
    assert "verified" in r.output
    assert [i.name for i in onnx.load(str(out)).graph.input] == ["input"]


def test_errors_are_messages(tmp_path, cnn_file, monkeypatch):
    cases = [
        ((tmp_path / "missing.h5",), "model file not found"),
        (("resnet9000",), "neither a model file nor a registry model"),
        (("lstm_classifier",), "has no pretrained weights"),
        ((cnn_file, "--weights", "imagenet"), "--weights applies to registry models only"),
        ((cnn_file, "-o", tmp_path), "is a directory"),
        ((cnn_file, "--opset", "9"), "Invalid value for '--opset'"),
        ((cnn_file, "--format", "tflite"), "Invalid value for '--format'"),
        ((tmp_path,), "folder without a model file"),
    ]
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file")
    cases.append(((bad,), "cannot load"))
    for args, msg in cases:
        r = _run(*args)
        assert r.exit_code != 0 and msg in r.output, (args, r.output)
        assert "Traceback" not in r.output


def test_unmapped_layer_named(tmp_path):
    inp = L.Input((4,))
    path = _save(Model(inp, L.Dense(2)(Cuber(name="cube_it")(inp))), tmp_path / "custom.h5")
    r = _run(path, "-o", tmp_path / "c.onnx")
    assert r.exit_code != 0
    assert "layer 'cube_it'" in r.output and "Cuber" in r.output and "no ONNX mapping" in r.output
    assert not (tmp_path / "c.onnx").exists()


def test_verification_failure(tmp_path):
    inp = L.Input((4,))
    path = _save(Model(inp, Tripler()(L.Dense(2)(inp))), tmp_path / "wrong.h5")
    r = _run(path, "-o", tmp_path / "w.onnx")
    assert r.exit_code != 0 and "verification failed" in r.output, r.output
    assert "verified: max abs difference" in r.output


def test_onnx_missing(cnn_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    r = _run(cnn_file, "-o", tmp_path / "x.onnx")
    assert r.exit_code != 0 and "pip install 'zoo[onnx]'" in r.output
    assert not (tmp_path / "x.onnx").exists()


def test_onnxruntime_missing(cnn_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    r = _run(cnn_file, "-o", tmp_path / "x.onnx", "--verify")
    assert r.exit_code != 0 and "--verify needs onnxruntime" in r.output
    r = _run(cnn_file, "-o", tmp_path / "x.onnx")
    assert r.exit_code == 0 and "not verified: onnxruntime is not installed" in r.output


def test_help_is_fast_and_light():
    r = _run("--help")
    assert r.exit_code == 0 and "--opset" in r.output and "--verify / --no-verify" in r.output
    # `import core` is lazy: apps may load its registry and host-settings leaves, nothing heavier
    code = ("import sys, apps.export_cmd; print(sorted(m for m in sys.modules if m in ('numpy', 'onnx') or "
            "(m.startswith('core') and m not in ('core', 'core.object_registration', 'core.host_memory'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "[]"


def test_output_folder_is_created_and_image_layout_is_nhwc(tmp_path):
    """`-o newdir/x.onnx` creates newdir; an image model's metadata says NHWC, the layout its graph
    takes (the CIFAR ResNet's source weights were NCHW)."""
    out = tmp_path / "new" / "dir" / "r20.onnx"
    r = _run("resnet20", "-o", out, "--no-verify")
    assert r.exit_code == 0, r.output
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    spec = json.loads(meta["input_spec"])
    assert spec["layout"] == "NHWC" and spec["size"] == [32, 32]
    graph_input = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in graph_input[1:]] == [32, 32, 3]
    import zoo

    assert zoo.create_model("resnet20", weights="cifar10").pretrained_cfg["input"]["layout"] == "NHWC"


def test_json_and_quiet(cnn_file, tmp_path):
    r = _run(cnn_file, "-o", tmp_path / "x" / "m.onnx", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert rec["verified"] is True and rec["max_abs_diff"] < 1e-4 and rec["bytes"] > 0
    r = _run(cnn_file, "-o", tmp_path / "m2.onnx", "-q")
    assert r.exit_code == 0 and r.stdout == ""
