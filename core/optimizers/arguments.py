"""Validation of optimizer constructor arguments (errors name the argument)."""
from __future__ import annotations

import numpy as np


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _check_range(cls, name, value, low=0.0, high=None, allow_none=False):
    """``value`` as a float in [low, high]; ValueError naming the argument otherwise."""
    if value is None and allow_none:
        return None
    if not _is_number(value) or not np.isfinite(value):
        raise ValueError(f"{cls}: argument `{name}` must be a finite number, received {name}={value!r}")
    value = float(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{cls}: argument `{name}` must be {bounds}, received {name}={value!r}")
    return value

