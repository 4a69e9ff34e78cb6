"""Objects to config dicts and back, in the layout Keras 3 writes::

    {"module": "keras.layers", "class_name": "Dense", "config": {...}, "registered_name": None}
    {"module": "my_pkg.layers", "class_name": "MyLayer", "config": {...}, "registered_name": "MyPackage>MyLayer"}
    {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "relu"}

Classes and functions are found through :mod:`core.object_registration` (never by importing the
module a config names: a saved file is untrusted input). Each kind's ``get``/``serialize``/
``deserialize`` (activations, initializers, losses, ...) is a view over :func:`get_object`,
:func:`serialize_keras_object` and :func:`deserialize_keras_object`.
"""
from __future__ import annotations

import inspect
import threading
import types

import numpy as np

from . import object_registration as registry

__all__ = ["UnknownObjectError", "serialize_keras_object", "deserialize_keras_object", "get_object", "resolve_class",
           "SafeModeScope", "in_safe_mode", "enable_unsafe_deserialization", "accepts_kwarg"]

PLAIN_TYPES = (str, int, float, bool)


class UnknownObjectError(TypeError, ValueError):
    """A config names a class or function that is neither an engine object, registered, nor given
    in ``custom_objects`` (a TypeError as in Keras, and a ValueError as each kind's ``get`` raises)."""

# Where a class name is looked for when a config names no public module (our older files wrote
# "core.layers.core_layers"; Keras 2 wrote no module at all).
_SEARCH_NAMESPACES = ("keras.layers", "keras.models", "keras", "keras.losses", "keras.metrics",
                      "keras.optimizers", "keras.optimizers.schedules", "keras.initializers",
                      "keras.regularizers", "keras.constraints", "keras.activations", "keras.dtype_policies")

_safe = threading.local()
_unsafe_globally = False


class SafeModeScope:
    """Inside the block, nested deserialization uses this ``safe_mode`` (Lambda layers and
    lambdas are refused in safe mode)."""

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self._previous = getattr(_safe, "value", None)
        _safe.value = self.safe_mode
        return self

    def __exit__(self, *exc):
        _safe.value = self._previous
        return False


def in_safe_mode():
    """The ``safe_mode`` of the innermost :class:`SafeModeScope` (False after
    :func:`enable_unsafe_deserialization`), None outside any."""
    if _unsafe_globally:
        return False
    return getattr(_safe, "value", None)


def enable_unsafe_deserialization():
    """Turn safe mode off for the whole process (as ``keras.config.enable_unsafe_deserialization``)."""
    global _unsafe_globally
    _unsafe_globally = True


def accepts_kwarg(fn, name) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


# ------------------------------------------------------------------------------ serialize
def serialize_keras_object(obj):
    """A JSON-ready description of ``obj``: plain values as they are, containers element-wise,
    engine and registered objects as ``{"module", "class_name", "config", "registered_name"}``."""
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {k: serialize_keras_object(getattr(obj, k))
                                                      for k in ("start", "stop", "step")}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return obj.item()
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        raise ValueError("cannot serialize a lambda: configs never carry code; use a named function "
                         "registered with @core.saving.register_keras_serializable()")
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) or inspect.isclass(obj):
        return _serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise TypeError(f"cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config() method")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"{type(obj).__name__}.get_config() must return a dict, returned {type(config).__name__}")
    ref = class_reference(type(obj))
    out = {"module": ref["module"], "class_name": ref["class_name"], "config": serialize_keras_object(config),
           "registered_name": ref["registered_name"]}
    if hasattr(obj, "get_build_config"):
        build = obj.get_build_config()
        if build is not None:
            out["build_config"] = serialize_keras_object(build)
    if hasattr(obj, "get_compile_config"):
        compiled = obj.get_compile_config()
        if compiled is not None:
            out["compile_config"] = serialize_keras_object(compiled)
    return out


def class_reference(cls) -> dict:
    """``{"module", "class_name", "registered_name"}`` naming ``cls`` as Keras would."""
    api_name = registry.get_api_name(cls)
    if api_name is not None:
        module, name = api_name.rsplit(".", 1)
        return {"module": module, "class_name": name, "registered_name": None}
    module = cls.__module__
    return {"module": None if module == "__main__" else module, "class_name": cls.__name__,
            "registered_name": registry.get_registered_name(cls)}


