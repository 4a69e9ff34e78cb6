"""Reproducibility: one call seeds every source of randomness the engine uses."""
from __future__ import annotations

import random as _pyrandom

import numpy as np

from ..random import generator as zrandom


def set_random_seed(seed: int) -> None:
    """Make initialisation, shuffling, dropout and augmentation repeatable (seeds Python's
    ``random``, NumPy's global generator and the engine's generator)."""
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed expects an int, got {type(seed).__name__}")
    _pyrandom.seed(int(seed))
    zrandom.set_seed(int(seed))
