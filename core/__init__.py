"""zoo's engine: tensors with automatic differentiation on NumPy (CuPy on a GPU)."""
__version__ = "0.1.0"

import os as _os
import sys as _sys

if "numpy" not in _sys.modules:  # OpenBLAS reads this when NumPy loads it: see core/host_memory.py
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

from .host_memory import tune_malloc as _tune_malloc

_tune_malloc()  # see core/host_memory.py (ZOO_MALLOC_TUNING=0 turns it off)

from .autodiff import Function, Parameter, Tensor, enable_grad, is_grad_enabled, no_grad
from . import ops
from .backend import config, get_xp

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "enable_grad", "is_grad_enabled", "ops", "config", "get_xp"]
