"""``CategoryEncoding`` and the categorical encoding shared by the preprocessing layers
(Discretization, StringLookup/IntegerLookup, TextVectorization), as Keras's
``encode_categorical_inputs``: "one_hot", "multi_hot", "count" (optionally weighted) and
"tf_idf" (counts times per-index weights). Indices outside [0, depth) are dropped."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor
from .base import Layer

ENCODINGS = ("one_hot", "multi_hot", "count")


def _host(x):
    x = x.data if isinstance(x, Tensor) else x
    return x.get() if hasattr(x, "get") else np.asarray(x)


def encode_categorical(indices, output_mode, depth, dtype="float32", count_weights=None, idf_weights=None):
    """Encode integer ``indices`` (NumPy) as Keras does: rank 0/1 inputs are one sample for
    "multi_hot"/"count"/"tf_idf" (a (depth,) vector) and one index per sample for "one_hot";
    rank 2 (batch, k) gives (batch, depth); a trailing 1 is dropped for "one_hot"."""
    x = np.asarray(indices)
    if output_mode == "int":
        return x.astype(dtype)
    if x.ndim == 0:
        x = x[None]
    if output_mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x[..., 0]
        valid = (x >= 0) & (x < depth)
        out = (x[..., None] == np.arange(depth)).astype(dtype)
        return out * valid[..., None]
    # multi_hot / count / tf_idf: one row per sample along the last axis
    flat = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x[None]
    rows = np.broadcast_to(np.arange(flat.shape[0])[:, None], flat.shape)
    valid = (flat >= 0) & (flat < depth)
    keys = rows[valid] * depth + flat[valid]
    if count_weights is not None and output_mode == "count":
        w = np.broadcast_to(np.asarray(count_weights), x.shape).reshape(flat.shape)[valid]
        dtype = np.asarray(count_weights).dtype
    else:
        w = None
    counts = np.bincount(keys, weights=w, minlength=flat.shape[0] * depth).reshape(flat.shape[0], depth)
    if output_mode == "multi_hot":
        counts = counts > 0
    out = counts.astype(dtype)
    if output_mode == "tf_idf":
        out = out * np.asarray(idf_weights, dtype)[:depth]
    return out.reshape(x.shape[:-1] + (depth,)) if x.ndim > 1 else out[0]


def encoded_shape(input_shape, output_mode, depth):
    """Keras's output shape of ``encode_categorical`` for an input shape."""
    shape = tuple(input_shape)
    if output_mode == "int":
        return shape
    if not shape:
        return (depth,)
    if output_mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            return shape[:-1] + (depth,)
        return shape + (depth,)
    return shape[:-1] + (depth,)


class CategoryEncoding(Layer):
    """Integer category ids -> "one_hot", "multi_hot" or "count" vectors of ``num_tokens``
    (``call(inputs, count_weights=None)``: per-id weights for "count")."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ENCODINGS:
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of tokens is not known "
                             "beforehand, use the IntegerLookup layer instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise ValueError("CategoryEncoding: sparse=True is not supported (no sparse tensors here); use "
                             "sparse=False")
        self.num_tokens, self.output_mode, self.sparse = int(num_tokens), output_mode, False
        self.built = True

    def _check_input(self, inputs):
        pass

    def _convert_input(self, x):
        return x

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"`count_weights` is not used when `output_mode` is not `'count'`. Received "
                             f"`count_weights={count_weights}`.")
        x = _host(inputs)
        if x.dtype.kind == "f":
            if not np.all(np.equal(np.mod(x, 1), 0)):
                raise ValueError(f"CategoryEncoding '{self.name}': inputs must be integer category ids, got "
                                 f"non-integer values")
            x = x.astype(np.int64)
        if x.size and x.min() < 0:
            raise ValueError(f"CategoryEncoding '{self.name}': category ids must be >= 0, got {int(x.min())}")
        w = None if count_weights is None else _host(count_weights).astype(self.compute_dtype)
        return Tensor(encode_categorical(x, self.output_mode, self.num_tokens, self.compute_dtype, count_weights=w))

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def _output_dtype(self, inputs):
        return self.compute_dtype

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}
