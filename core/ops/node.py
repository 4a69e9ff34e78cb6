"""``Node``: one call of an operation (a layer or an op) on symbolic inputs, an edge set of
the Functional graph."""
from __future__ import annotations

from .keras_tensor import KerasTensor, flatten


class Node:
    """The call ``operation(*args, **kwargs) -> outputs`` recorded on symbolic tensors."""

    def __init__(self, operation, args, kwargs, outputs):
        self.operation = operation
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        self.output_tensors = [t for t in flatten(outputs) if isinstance(t, KerasTensor)]

    @property
    def layer(self):
        """The operation (the name older code and Keras 2 use)."""
        return self.operation
