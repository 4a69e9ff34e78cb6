"""Layers the zoo's architectures need beyond ``keras.layers``: ``LayerScale`` and
``StochasticDepth``, Keras's ``keras.src.applications.convnext`` layers (ConvNeXt).

They are exported under that Keras module name with Keras's config keys, so a Keras-written
ConvNeXt config (``"module": "keras.src.applications.convnext"``) rebuilds here and ours in Keras.
"""
from __future__ import annotations

import numbers

import numpy as np

from core import initializers, ops
from core.layers.base import Layer
from core.object_registration import export_api

KERAS_MODULE = "keras.src.applications.convnext"


class LayerScale(Layer):
    """``x * gamma`` with a learned per-channel ``gamma`` of shape ``(projection_dim,)``,
    initialised to ``init_values`` (CaiT's layer scale, as ConvNeXt uses it)."""

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        if isinstance(projection_dim, bool) or not isinstance(projection_dim, numbers.Integral) or projection_dim <= 0:
            raise ValueError(f"LayerScale: projection_dim must be a positive integer, got {projection_dim!r}")
        self.init_values = init_values
        self.projection_dim = int(projection_dim)

    def build(self, input_shape):
        if input_shape is not None and input_shape[-1] is not None and input_shape[-1] != self.projection_dim:
            raise ValueError(f"LayerScale '{self.name}': projection_dim={self.projection_dim} but the input has "
                             f"{input_shape[-1]} channels (shape {tuple(input_shape)})")
        self.gamma = self.add_weight((self.projection_dim,), initializers.Constant(self.init_values),
                                     name="gamma", trainable=True)

    def call(self, inputs):
        return inputs * self.gamma

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}


class StochasticDepth(Layer):
    """Drop-path: in training, each sample's input is zeroed with probability ``drop_path_rate``
    and the kept ones scaled by ``1 / (1 - drop_path_rate)``; the identity at inference.
    ``seed`` (an extension; not written when None) makes the masks repeatable."""

    def __init__(self, drop_path_rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(drop_path_rate, bool) or not isinstance(drop_path_rate, numbers.Real) \
                or not 0.0 <= float(drop_path_rate) < 1.0:
            raise ValueError(f"StochasticDepth: drop_path_rate must be a number in [0, 1), got {drop_path_rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"StochasticDepth: seed must be None or a non-negative integer, got {seed!r}")
        self.drop_path_rate = float(drop_path_rate)
        self.seed = None if seed is None else int(seed)
        self._generator = None if seed is None else np.random.default_rng(self.seed)

    def _check_input(self, inputs):  # no weights: any shape
        pass

    def call(self, inputs, training=False):
        if not training or self.drop_path_rate == 0.0:
            return inputs
        noise_shape = (None,) + (1,) * (len(inputs.shape) - 1)
        return ops.dropout(inputs, self.drop_path_rate, training=True, noise_shape=noise_shape,
                           seed=self._generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = {**super().get_config(), "drop_path_rate": self.drop_path_rate}
        if self.seed is not None:
            config["seed"] = self.seed
        return config


export_api(KERAS_MODULE, {"LayerScale": LayerScale, "StochasticDepth": StochasticDepth})

__all__ = ["LayerScale", "StochasticDepth"]
