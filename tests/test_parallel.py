"""Intra-op parallelism (core.parallel) and the ops that split their work over its threads.

The ops only split large arrays, so these tests shrink the thresholds (``forced``) to run the
parallel paths on small inputs: results with two threads must equal those with one (bit for bit
where the split does not change any element's operations), and gradients must pass the float64
finite-difference check while the paths are forced."""
import importlib
import os
import threading
import time

import numpy as np
import pytest

from core import Tensor, parallel
from core.gradient_check import check_gradients
from core.ops import activations as ACT
from core.ops import attention as A
C = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function; the module by its path
from core.ops import conv_pool as CP
from core.ops import normalization as N
from core.ops import recurrent as R
from core.ops.activations import ewise, relu
from core.ops.attention import scaled_dot_product_attention
from core.ops.conv import conv2d
from core.ops.linalg import dense
from core.ops.normalization import batch_norm
from core.ops.pooling import max_pool2d

rng = np.random.default_rng(0)


def rand(*shape):
    return rng.standard_normal(shape)


@pytest.fixture
def threads():
    """Set the intra-op thread count for a test; restored afterwards."""
    before, adaptive = parallel.num_threads(), parallel.adaptive()
    parallel.set_adaptive(False)  # the machine's load must not turn the paths under test off
    yield parallel.set_num_threads
    parallel.set_num_threads(before)
    parallel.set_adaptive(adaptive)


@pytest.fixture
def forced(monkeypatch, threads):
    """Every op's parallel path on tiny inputs: thresholds shrunk, two threads."""
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)
    monkeypatch.setattr(C, "_BLOCK_BYTES_PER_THREAD", 256)
    monkeypatch.setattr(C, "_PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(C, "_DX_BLOCK_BYTES", 64)
    monkeypatch.setattr(C, "_TRANSPOSE_BLOCK_BYTES", 64)
    monkeypatch.setattr(CP, "_BLOCK_BYTES", 64)  # conv + max pool: one image per block
    monkeypatch.setattr(A, "_CHUNK_BYTES", 64)
    monkeypatch.setattr(R.LSTM, "_FACTOR_BLOCK", 2)
    monkeypatch.setattr(R._Recurrence, "_BACK_BLOCK", 2)  # the pipelined backward from 3 steps on
    monkeypatch.setattr(ACT, "_ROW", 8)  # relu and per-channel passes over rows of 8
    monkeypatch.setattr(ACT, "_CHUNK", 16)  # GELU's chunks
    monkeypatch.setattr(ACT, "_GELU_PARALLEL_MIN", 1)
    monkeypatch.setattr(N, "_LN_PARALLEL_MIN", 1)
    monkeypatch.setattr(N, "_BN_BLOCK", 48)  # batch norm's blocks: a few rows each
    threads(2)
    return threads


# ----------------------------------------------------------------------------- the module


def test_split_covers_the_range_in_balanced_contiguous_parts():
    for n, k in [(10, 3), (2, 5), (7, 1), (0, 2), (64, 2)]:
        parts = parallel.split(n, k)
        covered = [i for a, b in parts for i in range(a, b)]
        assert covered == list(range(n))
        sizes = [b - a for a, b in parts]
        assert max(sizes) - min(sizes) <= 1
        assert len(parts) == (max(1, min(k, n)) if n else 1)


@pytest.mark.parametrize("n,max_size,multiple,count", [(200, 16, 2, 14), (200, 16, 1, 13), (64, 10, 2, 8),
                                                     (3, 1, 2, 3), (5, 100, 4, 4), (7, 7, 2, 2), (0, 4, 2, 1)])
def test_chunks_fit_the_size_and_come_in_multiples(n, max_size, multiple, count):
    ranges = parallel.chunks(n, max_size, multiple)
    assert len(ranges) == count
    assert [i for a, b in ranges for i in range(a, b)] == list(range(n))
    sizes = [b - a for a, b in ranges]
    assert max(sizes) <= max_size and max(sizes) - min(sizes) <= 1


def test_for_ranges_returns_each_range_result_in_order_and_sum_parts_adds_them(threads, monkeypatch):
    threads(2)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)
    assert parallel.for_ranges(lambda a, b: (a, b), 10, 10) == [(0, 5), (5, 10)]
    assert parallel.for_ranges(lambda a, b: (a, b), 10, 0) == [(0, 10)]  # too small to split
    x = np.arange(10.0)
    assert parallel.sum_parts(parallel.for_ranges(lambda a, b: x[a:b].sum(), 10, 10)) == 45.0
    part = np.ones(3)
    assert parallel.sum_parts([part]) is part


def test_parts_for_respects_threads_and_minimum(threads):
    threads(4)
    assert parallel.parts_for(100) == 4
    assert parallel.parts_for(100, min_part=40) == 2
    assert parallel.parts_for(3) == 3
    threads(1)
    assert parallel.parts_for(100) == 1


def test_run_returns_results_in_order_and_uses_several_threads(threads):
    threads(2)
    seen = []
    barrier = threading.Barrier(2, timeout=10)  # both parts must be running at once

    def part(i):
        barrier.wait()
        seen.append(threading.get_ident())
        return i * 10

    assert parallel.run(part, [(1,), (2,)]) == [10, 20]
    assert len(set(seen)) == 2


