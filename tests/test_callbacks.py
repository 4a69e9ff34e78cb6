"""Callbacks: Keras 3 hook order and semantics, replayed against tests/fixtures/callbacks.json
(recorded from Keras 3.15.1 by tests/fixtures/make_callbacks_fixtures.py)."""
import json
import os
import re

import numpy as np
import pytest

from core import callbacks as cbm
from core.callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History,
                            LambdaCallback, LearningRateScheduler, ModelCheckpoint, ProgbarLogger,
                            ReduceLROnPlateau, TerminateOnNaN)

with open(os.path.join(os.path.dirname(__file__), "fixtures", "callbacks.json")) as _f:
    REF = json.load(_f)


class FakeOptimizer:
    def __init__(self, lr):
        self.learning_rate = lr
        self.iterations = 0


class FakeModel:
    """What the callbacks need from a model; the weights after epoch e are [e, e]."""

    def __init__(self, lr=0.01):
        self.stop_training = False
        self.optimizer = FakeOptimizer(lr)
        self.weights = [np.array([-1.0, -1.0], dtype=np.float32)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, ws):
        self.weights = [np.array(w) for w in ws]

    def save(self, path, overwrite=True):
        self.saved.append(os.path.basename(path))
        open(path, "w").close()

    def save_weights(self, path, overwrite=True):
        self.save(path)


def run_epochs(cb, model, monitor, values):
    """Drive the hooks like fit (one batch per epoch); return epochs run, lr seen at each epoch."""
    cbs = CallbackList([cb], model=model, verbose=0, epochs=len(values), steps=1)
    cbs.on_train_begin()
    ran, lrs, logs = 0, [], {}
    for epoch, v in enumerate(values):
        cbs.on_epoch_begin(epoch)
        model.weights = [np.array([float(epoch), float(epoch)], dtype=np.float32)]
        logs = {monitor: v, "other": 1.0}
        lrs.append(float(model.optimizer.learning_rate))
        cbs.on_epoch_end(epoch, logs)
        ran += 1
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return ran, lrs, logs


