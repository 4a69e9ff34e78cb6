"""Activations by Keras name: ``activations.get("relu")`` -> a function of a Tensor."""
from __future__ import annotations

from . import ops

def gelu(x, approximate=False):
    """GELU as the ``"gelu"`` activation name means in Keras: the exact (erf) form by default."""
    return ops.gelu(x, approximate=approximate)


_NAMES = {
    "relu": ops.relu, "relu6": ops.relu6, "leaky_relu": ops.leaky_relu, "elu": ops.elu, "selu": ops.selu,
    "gelu": gelu, "sigmoid": ops.sigmoid, "hard_sigmoid": ops.hard_sigmoid, "tanh": ops.tanh,
    "softmax": ops.softmax, "log_softmax": ops.log_softmax, "silu": ops.silu, "swish": ops.silu,
    "softplus": ops.softplus, "linear": ops.linear,
}


def get(identifier):
    """An activation function from a name, None (linear) or a callable."""
    if identifier is None:
        return ops.linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _NAMES:
            raise ValueError(f"unknown activation {identifier!r}; known: {sorted(_NAMES)}")
        return _NAMES[identifier]
    raise ValueError(f"cannot interpret {identifier!r} as an activation")


def serialize(fn) -> str:
    for name, f in _NAMES.items():
        if f is fn:
            return "silu" if name == "swish" else name
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"cannot serialize activation {fn!r}")
    return name
