"""Inference-time fusion of layer chains in a Functional graph (``predict``, ``evaluate``).

Without a gradient and outside training, a Functional model runs these chains as one op:

* ``Conv2D -> BatchNormalization [-> ReLU]``: the batch normalization (moving statistics) is
  folded into the convolution's kernel and bias, and a following ReLU is applied inside the
  convolution op (``kernel * gamma / sqrt(var + eps)``, ``(bias - mean) * gamma / sqrt(var + eps) + beta``);
* ``Conv2D -> ReLU`` and ``Add -> ReLU``: the ReLU in place on the fresh output.

A chain is fused only when every intermediate tensor has that one consumer and is not a model
output, no layer has an activity regularizer, and the layers are the plain core classes (a
subclass may change ``call``). The folded weights are computed from the current weights at every
call (an optimizer may have changed them), which costs one pass over the kernels. Values equal the
unfused ones up to float rounding (the folded product is rounded once more). Nothing is fused
under ZOO_REFERENCE_OPS=1.
"""
from __future__ import annotations

from ..autodiff import Tensor
from ..backend import get_xp
from ..ops.activations import relu_into
from ..ops.reference import ENABLED as REFERENCE_OPS


def _is_plain_relu(layer) -> bool:
    from .. import ops
    from ..layers.core_layers import Activation, ReLU

    if type(layer) is Activation:
        return layer.activation is ops.relu
    if type(layer) is ReLU:
        return layer.max_value is None and layer.negative_slope == 0 and layer.threshold == 0
    return False


def only_input(node):
    """The node's single tensor input when it is called as ``layer(x)`` with nothing else."""
    if node.kwargs or len(node.input_tensors) != 1 or len(node.args) != 1:
        return None
    return node.input_tensors[0]


def _same_dtype(a, b) -> bool:
    """Whether layer ``a`` computes in ``b``'s dtype (else it would cast its input: not fused)."""
    return a.compute_dtype == b.compute_dtype


def _bn_foldable(layer, ndim) -> bool:
    from ..layers.normalization import BatchNormalization

    return (type(layer) is BatchNormalization and layer.built and layer._channel_axis == ndim - 1
            and getattr(layer, "activity_regularizer", None) is None)


def sole_consumers(model):
    """A function of a node of the Functional ``model``: the node that alone consumes the node's
    single output, once, as its only input (the output not a model output), or None."""
    consumers: dict = {}
    for node in model._nodes:
        for t in node.input_tensors:
            consumers.setdefault(id(t), []).append(node)
    outputs = {id(t) for t in model._flat_outputs}

    def sole_consumer(node):
        if len(node.output_tensors) != 1:
            return None
        out = node.output_tensors[0]
        users = consumers.get(id(out), [])
        if id(out) in outputs or len(users) != 1 or users[0].input_tensors.count(out) != 1:
            return None
        nxt = users[0]
        return nxt if only_input(nxt) is out else None

    return sole_consumer


def build_plan(model) -> dict:
    """``{id(first node): (kind, nodes)}`` for the fusable chains of a Functional model, with
    kind ``"conv"`` (nodes: conv, optional BN, optional ReLU) or ``"add_relu"`` (add, ReLU)."""
    if REFERENCE_OPS:  # ZOO_REFERENCE_OPS: each layer runs its own (reference) op
        return {}
    from .. import ops
    from ..layers.convolutional import Conv2D
    from ..layers.merging import Add

    sole_consumer = sole_consumers(model)
    plan = {}
    for node in model._nodes:
        layer = node.layer
        if type(layer) is Conv2D and layer.activity_regularizer is None and only_input(node) is not None:
            if layer.activation is not ops.linear:  # an activation before the BN: nothing to fold
                continue
            chain = [node]
            nxt = sole_consumer(node)
            if nxt is not None and _bn_foldable(nxt.layer, len(node.output_tensors[0].shape)) \
                    and _same_dtype(nxt.layer, layer):
                chain.append(nxt)
                nxt = sole_consumer(nxt)
            if nxt is not None and _is_plain_relu(nxt.layer) and _same_dtype(nxt.layer, layer):
                chain.append(nxt)
            if len(chain) > 1:
                plan[id(node)] = ("conv", chain)
        elif type(layer) is Add and not node.kwargs:
            nxt = sole_consumer(node)
            if nxt is not None and _is_plain_relu(nxt.layer) and _same_dtype(nxt.layer, layer):
                plan[id(node)] = ("add_relu", [node, nxt])
    return plan


def _folded(conv, bn):
    """The conv's kernel and bias with ``bn`` (inference) folded in, as arrays."""
    k = conv.kernel.data
    xp = get_xp(k)
    t = k.dtype.type
    inv = t(1) / xp.sqrt(bn.moving_variance.data.astype(k.dtype) + t(bn.epsilon))
    scale = inv if bn.gamma is None else bn.gamma.data.astype(k.dtype) * inv
    mean = bn.moving_mean.data.astype(k.dtype)
    b = (-mean if conv.bias is None else conv.bias.data - mean) * scale
    if bn.beta is not None:
        b += bn.beta.data.astype(k.dtype)
    return k * scale, b


def run_conv_chain(chain, x):
    """The output of a fused ``conv [-> BN] [-> ReLU]`` chain on its input tensor (no gradient)."""
    from .. import ops

    conv = chain[0].layer
    relu = _is_plain_relu(chain[-1].layer)
    x = conv._convert_input(x)
    conv._check_input(x)
    conv._check_call_input(x)
    if len(chain) > 1 and not _is_plain_relu(chain[1].layer):
        k, b = _folded(conv, chain[1].layer)
        kernel, bias = Tensor(k), Tensor(b)
    else:
        kernel, bias = conv.kernel, conv.bias
    return ops.conv2d(x, kernel, bias, strides=conv.strides, padding=conv.padding, dilation=conv.dilation_rate,
                      groups=conv.groups, activation="relu" if relu else None)


def relu_in_place(t):
    """ReLU on a tensor whose array nothing else holds (a fresh op output, no graph)."""
    relu_into(get_xp(t.data), t.data, t.data)
    return t
