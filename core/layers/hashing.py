"""``Hashing``: map strings or integers to ``num_bins`` bins with FarmHash Fingerprint64 (as
TensorFlow's ``strings.to_hash_bucket_fast``), or keyed SipHash-2-4 with a ``salt``
(``to_hash_bucket_strong``); integers are hashed as their decimal strings. An optional
``mask_value`` keeps bin 0; outputs are encoded as CategoryEncoding's."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor
from .base import Layer
from .category_encoding import _host, encode_categorical
from .farmhash import fingerprint64, siphash64

_MODES = ("int", "one_hot", "multi_hot", "count")


def standardize_salt(salt, owner):
    """None, or the two-int SipHash key of a ``salt`` (an int k gives [k, k])."""
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2:
        return [int(v) for v in salt]
    if isinstance(salt, int) and not isinstance(salt, bool):
        return [salt, salt]
    raise ValueError(f"The `salt` argument for `{owner}` can only be a tuple of size 2 integers, or a single integer. "
                     f"Received: salt={salt}.")


def hash_to_bins(values, num_bins, salt=None):
    """The bucket of each value's string form (decimal for integers): Fingerprint64, or SipHash-2-4
    keyed by ``salt`` (two ints), modulo ``num_bins``."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64).astype(str)
    elif arr.dtype.kind == "S":
        arr = arr.astype(object)
    hashes = fingerprint64(arr) if salt is None else siphash64(arr, salt)
    return (hashes % np.uint64(num_bins)).astype(np.int64)


class Hashing(Layer):
    """Hash each input to a bin in [0, num_bins) (or [1, num_bins) with ``mask_value``, which maps
    to 0); ``salt`` (an int or two) switches to keyed SipHash; ``output_mode`` "int" (int64 bins)
    or "one_hot"/"multi_hot"/"count"."""

    _accepts_strings = True

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
        salt = standardize_salt(salt, "Hashing")
        super().__init__(**kwargs)
        self.num_bins, self.mask_value, self.salt = int(num_bins), mask_value, salt
        self.output_mode, self.sparse, self.strong_hash = output_mode, False, salt is not None
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
        idx = hash_to_bins(x, bins, self.salt)
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