def test_run_waits_for_every_thread_then_raises_the_first_error(threads):
    threads(2)
    done, started = [], threading.Event()

    def part(i):
        if i == 0:  # fails while the worker runs part 1
            assert started.wait(30)
            raise KeyError("first part failed")
        started.set()
        time.sleep(0.05)
        done.append(i)

    with pytest.raises(KeyError, match="first part failed"):
        parallel.run(part, [(0,), (1,)])
    assert done == [1]  # the part running elsewhere had finished before the error was raised

    ran = []

    def fail_first(i):
        ran.append(i)
        if i == 0:
            raise KeyError("first part failed")
        time.sleep(0.002)

    with pytest.raises(KeyError):
        parallel.run(fail_first, [(i,) for i in range(50)])
    assert len(ran) < 50  # parts not started when a part failed are skipped

    def worker_fails(i):
        if i == 1:
            raise ValueError("the worker's part failed")
        return i

    with pytest.raises(ValueError, match="worker's part failed"):
        parallel.run(worker_fails, [(0,), (1,)])
    assert parallel.run(worker_fails, [(0,), (2,)]) == [0, 2]  # the workers still serve


def test_more_parts_than_threads_keep_their_order(threads):
    threads(2)
    assert parallel.run(lambda i: i * i, [(i,) for i in range(7)]) == [i * i for i in range(7)]


def test_nested_regions_run_serially_in_the_part(threads):
    threads(2)

    def inner(i):
        return parallel.in_region(), threading.get_ident()

    def outer(i):
        me = threading.get_ident()
        res = parallel.run(inner, [(0,), (1,)])
        return all(r[0] for r in res) and all(r[1] == me for r in res)

    assert parallel.run(outer, [(0,), (1,)]) == [True, True]
    assert not parallel.in_region()


def test_one_thread_runs_everything_on_the_caller(threads):
    threads(1)
    me = threading.get_ident()
    assert parallel.run(lambda i: threading.get_ident(), [(0,), (1,), (2,)]) == [me] * 3


def test_gemm_regions_run_serially_without_blas_thread_control(threads, monkeypatch):
    threads(2)
    monkeypatch.setattr(parallel, "_blas", None)
    me = threading.get_ident()
    assert parallel.run(lambda i: threading.get_ident(), [(0,), (1,)], gemm=True) == [me, me]


def test_blas_runs_single_threaded_in_a_gemm_region_and_is_restored_after(threads):
    if "openblas" not in str(np.show_config(mode="dicts")).lower():
        pytest.skip("NumPy is not linked against OpenBLAS here")
    assert parallel.blas_thread_control()
    get = parallel._blas[1]
    before = get()
    threads(2)
    inside = parallel.run(lambda i: get(), [(0,), (1,)], gemm=True)
    assert inside == [1, 1]
    assert get() == before
    with pytest.raises(RuntimeError):  # restored after a failing region too
        parallel.run(lambda i: (_ for _ in ()).throw(RuntimeError("x")), [(0,), (1,)], gemm=True)
    assert get() == before


