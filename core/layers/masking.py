"""``Masking``: mark the timesteps whose features all equal ``mask_value`` as padding."""
from __future__ import annotations

from .. import ops
from .base import Layer


class Masking(Layer):
    """Timesteps whose every feature equals ``mask_value`` are masked (the mask, shape
    ``inputs.shape[:-1]``, travels to the following layers) and zeroed in the output."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, dict):
            mask_value = mask_value.get("config", {}).get("value", mask_value)
        self.mask_value = mask_value
        self.supports_masking = True

    def _keep(self, inputs):
        data = inputs.data if hasattr(inputs, "data") else inputs
        return (data != data.dtype.type(self.mask_value)).any(axis=-1)

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs)

    def _makes_mask(self):
        return True

    def call(self, inputs):
        keep = self._keep(inputs)
        return ops.where(keep[..., None], inputs, 0.0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
