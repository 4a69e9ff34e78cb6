"""Export models to other runtimes. ``export_onnx(model, path)`` (also ``model.export(path)``)
writes an ONNX file; converters for each layer class are registered with
``register_onnx_converter``."""
from .onnx_graph import (OnnxExportError, OnnxGraph, export_onnx, get_onnx_converter,
                         register_onnx_converter)

__all__ = ["OnnxExportError", "OnnxGraph", "export_onnx", "get_onnx_converter",
           "register_onnx_converter"]