def test_overlapping_regions_of_two_threads_restore_blas_once_both_end(threads):
    if not parallel.blas_thread_control():
        pytest.skip("BLAS thread count not controllable here")
    get = parallel._blas[1]
    before = get()
    threads(2)
    gate = threading.Barrier(2, timeout=10)

    def region():
        parallel.run(lambda i: gate.wait() if i == 0 else None, [(0,), (1,)], gemm=True)

    ts = [threading.Thread(target=region) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert get() == before


def test_concurrently_runs_every_callable_at_once_and_returns_their_results(threads):
    threads(2)
    barrier = threading.Barrier(2, timeout=10)  # deadlocks unless both run at the same time
    seen = []

    def part(v):
        def f():
            barrier.wait()
            seen.append(threading.get_ident())
            return v
        return f

    assert parallel.concurrently([part("a"), part("b")], gemm=True) == ["a", "b"]
    assert len(set(seen)) == 2 and seen.count(threading.get_ident()) == 1


def test_concurrently_runs_nothing_where_the_callables_cannot_run_at_once(threads, monkeypatch):
    ran = []
    fns = [lambda: ran.append(0), lambda: ran.append(1)]
    threads(1)
    assert parallel.concurrently(fns) is None  # one thread: a waiting part would never wake
    threads(2)
    assert parallel.concurrently(fns + [lambda: ran.append(2)]) is None  # more parts than threads
    assert parallel.run(lambda i: parallel.concurrently(fns), [(0,), (1,)]) == [None, None]  # in a region
    with parallel._pool_busy:  # another thread's region holds the workers
        assert parallel.concurrently(fns) is None
    monkeypatch.setattr(parallel, "_blas", None)
    assert parallel.concurrently(fns, gemm=True) is None
    assert ran == []
    assert parallel.concurrently(fns) == [None, None] and sorted(ran) == [0, 1]


def test_progress_hands_items_over_and_a_failed_producer_wakes_its_consumer(threads):
    threads(2)
    items, progress = [], parallel.Progress()

    def produce():
        for i in range(5):
            time.sleep(0.002)
            items.append(i * i)
            progress.produced(i + 1)

    def consume():
        out = []
        for i in range(5):
            progress.wait(i)
            out.append(items[i])
        return out

    assert parallel.concurrently([produce, consume])[1] == [0, 1, 4, 9, 16]

    for producer_first in (True, False):  # the producer on the calling thread, then on the worker
        progress = parallel.Progress()

        def failing_producer():
            with progress.failing():
                progress.produced(1)
                raise KeyError("the producer failed")

        def waiter():
            progress.wait(0)
            progress.wait(1)  # never produced

        fns = [failing_producer, waiter] if producer_first else [waiter, failing_producer]
        with pytest.raises(KeyError, match="the producer failed"):  # the cause, not the waiter's error
            parallel.concurrently(fns)
        with pytest.raises(parallel.StageFailed):
            progress.wait(1)
    assert parallel.concurrently([lambda: 1, lambda: 2]) == [1, 2]  # the workers still serve


_SPIN_PROBE = r"""
import ctypes, json, os, threading, time
import numpy as np

a = np.random.default_rng(0).standard_normal((400, 400)).astype(np.float32)
ref = a.astype(np.float64) @ a


def spin_ms():
    # CPU time (ms) that this process's other threads take while it sleeps 0.2 s right after a
    # 2-thread GEMM: OpenBLAS's idle threads spinning
    def cpu():
        me, out = str(threading.get_native_id()), 0
        for t in os.listdir("/proc/self/task"):
            if t != me:
                with open(f"/proc/self/task/{t}/schedstat") as f:
                    out += int(f.read().split()[0])
        return out
    a @ a
    c0 = cpu()
    time.sleep(0.2)
    return (cpu() - c0) / 1e6


spin_before = spin_ms()
from core import host_memory, parallel  # NumPy came first: the engine's first work restarts OpenBLAS's threads

host_memory.prepare_host()

assert parallel.blas_thread_control()
timeout = parallel._blas_lib.openblas_thread_timeout
timeout.restype = ctypes.c_int
print(json.dumps(dict(timeout=timeout(), threads=parallel._blas[1](), spin_before=spin_before,
                      spin_after=spin_ms(), env=os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
                      close=bool(np.allclose(a @ a, ref, rtol=1e-4, atol=1e-3)))))
"""


def _spin_probe(env_timeout):
    import json
    import subprocess
    import sys

    if "openblas" not in str(np.show_config(mode="dicts")).lower():
        pytest.skip("NumPy is not linked against OpenBLAS here")
    if not os.path.exists("/proc/self/task") or (os.cpu_count() or 1) < 2:
        pytest.skip("needs Linux's /proc and 2 CPUs")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "ZOO_NUM_THREADS")}
    env.update(OPENBLAS_NUM_THREADS="2", PYTHONPATH=os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")]))
    if env_timeout is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = str(env_timeout)
    out = subprocess.run([sys.executable, "-c", _SPIN_PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_first_work_after_numpy_shortens_openblas_idle_spinning():
    from core.host_memory import BLAS_SPIN_LOG2_CYCLES

    r = _spin_probe(None)
    assert r["timeout"] == BLAS_SPIN_LOG2_CYCLES
    assert r["threads"] == 2 and r["close"]
    assert r["env"] is None  # the variable was only set for OpenBLAS to read it: children do not inherit it
    # OpenBLAS's default spins for about 100 ms of the 200 ms sleep; 2**20 cycles are well under 1 ms
    assert r["spin_before"] > 5, r
    assert r["spin_after"] < 10, r


@pytest.mark.slow
def test_openblas_thread_timeout_from_the_environment_is_kept():
    r = _spin_probe(25)
    assert r["timeout"] == 25 and r["env"] == "25"
    assert r["threads"] == 2 and r["close"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_workers(threads):
    threads(2)
    assert parallel.run(lambda i: i, [(0,), (1,)]) == [0, 1]  # the parent's workers exist
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its regions must work (and not wait on the parent's threads)
        try:
            both = threading.Barrier(2, timeout=30)  # each part waits for the other: two threads ran them
            ok = parallel.run(lambda i: (both.wait(), threading.get_ident())[1], [(0,), (1,)])
            os.write(w, b"ok" if len(set(ok)) == 2 else b"serial")
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    assert os.read(r, 10) == b"ok"
    os.close(r)


def test_set_num_threads_validates():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive int"):
            parallel.set_num_threads(bad)


@pytest.mark.parametrize("value", ["0", "two", "-3"])
def test_bad_thread_count_in_the_environment_is_an_error(monkeypatch, value):
    monkeypatch.setattr(parallel, "_threads", None)
    monkeypatch.setenv("ZOO_NUM_THREADS", value)
    with pytest.raises(ValueError, match="ZOO_NUM_THREADS"):
        parallel.num_threads()


def test_other_libraries_thread_variables_are_read_as_they_read_them(monkeypatch):
    monkeypatch.delenv("ZOO_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(parallel, "_cpus", lambda: 8)
    for omp, expected in [("4,2", 4), ("3", 3), ("auto", 8), ("0", 8)]:
        monkeypatch.setattr(parallel, "_threads", None)
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
        assert parallel.num_threads() == expected, omp


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setattr(parallel, "_threads", None)
    monkeypatch.setenv("ZOO_NUM_THREADS", "1")
    assert parallel.num_threads() == 1
    monkeypatch.setattr(parallel, "_threads", None)
    monkeypatch.delenv("ZOO_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert parallel.num_threads() == 1


# ----------------------------------------------------------------------------- ops, forced parallel


def _both(fn, threads):
    """fn() with one thread, then with two (the parallel paths forced)."""
    threads(1)
    one = fn()
    threads(2)
    two = fn()
    return one, two


def test_over_flat_slices_arrays_and_passes_other_arguments(forced):
    a, out = rand(2, 501), np.zeros((2, 501))
    calls = []

    def fn(x, scale, nothing, o):
        calls.append(x.size)
        assert nothing is None
        np.multiply(x, scale, out=o)

    parallel.over_flat(np, fn, a, 3.0, None, out)
    np.testing.assert_array_equal(out, a * 3.0)
    assert sorted(calls) == [501, 501]  # one range per thread

    class NotNumpy:  # another array module (CuPy) gets one call on the whole arrays
        __name__ = "cupy"

    calls.clear()
    parallel.over_flat(NotNumpy(), fn, a, 2.0, None, out)
    assert calls == [1002]


def test_ewise_splits_equal_the_plain_ufunc(forced):
    a, b = rand(1001).astype(np.float32), rand(1001).astype(np.float32)
    out = ewise(np, np.multiply, a, b, np.empty_like(a))
    np.testing.assert_array_equal(out, a * b)
    out = ewise(np, np.greater, a, np.float32(0), np.empty(a.shape, bool))
    np.testing.assert_array_equal(out, a > 0)


def test_conv_blocks_come_in_equal_numbers_per_thread(forced, monkeypatch):
    seen = []
    monkeypatch.setattr(parallel, "run", lambda fn, parts, gemm=False: seen.append(list(parts)) or [fn(*p) for p in parts])
    monkeypatch.setattr(C, "_BLOCK_BYTES_PER_THREAD", 300)
    x = rand(6, 4, 4, 1).astype(np.float32)  # 6 images of 2x2 outputs: 144 bytes of im2col each
    k = rand(9, 2).astype(np.float32)
    y = C._conv_gemm(np, x, ((0, 0), (0, 0)), k, 3, 3, 1, 1, 1, 1, 2, 2)
    (parts,) = seen
    # 300-byte blocks would hold 2 images (3 blocks: 2 for one thread, 1 for the other); the
    # blocks shrink to 1 image so that each thread gets 3
    assert parts == [(0, 3), (3, 6)]
    ref = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    np.testing.assert_allclose(y, ref.reshape(6, 2, 2, 9) @ k, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("xs,ks,s,pad", [pytest.param((3, 6, 7, 2), (3, 3, 2, 4), 1, "same", marks=pytest.mark.slow),
                                         ((3, 7, 6, 3), (3, 3, 3, 2), 1, "valid"),
                                         ((2, 7, 7, 2), (3, 3, 2, 3), 2, "same"),
                                         ((3, 6, 6, 1), (3, 3, 1, 2), 1, "valid")])
@pytest.mark.parametrize("x_grad", [True, False])
def test_conv2d_parallel_blocks_equal_serial_and_pass_gradient_check(forced, xs, ks, s, pad, x_grad):
    x, k, b = rand(*xs).astype(np.float32), rand(*ks).astype(np.float32), rand(ks[3]).astype(np.float32)
    gy = rand(*conv2d(Tensor(x), Tensor(k), Tensor(b), strides=s, padding=pad).shape).astype(np.float32)

    def run():
        ts = [Tensor(a, requires_grad=(i > 0 or x_grad)) for i, a in enumerate((x, k, b))]
        y = conv2d(*ts, strides=s, padding=pad, activation="relu")
        y.backward(gy)
        return [y.data] + [t.grad for t in ts]

    one, two = _both(run, forced)
    # the same products over other row blocks (BLAS may round a short block's dot products
    # differently), and per-thread partial sums of the kernel gradient added in order
    for a, b_ in zip(one, two):
        if a is None:
            assert b_ is None and not x_grad
            continue
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-5)
    check_gradients(lambda x, k, b: conv2d(x, k, b, strides=s, padding=pad, activation="relu"),
                    [rand(*xs), rand(*ks), rand(ks[3])])


@pytest.mark.parametrize("strides,padding,output_padding", [(2, "same", None), (2, "valid", 1), (1, "same", None)])
def test_conv2d_transpose_parallel_images_equal_serial_and_pass_gradient_check(forced, strides, padding,
                                                                               output_padding):
    from core.ops.conv import conv2d_transpose

    x, k, b = rand(5, 4, 3, 3).astype(np.float32), rand(3, 3, 2, 3).astype(np.float32), rand(2).astype(np.float32)
    kw = dict(strides=strides, padding=padding, output_padding=output_padding)
    gy = rand(*conv2d_transpose(Tensor(x), Tensor(k), Tensor(b), **kw).shape).astype(np.float32)

    def run():
        ts = [Tensor(a, requires_grad=True) for a in (x, k, b)]
        y = conv2d_transpose(*ts, **kw)
        y.backward(gy)
        return [y.data] + [t.grad for t in ts]

    one, two = _both(run, forced)
    for a, b_ in zip(one, two):  # per-image work; the kernel gradient's per-thread sums added in order
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-5)
    check_gradients(lambda x, k, b: conv2d_transpose(x, k, b, **kw), [rand(5, 4, 3, 3), rand(3, 3, 2, 3), rand(2)])


def test_dense_relu_and_batch_norm_parallel(forced):
    x, w, bias = rand(6, 5).astype(np.float32), rand(5, 7).astype(np.float32), rand(7).astype(np.float32)

    def run():
        ts = [Tensor(a, requires_grad=True) for a in (x, w, bias)]
        y = dense(ts[0], ts[1], ts[2], activation=relu)
        y.backward(np.ones(y.shape, np.float32))
        return [y.data] + [t.grad for t in ts]

    for a, b in zip(*_both(run, forced)):
        np.testing.assert_array_equal(a, b)
    check_gradients(lambda x, w, b: dense(x, w, b, activation=relu), [rand(6, 5), rand(5, 7), rand(7)])



@pytest.mark.parametrize("shape", [(4, 3, 3, 3), pytest.param((2, 5, 5, 16), marks=pytest.mark.slow), (7, 5),
                                   (3, 2, 2, 1)])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_batch_norm_blocks_match_the_whole_array_formula(forced, shape, activation):
    """Training batch norm over channels-last NumPy arrays runs in row blocks (shrunk here to a few
    rows, shared by two threads): the same values as the textbook formula, gradients that pass the
    float64 check, and one thread against two equal to rounding (the sums split differently)."""
    c = shape[-1]

    def bn(x, g, b):
        return batch_norm(x, g, b, np.zeros(c), np.ones(c), training=True, activation=activation)

    xb, g, b = rand(*shape), rand(c), rand(c)
    axes = tuple(range(len(shape) - 1))
    ref = (xb - xb.mean(axes)) / np.sqrt(xb.var(axes) + 1e-3) * g + b
    if activation == "relu":
        ref = np.maximum(ref, 0)
    np.testing.assert_allclose(bn(Tensor(xb), Tensor(g), Tensor(b)).data, ref, rtol=1e-10, atol=1e-12)

    def run():
        ts = [Tensor(a.astype(np.float32), requires_grad=True) for a in (xb, g, b)]
        y = bn(*ts)
        y.backward(np.cos(np.arange(y.data.size, dtype=np.float32)).reshape(y.shape))
        return [y.data] + [t.grad for t in ts]

    for one, two in zip(*_both(run, forced)):
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5)
    check_gradients(bn, [xb, g, b])


@pytest.mark.parametrize("padding,x_grad", [("valid", False), ("same", True)])
def test_conv_max_pool_parallel_blocks_equal_serial(forced, padding, x_grad):
    x, k, b = rand(5, 9, 8, 3).astype(np.float32), rand(3, 3, 3, 4).astype(np.float32), rand(4).astype(np.float32)
    gy = rand(5, *((3, 3) if padding == "valid" else (4, 4)), 4).astype(np.float32)

    def run():
        ts = [Tensor(x, requires_grad=x_grad), Tensor(k, requires_grad=True), Tensor(b, requires_grad=True)]
        y = CP.conv2d_max_pool2d(*ts, padding=padding, activation="relu")
        y.backward(gy)
        return [y.data] + [t.grad for t in ts if t.requires_grad]

    one, two = _both(run, forced)
    np.testing.assert_array_equal(one[0], two[0])  # per-image GEMMs either way
    for a, b_ in zip(one[1:], two[1:]):  # the kernel gradient's per-thread sums
        np.testing.assert_allclose(b_, a, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pool,strides", [(2, None), (3, 2)])  # tiled 2x2; overlapping windows
def test_max_pool_parallel_equals_serial(forced, pool, strides):
    x = rand(5, 6, 7, 3).astype(np.float32)
    x[0, 0, 0, 0] = x[0, 0, 1, 0]  # a tie: the first position must get the gradient

    def run():
        t = Tensor(x, requires_grad=True)
        y = max_pool2d(t, pool, strides)
        y.backward(np.arange(y.size, dtype=np.float32).reshape(y.shape))
        return y.data, t.grad, max_pool2d(Tensor(x), pool, strides).data

    for a, b in zip(*_both(run, forced)):
        np.testing.assert_array_equal(a, b)
    check_gradients(lambda x: max_pool2d(x, pool, strides), [rand(5, 6, 7, 3)])


def test_attention_parallel_chunks_equal_serial(forced):
    q, k, v = (rand(4, 2, 5, 3).astype(np.float32) for _ in range(3))
    gy = rand(4, 2, 5, 3).astype(np.float32)

    def run():
        ts = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        y = scaled_dot_product_attention(*ts)
        y.backward(gy)
        return [y.data] + [t.grad for t in ts]

    for a, b in zip(*_both(run, forced)):
        np.testing.assert_array_equal(a, b)
    check_gradients(lambda q, k, v: scaled_dot_product_attention(q, k, v),
                    [rand(4, 2, 5, 3), rand(4, 2, 5, 3), rand(4, 2, 5, 3)])


@pytest.mark.parametrize("masked", [False, True])
def test_lstm_blocked_factors_pass_gradient_check(forced, masked):
    """The backward loop's derivative factors come a few steps at a time, on two threads."""
    mask = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 0]], bool) if masked else None

    def f(x, k, rk, b):
        return R.lstm(x, k, rk, b, mask=mask, return_sequences=True)[0]

    check_gradients(f, [rand(2, 5, 3), rand(3, 8) * 0.5, rand(2, 8) * 0.5, rand(8) * 0.1])


def _pipelined_equals_serial(monkeypatch, forced, cell, run):
    """``run()`` (outputs and gradients, None where none) with one thread, where ``cell``'s
    backward is serial, then with two, where it is pipelined: the same to rounding."""
    calls = []
    serial = cell._back_pipelined
    monkeypatch.setattr(cell, "_back_pipelined", lambda self, *a: calls.append(r := serial(self, *a)) or r)
    one, two = _both(run, forced)
    assert calls[0] is None and calls[1] is not None  # serial, then pipelined
    for a, b in zip(one, two):
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["plain", "sequences", "backwards", "masked", "no_bias", "no_input_grad", "states",
                                  "activations"])
def test_lstm_pipelined_backward_equals_the_serial_one(forced, monkeypatch, case):
    """Two threads: the factors and weight gradients on one, the recurrence on the other, the
    input gradient's blocks on whichever is free. One thread: the serial backward."""
    N, T, F, u = 3, 11, 4, 5
    x, k, rk, b = rand(N, T, F), rand(F, 4 * u) * 0.5, rand(u, 4 * u) * 0.5, rand(4 * u) * 0.1
    h0, c0 = rand(N, u), rand(N, u)
    g = rand(N, T, u) if case == "sequences" else rand(N, u)
    mask = (rng.random((N, T)) > 0.3) if case == "masked" else None

    def run():
        args = [Tensor(x, requires_grad=case != "no_input_grad"), Tensor(k, requires_grad=True),
                Tensor(rk, requires_grad=True)] + ([] if case == "no_bias" else [Tensor(b, requires_grad=True)])
        states = [Tensor(h0, requires_grad=True), Tensor(c0, requires_grad=True)] if case == "states" else None
        kw = dict(activation="relu", recurrent_activation="hard_sigmoid") if case == "activations" else {}
        out = R.lstm(args[0], args[1], args[2], None if case == "no_bias" else args[3], initial_state=states,
                     mask=mask, return_sequences=case == "sequences", go_backwards=case == "backwards", **kw)
        out[0].backward(g)
        ts = args + (states or [])
        return [out[0].data] + [t.grad.data if t.requires_grad else None for t in ts]

    _pipelined_equals_serial(monkeypatch, forced, R.LSTM, run)


@pytest.mark.parametrize("case", ["plain", "sequences", "backwards", "masked", "no_bias", "no_input_grad", "state",
                                  "activations", "reset_before", "reset_before_masked", "no_kernel_grad"])
def test_gru_pipelined_backward_equals_the_serial_one(forced, monkeypatch, case):
    """As the LSTM's: the factors and the kernel, recurrent kernel and bias gradients on one
    thread, the recurrence on the other, the input gradient's blocks on whichever is free."""
    N, T, F, u = 3, 11, 4, 5
    reset_after = not case.startswith("reset_before")
    x, k, rk = rand(N, T, F), rand(F, 3 * u) * 0.5, rand(u, 3 * u) * 0.5
    b = rand(2, 3 * u) * 0.1 if reset_after else rand(3 * u) * 0.1
    h0 = rand(N, u)
    g = rand(N, T, u) if case == "sequences" else rand(N, u)
    mask = (rng.random((N, T)) > 0.3) if case.endswith("masked") else None

    def run():
        args = [Tensor(x, requires_grad=case != "no_input_grad"), Tensor(k, requires_grad=case != "no_kernel_grad"),
                Tensor(rk, requires_grad=True)] + ([] if case == "no_bias" else [Tensor(b, requires_grad=True)])
        states = [Tensor(h0, requires_grad=True)] if case == "state" else None
        kw = dict(activation="relu", recurrent_activation="hard_sigmoid") if case == "activations" else {}
        out = R.gru(args[0], args[1], args[2], None if case == "no_bias" else args[3], initial_state=states,
                    mask=mask, return_sequences=case == "sequences", go_backwards=case == "backwards",
                    reset_after=reset_after, **kw)
        out[0].backward(g)
        ts = args + (states or [])
        return [out[0].data] + [t.grad.data if t.requires_grad else None for t in ts]

    _pipelined_equals_serial(monkeypatch, forced, R.GRU, run)


@pytest.mark.parametrize("case", ["plain", "sequences", "backwards", "masked", "no_bias", "no_input_grad", "state",
                                  "relu"])
def test_simple_rnn_pipelined_backward_equals_the_serial_one(forced, monkeypatch, case):
    N, T, F, u = 3, 11, 4, 5
    x, k, rk, b, h0 = rand(N, T, F), rand(F, u) * 0.5, rand(u, u) * 0.5, rand(u) * 0.1, rand(N, u)
    g = rand(N, T, u) if case == "sequences" else rand(N, u)
    mask = (rng.random((N, T)) > 0.3) if case == "masked" else None

    def run():
        args = [Tensor(x, requires_grad=case != "no_input_grad"), Tensor(k, requires_grad=True),
                Tensor(rk, requires_grad=True)] + ([] if case == "no_bias" else [Tensor(b, requires_grad=True)])
        states = [Tensor(h0, requires_grad=True)] if case == "state" else None
        out = R.simple_rnn(args[0], args[1], args[2], None if case == "no_bias" else args[3], initial_state=states,
                           mask=mask, return_sequences=case == "sequences", go_backwards=case == "backwards",
                           activation="relu" if case == "relu" else "tanh")
        out[0].backward(g)
        ts = args + (states or [])
        return [out[0].data] + [t.grad.data if t.requires_grad else None for t in ts]

    _pipelined_equals_serial(monkeypatch, forced, R.SimpleRNN, run)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_gru_pipelined_backward_passes_gradient_check(forced, reset_after, masked):
    mask = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 0]], bool) if masked else None
    b = rand(2, 9) * 0.1 if reset_after else rand(9) * 0.1

    def f(x, k, rk, b):
        return R.gru(x, k, rk, b, mask=mask, return_sequences=True, reset_after=reset_after)[0]

    check_gradients(f, [rand(2, 5, 3), rand(3, 9) * 0.5, rand(3, 9) * 0.5, b])


