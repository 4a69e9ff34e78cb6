"""``GroupNormalization``: normalize each sample over groups of channels (Wu & He, 2018)."""
from __future__ import annotations

from .. import ops
from .base import Layer
from .normalization import _affine_config, _norm_axis, _set_affine_arguments


class GroupNormalization(Layer):
    """The channels (``axis``) are split into ``groups`` groups; each sample is normalized over
    every non-batch axis within a group, then scaled by ``gamma`` and shifted by ``beta`` (one per
    channel). ``groups=-1`` is instance normalization (one group per channel)."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"Received an invalid value for argument `groups`, expected a positive integer (or "
                             f"`-1` for instance normalization). Received: groups={groups!r}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.groups, self.axis, self.epsilon = groups, axis, epsilon
        self.center, self.scale = center, scale
        _set_affine_arguments(self, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                              beta_constraint, gamma_constraint)
        self.gamma = self.beta = None

    def build(self, input_shape):
        ax = _norm_axis(self, self.axis, len(input_shape))
        dim = input_shape[ax]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                             f"received an input with shape {tuple(input_shape)}.")
        if self.groups == -1:
            self.groups = int(dim)
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number of channels ({dim}).")
        if dim % self.groups:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the number of channels "
                             f"({dim}).")
        self.gamma = self.add_weight((dim,), self.gamma_initializer, name="gamma", regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight((dim,), self.beta_initializer, name="beta", regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self._channels = int(dim)

    def call(self, inputs):
        ndim = inputs.ndim
        ax = _norm_axis(self, self.axis, ndim)
        if inputs.shape[ax] != self._channels:
            raise ValueError(f"Input to layer '{self.name}' is incompatible: expected {self._channels} channels on "
                             f"axis {self.axis}, got input shape {tuple(inputs.shape)}")
        shape = tuple(inputs.shape)
        gshape = shape[:ax] + (self.groups, self._channels // self.groups) + shape[ax + 1:]
        x = ops.reshape(inputs, gshape)
        axes = tuple(i for i in range(1, ndim + 1) if i != ax)
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.var(x, axis=axes, keepdims=True)
        inv = 1.0 / ops.sqrt(var + float(self.epsilon))
        bshape = [1] * (ndim + 1)
        bshape[ax], bshape[ax + 1] = self.groups, self._channels // self.groups
        if self.gamma is not None:
            inv = inv * ops.reshape(self.gamma, tuple(bshape))
        res = -mean * inv
        if self.beta is not None:
            res = res + ops.reshape(self.beta, tuple(bshape))
        return ops.reshape(x * inv + res, shape)

    def compute_output_shape(self, input_shape):
        _norm_axis(self, self.axis, len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, **_affine_config(self)}
