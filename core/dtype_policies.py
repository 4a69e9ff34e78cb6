"""Keras's dtype policies, as far as this engine serves them: one dtype for a layer's variables and
its computations (``float32``, ``float64``, ...; ``"string"`` for string inputs). Mixed precision (``mixed_float16``,
``mixed_bfloat16``) and quantized policies are refused with an error saying so."""
from __future__ import annotations

import numpy as np

from . import backend
from .object_registration import export_api

_UNSUPPORTED = ("mixed_float16", "mixed_bfloat16")


class DTypePolicy:
    """A layer's dtype policy: ``DTypePolicy("float32")``; ``compute_dtype`` and ``variable_dtype``
    are the same dtype (no mixed precision here)."""

    def __init__(self, name=None):
        if name is None:
            name = backend.floatx()
        if not isinstance(name, str):
            raise TypeError(f"DTypePolicy name must be a string such as 'float32', got {name!r}")
        if name in _UNSUPPORTED or name.startswith(("int8_from", "int4_from", "float8_from", "gptq")):
            raise ValueError(f"dtype policy {name!r} is not supported: this engine computes in one dtype per "
                             "layer (use 'float32')")
        if backend.is_string_dtype(name):  # Input(dtype="string") and the layers taking strings
            self._name = "string"
            return
        try:
            self._name = np.dtype(name).name
        except TypeError:
            raise ValueError(f"unknown dtype policy {name!r}: expected a dtype name such as 'float32'") from None

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._name

    @property
    def variable_dtype(self):
        return self._name

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


FloatDTypePolicy = DTypePolicy  # Keras 3's older name for the same policy

_global_policy = None


def set_dtype_policy(policy):
    """Set the default policy of new layers (``"float32"`` or a DTypePolicy; mixed ones are refused)."""
    global _global_policy
    _global_policy = policy if isinstance(policy, DTypePolicy) else DTypePolicy(policy)
    backend.set_floatx(_global_policy.name)


def dtype_policy():
    """The default policy of new layers."""
    return _global_policy or DTypePolicy(backend.floatx())


def get(identifier):
    """A DTypePolicy from a name, a Keras config dict or a policy."""
    if isinstance(identifier, DTypePolicy):
        return identifier
    if identifier is None or isinstance(identifier, str):
        return DTypePolicy(identifier)
    if isinstance(identifier, dict) and "class_name" in identifier:
        if identifier["class_name"] not in ("DTypePolicy", "FloatDTypePolicy"):
            raise ValueError(f"dtype policy class {identifier['class_name']!r} is not supported (DTypePolicy is)")
        return DTypePolicy.from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"cannot interpret {identifier!r} as a dtype policy")


def standardize_layer_dtype(dtype) -> str:
    """The dtype name a layer computes in, from what its ``dtype=`` argument may be: None (the
    default policy), a dtype name or NumPy dtype, a DTypePolicy, or a Keras policy config dict."""
    if dtype is None:
        return dtype_policy().name
    if backend.is_string_dtype(dtype):
        return "string"
    if isinstance(dtype, (DTypePolicy, dict)):
        return get(dtype).name
    if isinstance(dtype, str) and (dtype in _UNSUPPORTED or "_from_" in dtype):
        return DTypePolicy(dtype).name  # raises with the reason
    return np.dtype(dtype).name


export_api("keras", {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": DTypePolicy})
export_api("keras.dtype_policies", {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": FloatDTypePolicy})

__all__ = ["DTypePolicy", "FloatDTypePolicy", "get", "set_dtype_policy", "dtype_policy", "standardize_layer_dtype"]
