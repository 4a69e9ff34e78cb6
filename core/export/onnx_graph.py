"""The ONNX exporter: walks a Functional or Sequential model layer call by layer call, asks each
layer's registered converter for ONNX nodes, and writes the file.

Converters collect nodes as plain Python data (``OnnxGraph.node``); the ``onnx`` package is only
imported when the graph is turned into a ``ModelProto``, so converters can be registered (and
tested structurally) without it.

A converter is ``fn(g: OnnxGraph, layer, node, inputs: list[str]) -> list[str]``: ``inputs`` are
the ONNX value names of the node's input tensors in the order of ``node.input_tensors``; it returns
the value names of ``node.output_tensors``. Tensors are channels-last (Keras layout) with a dynamic
batch dimension at axis 0: a converter must never bake the batch size into the graph (use
``Reshape`` with 0 for copied dimensions, ``Flatten``, or shapes computed with ``Shape``).
"""
from __future__ import annotations

import importlib
import json
import os

import numpy as np

from .. import __version__, object_registration
from ..layers.base import KerasTensor
from ..models.functional import Functional
from ..models.model import Model
from ..models.sequential import Sequential
from ..saving.atomic import atomic_write
from .onnx_passes import optimize_graph

DEFAULT_OPSET = 17

# the engine's own converter modules, imported on first export. Other packages' converters (for
# their own layers) load when a layer has none yet: a package names its converter module with
# ``core.object_registration.register_lazy_module("onnx_converters", "<module>")`` when imported.
CONVERTER_MODULES = (
    "core.export.onnx_layers",
    "core.export.onnx_recurrent",
    "core.export.onnx_attention",
)
PLUGIN_TOPIC = "onnx_converters"

_CONVERTERS: dict = {}
_loaded = False


class OnnxExportError(ValueError):
    """A model cannot be exported: a layer without an ONNX mapping, an option it does not
    support, or the ``onnx`` package missing."""


def register_onnx_converter(*layer_classes):
    """Decorator: ``fn(g, layer, node, inputs) -> outputs`` converts calls of these layer classes
    (and their subclasses, unless a subclass has its own converter)."""

    def deco(fn):
        for cls in layer_classes:
            _CONVERTERS[cls] = fn
        return fn

    return deco


def _load_converter_modules():
    global _loaded
    if _loaded:
        return
    for mod in CONVERTER_MODULES:
        importlib.import_module(mod)
    _loaded = True


def get_onnx_converter(layer):
    """The converter registered for ``layer``'s class or its nearest base class, or None. A layer of
    another package without a converter of its own first loads the converter modules that packages
    registered (so exporting a model of core layers never imports them)."""
    _load_converter_modules()
    if type(layer) not in _CONVERTERS and type(layer).__module__.split(".")[0] != "core":
        object_registration.load_lazy_modules(PLUGIN_TOPIC)
    for cls in type(layer).__mro__:
        fn = _CONVERTERS.get(cls)
        if fn is not None:
            return fn
    return None


def _onnx_dtype(dtype):
    from onnx import TensorProto

    table = {np.dtype("float32"): TensorProto.FLOAT, np.dtype("float64"): TensorProto.DOUBLE,
             np.dtype("float16"): TensorProto.FLOAT16, np.dtype("int64"): TensorProto.INT64,
             np.dtype("int32"): TensorProto.INT32, np.dtype("int8"): TensorProto.INT8,
             np.dtype("uint8"): TensorProto.UINT8, np.dtype("bool"): TensorProto.BOOL}
    try:
        return table[np.dtype(dtype)]
    except KeyError:
        raise OnnxExportError(f"dtype {np.dtype(dtype).name} has no ONNX mapping here") from None


