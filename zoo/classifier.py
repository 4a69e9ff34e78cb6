"""``ClassifierModel``: a Functional model with a backbone (``features``) and a classifier ``head``
that can be replaced (``reset_classifier``), carrying its pretrained config (input spec, labels)
so that ``preprocess`` and ``decode_predictions`` need no hand-picked mode."""
from __future__ import annotations

import logging

import numpy as np

from core import layers as L
from core.layers.base import register_serializable
from core.models.functional import Functional

log = logging.getLogger("zoo")


@register_serializable(package="zoo")
class ClassifierModel(Functional):
    """Functional classifier: ``inputs -> features (pooled) -> head``.

    ``features_tensor`` is the symbolic pooled feature tensor the head is applied to;
    ``head_name`` the name of the classifier layer: a ``Dense`` on (batch, features), or, when
    the features keep a 1x1 spatial map (batch, 1, 1, features) as keras.applications' MobileNets
    do, a 1x1 ``Conv2D`` followed by ``Flatten`` and an ``Activation`` named ``predictions``.
    """

    def __init__(self, inputs, outputs, features_tensor=None, head_name=None, name=None,
                 classifier_activation=None, pretrained_cfg=None, **kwargs):
        super().__init__(inputs, outputs, name=name, **kwargs)
        self._features_tensor = features_tensor
        self.head_name = head_name
        self.classifier_activation = classifier_activation
        self.pretrained_cfg = dict(pretrained_cfg or {})
        self._features_model = None

    # ------------------------------------------------------------------ config
    def get_config(self):
        from core.models.serialization import history_ref

        config = super().get_config()
        config["head_name"] = self.head_name
        config["classifier_activation"] = self.classifier_activation
        config["features_ref"] = (history_ref(self, self._features_tensor) if self._features_tensor is not None
                                  else None)
        config["pretrained_cfg"] = self.pretrained_cfg
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        from core.models.serialization import functional_from_config

        extra = {k: config.get(k) for k in ("head_name", "classifier_activation", "features_ref", "pretrained_cfg")}
        model = functional_from_config(Functional, config, custom_objects, safe_mode)
        features = None
        ref = extra["features_ref"]
        if ref is not None:
            layer = model.get_layer(ref[0])
            node = layer._inbound_nodes[ref[1]] if layer._inbound_nodes else None
            features = node.output_tensors[ref[2]] if node is not None else layer.output_tensor
        return cls(model._inputs_struct, model._outputs_struct, features_tensor=features, head_name=extra["head_name"],
                   name=model.name, classifier_activation=extra["classifier_activation"],
                   pretrained_cfg=extra["pretrained_cfg"])

    # ------------------------------------------------------------------ parts
    @property
    def head(self):
        """The classifier layer (None for a headless model)."""
        return self.get_layer(self.head_name) if self.head_name else None

    @property
    def num_classes(self):
        head = self.head
        if head is None:
            return 0
        return int(head.units) if hasattr(head, "units") else int(head.filters)

    @property
    def num_features(self):
        return int(self._features_tensor.shape[-1]) if self._features_tensor is not None else None

    def features(self, x, training=False):
        """Pooled backbone features of ``x`` (a Tensor); differentiable."""
        if self._features_tensor is None:
            raise ValueError(f"model '{self.name}' has no recorded feature tensor")
        if self._features_model is None:
            self._features_model = Functional(self._inputs_struct, self._features_tensor, name=f"{self.name}_features")
        return self._features_model(x, training=training)

    def reset_classifier(self, num_classes, classifier_activation="keep"):
        """Replace the head by a freshly initialised one with ``num_classes`` outputs (0: no head,
        the model then outputs the pooled features). The backbone keeps its weights."""
        if self._features_tensor is None:
            raise ValueError(f"model '{self.name}' has no recorded feature tensor to put a new head on")
        if classifier_activation == "keep":
            classifier_activation = self.classifier_activation
        old = self.head
        name = self.head_name or "predictions"
        if num_classes and len(self._features_tensor.shape) == 4:  # 1x1 map: Keras MobileNet's conv head
            outputs = L.Conv2D(int(num_classes), 1, padding="same", name=name)(self._features_tensor)
            outputs = L.Flatten()(outputs)
            outputs = L.Activation(classifier_activation, name="predictions")(outputs)
        elif num_classes:
            head = L.Dense(int(num_classes), activation=classifier_activation, name=name)
            outputs = head(self._features_tensor)
        else:
            outputs = self._features_tensor
        features_tensor, cfg = self._features_tensor, self.pretrained_cfg
        model_name, trainable, assets = self.name, self.trainable, self.assets
        # rebuild this object's graph in place so references to the model stay valid
        self._layers.clear()
        Functional.__init__(self, self._inputs_struct, outputs, name=model_name, trainable=trainable)
        self._features_tensor, self.head_name = features_tensor, (name if num_classes else None)
        self.classifier_activation, self.pretrained_cfg, self.assets = classifier_activation, cfg, assets
        self._features_model = None
        self.compiled = False
        if old is not None:
            log.info("%s: classifier head reset from %d to %d classes (new weights)", model_name,
                     getattr(old, "units", None) or old.filters, num_classes)
        return self

    # ------------------------------------------------------------------ preprocessing / labels
    def preprocess(self, images):
        """Images (uint8 NHWC RGB arrays, a list of them, or PIL images) resized and normalised
        as this model's weights expect (the manifest's ``input`` spec, or that of the weight family
        for a local file). A model whose preprocessing is unknown (random weights, a file of unknown
        origin) raises: set ``model.pretrained_cfg["input"] = zoo.preprocessing.family_spec(mode)``."""
        from .preprocessing import preprocess_images

        spec = self.pretrained_cfg.get("input")
        if not spec:
            raise ValueError(f"model '{self.name}' does not know its preprocessing (it has no pretrained weights "
                             "of a known family): set model.pretrained_cfg['input'] = "
                             "zoo.preprocessing.family_spec('caffe' | 'torch' | 'tf'), or normalise the images "
                             "yourself")
        size = tuple(self._flat_inputs[0].shape[1:3])
        return preprocess_images(images, spec, size if None not in size else None)

    @property
    def labels(self):
        from .labels import resolve_labels

        return resolve_labels(self.pretrained_cfg)

    def decode_predictions(self, preds, top=5):
        from .labels import decode_predictions

        return decode_predictions(preds, top=top, labels=self.labels)


__all__ = ["ClassifierModel", "np"]