@pytest.mark.parametrize("with_gamma,with_beta", [(True, True), (False, True), (True, False)])
def test_layer_norm_rows_in_parallel(forced, with_gamma, with_beta):
    from core.ops.normalization import layer_norm

    x, g, b = rand(3, 5, 6), rand(6), rand(6)

    def fn(x, *p):
        it = iter(p)
        return layer_norm(x, next(it) if with_gamma else None, next(it) if with_beta else None)

    params = [a for a, w in ((g, with_gamma), (b, with_beta)) if w]
    gy = rand(3, 5, 6).astype(np.float32)

    def run():
        ts = [Tensor(a.astype(np.float32), requires_grad=True) for a in [x] + params]
        y = fn(*ts)
        y.backward(gy)
        return [y.data] + [t.grad for t in ts]

    one, two = _both(run, forced)
    np.testing.assert_array_equal(one[0], two[0])  # each row's own statistics: the same values
    np.testing.assert_array_equal(one[1], two[1])
    for a, b_ in zip(one[2:], two[2:]):  # per-thread partial sums of the parameter grads
        np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-6)
    check_gradients(fn, [x] + params)


def test_layer_norm_over_several_axes_keeps_the_general_path(forced):
    from core.ops.normalization import layer_norm

    check_gradients(lambda x, g, b: layer_norm(x, g, b, axis=(1, 2)), [rand(3, 4, 5), rand(4, 5), rand(4, 5)])


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_chunks_in_parallel(forced, approximate):
    from core.ops.activations import gelu

    x = rand(7, 9).astype(np.float32)

    def run():
        t = Tensor(x, requires_grad=True)
        y = gelu(t, approximate=approximate)  # float32 GELU runs chunk by chunk
        y.backward(np.ones(y.shape, np.float32))
        return y.data, t.grad

    for a, b in zip(*_both(run, forced)):
        np.testing.assert_array_equal(a, b)