class OnnxGraph:
    """The graph being built: nodes, initializers (constants), graph inputs/outputs and the
    Keras masks that travel beside tensors."""

    def __init__(self, opset=DEFAULT_OPSET):
        self.opset = int(opset)
        self.nodes = []          # (op_type, inputs, outputs, name, attrs, domain)
        self.initializers = {}   # name -> np.ndarray
        self.inputs = []         # (name, dtype, shape with None for dynamic dims)
        self.outputs = []
        self.masks = {}          # value name -> name of its bool mask value (batch, steps)
        self.shapes = {}         # value name -> Keras shape (None for unknown dims), where known
        self.dtypes = {}         # value name -> numpy dtype, where known
        self._used = set()
        self._const_cache = {}

    # ---------------------------------------------------------------- names and constants
    def fresh(self, hint="v"):
        """A value/node name not used yet, derived from ``hint``."""
        hint = str(hint).replace(":", "_") or "v"
        name, i = hint, 1
        while name in self._used:
            name, i = f"{hint}_{i}", i + 1
        self._used.add(name)
        return name

    def const(self, value, hint="const", dtype=None):
        """An initializer holding ``value`` (numpy array or scalar); identical small constants
        are shared."""
        arr = np.asarray(value if not hasattr(value, "get") else value.get(), dtype=dtype)
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(np.float32)
        key = None
        if arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._const_cache:
                return self._const_cache[key]
        name = self.fresh(hint)
        self.initializers[name] = np.ascontiguousarray(arr) if arr.ndim else arr.copy()  # keeps 0-d scalars 0-d
        if key is not None:
            self._const_cache[key] = name
        return name

    def ints(self, values, hint="shape"):
        """An int64 1-D constant (shapes, axes, pads for ops that take them as inputs)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    def weight(self, w, hint):
        """A layer weight (Parameter/Tensor/array) as a float initializer named after ``hint``."""
        data = getattr(w, "data", w)
        if hasattr(data, "get"):  # CuPy
            data = data.get()
        return self.const(np.asarray(data), hint)

    # ---------------------------------------------------------------- nodes
    def node(self, op_type, inputs, outputs=1, name=None, domain="", **attrs):
        """Add a node. ``outputs`` is a count (fresh names are made) or a list of names; returns
        the list of output names (use ``[0]`` for single-output ops). An input of ``""`` is an
        omitted optional input."""
        base = name or op_type.lower()
        if isinstance(outputs, int):
            outputs = [self.fresh(f"{base}_out" if outputs == 1 else f"{base}_out{i}")
                       for i in range(outputs)]
        else:
            outputs = list(outputs)
            self._used.update(outputs)
        self.nodes.append((op_type, list(inputs), outputs, self.fresh(base), attrs, domain))
        return outputs

    def op(self, op_type, *inputs, name=None, **attrs):
        """A single-output node: ``g.op("Add", a, b)`` returns the output name."""
        return self.node(op_type, list(inputs), 1, name=name, **attrs)[0]

    # ---------------------------------------------------------------- small op helpers
    def shape_of(self, name):
        """The Keras shape (tuple, None for unknown dims) of value ``name``, or None if unknown."""
        return self.shapes.get(name)

    def unsqueeze(self, x, axes):
        """``Unsqueeze`` (axes as an input, opset >= 13)."""
        return self.op("Unsqueeze", x, self.ints(axes, "axes"))

    def squeeze(self, x, axes):
        return self.op("Squeeze", x, self.ints(axes, "axes"))

    def reduce(self, op_type, x, axes, keepdims=False):
        """``ReduceSum``/``ReduceMean``/``ReduceMax``... over ``axes``, with the axes given as an input
        or an attribute as the opset wants (ReduceSum: input from 13, the others from 18)."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.ints(axes, "axes"), keepdims=int(bool(keepdims)))
        return self.op(op_type, x, axes=axes, keepdims=int(bool(keepdims)))

    # ---------------------------------------------------------------- the model walk
    def add_input(self, kt, name):
        name = self.fresh(name)
        shape = [None] + list(kt.shape[1:])
        self.inputs.append((name, kt.dtype, shape))
        self.shapes[name] = tuple(shape)
        self.dtypes[name] = np.dtype(kt.dtype)
        return name

    def convert_model(self, model, input_names):
        """Emit the nodes of ``model`` (Functional, Sequential or a layer with a converter) applied
        to the values ``input_names``; returns the output value names (flat)."""
        if isinstance(model, Functional) and get_onnx_converter(model) is None \
                or type(model) is Functional:
            return self._convert_functional(model, input_names)
        if isinstance(model, Sequential):
            names = list(input_names)
            shapes = list(getattr(model, "_output_shapes", None) or [])
            for i, layer in enumerate(model.layers):
                names = self.convert_call(layer, None, names)
                if len(names) == 1 and i < len(shapes) and names[0] not in self.shapes:
                    self.shapes[names[0]] = tuple(shapes[i])
            return names
        return self.convert_call(model, None, list(input_names))

    def _convert_functional(self, model, input_names):
        if len(input_names) != len(model.inputs):
            raise OnnxExportError(f"model '{model.name}' has {len(model.inputs)} inputs, "
                                  f"got {len(input_names)} values")
        values = {id(kt): n for kt, n in zip(model.inputs, input_names)}
        for node in model._nodes:
            ins = [values[id(t)] for t in node.input_tensors]
            outs = self.convert_call(node.layer, node, ins)
            if len(outs) != len(node.output_tensors):
                raise OnnxExportError(
                    f"converter for layer '{node.layer.name}' returned {len(outs)} outputs, "
                    f"the layer has {len(node.output_tensors)}")
            for kt, n in zip(node.output_tensors, outs):
                values[id(kt)] = n
                self.shapes.setdefault(n, tuple(kt.shape))
                self.dtypes.setdefault(n, np.dtype(kt.dtype))
        return [values[id(t)] for t in model.outputs]

    def convert_call(self, layer, node, inputs):
        """Convert one call of ``layer`` (``node`` is None inside a Sequential)."""
        fn = get_onnx_converter(layer)
        if fn is None:
            if type(layer) is Functional or isinstance(layer, (Functional, Sequential)):
                return self.convert_model(layer, inputs)
            if isinstance(layer, Model):
                raise OnnxExportError(
                    f"model '{layer.name}' ({type(layer).__name__}) is a subclassed Model: its call() is Python "
                    "code the exporter cannot follow; build it with the Functional API (Model(inputs, "
                    "outputs)) or Sequential, or register a converter for it with "
                    "core.export.register_onnx_converter")
            raise OnnxExportError(
                f"layer '{layer.name}' ({type(layer).__module__}.{type(layer).__name__}) has no "
                "ONNX mapping; register one with core.export.register_onnx_converter")
        outs = fn(self, layer, node, list(inputs))
        outs = [outs] if isinstance(outs, str) else list(outs)
        # a layer that passes its input's mask on unchanged (Keras's default compute_mask with
        # supports_masking): the output carries the same mask, unless the converter set one
        if (len(outs) == 1 and inputs and inputs[0] in self.masks and outs[0] not in self.masks
                and getattr(layer, "supports_masking", False)
                and getattr(type(layer).compute_mask, "__qualname__", "") == "Layer.compute_mask"):
            self.masks[outs[0]] = self.masks[inputs[0]]
        return outs

    # ---------------------------------------------------------------- writing
    def to_proto(self, graph_name="zoo", metadata=None, doc_string=""):
        """The ``onnx.ModelProto`` of this graph."""
        onnx = require_onnx()
        from onnx import helper, numpy_helper

        def attr_value(v):
            if isinstance(v, np.ndarray):
                return numpy_helper.from_array(v)
            if isinstance(v, (list, tuple)):
                return [int(x) if isinstance(x, (bool, np.integer)) else x for x in v]
            if isinstance(v, np.integer):
                return int(v)
            if isinstance(v, np.floating):
                return float(v)
            return v

        nodes = [helper.make_node(op, ins, outs, name=name, domain=domain or None,
                                  **{k: attr_value(v) for k, v in attrs.items() if v is not None})
                 for op, ins, outs, name, attrs, domain in self.nodes]
        inits = [numpy_helper.from_array(a, name) for name, a in self.initializers.items()]
        ins = [helper.make_tensor_value_info(n, _onnx_dtype(dt), ["batch" if d is None and i == 0 else
                                                               (f"{n}_dim{i}" if d is None else d)
                                                               for i, d in enumerate(shape)])
               for n, dt, shape in self.inputs]
        outs = [helper.make_tensor_value_info(n, _onnx_dtype(dt), None if shape is None else
                                              ["batch" if d is None and i == 0 else
                                               (f"{n}_dim{i}" if d is None else d)
                                               for i, d in enumerate(shape)])
                for n, dt, shape in self.outputs]
        graph = helper.make_graph(nodes, graph_name, ins, outs, initializer=inits)
        model = helper.make_model(graph, producer_name="zoo",
                                  opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime >= 1.16
        model.doc_string = doc_string
        for k, v in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = str(k), v if isinstance(v, str) else json.dumps(v)
        return model


def require_onnx():
    try:
        import onnx
    except ImportError:
        raise OnnxExportError("ONNX export needs the `onnx` package: pip install 'zoo[onnx]' "
                              "(or pip install onnx onnxruntime)") from None
    return onnx


def _json_safe(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (bytes, bytearray)):
        return None
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return v


def model_metadata(model):
    """What a deployment needs beside the graph: labels and input preprocessing (from the
    model's assets or its pretrained config), input and output names."""
    assets = dict(getattr(model, "assets", None) or {})
    meta = {}
    labels = assets.get("labels")
    if labels is None:
        try:
            labels = getattr(model, "labels", None)
        except Exception:  # a zoo model whose labels need a download
            labels = None
    if labels is not None:
        meta["labels"] = _json_safe(list(labels))
    spec = assets.get("input_spec") or (getattr(model, "pretrained_cfg", None) or {}).get("input")
    if spec:
        meta["input_spec"] = _json_safe(spec)
    for key, value in assets.items():
        if key in ("labels", "input_spec"):
            continue
        value = _json_safe(value)
        if value is not None and not isinstance(value, np.ndarray):
            meta[f"asset.{key}"] = value
    return meta


def export_onnx(model, filepath, opset=DEFAULT_OPSET, fold_batchnorm=True, optimize=True,
                check=True, metadata=None):
    """Write ``model`` as an ONNX file with a dynamic batch dimension.

    ``opset``: the ONNX opset (default 17), recorded in the file. ``fold_batchnorm``: merge
    inference batch normalisation into the preceding convolution or dense layer.
    ``optimize``: cancel the layout transposes that channels-last layers need around ONNX's
    channels-first convolutions. ``check``: run ``onnx.checker`` on the result. ``metadata``:
    extra key/value pairs for the file's metadata (labels and input preprocessing are added from
    the model). Returns the path."""
    require_onnx()
    import onnx

    opset = int(opset)
    max_opset = onnx.defs.onnx_opset_version()
    if not 13 <= opset <= max_opset:
        raise OnnxExportError(f"opset must be between 13 and {max_opset} (the installed onnx's newest), "
                              f"got {opset}")
    if not isinstance(model, Model) or not getattr(model, "built", False):
        raise OnnxExportError("export needs a built model (call it once, or give Input shapes)")
    if isinstance(model, Sequential):
        inputs = [KerasTensor(model._input_batch_shape, model._input_dtype or "float32")]
        out_kts = [model._output_spec]
    else:
        inputs = list(getattr(model, "inputs", None) or [])
        out_kts = list(getattr(model, "outputs", None) or [])
    if not inputs:
        raise OnnxExportError(f"model '{model.name}' has no symbolic inputs: build it with "
                              "Input(...) or Sequential([Input(...), ...]) before exporting")
    g = OnnxGraph(opset)
    in_names = [g.add_input(kt, getattr(getattr(kt, "_input_layer", None), "name", None) or f"input_{i}")
                for i, kt in enumerate(inputs)]
    names = list(getattr(model, "output_names", None) or []) if not isinstance(model, Sequential) else ["output"]
    # the graph outputs are named after the model's output layers: reserve the names first
    final = [g.fresh(names[i] if i < len(names) and names[i] not in in_names else f"output_{i}")
             for i in range(len(out_kts))]
    outs = g.convert_model(model, in_names)
    if len(outs) != len(out_kts):
        raise OnnxExportError(f"model '{model.name}' has {len(out_kts)} outputs, the converted graph "
                              f"{len(outs)}")
    for n, want, kt in zip(outs, final, out_kts):
        g.node("Identity", [n], [want], name=f"{want}_identity")
        g.outputs.append((want, kt.dtype, [None] + list(kt.shape[1:])))
    if optimize or fold_batchnorm:
        optimize_graph(g, fold_batchnorm=fold_batchnorm, cancel_transposes=optimize)
    meta = model_metadata(model)
    meta.update({"opset": str(opset), "producer": f"zoo {__version__}",
                 "inputs": [{"name": n, "shape": [None] + list(kt.shape[1:]), "dtype": kt.dtype.name}
                            for n, kt in zip(in_names, inputs)],
                 "outputs": [{"name": n, "shape": [None] + list(kt.shape[1:]), "dtype": kt.dtype.name}
                             for n, kt in zip(final, out_kts)],
                 "layout": "channels_last (as the zoo model: images are (batch, height, width, channels))"})
    meta.update(metadata or {})
    proto = g.to_proto(graph_name=model.name, metadata=meta,
                       doc_string=f"{type(model).__name__} '{model.name}' exported by zoo")
    if check:
        try:
            onnx.checker.check_model(proto, full_check=True)
        except Exception as e:  # onnx raises ValidationError / InferenceError
            raise OnnxExportError(f"the exported graph fails onnx.checker: {e}") from None
    filepath = os.fspath(filepath)
    with atomic_write(filepath) as f:
        f.write(proto.SerializeToString())
    return filepath
