"""The one object registry: every class and function a saved config can name.

Two tables, as Keras 3 has them:

* **public names** (``"keras.layers.Dense"``, ``"keras.activations.relu"``): the engine's own
  objects, entered by the module that defines them with :func:`export_api`. Configs of these
  objects are written with ``"module": "keras.layers", "registered_name": None`` exactly as Keras
  writes them, so files travel both ways.
* **registered names** (``"MyPackage>MyLayer"``): user and package objects, entered with
  :func:`register_keras_serializable`.

A lookup also sees the objects given in ``custom_objects`` arguments and
:class:`CustomObjectScope` blocks (innermost scope first).

Symbolic ops of a Functional graph are written by Keras as ``{"module": "keras.src.ops.numpy",
"class_name": "Add", "registered_name": "Add", ...}``: an engine's Operation classes are exported
under those namespaces (``export_api("keras.src.ops.numpy", [Add, ...])``) and rebuilt like layers.

Nothing here imports the rest of ``core``: a namespace whose objects are not defined yet
(``keras.layers`` before ``core.layers`` is imported; ``zoo>...`` before ``zoo.models`` is)
names the module that defines them with :func:`register_lazy_module`, imported on the first
lookup that misses. The module is named by the package that owns it, never by a saved file.
"""
from __future__ import annotations

import importlib
import threading

__all__ = [
    "register_keras_serializable", "get_custom_objects", "CustomObjectScope", "custom_object_scope",
    "get_registered_name", "get_registered_object", "export_api", "get_api_symbol", "get_api_name",
    "register_lazy_module", "lazy_module_for", "load_lazy_modules", "objects_in_namespace",
]

# "Package>Name" -> object and back (Keras's GLOBAL_CUSTOM_OBJECTS / GLOBAL_CUSTOM_NAMES)
GLOBAL_CUSTOM_OBJECTS: dict = {}
GLOBAL_CUSTOM_NAMES: dict = {}

# "keras.layers.Dense" -> object; id(object) -> its canonical public name (the first exported)
_API_SYMBOLS: dict = {}
_API_NAMES: dict = {}
_NAMESPACES: dict = {}  # "keras.layers" -> {"Dense": object}: _API_SYMBOLS by namespace

# namespace or package prefix -> modules that define its objects (imported on a lookup miss)
_LAZY_MODULES: dict = {}
_lazy_lock = threading.RLock()

_scopes = threading.local()


# ------------------------------------------------------------------------------ custom objects
def _scope_stack() -> list:
    if not hasattr(_scopes, "stack"):
        _scopes.stack = []
    return _scopes.stack


class CustomObjectScope:
    """``with CustomObjectScope({"MyLayer": MyLayer}):`` makes these names resolvable by every
    deserialization inside the block (this thread only); scopes nest, the innermost wins."""

    def __init__(self, custom_objects=None, *more):
        objects = dict(custom_objects or {})
        for extra in more:  # Keras 2 accepted several dicts
            objects.update(extra or {})
        self.custom_objects = objects

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope_stack().pop()
        return False


custom_object_scope = CustomObjectScope


def scoped_custom_objects() -> dict:
    """The objects of the active :class:`CustomObjectScope` blocks merged, innermost last."""
    merged = {}
    for objects in _scope_stack():
        merged.update(objects)
    return merged