def test_adam_parallel_update_equals_serial(forced):
    from core import optimizers
    from core.autodiff import Parameter

    w0 = rand(300).astype(np.float32)
    grads = [rand(300).astype(np.float32) for _ in range(3)]

    def run():
        p = Parameter(w0.copy())
        opt = optimizers.Adam(0.01, amsgrad=True)
        for g in grads:
            opt.apply([g], [p])
        return p.data

    one, two = _both(run, forced)
    np.testing.assert_array_equal(one, two)


def test_the_caller_takes_the_parts_of_a_worker_the_os_has_not_run(threads, monkeypatch):
    """A worker that has not woken up (its core taken by another process) never holds a region up:
    the calling thread runs every part itself, and the late worker finds nothing left to do."""
    threads(2)
    parallel.run(lambda i: i, [(0,), (1,)])  # the workers exist
    release = threading.Event()
    original = parallel._Worker.start

    def late_start(self, region):  # the worker is woken only once the test allows it
        threading.Thread(target=lambda: (release.wait(10), original(self, region)), daemon=True).start()

    monkeypatch.setattr(parallel._Worker, "start", late_start)
    caller = threading.get_ident()
    ran_on = parallel.run(lambda i: (i, threading.get_ident()), [(i,) for i in range(6)])
    release.set()
    assert ran_on == [(i, caller) for i in range(6)]


