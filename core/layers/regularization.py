"""Regularization layers: Dropout, SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout,
AlphaDropout and ActivityRegularization (Keras 3 semantics: identity at inference)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops, regularizers
from ..random import generator as zrandom
from ..autodiff import Tensor
from .base import Layer


def _check_rate(name, rate, upper_inclusive=True):
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not (
            0 <= rate <= 1 if upper_inclusive else 0 <= rate < 1):
        bound = "]" if upper_inclusive else ")"
        raise ValueError(f"Invalid value received for argument `rate` of {name}. Expected a float value between "
                         f"0 and 1 ([0, 1{bound}). Received: rate={rate}")
    return rate


def _check_seed(name, seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name}: seed must be None or a non-negative int, got {seed!r}")
    return int(seed)


class _SeededLayer(Layer):
    """A layer drawing random numbers: from a local generator seeded with ``seed`` (its state
    advances every call, as Keras's SeedGenerator), else from the engine generator of
    ``core.random`` (so ``core.utils.set_random_seed`` makes it repeatable)."""

    def _check_input(self, inputs):  # no weights: any shape
        pass

    def _init_seed(self, seed):
        self.seed = _check_seed(type(self).__name__, seed)
        self._generator = np.random.default_rng(self.seed) if self.seed is not None else None


class Dropout(_SeededLayer):
    """Zero inputs with probability ``rate`` in training, scaling the rest by ``1 / (1 - rate)``;
    identity at inference. ``noise_shape`` (None entries take the input's size) shares the
    mask along axes of size 1."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate("Dropout", rate)
        self._init_seed(seed)
        self.noise_shape = self._validate_noise_shape(noise_shape)
        self.supports_masking = True

    @staticmethod
    def _validate_noise_shape(noise_shape):
        if noise_shape is None:
            return None
        if isinstance(noise_shape, str):
            raise ValueError(f"Invalid value received for argument `noise_shape`. Expected a tuple or list of "
                             f"integers. Received: noise_shape={noise_shape}")
        try:
            noise_shape = tuple(noise_shape)
        except TypeError:
            raise ValueError(f"Invalid value received for argument `noise_shape`. Expected an iterable of integers "
                             f"(e.g., a tuple or list). Received: noise_shape={noise_shape}") from None
        for i, dim in enumerate(noise_shape):
            if dim is None:
                continue
            if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
                raise ValueError(f"Invalid value received for argument `noise_shape`. Expected all elements to be "
                                 f"integers or None. Received element at index {i}: {dim} "
                                 f"(type: {type(dim).__name__})")
            if dim <= 0:
                raise ValueError(f"Invalid value received for argument `noise_shape`. Expected all dimensions to "
                                 f"be positive integers or None. Received negative or zero value at index {i}: {dim}")
        return tuple(None if d is None else int(d) for d in noise_shape)

    def _noise_shape(self, inputs):
        return self.noise_shape

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return inputs * 0.0
        return ops.dropout(inputs, self.rate, training=True, noise_shape=self._noise_shape(inputs),
                           seed=self._generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class _SpatialDropout(Dropout):
    _ndim = None

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)

    def call(self, inputs, training=False):
        if inputs.ndim != self._ndim:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                             f"ndim={self._ndim}, found ndim={inputs.ndim}. Full shape received: {tuple(inputs.shape)}")
        return super().call(inputs, training=training)

    def get_config(self):  # as Keras: no `trainable`, no base keys beyond name/dtype
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout1D(_SpatialDropout):
    """Drop whole feature maps of (batch, steps, channels) inputs: mask shape (N, 1, C)."""

    _ndim = 3

    def _noise_shape(self, inputs):
        return (inputs.shape[0], 1, inputs.shape[2])


class _SpatialDropoutND(_SpatialDropout):
    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        fmt = data_format or "channels_last"
        if fmt not in ("channels_last", "channels_first"):
            raise ValueError(f"{type(self).__name__}: data_format must be 'channels_last' or 'channels_first', "
                             f"got {data_format!r}")
        self.data_format = fmt

    def _noise_shape(self, inputs):
        s = inputs.shape
        spatial = (1,) * (inputs.ndim - 2)
        if self.data_format == "channels_first":
            return (s[0], s[1]) + spatial
        return (s[0],) + spatial + (s[-1],)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout2D(_SpatialDropoutND):
    """Drop whole channels of images: mask shape (N, 1, 1, C) (channels_last) or (N, C, 1, 1)."""

    _ndim = 4


class SpatialDropout3D(_SpatialDropoutND):
    """Drop whole channels of volumes: mask shape (N, 1, 1, 1, C) (channels_last) or (N, C, 1, 1, 1)."""

    _ndim = 5


class GaussianNoise(_SeededLayer):
    """Add zero-centred Gaussian noise of standard deviation ``stddev`` in training."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= stddev <= 1:
            raise ValueError(f"Invalid value received for argument `stddev`. Expected a float value between 0 "
                             f"and 1. Received: stddev={stddev}")
        self.stddev = stddev
        self._init_seed(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        noise = zrandom.normal(inputs.shape, inputs.dtype, inputs.xp, stddev=float(self.stddev),
                               generator=self._generator)
        return inputs + Tensor(noise)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_SeededLayer):
    """Multiply by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))`` in training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate("GaussianDropout", rate)
        self._init_seed(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or not 0 < self.rate < 1:
            return inputs
        std = math.sqrt(self.rate / (1.0 - self.rate))
        noise = zrandom.normal(inputs.shape, inputs.dtype, inputs.xp, mean=1.0, stddev=std, generator=self._generator)
        return inputs * Tensor(noise)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_SeededLayer):
    """Dropout that keeps the mean and variance of SELU activations: dropped values are set to
    ``-selu_scale * selu_alpha`` and the result is affinely corrected (Keras formula)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate("AlphaDropout", rate)
        self.noise_shape = Dropout._validate_noise_shape(noise_shape)
        self._init_seed(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate <= 0:
            return inputs
        if self.rate >= 1:
            return inputs * 0.0
        alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
        alpha_p = -alpha * scale
        shape = tuple(s if n is None else n for s, n in zip(inputs.shape, self.noise_shape)) \
            if self.noise_shape is not None else tuple(inputs.shape)
        keep = zrandom.uniform(shape, "float32", np, generator=self._generator) >= self.rate
        keep = inputs.xp.asarray(np.broadcast_to(keep, inputs.shape))
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        kept = Tensor(keep.astype(inputs.dtype))
        dropped = Tensor((~keep).astype(inputs.dtype) * inputs.dtype.type(alpha_p))
        return (inputs * kept + dropped) * a + b

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class ActivityRegularization(Layer):
    _check_input = _SeededLayer._check_input
    """Identity that adds ``(l1 * sum(|x|) + l2 * sum(x^2)) / batch_size`` of its input to the layer
    losses (Keras 3 normalizes activity regularization by the batch size). The loss of the latest
    call replaces the previous one."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.l2 = l1, l2
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.supports_masking = True

    def call(self, inputs):
        loss = self.activity_regularizer(inputs)
        if inputs.ndim > 0 and inputs.shape[0] > 0:
            loss = loss / float(inputs.shape[0])
        self._set_losses([loss])
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
