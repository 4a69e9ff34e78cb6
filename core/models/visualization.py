"""``plot_model`` / ``model_to_dot``: a model's layer graph as Graphviz DOT text, rendered by
Graphviz's ``dot`` program when it is installed (no pydot needed; a ``.dot`` file needs nothing)."""
from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["model_to_dot", "plot_model"]

_FORMATS = {"png", "svg", "pdf", "jpg", "jpeg", "gif", "ps", "eps", "bmp", "tif", "tiff", "webp"}


def _quote(text) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape_text(value):
    if value is None:
        return "?"
    if isinstance(value, list):
        return "[" + ", ".join(_shape_text(v) for v in value) + "]"
    if isinstance(value, tuple) and all(v is None or isinstance(v, int) for v in value):
        return "(" + ", ".join("None" if v is None else str(v) for v in value) + ")"
    return str(value)


def _tensor_shapes(tensors):
    shapes = [tuple(t.shape) for t in tensors]
    return shapes[0] if len(shapes) == 1 else shapes


def _node_layer(node):
    return getattr(node, "operation", None) or node.layer


def _source_layer(tensor):
    history = getattr(tensor, "_history", None)
    if history is not None and history[0] is not None:
        return _node_layer(history[0])
    return getattr(tensor, "_input_layer", None)


def _is_graph_model(layer):
    return hasattr(layer, "_all_layers") or hasattr(layer, "_stack")


def _edges(model):
    """[(source layer, target layer)] of a Sequential or Functional model, in layer order."""
    layers = model.layers
    if hasattr(model, "_stack"):   # Sequential: a chain
        return list(zip(layers, layers[1:]))
    in_model = {id(n) for n in getattr(model, "_nodes", [])}
    edges = []
    for layer in layers:
        for node in layer._inbound_nodes:
            if in_model and id(node) not in in_model:
                continue
            for t in node.input_tensors:
                src = _source_layer(t)
                if src is not None and (src, layer) not in edges:
                    edges.append((src, layer))
    return edges


def _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable):
    cls = type(layer).__name__
    lines = [f"{layer.name} ({cls})" if show_layer_names else cls]
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        act = layer.activation
        lines.append(f"activation: {getattr(act, '__name__', act)}")
    if show_dtype:
        lines.append(f"dtype: {getattr(layer, 'dtype', '?')}")
    if show_trainable:
        lines.append(f"trainable: {'yes' if layer.trainable else 'no'}")
    if show_shapes and layer._inbound_nodes:
        node = layer._inbound_nodes[0]
        lines.append(f"input: {_shape_text(_tensor_shapes(node.input_tensors)) if node.input_tensors else '?'}")
        lines.append(f"output: {_shape_text(_tensor_shapes(node.output_tensors)) if node.output_tensors else '?'}")
    elif show_shapes and getattr(layer, "batch_shape", None) is not None:
        lines.append(f"output: {_shape_text(tuple(layer.batch_shape))}")
    return "\n".join(lines)


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 **kwargs) -> str:
    """The model's layer graph as DOT source (Keras's arguments; returns text, not a pydot object)."""
    if kwargs:
        raise ValueError(f"model_to_dot: unknown arguments {sorted(kwargs)}")
    if not _is_graph_model(model):
        raise ValueError(f"model_to_dot: model '{model.name}' is a subclassed model, which has no layer graph to "
                         "draw; build it as a Sequential or Functional model")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' or 'LR', received {rankdir!r}")
    opts = (show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
    lines, ids = [], {}

    def node_id(layer):
        return ids.setdefault(id(layer), f"n{len(ids)}")

    def entry_exit(layer):
        """The first and last drawn node of a layer (inside a nested model when expanded)."""
        if expand_nested and _is_graph_model(layer) and layer.layers:
            return entry_exit(layer.layers[0])[0], entry_exit(layer.layers[-1])[1]
        return node_id(layer), node_id(layer)

    def draw(m, indent):
        for layer in m.layers:
            if expand_nested and _is_graph_model(layer) and layer.layers:
                lines.append(f"{indent}subgraph cluster_{node_id(layer)} {{")
                lines.append(f"{indent}  label={_quote(layer.name)}; style=dashed;")
                draw(layer, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                lines.append(f"{indent}{node_id(layer)} [label={_quote(_label(layer, *opts))}];")
        for src, dst in _edges(m):
            lines.append(f"{indent}{entry_exit(src)[1]} -> {entry_exit(dst)[0]};")

    head = "subgraph" if subgraph else "digraph"
    out = [f"{head} {_quote(model.name)} {{", f"  rankdir={rankdir}; dpi={int(dpi)};",
           "  node [shape=box, fontname=Helvetica];"]
    draw(model, "  ")
    return "\n".join(out + lines + ["}"]) + "\n"


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=True,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               **kwargs):
    """Draw the model's layer graph to ``to_file`` (Keras's arguments). A ``.dot`` file is the DOT
    source; other extensions (``.png``, ``.svg``, ``.pdf``...) are rendered by Graphviz's ``dot``
    program, which must be installed (it is not a Python package). Returns ``to_file``."""
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable, **kwargs)
    to_file = str(to_file)
    ext = os.path.splitext(to_file)[1].lower().lstrip(".")
    if ext in ("dot", "gv"):
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(dot)
        return to_file
    if ext not in _FORMATS:
        raise ValueError(f"plot_model: cannot write {to_file!r}: use one of .dot, .{', .'.join(sorted(_FORMATS))}")
    exe = shutil.which("dot")
    if exe is None:
        raise ImportError(f"plot_model needs Graphviz's `dot` program to write .{ext} files (apt-get install graphviz, "
                          "brew install graphviz or conda install graphviz); to_file='model.dot' writes the graph "
                          "without it")
    result = subprocess.run([exe, f"-T{ext}", "-o", to_file], input=dot.encode("utf-8"), capture_output=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"Graphviz's dot failed ({result.returncode}): "
                           f"{result.stderr.decode('utf-8', 'replace').strip()[:500]}")
    return to_file
