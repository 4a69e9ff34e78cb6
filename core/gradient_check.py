"""Compare an op's (or a layer's) hand-written backward with float64 central differences."""
from __future__ import annotations

import numpy as np

from .autodiff import Tensor, no_grad
from .backend import to_numpy


def _central_difference(values, value_fn, eps):
    """d(value_fn())/d(values) by central differences, perturbing ``values`` (an array) in place."""
    g = np.zeros(values.shape)
    for i in np.ndindex(*values.shape):  # in place, whatever the memory layout
        orig = values[i]
        values[i] = orig + eps
        fp = value_fn()
        values[i] = orig - eps
        fm = value_fn()
        values[i] = orig
        g[i] = (fp - fm) / (2 * eps)
    return g


def numerical_grad(fn, arrays, index, weights, eps=1e-6):
    """d(sum(fn(*arrays) * weights))/d(arrays[index]) by central differences (float64)."""
    return _central_difference(arrays[index], lambda: _weighted(fn, arrays, weights), eps)


def _outputs(fn, arrays):
    out = fn(*[Tensor(a) for a in arrays])
    return out if isinstance(out, (tuple, list)) else (out,)


def _weighted(fn, arrays, weights):
    with no_grad():
        outs = _outputs(fn, arrays)
    return sum(float((to_numpy(o.data).astype(np.float64) * w).sum()) for o, w in zip(outs, weights))


def check_gradients(fn, inputs, wrt=None, eps=1e-6, atol=1e-6, rtol=1e-5, seed=0, params=()):
    """Check ``fn``'s gradients for the float inputs (indices ``wrt``, default all float ones)
    and for ``params``.

    ``fn`` takes Tensors and returns a Tensor or a tuple of Tensors. Inputs are cast to
    float64; the outputs are contracted with random weights so every output element counts.
    ``params`` are variables ``fn`` reads itself (a layer's float64 weights): their gradients are
    checked too, perturbing their values in place. Raises AssertionError naming the input (or the
    variable's path) and the worst element on a mismatch.
    """
    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in inputs]
    if wrt is None:
        wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    params = list(params)
    for p in params:
        if p.dtype != np.float64:
            raise ValueError(f"check_gradients: variable {getattr(p, 'path', p)} is {p.dtype}; "
                             "build the layer with dtype='float64'")
        p.grad = None
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
    work = [a.copy() for a in arrays]
    checks = [(f"input {i}", ts[i].grad, work[i]) for i in wrt] + [
        (f"variable {getattr(p, 'path', '?')}", p.grad, p.data) for p in params]
    for name, analytic, values in checks:
        numeric = _central_difference(values, lambda: _weighted(fn, work, weights), eps)
        analytic = np.zeros_like(numeric) if analytic is None else to_numpy(analytic)
        if analytic.shape != numeric.shape:
            raise AssertionError(f"{name}: gradient shape {analytic.shape} != its shape {numeric.shape}")
        err = np.abs(analytic - numeric)
        tol = atol + rtol * np.abs(numeric)
        if not np.all(err <= tol):
            j = np.unravel_index(np.argmax(err - tol), err.shape)
            raise AssertionError(
                f"gradient mismatch for {name} (shape {numeric.shape}) at {tuple(int(k) for k in j)}: "
                f"analytic {analytic[j]:.8g}, numeric {numeric[j]:.8g}; max abs error {err.max():.3g}")
    return True
