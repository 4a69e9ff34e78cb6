"""Which handler serves a model spec: a model file from the apps (or its run folder), another saved
single-input model, or a registry classifier whose weights are cached (the server never downloads)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ServeError
from .handlers import ArrayHandler, ImageHandler, ModelHandler, SeriesHandler, TextHandler


def _asset_names(path):
    try:
        import h5py

        from core.saving.hdf5_guard import check_hdf5_file

        with h5py.File(path, "r") as f:
            check_hdf5_file(f, path)   # a file that points outside itself is refused by load_model
            return set(f["assets"]) if "assets" in f else set()
    except Exception:  # not HDF5: load_model reports it
        return set()


def _message(e):
    return e.format_message() if hasattr(e, "format_message") else str(e)


def load_handler(model_spec, weights=None) -> ModelHandler:
    """The handler for a model file from ``zoo image|text|forecast train`` (or its run folder), any
    other saved single-input model, or a registry classifier ``name[.tag]`` whose weights are cached."""
    p = Path(model_spec)
    if p.is_dir():
        p = p / "model.h5"
    try:
        if p.exists():
            assets = _asset_names(p)
            if "forecast" in assets:
                from apps.forecasting.pipeline import load_forecaster

                model, a = load_forecaster(p)
                return SeriesHandler(model, p, a)
            if "vocab" in assets:
                from apps.text_cmd import _load

                model, labels, tok, max_length = _load(p)
                return TextHandler(model, p, labels, tok, max_length)
            if "input_spec" in assets:
                from apps.classify_cmd import _load_classifier

                model, preprocess, labels = _load_classifier(str(p), None)
                return ImageHandler(model, p, preprocess, labels, model.assets.get("input_spec"))
            import apps.forecasting.models  # noqa: F401  (registers the custom layers of the apps' models)
            import apps.text_models  # noqa: F401
            from core.models import load_model

            model = load_model(p, compile=False)
            labels = (getattr(model, "assets", None) or {}).get("labels")
            return ArrayHandler(model, p, labels)
        if os.sep in str(model_spec) or str(model_spec).endswith((".h5", ".hdf5")):
            raise ServeError(f"model file not found: {model_spec}")
        return _registry_handler(str(model_spec), weights)
    except ServeError:
        raise
    except Exception as e:  # the apps' loaders raise click/data errors with their own message
        raise ServeError(f"cannot serve {model_spec}: {_message(e)}") from None


def _registry_handler(spec, weights):
    import zoo
    from zoo import weights as wreg
    from zoo.registry import pretrained_tags

    name, _, tag = spec.partition(".")
    tag = tag or weights
    if name not in zoo.list_models():
        raise ServeError(f"{spec!r} is neither a model file nor a registry model; registry models with weights: "
                         f"{', '.join(zoo.list_models(pretrained=True))}")
    from zoo.weights.builtin import is_builtin

    cached = {e["key"] for e in wreg.list() if e.get("cached") or is_builtin(e["key"])}  # built-in: no download
    tags = pretrained_tags(name)
    if tag is None:
        have = [t for t in tags if f"{name}.{t}" in cached]
        if not have:
            raise ServeError(f"no weights of {name!r} are in the cache (tags: {tags or 'none'}); run "
                             f"`zoo weights download {name}.<tag>` first")
        tag = "imagenet" if "imagenet" in have else have[0]
    if tag not in tags:
        raise ServeError(f"no weights {tag!r} for model {name!r}; tags: {tags or 'none'}")
    if f"{name}.{tag}" not in cached:
        raise ServeError(f"the weights {name}.{tag} are not in the cache; run `zoo weights download {name}.{tag}` "
                         "first (the server never downloads)")
    from apps.classify_cmd import _load_classifier

    model, preprocess, labels = _load_classifier(name, tag)
    spec_in = (getattr(model, "pretrained_cfg", None) or {}).get("input") or {}
    return ImageHandler(model, f"{name}.{tag}", preprocess, labels, spec_in)
