"""Functional models: a graph of layer calls from symbolic ``Input``s to outputs."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor, is_grad_enabled
from ..backend import STRING
from ..layers.base import KerasTensor, _flatten, current_training, map_structure
from ..layers.core_layers import InputLayer
from . import graph_rewrites
from .data_adapter import texts_as_array
from .model import Model
from .serialization import functional_config, functional_from_config


def _topological_nodes(inputs, outputs):
    """The nodes between inputs and outputs in execution order (iterative DFS, no recursion)."""
    input_ids = {id(t) for t in inputs}
    order, done, on_stack = [], set(), set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            kt, expanded = stack.pop()
            if id(kt) in input_ids:
                continue
            if kt._history is None:
                raise ValueError(f"Functional model: {kt} is not connected to the model inputs "
                                 "(pass every Input it depends on in `inputs`)")
            node = kt._history[0]
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                on_stack.discard(id(node))
                order.append(node)
                continue
            on_stack.add(id(node))
            stack.append((kt, True))
            for t in reversed(node.input_tensors):
                if id(t) not in input_ids and t._history is not None and id(t._history[0]) not in done:
                    stack.append((t, False))
                elif t._history is None and id(t) not in input_ids:
                    raise ValueError(f"Functional model: {t} is not connected to the model inputs")
    return order


def keras_layer_order(flat_inputs, flat_outputs):
    """Layers in the order Keras 3 gives them (``map_graph``): inputs first, then by decreasing depth
    from the outputs, ties in pre-order DFS order. This is the order of ``model.layers``,
    ``get_weights()`` and Keras's legacy ``.h5`` files (a ResNet block's shortcut conv comes after
    the main branch's last ReLU)."""
    input_ids = {id(t) for t in flat_inputs}
    index, post, finished = {}, [], set()
    stack = [(t, False) for t in reversed(flat_outputs)]
    while stack:  # iterative form of Keras's recursive _build_map
        t, expanded = stack.pop()
        if id(t) in input_ids or t._history is None:
            continue
        node = t._history[0]
        if expanded:
            finished.add(id(node))
            post.append(node)
            continue
        if id(node) in finished:
            continue
        index.setdefault(id(node.layer), len(index))
        stack.append((t, True))
        stack.extend((u, False) for u in reversed(node.input_tensors))
    node_depth, layer_depth, layer_of = {}, {}, {}
    for node in reversed(post):
        d = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)], node_depth[id(node)], layer_of[id(node.layer)] = d, d, node.layer
        for u in node.input_tensors:
            if id(u) not in input_ids and u._history is not None:
                p = u._history[0]
                node_depth[id(p)] = max(d + 1, node_depth.get(id(p), 0))
    ordered = sorted(layer_of.values(), key=lambda l: (-layer_depth[id(l)], index[id(l)]))
    inputs = [t._input_layer for t in flat_inputs]
    return inputs + [l for l in ordered if not any(l is i for i in inputs)]


def is_layer(operation) -> bool:
    from ..layers.base import Layer

    return isinstance(operation, Layer)


