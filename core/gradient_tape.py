"""``GradientTape``: gradients of a loss with respect to chosen variables, read as TensorFlow's
tape reads (the ``tf.GradientTape`` of keras-io's custom ``train_step`` examples).

The engine records every operation on tensors that need a gradient (``Parameter``s, or tensors
given to ``watch``), so the tape has nothing to record: ``gradient(target, sources)`` runs
``target.backward()`` and hands back the sources' gradients, leaving every ``.grad`` as it found
it (the sources' and those of the other weights the target depends on). The plain way (``loss.backward()`` then ``[v.grad for v in model.trainable_variables]``)
needs the grads cleared before (``model.zero_grad()``); the tape does that bookkeeping."""
from __future__ import annotations

from .autodiff import Tensor


class GradientTape:
    """``with GradientTape() as tape: loss = ...`` then ``tape.gradient(loss, variables)``: a list
    of arrays (None for a variable the loss does not depend on), or one array for one variable.
    ``persistent=True`` allows several ``gradient`` calls on the same computation."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self._watched = []
        self._used = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def watch(self, tensor):
        """Ask for gradients with respect to ``tensor`` (or each tensor of a list)."""
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch expects Tensors, got {type(t).__name__}")
            if not t.requires_grad:
                t.requires_grad = True
                self._watched.append(t)

    def gradient(self, target, sources):
        """Gradients of the scalar ``target`` with respect to ``sources`` (a Tensor or a list)."""
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a non-persistent tape; "
                               "create it with persistent=True to call it several times")
        if not isinstance(target, Tensor):
            raise TypeError(f"GradientTape.gradient: the target must be a Tensor computed from the sources, got "
                            f"{type(target).__name__}")
        if target.size != 1:
            raise ValueError(f"GradientTape.gradient: the target must be a scalar (a loss), got shape "
                             f"{tuple(target.shape)}; reduce it with ops.mean or ops.sum first")
        single = isinstance(sources, Tensor)
        sources = [sources] if single else list(sources)
        # every tensor whose .grad backward writes (the graph's leaves) gets its .grad back afterwards
        touched = {id(t): t for t in _leaves(target)}
        touched.update((id(s), s) for s in sources)
        saved = [(t, t.grad) for t in touched.values()]
        for t, _ in saved:
            t.grad = None
        try:
            if target.creator is not None:
                target.backward(retain_graph=self.persistent)
            grads = [s.grad for s in sources]
        finally:
            for t, g in saved:
                t.grad = g
        self._used = True
        return grads[0] if single else grads


def _leaves(target):
    """The tensors without a creator that ``target`` depends on and that need a gradient."""
    out, seen, stack = [], set(), [target.creator]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        for x in fn.inputs or ():
            if x.creator is not None:
                stack.append(x.creator)
            elif x.requires_grad:
                out.append(x)
    return out