def get_custom_objects() -> dict:
    """The live global dict of registered objects (``"Package>Name" -> object``); adding to it
    registers (Keras allows that, prefer :func:`register_keras_serializable`)."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class or function under ``"package>name"`` (``name`` defaults to its
    ``__name__``) so that configs naming it load without ``custom_objects``."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>', got {package!r}")

    def decorator(obj):
        key = name if name is not None else getattr(obj, "__name__", None)
        if not key:
            raise ValueError(f"cannot register {obj!r}: it has no __name__; pass name=")
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"cannot register class {obj.__name__}: it has no get_config() method")
        registered_name = f"{package}>{key}"
        GLOBAL_CUSTOM_OBJECTS[registered_name] = obj
        GLOBAL_CUSTOM_NAMES[obj] = registered_name
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """``"Package>Name"`` for a registered object, else its ``__name__`` (as Keras)."""
    try:
        return GLOBAL_CUSTOM_NAMES[obj]
    except (KeyError, TypeError):
        return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object for ``name``: active scopes first, then the registered objects, then
    ``custom_objects``, then ``module_objects``; None when nowhere (Keras's order)."""
    if not isinstance(name, str):
        return None
    scoped = scoped_custom_objects()
    if name in scoped:
        return scoped[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    package = name.split(">", 1)[0] if ">" in name else None
    if package is not None and load_lazy_modules(package):
        return GLOBAL_CUSTOM_OBJECTS.get(name)
    return None


# ------------------------------------------------------------------------------ public names
def export_api(namespace: str, objects, aliases: dict | None = None) -> None:
    """Enter the engine's own objects under ``namespace`` (``"keras.layers"``): ``objects`` is an
    iterable of classes/functions (entered by ``__name__``) or a ``{name: object}`` dict;
    ``aliases`` adds more names for them (``{"mse": mean_squared_error}``). The first public name
    an object gets is the one its configs are written with."""
    items = objects.items() if isinstance(objects, dict) else ((o.__name__, o) for o in objects)
    for key, obj in list(items) + list((aliases or {}).items()):
        api_name = f"{namespace}.{key}"
        _API_SYMBOLS[api_name] = obj
        prefix, name = api_name.rsplit(".", 1)
        _NAMESPACES.setdefault(prefix, {})[name] = obj
        current = _API_NAMES.get(id(obj))
        # canonical: the first name, unless a later one is the object's own name and the first is not
        if current is None or current[1] is not obj or \
                (key == getattr(obj, "__name__", None) and not current[0].endswith("." + key)
                 and current[0].rsplit(".", 1)[0] == namespace):
            _API_NAMES[id(obj)] = (api_name, obj)


def get_api_name(obj) -> str | None:
    """The public name (``"keras.layers.Dense"``) an engine object was exported under, else None."""
    entry = _API_NAMES.get(id(obj))
    return entry[0] if entry is not None and entry[1] is obj else None


def get_api_symbol(api_name: str):
    """The object exported as ``api_name`` (``"keras.layers.Dense"``), importing the module that
    defines its namespace if needed; None when there is none."""
    obj = _API_SYMBOLS.get(api_name)
    if obj is None and "." in api_name:
        namespace = api_name.rsplit(".", 1)[0]
        if load_lazy_modules(namespace):
            obj = _API_SYMBOLS.get(api_name)
    return obj


def objects_in_namespace(namespace: str) -> dict:
    """``{name: object}`` of everything exported directly under ``namespace``."""
    load_lazy_modules(namespace)
    return dict(_NAMESPACES.get(namespace, {}))


# ------------------------------------------------------------------------------ lazy modules
def register_lazy_module(prefix: str, module: str) -> None:
    """Objects of ``prefix`` (a namespace such as ``"keras.layers"`` or a package of registered
    names such as ``"zoo"``) are defined by ``module``, to be imported on the first lookup that
    misses. Packages call this for themselves when imported."""
    with _lazy_lock:
        mods = _LAZY_MODULES.setdefault(prefix, [])
        if module not in mods:
            mods.append(module)


def lazy_module_for(prefix: str) -> list:
    """The modules registered for ``prefix`` (empty when none)."""
    return list(_LAZY_MODULES.get(prefix, ()))


def load_lazy_modules(prefix: str) -> bool:
    """Import the modules registered for ``prefix`` (once); True if any was newly imported."""
    with _lazy_lock:
        pending = [m for m in _LAZY_MODULES.get(prefix, ()) if m not in _loaded]
        for module in pending:
            _loaded.add(module)
            try:
                importlib.import_module(module)
            except BaseException:
                _loaded.discard(module)
                raise
    return bool(pending)


_loaded: set = set()
