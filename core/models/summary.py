"""``model.summary()``: the same table, shapes and parameter counts that Keras 3 prints.

Keras renders with ``rich``; this reproduces its layout (column widths reduced to the line
length the way rich does, word wrapping, ellipsis for over-long words) with no dependency.
"""
from __future__ import annotations

import math
import shutil
import sys

import numpy as np

from ..layers.base import KerasTensor, _flatten
from ..layers.core_layers import InputLayer


def _format_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _layer_shape(layer):
    if isinstance(layer, InputLayer):
        return _format_shape(layer.batch_shape)
    nodes = layer._inbound_nodes
    if nodes:
        outs = nodes[-1].outputs  # Keras keeps the last node's shapes
        if isinstance(outs, KerasTensor):
            return _format_shape(outs.shape)
        flat = _flatten(outs)
        if len(flat) == 1:
            return _format_shape(flat[0].shape)
        inner = ", ".join(_format_shape(t.shape) for t in flat)
        return f"[{inner}]" if isinstance(outs, list) else f"({inner})"
    if getattr(layer, "output_shape", None) is not None:
        return _format_shape(layer.output_shape)
    if layer.built and layer._build_shapes is not None:
        try:
            return _format_shape(layer.compute_output_shape(layer._build_shapes))
        except (NotImplementedError, TypeError, ValueError):
            return "?"
    return "?"


def _history_ref(t):
    if t._history is None:
        return t._input_layer.name, 0, 0
    node, idx = t._history
    return node.layer.name, node.layer._inbound_nodes.index(node), idx


def _connections(layer, relevant):
    parts = []
    for node in layer._inbound_nodes:
        if id(node) not in relevant:
            continue
        for t in node.input_tensors:
            name, ni, ti = _history_ref(t)
            parts.append(f"{name}[{ni}][{ti}]")
    return ", ".join(parts) if parts else "-"


def _is_sequential_like(model):
    nodes = getattr(model, "_nodes", None)
    if nodes is None:
        return True
    if len(model._flat_inputs) > 1:
        return False
    consumers = {}
    seen_layers = set()
    for node in nodes:
        if len(node.input_tensors) > 1:
            return False
        if id(node.layer) in seen_layers:
            return False
        seen_layers.add(id(node.layer))
        for t in node.input_tensors:
            consumers[id(t)] = consumers.get(id(t), 0) + 1
    return all(c <= 1 for c in consumers.values())


def _wrap(text, width):
    """rich's divide_line (no folding) then an ellipsis on lines still too long."""
    words = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and not text[j].isspace():
            j += 1
        while j < len(text) and text[j].isspace():
            j += 1
        words.append(text[i:j])
        i = j
    lines, current, offset = [], "", 0
    for word in words:
        wlen = len(word.rstrip())
        if width - offset >= wlen:
            current += word
            offset += len(word)
        else:
            if current:
                lines.append(current)
            current, offset = word, len(word)
    lines.append(current)
    out = []
    for line in lines:
        line = line.rstrip()
        if len(line) > width:
            line = line[:width - 1] + "…"
        out.append(line)
    return out or [""]


def _reduce_widths(widths, excess):
    """rich's ratio_reduce with equal ratios: take ``excess`` cells off, column by column."""
    result, total_ratio, remaining = [], len(widths), excess
    for w in widths:
        d = min(w, round(remaining / total_ratio))
        result.append(w - d)
        remaining -= d
        total_ratio -= 1
    return result


def _readable_size(n):
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if n / 1024 < 1:
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} PB"


def _memory(weights):
    uniq = {id(w): w for w in weights}.values()
    return sum(math.prod(w.shape) * np.dtype(w.dtype).itemsize for w in uniq)


def _count(weights):
    uniq = {id(w): w for w in weights}.values()
    return int(sum(math.prod(w.shape) for w in uniq))


