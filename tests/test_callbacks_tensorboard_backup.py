"""TensorBoard (event files read back through their CRC-checked framing) and BackupAndRestore
(resuming an interrupted fit, Keras 3 semantics)."""
import glob
import json
import os
import struct

import numpy as np
import pytest

from core import layers as L
from core import models
from core import random as zrandom
from core.callbacks import BackupAndRestore, Callback, TensorBoard
from core.callbacks.event_file import (EventFileWriter, EventFormatError, crc32c, histogram_buckets,
                                       masked_crc32c, read_events, read_records)


def _model(seed=0):
    zrandom.set_seed(seed)   # different seeds: a restored model's weights come from the backup only
    m = models.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)])
    m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return m


def _data(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) * 0.5).astype("float32")


# ----------------------------------------------------------------------------- framing
def test_crc32c_known_values():
    # RFC 3720 test vectors for CRC-32C
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(bytes([0xFF] * 32)) == 0x62A8AB43
    # TFRecord's mask
    c = crc32c(b"abc")
    assert masked_crc32c(b"abc") == ((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def test_event_writer_roundtrip_and_corruption_is_detected(tmp_path):
    w = EventFileWriter(tmp_path / "run")
    w.scalar("loss", 0.25, 3)
    w.histogram("w/histogram", np.arange(10.0), 3)
    w.close()
    (path,) = glob.glob(str(tmp_path / "run" / "events.out.tfevents.*"))
    events = read_events(path)
    assert events[0]["file_version"] == "brain.Event:2"
    scalar = events[1]["values"][0]
    assert events[1]["step"] == 3 and scalar == {"tag": "loss", "plugin": "scalars", "value": 0.25}
    hist = events[2]["values"][0]
    assert hist["plugin"] == "histograms" and hist["value"].shape == (30, 3)
    assert hist["value"][:, 2].sum() == 10 and hist["value"][0, 0] == 0 and hist["value"][-1, 1] == 9
    data = bytearray(open(path, "rb").read())
    data[-6] ^= 0xFF   # a byte inside the last record's payload
    open(path, "wb").write(bytes(data))
    with pytest.raises(EventFormatError, match="data CRC mismatch"):
        list(read_records(path))
    open(path, "wb").write(bytes(data[:20]))
    with pytest.raises(EventFormatError, match="claims"):
        list(read_records(path))


def test_histogram_buckets_edge_cases():
    assert histogram_buckets([]).shape == (0, 3)
    np.testing.assert_array_equal(histogram_buckets([2.0, 2.0]), [[1.5, 2.5, 2.0]])
    b = histogram_buckets(np.linspace(-1, 1, 101), bucket_count=4)
    assert b.shape == (4, 3) and b[:, 2].sum() == 101


# ----------------------------------------------------------------------------- TensorBoard
def _scalars(run_dir):
    out = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        for ev in read_events(path):
            for v in ev["values"]:
                if v["plugin"] == "scalars":
                    out.setdefault(v["tag"], []).append((ev["step"], v["value"]))
    return out


def test_tensorboard_epoch_scalars_match_history(tmp_path):
    x, y = _data()
    model = _model()
    hist = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0,
                     callbacks=[TensorBoard(str(tmp_path / "logs"))])
    train = _scalars(str(tmp_path / "logs" / "train"))
    val = _scalars(str(tmp_path / "logs" / "validation"))
    assert [s for s, _ in train["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], hist.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train["epoch_mae"]], hist.history["mae"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in val["epoch_loss"]], hist.history["val_loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], [0.001] * 3, rtol=1e-6)
    # evaluation_<metric>_vs_iterations after each validation, at the optimizer's iterations (4 batches/epoch)
    assert [s for s, _ in val["evaluation_loss_vs_iterations"]] == [4, 8, 12]
    assert "batch_loss" not in train
    # the model graph for TensorBoard's Keras view
    (path,) = glob.glob(str(tmp_path / "logs" / "train" / "events.out.tfevents.*"))
    graph = [v for ev in read_events(path) for v in ev["values"] if v["plugin"] == "graph_keras_model"]
    assert len(graph) == 1 and json.loads(graph[0]["value"])["class_name"] == "Sequential"


def test_tensorboard_batch_scalars_and_histograms(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[TensorBoard(str(tmp_path), update_freq=2, histogram_freq=1, write_graph=False)])
    train = _scalars(str(tmp_path / "train"))
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6, 8, 10]   # global batch count, every 2nd of 10
    hists = {}
    for path in glob.glob(str(tmp_path / "train" / "events.out.tfevents.*")):
        for ev in read_events(path):
            for v in ev["values"]:
                if v["plugin"] == "histograms":
                    hists.setdefault(v["tag"], []).append((ev["step"], v["value"]))
    kernel = model.layers[0].kernel
    tag = f"{kernel.path}/histogram"
    assert tag in hists and [s for s, _ in hists[tag]] == [0, 1]
    assert hists[tag][-1][1][:, 2].sum() == kernel.shape[0] * kernel.shape[1]
    assert len(hists) == 4


