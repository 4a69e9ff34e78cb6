"""``Operation``: what a Functional graph node calls. A Keras layer is an Operation; so is each
``keras.ops`` function used on symbolic tensors (``ops.add(inputs, 1)`` records an ``Add`` node).

``symbolic_op(fn)`` makes an op function dispatch on its arguments: eager Tensors and arrays run
``fn`` as before (one type test per argument); a KerasTensor anywhere in the arguments records a
node of the op's ``Operation`` class instead. That class is made from ``fn`` itself: its config is
the call's non-tensor arguments (``Sum(axis=1, keepdims=True)``), its call arguments the tensors,
and its output shape and dtype come from running ``fn`` on zeros of the symbolic shapes (twice,
with different sizes for the unknown dimensions, to tell which output dimensions follow them).
"""
from __future__ import annotations

import functools
import inspect
import re
import threading

import numpy as np

from ..autodiff import Tensor, no_grad
from .keras_tensor import KerasTensor, OutputSpec, any_symbolic_tensors, flatten, map_structure
from .node import Node

_state = threading.local()


# --------------------------------------------------------------------------- names
def to_snake_case(name: str) -> str:
    """Keras's class-name -> layer-name rule: ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def _uids() -> dict:
    if not hasattr(_state, "uids"):
        _state.uids = {}
    return _state.uids


def unique_name(prefix: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2``... as Keras names layers and operations automatically."""
    uids = _uids()
    n = uids.get(prefix, 0)
    uids[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def reset_names() -> None:
    """Forget the automatic names given so far (``clear_session``)."""
    _state.uids = {}


# --------------------------------------------------------------------------- Operation
class Operation:
    """Something a Functional graph calls: ``call`` on eager Tensors, a ``Node`` and new
    KerasTensors on symbolic ones (``symbolic_call``)."""

    def __init__(self, name=None):
        if name is None:
            name = unique_name(to_snake_case(type(self).__name__))
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"an operation name must be a string without '/', got {name!r}")
        self.name = name
        self._inbound_nodes = []

    def __call__(self, *args, **kwargs):
        if any_symbolic_tensors(args, kwargs):
            return self.symbolic_call(*args, **kwargs)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def symbolic_call(self, *args, **kwargs):
        specs = self.compute_output_spec(*args, **kwargs)
        node = Node(self, args, kwargs, None)
        counter = [0]

        def make(spec):
            if isinstance(spec, KerasTensor):
                spec = OutputSpec(spec.shape, spec.dtype.name, spec._has_mask)
            kt = KerasTensor(spec.shape, spec.dtype, history=(node, counter[0]), has_mask=spec.has_mask)
            counter[0] += 1
            return kt

        outputs = _map_specs(make, specs)
        node.outputs = outputs
        node.output_tensors = [t for t in flatten(outputs) if isinstance(t, KerasTensor)]
        self._inbound_nodes.append(node)
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        """The output's OutputSpec (or a list/tuple of them) for symbolic inputs: by running ``call``
        on zeros of the symbolic shapes."""
        return probe_output_spec(self.call, args, kwargs, self.name)

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _map_specs(fn, specs):
    if isinstance(specs, (OutputSpec, KerasTensor)):
        return fn(specs)
    if isinstance(specs, list):
        return [_map_specs(fn, s) for s in specs]
    if isinstance(specs, tuple):
        return tuple(_map_specs(fn, s) for s in specs)
    if isinstance(specs, dict):
        return {k: _map_specs(fn, v) for k, v in specs.items()}
    raise TypeError(f"an operation's output spec must be OutputSpecs, got {type(specs).__name__}")


def _probe_values(kt, sizes, identity):
    batch, other = sizes
    shape = tuple(batch if (d is None and i == 0) else (other if d is None else d) for i, d in enumerate(kt.shape))
    if identity and kt.dtype.kind == "f" and len(shape) >= 2 and shape[-1] == shape[-2]:
        arr = np.broadcast_to(np.eye(shape[-1], dtype=kt.dtype), shape).copy()
    elif identity:
        arr = np.ones(shape, dtype=kt.dtype)
    else:
        arr = np.zeros(shape, dtype=kt.dtype)
    return Tensor(arr)


