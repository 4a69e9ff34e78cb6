"""`zoo image train | evaluate | predict` with CliRunner on small images the tests make."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from apps.cli import main
from core import layers as L
from zoo.classifier import ClassifierModel

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
    r = run("image", "evaluate", out / "model.h5", data, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["num_samples"] == 24
    assert json.loads((out / "evaluate_data" / "metrics.json").read_text())["num_samples"] == 24
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


def pretrained_file(tmp_path):
    src = tiny_image_test()
    src.save_weights(tmp_path / "pre.h5")
    return tmp_path / "pre.h5"


def test_best_weights_are_kept_across_stages_and_epochs_numbered_on(tmp_path):
    """Stage 2 at an absurd learning rate wrecks the model: the saved one is stage 1's best, and the
    saved model's accuracy is the best validation accuracy seen in either stage."""
    data = make_folder(tmp_path / "data", corrupt=False)
    out = tmp_path / "o"
    r = run("image", "train", data, "--model", "tiny_image_test", "--weights", pretrained_file(tmp_path),
            "--epochs", "4", "--freeze-epochs", "2", "--lr", "0.1", "--finetune-lr", "1e4", "--augment", "none",
            "--patience", "5", "--batch-size", "4", "-o", out)
    assert r.exit_code == 0, r.output
    history = json.loads((out / "history.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    val = history["val_accuracy"]
    assert len(val) == 4
    assert metrics["accuracy"] == pytest.approx(max(val))
    assert metrics["best_epoch"] == int(np.argmax(val)) + 1
    assert max(val[:2]) > max(val[2:]) and metrics["best_epoch"] <= 2  # stage 2 was worse: not saved
    for n in (1, 2, 3, 4):  # stage 2's epochs continue stage 1's numbering
        assert f"epoch {n}/4 " in r.stderr


def test_best_weights_tracker():
    from apps.image_cmd import _BestWeights

    class M:
        def __init__(self):
            self.w = [np.zeros(2)]

        def get_weights(self):
            return self.w

        def set_weights(self, w):
            self.w = w

    m, best = M(), _BestWeights("val_accuracy")
    for first, values in ((0, [0.5, 0.9]), (2, [0.7, 0.8])):
        cb = best.at(first)
        cb.set_model(m) if hasattr(cb, "set_model") else setattr(cb, "model", m)
        for e, v in enumerate(values):
            m.w = [np.full(2, first + e, float)]
            cb.on_epoch_end(e, {"val_accuracy": v})
    best.restore(m)
    assert best.epoch == 1 and best.value == 0.9 and m.w[0].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("args,message", [
    (["--unfreeze", "top-0"], "N >= 1"),
    (["--unfreeze", "top-99"], "the model has 2 layers with weights"),
    (["--model", "bert_tiny_nope"], "unknown model 'bert_tiny_nope'"),
])
def test_checked_before_any_training(tmp_path, args, message):
    data = make_folder(tmp_path / "data", corrupt=False)
    r = run("image", "train", data, "--weights", pretrained_file(tmp_path), "-o", tmp_path / "o", "--epochs", "2",
            "--freeze-epochs", "1", *([] if "--model" in args else ["--model", "tiny_image_test"]), *args)
    assert r.exit_code != 0 and message in r.output, r.output
    assert "stage 1" not in r.output and "Traceback" not in r.output


def test_text_model_name_is_not_an_image_model(tmp_path):
    import zoo

    text_models = [n for n in zoo.list_models() if n.startswith(("bert", "minilm"))]
    assert text_models
    data = make_folder(tmp_path / "data", corrupt=False)
    r = run("image", "train", data, "--model", text_models[0], "-o", tmp_path / "o")
    assert r.exit_code != 0 and f"{text_models[0]!r} is not an image model; image models: " in r.output
    assert "resnet20" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "o" / "model.h5").exists()


def test_an_image_file_as_data_and_an_unwritable_output(tmp_path):
    data = make_folder(tmp_path / "data", corrupt=False)
    r = run("image", "train", data / "dark" / "0.png", "--model", "tiny_image_test", "-o", tmp_path / "o")
    assert r.exit_code != 0 and "is an image, not a dataset" in r.output and "Traceback" not in r.output
    (tmp_path / "afile").write_text("x")
    r = run("image", "train", data, "--model", "tiny_image_test", "-o", tmp_path / "afile" / "run")
    assert r.exit_code != 0 and "cannot write to the output folder" in r.output and "Traceback" not in r.output
    r = run("image", "train", data, "--model", "tiny_image_test", "-o", tmp_path / "afile")
    assert r.exit_code != 0 and "exists and is not a folder" in r.output


def test_args_json_holds_only_the_arguments(tmp_path):
    data = make_folder(tmp_path / "data", corrupt=False)
    out = tmp_path / "o"
    r = run("image", "train", data, "--model", "tiny_image_test", "--weights", "none", "--epochs", "1", "-o", out,
            "-q", "--json")
    assert r.exit_code == 0, r.output
    args = json.loads((out / "args.json").read_text())
    assert args["model_name"] == "tiny_image_test" and args["epochs"] == 1 and args["quiet"] is True
    assert not any(isinstance(v, str) and v.startswith("<") for v in args.values()), args
    assert {"np", "zoo", "time", "t0"}.isdisjoint(args)
    summary = json.loads(r.stdout)
    assert set(summary) >= {"accuracy", "macro_f1", "best_epoch", "model"}
    assert "epoch 1/1" not in r.stderr  # quiet


def test_evaluate_table_png_and_run_folders(tmp_path):
    data = make_folder(tmp_path / "data", corrupt=False)
    out = tmp_path / "run"
    assert run("image", "train", data, "--model", "tiny_image_test", "--weights", "none", "--epochs", "1",
               "-o", out, "-q").exit_code == 0
    r = run("image", "evaluate", out, data, "-o", tmp_path / "ev")  # the run folder, not the file
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert any(l.split()[:1] == ["bright"] for l in lines) and any("macro avg" in l for l in lines)
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["num_samples"] == 24
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        with Image.open(tmp_path / "ev" / "confusion_matrix.png") as im:
            assert im.format == "PNG"
    r = run("image", "predict", out, data / "bright" / "0.png", "--json")
    assert r.exit_code == 0, r.output
    r = run("classify", data / "bright" / "0.png", "--model", out, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["predictions"][0]["label"] in ("bright", "dark")
    r = run("image", "predict", tmp_path, data / "bright" / "0.png")
    assert r.exit_code != 0 and "without a model.h5" in r.output


def test_classify_names_a_text_model(tmp_path):
    inp = L.Input((4,))
    m = ClassifierModel(inp, L.Dense(2, activation="softmax", name="fc")(inp), features_tensor=inp, head_name="fc")
    m.assets.update(text_model="lstm", labels=["a", "b"], vocab={"type": "words"})
    m.save(tmp_path / "model.h5")
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    for args in (["classify", img, "--model", tmp_path / "model.h5"], ["image", "predict", tmp_path, img],
                 ["image", "evaluate", tmp_path / "model.h5", tmp_path]):
        r = run(*args)
        assert r.exit_code != 0 and "is a text model (made by `zoo text train`)" in r.output, r.output
        assert "zoo text predict" in r.output and "Traceback" not in r.output
