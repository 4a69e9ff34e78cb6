"""core.host_memory: importing core leaves the host process alone; the allocator settings apply when
the engine first runs work (Linux/glibc) and can be turned off with ZOO_MALLOC_TUNING=0; the zoo
command sets OpenBLAS's spin before NumPy loads. A fresh process shows each."""
import os
import subprocess
import sys

import pytest

IMPORT_ONLY = "import core, core.host_memory as h; print(h._applied)"
FIRST_WORK = ("import numpy as np, core, core.host_memory as h; from core import layers as L; "
              "before = h._applied; L.Dense(2)(np.ones((1, 3), 'float32')); print(before, h._applied)")


def _run(code, env_value=None, extra_env=None):
    env = dict(os.environ)
    env.pop("ZOO_MALLOC_TUNING", None)
    env.pop("OPENBLAS_THREAD_TIMEOUT", None)
    if env_value is not None:
        env["ZOO_MALLOC_TUNING"] = env_value
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True).stdout.strip()


def _glibc():
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version
    except (OSError, AttributeError):
        return False
    return sys.platform.startswith("linux")


def test_import_core_changes_nothing():
    assert _run(IMPORT_ONLY) == "None"  # tune_malloc never ran
    code = "import core, os, sys; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), 'numpy' in sys.modules)"
    assert _run(code) == "None False"


@pytest.mark.slow
@pytest.mark.skipif(not _glibc(), reason="glibc malloc settings are Linux/glibc-only")
def test_applied_at_first_work_and_off_on_request():
    assert _run(FIRST_WORK) == "None True"
    assert _run(FIRST_WORK, "0") == "None False"
    assert _run(FIRST_WORK, "off") == "None False"


def test_idempotent():
    from core import host_memory

    first = host_memory.tune_malloc()
    assert host_memory.tune_malloc() is first
    host_memory.prepare_host()
    assert host_memory._prepared and host_memory.tune_malloc() is first


def test_zoo_command_sets_openblas_spin_before_numpy_unless_given():
    from core.host_memory import BLAS_SPIN_LOG2_CYCLES

    code = "import apps, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    assert _run(code) == str(BLAS_SPIN_LOG2_CYCLES)
    assert _run(code, extra_env={"OPENBLAS_THREAD_TIMEOUT": "8"}) == "8"  # the user's value wins
    late = "import numpy, apps, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    # NumPy already loaded OpenBLAS: the variable would mean nothing to it, so it is not set
    # (prepare_host restarts OpenBLAS's threads at the first work instead: see test_parallel.py)
    assert _run(late) == "None"