def probe_output_spec(call, args, kwargs, name):
    """OutputSpec(s) of ``call(*args, **kwargs)`` with KerasTensors replaced by zeros (identity
    matrices or ones when zeros make the op fail, as an inverse does): unknown dims are probed at two
    sizes and stay None in the output where the two runs differ."""
    has_unknown = any(d is None for t in flatten((args, kwargs)) if isinstance(t, KerasTensor) for d in t.shape)

    def run(sizes):
        err = None
        for identity in (False, True):
            def concrete(t):
                return _probe_values(t, sizes, identity) if isinstance(t, KerasTensor) else t

            a, k = map_structure(concrete, args), map_structure(concrete, kwargs)
            try:
                with no_grad(), np.errstate(all="ignore"):
                    return call(*a, **k)
            except Exception as e:  # noqa: BLE001 - retried once, then reported with the op's name
                err = e
        raise type(err)(f"{name}: cannot infer the output shape on symbolic inputs: {err}") from err

    out1 = run((2, 7))
    out2 = run((3, 11)) if has_unknown else None

    def spec(o1, o2):
        if not isinstance(o1, Tensor):
            o1 = Tensor(np.asarray(o1))
            o2 = Tensor(np.asarray(o2)) if o2 is not None else None
        shape = list(o1.shape)
        if o2 is not None:
            shape = [None if (len(o1.shape) != len(o2.shape) or a != b) else a for a, b in zip(shape, o2.shape)]
        return OutputSpec(tuple(shape), o1.dtype.name, False)

    def walk(o1, o2):
        if isinstance(o1, (list, tuple)):
            o2s = o2 if o2 is not None else [None] * len(o1)
            out = [walk(a, b) for a, b in zip(o1, o2s)]
            return out if isinstance(o1, list) else tuple(out)
        return spec(o1, o2)

    return walk(out1, out2)


# --------------------------------------------------------------------------- ops as Operations
OPERATIONS: dict = {}  # class name -> the Operation class of a keras.ops function
_P = inspect.Parameter


def _tensor_like(v) -> bool:
    if isinstance(v, (KerasTensor, Tensor, np.ndarray, np.generic)):
        return True
    if isinstance(v, (list, tuple)):
        return any(_tensor_like(x) for x in v)
    return False


def _keep_tuples(v):
    """Tuples marked as ``__tuple__`` (an index ``x[0, 1]`` is not ``x[[0, 1]]`` once JSON made both lists)."""
    if isinstance(v, tuple):
        return {"class_name": "__tuple__", "config": {"value": [_keep_tuples(x) for x in v]}}
    if isinstance(v, list):
        return [_keep_tuples(x) for x in v]
    return v


def decode_op_config(config, decode):
    """An op's saved config back to arguments: ``__tuple__`` markers to tuples, the rest (slices,
    ``...``, arrays) by ``decode`` (the serialization library's)."""
    if isinstance(config, dict) and config.get("class_name") == "__tuple__":
        return tuple(decode_op_config(x, decode) for x in config["config"]["value"])
    if isinstance(config, dict) and "class_name" in config and "config" in config:
        return decode(config)
    if isinstance(config, dict):
        return {k: decode_op_config(v, decode) for k, v in config.items()}
    if isinstance(config, list):
        return [decode_op_config(x, decode) for x in config]
    return config


class FunctionOperation(Operation):
    """The Operation of one op function: config = the call's static arguments, call = the tensors."""

    function = None  # the op's eager implementation (a staticmethod on each subclass)
    signature = None
    output_spec = None  # optional: a function of the call's arguments giving the OutputSpec(s)
    index_params = ()  # parameters that are NumPy indices (tuples kept as tuples in configs)

    def __init__(self, name=None, **config):
        super().__init__(name=name)
        self._config = config

    def get_config(self) -> dict:
        return {"name": self.name, **{k: _keep_tuples(v) if k in self.index_params else v
                                      for k, v in self._config.items()}}

    def call(self, *args, **kwargs):
        params = type(self).signature.parameters.values()
        has_var = any(p.kind is _P.VAR_POSITIONAL for p in params)
        pos, out_pos, out_kw = list(args), [], {}
        config = self._config
        for p in params:
            if p.kind is _P.VAR_POSITIONAL:
                out_pos.extend(pos)
                pos = []
                has_var = False
                continue
            if p.kind is _P.VAR_KEYWORD:
                continue
            if p.name in config:
                v = config[p.name]
            elif p.name in kwargs:
                v = kwargs[p.name]
            elif pos and p.kind is not _P.KEYWORD_ONLY:
                v = pos.pop(0)
            else:
                continue
            if has_var and p.kind is not _P.KEYWORD_ONLY:
                out_pos.append(v)
            else:
                out_kw[p.name] = v
        known = {p.name for p in params}
        out_kw.update({k: v for k, v in config.items() if k not in known})
        out_kw.update({k: v for k, v in kwargs.items() if k not in known})
        return type(self).function(*out_pos, **out_kw)

    def compute_output_spec(self, *args, **kwargs):
        if type(self).output_spec is not None:
            return type(self).output_spec(*args, **kwargs, **self._config)
        return probe_output_spec(self.call, args, kwargs, self.name)

    @classmethod
    def symbolic(cls, args, kwargs):
        """Record ``fn(*args, **kwargs)`` on symbolic inputs: split the arguments into the node's
        tensors (required parameters and tensor-valued ones) and the Operation's config."""
        bound = cls.signature.bind(*args, **kwargs)
        call_args, call_kwargs, config = [], {}, {}
        positional = True
        for p in cls.signature.parameters.values():
            if p.name not in bound.arguments:
                if p.kind is not _P.VAR_POSITIONAL:
                    positional = positional and p.default is _P.empty
                continue
            v = bound.arguments[p.name]
            if p.kind is _P.VAR_POSITIONAL:
                call_args.extend(v)
            elif p.kind is _P.VAR_KEYWORD:
                config.update(v)
            elif p.default is _P.empty and p.kind is not _P.KEYWORD_ONLY and (
                    _tensor_like(v) or isinstance(v, (bool, int, float))):
                if positional:
                    call_args.append(v)
                else:
                    call_kwargs[p.name] = v
            elif _tensor_like(v):
                call_kwargs[p.name] = v
                positional = False
            else:
                config[p.name] = v
                positional = False
        return cls(**config)(*call_args, **call_kwargs)


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