def fit_like(cbs, model, epochs, steps, logs_fn, val_logs_fn=None):
    """A fit-shaped driver: batches with running logs, optional validation, epoch logs."""
    cbs.on_train_begin()
    logs = {}
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        for b in range(steps):
            cbs.on_train_batch_begin(b)
            logs = logs_fn(epoch, b)
            cbs.on_train_batch_end(b, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if val_logs_fn is not None:
            cbs.on_test_begin()
            for b in range(2):
                cbs.on_test_batch_begin(b)
                cbs.on_test_batch_end(b, val_logs_fn(epoch))
            cbs.on_test_end(val_logs_fn(epoch))
            epoch_logs.update({f"val_{k}": v for k, v in val_logs_fn(epoch).items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    return epoch_logs


# ----------------------------------------------------------------------------- base / list
def test_hook_order_and_batch_aliases():
    calls = []

    class Rec(Callback):
        def __getattribute__(self, name):
            attr = object.__getattribute__(self, name)
            if name.startswith("on_"):
                calls.append(name)
            return attr

    model = FakeModel()
    cbs = CallbackList([Rec()], model=model, verbose=0, epochs=1, steps=2)
    fit_like(cbs, model, 1, 2, lambda e, b: {"loss": 1.0}, lambda e: {"loss": 2.0})
    # base on_train_batch_* forwards to the on_batch_* aliases (Keras compatibility)
    assert calls[:5] == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin",
                         "on_batch_begin", "on_train_batch_end"]
    assert calls[5] == "on_batch_end"
    assert "on_test_begin" in calls and calls[-2:] == ["on_epoch_end", "on_train_end"]


def test_callbacklist_defaults_params_and_logs():
    model = FakeModel()
    user = Callback()
    cbs = CallbackList([user], add_history=True, add_progbar=True, model=model, verbose=2,
                       epochs=3, steps=5)
    kinds = [type(c) for c in cbs.callbacks]
    assert kinds == [Callback, History, ProgbarLogger]  # Keras 3 appends both, progbar last
    assert user.model is model and user.params == {"verbose": 2, "epochs": 3, "steps": 5}
    assert model.history is cbs.callbacks[1]
    # an existing History/ProgbarLogger is reused, not duplicated
    h, p = History(), ProgbarLogger()
    cbs2 = CallbackList([p, h], add_history=True, add_progbar=True, model=model, verbose=0,
                        epochs=1, steps=1)
    assert cbs2.callbacks == [p, h]

    seen = {}
    lam = LambdaCallback(on_epoch_end=lambda e, logs: seen.update(logs))
    cbs3 = CallbackList([lam], model=model, verbose=0, epochs=1, steps=1)
    cbs3.on_epoch_end(0, {"z": np.float32(0.5), "a": np.array(2.0), "nested": {"m": np.int64(3)},
                          "vec": np.array([1.0, 2.0])})
    assert list(seen) == ["a", "m", "vec", "z"]  # flattened and sorted, like pythonify_logs
    assert type(seen["z"]) is float and seen["z"] == 0.5 and seen["m"] == 3.0
    assert isinstance(seen["vec"], np.ndarray)


def test_callbacklist_rejects_non_callbacks():
    with pytest.raises(TypeError, match="int at index 1"):
        CallbackList([Callback(), 3])


def test_history_records_epochs():
    model = FakeModel()
    cbs = CallbackList([], add_history=True, model=model, verbose=0, epochs=3, steps=2)
    fit_like(cbs, model, 3, 2, lambda e, b: {"loss": 1.0 / (e + 1), "accuracy": 0.5 + 0.1 * e},
             lambda e: {"loss": 2.0 / (e + 1)})
    h = model.history
    assert isinstance(h, History) and h.epoch == [0, 1, 2]
    assert h.history["loss"] == [1.0, 0.5, 1.0 / 3]
    assert h.history["val_loss"] == [2.0, 1.0, 2.0 / 3]
    assert h.history["accuracy"] == pytest.approx([0.5, 0.6, 0.7])
    assert h.params == {"verbose": 0, "epochs": 3, "steps": 2}


# ----------------------------------------------------------------------------- EarlyStopping
@pytest.mark.parametrize("sc", REF["early_stopping"], ids=lambda s: s["name"])
def test_early_stopping_matches_keras(sc):
    model = FakeModel()
    cb = EarlyStopping(**sc["kwargs"])
    ran, _, _ = run_epochs(cb, model, sc["kwargs"]["monitor"], sc["values"])
    assert ran == sc["epochs_run"]
    assert cb.stopped_epoch == sc["stopped_epoch"] and cb.best_epoch == sc["best_epoch"]
    assert cb.best == sc["best"] and cb.wait == sc["wait"]
    np.testing.assert_array_equal(model.weights[0], sc["final_weights"])


def test_early_stopping_restores_best_weights_and_reuse():
    model = FakeModel()
    cb = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True, verbose=1)
    ran, _, _ = run_epochs(cb, model, "val_loss", [0.5, 0.3, 0.4, 0.45, 0.1])
    assert ran == 3 and cb.stopped_epoch == 2
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])  # best epoch 1 restored
    # reusable: state resets in on_train_begin
    model.stop_training = False
    ran, _, _ = run_epochs(cb, model, "val_loss", [0.9, 0.8, 0.7])
    assert ran == 3 and cb.stopped_epoch == 0 and cb.best == 0.7


def test_early_stopping_messages(capsys):
    model = FakeModel()
    cb = EarlyStopping(monitor="loss", patience=0, restore_best_weights=True, verbose=1)
    run_epochs(cb, model, "loss", [1.0, 2.0])
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out


