"""core.host_memory: the allocator settings are applied on import (Linux/glibc) and can be
turned off with ZOO_MALLOC_TUNING=0; a fresh process shows both."""
import subprocess
import sys

import pytest

CHECK = "import core, core.host_memory as h; print(h._applied)"


def _run(env_value):
    import os

    env = dict(os.environ)
    env.pop("ZOO_MALLOC_TUNING", None)
    if env_value is not None:
        env["ZOO_MALLOC_TUNING"] = env_value
    return subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env,
                          check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings are Linux-only")
def test_applied_by_default_and_off_on_request():
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert _run(None) == "True"
    assert _run("0") == "False"
    assert _run("off") == "False"


def test_idempotent():
    from core import host_memory

    first = host_memory.tune_malloc()
    assert host_memory.tune_malloc() is first


def test_openblas_thread_timeout_set_before_numpy_loads_unless_given():
    import os

    code = "import core, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "20"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "OPENBLAS_THREAD_TIMEOUT": "8"}, check=True)
    assert out.stdout.strip() == "8"  # the user's value wins
    late = "import numpy, core, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    out = subprocess.run([sys.executable, "-c", late], capture_output=True, text=True, env=env, check=True)
    # NumPy already loaded OpenBLAS: the variable would mean nothing to it, so it is not left set
    # (core.parallel.shorten_blas_spin restarts OpenBLAS's threads instead: see test_parallel.py)
    assert out.stdout.strip() == "None"
    out = subprocess.run([sys.executable, "-c", "import apps, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"],
                         capture_output=True, text=True, env=env, check=True)
    from core.host_memory import BLAS_SPIN_LOG2_CYCLES

    assert out.stdout.strip() == str(BLAS_SPIN_LOG2_CYCLES)  # apps' copy of the value (it loads no NumPy)
