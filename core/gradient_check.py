"""Compare an op's hand-written backward with float64 central differences."""
from __future__ import annotations

import numpy as np

from .autodiff import Tensor
from .backend import to_numpy


def numerical_grad(fn, arrays, index, weights, eps=1e-6):
    """d(sum(fn(*arrays) * weights))/d(arrays[index]) by central differences (float64)."""
    x = arrays[index]
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        fp = _weighted(fn, arrays, weights)
        flat[i] = orig - eps
        fm = _weighted(fn, arrays, weights)
        flat[i] = orig
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def _outputs(fn, arrays):
    out = fn(*[Tensor(a) for a in arrays])
    return out if isinstance(out, (tuple, list)) else (out,)


def _weighted(fn, arrays, weights):
    return sum(float((to_numpy(o.data).astype(np.float64) * w).sum()) for o, w in zip(_outputs(fn, arrays), weights))


def check_gradients(fn, inputs, wrt=None, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0):
    """Check ``fn``'s gradients for the float inputs (indices ``wrt``, default all float ones).

    ``fn`` takes Tensors and returns a Tensor or a tuple of Tensors. Inputs are cast to
    float64; the outputs are contracted with random weights so every output element counts.
    Raises AssertionError naming the input and the worst element on a mismatch.
    """
    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in inputs]
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    rng = np.random.default_rng(seed)
    probe = _outputs(fn, arrays)
    weights = [rng.standard_normal(o.shape) for o in probe]
    ts = [Tensor(a, requires_grad=(i in wrt)) for i, a in enumerate(arrays)]
    outs = fn(*ts)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    total = None
    for o, w in zip(outs, weights):
        if o.dtype.kind != "f" or not o.requires_grad:
            continue
        term = (o * Tensor(w)).sum()
        total = term if total is None else total + term
    if total is None:
        raise AssertionError("check_gradients: no output depends on the inputs")
    total.backward()
    for i in wrt:
        analytic = ts[i].grad
        analytic = np.zeros_like(arrays[i]) if analytic is None else to_numpy(analytic)
        numeric = numerical_grad(fn, [a.copy() for a in arrays], i, weights, eps)
        if analytic.shape != numeric.shape:
            raise AssertionError(f"input {i}: gradient shape {analytic.shape} != input shape {numeric.shape}")
        err = np.abs(analytic - numeric)
        tol = atol + rtol * np.abs(numeric)
        if not np.all(err <= tol):
            j = np.unravel_index(np.argmax(err - tol), err.shape)
            raise AssertionError(
                f"gradient mismatch for input {i} (shape {numeric.shape}) at {tuple(int(k) for k in j)}: "
                f"analytic {analytic[j]:.8g}, numeric {numeric[j]:.8g}; max abs error {err.max():.3g}")
    return True
