"""`zoo classify` with CliRunner: a model file with labels and preprocessing as assets, the
JSON and table outputs, unreadable images skipped, clear errors; and agreement with the Python
API for the pretrained CIFAR ResNet-20 (real data, skipped without ../shared/data)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from apps.cli import main
from core import layers as L
from zoo.classifier import ClassifierModel


@pytest.fixture
def model_file(tmp_path):
    inp = L.Input((8, 8, 3))
    f = L.GlobalAveragePooling2D()(inp)
    out = L.Dense(2, activation="softmax", name="fc")(f)
    m = ClassifierModel(inp, out, features_tensor=f, head_name="fc")
    m.set_weights([np.array([[1.0, -1.0]] * 3, np.float32), np.zeros(2, np.float32)])  # bright -> "light"
    m.assets["labels"] = ["light", "dark"]
    m.assets["input_spec"] = {"size": [8, 8], "scale": 1 / 255, "mean": [0.5, 0.5, 0.5]}
    path = tmp_path / "model.h5"
    m.save(path)
    return str(path)


@pytest.fixture
def images(tmp_path):
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(np.full((12, 10, 3), 250, np.uint8)).save(d / "white.png")
    Image.fromarray(np.full((9, 9, 3), 5, np.uint8)).save(d / "sub" / "black.jpg")
    (d / "corrupt.png").write_bytes(b"\x89PNG but not really")
    return d


def test_table_and_json_outputs(model_file, images):
    r = CliRunner().invoke(main, ["classify", str(images), "--model", model_file, "--top", "1"])
    assert r.exit_code == 0, r.output
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    assert any("white.png" in l and "light" in l for l in lines)
    assert any("black.jpg" in l and "dark" in l for l in lines)
    assert "skipped:" in r.stderr and "corrupt.png" in r.stderr
    r = CliRunner().invoke(main, ["classify", str(images / "white.png"), "--model", model_file, "--json"])
    rec = json.loads(r.stdout.strip())
    assert rec["file"].endswith("white.png") and rec["predictions"][0]["label"] == "light"
    assert abs(sum(p["probability"] for p in rec["predictions"]) - 1) < 1e-5


def test_errors_are_messages(model_file, images, tmp_path):
    r = CliRunner().invoke(main, ["classify", str(tmp_path / "nothing")])
    assert r.exit_code != 0 and "no image files found" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["classify", str(images / "corrupt.png"), "--model", model_file])
    assert r.exit_code != 0 and "none of the images could be read" in r.output
    r = CliRunner().invoke(main, ["classify", str(images), "--model", "resnet9000"])
    assert r.exit_code != 0 and "unknown model 'resnet9000'" in r.output
    r = CliRunner().invoke(main, ["classify", str(images), "--model", str(tmp_path / "missing.h5")])
    assert r.exit_code != 0 and "model file not found" in r.output
    r = CliRunner().invoke(main, ["classify", str(images), "--model", model_file, "--device", "tpu"])
    assert r.exit_code != 0 and "unknown device 'tpu'" in r.output


def test_resnet20_cli_agrees_with_python_api(tmp_path, monkeypatch):
    from tests.shared_data import require

    ckpt = require("weights/akamaster_resnet_cifar10/resnet20-12fca82f.th")
    data = require("images/cifar10/test_batch_first846_exact.bin")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    import zoo
    import zoo.weights

    zoo.weights.import_file("resnet20.cifar10", str(ckpt))
    raw = np.fromfile(data, dtype=np.uint8).reshape(846, 3073)[:20]
    d = tmp_path / "cifar"
    d.mkdir()
    imgs = [r[1:].reshape(3, 32, 32).transpose(1, 2, 0) for r in raw]
    for i, img in enumerate(imgs):
        Image.fromarray(img).save(d / f"{i:02d}.png")
    r = CliRunner().invoke(main, ["classify", str(d), "--model", "resnet20", "--top", "1", "--json"])
    assert r.exit_code == 0, r.output
    cli = [json.loads(l)["predictions"][0]["label"] for l in r.stdout.splitlines() if l.startswith("{")]
    model = zoo.create_model("resnet20", weights="cifar10")
    api = [model.labels[j] for j in model.predict(model.preprocess(np.stack(imgs)), verbose=0).argmax(1)]
    assert cli == api
    assert sum(a == model.labels[y] for a, y in zip(api, raw[:, 0])) >= 17


def test_readme_sample_image_and_offline_message(tmp_path, monkeypatch):
    """The README's main command classifies apps/samples/chelsea.jpg; offline, without cached
    weights, it says how to place them instead of failing obscurely."""
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "apps" / "samples" / "chelsea.jpg"
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    r = CliRunner().invoke(main, ["classify", str(sample), "--model", "resnet50"])
    assert r.exit_code != 0
    assert "zoo weights import resnet50.imagenet" in r.output and "Traceback" not in r.output

    from tests.shared_data import require

    ckpt = require("weights/akamaster_resnet_cifar10/resnet20-12fca82f.th")
    import zoo.weights

    zoo.weights.import_file("resnet20.cifar10", str(ckpt))
    r = CliRunner().invoke(main, ["classify", str(sample), "--model", "resnet20", "--top", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.splitlines()[0])["predictions"][0]["label"] == "cat"
