"""``keras.ops`` control flow run eagerly (the engine executes Python directly, as Keras's
NumPy backend does): ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``,
``associative_scan``, ``map``, ``vectorized_map``; and gradient control: ``stop_gradient``,
``custom_gradient``. Differentiable wherever the functions they call are."""
from __future__ import annotations

import functools

import numpy as np

from ..autodiff import Function, Tensor, no_grad
from ..backend import to_numpy
from ._util import OpError
from .keras_tensor import any_symbolic_tensors, flatten, map_structure


def _refuse_symbolic(op, *args):
    if any_symbolic_tensors(args):
        raise NotImplementedError(
            f"keras.ops.{op} on symbolic KerasTensors is not supported yet: it would put a Python function in the "
            f"Functional graph; call it inside a custom layer's call() instead")


def _truth(op, pred):
    p = pred.data if isinstance(pred, Tensor) else pred
    a = np.asarray(to_numpy(p) if not isinstance(p, (bool, int, float, np.generic)) else p)
    if a.size != 1:
        raise OpError(f"{op}: the predicate must be a scalar, got shape {a.shape}")
    return bool(a.reshape(()))


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``."""
    _refuse_symbolic("cond", pred)
    return true_fn() if _truth("cond", pred) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, the index clamped to the branches (as Keras)."""
    _refuse_symbolic("switch", index, operands)
    i = int(np.asarray(to_numpy(index.data) if isinstance(index, Tensor) else index).reshape(()))
    i = min(max(i, 0), len(branches) - 1)
    return branches[i](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (a single tensor is passed and
    returned as is); at most ``maximum_iterations`` times."""
    _refuse_symbolic("while_loop", loop_vars)
    single = not isinstance(loop_vars, (list, tuple))
    state = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and _truth("while_loop", cond(*state)):
        out = body(*state)
        if single:
            out = (out,) if not isinstance(out, (list, tuple)) or len(out) != 1 else tuple(out)
        else:
            out = tuple(out) if isinstance(out, (list, tuple)) else (out,)
        if len(out) != len(state):
            raise OpError(f"while_loop: body returned {len(out)} values for {len(state)} loop variables")
        state = out
        n += 1
    if single:
        return state[0]
    return list(state) if isinstance(loop_vars, list) else state


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for i in [lower, upper)."""
    _refuse_symbolic("fori_loop", init_val)
    val = init_val
    lo = int(to_numpy(lower.data)) if isinstance(lower, Tensor) else int(lower)
    hi = int(to_numpy(upper.data)) if isinstance(upper, Tensor) else int(upper)
    for i in range(lo, hi):
        val = body_fun(i, val)
    return val


def _leaves_at(structure, i):
    from .shape import getitem

    return map_structure(lambda t: getitem(t if isinstance(t, Tensor) else Tensor(t), i), structure)


def _stack_structures(items):
    from .shape import stack

    first = items[0]
    if isinstance(first, (list, tuple)):
        out = [_stack_structures([it[j] for it in items]) for j in range(len(first))]
        return out if isinstance(first, list) else tuple(out)
    if isinstance(first, dict):
        return {k: _stack_structures([it[k] for it in items]) for k in first}
    if first is None:
        return None
    return stack([it if isinstance(it, Tensor) else Tensor(it) for it in items], axis=0)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs`` (or ``length`` times with x=None);
    returns the final carry and the stacked ys, as ``jax.lax.scan``."""
    _refuse_symbolic("scan", init, xs)
    if xs is None:
        if length is None:
            raise OpError("scan: give xs or length")
        n = int(length)
    else:
        leaves = flatten(xs)
        n = int(leaves[0].shape[0])
        if length is not None and int(length) != n:
            raise OpError(f"scan: length={length} does not match xs's leading size {n}")
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        x = None if xs is None else _leaves_at(xs, i)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (_stack_structures(ys) if ys and ys[0] is not None else None)


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive scan with the associative ``f`` along ``axis``: out[i] = f(out[i-1], elems[i])."""
    from .shape import getitem, stack

    _refuse_symbolic("associative_scan", elems)
    leaves = flatten(elems)
    ax = axis % leaves[0].ndim
    n = leaves[0].shape[ax]

    def at(i):
        return map_structure(lambda t: getitem(t if isinstance(t, Tensor) else Tensor(t), (slice(None),) * ax + (i,)),
                             elems)

    order = list(range(n - 1, -1, -1)) if reverse else list(range(n))
    acc, outs = None, {}
    for i in order:
        acc = at(i) if acc is None else (f(at(i), acc) if reverse else f(acc, at(i)))
        outs[i] = acc
    seq = [outs[i] for i in range(n)]
    first = seq[0]
    if isinstance(first, Tensor):
        return stack(seq, axis=ax)
    flat = [flatten(s) for s in seq]
    stacked = [stack([fl[j] for fl in flat], axis=ax) for j in range(len(flat[0]))]
    it = iter(stacked)
    return map_structure(lambda _: next(it), first)


def map(f, xs):
    """``f`` applied to each slice along the leading axis of ``xs``, the results stacked."""
    _refuse_symbolic("map", xs)
    n = int(flatten(xs)[0].shape[0])
    return _stack_structures([f(_leaves_at(xs, i)) for i in range(n)])


def vectorized_map(function, elements):
    """As ``map`` (the engine runs the function per element)."""
    return map(function, elements)


def stop_gradient(variable):
    """The same values, cut from the graph (no gradient flows back)."""
    if any_symbolic_tensors((variable,)):
        return variable
    t = variable if isinstance(variable, Tensor) else Tensor(variable)
    return Tensor(t.data)


class _Custom(Function):
    def __init__(self, f, grad_fn_box):
        self.f, self.box = f, grad_fn_box

    def forward(self, *xs):
        with no_grad():
            out, grad_fn = self.f(*[Tensor(x) for x in xs])
        self.grad_fn = grad_fn
        self.multi = isinstance(out, (list, tuple))
        outs = tuple(o.data if isinstance(o, Tensor) else np.asarray(o) for o in (out if self.multi else (out,)))
        return outs if self.multi else outs[0]

    def backward(self, *gys):
        with no_grad():
            gs = self.grad_fn(*[Tensor(g) for g in gys])
        gs = gs if isinstance(gs, (list, tuple)) else (gs,)
        if len(gs) != len(self.inputs):
            raise OpError(f"custom_gradient: the gradient function returned {len(gs)} gradients for "
                          f"{len(self.inputs)} inputs")
        out = []
        for g, x in zip(gs, self.inputs):
            if g is None:
                out.append(None)
                continue
            a = g.data if isinstance(g, Tensor) else np.asarray(g)
            out.append(np.broadcast_to(a, x.shape).astype(x.dtype) if a.shape != x.shape else a)
        return tuple(out)


def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(output, grad_fn)``; ``grad_fn(upstream)`` gives the gradients
    of the inputs (one per argument), as Keras ``ops.custom_gradient``."""

    @functools.wraps(f)
    def wrapper(*args):
        ts = [a if isinstance(a, Tensor) else Tensor(a) for a in args]
        return _Custom(f, None).apply(*ts)

    return wrapper


def _parse_signature(signature):
    import re

    def dims(group):
        return [tuple(d.strip() for d in g.split(",") if d.strip()) for g in re.findall(r"\(([^()]*)\)", group)]

    try:
        ins, outs = signature.replace(" ", "").split("->")
    except ValueError:
        raise OpError(f"vectorize: signature {signature!r} is not of the form '(i),(i)->()'") from None
    return dims(ins), dims(outs)


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` applied over the broadcast leading axes of its tensor arguments (NumPy's
    ``vectorize``: each call sees scalars, or the core dims a ``signature`` such as
    ``"(n),(n)->()"`` names); the results stacked. Differentiable wherever ``pyfunc`` is."""
    from .shape import broadcast_to, getitem, reshape

    excluded = set(excluded or ())

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        _refuse_symbolic("vectorize", args, kwargs)
        idx = [i for i in range(len(args)) if i not in excluded and args[i] is not None]
        ts = {i: args[i] if isinstance(args[i], Tensor) else Tensor(args[i]) for i in idx}
        core_in = [()] * len(idx) if signature is None else _parse_signature(signature)[0]
        if len(core_in) != len(idx):
            raise OpError(f"vectorize: signature {signature!r} names {len(core_in)} inputs, got {len(idx)}")
        lead = {i: ts[i].shape[:ts[i].ndim - len(cd)] for i, cd in zip(idx, core_in)}
        batch = np.broadcast_shapes(*lead.values()) if lead else ()
        full = {i: broadcast_to(ts[i], batch + ts[i].shape[len(lead[i]):]) for i in idx}
        results = []
        for pos in np.ndindex(*batch):
            call = list(args)
            for i in idx:
                call[i] = getitem(full[i], pos) if pos else full[i]
            results.append(pyfunc(*call, **kwargs))
        if not results:
            raise OpError("vectorize: the broadcast batch shape is empty")
        out = _stack_structures(results)
        return map_structure(lambda t: reshape(t, batch + tuple(t.shape[1:])), out)

    return wrapped
