"""``TextVectorization``: raw strings -> token ids or bag-of-token vectors (Keras 3 semantics).

Pipeline: ``standardize`` ("lower_and_strip_punctuation" (default), "lower", "strip_punctuation",
None or a callable on a NumPy string array), ``split`` ("whitespace", "character", None or a
callable returning one token list per string), optional ``ngrams`` (n or a tuple of widths,
joined with a space), then a ``StringLookup`` with mask token "" (index 0) and "[UNK]" (index 1).
``output_mode``: "int" (padded with 0 to ``output_sequence_length``, or to the longest sequence
of the batch), "multi_hot", "count", "one_hot" or "tf_idf". ``adapt`` learns the vocabulary
(most frequent first). As TensorFlow's ``strings.lower``, lowering touches ASCII letters only.
"""
from __future__ import annotations

import re

import numpy as np

from .. import backend
from ..autodiff import Tensor
from .base import Layer
from .category_encoding import _host
from .index_lookup import StringLookup

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


def _check_arg(name, value, allowed):
    if value is not None and not callable(value) and value not in allowed:
        raise ValueError(f"Unknown value for `{name}` argument of layer TextVectorization. Allowed values are "
                         f"{list(allowed)}, None or a callable. Received: {name}={value!r}")


def _ngrams(tokens, widths):
    out = []
    for n in widths:
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


