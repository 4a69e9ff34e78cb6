"""Weight regularizers: l1, l2, l1_l2 (their penalties join the training loss)."""
from __future__ import annotations

from . import ops
from .object_registration import export_api
from .serialization_lib import get_object, serialize_keras_object


class Regularizer:
    def __call__(self, weight):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w):
        total = None
        if self.l1:
            total = ops.sum(ops.abs(w)) * self.l1
        if self.l2:
            term = ops.sum(ops.square(w)) * self.l2
            total = term if total is None else total + term
        return total if total is not None else ops.sum(w) * 0.0

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns of a 2-d weight towards orthogonality: ``factor``
    times the mean absolute dot product between the L2-normalized rows (columns), diagonal excluded."""

    def __init__(self, factor=0.01, mode="rows"):
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}")
        self.factor, self.mode = float(factor), mode

    def __call__(self, w):
        if len(w.shape) != 2:
            raise ValueError(f"OrthogonalRegularizer needs a rank-2 weight, got shape {tuple(w.shape)}")
        if self.mode == "rows":
            v = ops.normalize(w, axis=1)
            product, size = ops.matmul(v, ops.transpose(v)), w.shape[0]
        else:
            v = ops.normalize(w, axis=0)
            product, size = ops.matmul(ops.transpose(v), v), w.shape[1]
        off_diagonal = product * (1.0 - ops.eye(size, dtype=w.dtype))
        return ops.sum(ops.abs(off_diagonal)) * (self.factor * 0.5 / (size * (size - 1.0) / 2.0))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


orthogonal_regularizer = OrthogonalRegularizer

_ALIASES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2,
            "orthogonal_regularizer": OrthogonalRegularizer, "OrthogonalRegularizer": OrthogonalRegularizer}
_CLASSES = [Regularizer] + list(dict.fromkeys(_ALIASES.values()))
export_api("keras.regularizers", _CLASSES, aliases=_ALIASES)


def get(identifier):
    """A regularizer from None (returned), an instance or callable (returned), a name (a Keras alias,
    a class name or a registered 'Package>Name') or a Keras config dict."""
    if identifier is None or isinstance(identifier, Regularizer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    return get_object(identifier, "keras.regularizers", "regularizer", module_objects=_ALIASES, base=Regularizer)


def deserialize(config, custom_objects=None):
    """The regularizer a ``serialize`` output describes."""
    return get_object(config, "keras.regularizers", "regularizer", module_objects=_ALIASES, base=Regularizer, custom_objects=custom_objects)


def serialize(regularizer):
    """Keras's config dict of a regularizer (``{"module", "class_name", "config", "registered_name"}``)."""
    if regularizer is None or isinstance(regularizer, str):
        return regularizer
    return serialize_keras_object(regularizer)
