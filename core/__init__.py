"""zoo's engine: tensors with automatic differentiation on NumPy (CuPy on a GPU)."""
__version__ = "0.1.0"

from .autodiff import Function, Parameter, Tensor, enable_grad, is_grad_enabled, no_grad
from . import ops
from .backend import config, get_xp

__all__ = ["Tensor", "Parameter", "Function", "no_grad", "enable_grad", "is_grad_enabled", "ops", "config", "get_xp"]
