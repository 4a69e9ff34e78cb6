"""ONNX converters for core layers (see ``core.export.onnx_graph`` for the contract)."""
from __future__ import annotations

from ..layers import core_layers as C
from .onnx_graph import register_onnx_converter


@register_onnx_converter(C.Dense)
def _dense(g, layer, node, inputs):
    y = g.op("MatMul", inputs[0], g.weight(layer.kernel, f"{layer.name}/kernel"), name=layer.name)
    if layer.use_bias:
        y = g.op("Add", y, g.weight(layer.bias, f"{layer.name}/bias"), name=f"{layer.name}_bias")
    act = getattr(layer.activation, "__name__", str(layer.activation))
    if act in ("linear", "None"):
        return [y]
    return [g.op({"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[act], y)] if act != "softmax" \
        else [g.op("Softmax", y, axis=-1)]
