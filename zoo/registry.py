"""The model registry: ``@register_model``, ``list_models``, ``create_model``.

A registered builder takes ``num_classes``, ``input_shape`` and its own keyword arguments and
returns a model. Pretrained weights are manifest entries keyed ``<name>.<tag>``
(``resnet20.cifar10``); each builder names a loader per file ``format`` that copies the file's
weights into a model it built.
"""
from __future__ import annotations

import difflib
import fnmatch
import logging
import os
from dataclasses import dataclass, field
from typing import Callable

from .preprocessing import family_spec

log = logging.getLogger("zoo")


@dataclass
class ModelEntry:
    name: str
    builder: Callable
    loaders: dict = field(default_factory=dict)  # manifest format -> fn(model, path, entry)
    default_num_classes: int | None = None
    description: str = ""
    # fn(weights entry) -> extra builder kwargs for those weights (EfficientNet's ImageNet rescaling)
    weights_kwargs: Callable | None = None


_MODELS: dict[str, ModelEntry] = {}


def register_model(name=None, *, loaders=None, default_num_classes=None, description="", weights_kwargs=None):
    """Register a model builder: ``@register_model("resnet20", loaders={"torch_legacy": fn})``.
    ``weights_kwargs(entry)`` gives extra builder arguments for the weights ``entry`` being loaded
    (a manifest entry, or ``{"format", "key", "input"}`` for a file), where those weights need a
    slightly different graph (Keras's EfficientNet adds a layer for its ImageNet weights only)."""

    def deco(fn):
        key = name or fn.__name__
        _MODELS[key] = ModelEntry(key, fn, dict(loaders or {}), default_num_classes,
                                  description or (fn.__doc__ or "").strip().split("\n")[0], weights_kwargs)
        return fn

    if callable(name):  # bare @register_model
        fn, name = name, None
        return deco(fn)
    return deco


def _ensure_registered():
    import importlib

    importlib.import_module("zoo.models")  # importing the architectures registers them


def _manifest_keys():
    from .weights import keys

    return keys()


def list_models(pattern=None, pretrained=False):
    """Registered model names (sorted), filtered by an fnmatch ``pattern``; with ``pretrained``,
    only those with weights in the manifest."""
    _ensure_registered()
    names = sorted(_MODELS)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    if pretrained:
        tagged = {k.split(".", 1)[0] for k in _manifest_keys()}
        names = [n for n in names if n in tagged]
    return names


def pretrained_tags(name):
    return sorted(k.split(".", 1)[1] for k in _manifest_keys() if k.split(".", 1)[0] == name)


def get_entry(name) -> ModelEntry:
    _ensure_registered()
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}{hint} (zoo.list_models() lists them)")
    return _MODELS[name]


def _looks_like_path(weights):
    return os.path.sep in weights or os.path.exists(weights) or weights.endswith(
        (".h5", ".hdf5", ".pt", ".pth", ".th", ".safetensors", ".bin"))


def create_model(name, weights=None, num_classes=None, input_shape=None, **kwargs):
    """Build a registered model; ``weights`` is None (random), a manifest tag (``"imagenet"``) or a
    file path. When ``num_classes`` differs from the pretrained head, the head is re-initialised."""
    entry = get_entry(name)
    build_kwargs = dict(kwargs)
    if input_shape is not None:
        build_kwargs["input_shape"] = tuple(input_shape)
    if weights is None:
        if num_classes is not None:
            build_kwargs["num_classes"] = num_classes
        return entry.builder(**build_kwargs)
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be None, a tag or a path, got {type(weights).__name__}")
    weights = os.fspath(weights)
    from . import weights as wreg

    load_entry = None
    if _looks_like_path(weights):
        if not os.path.exists(weights):
            raise FileNotFoundError(f"weights file not found: {weights}")
        from core.saving.keras_h5 import detect_format

        fmt = detect_format(weights)
        wentry = {"format": fmt, "key": weights, "input": family_input_spec(name, fmt)}
        path = weights
    else:
        key = f"{name}.{weights}"
        try:
            wentry = wreg.get_entry(key)
        except Exception:
            tags = pretrained_tags(name)
            raise ValueError(f"no weights {weights!r} for model {name!r}; available tags: {tags or 'none'}") from None
        wentry = dict(wentry, key=key)
        if wreg.is_builtin(key):  # shipped inside the package: no cache, no network
            path, load_entry = str(wreg.builtin_file(key)), "builtin"
        else:
            path = str(wreg.fetch(key))
    load_entry = wentry if load_entry is None else load_entry
    pretrained_classes = wentry.get("num_classes")
    if pretrained_classes is not None:
        build_kwargs["num_classes"] = pretrained_classes
    elif num_classes is not None:
        build_kwargs["num_classes"] = num_classes
    if entry.weights_kwargs is not None:
        build_kwargs = {**entry.weights_kwargs(wentry), **build_kwargs}
    model = entry.builder(**build_kwargs)
    if load_entry == "builtin":  # zoo's weights file, matched by layer path (a headless model takes a subset)
        model.load_weights(path, by_name=True)
    else:
        load_pretrained(model, path, load_entry, entry)
    if hasattr(model, "pretrained_cfg"):
        model.pretrained_cfg = dict(wentry)
        spec = model.pretrained_cfg.get("input")
        if isinstance(spec, dict) and spec.get("type") == "image":
            # the manifest records the source framework's layout; a zoo model takes channels-last images
            model.pretrained_cfg["input"] = dict(spec, layout="NHWC")
    if num_classes is not None and pretrained_classes is not None and num_classes != pretrained_classes:
        log.warning("%s: pretrained head has %d classes, %d requested: the head is re-initialised", name,
                    pretrained_classes, num_classes)
        model.reset_classifier(num_classes)
    return model


_KERAS_FORMATS = ("keras_h5", "keras_legacy_h5", "keras_full_h5", "keras3_weights_h5")
_TORCH_FORMATS = ("torch_zip", "torch_legacy")


def family_input_spec(name, file_format):
    """The preprocessing of weights in ``file_format`` for architecture ``name``: that of the
    manifest's weights of the same architecture and format family (Keras files: Keras's modes, e.g.
    "caffe" for ResNet50/VGG16; PyTorch files: torch mean/std), else torch's ImageNet mean/std for a
    PyTorch file; None where nothing says (zoo's own files, safetensors): ``preprocess`` then raises."""
    from . import weights as wreg

    family = _KERAS_FORMATS if file_format in _KERAS_FORMATS else _TORCH_FORMATS if file_format in _TORCH_FORMATS \
        else None
    if family is None:
        return None
    for key in wreg.keys():
        e = wreg.get_entry(key)
        if e.get("architecture") == name and e.get("kind") == "weights" and e.get("format") in family \
                and (e.get("input") or {}).get("type") == "image":
            return dict(e["input"])
    if family is _TORCH_FORMATS:
        return family_spec("torch")
    return None


def load_pretrained(model, path, wentry, entry=None):
    fmt = wentry.get("format")
    entry = entry or get_entry(getattr(model, "registry_name", model.name))
    loader = entry.loaders.get(fmt)
    if loader is None:
        if fmt in ("keras_h5", "keras_legacy_h5", "keras_full_h5", "keras3_weights_h5", "zoo_h5"):
            model.load_weights(path, by_name=fmt in ("keras_h5", "keras_legacy_h5"))
            return
        raise ValueError(f"model {entry.name!r} cannot load weights in format {fmt!r} "
                         f"(it reads: {sorted(entry.loaders) or ['keras h5']})")
    loader(model, path, wentry)
