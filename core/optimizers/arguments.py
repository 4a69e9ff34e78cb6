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



# the keyword arguments every optimizer forwards to the base ``Optimizer`` (Keras's signature order)
BASE_ARGUMENTS = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
                  "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps", "name")


def base_arguments(arguments: dict) -> dict:
    """The base ``Optimizer``'s keyword arguments picked out of a subclass constructor's ``locals()``
    (its ``kwargs`` included): each optimizer keeps Keras's explicit signature and forwards them
    with ``super().__init__(learning_rate, **base_arguments(locals()))``."""
    return {**{name: arguments[name] for name in BASE_ARGUMENTS}, **arguments.get("kwargs", {})}
