"""``Hashing``: map strings or integers to ``num_bins`` bins with FarmHash Fingerprint64 (as
TensorFlow's ``strings.to_hash_bucket_fast``; integers are hashed as their decimal strings),
with an optional ``mask_value`` kept at bin 0 and the encodings of CategoryEncoding."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor
from .base import Layer
from .category_encoding import _host, encode_categorical
from .farmhash import fingerprint64

_MODES = ("int", "one_hot", "multi_hot", "count")


def hash_to_bins(values, num_bins):
    """Fingerprint64 of each value's string form (decimal for integers) modulo ``num_bins``."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64).astype(str)
    elif arr.dtype.kind == "S":
        arr = arr.astype(object)
    return (fingerprint64(arr) % np.uint64(num_bins)).astype(np.int64)


class Hashing(Layer):
    """Hash each input to a bin in [0, num_bins) (or [1, num_bins) with ``mask_value``, which maps
    to 0); ``output_mode`` "int" (int64 bins) or "one_hot"/"multi_hot"/"count"."""

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else None
        if num_bins is None or num_bins <= 0:
            raise ValueError(f"The `num_bins` for `Hashing` cannot be `None` or non-positive values. Received: "
                             f"num_bins={num_bins}.")
        if output_mode not in _MODES:
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of {_MODES}. Received: "
                             f"output_mode={output_mode}")
        if output_mode == "int" and kwargs["dtype"] not in ("int32", "int64"):
            raise ValueError(f"When `output_mode=\"int\"`, `dtype` should be an integer type, 'int32' or 'in64'. "
                             f"Received: dtype={kwargs['dtype']}")
        if sparse:
            raise ValueError("Hashing: sparse=True is not supported (no sparse tensors here)")
        if salt is not None:
            raise NotImplementedError("Hashing: `salt` selects TensorFlow's keyed SipHash "
                                      "(strings.to_hash_bucket_strong), which is not implemented here; use salt=None "
                                      "(FarmHash64)")
        super().__init__(**kwargs)
        self.num_bins, self.mask_value, self.salt = int(num_bins), mask_value, None
        self.output_mode, self.sparse, self.strong_hash = output_mode, False, False
        self.built = True

    def _check_input(self, inputs):
        pass

    def _convert_input(self, x):
        return x

    def call(self, inputs):
        x = np.asarray(_host(inputs) if isinstance(inputs, Tensor) else inputs)
        if self.output_mode == "one_hot" and x.ndim and x.shape[-1] == 1:
            x = x[..., 0]
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = x == np.asarray(self.mask_value).astype(x.dtype)
        idx = hash_to_bins(x, bins)
        if mask is not None:
            idx = np.where(mask, 0, idx + 1)
        return Tensor(encode_categorical(idx, self.output_mode, self.num_bins, self.dtype))

    def _output_dtype(self, inputs):
        return self.dtype

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_bins,)
        return tuple(input_shape[:-1]) + (self.num_bins,)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                "output_mode": self.output_mode, "sparse": self.sparse}