def test_early_stopping_auto_mode_and_missing_monitor():
    model = FakeModel()
    cb = EarlyStopping(monitor="val_accuracy", patience=0)  # auto -> maximise
    ran, _, _ = run_epochs(cb, model, "val_accuracy", [0.5, 0.6, 0.55, 0.7])
    assert ran == 3
    cb = EarlyStopping(monitor="val_mean_squared_error", patience=0)  # auto -> minimise
    model = FakeModel()
    ran, _, _ = run_epochs(cb, model, "val_mean_squared_error", [0.5, 0.4, 0.45])
    assert ran == 3

    class Metric:
        name, _direction = "custom_score", "up"

    model = FakeModel()
    model.metrics = [Metric()]  # a metric's _direction decides, as Keras 3
    cb = EarlyStopping(monitor="custom_score")
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"custom_score": 1.0})
    assert cb.monitor_op is np.greater

    cb = EarlyStopping(monitor="foo")
    cb.set_model(FakeModel())
    cb.on_train_begin()
    with pytest.raises(ValueError, match="monitor=foo.*mode='max'"):
        cb.on_epoch_end(0, {"foo": 1.0})

    cb = EarlyStopping(monitor="val_loss")
    cb.set_model(FakeModel())
    cb.on_train_begin()
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics "
                                         "are: loss,accuracy"):
        cb.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    with pytest.warns(UserWarning, match="mode 'bogus' is unknown"):
        EarlyStopping(mode="bogus")


# ----------------------------------------------------------------------------- ModelCheckpoint
@pytest.mark.parametrize("name", ["all", "best_only", "best_max", "threshold"])
def test_model_checkpoint_matches_keras(tmp_path, name):
    sc = REF["model_checkpoint"][name]
    model = FakeModel()
    wo = sc["fmt"].endswith(".weights.h5")
    cb = ModelCheckpoint(str(tmp_path / "sub" / sc["fmt"]), save_weights_only=wo, **sc["kwargs"])
    cbs = CallbackList([cb], model=model, verbose=0, epochs=5, steps=1)
    cbs.on_train_begin()
    for e, v in enumerate(sc["values"]):
        cbs.on_epoch_begin(e)
        cbs.on_epoch_end(e, {"val_loss": v, "val_acc": 1 - v, "loss": v + 0.1})
    cbs.on_train_end()
    assert model.saved == sc["saved"]
    assert sorted(os.listdir(tmp_path / "sub")) == sorted(sc["saved"])  # directory created


