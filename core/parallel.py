"""Intra-op parallelism on the CPU: the independent parts of one op run on several threads at once.

NumPy runs its elementwise passes and small GEMMs on one thread but releases the GIL inside them,
so an op whose work splits into independent parts (the halves of a batch, attention's batch
chunks) runs them on a few threads (measurements: benchmarks/README.md).

A parallel region (``run``) hands its parts to the calling thread and a few worker threads; each
thread claims the next unclaimed part until none is left, so a worker that the OS has not run yet
(another process holds its core) never holds the region up: the caller takes its parts. The
region then waits only for parts already running, and re-raises the first exception (parts not
yet started when a part failed are skipped). Results are kept in part order, so they never depend
on which thread ran what. A region opened while another thread's region holds the workers, or
inside a part, runs its parts one after another on its own thread.

While a region runs, OpenBLAS runs single-threaded (two parts' GEMMs on two cores, not four BLAS
threads on two cores). Its thread count is process-wide, so it is set to 1 when the first region
starts and restored when the last ends; where it cannot be set (another BLAS), a region that calls
BLAS (``gemm=True``) runs serially. OpenBLAS's idle threads spin after each call: the engine
shortens that spin at its first work (core/host_memory.py).

Sharing the machine: ``pace`` (called as layers run) looks at the machine's runnable threads at
most every 0.2 s; while other processes' threads take some of this process's CPUs, OpenBLAS runs on
the CPUs left (its static split would wait on a descheduled thread at every GEMM) and pipelines
(``concurrently``) fall back to their serial form. ``ZOO_ADAPTIVE_THREADS=0`` turns that off.

The thread count is ``ZOO_NUM_THREADS`` when set, else ``OMP_NUM_THREADS``, else
``OPENBLAS_NUM_THREADS``, else (and at most) the CPUs this process may run on (its affinity mask,
and its container's CPU quota where one is set); ``set_num_threads``
changes it (1 turns intra-op parallelism off). An elementwise split gives the values one thread
gives, and sums split over threads are added in a fixed order, so they depend on the thread count
only (to rounding).
"""
from __future__ import annotations

import _thread
import contextlib
import ctypes
import itertools
import os
import threading
import time

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


