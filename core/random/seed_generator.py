"""``SeedGenerator`` (``keras.random.SeedGenerator``) and how a ``seed`` argument becomes a NumPy
generator: an int gives the same numbers at every call, a ``SeedGenerator`` new numbers at each
call (repeatably), None draws from the engine generator (``core.utils.set_random_seed``)."""
from __future__ import annotations

import numpy as np

from . import generator as engine

_NAMES: dict = {}


def _auto_name(base):
    n = _NAMES.get(base, 0)
    _NAMES[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def make_default_seed() -> int:
    """A seed drawn from the engine generator (repeatable after ``set_random_seed``)."""
    with engine.lock():
        return int(engine.get_generator().integers(1, int(1e9)))


class SeedGenerator:
    """A stateful seed: each ``next()`` returns the state ``[seed, counter]`` and advances the
    counter, so the random functions given it draw new values at each call, the same sequence
    for the same seed. ``seed=None`` picks one from the engine generator."""

    def __init__(self, seed=None, name=None, **kwargs):
        kwargs.pop("backend", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name if name is not None else _auto_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self.state = np.array([int(seed), 0], dtype=np.int64)

    def next(self, ordered=True):
        """The current state (a copy), then advance it."""
        value = self.state.copy()
        if ordered:
            self.state[1] += 1
        else:
            self.state[:] = (self.state + 1) * 5387 % 933199
        return value

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name!r} state={self.state.tolist()}>"


def draw_generator(seed) -> np.random.Generator | None:
    """A NumPy generator for a Keras ``seed`` argument; None (use the engine generator) for None."""
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng([int(v) % (2 ** 63) for v in seed.next()])
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng([int(seed) % (2 ** 63), 0])
    if seed is None:
        return None
    raise ValueError("Argument `seed` must be either an integer or an instance of `SeedGenerator`. "
                     f"Received: seed={seed} (of type {type(seed)})")