def test_model_checkpoint_save_freq_batches(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.keras"), save_freq=3)
    cbs = CallbackList([cb], model=model, verbose=0, epochs=2, steps=4)
    fit_like(cbs, model, 2, 4, lambda e, b: {"loss": 0.5})
    assert model.saved == REF["model_checkpoint"]["save_freq3"]["saved"]


def test_model_checkpoint_weights_only_calls_save_weights(tmp_path, capsys):
    calls = []

    class M(FakeModel):
        def save_weights(self, path, overwrite=True):
            calls.append(("weights", os.path.basename(path), overwrite))

        def save(self, path, overwrite=True):
            calls.append(("model", os.path.basename(path), overwrite))

    model = M()
    cb = ModelCheckpoint(str(tmp_path / "{epoch:02d}-{val_loss:.2f}.weights.h5"),
                         save_weights_only=True, verbose=1)
    run_epochs(cb, model, "val_loss", [0.123])
    assert calls == [("weights", "01-0.12.weights.h5", True)]
    assert "Epoch 1: saving model to" in capsys.readouterr().out


def test_model_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5.*Received: filepath=.*x\.keras"):
        ModelCheckpoint(str(tmp_path / "x.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in \.keras or \.h5"):
        ModelCheckpoint(str(tmp_path / "x.txt"))
    with pytest.raises(ValueError, match="Unrecognized save_freq: batch"):
        ModelCheckpoint(str(tmp_path / "x.keras"), save_freq="batch")

    class NoSave:
        stop_training = False

    cb = ModelCheckpoint(str(tmp_path / "x.keras"))
    cb.set_model(NoSave())
    with pytest.raises(NotImplementedError, match=r"needs model\.save\(filepath\).*NoSave"):
        cb.on_epoch_end(0, {"val_loss": 1.0})
    cb = ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.keras"))
    cb.set_model(FakeModel())
    with pytest.raises(KeyError, match="Failed to format.*val_acc"):
        cb.on_epoch_end(0, {"val_loss": 1.0})


# ----------------------------------------------------------------------------- LR callbacks
@pytest.mark.parametrize("sc", REF["reduce_lr"], ids=lambda s: s["name"])
def test_reduce_lr_on_plateau_matches_keras(sc):
    model = FakeModel(sc["lr"])
    cb = ReduceLROnPlateau(**sc["kwargs"])
    _, lrs, logs = run_epochs(cb, model, sc["kwargs"]["monitor"], sc["values"])
    assert lrs == sc["lr_at_epoch"]
    assert model.optimizer.learning_rate == sc["final_lr"]
    assert logs == sc["last_logs"]  # includes "learning_rate", as Keras 3 adds it


def test_reduce_lr_messages_and_errors(capsys):
    model = FakeModel(1.0)
    run_epochs(ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, verbose=1), model,
               "loss", [1.0, 1.0])
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.5." in capsys.readouterr().out
    with pytest.raises(ValueError, match="factor >= 1.0. Received factor=1.5"):
        ReduceLROnPlateau(factor=1.5)
    cb = ReduceLROnPlateau(monitor="val_loss")
    cb.set_model(FakeModel())
    with pytest.warns(UserWarning, match="`val_loss` which is not available.*loss,learning_rate"):
        cb.on_epoch_end(0, {"loss": 1.0})


def test_history_records_learning_rate_added_by_reduce_lr():
    model = FakeModel(0.1)
    cbs = CallbackList([ReduceLROnPlateau(monitor="loss", patience=0)], add_history=True,
                       model=model, verbose=0, epochs=3, steps=1)
    fit_like(cbs, model, 3, 1, lambda e, b: {"loss": 1.0})
    # the rate in effect during the epoch is logged before any reduction at its end
    assert model.history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.01])
    assert model.optimizer.learning_rate == pytest.approx(0.001)


def test_learning_rate_scheduler_matches_keras(capsys):
    ref = REF["lr_scheduler"]
    model = FakeModel(ref["lr"])
    cb = LearningRateScheduler(lambda e, lr: lr if e < 2 else lr * 0.5)
    _, lrs, logs = run_epochs(cb, model, "loss", [1.0] * 5)
    assert lrs == ref["lr_at_epoch"]
    assert logs == ref["last_logs"]
    # one-argument schedules (old API) and verbose message
    model = FakeModel(0.1)
    run_epochs(LearningRateScheduler(lambda e: 0.01 * (e + 1), verbose=1), model, "loss", [1, 1])
    assert model.optimizer.learning_rate == 0.02
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.02." in capsys.readouterr().out
    with pytest.raises(ValueError, match="should be a float. Got: '0.1'"):
        run_epochs(LearningRateScheduler(lambda e, lr: "0.1"), FakeModel(), "loss", [1.0])


# ----------------------------------------------------------------------------- CSVLogger
def test_csv_logger_matches_keras(tmp_path):
    ref = REF["csv_logger"]
    path = tmp_path / "log.csv"
    for name in ("with_val", "no_val_semicolon"):
        sc = ref[name]
        cb = CSVLogger(str(path), **sc["kwargs"])
        cbs = CallbackList([cb], model=FakeModel(), verbose=0, epochs=2, steps=1)
        cbs.on_train_begin()
        for e, lg in enumerate(sc["logs"]):
            cbs.on_epoch_begin(e)
            cbs.on_epoch_end(e, lg)
        cbs.on_train_end()
        assert path.read_bytes().decode() == sc["text"]
        assert cb.csv_file.closed
    cb = CSVLogger(str(path), append=True)
    cbs = CallbackList([cb], model=FakeModel(), verbose=0, epochs=1, steps=1)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_epoch_end(0, {"loss": 0.125, "mae": 0.0625})
    cbs.on_train_end()
    assert path.read_bytes().decode() == ref["appended"]["text"]


