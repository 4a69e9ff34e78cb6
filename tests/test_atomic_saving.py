"""Overwriting a saved file: the mode is kept, a symlink is written through (not replaced), data is
flushed before the rename, and temporary files left by killed saves are cleaned on the next save."""
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from core import layers as L
from core.models import Sequential, load_model
from core.saving import atomic as atomic_mod
from core.saving import load_safetensors, save_safetensors
from tests.hostile_helpers import ROOT


def _model():
    return Sequential([L.Input((3,)), L.Dense(2)])


WRITERS = {   # name: (write, file suffix)
    "save": (lambda m, p: m.save(p), ".zoo.h5"),
    "save_keras": (lambda m, p: m.save(p), ".keras"),
    "save_weights": (lambda m, p: m.save_weights(p), ".weights.h5"),
    "save_weights_zoo": (lambda m, p: m.save_weights(p), ".h5"),
    "safetensors": (lambda m, p: save_safetensors({"w": m.weights[0].numpy()}, p), ".safetensors"),
}


def _write(writer, m, path):
    WRITERS[writer][0](m, path)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_overwrite_keeps_the_file_mode(tmp_path, writer):
    p = tmp_path / ("f" + WRITERS[writer][1])
    m = _model()
    _write(writer, m, p)
    os.chmod(p, 0o600)
    _write(writer, m, p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    os.chmod(p, 0o640)
    _write(writer, m, p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_overwrite_writes_through_a_symlink(tmp_path, writer):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    real = real_dir / ("model" + WRITERS[writer][1])
    link = tmp_path / ("current" + WRITERS[writer][1])
    m = _model()
    _write(writer, m, real)
    link.symlink_to(real)
    m.weights[0].assign(np.full(m.weights[0].shape, 3.0, "float32"))
    _write(writer, m, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    if writer == "safetensors":
        np.testing.assert_array_equal(load_safetensors(real)["w"], 3.0)
    else:
        back = _model()
        back.load_weights(real)
        np.testing.assert_array_equal(back.weights[0].numpy(), 3.0)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert not [n for n in os.listdir(real_dir) if n.endswith(".tmp")]


def test_every_writer_fsyncs_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic_mod.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic_mod.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    m = _model()
    for name, (writer, suffix) in WRITERS.items():
        events.clear()
        writer(m, tmp_path / f"{name}{suffix}")
        assert "replace" in events and "fsync" in events[:events.index("replace")], (name, events)


_KILLED_SAVE = """
import os, sys, numpy as np
from core import layers as L
from core.models import Sequential
import h5py
real_file = h5py.File
def slow_file(*a, **k):
    f = real_file(*a, **k)
    print("writing", flush=True)
    import time; time.sleep(60)
    return f
h5py.File = slow_file
m = Sequential([L.Input((3,)), L.Dense(2)])
m.save(sys.argv[1])
"""


@pytest.mark.slow
def test_temp_files_of_killed_saves_are_cleaned_on_the_next_save(tmp_path):
    target = tmp_path / "m.zoo.h5"
    m = _model()
    m.save(target)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_SAVE, str(target)], stdout=subprocess.PIPE, env=env,
                                text=True)
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stale = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(stale) == 1   # each save attempt already removed the ones killed before it
    # someone else's file that merely looks similar, and a live process's temp, are left alone
    other = tmp_path / ".m.zoo.h5.notes.tmp"
    other.write_text("mine")
    live = tmp_path / f".m.zoo.h5.{os.getppid()}.abcdef.tmp"
    live.write_text("in progress")
    m.save(target)
    left = sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp"))
    assert left == sorted([other.name, live.name])
    load_model(target)
