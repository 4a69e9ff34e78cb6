"""The ``zoo`` command-line apps."""
import os as _os
import sys as _sys

if "numpy" not in _sys.modules:  # before any app imports NumPy: see core/host_memory.py (BLAS threads)
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # core.host_memory.BLAS_SPIN_LOG2_CYCLES (NumPy-free here)
