"""``is_keras_tensor`` and ``get_source_inputs``: questions about the symbolic tensors of the
Functional API."""
from __future__ import annotations

from ..layers.base import KerasTensor


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic ``KerasTensor`` (from ``Input`` or a layer called on one)."""
    return isinstance(x, KerasTensor)


def get_source_inputs(tensor):
    """The input tensors (``Input`` tensors) ``tensor`` is computed from, in the order they are
    reached (each once); a tensor that is not symbolic is returned as it is."""
    if not isinstance(tensor, KerasTensor):
        return tensor
    sources = []

    def visit(t):
        history = t._history
        if history is None or not history[0].input_tensors:
            if all(t is not s for s in sources):
                sources.append(t)
            return
        for parent in history[0].input_tensors:
            visit(parent)

    visit(tensor)
    return sources
