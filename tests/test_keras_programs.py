"""Keras programs from keras-io, run with only `import core as keras` changed (and the data loading:
the originals download data sets; these use the real files in ../shared/data or generated data).

Each program in tests/keras_programs/ runs in a fresh process and folder and prints one result line.
Its numbers are compared with what the same program printed under Keras 3.15.1
(tests/fixtures/keras_programs_reference.json, made by `python tests/keras_programs/make_reference.py`
in a virtual environment with keras==3.15.1 and tensorflow-cpu==2.21.0): structural results (parameter
counts, output shapes, history and log keys, masks, file names) exactly; trained metrics within a band,
since the two frameworks draw different initial weights."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "keras_programs"
REFERENCE = json.loads((HERE / "fixtures" / "keras_programs_reference.json").read_text())
ROOT = HERE.parent

# Per program, the results that are not compared exactly with Keras's: ("min", m) at least m;
# ("ref-", d) at least Keras's value minus d; ("ref+", d) at most Keras's value plus d;
# ("range", lo, hi); ("decreasing",); ("skip",) not compared. Every other key must equal Keras's.
RULES = {
    "mnist_convnet": {"test_loss": ("ref+", 0.1), "test_accuracy": ("ref-", 0.04)},
    "text_classification_with_transformer": {"val_accuracy": ("ref-", 0.1)},
    "text_classification_from_scratch": {"test_accuracy": ("ref-", 0.15), "end_to_end_accuracy": ("ref-", 0.15),
                                         "end_to_end_loss_gap": ("range", 0.0, 1e-6)},
    "timeseries_classification_from_scratch": {"test_accuracy": ("ref-", 0.1), "predict_accuracy": ("ref-", 0.1),
                                                "best_val_loss": ("ref+", 0.2)},
    "timeseries_weather_forecasting": {"val_loss": ("ref+", 0.15), "first_val_loss": ("ref+", 0.3)},
    "functional_api": {"mnist_test_accuracy": ("ref-", 0.05), "reloaded_test_accuracy": ("ref-", 0.05),
                       "ensemble_error": ("range", 0.0, 1e-5)},
    "serialization_and_saving": {"custom_roundtrip_error": ("range", 0.0, 1e-6),
                                 "custom_objects_error": ("range", 0.0, 1e-6),
                                 "custom_object_scope_error": ("range", 0.0, 1e-6)},
    "writing_your_own_callbacks": {"early_stopped_epoch": ("skip",), "epochs_run": ("skip",)},
    "knowledge_distillation": {"teacher_accuracy": ("ref-", 0.08), "distilled_accuracy": ("ref-", 0.1),
                               "scratch_accuracy": ("ref-", 0.1)},
    "making_new_layers_and_models_via_subclassing": {"add_loss_only_loss": ("skip",), "vae_losses": ("decreasing",),
                                                     "custom_dropout_zero_fraction": ("range", 0.45, 0.55)},
    "autoencoder": {"val_loss": ("ref+", 0.05), "denoise_val_loss": ("ref+", 0.05), "denoise_mse": ("ref+", 0.02)},
    "bidirectional_lstm_imdb": {"val_accuracy": ("ref-", 0.1)},
    "lstm_seq2seq": {"val_accuracy": ("ref-", 0.1), "reload_error": ("range", 0.0, 1e-6),
                     "teacher_forced_error": ("range", 0.0, 1e-5)},
    "training_with_built_in_methods": {"test_accuracy": ("ref-", 0.05), "custom_loss_fn_loss": ("ref+", 0.02),
                                       "custom_loss_class_loss": ("ref+", 0.02), "ctp_last": ("ref-", 150),
                                       "activity_reg_loss": ("skip",), "pydataset_val_accuracy": ("ref-", 0.06)},
    "image_classification_from_scratch": {},
    "understanding_masking_and_padding": {},
    "sequential_model": {},
}
# Programs written for the engine's own gradient API (the torch-backend guide's calls): no Keras run.
OURS_ONLY = {
    "customizing_what_happens_in_fit": {"simple_losses": ("decreasing",), "lower_level_losses": ("decreasing",),
                                        "sample_weight_losses": ("decreasing",)},
}


def _programs():
    return sorted(p.stem for p in PROGRAMS.glob("*.py") if p.stem not in ("kp_data", "run_program", "make_reference"))


def _close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def _check(name, key, ours, ref, rule):
    kind = rule[0]
    where = f"{name}: {key} = {ours!r} (Keras: {ref!r})"
    if kind == "skip":
        return
    if kind == "equal":
        assert _close(ours, ref), where
    elif kind == "ref-":
        assert ours >= ref - rule[1], where
    elif kind == "ref+":
        assert ours <= ref + rule[1], where
    elif kind == "range":
        assert rule[1] <= ours <= rule[2], where
    elif kind == "decreasing":
        assert all(math.isfinite(v) for v in ours) and ours[-1] < ours[0], where
    else:
        raise AssertionError(f"unknown rule {rule}")


def run_program(name, workdir):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(PROGRAMS)]), KP_FULL="0")
    p = subprocess.run([sys.executable, str(PROGRAMS / "run_program.py"), str(PROGRAMS / f"{name}.py"), str(workdir)],
                       capture_output=True, text=True, env=env, timeout=900)
    if p.returncode == 77:
        pytest.skip(p.stdout.strip().splitlines()[-1])
    tail = (p.stdout + p.stderr)[-4000:]
    assert p.returncode == 0, f"{name} failed:\n{tail}"
    lines = [l for l in p.stdout.splitlines() if l.startswith("KP_RESULT ")]
    assert lines, f"{name} printed no result:\n{tail}"
    return json.loads(lines[-1][len("KP_RESULT "):])


@pytest.mark.slow
@pytest.mark.parametrize("name", _programs())
def test_keras_program(name, tmp_path):
    ours = run_program(name, tmp_path)
    if name in OURS_ONLY:
        for key, rule in OURS_ONLY[name].items():
            _check(name, key, ours[key], None, rule)
        return
    assert name in REFERENCE, f"no Keras reference for {name}: run tests/keras_programs/make_reference.py"
    ref = REFERENCE[name]
    assert sorted(ours) == sorted(ref), f"{name}: result keys differ from Keras's"
    rules = RULES.get(name, {})
    for key in ref:
        _check(name, key, ours[key], ref[key], rules.get(key, ("equal",)))


def test_every_program_is_checked():
    assert set(_programs()) == set(RULES) | set(OURS_ONLY)
