"""Weight constraints applied after each optimizer step (in place, outside the graph)."""
from __future__ import annotations

import numpy as np

from .backend import get_xp
from .object_registration import export_api
from .serialization_lib import get_object, serialize_keras_object


class Constraint:
    def __call__(self, w):
        """Return the constrained array for the array ``w``."""
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    def __init__(self, max_value=2.0, axis=0):
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w):
        xp = get_xp(w)
        norms = xp.sqrt((w * w).sum(axis=self.axis, keepdims=True))
        desired = xp.clip(norms, 0, w.dtype.type(self.max_value))
        return w * (desired / (w.dtype.type(1e-7) + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return w * (w >= 0)


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        xp = get_xp(w)
        return w / (w.dtype.type(1e-7) + xp.sqrt((w * w).sum(axis=self.axis, keepdims=True)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        xp = get_xp(w)
        norms = xp.sqrt((w * w).sum(axis=self.axis, keepdims=True))
        t = w.dtype.type
        desired = t(self.rate) * xp.clip(norms, t(self.min_value), t(self.max_value)) + t(1 - self.rate) * norms
        return w * (desired / (t(1e-7) + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm  # Keras's function-style names

_ALIASES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm,
            "MaxNorm": MaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm}
_CLASSES = [Constraint] + list(dict.fromkeys(_ALIASES.values()))
export_api("keras.constraints", _CLASSES, aliases=_ALIASES)


def get(identifier):
    """A constraint from None (returned), an instance or callable (returned), a name (a Keras alias,
    a class name or a registered 'Package>Name') or a Keras config dict."""
    if identifier is None or isinstance(identifier, Constraint) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    return get_object(identifier, "keras.constraints", "constraint", module_objects=_ALIASES, base=Constraint)


def deserialize(config, custom_objects=None):
    """The constraint a ``serialize`` output describes."""
    return get_object(config, "keras.constraints", "constraint", module_objects=_ALIASES, base=Constraint, custom_objects=custom_objects)


def serialize(constraint):
    """Keras's config dict of a constraint (``{"module", "class_name", "config", "registered_name"}``)."""
    if constraint is None or isinstance(constraint, str):
        return constraint
    return serialize_keras_object(constraint)


__all__ = ["MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg", "unit_norm", "min_max_norm",
           "get", "serialize", "deserialize"]
