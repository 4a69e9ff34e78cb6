"""The Keras 3 ``Layer`` contract: ``build``/``call``/``add_weight``, weight tracking, names,
training/mask propagation, and symbolic calls for the Functional API."""
from __future__ import annotations

import contextlib
import inspect
import threading
import numpy as np

from .. import backend, constraints, host_memory, initializers, parallel, regularizers
from ..autodiff import Parameter, Tensor, no_grad
from ..backend import STRING, is_string_dtype
from ..dtype_policies import standardize_layer_dtype
from ..object_registration import register_keras_serializable
from ..ops.keras_tensor import KerasTensor, OutputSpec, flatten as _flatten, is_symbolic, map_structure
from ..ops.node import Node
from ..ops.operation import Operation, decode_op_config, get_operation, reset_names, to_snake_case, unique_name
from ..serialization_lib import deserialize_keras_object, serialize_keras_object
from .input_spec import assert_input_compatibility

_state = threading.local()
# whether any layer of this process has held an add_loss loss: until one does, the per-call walks
# that gather and clear them over the sublayers find nothing and are skipped
_losses_added = False


# --------------------------------------------------------------------------- names
def clear_session() -> None:
    """Reset automatic layer and operation names (the next Dense is ``dense`` again)."""
    reset_names()


def _scope_stack() -> list:
    if not hasattr(_state, "scopes"):
        _state.scopes = []
    return _state.scopes


@contextlib.contextmanager
def name_scope(name: str):
    stack = _scope_stack()
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()


# --------------------------------------------------------------------------- call context
def _call_stack() -> list:
    return backend.layer_call_stack()


def current_training():
    """The ``training`` flag of the outermost layer call in progress (None outside calls)."""
    stack = _call_stack()
    return stack[-1] if stack else None


# --------------------------------------------------------------------------- the Layer
def _shape_of(x):
    return tuple(x.shape)


def register_serializable(package="Custom", name=None):
    """Class decorator: make a user layer, model, loss, ... loadable from saved configs by its
    ``"package>name"``. The same as ``core.saving.register_keras_serializable``."""
    return register_keras_serializable(package=package, name=name)


# --------------------------------------------------------------------------- configs
_LAYER_NAMESPACES = ("keras.layers", "keras.models", "keras")


def serialize_layer(layer) -> dict:
    """A layer's (or model's) Keras 3 config: ``{"module", "class_name", "config", "registered_name",
    "name"}`` (the top-level ``name`` as Keras writes it in a model's layer list)."""
    config = serialize_keras_object(layer)
    config["name"] = layer.name
    return config


def deserialize_layer(config: dict, custom_objects=None, safe_mode=True):
    """The layer (or model) of a config, found through the object registry (built-ins by their Keras
    name, custom classes by their registered name or in ``custom_objects``). A config whose own
    ``config`` omits the base keys (``name``, as custom ``get_config`` methods may) keeps the
    top-level ``name``, so that saved weights find their layer."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"a layer config must be a dict with 'class_name' and 'config', got {config!r}")
    config = dict(config)
    config.setdefault("config", {})
    module = config.get("module")
    if isinstance(module, str) and (module.startswith("core.ops") or module.startswith("keras.src.ops")):
        op = get_operation(config["class_name"], module)  # an op node (ops.add, x[:, 0], ...), not a layer
        if op is None:
            raise ValueError(f"unknown op {module}.{config['class_name']}: this engine has no keras.ops "
                             "function of that name")
        return op.from_config(decode_op_config(config["config"], deserialize_keras_object))
    layer = deserialize_keras_object(config, custom_objects=custom_objects, safe_mode=safe_mode,
                                     namespaces=_LAYER_NAMESPACES)
    if not callable(layer) or isinstance(layer, type):
        raise TypeError(f"config {config['class_name']!r} did not give a layer but {type(layer).__name__}")
    inner = config["config"] or {}
    if isinstance(layer, Layer) and "name" not in inner and isinstance(config.get("name"), str):
        layer.name = config["name"]
    return layer


# --------------------------------------------------------------------------- sublayers
def build_sublayer(layer, shape):
    """Build a sublayer under its own name scope (weight paths ``parent/child/kernel``), as Keras does."""
    if not layer.built:
        with name_scope(layer.name):
            layer.build(shape)
        layer.built = True
        layer._build_shapes = shape


def own_scope(layer):
    """The layer's name scope for a ``build`` called directly (``layer.build(shape)``), which in
    Keras pushes the layer's name as a layer call does; a no-op when the call already pushed it."""
    stack = _scope_stack()
    if stack and stack[-1] == layer.name:
        return contextlib.nullcontext()
    return name_scope(layer.name)