def test_tensorboard_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="profile_batch"):
        TensorBoard(profile_batch=2)
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq=0)


# ----------------------------------------------------------------------------- BackupAndRestore
class _Crash(Exception):
    pass


class _CrashAt(Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise _Crash()


class _Record(Callback):
    def __init__(self):
        super().__init__()
        self.epochs, self.first_weights = [], None

    def on_train_begin(self, logs=None):
        self.first_weights = [w.numpy().copy() for w in self.model.weights]

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_backup_and_restore_resumes_after_a_crash_mid_epoch(tmp_path):
    x, y = _data()
    backup = str(tmp_path / "backup")
    model = _model()
    with pytest.raises(_Crash):
        model.fit(x, y, batch_size=8, epochs=4, verbose=0, shuffle=False,
                  callbacks=[BackupAndRestore(backup, save_freq=3), _CrashAt(epoch=2, batch=1)])
    # 5 batches an epoch, a backup every 3 batches: the last one after epoch 2's batch 1 (the
    # crash follows it), and the backup directory survives the crash
    meta = json.load(open(os.path.join(backup, "training_metadata.json")))
    assert meta == {"epoch": 2, "batch": 1}
    from core.saving.keras_h5 import detect_format

    assert detect_format(os.path.join(backup, "latest.weights.h5")) == "keras3_weights_h5"
    fresh = _model(seed=1)
    expected = _model(seed=2)
    expected.load_weights(os.path.join(backup, "latest.weights.h5"))
    rec = _Record()
    fresh.fit(x, y, batch_size=8, epochs=4, verbose=0, shuffle=False, callbacks=[BackupAndRestore(backup), rec])
    assert rec.epochs == [2, 3]                                # epoch 2 is run again from its start
    for a, b in zip(rec.first_weights, [w.numpy() for w in expected.weights]):
        np.testing.assert_array_equal(a, b)                     # from the backed-up weights
    assert fresh.optimizer.iterations == 12 + 10              # optimizer state restored: iterations continue
    assert not os.path.exists(backup)                          # delete_checkpoint=True after a normal end


def test_backup_and_restore_epoch_freq_and_keep_checkpoint(tmp_path):
    x, y = _data()
    backup = str(tmp_path / "b")
    model = _model()
    with pytest.raises(_Crash):
        model.fit(x, y, batch_size=8, epochs=5, verbose=0,
                  callbacks=[BackupAndRestore(backup, delete_checkpoint=False), _CrashAt(epoch=3, batch=0)])
    assert json.load(open(os.path.join(backup, "training_metadata.json"))) == {"epoch": 3, "batch": 0}
    rec = _Record()
    _model().fit(x, y, batch_size=8, epochs=5, verbose=0,
                 callbacks=[BackupAndRestore(backup, delete_checkpoint=False), rec])
    assert rec.epochs == [3, 4]
    assert os.path.exists(os.path.join(backup, "latest.weights.h5"))
    # a later fit without a backup starts at epoch 0 again (the resume point is not sticky)
    rec2 = _Record()
    _model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[rec2])
    assert rec2.epochs == [0, 1]


def test_backup_and_restore_double_checkpoint_falls_back(tmp_path):
    x, y = _data()
    backup = str(tmp_path / "b")
    with pytest.raises(_Crash):
        _model().fit(x, y, batch_size=8, epochs=5, verbose=0,
                     callbacks=[BackupAndRestore(backup, double_checkpoint=True), _CrashAt(epoch=2, batch=0)])
    assert os.path.exists(os.path.join(backup, "latest.weights.h5.bkp"))
    with open(os.path.join(backup, "latest.weights.h5"), "wb") as f:
        f.write(b"corrupted")
    rec = _Record()
    _model().fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[BackupAndRestore(backup), rec])
    assert rec.epochs == [1, 2, 3, 4]      # the previous backup (after epoch 0)


def test_backup_and_restore_argument_errors():
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("x", save_freq="batch")
