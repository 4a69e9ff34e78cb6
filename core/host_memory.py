"""Host-memory allocator settings for array workloads (Linux with glibc).

An engine that allocates a fresh output for every op hands glibc's ``malloc`` many large blocks.
By default each block above the mmap threshold (at most 32 MiB) is a new ``mmap`` whose pages are
faulted in on first write and returned to the system on ``free``: every large op output pays its
page faults again, and two BLAS threads faulting in the same output serialise in the kernel
(measurements: benchmarks/README.md).

``tune_malloc`` therefore asks glibc to serve every block from its heap (``M_MMAP_MAX = 0``) and to
keep freed memory instead of trimming it (``M_TRIM_THRESHOLD``), as PyTorch's caching allocator
does on a GPU: the process keeps the memory of its peak (resident memory does not shrink after
the largest batch). It runs once, when the engine first runs work (the first layer call:
:func:`prepare_host`), never merely because ``core`` was imported; set ``ZOO_MALLOC_TUNING=0`` in
the environment to leave the allocator as it is. Elsewhere (macOS, Windows, musl) it does nothing.

BLAS threads: after each call OpenBLAS's worker threads spin for 2**28 cycles (about 0.1 s)
before sleeping, so they spin through the engine's single-threaded NumPy work between two GEMMs
and through the intra-op threads' regions (``core.parallel``), taking one of the cores; on a
2-vCPU machine that intermittently halved the main thread's speed. 2**20 cycles (about 0.3 ms)
is still enough to chain the GEMMs of a layer, or an LSTM's per-step GEMMs (measurements:
benchmarks/README.md). So the spin is set to
2**BLAS_SPIN_LOG2_CYCLES cycles unless OPENBLAS_THREAD_TIMEOUT is set: by the ``zoo`` command and
the benchmarks through the variable before NumPy loads (:func:`configure_process`; OpenBLAS reads
it then), and by :func:`prepare_host` at the engine's first work otherwise, restarting OpenBLAS's
threads with the value (``core.parallel.shorten_blas_spin``). ``import core`` alone changes neither.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

BLAS_SPIN_LOG2_CYCLES = 20
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_applied = None


_prepared = False


def configure_process() -> None:
    """For programs that own their process (the ``zoo`` command, the benchmarks): before NumPy is
    loaded, set OPENBLAS_THREAD_TIMEOUT (unless given) so that OpenBLAS starts with the short spin;
    then apply :func:`prepare_host`'s settings when the engine first runs."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(BLAS_SPIN_LOG2_CYCLES))


def prepare_host() -> None:
    """Apply the host settings once, when the engine first runs work (the first layer call): the
    allocator tuning (:func:`tune_malloc`) and, when NumPy's OpenBLAS started with its default
    spin, a restart of its threads with the short one. A cheap no-op after the first call."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    tune_malloc()
    if "OPENBLAS_THREAD_TIMEOUT" not in os.environ and "numpy" in sys.modules:
        from .parallel import shorten_blas_spin  # a leaf module: no cycle

        shorten_blas_spin(BLAS_SPIN_LOG2_CYCLES)


def tune_malloc() -> bool:
    """Apply the settings once; True when they are in effect."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("ZOO_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only (musl has no mallopt tunables worth setting)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1))
    return _applied
