"""The graph rewrites of a Functional model, as one pass before execution.

``rewrite(model, inference)`` turns the model's nodes (in execution order) into the list of steps
``Functional.call`` runs one after the other. A step is one layer call (``NodeStep``) or a fused
chain of nodes found by the fusion modules:

* ``ConvPoolStep``: ``Conv2D -> MaxPooling2D`` as one op, in training and inference
  (``layer_fusion.conv_pool_pairs``);
* ``BnReluStep``: ``BatchNormalization -> ReLU`` as one op while training (``layer_fusion.bn_relu_pairs``);
* ``ConvChainStep``: ``Conv2D -> BatchNormalization [-> ReLU]`` / ``Conv2D -> ReLU`` with the
  normalization folded into the convolution, inference only (``inference_fusion.build_plan``);
* ``AddReluStep``: ``Add -> ReLU`` with the ReLU in place, inference only.

A fused step stands where its first node stood (the later nodes of the chain are their
predecessors' only consumers, so nothing in between needs them) and checks at each call what only
the call can tell (a mask on the input, the input's dtype and size): where that rules the fusion
out, it runs its nodes one by one. Every step drops the values its nodes consumed once nothing
else needs them (``uses`` counts the readers left). The steps are computed once per model and mode;
the fused steps read the weights at each call, so training and ``trainable`` changes need no
recomputation.
"""
from __future__ import annotations

from ..layers.base import KerasTensor, _flatten, map_structure
from . import inference_fusion, layer_fusion


def release_inputs(node, values, uses):
    """Count the node's use of its inputs; drop each value once nothing else needs it."""
    for t in node.input_tensors:
        uses[id(t)] -= 1
        if uses[id(t)] == 0:
            values.pop(id(t), None)


def run_node(node, values):
    """Call the node's layer on the values of its arguments; store its outputs."""
    args = map_structure(lambda a: values[id(a)] if isinstance(a, KerasTensor) else a, node.args)
    kwargs = map_structure(lambda a: values[id(a)] if isinstance(a, KerasTensor) else a, node.kwargs)
    out = node.layer(*args, **kwargs)
    flat_out = _flatten(out) if isinstance(out, (list, tuple)) else [out]
    for kt, o in zip(node.output_tensors, flat_out):
        values[id(kt)] = o
    return out


class NodeStep:
    """One layer call."""

    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node

    def __call__(self, values, uses):
        run_node(self.node, values)
        release_inputs(self.node, values, uses)


class _FusedStep:
    """Nodes run as one op when ``fused`` says so (returning the last node's output), else one by one."""

    __slots__ = ("nodes",)

    def __init__(self, nodes):
        self.nodes = list(nodes)

    def fused(self, x):  # the output of the whole chain on its input, or None to run it node by node
        raise NotImplementedError

    def __call__(self, values, uses):
        nodes = self.nodes
        y = self.fused(values[id(nodes[0].input_tensors[0])])
        if y is None:
            for node in nodes:
                run_node(node, values)
                release_inputs(node, values, uses)
            return
        values[id(nodes[-1].output_tensors[0])] = y
        for node in nodes:
            release_inputs(node, values, uses)


class ConvChainStep(_FusedStep):
    """``Conv2D [-> BatchNormalization] [-> ReLU]`` at inference (an input without a mask)."""

    __slots__ = ()

    def fused(self, x):
        if getattr(x, "_keras_mask", None) is not None:
            return None
        return inference_fusion.run_conv_chain(self.nodes, x)


class _PairStep(_FusedStep):
    """Two nodes run as one op where ``layer_fusion``'s predicate (named by ``fusable``) allows it,
    by its function named ``run`` (both looked up at each call)."""

    __slots__ = ()
    fusable = run = ""

    def fused(self, x):
        first, second = self.nodes[0].layer, self.nodes[1].layer
        if not getattr(layer_fusion, self.fusable)(first, second, x):
            return None
        return getattr(layer_fusion, self.run)(first, second, x)


class ConvPoolStep(_PairStep):
    """``Conv2D -> MaxPooling2D`` where ``layer_fusion.conv_pool_fusable`` allows it."""

    __slots__ = ()
    fusable, run = "conv_pool_fusable", "run_conv_pool"


class BnReluStep(_PairStep):
    """``BatchNormalization -> ReLU`` where ``layer_fusion.bn_relu_fusable`` allows it (training)."""

    __slots__ = ()
    fusable, run = "bn_relu_fusable", "run_bn_relu"


class AddReluStep:
    """``Add -> ReLU`` at inference: the ReLU in place on the sum (unless the sum carries a mask)."""

    __slots__ = ("add", "relu")

    def __init__(self, add, relu):
        self.add, self.relu = add, relu

    def __call__(self, values, uses):
        out = run_node(self.add, values)
        release_inputs(self.add, values, uses)
        if getattr(out, "_keras_mask", None) is None:
            values[id(self.relu.output_tensors[0])] = inference_fusion.relu_in_place(out)
        else:
            run_node(self.relu, values)
        release_inputs(self.relu, values, uses)


def rewrite(model, inference):
    """The steps that compute the Functional ``model``'s outputs (``inference``: no gradient and
    not training, where the inference-only fusions apply)."""
    pools = layer_fusion.conv_pool_pairs(model)
    chains = inference_fusion.build_plan(model) if inference else {}
    bn_relus = {} if inference else layer_fusion.bn_relu_pairs(model)
    steps, absorbed = [], set()
    for node in model._nodes:
        if id(node) in absorbed:
            continue
        chain = chains.get(id(node))
        if chain is not None and chain[0] == "conv":
            step = ConvChainStep(chain[1])
            nodes = chain[1]
        elif id(node) in pools:
            nodes = [node, pools[id(node)]]
            step = ConvPoolStep(nodes)
        elif chain is not None and chain[0] == "add_relu":
            nodes = chain[1]
            step = AddReluStep(*nodes)
        elif id(node) in bn_relus:
            nodes = [node, bn_relus[id(node)]]
            step = BnReluStep(nodes)
        else:
            nodes, step = [node], NodeStep(node)
        absorbed.update(id(n) for n in nodes[1:])
        steps.append(step)
    return steps
