"""Activations by Keras name: ``activations.get("relu")`` -> a function of a Tensor."""
from __future__ import annotations

from . import ops
from .object_registration import export_api
from .serialization_lib import get_object, serialize_keras_object

def gelu(x, approximate=False):
    """GELU as the ``"gelu"`` activation name means in Keras: the exact (erf) form by default."""
    return ops.gelu(x, approximate=approximate)


_NAMES = {
    "relu": ops.relu, "relu6": ops.relu6, "leaky_relu": ops.leaky_relu, "elu": ops.elu, "selu": ops.selu,
    "gelu": gelu, "sigmoid": ops.sigmoid, "hard_sigmoid": ops.hard_sigmoid,
    "hard_silu": ops.hard_silu, "hard_swish": ops.hard_silu, "tanh": ops.tanh,
    "softmax": ops.softmax, "log_softmax": ops.log_softmax, "silu": ops.silu, "swish": ops.silu,
    "softplus": ops.softplus, "linear": ops.linear,
}


export_api("keras.activations", _NAMES)


def get(identifier):
    """An activation function from a name ("relu", or a registered "Package>name"), a Keras
    config dict, None (linear) or a callable (returned as is)."""
    if identifier is None:
        return ops.linear
    return get_object(identifier, "keras.activations", "activation", module_objects=_NAMES)


def deserialize(config, custom_objects=None):
    """The activation a ``serialize`` output (a name or a Keras config dict) names."""
    return get_object(config, "keras.activations", "activation", module_objects=_NAMES,
                      custom_objects=custom_objects)


def serialize(fn):
    """A built-in activation's name ("relu"); a custom one's Keras config dict (its registered name
    inside), which ``get`` resolves once the function is registered or given in custom_objects."""
    for name, f in _NAMES.items():
        if f is fn:
            return {"swish": "silu", "hard_swish": "hard_silu"}.get(name, name)
    if not callable(fn):
        raise ValueError(f"cannot serialize activation {fn!r}: not a function")
    return serialize_keras_object(fn)