class TextVectorization(Layer):
    """Map strings to token-id sequences or bag-of-tokens vectors; ``adapt(texts)`` builds the vocabulary."""

    _accepts_strings = True

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, vocabulary_size=None,
                 **kwargs):
        _check_arg("standardize", standardize, _STANDARDIZE)
        _check_arg("split", split, _SPLIT)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
            raise ValueError(f"Unknown value for `output_mode`. Allowed values are ['int', 'one_hot', 'multi_hot', "
                             f"'count', 'tf_idf']. Received: output_mode={output_mode!r}")
        if not (ngrams is None or isinstance(ngrams, int) or
                (isinstance(ngrams, tuple) and all(isinstance(i, int) for i in ngrams))):
            raise ValueError(f"`ngrams` must be None, an integer, or a tuple of integers. Received: ngrams={ngrams}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(output_sequence_length, int)):
            raise ValueError(f"`output_sequence_length` must be either None or an integer when `output_mode` is 'int'. "
                             f"Received: output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"`output_sequence_length` must not be set if `output_mode` is not 'int'. Received "
                             f"output_sequence_length={output_sequence_length}.")
        if ragged or sparse:
            raise ValueError("TextVectorization: ragged/sparse outputs are not supported here (dense outputs only)")
        kwargs.pop("has_input_vocabulary", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._standardize, self._split, self._ngrams_arg = standardize, split, ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode, self._output_sequence_length = output_mode, output_sequence_length
        self._encoding = encoding
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
                                          encoding=encoding, vocabulary_size=vocabulary_size)
        self.built = True

    # ------------------------------------------------------------- preprocessing
    def _strings(self, inputs):
        arr = np.asarray(_host(inputs) if isinstance(inputs, Tensor) else inputs)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        if arr.dtype.kind not in "UO":
            raise ValueError(f"TextVectorization '{self.name}': expected strings, got dtype {arr.dtype}")
        return arr.astype(np.str_)

    def _preprocess(self, inputs):
        """Standardized strings, then token lists (one per string) when splitting."""
        x = self._strings(inputs)
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            x = np.vectorize(lambda s: s.translate(_ASCII_LOWER), otypes=[np.str_])(x) if x.size else x
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            x = np.vectorize(lambda s: _PUNCTUATION.sub("", s), otypes=[np.str_])(x) if x.size else x
        if callable(self._standardize):
            x = np.asarray(self._standardize(x)).astype(np.str_)
        if self._split is None:
            if self._ngrams is not None:
                raise ValueError("TextVectorization: `ngrams` needs a `split`")
            return x
        if x.ndim > 1:
            if x.shape[-1] != 1:
                raise ValueError(f"When using `TextVectorization` to tokenize strings, the input rank must be 1 or the "
                                 f"last shape dimension must be 1. Received: inputs.shape={x.shape} with rank={x.ndim}")
            x = x[..., 0]
        x = x.reshape(-1)
        if self._split == "whitespace":
            tokens = [s.split() for s in x]
        elif self._split == "character":
            tokens = [list(s) for s in x]
        else:
            tokens = [list(t) for t in self._split(x)]
        if self._ngrams is not None:
            tokens = [_ngrams(t, self._ngrams) for t in tokens]
        return tokens

    @staticmethod
    def _pad(tokens, length=None):
        """Token lists -> a (batch, length) string array padded with "" (the mask token)."""
        longest = max((len(t) for t in tokens), default=0)
        width = longest if length is None else length
        out = np.full((len(tokens), width), "", dtype=object)
        for i, t in enumerate(tokens):
            t = t[:width]
            out[i, :len(t)] = t
        return out.astype(np.str_) if out.size else np.zeros((len(tokens), width), np.str_)

    # ------------------------------------------------------------- vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and idf weights for "tf_idf") from strings or batches of strings."""
        self._lookup_layer.reset_state()
        batches = [data] if isinstance(data, (np.ndarray, list, tuple, Tensor)) else data
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            self.update_state(batch[0] if isinstance(batch, tuple) else batch)
        self.finalize_state()

    def update_state(self, data):
        tokens = self._preprocess(data)
        if self._split is None:
            arr = np.asarray(tokens).reshape(len(tokens), -1) if np.ndim(tokens) else np.asarray([[tokens]])
            self._lookup_layer.update_state(arr)
            return
        padded = self._pad(tokens)
        lk = self._lookup_layer
        real = padded != ""
        toks, counts = np.unique(padded[real], return_counts=True)
        lk._counts.append((toks.astype(np.str_), counts))
        if lk.output_mode == "tf_idf":
            rows = np.repeat(np.arange(padded.shape[0]), padded.shape[1])[real.reshape(-1)]
            pairs = np.unique(np.stack([rows.astype(np.str_), padded[real]]), axis=1)[1]
            dt, dc = np.unique(pairs, return_counts=True)
            lk._doc_counts.append((dt.astype(np.str_), dc))
            lk._num_documents += padded.shape[0]

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def _asset_files(self):
        return self._lookup_layer._asset_files()  # Keras writes the vocabulary here and in _lookup_layer/

    def _load_asset_files(self, files):
        self._lookup_layer._load_asset_files(files)

    def _named_variable_arrays(self):
        return self._lookup_layer._named_variable_arrays()   # Keras stores them here and in _lookup_layer/

    def _load_named_variable_arrays(self, arrays):
        self._lookup_layer._load_named_variable_arrays(arrays)

    # ------------------------------------------------------------- call
    def _check_input(self, inputs):
        pass

    def _convert_input(self, x):
        return x

    def call(self, inputs):
        tokens = self._preprocess(inputs)
        if self._split is None:
            arr = np.asarray(tokens)
            arr = arr[..., None] if arr.ndim <= 1 else arr
            return self._lookup_layer.call(arr)
        if self._output_mode == "int":
            return self._lookup_layer.call(self._pad(tokens, self._output_sequence_length))
        padded = self._pad(tokens)
        return self._lookup_layer.call(padded)

    def _output_dtype(self, inputs):
        return "int64" if self._output_mode == "int" else backend.floatx()  # Keras's symbolic dtypes

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        lk = self._lookup_layer
        # the size when the model was built (a loaded layer's config "vocabulary_size"): its vocabulary
        # comes later, from the file's assets
        depth = lk.max_tokens if lk.pad_to_max_tokens else lk._frozen_vocab_size
        return (input_shape[0], depth) if self._output_mode != "one_hot" else tuple(input_shape) + (depth,)

    def get_config(self):
        lk = self._lookup_layer
        vocab = lk.input_vocabulary.tolist() if isinstance(lk.input_vocabulary, np.ndarray) else lk.input_vocabulary
        idf = lk.input_idf_weights.tolist() if isinstance(lk.input_idf_weights, np.ndarray) else lk.input_idf_weights
        return {**super().get_config(), "max_tokens": lk.max_tokens, "standardize": self._standardize,
                "split": self._split, "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
                "output_sequence_length": self._output_sequence_length, "pad_to_max_tokens": lk.pad_to_max_tokens,
                "sparse": False, "ragged": False, "vocabulary": vocab, "idf_weights": idf, "encoding": self._encoding,
                "vocabulary_size": self.vocabulary_size()}
