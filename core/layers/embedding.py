"""Embedding: integer ids -> dense vectors (Keras 3 semantics), with ``mask_zero`` and LoRA."""
from __future__ import annotations

import warnings

import numpy as np

from .. import constraints, initializers, ops, regularizers
from ..autodiff import Tensor
from .base import Layer

# names Keras accepts that core.initializers does not alias (Keras: "uniform" = RandomUniform(-0.05, 0.05))
_EXTRA_INITIALIZERS = {"uniform": lambda: initializers.RandomUniform(),
                       "normal": lambda: initializers.RandomNormal()}


def _get_initializer(identifier):
    if isinstance(identifier, str) and identifier in _EXTRA_INITIALIZERS:
        return _EXTRA_INITIALIZERS[identifier]()
    return initializers.get(identifier)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value} "
                         f"(of type {type(value).__name__}).")
    return int(value)


class Embedding(Layer):
    """Turn integer ids of any shape (N, ...) into vectors: output (N, ..., output_dim), float.

    ``mask_zero=True`` treats id 0 as padding: the output carries the mask ``inputs != 0`` for
    mask-aware layers downstream (RNNs, attention, pooling). Float inputs holding whole numbers
    are accepted (cast to int, as Keras casts to int32); ids outside [0, input_dim) raise.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, activity_regularizer=None, **kwargs):
        input_dim = _positive_int("input_dim", input_dim)
        output_dim = _positive_int("output_dim", output_dim)
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        if quantization_config is not None:
            raise NotImplementedError("Embedding: quantization_config is not supported (quantized embeddings)")
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = _get_initializer(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.autocast = False  # ids are not floats to cast: large float64 ids must not round through float32
        self.quantization_config = None
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        self._embeddings = None
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self._embeddings is not None:
            return
        self._embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                           name="embeddings", regularizer=self.embeddings_regularizer,
                                           constraint=self.embeddings_constraint)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    @property
    def embeddings(self):
        """The (input_dim, output_dim) table (with the LoRA update added when enabled)."""
        if self._embeddings is None:
            raise AttributeError("You must build the layer before accessing `embeddings`.")
        if self.lora_enabled:
            return self._embeddings + ops.matmul(self.lora_embeddings_a, self.lora_embeddings_b) * (
                self.lora_alpha / self.lora_rank)
        return self._embeddings

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Freeze the table and learn a low-rank update ``(lora_alpha / rank) * A @ B`` instead."""
        if self.embeddings_constraint:
            raise ValueError("Lora is incompatible with embedding constraints. In order to enable lora on this "
                             "layer, remove the `embeddings_constraint` argument.")
        if self._embeddings is None:
            raise ValueError("Cannot enable lora on a layer that isn't yet built.")
        if self.lora_enabled:
            raise ValueError("lora is already enabled. This can only be done once per layer.")
        rank = _positive_int("rank", rank)
        self.lora_embeddings_a = self.add_weight((self.input_dim, rank), _get_initializer(a_initializer),
                                                 name="lora_embeddings_a", regularizer=self.embeddings_regularizer)
        self.lora_embeddings_b = self.add_weight((rank, self.output_dim), _get_initializer(b_initializer),
                                                 name="lora_embeddings_b", regularizer=self.embeddings_regularizer)
        emb = self._embeddings
        emb.trainable = False
        self._trainable_params = [p for p in self._trainable_params if p is not emb]
        self._non_trainable_params.insert(0, emb)
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def _check_input(self, inputs):  # ids of any shape (sequence lengths vary)
        pass

    def _ids(self, inputs):
        x = inputs if isinstance(inputs, Tensor) else Tensor(inputs)
        data = x.data
        if data.dtype.kind in "iu":
            return data
        if data.dtype.kind == "b":
            return data.astype(np.int64)
        if data.dtype.kind == "f":
            xp = x.xp
            if data.size and not bool(xp.all(xp.isfinite(data) & (data == xp.trunc(data)))):
                raise ValueError(f"Embedding '{self.name}' expects integer ids; got a {data.dtype} input "
                                 f"(shape {tuple(data.shape)}) with non-integral values")
            return data.astype(np.int64)
        raise ValueError(f"Embedding '{self.name}' expects integer ids, got dtype {data.dtype}")

    def call(self, inputs):
        ids = self._ids(inputs)
        v = self.input_dim
        if ids.size:
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= v:
                bad = lo if lo < 0 else hi
                raise ValueError(f"Embedding '{self.name}': id {bad} is out of range for input_dim={v}; "
                                 f"ids must be in [0, {v - 1}] (input shape {tuple(ids.shape)})")
        y = ops.embedding(ids, self.embeddings)
        if y.dtype != np.dtype(self.compute_dtype):
            y = ops.cast(y, self.compute_dtype)
        if self.activity_regularizer is not None:
            loss = self.activity_regularizer(y)
            if y.ndim > 0 and y.shape[0] > 0:
                loss = loss / float(y.shape[0])
            self._set_losses([loss])
        return y

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return Tensor(data != 0)

    def _makes_mask(self):
        return self.mask_zero

    def _output_dtype(self, inputs):
        return self.compute_dtype

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        config = {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                  "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                  "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                  "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                  "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                  "mask_zero": self.mask_zero, "quantization_config": None}
        if self.lora_rank:
            config["lora_rank"] = self.lora_rank
            config["lora_alpha"] = self.lora_alpha
        return config
