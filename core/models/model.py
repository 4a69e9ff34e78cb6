"""``Model``: a Layer that can be trained. ``Model(inputs, outputs)`` builds a Functional
model; subclass it (layers in ``__init__``, computation in ``call``) for custom models."""
from __future__ import annotations

import numpy as np

from ..layers.base import Layer
from .serialization import functional_from_config
from .training import TrainingMixin


def _functional_arguments(args, kwargs) -> bool:
    """Keras's test for ``Model(inputs, outputs)`` (positionally or by keyword)."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or ("inputs" in kwargs and "outputs" in kwargs)


def _is_functional(cls) -> bool:
    return any(c.__name__ == "Functional" and c.__module__.endswith("models.functional") for c in cls.__mro__)


def _inject_functional(cls, functional):
    """Put Functional between a Model subclass and Model, as Keras does for a subclass built from
    (inputs, outputs)."""
    if cls is Model or _is_functional(cls):
        return
    bases = tuple(functional if b is Model else b for b in cls.__bases__)
    if bases != cls.__bases__:
        cls.__bases__ = bases
        return
    for b in cls.__bases__:
        if issubclass(b, Model):
            _inject_functional(b, functional)


class Model(TrainingMixin, Layer):
    """Train with ``compile``/``fit``; customise training by overriding ``train_step(data)``,
    ``test_step``, ``predict_step``, ``compute_loss`` or ``compute_metrics`` (Keras 3)."""

    _pushes_scope = False
    _accepts_strings = True  # a subclassed model's call decides; its layers refuse strings they cannot take

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            from .functional import Functional

            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if _functional_arguments(args, kwargs) and not _is_functional(type(self)):
            # a subclass constructed as MyModel(inputs, outputs): it becomes a Functional subclass (Keras)
            from .functional import Functional

            _inject_functional(type(self), Functional)
            Functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(f"{type(self).__name__}: Model() takes keyword arguments (name=..., trainable=...) or "
                            f"(inputs, outputs); got {len(args)} positional argument(s)")
        trainable = kwargs.pop("trainable", True)
        name = kwargs.pop("name", None)
        unknown = sorted(set(kwargs) - {"dtype", "input_shape"})
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {unknown} for Model()")
        Layer.__init__(self, trainable=trainable, name=name, **kwargs)
        TrainingMixin.__init__(self)

    @property
    def layers(self):
        return list(self._layers)

    def zero_grad(self):
        """Clear the gradients of every weight (``backward`` adds to them, as in PyTorch): call it
        before ``loss.backward()`` in a custom ``train_step``."""
        for w in self.weights:
            w.grad = None

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in ``layers``."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in model '{self.name}'; layers: {[l.name for l in self.layers]}")

    def freeze(self, until=None):
        """Freeze layers for fine-tuning. ``freeze()`` freezes every layer, the classifier head
        included, so ``fit`` then trains nothing (it warns, as Keras does); to train a new head on
        a frozen backbone use ``freeze(until=head_layer_name)``: the layers before that layer are
        frozen, it and the ones after it stay trainable. Takes effect at the next step; batch
        normalization in a frozen layer runs in inference mode, as in Keras."""
        layers = self.layers
        if until is None:
            for layer in layers:
                layer.trainable = False
            return
        names = [l.name for l in layers]
        if until not in names:
            raise ValueError(f"freeze(until={until!r}): no such layer; layers: {names}")
        for layer in layers[:names.index(until)]:
            layer.trainable = False

    def unfreeze(self):
        self.trainable = True
        for layer in self.layers:
            layer.trainable = True

    # ------------------------------------------------------------------ saving
    def to(self, device):
        """Move the weights and, once built, the optimizer's state to ``device``; returns the
        model. Batches given to fit/evaluate/predict move to the weights' device step by step,
        and predict returns NumPy arrays."""
        super().to(device)
        opt = getattr(self, "optimizer", None)
        if opt is not None and getattr(opt, "built", False):
            opt.to(device)
        return self

    def export(self, filepath, format="onnx", **kwargs):
        """Export for deployment. ``format="onnx"`` writes an ONNX file with a dynamic batch
        dimension (options of ``core.export.export_onnx``: ``opset``, ``fold_batchnorm``,
        ``optimize``, ``check``, ``metadata``); needs the ``onnx`` package."""
        if format != "onnx":
            raise ValueError(f"export format must be 'onnx', got {format!r}")
        from ..export import export_onnx

        return export_onnx(self, filepath, **kwargs)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save the model to one file, written atomically; the extension picks the format:

        * ``.keras``: Keras 3's zip format (config, weights, optimizer state), which Keras 3 loads;
        * ``.zoo.h5`` (or ``.h5``/``.hdf5``): this project's HDF5 format, which also holds ``assets``
          and models Keras cannot rebuild (subclassed models)."""
        from ..saving.api import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def to_json(self, **kwargs):
        """The model's architecture as JSON in Keras 3's form (``keras.models.model_from_json`` reads
        it; so does ``core.models.model_from_json``). ``kwargs`` go to ``json.dumps``."""
        import json

        from ..saving.keras_archive import keras_config
        from ..saving.zoo_format import _json_default

        return json.dumps(keras_config(self, include_compile=False), default=_json_default, **kwargs)

    def get_build_config(self):
        """The input shape(s) a subclassed model was built with (``{"input_shape": ...}``, as Keras
        writes it), so that a loaded copy creates the same weights; None before it is built."""
        if not self.built or self._build_shapes is None:
            return None
        return {"input_shape": _listify(self._build_shapes)}

    def build_from_config(self, config):
        """Create the weights by running the model once on zeros of the recorded input shape(s)
        (unknown dimensions as 1)."""
        shapes = (config or {}).get("input_shape")
        if shapes is None:
            return
        self(_zeros_like_shapes(shapes, self.dtype), training=False)

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        """``Model.from_config(model.get_config())``: a Functional model's config (layers, inputs,
        outputs) rebuilds that graph, as Keras does; a subclass gets ``cls(**config)``."""
        if isinstance(config, dict) and {"layers", "input_layers", "output_layers"} <= set(config):
            return functional_from_config(cls, config, custom_objects, safe_mode)  # Model(...) is a Functional
        return cls(**config)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights, written atomically: ``.weights.h5`` in Keras 3's layout (with the
        optimizer's state, as Keras), any other ``.h5`` in this project's format (by layer path)."""
        from ..saving.api import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, by_name=False, skip_mismatch=False):
        """Load weights saved here, or from Keras files (legacy HDF5 as published for keras.applications,
        Keras 3 ``.weights.h5``, the weights of a Keras 2 full-model file)."""
        from ..saving.zoo_format import load_weights_file

        load_weights_file(self, filepath, by_name=by_name, skip_mismatch=skip_mismatch)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False):
        from .summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable)


def _is_shape(value):
    return isinstance(value, (list, tuple)) and all(d is None or isinstance(d, int) for d in value)


def _listify(shapes):
    if _is_shape(shapes):
        return list(shapes)
    if isinstance(shapes, dict):
        return {k: _listify(v) for k, v in shapes.items()}
    return [_listify(s) for s in shapes]


def _zeros_like_shapes(shapes, dtype):
    if _is_shape(shapes):
        return np.zeros(tuple(1 if d is None else d for d in shapes), dtype)
    if isinstance(shapes, dict):
        return {k: _zeros_like_shapes(v, dtype) for k, v in shapes.items()}
    return [_zeros_like_shapes(s, dtype) for s in shapes]
