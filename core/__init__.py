"""zoo's engine: tensors with automatic differentiation on NumPy (CuPy on a GPU), and the Keras 3
API on top of them: ``import core as keras`` gives ``keras.layers``, ``keras.Model``, ``keras.ops``...

Submodules and names load on first use (``import core`` itself imports nothing heavy), and importing
``core`` leaves the host process as it is: the allocator and BLAS-thread settings of
``core/host_memory.py`` apply when the engine first runs work.
"""
import importlib as _importlib

from . import object_registration as _registration

__version__ = "0.1.0"
version = __version__

# submodules reachable as attributes (``core.layers``), Keras's namespaces first
_SUBMODULES = frozenset({
    "layers", "models", "ops", "losses", "metrics", "optimizers", "callbacks", "utils", "saving", "random",
    "activations", "initializers", "regularizers", "constraints", "preprocessing", "applications",
    "export", "dtype_policies", "schedules", "backend", "autodiff", "data", "parallel", "host_memory",
    "gradient_check", "gradient_tape", "object_registration", "serialization_lib", "tree",
})

# top-level names -> (module, attribute)
_NAMES = {
    "Tensor": ("core.autodiff", "Tensor"), "Parameter": ("core.autodiff", "Parameter"),
    "Variable": ("core.autodiff", "Parameter"), "Function": ("core.autodiff", "Function"),
    "no_grad": ("core.autodiff", "no_grad"), "enable_grad": ("core.autodiff", "enable_grad"),
    "GradientTape": ("core.gradient_tape", "GradientTape"),
    "is_grad_enabled": ("core.autodiff", "is_grad_enabled"),
    "config": ("core.backend", "config"), "get_xp": ("core.backend", "get_xp"),
    "device": ("core.backend", "device"),
    "Input": ("core.layers.core_layers", "Input"), "Layer": ("core.layers.base", "Layer"),
    "KerasTensor": ("core.layers.base", "KerasTensor"), "InputSpec": ("core.layers.input_spec", "InputSpec"), "name_scope": ("core.layers.base", "name_scope"),
    "Model": ("core.models", "Model"), "Sequential": ("core.models", "Sequential"),
    "Operation": ("core.ops.operation", "Operation"),
    "Loss": ("core.losses", "Loss"), "Metric": ("core.metrics", "Metric"),
    "Optimizer": ("core.optimizers", "Optimizer"), "Initializer": ("core.initializers", "Initializer"),
    "Regularizer": ("core.regularizers", "Regularizer"), "Constraint": ("core.constraints", "Constraint"),
    "DTypePolicy": ("core.dtype_policies", "DTypePolicy"), "FloatDTypePolicy": ("core.dtype_policies", "DTypePolicy"),
}

__all__ = sorted(set(_NAMES) | {"version", "__version__"} | _SUBMODULES)

# where the engine's own serializable objects are defined, for configs read before those modules
# are imported (object_registration imports a module only when a lookup misses)
for _namespace, _module in (("keras.layers", "core.layers"), ("keras.models", "core.models"),
                            ("keras", "core.models"), ("keras", "core.dtype_policies"),
                            ("keras.src.models.functional", "core.models"),
                            ("keras.losses", "core.losses"), ("keras.metrics", "core.metrics"),
                            ("keras.optimizers", "core.optimizers"),
                            ("keras.optimizers.schedules", "core.schedules"),
                            ("keras.activations", "core.activations"), ("keras.initializers", "core.initializers"),
                            ("keras.regularizers", "core.regularizers"), ("keras.constraints", "core.constraints"),
                            ("keras.dtype_policies", "core.dtype_policies"),
                            # symbolic ops in Functional configs (Keras writes "keras.src.ops.numpy")
                            ("keras.src.ops.numpy", "core.ops"), ("keras.src.ops.nn", "core.ops"),
                            ("keras.src.ops.core", "core.ops"), ("keras.src.ops.math", "core.ops"),
                            ("keras.src.ops.image", "core.ops"), ("keras.src.ops.linalg", "core.ops")):
    _registration.register_lazy_module(_namespace, _module)


def __getattr__(name):
    if name in _SUBMODULES:
        try:
            return _importlib.import_module(f"core.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"core.{name}":
                raise
            raise AttributeError(f"core.{name} is not available in this version of the engine") from None
    target = _NAMES.get(name)
    if target is not None:
        value = getattr(_importlib.import_module(target[0]), target[1])
        globals()[name] = value
        return value
    raise AttributeError(f"module 'core' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
