"""The ``zoo`` command-line apps."""
import sys as _sys

if "numpy" not in _sys.modules:  # before any app imports NumPy: see core/host_memory.py (BLAS threads)
    from core.host_memory import configure_process as _configure

    _configure()

from core.object_registration import register_lazy_module as _register_lazy_module

# the apps' serializable classes and ONNX converters register themselves when these modules load
_register_lazy_module("zoo_apps", "apps.text_models")
_register_lazy_module("zoo_forecast", "apps.forecasting.models")
_register_lazy_module("onnx_converters", "apps.onnx_converters")