_CGROUP_LIMITS = ("/sys/fs/cgroup/cpu.max",  # cgroup v2: "QUOTA PERIOD" or "max PERIOD"
                  ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"))  # v1
_quota_cpus = False  # False: not read yet; None: no limit


def _cgroup_cpus():
    """The CPUs' worth of time the container's CPU quota allows (rounded up), or None: a container
    limited to 2 CPUs of a 64-CPU host still sees 64 CPUs in its affinity mask."""
    v2, (v1_quota, v1_period) = _CGROUP_LIMITS
    try:
        with open(v2) as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        try:
            with open(v1_quota) as f:
                quota = f.read().strip()
            with open(v1_period) as f:
                period = f.read().strip()
        except OSError:
            return None
    try:
        quota, period = int(quota), int(period)
    except ValueError:  # "max": no limit
        return None
    if quota <= 0 or period <= 0:  # v1 writes -1 for no limit
        return None
    return max(1, -(-quota // period))


def _cpus() -> int:
    """The CPUs this process may use: its affinity mask, and at most its container's CPU quota."""
    global _quota_cpus
    if hasattr(os, "sched_getaffinity"):
        n = max(1, len(os.sched_getaffinity(0)))
    else:
        n = max(1, os.cpu_count() or 1)
    if _quota_cpus is False:
        _quota_cpus = _cgroup_cpus()
    return n if _quota_cpus is None else min(n, _quota_cpus)


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



# --------------------------------------------------------------------------- sharing the machine
# OpenBLAS splits a GEMM statically over its threads and its caller spins until every thread has
# done its share: when another process holds one of the cores, each multi-threaded GEMM waits for
# a thread that the OS has not run yet. The engine therefore looks at the machine now and then
# (``pace``) and, while other processes' runnable threads take some of its CPUs, runs OpenBLAS on
# the CPUs left and pipelines (``concurrently``) not at all; its own regions keep their threads,
# since their parts are claimed by whichever thread is free (``_Region``).
_LOOK_EVERY_S = 0.2
_SMOOTHING = 0.3  # weight of the newest look in the running estimate of the other threads
_adaptive = None  # None: ZOO_ADAPTIVE_THREADS not read yet
_next_look = 0.0
_others = 0.0  # other processes' runnable threads on this process's CPUs (smoothed)
_available = None  # threads worth running now; None: the machine not looked at yet


def _read_running() -> int | None:
    """Runnable threads on the machine now (/proc/loadavg), or None where it cannot be read."""
    try:
        with open("/proc/loadavg", "rb") as f:
            return int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None


def _own_running() -> int:
    """This process's runnable threads now (state R in /proc/self/task/*/stat)."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        if stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] == b"R":
            count += 1
    return max(1, count)


def _others_now() -> int | None:
    """Other processes' runnable threads now: the machine's less this process's (None: unreadable)."""
    running = _read_running()
    return None if running is None else max(0, running - _own_running())


def adaptive() -> bool:
    """Whether the engine sizes its threads to the CPU time other processes leave it (``pace``);
    ``ZOO_ADAPTIVE_THREADS=0`` or :func:`set_adaptive` turns it off."""
    global _adaptive
    if _adaptive is None:
        _adaptive = os.environ.get("ZOO_ADAPTIVE_THREADS", "1").strip().lower() not in ("0", "false", "no", "off")
    return _adaptive


def set_adaptive(on: bool) -> None:
    """Turn the sizing to the machine's load on or off (off: every region and OpenBLAS use
    ``num_threads()`` as they did before the first look)."""
    global _adaptive, _available, _others
    _adaptive = bool(on)
    if not on:
        _others, _available = 0.0, None
        _set_blas_outside(None)


def available_threads() -> int:
    """The threads worth running now: ``num_threads()`` less the CPUs that other processes'
    runnable threads take (as last seen by ``pace``), at least 1."""
    n = num_threads()
    return n if _available is None else max(1, min(n, _available))


def pace() -> None:
    """Look at the machine's load, at most every 0.2 s (the engine calls this as it runs work;
    a call in between costs a clock read), and size OpenBLAS's threads to what is available."""
    global _next_look, _others, _available
    now = time.monotonic()
    if now < _next_look:
        return
    _next_look = now + _LOOK_EVERY_S
    if not adaptive() or num_threads() <= 1:
        return
    others = _others_now()
    if others is None:
        return
    if others > 0:
        # a second look: one of this process's threads that ran when the machine's count was read
        # and slept when its own were counted reads as another process's; a busy process is seen twice
        again = _others_now()
        others = others if again is None else min(others, again)
    total = os.cpu_count() or 1
    mine = _cpus()
    if mine < total:  # the machine-wide count spreads over every CPU, not only ours
        others = others * mine / total
    _others = (1 - _SMOOTHING) * _others + _SMOOTHING * others
    available = max(1, min(num_threads(), mine - int(_others + 0.5)))
    if available != _available:
        _available = available
        _set_blas_outside(None if available >= num_threads() else available)


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


_blas_own = None  # OpenBLAS's count before ``pace`` limited it (None: not limited now)


def _set_blas_outside(n) -> None:
    """OpenBLAS's thread count outside regions: ``n``, or (None) the count it had before."""
    global _blas_own, _blas_saved
    if not blas_thread_control():
        return
    with _lock:
        current = _blas_saved if _blas_users else _blas[1]()
        if n is None:
            if _blas_own is None:
                return
            target, _blas_own = _blas_own, None
        else:
            if _blas_own is None:
                _blas_own = current
            target = min(n, _blas_own)
        if _blas_users:  # the last region's end sets it
            _blas_saved = target
        elif target != current:
            _blas[0](target)


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


class _Region:
    """One parallel region's parts, claimed one at a time by whichever thread is free: the
    caller and the workers take the next unclaimed part until none is left, so the caller never
    waits for a worker the OS has not run yet (it takes that worker's parts itself) and only waits
    for parts already running elsewhere. Results land at their part's index, so they never depend
    on which thread ran a part."""

    __slots__ = ("fn", "parts", "n", "claims", "results", "left", "lock", "done", "waiting", "error")

    def __init__(self, fn, parts):
        self.fn, self.parts, self.n = fn, parts, len(parts)
        self.claims = itertools.count()  # next() is atomic: one claim per part
        self.results = [None] * self.n
        self.left = self.n
        self.lock = _thread.allocate_lock()
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.waiting = False
        self.error = None

    def work(self):
        """Run unclaimed parts until none is left (after a failure, claimed parts are skipped)."""
        while True:
            i = next(self.claims)
            if i >= self.n:
                return
            if self.error is None:
                try:
                    self.results[i] = self.fn(*self.parts[i])
                except BaseException as e:  # handed to the region's thread
                    with self.lock:
                        if self.error is None or isinstance(self.error, StageFailed):  # the cause
                            self.error = e
            with self.lock:
                self.left -= 1
                last = self.left == 0 and self.waiting
            if last:
                self.done.release()

    def wait(self):
        """Block until every part has finished (the caller's own claims are done)."""
        with self.lock:
            if self.left == 0:
                return
            self.waiting = True
        self.done.acquire()


class _Worker:
    """A daemon thread that sleeps until given a region and then claims its parts. A region is
    handed over with raw locks (a cheaper round trip than through concurrent.futures); a worker
    that wakes after its region has ended finds nothing to claim."""

    def __init__(self):
        self.go = _thread.allocate_lock()
        self.go.acquire()
        self.mutex = _thread.allocate_lock()
        self.region = None
        self.signalled = False
        threading.Thread(target=self._loop, name="zoo-intra-op", daemon=True).start()

    def _loop(self):
        _state.depth = 1  # a worker never opens a region of its own
        while True:
            self.go.acquire()
            with self.mutex:
                region, self.region, self.signalled = self.region, None, False
            if region is not None:
                region.work()

    def start(self, region):
        with self.mutex:
            self.region = region
            if not self.signalled:
                self.signalled = True
                self.go.release()


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
    """``[fn(*p) for p in parts]``, the parts running concurrently (each claimed, in order, by
    whichever of the calling thread and the workers is free: see ``_Region``).

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
    threads claiming them in order): for parts that wait on one another, such as a pipeline's
    stages. Returns None, running nothing, where they cannot all run at once: fewer intra-op
    threads than callables, inside a region, the workers held by another thread's region, or
    ``gemm`` (the parts call BLAS, single-threaded meanwhile) where OpenBLAS's thread count
    cannot be set."""
    fns = list(fns)
    n = len(fns)
    if n > available_threads() or in_region() or (gemm and not blas_thread_control()):
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
    """``run``'s parallel case, the workers held: the parts claimed by the calling thread and
    ``threads - 1`` workers (see ``_Region``)."""
    region = _Region(fn, parts)
    workers = _get_workers(threads - 1)
    if gemm:  # (known to be controllable here)
        _blas_enter()  # before the parts start: every part's GEMMs single-threaded
    try:
        for w in workers:
            w.start(region)
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            region.work()
        finally:
            _state.depth -= 1
        region.wait()
    finally:
        if gemm:
            _blas_exit()
    region.fn = region.parts = None  # a worker waking late must not keep the arrays alive
    if region.error is not None:
        raise region.error
    return region.results


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
