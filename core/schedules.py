"""Alias of ``core.optimizers.schedules`` (Keras's ``keras.optimizers.schedules``): the same module object."""
import sys

from .optimizers import schedules as _schedules

sys.modules[__name__] = _schedules