def _look_at(monkeypatch, running, own=1, times=12):
    """Let ``pace`` see ``running`` runnable threads on the machine (``own`` of them this process's)."""
    monkeypatch.setattr(parallel, "_read_running", lambda: running)
    monkeypatch.setattr(parallel, "_own_running", lambda: own)
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    for _ in range(times):
        monkeypatch.setattr(parallel, "_next_look", 0.0)
        parallel.pace()


def test_pace_sizes_openblas_and_pipelines_to_the_cpus_other_processes_leave(threads, monkeypatch):
    threads(2)
    parallel.set_adaptive(True)
    monkeypatch.setattr(parallel, "_others", 0.0)
    monkeypatch.setattr(parallel, "_available", None)
    blas = parallel.blas_thread_control()
    before = parallel._blas[1]() if blas else None
    try:
        _look_at(monkeypatch, running=1)  # alone: nothing changes
        assert parallel.available_threads() == 2
        _look_at(monkeypatch, running=2)  # one busy process beside this one
        assert parallel.available_threads() == 1
        assert parallel.concurrently([lambda: 1, lambda: 2]) is None  # a pipeline would wait on it
        assert parallel.run(lambda i: i, [(0,), (1,)]) == [0, 1]  # regions still run (see the test above)
        if blas:
            assert parallel._blas[1]() == 1
        _look_at(monkeypatch, running=1)  # the other process has ended
        assert parallel.available_threads() == 2
        if blas:
            assert parallel._blas[1]() == before
        assert parallel.concurrently([lambda: 1, lambda: 2]) == [1, 2]
    finally:
        parallel.set_adaptive(False)