_PENDING: dict = {}  # class name (and "module>name") -> (fn, output_spec): classes made on first use


def _make_class(cname, fn, output_spec, module=None):
    attrs = {"function": staticmethod(fn), "signature": inspect.signature(fn), "__module__": module or fn.__module__,
             "__doc__": f"The Operation of ``{fn.__module__}.{fn.__name__}`` in a Functional graph."}
    if output_spec is not None:
        attrs["output_spec"] = staticmethod(output_spec)
    if cname == "GetItem":
        attrs["index_params"] = ("key",)
    cls = type(cname, (FunctionOperation,), attrs)
    OPERATIONS[cname] = OPERATIONS.get(cname, cls)
    OPERATIONS[f"{cls.__module__}>{cname}"] = cls
    return cls


def symbolic_op(fn=None, *, class_name=None, output_spec=None, module=None):
    """Make the op function ``fn`` usable on KerasTensors (see the module docstring). Its
    Operation class is ``class_name`` (default: the function's name in CamelCase, Keras's own
    class names: ``one_hot`` -> ``OneHot``) in ``module`` (default: fn's; the public ops use
    Keras's, ``keras.src.ops.numpy``, so that configs name them as Keras does), made the first
    time it is needed."""
    if fn is None:
        return functools.partial(symbolic_op, class_name=class_name, output_spec=output_spec, module=module)
    cname = class_name or _camel(fn.__name__)
    mod = module or fn.__module__
    _PENDING.setdefault(cname, (fn, output_spec, mod))
    _PENDING[f"{mod}>{cname}"] = (fn, output_spec, mod)
    cls_box = []

    def symbolic(args, kwargs):
        if not cls_box:
            cls_box.append(OPERATIONS.get(f"{mod}>{cname}") or _make_class(cname, fn, output_spec, mod))
        return cls_box[0].symbolic(args, kwargs)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in args:
            t = type(a)
            if t is Tensor:
                continue
            if t is KerasTensor or (t is list or t is tuple) and any_symbolic_tensors(a):
                return symbolic(args, kwargs)
        if kwargs and any_symbolic_tensors((), kwargs):
            return symbolic(args, kwargs)
        return fn(*args, **kwargs)

    op.eager = fn
    op.operation_name = cname
    return op


def alias_operation(class_name: str, op, module: str) -> None:
    """Let configs name the op function ``op`` (a ``symbolic_op``) also as ``module.class_name``
    (Keras's ``Fabs`` for ``fabs``, an alias of ``abs`` here)."""
    entry = (op.eager, None, module)
    _PENDING.setdefault(class_name, entry)
    _PENDING.setdefault(f"{module}>{class_name}", entry)


def get_operation(class_name: str, module: str | None = None):
    """The Operation class of a keras op by its class name (and module, when two share a name)."""
    for key in ([f"{module}>{class_name}"] if module is not None else []) + [class_name]:
        if key in OPERATIONS:
            return OPERATIONS[key]
        if key in _PENDING:
            fn, spec, mod = _PENDING[key]
            return OPERATIONS.get(f"{mod}>{class_name}") or _make_class(class_name, fn, spec, mod)
    return None
