"""Models: Sequential, Functional (``Model(inputs, outputs)``) and subclassed ``Model``."""
from .model import Model
from .functional import Functional
from .sequential import Sequential

__all__ = ["Model", "Functional", "Sequential"]
