"""``keras.random``: draws as tensors, with Keras's ``seed`` semantics (an int: the same values at
every call; a ``SeedGenerator``: new values at each call, repeatably; None: the engine generator,
which ``core.utils.set_random_seed`` seeds). Values are drawn on the CPU in the requested dtype
(the same numbers on every device) and are not differentiable, except ``dropout``'s output with
respect to its input."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autodiff import Tensor
from . import generator as engine
from .seed_generator import draw_generator


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(getattr(s, "data", s)) for s in shape)
    except TypeError:
        raise ValueError(f"shape must be a tuple of integers, received {shape!r}") from None


def _check_not_engine_form(fn, second):
    """``core.random`` is ``keras.random``: the engine's array form ``fn(shape, dtype, xp, ...)`` lives in
    ``core.random.generator``; say so instead of failing on a dtype taken for a number."""
    if isinstance(second, (str, np.dtype, type)):
        raise TypeError(f"core.random.{fn}(shape, {second!r}, ...) looks like the engine's array form: core.random "
                        f"is keras.random ({fn}(shape, ..., dtype=None, seed=None) returning a tensor); call "
                        f"core.random.generator.{fn}(shape, dtype, xp, ...) for arrays")


def _float_dtype(fn, dtype):
    dt = np.dtype(dtype or backend.floatx())
    if dt.kind != "f":
        raise ValueError(f"`keras.random.{fn}` requires a floating point `dtype`. Received: dtype={dt}")
    return dt


def _draw(seed, fn):
    """``fn(rng)`` with the generator for ``seed`` (the engine's under its lock for None)."""
    rng = draw_generator(seed)
    if rng is not None:
        return fn(rng)
    with engine.lock():
        return fn(engine.get_generator())


def _out(values, dtype):
    return Tensor(np.asarray(values).astype(dtype, copy=False))


def _value(x):
    return backend.to_numpy(getattr(x, "data", x))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev^2)."""
    _check_not_engine_form("normal", mean)
    dt = _float_dtype("normal", dtype)
    shape = _shape(shape)
    z = _draw(seed, lambda g: g.standard_normal(shape, dtype=np.float32 if dt == np.float32 else np.float64))
    return _out(z.astype(dt) * dt.type(stddev) + dt.type(mean), dt)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples of the uniform distribution on [minval, maxval)."""
    _check_not_engine_form("uniform", minval)
    dt = _float_dtype("uniform", dtype)
    shape = _shape(shape)
    u = _draw(seed, lambda g: g.random(shape, dtype=np.float32 if dt == np.float32 else np.float64))
    return _out(u.astype(dt) * dt.type(maxval - minval) + dt.type(minval), dt)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev^2) re-drawn until within two standard deviations of the mean."""
    dt = _float_dtype("truncated_normal", dtype)
    shape = _shape(shape)

    def draw(g):
        z = g.standard_normal(shape)
        bad = np.abs(z) > 2
        while bad.any():
            z[bad] = g.standard_normal(int(bad.sum()))
            bad = np.abs(z) > 2
        return z

    return _out(_draw(seed, draw) * stddev + mean, dt)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval)."""
    dt = np.dtype(dtype)
    if dt.kind not in "iu":
        raise ValueError(f"`keras.random.randint` requires an integer `dtype`. Received: dtype={dt}")
    if int(maxval) <= int(minval):
        raise ValueError(f"randint: maxval ({maxval}) must be greater than minval ({minval})")
    shape = _shape(shape)
    return _out(_draw(seed, lambda g: g.integers(int(minval), int(maxval), shape)), dt)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, num_classes), drawn with
    probabilities ``softmax(logits)``; returns (batch, num_samples). A class whose logit is
    ``-inf`` is never drawn."""
    logits = np.asarray(_value(logits), dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"`logits` should be a 2-D tensor with shape [batch_size, num_classes]. "
                         f"Received: logits.shape={logits.shape}")
    num_samples = int(num_samples)
    shape = (logits.shape[0], num_samples, logits.shape[1])
    u = _draw(seed, lambda g: g.random(shape))
    with np.errstate(divide="ignore"):
        gumbel = -np.log(-np.log(np.maximum(u, np.finfo(np.float64).tiny)))
    return _out(np.argmax(logits[:, None, :] + gumbel, axis=-1), np.dtype(dtype))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Inverted dropout: each entry zeroed with probability ``rate``, the rest scaled by
    ``1 / (1 - rate)`` (``noise_shape`` shares the mask along axes of size 1)."""
    from ..ops.dropout import dropout as dropout_op  # ops import this package: a real cycle

    rng = draw_generator(seed)
    return dropout_op(inputs, rate, training=True, noise_shape=noise_shape, seed=rng)


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order."""
    arr = _value(x)
    n = arr.shape[axis]
    perm = _draw(seed, lambda g: g.permutation(n))
    return Tensor(np.take(arr, perm, axis=axis))


def _check_positive(fn, name, value):
    v = np.asarray(_value(value), dtype=np.float64)
    if not np.all(v > 0):
        raise ValueError(f"keras.random.{fn}: `{name}` must be > 0, received {value!r}")
    return v


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples of the Gamma(alpha, 1) distribution."""
    dt = _float_dtype("gamma", dtype)
    alpha = _check_positive("gamma", "alpha", alpha)
    shape = _shape(shape)
    return _out(_draw(seed, lambda g: g.standard_gamma(alpha, shape)), dt)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples of the Binomial(counts, probabilities) distribution (as floats by default)."""
    dt = np.dtype(dtype or backend.floatx())
    p = np.asarray(_value(probabilities), dtype=np.float64)
    n = np.asarray(_value(counts))
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"keras.random.binomial: `probabilities` must be in [0, 1], received {probabilities!r}")
    if np.any(n < 0) or not np.all(np.equal(np.mod(n, 1), 0)):
        raise ValueError(f"keras.random.binomial: `counts` must be non-negative integers, received {counts!r}")
    shape = _shape(shape)
    return _out(_draw(seed, lambda g: g.binomial(n.astype(np.int64), p, shape)), dt)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples of the Beta(alpha, beta) distribution."""
    dt = _float_dtype("beta", dtype)
    a = _check_positive("beta", "alpha", alpha)
    b = _check_positive("beta", "beta", beta)
    shape = _shape(shape)
    return _out(_draw(seed, lambda g: g.beta(a, b, shape)), dt)

