"""Hostile HDF5 weight files: every reader (this project's format, Keras legacy and full-model h5,
Keras 3 .weights.h5) reads only the file itself, checks shapes and dtypes before data, bounds what
it allocates by the file's size, raises the project's error types and leaves the model as it was."""
import json

import h5py
import numpy as np
import pytest

from core import layers as L
from core.models import Sequential, load_model
from core.saving import (UnsafeWeightFileError, WeightFileError, read_keras3_weights, read_keras_full_model,
                         read_keras_legacy_weights)
from tests.hostile_helpers import run_measured


def _model():
    m = Sequential([L.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")])
    rng = np.random.default_rng(0)
    for w in m.weights:
        w.assign(rng.standard_normal(w.shape).astype("float32"))
    return m


def _snapshot(m):
    return [np.array(w.numpy()) for w in m.weights]


def _same(m, snap):
    return all(np.array_equal(w.numpy(), s) for w, s in zip(m.weights, snap))


@pytest.fixture
def secret(tmp_path):
    p = tmp_path / "secret.key"
    p.write_bytes(np.arange(64, dtype=np.float32).tobytes())   # stands for a key file, /etc/shadow...
    return p


# --------------------------------------------------------------------------- file builders
def _zoo_weights(path, m):
    m.save_weights(path)
    return "weights/" + m.weights[0].path


def _legacy_layers(group, m):
    group.attrs["layer_names"] = [b"d1", b"d2"]
    for layer in m.layers:
        g = group.create_group(layer.name)
        names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
        g.attrs["weight_names"] = names
        for n, w in zip(names, layer.weights):
            g.create_dataset(n.decode(), data=w.numpy())


def _keras_legacy(path, m):
    with h5py.File(path, "w") as f:
        _legacy_layers(f, m)
    return "d1/d1/kernel:0"


def _keras_full(path, m):
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
        _legacy_layers(f.create_group("model_weights"), m)
    return "model_weights/d1/d1/kernel:0"


def _keras3(path, m):
    with h5py.File(path, "w") as f:
        for i, layer in enumerate(m.layers):
            g = f.create_group(f"layers/dense{'' if i == 0 else '_' + str(i)}/vars")
            for j, w in enumerate(layer.weights):
                g.create_dataset(str(j), data=w.numpy())
        f.create_group("vars")
    return "layers/dense/vars/0"


BUILDERS = {"zoo": _zoo_weights, "keras_legacy": _keras_legacy, "keras_full": _keras_full, "keras3": _keras3}


def _replace(path, name, make):
    with h5py.File(path, "r+") as f:
        shape, dtype = f[name].shape, f[name].dtype
        del f[name]
        make(f, name, shape, dtype)


def _external_storage(secret):
    def make(f, name, shape, dtype):
        f.create_dataset(name, shape=shape, dtype=dtype,
                         external=[(str(secret), 0, int(np.prod(shape)) * dtype.itemsize)])
    return make


def _soft_link(f, name, shape, dtype):
    f.create_dataset("elsewhere", data=np.full(shape, 7, dtype))
    f[name] = h5py.SoftLink("/elsewhere")


def _external_link(secret_h5):
    def make(f, name, shape, dtype):
        f[name] = h5py.ExternalLink(str(secret_h5), "/secret")
    return make


def _virtual(secret_h5):
    def make(f, name, shape, dtype):
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[...] = h5py.VirtualSource(str(secret_h5), "secret", shape=shape)
        f.create_virtual_dataset(name, layout)
    return make


def _load_paths(kind, path):
    """Every public way to read ``path`` for a builder kind."""
    if kind == "keras_legacy":
        return [lambda: read_keras_legacy_weights(path)]
    if kind == "keras_full":
        return [lambda: read_keras_full_model(path), lambda: read_keras_legacy_weights(path)]
    if kind == "keras3":
        return [lambda: read_keras3_weights(path)]
    return []


def _plugin_filter(f, name, shape, dtype):
    f.create_dataset(name, data=np.zeros(shape, dtype), compression=32008, allow_unknown_filter=True)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("attack", ["external_storage", "soft_link", "external_link", "virtual", "plugin_filter"])
def test_hdf5_reads_only_itself(tmp_path, secret, kind, attack):
    secret_h5 = tmp_path / "other.h5"
    m = _model()
    with h5py.File(secret_h5, "w") as f:
        f.create_dataset("secret", data=np.arange(12, dtype=np.float32).reshape(4, 3) + 1000)
    path = tmp_path / f"w_{kind}.h5"
    name = BUILDERS[kind](path, m)
    make = {"external_storage": _external_storage(secret), "soft_link": _soft_link,
            "external_link": _external_link(secret_h5), "virtual": _virtual(secret_h5),
            "plugin_filter": _plugin_filter}[attack]
    _replace(path, name, make)

    target = _model()
    for w in target.weights:
        w.assign(np.zeros(w.shape, "float32"))
    snap = _snapshot(target)
    with pytest.raises(UnsafeWeightFileError) as e:
        target.load_weights(path)
    assert name.split("/")[-1] in str(e.value) or "elsewhere" in str(e.value), str(e.value)
    assert _same(target, snap)
    for read in _load_paths(kind, path):
        with pytest.raises(UnsafeWeightFileError):
            read()


def test_zoo_model_file_with_external_link_is_refused(tmp_path, secret):
    m = _model()
    path = tmp_path / "m.h5"
    m.save(path)
    _replace(path, "weights/" + m.weights[1].path, _external_storage(secret))
    with pytest.raises(UnsafeWeightFileError, match="external file"):
        load_model(path)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("bad", ["string", "complex", "object"])
def test_non_numeric_datasets_are_refused_not_cast(tmp_path, kind, bad):
    m = _model()
    path = tmp_path / "w.h5"
    BUILDERS[kind](path, m)
    last = {"zoo": "weights/" + m.weights[-1].path, "keras_legacy": "d2/d2/bias:0",
            "keras_full": "model_weights/d2/d2/bias:0", "keras3": "layers/dense_1/vars/1"}[kind]

    def make(f, n, shape, dtype):
        if bad == "string":
            f.create_dataset(n, data=np.array([b"1.5", b"2.5"]))
        elif bad == "complex":
            f.create_dataset(n, data=np.ones(shape, np.complex64))
        else:
            f.create_dataset(n, shape=shape, dtype=h5py.string_dtype())
    _replace(path, last, make)
    target = _model()
    snap = _snapshot(target)
    with pytest.raises(WeightFileError) as e:
        target.load_weights(path)
    assert "dtype" in str(e.value), str(e.value)
    assert _same(target, snap), "a failed load_weights changed the model"


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_failed_load_is_all_or_nothing(tmp_path, kind):
    """The last weight has the wrong shape: nothing at all is assigned (all formats)."""
    m = _model()
    path = tmp_path / "w.h5"
    BUILDERS[kind](path, m)
    last = {"zoo": "weights/" + m.weights[-1].path, "keras_legacy": "d2/d2/bias:0",
            "keras_full": "model_weights/d2/d2/bias:0", "keras3": "layers/dense_1/vars/1"}[kind]
    _replace(path, last, lambda f, n, shape, dtype: f.create_dataset(n, data=np.ones((5,), dtype)))
    target = _model()
    for w in target.weights:
        w.assign(np.zeros(w.shape, "float32"))
    snap = _snapshot(target)
    with pytest.raises(WeightFileError, match="shape"):
        target.load_weights(path)
    assert _same(target, snap)
    # a truncated / garbage dataset at the end: also nothing assigned
    _replace(path, last, lambda f, n, shape, dtype: f.create_dataset(n, shape=shape, dtype=dtype))
    with h5py.File(path, "r+") as f:
        off = f[last].id.get_offset()
    if off is not None:
        with open(path, "r+b") as fh:
            fh.truncate(off)
        with pytest.raises(WeightFileError):
            target.load_weights(path)
        assert _same(target, snap)


BOMB_SETUP = """
import h5py, numpy as np
from core import layers as L
from core.models import Sequential
from core.saving import read_keras_legacy_weights, WeightFileError
m = Sequential([L.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")])
path = sys.argv[1] if len(sys.argv) > 1 else PATH
"""


def _bomb_file(path, kind):
    """A ~1 MB-or-less file declaring a gzip-compressed 20000x20000 float32 dataset (1.6 GB once read)."""
    m = _model()
    name = BUILDERS[kind](path, m)
    with h5py.File(path, "r+") as f:
        del f[name]
        ds = f.create_dataset(name, shape=(20000, 20000), dtype="float32", compression="gzip",
                              chunks=(2000, 2000))
        ds[:2000, :2000] = 1.0   # one real compressed chunk; the rest is the fill value


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["zoo", "keras_legacy", "keras3"])
def test_compressed_bomb_is_not_read_before_the_shape_check(tmp_path, kind):
    path = tmp_path / "bomb.h5"
    _bomb_file(path, kind)
    size_mb = path.stat().st_size / 2**20
    assert size_mb < 2
    result, growth, seconds = run_measured(BOMB_SETUP.replace("PATH", repr(str(path))), """
        try:
            m.load_weights(path)
            result = "loaded"
        except WeightFileError as e:
            result = str(e)
        """)
    # refused from the header (the Keras readers compare declared and stored sizes) or at the
    # shape comparison with the model: either way before the data is read
    assert ("expects shape" in result and "20000" in result) or "claims 1600000000 bytes" in result, result
    assert growth < 100, f"RSS grew {growth:.0f} MB refusing a {size_mb:.1f} MB file"


@pytest.mark.slow
def test_reading_a_bomb_without_a_model_is_bounded_by_the_file_size(tmp_path):
    path = tmp_path / "bomb.h5"
    _bomb_file(path, "keras_legacy")
    result, growth, _ = run_measured(BOMB_SETUP.replace("PATH", repr(str(path))), """
        try:
            read_keras_legacy_weights(path)
            result = "read"
        except WeightFileError as e:
            result = type(e).__name__ + ": " + str(e)
        """)
    assert "declares 1600000000 bytes" in result or "claims 1600000000 bytes" in result, result
    assert growth < 100, growth


@pytest.mark.parametrize("garbage", ["[[[[" * 20000, "{\"class_name\": 3}", "not json", "{\"class_name\": \"Dense\"}",
                                     "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"x\": 1}]}}"])
def test_corrupted_model_config_raises_project_errors(tmp_path, garbage):
    from core.serialization_lib import UnknownObjectError

    m = _model()
    path = tmp_path / "m.h5"
    m.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = garbage
    with pytest.raises((WeightFileError, UnknownObjectError)):
        load_model(path)


def test_corrupted_weight_paths_attribute(tmp_path):
    m = _model()
    path = tmp_path / "w.h5"
    m.save_weights(path)
    for bad in ("[1, 2]", "{", "[\"nope\"]", "[" * 50000):
        with h5py.File(path, "r+") as f:
            f["weights"].attrs["paths"] = bad
        target = _model()
        snap = _snapshot(target)
        with pytest.raises(WeightFileError):
            target.load_weights(path)
        assert _same(target, snap)


KERAS_FULL = __import__("pathlib").Path(__file__).parent / "fixtures" / "readers" / "keras_full_model.h5"


@pytest.mark.parametrize("mutate", [
    lambda c: c.update(class_name="Functional", config=[]),
    lambda c: c["config"].update(layers=[{"class_name": "Dense"}]),
    lambda c: c["config"].update(layers=[{"class_name": "Dense", "config": {"units": "many"}}]),
    lambda c: c["config"].update(layers=[{"class_name": ["Dense"], "config": {}}]),
    lambda c: c["config"].pop("layers"),
    lambda c: c["config"].update(layers=[[1, 2, 3]]),
    lambda c: c.update(config={"layers": [{"class_name": "Dense", "config": {"units": [[[[1]]]]}}]}),
])
def test_corrupted_keras_full_model_config_raises_project_errors(tmp_path, mutate):
    """WeightFileError, or the registry's UnknownObjectError (a TypeError, as Keras raises) for a
    class name that is not a class: never a raw KeyError/TypeError/RecursionError."""
    from core.serialization_lib import UnknownObjectError

    import shutil

    if not KERAS_FULL.exists():
        pytest.skip("fixture missing")
    path = tmp_path / "k.h5"
    shutil.copy(KERAS_FULL, path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        mutate(cfg)
        f.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises((WeightFileError, UnknownObjectError)) as e:
        load_model(path)
    assert str(e.value)


def test_keras_full_model_with_deeply_nested_config(tmp_path):
    import shutil

    path = tmp_path / "k.h5"
    shutil.copy(KERAS_FULL, path)
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = "[" * 100000 + "]" * 100000
    with pytest.raises(WeightFileError):
        load_model(path)


_FUZZ_WORKER = """
import sys, traceback
from core import layers as L
from core.models import Sequential, load_model
from core.saving import WeightFileError
from core.serialization_lib import UnknownObjectError
what = sys.argv[1]
print("ready", flush=True)
for line in sys.stdin:
    path = line.strip()
    m = Sequential([L.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")])
    before = [w.numpy().copy() for w in m.weights]
    try:
        load_model(path) if what == "model" else m.load_weights(path)
        out = "ok"
    except (WeightFileError, UnknownObjectError):
        out = "error"
        if any((w.numpy() != b).any() for w, b in zip(m.weights, before)):
            out = "partial"
    except BaseException as e:
        out = "raw " + type(e).__name__ + ": " + str(e)[:200]
    print(out, flush=True)
"""


def _fuzz(paths, what, per_file_timeout=10, start_timeout=300):
    """Load each file in a worker process; a file the HDF5 library never finishes reading (it can
    loop on some corrupted metadata, out of Python's reach) is recorded as 'hang' and the worker
    restarted. The per-file limit counts from the worker's "ready" (its imports done): a file
    takes a few milliseconds, the limit is generous even on a loaded machine."""
    import os
    import selectors
    import subprocess
    import sys

    from tests.hostile_helpers import ROOT

    results, i, proc = [], 0, None
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    while i < len(paths):
        if proc is None:
            proc = subprocess.Popen([sys.executable, "-c", _FUZZ_WORKER, what], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(start_timeout) and proc.stdout.readline().strip() == "ready", "the worker did not start"
        proc.stdin.write(str(paths[i]) + "\n")
        proc.stdin.flush()
        if sel.select(per_file_timeout):
            results.append(proc.stdout.readline().strip() or "raw worker died")
        else:
            results.append("hang")
            proc.kill()
            proc.wait()
            proc = None
        i += 1
    if proc is not None:
        proc.stdin.close()
        proc.wait()
    return results


@pytest.mark.slow
@pytest.mark.parametrize("what", ["model", "weights"])
def test_random_corruption_raises_only_weight_file_errors(tmp_path, what):
    import collections

    m = _model()
    good = tmp_path / "good.h5"
    (m.save if what == "model" else m.save_weights)(good)
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(3)
    paths = []
    for k in range(150):
        bad = bytearray(data)
        for pos in rng.integers(0, len(bad), size=4):
            bad[pos] = rng.integers(0, 256)
        paths.append(tmp_path / f"bad{k}.h5")
        paths[-1].write_bytes(bytes(bad))
    results = _fuzz(paths, what)
    outcomes = collections.Counter(r.split(":")[0] for r in results)
    raw = [r for r in results if r.startswith("raw")]
    assert not raw, raw[:5]
    assert "partial" not in outcomes, "a failed load changed the model"
    assert outcomes["error"] > 0, outcomes
    print(f"{what}: {dict(outcomes)} over {len(results)} corrupted files")


def test_readers_accept_an_open_in_memory_file_and_still_vet_it(tmp_path):
    import io

    m = _model()
    path = tmp_path / "k3.weights.h5"
    _keras3(path, m)
    buf = io.BytesIO(path.read_bytes())       # as a .keras archive's model.weights.h5 is read
    with h5py.File(buf, "r") as f:
        groups = dict(read_keras3_weights(f))
    np.testing.assert_array_equal(groups["layers/dense"][0][1], m.weights[0].numpy())
    _replace(path, "layers/dense/vars/0", _soft_link)
    with h5py.File(io.BytesIO(path.read_bytes()), "r") as f:
        with pytest.raises(UnsafeWeightFileError, match="soft link"):
            read_keras3_weights(f)


@pytest.mark.parametrize("attack", ["soft_link", "external_storage"])
def test_keras_archive_weights_read_only_themselves(tmp_path, secret, attack):
    import io
    import zipfile

    m = _model()
    path = tmp_path / "m.keras"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    h5 = tmp_path / "inner.h5"
    h5.write_bytes(entries["model.weights.h5"])
    with h5py.File(h5, "r") as f:
        name = next(n for n in ("layers/dense/vars/0", "_layer_checkpoint_dependencies/dense/vars/0") if n in f)
    _replace(h5, name, _soft_link if attack == "soft_link" else _external_storage(secret))
    entries["model.weights.h5"] = h5.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    path.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeWeightFileError):
        load_model(path)
    target = _model()
    snap = _snapshot(target)
    with pytest.raises(UnsafeWeightFileError):
        target.load_weights(path)
    assert _same(target, snap)