def summary_text(model, line_length=None, positions=None, expand_nested=False, show_trainable=False) -> str:
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        default_len, positions = 88, positions or [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        align = ["left", "left", "right"]
    else:
        default_len, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        align = ["left", "left", "right", "left"]
    if show_trainable:
        default_len += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        align.append("center")
    if sys.stdout.isatty():
        default_len = min(default_len, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_len
    if positions[-1] <= 1:
        positions = [int(p * line_length) for p in positions]
    widths, current = [], 0
    for pos in positions:
        w = pos - current
        if w < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(w)
        current += w
    cells = [w + 2 for w in widths]  # rich adds one cell of padding each side
    total = sum(cells) + len(cells) + 1
    if total > line_length:
        cells = _reduce_widths(cells, total - line_length)
    content = [c - 2 for c in cells]

    relevant = {id(n) for n in getattr(model, "_nodes", [])}
    layers = model.operations if hasattr(model, "operations") else model.layers  # ops too, as Keras 3

    def fields(layer, prefix=""):
        name = f"{prefix}{layer.name} ({type(layer).__name__})"
        if not hasattr(layer, "count_params"):  # an op node: no weights
            params = "0"
        elif not layer.built:
            params = "0 (unbuilt)"
        else:
            params = f"{layer.count_params():,}"
        row = [name, _layer_shape(layer), params]
        if not sequential_like:
            row.append(_connections(layer, relevant))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if getattr(layer, "weights", None) else "-")
        return row

    rows = []

    def add(layer, level=0):
        prefix = ("   " * level + "└ ") if level else ""
        rows.append(fields(layer, prefix))
        if expand_nested and getattr(layer, "layers", None) and not isinstance(layer, InputLayer):
            for sub in layer.layers:
                add(sub, level + 1)

    for layer in layers:
        add(layer)

    def render_row(values, vbar):
        wrapped = [_wrap(v, w) for v, w in zip(values, content)]
        height = max(len(c) for c in wrapped)
        lines = []
        for k in range(height):
            parts = []
            for col, w, a in zip(wrapped, content, align):
                text = col[k] if k < len(col) else ""
                text = text.rjust(w) if a == "right" else (text.center(w) if a == "center" else text.ljust(w))
                parts.append(f" {text} ")
            lines.append(vbar + vbar.join(parts) + vbar)
        return lines

    def rule(left, fill, mid, right):
        return left + mid.join(fill * c for c in cells) + right

    out = [f'Model: "{model.name}"', rule("┏", "━", "┳", "┓")]
    out += render_row(header, "┃")
    out.append(rule("┡", "━", "╇", "┩"))
    for i, r in enumerate(rows):
        if i:
            out.append(rule("├", "─", "┼", "┤"))
        out += render_row(r, "│")
    out.append(rule("└", "─", "┴", "┘"))

    trainable, non_trainable = model.trainable_weights, model.non_trainable_weights
    t_count, n_count = _count(trainable), _count(non_trainable)
    t_mem, n_mem = _memory(trainable), _memory(non_trainable)
    opt = getattr(model, "optimizer", None)
    opt_vars = []
    if getattr(model, "compiled", False) and opt is not None and getattr(opt, "built", False):
        opt_vars = [v for v in opt.variables() if hasattr(v, "shape")]
    o_count = int(sum(math.prod(np.shape(v)) for v in opt_vars))
    o_mem = sum(math.prod(np.shape(v)) * np.asarray(v).dtype.itemsize for v in opt_vars)
    out.append(f" Total params: {t_count + n_count + o_count:,} ({_readable_size(t_mem + n_mem + o_mem)})")
    out.append(f" Trainable params: {t_count:,} ({_readable_size(t_mem)})")
    out.append(f" Non-trainable params: {n_count:,} ({_readable_size(n_mem)})")
    if opt_vars:
        out.append(f" Optimizer params: {o_count:,} ({_readable_size(o_mem)})")
    return "\n".join(out) + "\n"


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False):
    if not model.built:
        raise ValueError(f"model '{model.name}' has not been built yet: call it on data, give the first layer an "
                         "input_shape, or call build(input_shape) before summary()")
    text = summary_text(model, line_length, positions, expand_nested, show_trainable)
    if print_fn is not None:
        print_fn(text)
    else:
        sys.stdout.write(text)
