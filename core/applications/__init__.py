"""``keras.applications``: pretrained architectures (``ResNet50``, ``VGG16``, ...) and their
``preprocess_input``/``decode_predictions``, served by a package that provides them.

The engine defines no architectures; a provider module (the ``zoo`` package's
``zoo.applications``) is found on first use through

* the ``core.applications`` entry point group (declared by an installed package), or
* the object registry, where a package registers it when imported
  (``object_registration.register_lazy_module("applications", "<module>")``).

The provider's names are this module's names, and its Keras submodules (``resnet50``, ``vgg16``,
``imagenet_utils``...) import as ``core.applications.<name>``.
"""
from __future__ import annotations

import importlib
import sys
from importlib import metadata

from .. import object_registration

ENTRY_POINT_GROUP = "core.applications"
_provider = None


def _entry_point_modules() -> list:
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python < 3.10 API
        eps = metadata.entry_points().get(ENTRY_POINT_GROUP, [])
    return [ep.value.split(":", 1)[0] for ep in sorted(eps, key=lambda ep: ep.name)]


def _find_provider():
    """The provider module (imported once), or None when no package provides one."""
    global _provider
    if _provider is None:
        names = object_registration.lazy_module_for("applications") + _entry_point_modules()
        if names:
            _provider = importlib.import_module(names[0])
            for sub in getattr(_provider, "SUBMODULES", ()):
                sys.modules.setdefault(f"{__name__}.{sub}", getattr(_provider, sub))
    return _provider


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    provider = _find_provider()
    if provider is None:
        raise ImportError(f"keras.applications needs the zoo package (core.applications.{name}): install it "
                          "(`pip install zoo`, which declares the 'core.applications' entry point) or `import zoo`")
    try:
        return getattr(provider, name)
    except AttributeError:
        raise AttributeError(f"core.applications has no {name!r}; available: {', '.join(provider.__all__)}") from None


def __dir__():
    provider = _find_provider()
    return sorted(set(globals()) | set(getattr(provider, "__all__", ())))


_find_provider()  # so that `from core.applications.resnet50 import ResNet50` finds the submodule