# ----------------------------------------------------------------------------- TerminateOnNaN / Lambda
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("-inf")])
def test_terminate_on_nan(capsys, bad):
    model = FakeModel()
    cbs = CallbackList([TerminateOnNaN()], add_history=True, model=model, verbose=0, epochs=5,
                       steps=4)
    fit_like(cbs, model, 5, 4, lambda e, b: {"loss": bad if (e, b) == (1, 2) else 1.0})
    assert model.stop_training is True
    assert model.history.epoch == [0, 1]
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out
    cb = TerminateOnNaN(raise_error=True)
    cb.set_model(FakeModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 3"):
        cb.on_train_batch_end(3, {"loss": bad})
    cb.on_train_batch_end(0, {"loss": 1.0})  # finite: nothing happens


def test_lambda_callback():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("tb"),
        on_epoch_begin=lambda e, logs: events.append(f"eb{e}"),
        on_train_batch_end=lambda b, logs: events.append(f"be{b}:{logs['loss']}"),
        on_epoch_end=lambda e, logs: events.append(f"ee{e}"),
        on_train_end=lambda logs: events.append("te"),
        on_test_end=lambda logs: events.append("test_end"),
    )
    model = FakeModel()
    fit_like(CallbackList([cb], model=model, verbose=0, epochs=2, steps=2), model, 2, 2,
             lambda e, b: {"loss": float(b)}, lambda e: {"loss": 0.0})
    assert events == ["tb", "eb0", "be0:0.0", "be1:1.0", "test_end", "ee0",
                      "eb1", "be0:0.0", "be1:1.0", "test_end", "ee1", "te"]
    with pytest.raises(ValueError, match="unknown hooks \\['on_epoch_ending'\\]"):
        LambdaCallback(on_epoch_ending=print)


