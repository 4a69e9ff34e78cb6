"""Intra-op parallelism on the CPU: the independent parts of one op run on several threads at once.

NumPy runs its elementwise passes (ufuncs, copies, reductions) on one thread, and OpenBLAS runs a
small GEMM on one thread too (a batch of attention's (128, 32) @ (32, 128) products). NumPy
releases the GIL inside those loops, so an op whose work splits into independent parts (the two
halves of a batch, attention's batch chunks) runs them on a few threads (measurements:
benchmarks/README.md).

A parallel region (``run``) runs its parts on the calling thread and on a few worker threads
(the parts shared out round-robin), waits for every thread and re-raises the first exception (a
thread's parts after a failing one are skipped). A region opened while another thread's region
holds the workers runs its parts one after another on its own thread. While a region runs, OpenBLAS
runs single-threaded: two parts' GEMMs on two cores instead of four BLAS threads fighting over
two cores. OpenBLAS's thread count is process-wide (its ``_local`` setter, too, in the pthreads
builds NumPy ships), so it is set to 1 when the first region starts and restored when the last
one ends; a GEMM that another thread of the program runs meanwhile runs single-threaded too.
Where the count cannot be set (another BLAS) a region that calls BLAS (``gemm=True``) runs its
parts one after another on the calling thread, as does a region opened inside another one.
OpenBLAS's idle threads would spin for about 0.1 s after each multi-threaded call, taking a core
from a region's parts: ``import core`` shortens that spin (see core/host_memory.py).

The thread count is ``ZOO_NUM_THREADS`` when set, else ``OMP_NUM_THREADS``, else
``OPENBLAS_NUM_THREADS``, else (and at most) the CPUs this process may run on; ``set_num_threads``
changes it (1 turns intra-op parallelism off). Results never depend on thread timing: an
elementwise split gives the values one thread gives, and sums split over threads (a kernel
gradient, layer-norm parameter gradients) are added in a fixed order, so they depend on the thread
count only (to rounding).
"""
from __future__ import annotations

import _thread
import contextlib
import ctypes
import os
import threading

