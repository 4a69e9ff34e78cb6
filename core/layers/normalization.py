"""Normalization layers: BatchNormalization and LayerNormalization (Keras 3 semantics)."""
from __future__ import annotations

import warnings

import numpy as np

from .. import constraints, distribute, initializers, ops, regularizers
from ..autodiff import Tensor
from .base import Layer

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): added to the unmasked count in masked moments


def _norm_axis(layer, axis, ndim):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': axis {axis} is out of bounds for an input "
                         f"of rank {ndim}")
    return axis % ndim


def _set_affine_arguments(layer, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                          beta_constraint, gamma_constraint):
    """A normalization layer's beta/gamma initializers, regularizers and constraints (from their
    Keras identifiers); ``_affine_config`` serializes them back."""
    layer.beta_initializer = initializers.get(beta_initializer)
    layer.gamma_initializer = initializers.get(gamma_initializer)
    layer.beta_regularizer = regularizers.get(beta_regularizer)
    layer.gamma_regularizer = regularizers.get(gamma_regularizer)
    layer.beta_constraint = constraints.get(beta_constraint)
    layer.gamma_constraint = constraints.get(gamma_constraint)


def _affine_config(layer) -> dict:
    return {"beta_initializer": initializers.serialize(layer.beta_initializer),
            "gamma_initializer": initializers.serialize(layer.gamma_initializer),
            "beta_regularizer": regularizers.serialize(layer.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(layer.gamma_regularizer),
            "beta_constraint": constraints.serialize(layer.beta_constraint),
            "gamma_constraint": constraints.serialize(layer.gamma_constraint)}


class BatchNormalization(Layer):
    """Normalize over every axis except ``axis`` with batch statistics in training (updating
    the moving mean/variance: ``moving = moving * momentum + batch * (1 - momentum)``) and the
    moving statistics at inference. As Keras 3, a layer with ``trainable=False`` always runs in
    inference mode. A mask of the input's rank minus one (e.g. from ``Embedding(mask_zero=True)``)
    restricts the training statistics to unmasked positions. ``renorm=True`` is Batch
    Renormalization. ``synchronized=True`` under data-parallel training (``core.distribute``) uses
    the statistics of the global batch, summed over every process; in one process it has no effect."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"BatchNormalization: axis must be an int, got {axis!r}")
        self.axis = int(axis)
        self.synchronized = bool(synchronized)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        if not self.epsilon > 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0, got {epsilon}")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.renorm = bool(renorm)
        if self.renorm:
            renorm_clipping = dict(renorm_clipping or {})
            bad = set(renorm_clipping) - {"rmax", "rmin", "dmax"}
            if bad:
                raise ValueError(f"BatchNormalization: invalid keys {sorted(bad)} in renorm_clipping; "
                                 "supported: ['dmax', 'rmax', 'rmin']")
            rmax, rmin, dmax = (renorm_clipping.get(k) for k in ("rmax", "rmin", "dmax"))
            if rmax is not None and rmin is not None and rmax < rmin:
                raise ValueError(f"BatchNormalization: renorm_clipping rmax ({rmax}) must be >= rmin ({rmin})")
            if dmax is not None and dmax < 0:
                raise ValueError(f"BatchNormalization: renorm_clipping dmax must be >= 0, got {dmax}")
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._channel_axis = None

    def build(self, input_shape):
        ndim = len(input_shape)
        ax = _norm_axis(self, self.axis, ndim)
        c = input_shape[ax]
        if c is None:
            raise ValueError(f"BatchNormalization '{self.name}': the normalized axis {self.axis} of the input "
                             f"must be known, got input shape {tuple(input_shape)}")
        shape = (int(c),)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer, name="moving_variance",
                                               trainable=False)
        if self.renorm:
            var0 = self.moving_variance.numpy()
            std = np.sqrt(var0).astype(var0.dtype)
            self.moving_stddev = self.add_weight(shape, initializers.Constant(0.0), name="moving_stddev",
                                                 trainable=False)
            self.moving_stddev.assign(std)
            self.renorm_mean = self.add_weight(shape, self.moving_mean_initializer, name="renorm_mean",
                                               trainable=False)
            self.renorm_stddev = self.add_weight(shape, initializers.Constant(0.0), name="renorm_stddev",
                                                 trainable=False)
            self.renorm_stddev.assign(std)
        self._ndim = ndim
        self._channel_axis = ax
        self._channels = int(c)
        self.built = True  # also when build() is called directly (Keras's build wrapper does this)

    def _check_input(self, inputs):  # rank and channel axis are checked in call (not the last axis)
        pass

    def _check(self, inputs):
        if inputs.ndim != self._ndim or inputs.shape[self._channel_axis] != self._channels:
            raise ValueError(f"Input to layer '{self.name}' is incompatible: expected rank {self._ndim} with "
                             f"axis {self.axis} of size {self._channels}, got input shape {tuple(inputs.shape)}")

    def call(self, inputs, training=None, mask=None):
        self._check(inputs)
        if mask is not None:
            mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
            if mask.ndim != inputs.ndim - 1:
                raise ValueError(f"BatchNormalization '{self.name}': the mask must have one dimension less than "
                                 f"the inputs; got mask shape {tuple(mask.shape)} for inputs {tuple(inputs.shape)}")
        gamma, beta = self.gamma, self.beta
        if not (training and self.trainable):
            return ops.batch_norm(inputs, gamma, beta, self.moving_mean, self.moving_variance, training=False,
                                  momentum=self.momentum, epsilon=self.epsilon, axis=self._channel_axis)
        if self.synchronized and mask is None and not self.renorm and distribute.distribution() is not None:
            return self._synchronized(inputs, gamma, beta)
        if mask is None and not self.renorm:
            return ops.batch_norm(inputs, gamma, beta, self.moving_mean, self.moving_variance, training=True,
                                  momentum=self.momentum, epsilon=self.epsilon, axis=self._channel_axis)
        xp = inputs.xp
        if mask is None:  # renorm: normalize with batch statistics, capturing them (momentum 0)
            c = self._channels
            bm, bv = xp.zeros(c, inputs.dtype), xp.zeros(c, inputs.dtype)
            xhat = ops.batch_norm(inputs, None, None, bm, bv, training=True, momentum=0.0, epsilon=self.epsilon,
                                  axis=self._channel_axis)
        else:
            xhat, mean, var = self._masked_normalize(inputs, xp.asarray(mask))
            bm, bv = mean.data.reshape(-1), var.data.reshape(-1)
        bshape = tuple(self._channels if i == self._channel_axis else 1 for i in range(inputs.ndim))
        if self.renorm:
            r, d = self._renorm_correction(bm, bv)
            g = Tensor(r.reshape(bshape)) if gamma is None else Tensor(r.reshape(bshape)) * ops.reshape(gamma, bshape)
            b = Tensor(d.reshape(bshape)) if gamma is None else Tensor(d.reshape(bshape)) * ops.reshape(gamma, bshape)
            if beta is not None:
                b = b + ops.reshape(beta, bshape)
            y = xhat * g + b
            self._update_renorm_statistics(bm, bv)
            return y
        y = xhat if gamma is None else xhat * ops.reshape(gamma, bshape)
        if beta is not None:
            y = y + ops.reshape(beta, bshape)
        self._update_moving(bm, bv)
        return y

    def _synchronized(self, inputs, gamma, beta):
        """Training with the mean and (biased) variance of the global batch, summed over every
        process (differentiably), as one process would compute them on the whole batch."""
        axes = tuple(i for i in range(inputs.ndim) if i != self._channel_axis)
        bshape = tuple(self._channels if i == self._channel_axis else 1 for i in range(inputs.ndim))
        local = inputs.shape[0]
        count = float(distribute.allreduce(np.asarray(inputs.data.size // self._channels, dtype=np.float64), op="sum"))
        t = inputs.dtype.type
        mean = distribute.AllReduceSum(local)(ops.sum(inputs, axis=axes, keepdims=True)) * t(1.0 / count)
        diff = inputs - mean
        var = distribute.AllReduceSum(local)(ops.sum(diff * diff, axis=axes, keepdims=True)) * t(1.0 / count)
        y = diff / ops.sqrt(var + t(self.epsilon))
        if gamma is not None:
            y = y * ops.reshape(gamma, bshape)
        if beta is not None:
            y = y + ops.reshape(beta, bshape)
        self._update_moving(mean.data.reshape(-1), var.data.reshape(-1))
        return y

    def _masked_normalize(self, inputs, mask):
        """Keras's masked moments (sums over unmasked positions / (count + 1e-7)), differentiable."""
        axes = tuple(i for i in range(inputs.ndim) if i != self._channel_axis)
        m = mask.astype(bool)[..., None]
        m = inputs.xp.broadcast_to(m, inputs.shape)
        w = Tensor(m.astype(inputs.dtype))
        count = ops.sum(w, axis=axes, keepdims=True) + _KERAS_EPSILON
        mean = ops.sum(inputs * w, axis=axes, keepdims=True) / count
        diff = (inputs - mean) * w
        var = ops.sum(diff * diff, axis=axes, keepdims=True) / count
        xhat = (inputs - mean) / ops.sqrt(var + self.epsilon)
        return xhat, mean, var

    def _update_moving(self, bm, bv):
        m = self.momentum
        for p, batch in ((self.moving_mean, bm), (self.moving_variance, bv)):
            t = p.dtype.type
            p.data[...] = p.data * t(m) + p.xp.asarray(batch).astype(p.dtype) * t(1.0 - m)

    def _renorm_correction(self, bm, bv):
        xp = self.moving_mean.xp
        t = bm.dtype.type
        std = xp.sqrt(bv + t(self.epsilon))
        rstd = xp.maximum(self.renorm_stddev.data.astype(bm.dtype), xp.sqrt(t(self.epsilon)))
        r = std / rstd
        d = (bm - self.renorm_mean.data.astype(bm.dtype)) / rstd
        clip = self.renorm_clipping or {}
        if clip.get("rmin") is not None:
            r = xp.maximum(r, t(clip["rmin"]))
        if clip.get("rmax") is not None:
            r = xp.minimum(r, t(clip["rmax"]))
        if clip.get("dmax") is not None:
            d = xp.clip(d, t(-clip["dmax"]), t(clip["dmax"]))
        return r, d

    def _update_renorm_statistics(self, bm, bv):
        xp = self.moving_mean.xp
        t = self.moving_mean.dtype.type
        bm, bv = bm.astype(self.moving_mean.dtype), bv.astype(self.moving_mean.dtype)
        std = xp.sqrt(bv + t(self.epsilon))
        rm = t(self.renorm_momentum)
        self.renorm_mean.data[...] = self.renorm_mean.data * rm + bm * (t(1) - rm)
        self.renorm_stddev.data[...] = self.renorm_stddev.data * rm + std * (t(1) - rm)
        m = t(self.momentum)
        self.moving_mean.data[...] = self.moving_mean.data * m + bm * (t(1) - m)
        new_std = self.moving_stddev.data * m + std * (t(1) - m)
        self.moving_stddev.data[...] = new_std
        self.moving_variance.data[...] = xp.maximum(new_std * new_std - t(self.epsilon), t(0))

    def compute_output_shape(self, input_shape):
        _norm_axis(self, self.axis, len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": self.synchronized, "renorm": self.renorm,
                "renorm_clipping": self.renorm_clipping, "renorm_momentum": self.renorm_momentum}


class LayerNormalization(Layer):
    """Normalize each sample over ``axis`` (an int or a list), then scale by ``gamma`` and
    shift by ``beta`` (shaped as the normalized axes). ``rms_scaling=True`` (deprecated in
    Keras, kept for compatibility) computes ``x * rsqrt(var(x) + epsilon) * gamma``, no beta."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        if rms_scaling:
            warnings.warn("You passed `rms_scaling=True`, which is deprecated. This argument incorrectly scales "
                          "the input by the variance, not the root mean square. To correctly use RMS "
                          "Normalization, please use `keras.layers.RMSNormalization` instead.", stacklevel=2)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis!r}")
        self.epsilon = epsilon
        if not float(epsilon) > 0:
            raise ValueError(f"LayerNormalization: epsilon must be > 0, got {epsilon}")
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        _set_affine_arguments(self, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                              beta_constraint, gamma_constraint)
        self.supports_masking = True
        self.gamma = self.beta = None

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            _norm_axis(self, a, ndim)
        self.axis = sorted(axes)  # as Keras: a sorted list once built
        shape = tuple(input_shape[a] for a in self.axis)
        if any(s is None for s in shape):
            raise ValueError(f"LayerNormalization '{self.name}': the normalized axes {self.axis} must be known, "
                             f"got input shape {tuple(input_shape)}")
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self._ndim = ndim
        self._axes = tuple(sorted(a % ndim for a in self.axis))
        self._norm_shape = tuple(int(s) for s in shape)
        self.built = True

    def _check_input(self, inputs):  # only the normalized axes must match (checked in call)
        pass

    def call(self, inputs):
        got = tuple(inputs.shape[a] for a in self._axes) if inputs.ndim == self._ndim else None
        if got != self._norm_shape:
            raise ValueError(f"Input to layer '{self.name}' is incompatible: expected rank {self._ndim} with axes "
                             f"{self.axis} of sizes {self._norm_shape}, got input shape {tuple(inputs.shape)}")
        if self.rms_scaling:
            var = ops.var(inputs, axis=self._axes, keepdims=True)
            y = inputs / ops.sqrt(var + float(self.epsilon))
            if self.gamma is not None:
                bshape = tuple(inputs.shape[i] if i in self._axes else 1 for i in range(inputs.ndim))
                y = y * ops.reshape(self.gamma, bshape)
            return y
        return ops.layer_norm(inputs, self.gamma, self.beta, axis=self._axes, epsilon=float(self.epsilon))

    def compute_output_shape(self, input_shape):
        for a in (self.axis if isinstance(self.axis, list) else [self.axis]):
            _norm_axis(self, a, len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": self.rms_scaling, **_affine_config(self)}