def test_pace_ignores_a_reading_that_a_second_look_does_not_confirm(threads, monkeypatch):
    """One of this process's threads running when the machine's count is read and asleep when its own
    are counted reads as another process's: the second look does not see it, nothing changes."""
    threads(2)
    parallel.set_adaptive(True)
    monkeypatch.setattr(parallel, "_others", 0.0)
    monkeypatch.setattr(parallel, "_available", None)
    readings = iter([3, 1] * 20)  # a spurious 2 others, then the truth, at every look
    try:
        _look_at(monkeypatch, running=1)
        monkeypatch.setattr(parallel, "_read_running", lambda: next(readings))
        for _ in range(20):
            monkeypatch.setattr(parallel, "_next_look", 0.0)
            parallel.pace()
        assert parallel.available_threads() == 2 and parallel._others == pytest.approx(0.0)
        _look_at(monkeypatch, running=2, times=3)  # a busy process is seen at both looks
        assert parallel.available_threads() == 1
    finally:
        parallel.set_adaptive(False)


def test_pace_counts_only_the_other_processes_share_of_this_process_cpus(threads, monkeypatch):
    threads(2)
    parallel.set_adaptive(True)
    monkeypatch.setattr(parallel, "_others", 0.0)
    monkeypatch.setattr(parallel, "_available", None)
    try:
        _look_at(monkeypatch, running=4, own=4)  # this process's own threads are not "others"
        assert parallel.available_threads() == 2
        monkeypatch.setattr(parallel.os, "cpu_count", lambda: 64)  # 30 busy threads spread over 64 CPUs
        for _ in range(12):
            monkeypatch.setattr(parallel, "_next_look", 0.0)
            monkeypatch.setattr(parallel, "_read_running", lambda: 31)
            monkeypatch.setattr(parallel, "_own_running", lambda: 1)
            parallel.pace()
        assert parallel.available_threads() == 1  # 30 * 2/64 ~ 0.9 of this process's 2 CPUs taken
    finally:
        parallel.set_adaptive(False)


