"""zoo's engine: tensors with automatic differentiation on NumPy (CuPy on a GPU)."""
__version__ = "0.1.0"

import os as _os
import sys as _sys

from .host_memory import BLAS_SPIN_LOG2_CYCLES as _SPIN, tune_malloc as _tune_malloc

_numpy_first = "numpy" in _sys.modules
if not _numpy_first:  # OpenBLAS reads this when NumPy loads it: see core/host_memory.py
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(_SPIN))

_tune_malloc()  # see core/host_memory.py (ZOO_MALLOC_TUNING=0 turns it off)

from .autodiff import Function, Parameter, Tensor, enable_grad, is_grad_enabled, no_grad
from . import ops
from .gradient_tape import GradientTape
from .backend import config, get_xp

if _numpy_first:  # OpenBLAS has read its variables already: restart its threads with the value
    from .parallel import shorten_blas_spin as _shorten

    _shorten(_SPIN)

__all__ = ["GradientTape", "Tensor", "Parameter", "Function", "no_grad", "enable_grad", "is_grad_enabled", "ops", "config", "get_xp"]
