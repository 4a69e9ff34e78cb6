"""``keras.random`` (``SeedGenerator``, ``normal``, ``uniform``, ``truncated_normal``, ``randint``,
``categorical``, ``dropout``, ``shuffle``, ``gamma``, ``binomial``, ``beta``) and the engine's
generator (``set_seed``, ``get_generator``, ``lock``, ``bernoulli_mask``; the engine's array-level
``uniform``/``normal`` are in ``core.random.generator``)."""
from .generator import bernoulli_mask, get_generator, lock, set_seed
from .sampling import (
    beta, binomial, categorical, dropout, gamma, normal, randint, shuffle, truncated_normal, uniform,
)
from .seed_generator import SeedGenerator

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "categorical", "dropout",
           "shuffle", "gamma", "binomial", "beta", "set_seed", "get_generator", "lock", "bernoulli_mask"]