def _serialize_function(fn) -> dict:
    api_name = registry.get_api_name(fn)
    if api_name is not None:
        module, name = api_name.rsplit(".", 1)
        return {"module": module, "class_name": "function", "config": name, "registered_name": name}
    name = registry.get_registered_name(fn)
    module = getattr(fn, "__module__", None)
    return {"module": None if module == "__main__" else module, "class_name": "function", "config": name,
            "registered_name": name}


# ------------------------------------------------------------------------------ resolve
def _custom(custom_objects) -> dict:
    merged = dict(custom_objects or {})
    merged.update(registry.scoped_custom_objects())
    return merged


def resolve_class(class_name, registered_name=None, module=None, custom_objects=None, namespaces=None,
                  obj_type="class"):
    """The class (or function) a config names, or a one-line error saying what to import or register.

    Order: ``custom_objects`` and active scopes, then registered names, then the public name
    ``module.class_name``, then ``class_name`` in ``namespaces`` (default: every engine namespace)."""
    custom = _custom(custom_objects)
    for key in (registered_name, class_name):
        if isinstance(key, str):
            obj = registry.get_registered_object(key, custom_objects=custom)
            if obj is not None:
                return obj
    if isinstance(module, str) and module:
        obj = registry.get_api_symbol(f"{module}.{class_name}")
        if obj is not None:
            return obj
    engine_module = module is None or not isinstance(module, str) or module in ("builtins",) or \
        module.split(".")[0] in ("keras", "core", "tf_keras", "tensorflow")
    # a symbolic op (module "keras.src.ops.numpy") is only what that module names: "Add" there is
    # not the Add layer
    if engine_module and not (isinstance(module, str) and module.startswith("keras.src.ops")):
        for ns in namespaces or _SEARCH_NAMESPACES:
            obj = registry.get_api_symbol(f"{ns}.{class_name}")
            if obj is not None:
                return obj
    # saved before it was registered: a bare name that one registered object of that module answers to
    bare = registered_name if isinstance(registered_name, str) and ">" not in registered_name else class_name
    if isinstance(bare, str) and ">" not in bare:
        matches = [obj for key, obj in registry.GLOBAL_CUSTOM_OBJECTS.items() if key.endswith(">" + bare)
                   and (not module or getattr(obj, "__module__", None) == module)]
        if len(matches) == 1:
            return matches[0]
    # a class of a package that registers itself when imported (e.g. "zoo>ClassifierModel")
    package = None
    if isinstance(registered_name, str) and ">" in registered_name:
        package = registered_name.split(">", 1)[0]
    elif isinstance(module, str) and module and not engine_module:
        package = module.split(".")[0]
    if package is not None and registry.load_lazy_modules(package):
        return resolve_class(class_name, registered_name, module, custom_objects, namespaces, obj_type)
    raise UnknownObjectError(_not_found_message(class_name, registered_name, module, obj_type))


def _not_found_message(class_name, registered_name, module, obj_type):
    what = f"{obj_type} {class_name!r}"
    if isinstance(registered_name, str) and registered_name not in (class_name, None):
        what += f" (registered as {registered_name!r})"
    top = module.split(".")[0] if isinstance(module, str) and module else None
    if top == "keras" and registered_name in (None, class_name, "function"):
        return (f"Keras {obj_type} {module}.{class_name} is not supported by this engine (it has no "
                f"equivalent of it yet); pass your own implementation in custom_objects={{{class_name!r}: ...}}")
    if top and top not in ("keras", "core", "builtins", "tf_keras", "tensorflow"):
        return (f"could not locate {what} from module {module!r}: import the {top!r} package before loading "
                f"(`import {top}`) so that it registers its classes, or pass custom_objects={{{class_name!r}: ...}}")
    return (f"could not locate {what}: decorate it with @core.saving.register_keras_serializable() "
            f"or pass custom_objects={{{class_name!r}: ...}}")