def clone_initializer(init):
    """A fresh initializer with ``init``'s config (sublayers must not share a seeded generator)."""
    if isinstance(init, initializers.Initializer):
        return type(init).from_config(init.get_config())
    return init


class Layer(Operation):
    """Base class of all layers. Subclass it: create weights in ``build(input_shape)`` with
    ``add_weight``, compute in ``call(inputs, training=None, mask=None)`` with ``core.ops``;
    gradients are automatic."""

    _registry_name = None
    input_spec = None  # an InputSpec (or a structure of them) each call checks its first argument against
    _accepts_strings = False  # the preprocessing layers that take strings (TextVectorization, ...) set it

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            cls.build = _marks_built(cls.__dict__["build"])
    _pushes_scope = True  # models open their own scope in build (Sequential) or none (Functional)

    def __init__(self, trainable=True, name=None, dtype=None, autocast=True, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_size = kwargs.pop("batch_size", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if kwargs.get("quantization_config", 0) is None:  # Keras 3 writes it; only "no quantization" is served
            kwargs.pop("quantization_config")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}")
        object.__setattr__(self, "_layers", [])
        self._trainable = bool(trainable)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.dtype = standardize_layer_dtype(dtype)
        self.autocast = autocast
        self.built = False
        self.supports_masking = getattr(self, "supports_masking", False)
        self._trainable_params: list[Parameter] = []
        self._non_trainable_params: list[Parameter] = []
        self._losses: list = []
        self._inbound_nodes: list[Node] = []
        self._build_shapes = None
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, int(input_dim))
        else:
            self._batch_input_shape = None

    # ------------------------------------------------------------- tracking
    def __setattr__(self, key, value):
        if "_layers" in self.__dict__:
            if isinstance(value, Layer) and value is not self and key != "_outer":
                if not any(value is l for l in self._layers):
                    self._layers.append(value)
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value) \
                    and not key.startswith("_"):
                for v in value:
                    if not any(v is l for l in self._layers):
                        self._layers.append(v)
        object.__setattr__(self, key, value)

    @property
    def compute_dtype(self) -> str:
        return self.dtype

    @property
    def variable_dtype(self) -> str:
        return self.dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = bool(value)
        self._trainable = value
        for p in self._trainable_params:
            p.trainable = value
        for layer in self._layers:
            layer.trainable = value

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None):
        """Create a weight (a ``Parameter``) named ``<layer path>/<name>`` as Keras names it."""
        shape = () if shape is None else tuple(int(s) for s in shape)
        dtype = dtype or self.variable_dtype
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        init = initializers.get(initializer)
        value = init(shape, dtype=dtype)
        path = "/".join(_scope_stack() + [name or "variable"]) if _scope_stack() else f"{self.name}/{name or 'variable'}"
        p = Parameter(value, trainable=trainable and self._trainable, dtype=dtype, name=name or "variable")
        p.path = path
        p.regularizer = _get_regularizer(regularizer)
        p.constraint = _get_constraint(constraint)
        p._declared_trainable = trainable
        (self._trainable_params if trainable else self._non_trainable_params).append(p)
        return p

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        out = list(self._trainable_params)
        for layer in self._layers:
            out.extend(layer.trainable_weights)
        return _unique(out)

    @property
    def non_trainable_weights(self) -> list:
        if not self._trainable:
            return self.weights
        out = list(self._non_trainable_params)
        for layer in self._layers:
            out.extend(layer.non_trainable_weights)
        return _unique(out)

    def to(self, device):
        """Move every weight of this layer and its sublayers (trainable or not: batch-norm
        statistics too) to ``device`` ('cpu', 'gpu', 'gpu:N'), in place; returns the layer.
        The device is checked first (a missing CuPy or GPU is an error and nothing moves)."""
        dev = backend.get_device(device)
        for w in self.weights:
            if backend.device_of(w.data) != dev:
                w.data = backend.to_device(w.data, dev)
                if w.grad is not None:
                    w.grad = backend.to_device(w.grad, dev)
        return self

    @property
    def weights(self) -> list:
        out = list(self._trainable_params) + list(self._non_trainable_params)
        for layer in self._layers:
            out.extend(layer.weights)
        return _unique(out)

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def trainable_variables(self) -> list:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list:
        return self.non_trainable_weights

    def get_weights(self) -> list:
        return [w.numpy().copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"{self.name}: set_weights expected {len(params)} arrays "
                             f"({[tuple(p.shape) for p in params]}), got {len(weights)}")
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError(f"{self.name}: weight {p.path} has shape {tuple(p.shape)}, "
                                 f"got an array of shape {tuple(w.shape)}")
            p.assign(w)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"{self.name} is not built yet: call it on data or build(input_shape) first")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    @property
    def losses(self) -> list:
        """The ``add_loss`` losses of this layer's latest call and of its sublayers' (at any depth),
        then the weight regularization losses computed now (scalar Tensors)."""
        out = list(self._losses)
        seen, stack = {id(self)}, (list(self._layers) if _losses_added else [])
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.extend(layer._losses)
            stack.extend(layer._layers)
        for w in self.trainable_weights:
            reg = getattr(w, "regularizer", None)
            if reg is not None:
                out.append(reg(w))
        return out

    def add_loss(self, loss) -> None:
        global _losses_added
        _losses_added = True
        self._losses.append(loss)

    def _set_losses(self, losses) -> None:
        """Replace this layer's ``add_loss`` losses (an activity regularizer's one term per call)."""
        global _losses_added
        _losses_added = True
        self._losses[:] = losses

    def _clear_losses(self) -> None:
        """Forget the ``add_loss`` losses of this layer and of its sublayers."""
        if not _losses_added:  # no layer of this process has held one: nothing to walk
            return
        seen, stack = set(), [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            layer._losses = []
            stack.extend(layer._layers)

    # ------------------------------------------------------------- building and calling
    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape):
        raise NotImplementedError

    def _maybe_build(self, args):
        if self.built:
            return
        shapes = map_structure(lambda t: _shape_of(t) if hasattr(t, "shape") else t, args[0])
        with name_scope(self.name) if self._pushes_scope else contextlib.nullcontext():
            self.build(shapes)
        self.built = True
        self._build_shapes = shapes

    def _signature_params(self):
        cls = type(self)
        cache = cls.__dict__.get("_sig_cache")
        if cache is None:
            cache = set(inspect.signature(self.call).parameters)
            setattr(cls, "_sig_cache", cache)
        return cache

    def __call__(self, *args, **kwargs):
        if not host_memory._prepared:  # the engine's first work: see core/host_memory.py
            host_memory.prepare_host()
        parallel.pace()
        if self.input_spec is not None and args:
            assert_input_compatibility(self.input_spec, args[0], self.name)
        if len(args) == 1 and type(args[0]) is Tensor and (not kwargs or kwargs.keys() == {"training"}):
            return self._call_tensor(args[0], kwargs.get("training"))
        if is_symbolic((args, kwargs)):
            return self._symbolic_call(args, kwargs)
        args = list(args)
        if not args:
            raise TypeError(f"{self.name}: call needs an input")
        args[0] = map_structure(self._convert_input, args[0])
        sig = self._signature_params()
        training = kwargs.pop("training", None)
        if training is None:
            training = current_training()
        if "training" in sig and training is not None:
            kwargs["training"] = bool(training)  # when unset anywhere, the layer's own default applies (Keras)
        if "mask" in sig and kwargs.get("mask") is None:
            masks = map_structure(lambda t: getattr(t, "_keras_mask", None), args[0])
            if any(m is not None for m in _flatten(masks)):
                kwargs["mask"] = masks
        prev_mask = kwargs.get("mask")
        if prev_mask is None and "mask" not in sig:
            prev_mask = map_structure(lambda t: getattr(t, "_keras_mask", None), args[0])
            if not any(m is not None for m in _flatten(prev_mask)):
                prev_mask = None
        return self._run_call(args, kwargs, training, prev_mask)

    def _call_tensor(self, x, training):
        """``__call__`` on one eager Tensor with at most ``training`` given (every layer of a
        Sequential model, each step of ``fit``): the same steps without walking nested
        structures."""
        x = self._convert_input(x)
        sig = self._signature_params()
        if training is None:
            training = current_training()
        kwargs = {}
        if "training" in sig and training is not None:
            kwargs["training"] = bool(training)
        in_mask = getattr(x, "_keras_mask", None)
        if in_mask is not None and "mask" in sig:
            kwargs["mask"] = in_mask
        return self._run_call([x], kwargs, training, in_mask)

    def _run_call(self, args, kwargs, training, prev_mask):
        """``call`` on converted inputs, built on first use, inside the training-flag stack; the
        output gets ``compute_mask(inputs, prev_mask)``."""
        self._check_input(args[0])
        self._maybe_build(args)
        stack = _call_stack()
        stack.append(bool(training) if training is not None else None)
        depth = getattr(_state, "depth", 0)
        if depth == 0:
            # add_loss losses belong to the latest outermost call: a layer called twice inside it
            # (a shared layer) keeps the losses of both calls (Keras)
            self._clear_losses()
        _state.depth = depth + 1
        try:
            outputs = self.call(*args, **kwargs)
        finally:
            stack.pop()
            _state.depth = depth
        return _with_mask(outputs, self.compute_mask(args[0], prev_mask))

    def _convert_input(self, x):
        if x is None:
            return None
        if not isinstance(x, Tensor):
            x = Tensor(x)
        kind = x.dtype.kind
        if kind == "f":
            if self.autocast and x.dtype != np.dtype(self.compute_dtype):
                from .. import ops

                mask = getattr(x, "_keras_mask", None)
                x = ops.cast(x, self.compute_dtype)
                if mask is not None:
                    x._keras_mask = mask
        elif kind in "USO" and not self._accepts_strings:
            raise _needs_numbers(self, str(x.dtype))
        return x

    def _check_input(self, inputs):
        """Refuse an input whose rank or last dimension does not match the built weights."""
        if not self.built or self._build_shapes is None or not isinstance(inputs, Tensor):
            return
        if not (self._trainable_params or self._non_trainable_params):
            return  # a layer without weights of its own accepts any compatible input
        expected = self._build_shapes
        if not isinstance(expected, tuple) or not all(d is None or isinstance(d, int) for d in expected):
            return
        got = tuple(inputs.shape)
        if len(got) != len(expected) or (expected[-1] is not None and got[-1] != expected[-1]):
            if len(got) != len(expected):
                raise ValueError(f"Input to layer '{self.name}' is incompatible: expected rank {len(expected)} "
                                 f"(built for input shape {_fmt_shape(expected)}), got shape {got}")
            raise ValueError(f"Input to layer '{self.name}' is incompatible: expected last dimension "
                             f"{expected[-1]} (built for input shape {_fmt_shape(expected)}), got shape {got}")

    # ------------------------------------------------------------- symbolic (Functional API)
    def _symbolic_call(self, args, kwargs):
        in_first = args[0]
        if not self._accepts_strings and any(isinstance(t, KerasTensor) and t.dtype is STRING
                                             for t in _flatten(in_first)):
            raise _needs_numbers(self, "string")
        if not self.built:
            shapes = map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else t, in_first)
            with name_scope(self.name) if self._pushes_scope else contextlib.nullcontext():
                self.build(shapes)
            self.built = True
            self._build_shapes = shapes
        out_spec = self.compute_output_spec(*args, **kwargs)
        self._clear_losses()  # what a probe run added is no loss of the model (Keras: losses come from eager calls)
        node = Node(self, args, kwargs, None)
        counter = [0]

        def make(spec):
            shape, dtype, has_mask = spec
            kt = KerasTensor(shape, dtype, history=(node, counter[0]), has_mask=has_mask)
            counter[0] += 1
            return kt

        if isinstance(out_spec, OutputSpec):
            outputs = make(out_spec)
        elif isinstance(out_spec, list):
            outputs = [make(o) for o in out_spec]
        else:
            outputs = tuple(make(o) for o in out_spec)
        node.outputs = outputs
        node.output_tensors = [t for t in _flatten(outputs) if isinstance(t, KerasTensor)]
        self._inbound_nodes.append(node)
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        """OutputSpec(shape, dtype, has_mask) of the output for symbolic inputs: by ``compute_output_shape``
        when the layer defines it, else by running the layer on zeros (unknown dims probed twice)."""
        inputs = args[0]
        flat_in = [t for t in _flatten(inputs) if isinstance(t, KerasTensor)]
        in_mask = any(t._has_mask for t in flat_in)
        if type(self).compute_output_shape is not Layer.compute_output_shape and not isinstance(inputs, (list, tuple, dict)):
            try:
                shape = self.compute_output_shape(inputs.shape)
                has_mask = bool(self.supports_masking and in_mask) or self._makes_mask()
                return OutputSpec(tuple(shape), dtype_name(self._output_dtype(inputs)), has_mask)
            except NotImplementedError:
                pass
        return self._probe_output_spec(args, kwargs, in_mask)

    def _makes_mask(self):
        return False

    def _output_dtype(self, inputs):
        return self.compute_dtype if np.dtype(inputs.dtype).kind == "f" or not self.autocast else inputs.dtype

    def _probe_output_spec(self, args, kwargs, in_mask):
        def run(batch, other):
            def concrete(t):
                if not isinstance(t, KerasTensor):
                    return t
                shape = tuple(batch if (d is None and i == 0) else (other if d is None else d)
                              for i, d in enumerate(t.shape))
                x = Tensor(np.full(shape, "", np.str_) if t.dtype is STRING else np.zeros(shape, dtype=t.dtype))
                if t._has_mask:
                    x._keras_mask = Tensor(np.ones(shape[:2], dtype=bool))
                return x

            a = map_structure(concrete, args)
            k = map_structure(concrete, kwargs)
            with no_grad():
                out = self(*a, training=False, **{kk: v for kk, v in k.items() if kk != "training"})
            return out

        has_unknown = any(d is None for t in _flatten(args) if isinstance(t, KerasTensor) for d in t.shape[1:])
        out1 = run(2, 9)
        out2 = run(3, 10) if has_unknown else None
        any_batch_none = any(isinstance(t, KerasTensor) and t.shape and t.shape[0] is None for t in _flatten(args))

        def spec(o1, o2):
            shape = list(o1.shape)
            if any_batch_none and shape:
                shape[0] = None
            if o2 is not None:
                shape = [None if (a != b) else a for a, b in zip(shape, o2.shape)]
                if any_batch_none and shape:
                    shape[0] = None
            return OutputSpec(tuple(shape), dtype_name(o1.dtype), getattr(o1, "_keras_mask", None) is not None)

        if isinstance(out1, Tensor):
            return spec(out1, out2)
        if isinstance(out1, (list, tuple)):
            o2s = out2 if out2 is not None else [None] * len(out1)
            specs = [spec(a, b) for a, b in zip(out1, o2s)]
            return specs if isinstance(out1, list) else tuple(specs)
        raise TypeError(f"{self.name}: call returned {type(out1).__name__}, expected tensors")

    # ------------------------------------------------------------- config
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    @property
    def input_shape(self):
        return self._batch_input_shape

    @property
    def output(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has never been called symbolically and has no defined output")
        return self._inbound_nodes[0].outputs

    @property
    def input(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has never been called symbolically and has no defined input")
        return self._inbound_nodes[0].args[0]


def _marks_built(build):
    """Wrap a subclass's build so that calling it directly also marks the layer built (as Keras)."""
    import functools

    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        out = build(self, *args, **kwargs)
        self.built = True
        if self._build_shapes is None and args:
            self._build_shapes = args[0]
        return out

    wrapper._marks_built = True
    return wrapper


def _with_mask(outputs, out_mask):
    """``outputs`` with ``out_mask`` (a mask, or one per output) attached as ``_keras_mask``."""
    if out_mask is not None:
        if isinstance(outputs, Tensor):
            outputs._keras_mask = out_mask
        elif isinstance(outputs, (list, tuple)) and isinstance(out_mask, (list, tuple)):
            for o, m in zip(outputs, out_mask):
                if isinstance(o, Tensor):
                    o._keras_mask = m
    return outputs


def dtype_name(dtype) -> str:
    """The Keras name of a dtype: ``"string"`` for Keras's string dtype and for the NumPy dtypes
    string arrays have (str, bytes, object), else NumPy's name (``"float32"``)."""
    if is_string_dtype(dtype):
        return "string"
    dtype = np.dtype(dtype)
    return "string" if dtype.kind in "USO" else dtype.name


def _needs_numbers(layer, dtype) -> TypeError:
    what = (f"strings (dtype {dtype})" if dtype == "string" or dtype[1:2] in ("U", "S") else
            f"an array of dtype {dtype} (strings or Python objects)")
    return TypeError(f"Layer '{layer.name}' ({type(layer).__name__}) needs numbers but got {what}: turn strings into "
                     "numbers first with TextVectorization, StringLookup or Hashing")


def _unique(items):
    seen, out = set(), []
    for w in items:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out


def _fmt_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _get_regularizer(reg):
    return None if reg is None else regularizers.get(reg)


def _get_constraint(con):
    return None if con is None else constraints.get(con)