# ----------------------------------------------------------------------------- ProgbarLogger
def _progbar_fit(verbose, epochs=3, steps=4, validate=True, interactive=False, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr(cbm.progbar_logger, "_stdout_is_interactive", lambda: interactive)
    model = FakeModel()
    cbs = CallbackList([], add_history=True, add_progbar=verbose != 0, model=model,
                       verbose=verbose, epochs=epochs, steps=steps)
    fit_like(cbs, model, epochs, steps,
             lambda e, b: {"loss": 1.0 / (e + b + 1), "accuracy": 0.25 * b},
             (lambda e: {"loss": 0.5, "accuracy": 0.75}) if validate else None)
    return cbs


LINE_RE = (r"Epoch (\d+)/3 - \d+s - \d+(us|ms|s)/step - accuracy: 0\.7500 - loss: (\S+)"
           r" - val_accuracy: 0\.7500 - val_loss: 0\.5000")


def test_progbar_verbose0_prints_nothing(capsys, monkeypatch):
    cbs = _progbar_fit(0, monkeypatch=monkeypatch, interactive=True)
    assert not any(isinstance(c, ProgbarLogger) for c in cbs.callbacks)
    assert capsys.readouterr().out == ""
    # an explicit ProgbarLogger with params verbose=0 is silent too
    model = FakeModel()
    cbs = CallbackList([ProgbarLogger()], model=model, verbose=0, epochs=1, steps=2)
    fit_like(cbs, model, 1, 2, lambda e, b: {"loss": 1.0})
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("verbose,interactive", [(2, False), (2, True), (1, False), ("auto", False)])
def test_progbar_one_line_per_epoch(capsys, monkeypatch, verbose, interactive):
    _progbar_fit(verbose, monkeypatch=monkeypatch, interactive=interactive)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "\r" not in out and len(lines) == 3, out  # validation inside fit is silent
    for i, line in enumerate(lines):
        m = re.fullmatch(LINE_RE, line)
        assert m, line
        assert int(m.group(1)) == i + 1
        assert m.group(3) == f"{1.0 / (i + 4):.4f}"  # last running loss of the epoch


def test_progbar_live_bar_on_terminal(capsys, monkeypatch):
    monkeypatch.setattr(ProgbarLogger, "refresh_interval", 0.0)  # draw every step
    _progbar_fit(1, monkeypatch=monkeypatch, interactive=True)
    out = capsys.readouterr().out
    assert "\r" in out  # redrawn
    finals = [seg for seg in out.replace("\n", "\r").split("\r") if "val_loss" in seg]
    assert len(finals) >= 3
    for i in range(3):
        seg = [s for s in finals if s.startswith(f"Epoch {i + 1}/3 ")][-1]
        assert "4/4" in seg and re.search(r" - \d+s - \d+(us|ms|s)/step - accuracy: 0\.7500 - "
                                          r"loss: \S+ - val_accuracy: 0\.7500 - val_loss: 0\.5000",
                                          seg), seg
    assert re.search(r"Epoch 1/3 [1-3]/4 \|.*\| ETA \S+ - accuracy: \S+ - loss: \S+", out), out
    assert out.count("\n") == 3  # one finished bar per epoch
    assert len(finals) == 3  # the final state is drawn once


def test_progbar_unknown_steps(capsys, monkeypatch):
    monkeypatch.setattr(ProgbarLogger, "refresh_interval", 0.0)
    monkeypatch.setattr(cbm.progbar_logger, "_stdout_is_interactive", lambda: True)
    model = FakeModel()
    cbs = CallbackList([], add_progbar=True, model=model, verbose=1, epochs=2, steps=None)
    fit_like(cbs, model, 2, 3, lambda e, b: {"loss": 0.5})
    out = capsys.readouterr().out
    assert "Epoch 1/2 1/Unknown" in out
    assert re.search(r"Epoch 2/2 3/3 \|", out)  # the count learnt in epoch 1 becomes the total
    monkeypatch.setattr(cbm.progbar_logger, "_stdout_is_interactive", lambda: False)
    cbs = CallbackList([], add_progbar=True, model=model, verbose=2, epochs=1, steps=None)
    fit_like(cbs, model, 1, 3, lambda e, b: {"loss": 0.5})
    assert re.fullmatch(r"Epoch 1/1 - \d+s - \d+(us|ms|s)/step - loss: 0\.5000\n",
                        capsys.readouterr().out)


@pytest.mark.parametrize("verbose,interactive", [(1, True), (1, False), (2, False)])
def test_progbar_evaluate_and_predict(capsys, monkeypatch, verbose, interactive):
    monkeypatch.setattr(cbm.progbar_logger, "_stdout_is_interactive", lambda: interactive)
    cbs = CallbackList([], add_progbar=True, model=FakeModel(), verbose=verbose, epochs=1, steps=3)
    cbs.on_test_begin()
    for b in range(3):
        cbs.on_test_batch_begin(b)
        cbs.on_test_batch_end(b, {"loss": 0.25, "accuracy": 1e-5})
    cbs.on_test_end({"loss": 0.25, "accuracy": 1e-5})
    out = capsys.readouterr().out
    final = out.replace("\n", "\r").split("\r")
    final = [s for s in final if s][-1]
    assert re.search(r"3/3 .*- \d+s - \d+(us|ms|s)/step - accuracy: 1\.0000e-05 - loss: 0\.2500$",
                     final), out
    assert out.endswith("\n") and ("\r" in out) == interactive

    cbs.on_predict_begin()
    for b in range(3):
        cbs.on_predict_batch_begin(b)
        cbs.on_predict_batch_end(b, {"outputs": np.zeros((2, 2))})
    cbs.on_predict_end()
    out = capsys.readouterr().out
    final = [s for s in out.replace("\n", "\r").split("\r") if s][-1]
    assert re.search(r"3/3 .*- \d+s - \d+(us|ms|s)/step$", final), out


def test_progbar_bad_arguments():
    with pytest.raises(ValueError, match='count_mode="steps" only. Received: count_mode=\'samples\''):
        ProgbarLogger(count_mode="samples")
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or \"auto\". Received: verbose=3"):
        CallbackList([ProgbarLogger()], verbose=3, epochs=1, steps=1)
