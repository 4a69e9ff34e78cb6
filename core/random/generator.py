"""The engine's seedable randomness (the lowest layer: NumPy arrays, no tensors).

All draws come from one CPU ``numpy.random.Generator`` (PCG64) guarded by a lock, so a
prefetch thread and the training loop can both draw, and so the same seed gives the same
numbers on every device: values are drawn on the CPU, in the requested dtype, and then
moved to the array module ``xp`` (CuPy) when it is not NumPy.
"""
from __future__ import annotations

import threading

import numpy as np

_lock = threading.RLock()
_generator = np.random.default_rng()


def set_seed(seed) -> None:
    """Re-seed the engine generator (and NumPy's legacy global generator, ``np.random.seed``)."""
    if seed is None:
        raise ValueError("set_seed: seed must be a non-negative integer, got None")
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise ValueError(f"set_seed: seed must be a non-negative integer, got {seed!r}") from None
    if seed < 0:
        raise ValueError(f"set_seed: seed must be a non-negative integer, got {seed}")
    with _lock:
        # re-seed the same Generator object in place, so references from get_generator() follow
        _generator.bit_generator.state = np.random.PCG64(seed).state
        np.random.seed(seed % (2 ** 32))


def get_generator() -> np.random.Generator:
    """The engine's CPU generator (draw under ``core.random.lock()`` when sharing it across threads)."""
    return _generator


def lock():
    """The lock serialising draws from the engine generator (a re-entrant lock)."""
    return _lock


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _float_dtype(fn, dtype):
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"{fn}: dtype must be floating, got {dt}")
    return dt


def _to_xp(arr, xp):
    if xp is None or xp is np:
        return arr
    return xp.asarray(arr)


def _rng(generator):
    return _generator if generator is None else generator


def uniform(shape, dtype="float32", xp=np, low=0.0, high=1.0, generator=None):
    """Uniform samples in [low, high) of ``shape`` and ``dtype`` on ``xp``'s device."""
    dt = _float_dtype("uniform", dtype)
    shape = _shape(shape)
    with _lock:
        r = _rng(generator).random(shape, dtype=np.float32 if dt == np.float32 else np.float64)
    r = r.astype(dt, copy=False)
    if low != 0.0 or high != 1.0:
        r = r * dt.type(high - low) + dt.type(low)
    return _to_xp(r, xp)


def normal(shape, dtype="float32", xp=np, mean=0.0, stddev=1.0, generator=None):
    """Normal samples N(mean, stddev^2) of ``shape`` and ``dtype`` on ``xp``'s device."""
    dt = _float_dtype("normal", dtype)
    shape = _shape(shape)
    with _lock:
        r = _rng(generator).standard_normal(shape, dtype=np.float32 if dt == np.float32 else np.float64)
    r = r.astype(dt, copy=False)
    if stddev != 1.0:
        r = r * dt.type(stddev)
    if mean != 0.0:
        r = r + dt.type(mean)
    return _to_xp(r, xp)


def bernoulli_mask(shape, keep_prob, dtype="float32", xp=np, generator=None):
    """A 0/1 mask of ``shape`` in ``dtype`` where each entry is 1 with probability ``keep_prob``."""
    if not 0.0 <= float(keep_prob) <= 1.0:
        raise ValueError(f"bernoulli_mask: keep_prob must be in [0, 1], got {keep_prob}")
    dt = np.dtype(dtype)
    shape = _shape(shape)
    with _lock:
        r = _rng(generator).random(shape, dtype=np.float32)
    mask = (r < float(keep_prob)).astype(dt)
    return _to_xp(mask, xp)