_ENV_VARS = ("ZOO_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# OpenBLAS's thread-count functions, as NumPy's wheels (scipy-openblas, 64-bit ints) or a plain
# build name them
_BLAS_NAMES = [(f"{p}openblas_set_num_threads{s}", f"{p}openblas_get_num_threads{s}")
               for p, s in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", ""))]

_lock = threading.Lock()
_state = threading.local()  # .depth: > 0 while this thread runs a part of a region
_threads = None
_workers = []  # _Worker threads, made on first use (a forked child makes its own)
_workers_pid = None
_pool_busy = threading.Lock()  # held by the region using the workers; another runs serially
_blas = False  # False: not looked up yet; None: not available; else (set, get) ctypes functions
_blas_lib = None  # the OpenBLAS library they come from
_blas_users = 0  # regions running now (the count is restored when the last one ends)
_blas_saved = None


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _from_env():
    """The thread count the environment asks for, or None. ``ZOO_NUM_THREADS`` is ours: a bad value
    is an error. The others belong to OpenMP and OpenBLAS: the first entry of OpenMP's nested list
    ("4,2") counts, and a value those libraries would not take either is passed over."""
    for name in _ENV_VARS:
        v = os.environ.get(name, "").strip()
        if not v:
            continue
        if name != "ZOO_NUM_THREADS":
            v = v.split(",")[0].strip()
        try:
            n = int(v)
        except ValueError:
            n = 0
        if n >= 1:
            return n
        if name == "ZOO_NUM_THREADS":
            raise ValueError(f"ZOO_NUM_THREADS={os.environ[name]!r}: expected a positive whole number of threads "
                             "(1 turns intra-op parallelism off); set it so, or unset it to follow OMP_NUM_THREADS")
    return None


def num_threads() -> int:
    """How many threads an op's parts run on (1: no intra-op parallelism)."""
    global _threads
    if _threads is None:
        _threads = min(_from_env() or _cpus(), _cpus())
    return _threads


def set_num_threads(n: int) -> None:
    """Run ops' parts on ``n`` threads from now on (1 turns intra-op parallelism off)."""
    global _threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _threads = n


def _find_blas():
    """OpenBLAS's (set, get) thread-count functions and the library (the one NumPy loaded)."""
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.rstrip("\n").split(" ")[-1]
                if "openblas" in os.path.basename(p).lower() and p not in paths:
                    paths.append(p)
    except OSError:
        return None
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for set_name, get_name in _BLAS_NAMES:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter, lib
    return None


def blas_thread_control() -> bool:
    """Whether BLAS's thread count can be set (regions with GEMMs may then run in parallel)."""
    global _blas, _blas_lib
    if _blas is False:
        import numpy  # noqa: F401  (the BLAS library is loaded with NumPy)

        found = _find_blas()
        _blas = found[:2] if found else None
        _blas_lib = found[2] if found else None
    return _blas is not None


def shorten_blas_spin(log2_cycles: int) -> bool:
    """Restart OpenBLAS's threads so that, idle, they spin for 2**log2_cycles cycles (instead of
    the 2**28 OpenBLAS reads from OPENBLAS_THREAD_TIMEOUT when NumPy loads it) before sleeping;
    ``import core`` calls it when NumPy was loaded first (see core/host_memory.py). Nothing is done
    when OPENBLAS_THREAD_TIMEOUT is set or the library lacks the functions; True when the library
    now has the value."""
    if not blas_thread_control() or "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return False
    fns = [getattr(_blas_lib, name, None)
           for name in ("openblas_read_env", "openblas_thread_timeout", "blas_thread_shutdown_", "blas_thread_init")]
    if any(f is None for f in fns):
        return False
    read_env, timeout, shutdown, init = fns
    timeout.restype = ctypes.c_int
    with _lock:
        threads = _blas[1]()
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(log2_cycles)
        try:  # OpenBLAS reads its variables into statics; new threads take the timeout from there
            read_env()
        finally:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]
        shutdown()
        init()
        _blas[0](threads)
    return timeout() == log2_cycles


def _blas_enter():
    global _blas_users, _blas_saved
    with _lock:
        if _blas_users == 0:
            _blas_saved = _blas[1]()
            if _blas_saved != 1:
                _blas[0](1)
        _blas_users += 1


def _blas_exit():
    global _blas_users
    with _lock:
        _blas_users -= 1
        if _blas_users == 0 and _blas_saved != 1:
            _blas[0](_blas_saved)


class _Worker:
    """A daemon thread that runs one task at a time, handed over with two raw locks (a cheaper
    round trip than through concurrent.futures)."""

    def __init__(self):
        self.go = _thread.allocate_lock()
        self.go.acquire()
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.task = self.result = self.error = None
        threading.Thread(target=self._loop, name="zoo-intra-op", daemon=True).start()

    def _loop(self):
        _state.depth = 1  # a worker never opens a region of its own
        while True:
            self.go.acquire()
            fn, arg_lists = self.task
            try:
                self.result, self.error = [fn(*a) for a in arg_lists], None
            except BaseException as e:  # handed to the region's thread
                self.result, self.error = None, e
            self.task = None
            self.done.release()

    def start(self, fn, arg_lists):
        self.task = (fn, arg_lists)
        self.go.release()

    def wait(self):
        self.done.acquire()
        return self.result, self.error


def _after_fork_in_child():
    """A forked child has none of the parent's threads: fresh locks, no workers, no region."""
    global _lock, _pool_busy, _workers, _workers_pid, _blas_users
    _lock, _pool_busy = threading.Lock(), threading.Lock()
    _workers, _workers_pid = [], os.getpid()
    if _blas_users and _blas and _blas_saved != 1:  # forked inside a region: undo its setting
        _blas[0](_blas_saved)
    _blas_users = 0
    _state.depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _get_workers(n):
    global _workers, _workers_pid
    if _workers_pid != os.getpid():  # first use (or a child forked without the hook)
        _workers, _workers_pid = [], os.getpid()
    while len(_workers) < n:
        _workers.append(_Worker())
    return _workers[:n]


def parts_for(n: int, min_part: int = 1) -> int:
    """How many parts to cut ``n`` items into: one per thread, each of at least ``min_part`` items."""
    if n <= 0:
        return 1
    return max(1, min(num_threads(), n // max(1, min_part)))


def split(n: int, parts: int):
    """``parts`` contiguous (start, stop) ranges covering range(n), sizes differing by at most 1."""
    parts = max(1, min(parts, n)) if n > 0 else 1
    q, r = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + q + (i < r)
        out.append((start, stop))
        start = stop
    return out


def chunks(n: int, max_size: int, multiple: int = 1):
    """Contiguous (start, stop) ranges covering range(n), each at most ``max_size`` long, sizes
    differing by at most 1, and their count a multiple of ``multiple`` where n allows: shared out
    by ``split`` among ``multiple`` threads, every thread gets as much (13 blocks of 16 time steps
    of 200 would give one thread 112 steps and the other 88; 14 blocks give 100 each)."""
    count = -(-n // max(1, max_size))
    return split(n, min(n, -(-count // multiple) * multiple))


def in_region() -> bool:
    """Whether the calling thread is running a part of a parallel region."""
    return getattr(_state, "depth", 0) > 0


def run(fn, parts, gemm: bool = False):
    """``[fn(*p) for p in parts]``, the parts running concurrently (part i on thread i mod threads).

    ``gemm``: the parts call BLAS; they then run in parallel, BLAS single-threaded, only where its
    thread count can be set (see the module docstring), else one after another."""
    parts = list(parts)
    n = len(parts)
    serial = n <= 1 or num_threads() <= 1 or in_region() or (gemm and not blas_thread_control())
    if serial:
        return [fn(*p) for p in parts]
    if not _pool_busy.acquire(blocking=False):  # another thread's region holds the workers
        return [fn(*p) for p in parts]
    try:
        return _run_parts(fn, parts, min(num_threads(), n), gemm)
    finally:
        _pool_busy.release()


def concurrently(fns, gemm: bool = False):
    """``[f() for f in fns]`` with every callable on a thread of its own at the same time (the
    first on the calling thread): for parts that wait on one another, such as a pipeline's
    stages. Returns None, running nothing, where they cannot all run at once: fewer intra-op
    threads than callables, inside a region, the workers held by another thread's region, or
    ``gemm`` (the parts call BLAS, single-threaded meanwhile) where OpenBLAS's thread count
    cannot be set."""
    fns = list(fns)
    n = len(fns)
    if n > num_threads() or in_region() or (gemm and not blas_thread_control()):
        return None
    if not _pool_busy.acquire(blocking=False):
        return None
    try:
        return _run_parts(lambda f: f(), [(f,) for f in fns], n, gemm)
    finally:
        _pool_busy.release()


class StageFailed(RuntimeError):
    """Raised in a pipeline stage whose producer failed (a region re-raises the producer's error)."""


class Progress:
    """How many of a pipeline's items one thread has produced, for another to wait on (the stages
    run by ``concurrently``)."""

    def __init__(self):
        self.done = 0
        self.failed = False
        self.cond = threading.Condition()

    def produced(self, count):
        with self.cond:
            self.done = count
            self.cond.notify_all()

    def fail(self):
        with self.cond:
            self.failed = True
            self.cond.notify_all()

    @contextlib.contextmanager
    def failing(self):
        """Marks the producer failed (waking its waiters, which then raise) when the block raises."""
        try:
            yield
        except BaseException:
            self.fail()
            raise

    def wait(self, i):
        """Block until item ``i`` is produced."""
        if self.done > i:  # (a plain read: the count only grows)
            return
        with self.cond:
            while self.done <= i and not self.failed:
                self.cond.wait()
            if self.done <= i:
                raise StageFailed("the pipeline stage this one waits for failed")


def _run_parts(fn, parts, threads, gemm):
    """``run``'s parallel case, the workers held: part i on thread i mod ``threads``."""
    n = len(parts)
    workers = _get_workers(threads - 1)
    if gemm:  # (known to be controllable here)
        _blas_enter()  # before the parts start: every part's GEMMs single-threaded
    try:
        for j, w in enumerate(workers, 1):  # thread j runs parts j, j + threads, ...
            w.start(fn, parts[j::threads])
        _state.depth = getattr(_state, "depth", 0) + 1
        err = None
        try:
            mine = [fn(*p) for p in parts[0::threads]]
        except BaseException as e:  # wait for the other parts before raising
            mine, err = None, e
        finally:
            _state.depth -= 1
        theirs = []
        for w in workers:
            res, e = w.wait()
            theirs.append(res)
            if e is not None and (err is None or isinstance(err, StageFailed)):  # the cause, not a waiter's
                err = e
    finally:
        if gemm:
            _blas_exit()
    if err is not None:
        raise err
    results = [None] * n
    results[0::threads] = mine
    for j, res in enumerate(theirs, 1):
        results[j::threads] = res
    return results


# An elementwise pass over fewer elements than this runs on one thread: starting a region (waking
# a sleeping worker) costs what only a long pass earns back (measurements: benchmarks/README.md).
MIN_ELEMENTS = 1 << 20


def _on_numpy(xp) -> bool:
    return xp is None or getattr(xp, "__name__", "") == "numpy"


def for_ranges(fn, n: int, elements: int, gemm: bool = False, min_elements: int | None = None,
               xp=None) -> list:
    """``fn(i0, i1)`` over contiguous ranges covering range(n), one range per thread when the
    work is worth splitting (``elements`` >= ``min_elements``, default MIN_ELEMENTS: a single
    elementwise pass) and runs on NumPy (``xp``, when given: CuPy parallelises on its device);
    otherwise one call. Returns the calls' results in range order."""
    if not _on_numpy(xp) or elements < (MIN_ELEMENTS if min_elements is None else min_elements) or n < 2:
        return [fn(0, n)]
    return run(fn, split(n, parts_for(n)), gemm=gemm)


def sum_parts(parts):
    """The parts' results (arrays) added in their order: a fixed order, so a sum split over
    threads depends on the thread count only (to rounding)."""
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def over_flat(xp, fn, *args):
    """``fn(*args)`` where the array arguments are C-contiguous and of one size (other arguments,
    scalars or None, are passed as they are): on NumPy and for large arrays, as ``fn`` over
    matching 1-d ranges of every array, one range per intra-op thread."""
    arrays = [a for a in args if getattr(a, "ndim", 0)]
    n = arrays[0].size if arrays else 0
    if not _on_numpy(xp) or n < MIN_ELEMENTS or not all(a.flags.c_contiguous and a.size == n for a in arrays):
        return fn(*args)
    flat = [a.reshape(-1) if getattr(a, "ndim", 0) else a for a in args]
    for_ranges(lambda i0, i1: fn(*[a[i0:i1] if getattr(a, "ndim", 0) else a for a in flat]), n, n)
