"""Activations by Keras name: ``activations.get("relu")`` -> a function of a Tensor (or of a
symbolic KerasTensor), every ``keras.activations`` name with Keras's arguments and defaults."""
from __future__ import annotations

from . import ops
from .object_registration import export_api
from .serialization_lib import get_object, serialize_keras_object


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with Keras's options: ``negative_slope`` below ``threshold``, values above
    ``max_value`` clipped, values at or below ``threshold`` (when non-zero) set to zero."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    if negative_slope == 0.0 and max_value == 6 and threshold == 0.0:
        return ops.relu6(x)
    if negative_slope != 0.0:
        negative_part = ops.relu(ops.add(ops.negative(x), threshold)) if threshold != 0 else ops.relu(ops.negative(x))
    y = ops.where(ops.greater(x, threshold), x, 0.0) if threshold != 0 else ops.relu(x)
    if max_value is not None:
        y = ops.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = ops.subtract(y, ops.multiply(negative_part, negative_slope))
    return y


def gelu(x, approximate=False):
    """GELU as the ``"gelu"`` activation name means in Keras: the exact (erf) form by default."""
    return ops.gelu(x, approximate=approximate)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha=alpha)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


def exponential(x):
    """exp(x)."""
    return ops.exp(x)


def mish(x):
    """x * tanh(softplus(x))."""
    return ops.multiply(x, ops.tanh(ops.softplus(x)))


def celu(x, alpha=1.0):
    return ops.celu(x, alpha=alpha)


def glu(x, axis=-1):
    return ops.glu(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    return ops.hard_shrink(x, threshold=threshold)


def soft_shrink(x, threshold=0.5):
    return ops.soft_shrink(x, threshold=threshold)


def squareplus(x, b=4):
    return ops.squareplus(x, b=b)


def threshold(x, threshold, default_value):
    return ops.threshold(x, threshold, default_value)


def sparsemax(x, axis=-1):
    return ops.sparsemax(x, axis=axis)


relu6, selu, sigmoid, hard_sigmoid, tanh, silu, softplus, softsign = (
    ops.relu6, ops.selu, ops.sigmoid, ops.hard_sigmoid, ops.tanh, ops.silu, ops.softplus, ops.softsign)
swish = silu
hard_silu = ops.hard_silu
hard_swish = hard_silu
hard_tanh, tanh_shrink, log_sigmoid, sparse_plus, sparse_sigmoid = (
    ops.hard_tanh, ops.tanh_shrink, ops.log_sigmoid, ops.sparse_plus, ops.sparse_sigmoid)
linear = ops.linear

# name -> function; the plain forms of relu, leaky_relu, elu, softmax and log_softmax are the ops
# themselves (what the fused Dense/Conv kernels recognise), Keras's optional arguments aside
_NAMES = {
    "relu": ops.relu, "relu6": ops.relu6, "leaky_relu": ops.leaky_relu, "elu": ops.elu, "selu": ops.selu,
    "gelu": gelu, "sigmoid": ops.sigmoid, "hard_sigmoid": ops.hard_sigmoid, "tanh": ops.tanh,
    "softmax": ops.softmax, "log_softmax": ops.log_softmax, "silu": ops.silu, "swish": ops.silu,
    "softplus": ops.softplus, "linear": ops.linear, "softsign": ops.softsign, "exponential": exponential,
    "mish": mish, "celu": celu, "glu": glu, "hard_silu": hard_silu, "hard_swish": hard_silu,
    "hard_tanh": hard_tanh, "hard_shrink": hard_shrink, "soft_shrink": soft_shrink, "tanh_shrink": tanh_shrink,
    "log_sigmoid": log_sigmoid, "squareplus": squareplus, "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid, "threshold": threshold, "sparsemax": sparsemax,
}
_CANONICAL = {"swish": "silu", "hard_swish": "hard_silu"}
_FUNCTIONS = {id(relu): "relu", id(leaky_relu): "leaky_relu", id(elu): "elu", id(softmax): "softmax",
              id(log_softmax): "log_softmax"}


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
            return _CANONICAL.get(name, name)
    if id(fn) in _FUNCTIONS:  # Keras's relu/elu/softmax with their optional arguments
        return _FUNCTIONS[id(fn)]
    if not callable(fn):
        raise ValueError(f"cannot serialize activation {fn!r}: not a function")
    return serialize_keras_object(fn)