class Functional(Model):
    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._flat_inputs = _flatten(_sorted_dicts(inputs))  # Keras flattens dicts by sorted key
        self._flat_outputs = _flatten(_sorted_dicts(outputs))
        for t in self._flat_inputs:
            if not isinstance(t, KerasTensor) or getattr(t, "_input_layer", None) is None:
                raise ValueError(f"Functional model inputs must come from Input(), got {t!r}")
        self._nodes = _topological_nodes(self._flat_inputs, self._flat_outputs)
        operations = keras_layer_order(self._flat_inputs, self._flat_outputs)
        layers = [op for op in operations if is_layer(op)]  # ops (ops.add, x[:, 0], ...) are graph nodes only
        self._layers.extend(layers)
        self._all_layers = layers
        self._operations = operations
        # how many consumers each tensor has, so intermediates are freed as soon as possible
        uses = {}
        for node in self._nodes:
            for t in node.input_tensors:
                uses[id(t)] = uses.get(id(t), 0) + 1
        for t in self._flat_outputs:
            uses[id(t)] = uses.get(id(t), 0) + 1
        self._uses = uses
        self.built = True
        self._batch_input_shape = self._flat_inputs[0].shape if len(self._flat_inputs) == 1 else None

    @property
    def layers(self):
        return list(self._all_layers)

    def __call__(self, *args, **kwargs):
        if args and type(args[0]) is list and len(self._flat_inputs) == 1:  # model(["some text", ...])
            args = (texts_as_array(args[0]),) + args[1:]
        return super().__call__(*args, **kwargs)

    @property
    def _accepts_strings(self):
        return any(t.dtype is STRING for t in self._flat_inputs)

    _adjusts_input_rank = True   # data one rank off its Input's, by a last axis of 1, is reshaped (Keras)

    @property
    def operations(self):
        """The layers and the ops of the graph, in Keras's order (``layers`` lists the layers only)."""
        return list(self._operations)

    @property
    def inputs(self):
        return list(self._flat_inputs)

    @property
    def outputs(self):
        return list(self._flat_outputs)

    @property
    def output(self):
        return self._flat_outputs[0] if len(self._flat_outputs) == 1 else list(self._flat_outputs)

    @property
    def input(self):
        return self._flat_inputs[0] if len(self._flat_inputs) == 1 else list(self._flat_inputs)

    @property
    def input_names(self):
        return [t._input_layer.name for t in self._flat_inputs]

    @property
    def output_names(self):
        return [t._history[0].layer.name for t in self._flat_outputs]

    def _match_inputs(self, inputs):
        """Flatten user inputs in the order of the model's Inputs (dicts by Input name)."""
        if isinstance(inputs, dict):
            struct = self._inputs_struct
            names = sorted(struct) if isinstance(struct, dict) and set(inputs) >= set(struct) else self.input_names
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f"model '{self.name}': missing input(s) {missing}; the model's inputs are {names}")
            return [inputs[n] for n in names]
        if type(inputs) is list and len(self._flat_inputs) == 1:
            inputs = texts_as_array(inputs)
        flat = _flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(self._flat_inputs):
            raise ValueError(f"model '{self.name}' expects {len(self._flat_inputs)} input(s) "
                             f"{[t.shape for t in self._flat_inputs]}, got {len(flat)}")
        return flat

    def call(self, inputs, training=None, mask=None):
        flat = self._match_inputs(inputs)
        values, uses = {}, dict(self._uses)
        for kt, x in zip(self._flat_inputs, flat):
            t = x if isinstance(x, Tensor) else Tensor(x)
            want = kt.dtype
            if t.dtype != want and (want.kind != "f" or t.dtype.kind == "f"):
                if want is STRING or t.dtype.kind in "US":
                    _check_strings(self.name, kt, t)
                else:
                    mask_ = getattr(t, "_keras_mask", None)
                    t = t.astype(want) if want.kind == "f" else Tensor(t.data.astype(want))
                    if mask_ is not None:
                        t._keras_mask = mask_
            t = _check_shape(self.name, kt, t)
            values[id(kt)] = t
        inference = not (training or current_training()) and not is_grad_enabled()
        for step in self._steps(inference):  # the plain executor: each step runs and frees what it read
            step(values, uses)
        return map_structure(lambda t: values[id(t)], self._outputs_struct)

    def _steps(self, inference) -> list:
        """The graph's steps after the fusion rewrites (``graph_rewrites.rewrite``), once per graph
        (``_nodes``: a new head makes a new graph) and mode."""
        nodes, plans = self.__dict__.get("_rewritten_steps", (None, None))
        if nodes is not self._nodes:
            plans = {}
            self.__dict__["_rewritten_steps"] = (self._nodes, plans)
        steps = plans.get(inference)
        if steps is None:
            steps = plans[inference] = graph_rewrites.rewrite(self, inference)
        return steps

    def add_loss(self, loss):
        raise NotImplementedError("add_loss on a Functional model (a symbolic loss) is not supported yet (nor by "
                                  "Keras 3): call self.add_loss(...) in a layer's call() instead")

    def get_config(self):
        return functional_config(self)

    def get_build_config(self):
        return None  # rebuilt from its own config (input shapes included)


def _functional_from_config(cls, config, custom_objects=None, safe_mode=True):
    return functional_from_config(cls, config, custom_objects, safe_mode)


Functional.from_config = classmethod(_functional_from_config)


def _sorted_dicts(structure):
    if isinstance(structure, dict):
        return {k: _sorted_dicts(structure[k]) for k in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_sorted_dicts(s) for s in structure)
    return structure


def _check_strings(model_name, kt, t):
    """Refuse strings given for a numeric Input and numbers given for a string Input."""
    is_text = t.dtype.kind in "USO"
    if kt.dtype is STRING and not is_text:
        raise TypeError(f"Input '{kt._input_layer.name}' of model '{model_name}' takes strings (dtype string), "
                        f"got an array of dtype {t.dtype}")
    if kt.dtype is not STRING and t.dtype.kind in "US":
        raise TypeError(f"Input '{kt._input_layer.name}' of model '{model_name}' takes numbers (dtype "
                        f"{kt.dtype.name}), got strings (dtype {t.dtype}); build the model on "
                        "Input(dtype='string') with a TextVectorization, StringLookup or Hashing layer first")


def adjust_input_rank(exp, t):
    """An input one rank short of its Input's shape ``exp`` whose last dimension is 1 gets that axis,
    one with an extra last axis of size 1 loses it (Keras's ``_adjust_input_rank``: a batch of strings
    of shape (n,) feeds ``Input(shape=(1,))``); other ranks are left for the shape check to refuse."""
    if len(t.shape) == len(exp) - 1 and exp and exp[-1] == 1:
        shape = tuple(t.shape) + (1,)
    elif len(t.shape) == len(exp) + 1 and t.shape and t.shape[-1] == 1:
        shape = tuple(t.shape[:-1])
    else:
        return t
    if t.dtype.kind in "USO":
        return Tensor(t.data.reshape(shape))
    mask_ = getattr(t, "_keras_mask", None)
    t = t.reshape(shape)
    if mask_ is not None:
        t._keras_mask = mask_
    return t


def _check_shape(model_name, kt, t):
    """``t`` if its shape fits the Input ``kt`` (after ``_adjust_rank``), else a ValueError."""
    shape = tuple(t.shape)
    exp = kt.shape
    if len(shape) != len(exp):
        t = adjust_input_rank(kt.shape, t)
        shape = tuple(t.shape)
    if len(shape) != len(exp) or any(e is not None and e != s for e, s in zip(exp, shape)):
        raise ValueError(f"Input '{kt._input_layer.name}' of model '{model_name}' is incompatible: "
                         f"expected shape {_fmt(exp)}, got {shape}")
    return t


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


__all__ = ["Functional", "InputLayer", "np"]
