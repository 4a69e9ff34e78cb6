"""`zoo image train | evaluate | predict` with CliRunner on small images the tests make."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from apps.cli import main

from tests.app_helpers import make_folder, tiny_image_test


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_train_evaluate_predict(tmp_path):
    data = make_folder(tmp_path / "data")
    out = tmp_path / "out"
    r = run("image", "train", data, "--model", "tiny_image_test", "--weights", "none", "--epochs", "3", "-o", out,
            "--batch-size", "8", "--augment", "flip,crop,rotation", "--lr", "0.05")
    assert r.exit_code == 0, r.output
    assert "broken.png" in r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "labels"} <= set(metrics)
    assert metrics["labels"] == ["bright", "dark"] and np.sum(metrics["confusion_matrix"]) == 5
    assert json.loads((out / "args.json").read_text())["model_name"] == "tiny_image_test"
    plots = [out / "training_curves.png", out / "confusion_matrix.png"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not any(p.exists() for p in plots)
    else:
        for p in plots:
            with Image.open(p) as im:
                assert im.format == "PNG" and min(im.size) > 100
    r = run("image", "evaluate", out / "model.h5", data)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["num_samples"] == 24
    r = run("image", "predict", out / "model.h5", data / "bright" / "0.png", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["predictions"][0]["label"] in ("bright", "dark")
    r = run("classify", data / "dark", "--model", out / "model.h5", "--top", "1")
    assert r.exit_code == 0 and "0.png" in r.stdout


def test_csv_data_and_validation_folder(tmp_path):
    data = make_folder(tmp_path / "data", corrupt=False)
    rows = ["path,label"] + [f"data/{c}/{i}.png,{c}" for c in ("bright", "dark") for i in range(12)]
    (tmp_path / "list.csv").write_text("\n".join(rows))
    val = make_folder(tmp_path / "val", per_class=3, corrupt=False)
    r = run("image", "train", tmp_path / "list.csv", "--model", "tiny_image_test", "--weights", "none",
            "--epochs", "1", "-o", tmp_path / "o", "--val-data", val, "--augment", "none")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["num_samples"] == 6


@pytest.mark.slow
def test_staged_fine_tuning_freezes_then_unfreezes(tmp_path):
    data = make_folder(tmp_path / "data", corrupt=False)
    src = tiny_image_test()
    src.save_weights(tmp_path / "pre.h5")
    r = run("image", "train", data, "--model", "tiny_image_test", "--weights", tmp_path / "pre.h5", "--epochs", "3",
            "--freeze-epochs", "1", "--unfreeze", "top-1", "-o", tmp_path / "o")
    assert r.exit_code == 0, r.output
    assert "stage 1/2 (head only, backbone frozen)" in r.output and "stage 2/2" in r.output
    assert "2 trainable tensors" in r.output  # head only, then top-1 layer with weights (the head)


@pytest.mark.parametrize("setup,args,message", [
    (lambda p: None, ["missing_dir"], "data not found"),
    (lambda p: (p / "d").mkdir(), ["d"], "has no class folders"),
    (lambda p: make_folder(p / "d", classes=("only",), corrupt=False), ["d"], "single class"),
    (lambda p: make_folder(p / "d", corrupt=False), ["d", "--model", "nope9"], "unknown model 'nope9'"),
    (lambda p: make_folder(p / "d", corrupt=False), ["d", "--augment", "zoom"], "unknown ['zoom']"),
    (lambda p: make_folder(p / "d", corrupt=False), ["d", "--unfreeze", "half", "--weights", "none"],
     "--unfreeze must be 'all' or 'top-N'"),
    (lambda p: (p / "bad.csv").write_text("path,label\nonly_one_field\n"), ["bad.csv"], "expected 'path,label'"),
])
def test_errors_are_messages(tmp_path, setup, args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    r = run("image", "train", *args, "-o", tmp_path / "out", "--epochs", "1",
            *([] if "--model" in args else ["--model", "tiny_image_test"]))
    assert r.exit_code != 0 and message in r.output, r.output
    assert "Traceback" not in r.output


def test_evaluate_errors(tmp_path):
    r = run("image", "evaluate", tmp_path / "none.h5", tmp_path)
    assert r.exit_code != 0 and "model file not found" in r.output