def test_adaptive_sizing_can_be_turned_off(monkeypatch, threads):
    threads(2)
    monkeypatch.setattr(parallel, "_adaptive", None)
    monkeypatch.setenv("ZOO_ADAPTIVE_THREADS", "0")
    assert parallel.adaptive() is False
    _look_at(monkeypatch, running=8)
    assert parallel.available_threads() == 2


def test_own_running_threads_are_read_from_proc():
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("no /proc here")
    assert parallel._own_running() >= 1  # the calling thread itself is running
    assert parallel._read_running() >= 1


@pytest.mark.parametrize("files,expected", [
    ({"v2": "200000 100000\n"}, 2),
    ({"v2": "150000 100000\n"}, 2),  # 1.5 CPUs of time: two threads, each busy part of the time
    ({"v2": "max 100000\n"}, None),
    ({"q1": "-1\n", "p1": "100000\n"}, None),
    ({"q1": "100000\n", "p1": "100000\n"}, 1),
    ({}, None),
])
def test_container_cpu_quota_caps_the_thread_count(tmp_path, monkeypatch, files, expected):
    paths = {k: tmp_path / k for k in ("v2", "q1", "p1")}
    for k, text in files.items():
        paths[k].write_text(text)
    monkeypatch.setattr(parallel, "_CGROUP_LIMITS", (str(paths["v2"]), (str(paths["q1"]), str(paths["p1"]))))
    assert parallel._cgroup_cpus() == expected
    monkeypatch.setattr(parallel, "_quota_cpus", False)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert parallel._cpus() == (64 if expected is None else expected)