# ------------------------------------------------------------------------------ deserialize
def deserialize_keras_object(config, custom_objects=None, safe_mode=True, module_objects=None, namespaces=None):
    """The object a config describes (the inverse of :func:`serialize_keras_object`).

    ``custom_objects`` maps names to classes/functions; ``module_objects`` (a kind's own names, such
    as ``{"relu": relu}``) resolves plain strings. Lambdas are refused in ``safe_mode``."""
    scoped = in_safe_mode()
    safe_mode = scoped if scoped is not None else safe_mode
    if config is None:
        return None
    if isinstance(config, str):
        custom = _custom(custom_objects)
        obj = registry.get_registered_object(config, custom_objects=custom, module_objects=module_objects)
        return config if obj is None else obj
    if isinstance(config, PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode, module_objects, namespaces) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"cannot deserialize {config!r}: expected a dict, a list or a plain value")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode) for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    special = _deserialize_special(class_name, inner, custom_objects, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    module = config.get("module")
    registered_name = config.get("registered_name", class_name)
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(f"a function config must name the function as a string, got {inner!r}")
        if module_objects and inner in module_objects and not _custom(custom_objects).get(inner):
            return module_objects[inner]
        return resolve_class(inner, registered_name, module, custom_objects, namespaces, obj_type="function")
    if not isinstance(inner, dict):
        raise TypeError(f"the config of {class_name!r} must be a dict, got {type(inner).__name__}")
    if module_objects and class_name in module_objects and class_name not in _custom(custom_objects) \
            and (registered_name in (None, class_name)):
        cls = module_objects[class_name]
    else:
        cls = resolve_class(class_name, registered_name, module, custom_objects, namespaces)
    return instantiate(cls, inner, config, custom_objects, safe_mode)


def instantiate(cls, inner, full_config=None, custom_objects=None, safe_mode=True):
    """``cls.from_config(inner)`` with ``custom_objects`` and ``safe_mode`` in scope for the nested
    lookups it makes (and passed to a ``from_config`` that takes them)."""
    if isinstance(cls, (types.FunctionType, types.BuiltinFunctionType)):
        return cls
    if not hasattr(cls, "from_config"):
        raise TypeError(f"cannot rebuild {getattr(cls, '__name__', cls)!r}: it has no from_config() method")
    kwargs = {}
    if accepts_kwarg(cls.from_config, "custom_objects"):
        kwargs["custom_objects"] = custom_objects
    if accepts_kwarg(cls.from_config, "safe_mode"):
        kwargs["safe_mode"] = safe_mode
    with registry.CustomObjectScope(custom_objects or {}), SafeModeScope(safe_mode):
        obj = cls.from_config(dict(inner), **kwargs)
        build = (full_config or {}).get("build_config")
        if build and hasattr(obj, "build_from_config") and not getattr(obj, "built", True):
            obj.build_from_config(build)
        compiled = (full_config or {}).get("compile_config")
        if compiled and hasattr(obj, "compile_from_config"):
            obj.compile_from_config(compiled)
    return obj


_NOT_SPECIAL = object()


def _deserialize_special(class_name, inner, custom_objects, safe_mode):
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner.get(k), custom_objects, safe_mode)
                       for k in ("start", "stop", "step")))
    if class_name == "__lambda__":
        raise ValueError("refusing to deserialize a Python lambda: configs never carry code here; "
                         "rebuild the object with a named function registered with "
                         "@core.saving.register_keras_serializable()")
    return _NOT_SPECIAL


# ------------------------------------------------------------------------------ kind views
def get_object(identifier, namespace, kind, module_objects=None, base=None, custom_objects=None,
               instantiate_strings=True):
    """The shared body of ``activations.get``, ``initializers.get``, ...: ``identifier`` is None
    (returned), an instance of ``base`` or a callable (returned), a name (looked up in the active
    custom objects, the registered names and ``module_objects``/``namespace``; a class is
    instantiated with its defaults when ``instantiate_strings``) or a config dict (deserialized)."""
    if identifier is None:
        return None
    if base is not None and isinstance(identifier, base):
        return identifier
    names = module_objects if module_objects is not None else registry.objects_in_namespace(namespace)
    if isinstance(identifier, dict):
        obj = deserialize_keras_object(identifier, custom_objects=custom_objects, module_objects=names,
                                       namespaces=(namespace,))
    elif isinstance(identifier, str):
        obj = registry.get_registered_object(identifier, custom_objects=_custom(custom_objects),
                                             module_objects=names)
        if obj is None:
            known = sorted(k for k in names if not k.startswith("_"))
            raise ValueError(f"unknown {kind} {identifier!r}; known: {', '.join(known)} "
                             "(or a name registered with @core.saving.register_keras_serializable())")
        if inspect.isclass(obj) and instantiate_strings:
            obj = obj()
    elif inspect.isclass(identifier) and base is not None and issubclass(identifier, base):
        obj = identifier() if instantiate_strings else identifier
    else:
        obj = identifier
    if isinstance(obj, str) or not callable(obj):
        raise ValueError(f"cannot interpret {identifier!r} as a {kind}")
    return obj
