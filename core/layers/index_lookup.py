"""``StringLookup`` and ``IntegerLookup``: map tokens to vocabulary indices (or back with
``invert=True``), with Keras's index layout and ``adapt``.

Indices: the ``mask_token`` (if any) is 0, then ``num_oov_indices`` OOV indices, then the
vocabulary in order. ``adapt`` builds the vocabulary by descending frequency, ties broken by the
token in descending order (Keras's ``np.lexsort(...)[::-1]``). Lookups are vectorised with a
sorted copy of the vocabulary and ``np.searchsorted``; several OOV indices take ``token % n`` for
integers (or FarmHash64, as strings always do; keyed SipHash with a ``salt``). Output modes: "int", "one_hot",
"multi_hot", "count", "tf_idf" (idf = log(1 + documents / (1 + document count))).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autodiff import Tensor
from .base import Layer
from .category_encoding import _host, encode_categorical, encoded_shape
from .hashing import hash_to_bins, standardize_salt

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_INT64_MAX = np.iinfo(np.int64).max


class IndexLookup(Layer):
    """The shared lookup machinery; use ``StringLookup`` or ``IntegerLookup``."""

    _string = True

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 name=None, oov_method="floormod", salt=None, **kwargs):
        cls = type(self).__name__
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"Unknown value for `oov_method`. Allowed values are ['floormod', 'farmhash']. "
                             f"Received: oov_method={oov_method!r}")
        if salt is not None and not self._string and oov_method != "farmhash":
            raise ValueError(f"`salt` can only be used when `oov_method='farmhash'`. Received: oov_method={oov_method}")
        salt = standardize_salt(salt, "IndexLookup")
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"If pad_to_max_tokens is True, must set `max_tokens`. Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError(f"`num_oov_indices` must be greater than or equal to 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in _MODES:
            raise ValueError(f"Unknown value for `output_mode`. Allowed values are {list(_MODES)}. Received: "
                             f"output_mode={output_mode!r}")
        if invert and output_mode != "int":
            raise ValueError(f"`output_mode` must be `'int'` when `invert` is true. Received: "
                             f"output_mode={output_mode}")
        if sparse:
            raise ValueError(f"{cls}: sparse=True is not supported (no sparse tensors here)")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"`idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: "
                             f"idf_weights={idf_weights} and output_mode={output_mode}")
        kwargs.pop("has_input_vocabulary", None)
        kwargs_vocab_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode, self.sparse = bool(invert), output_mode, False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.vocabulary_dtype = vocabulary_dtype
        self.oov_method, self.salt = oov_method, salt
        self.input_vocabulary = None if vocabulary is None or isinstance(vocabulary, str) else vocabulary
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = vocabulary is not None
        self._set_tokens(np.array([], dtype=self._np_dtype()))
        self._frozen_vocab_size = kwargs_vocab_size
        self.idf_weights = None
        self._saved_idf_weights = None   # read from a weights file before the vocabulary asset
        self.reset_state()
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` "
                             "argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    # ------------------------------------------------------------- layout
    def _np_dtype(self):
        return np.str_ if self._string else np.dtype(self.vocabulary_dtype)

    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def _as_tokens(self, values):
        arr = np.asarray(_host(values) if isinstance(values, Tensor) else values)
        if self._string:
            if arr.dtype.kind == "S":
                arr = np.char.decode(arr, "utf-8")
            return arr.astype(np.str_)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{type(self).__name__} '{self.name}': expected integer tokens, got dtype {arr.dtype}")
        return arr.astype(self._np_dtype())

    # ------------------------------------------------------------- vocabulary
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Set the vocabulary (a list/array of tokens, optionally starting with the special tokens)."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"`idf_weights` should only be set if output_mode is `'tf_idf'`. Received: "
                             f"output_mode={self.output_mode} and idf_weights={idf_weights}")
        if isinstance(vocabulary, str):
            raise ValueError(f"{type(self).__name__}: a vocabulary file path is not supported; pass the tokens")
        vocab = self._as_tokens(vocabulary).reshape(-1)
        if vocab.size == 0:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        found_special = len(vocab) >= start and [str(v) if self._string else int(v) for v in vocab[:start]] == \
            [str(v) if self._string else v for v in special]
        tokens = vocab[start:] if found_special else vocab
        uniq, counts = np.unique(tokens, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"The passed vocabulary has at least one repeated term. Please uniquify your dataset. "
                             f"The repeated terms are: {sorted(uniq[counts > 1].tolist())}")
        if self.mask_token is not None and (tokens == self.mask_token).any():
            raise ValueError(f"Found reserved mask token at unexpected location in `vocabulary`. Note that passed "
                             f"`vocabulary` does not need to include the OOV and mask tokens. Either remove all mask "
                             f"and OOV tokens, or include them only at the start of the vocabulary in precisely this "
                             f"order: {special}. Received: mask_token={self.mask_token} at vocabulary index "
                             f"{int(np.argwhere(vocab == self.mask_token)[-1][0])}")
        if self.oov_token is not None and self.invert and (tokens == self.oov_token).any():
            raise ValueError(f"Found reserved OOV token at unexpected location in `vocabulary`. Received: "
                             f"oov_token={self.oov_token}")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(f"Attempted to set a vocabulary larger than the maximum vocab size. Received vocabulary "
                             f"size is {start + len(tokens)}; `max_tokens` is {self.max_tokens}.")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            w = np.asarray(idf_weights, dtype=np.float64)
            if len(w) != len(vocab):
                raise ValueError(f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is {len(w)}; "
                                 f"len(vocabulary) is {len(vocab)}")
            front, front_value = (0, 0) if found_special else (start, np.average(w))
            back = self.max_tokens - front - len(w) if self.pad_to_max_tokens and self.max_tokens else 0
            self.idf_weights = np.pad(w, (front, back), constant_values=(front_value, 0)).astype(self.compute_dtype)

    def _set_tokens(self, tokens):
        self._tokens = np.asarray(tokens, dtype=self._np_dtype())
        self._order = np.argsort(self._tokens, kind="stable")
        self._sorted = self._tokens[self._order]
        self._frozen_vocab_size = self.vocabulary_size()

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary, by index (with the mask and OOV tokens first unless asked not to)."""
        tokens = [t.item() if hasattr(t, "item") else t for t in self._tokens]
        if not include_special_tokens:
            return tokens
        special = ([self.mask_token] if self._oov_start_index() else []) + [self.oov_token] * self.num_oov_indices
        return special + tokens

    def vocabulary_size(self):
        return len(self._tokens) + self._token_start_index()

    # ------------------------------------------------------------- .keras assets
    def _asset_files(self):
        """``{"vocabulary.txt": bytes}``: an adapted vocabulary, one token a line with the special
        tokens first, as Keras's ``save_assets`` writes it (a constructor vocabulary is in the config)."""
        if self.input_vocabulary is not None:
            return {}
        return {"vocabulary.txt": "\n".join(str(w) for w in self.get_vocabulary()).encode("utf-8")}

    def _load_asset_files(self, files):
        """Restore the vocabulary from ``_asset_files``'s ``vocabulary.txt`` (Keras's ``load_assets``)."""
        if self.input_vocabulary is not None or "vocabulary.txt" not in files:
            return
        try:
            lines = files["vocabulary.txt"].decode("utf-8").splitlines()
            while lines and lines[-1] == "":
                lines.pop()
            values = lines if self._string else [int(line) for line in lines]
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"{type(self).__name__} '{self.name}': unreadable vocabulary.txt ({e})") from None
        if self.output_mode != "tf_idf":
            self.set_vocabulary(values)
            return
        idf = self._saved_idf_weights
        if idf is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the file has an adapted 'tf_idf' vocabulary but no "
                             "idf weights ('idf_weights' in the layer's vars group of model.weights.h5): re-save it "
                             "with Keras 3 or this project")
        # the saved weights already have the special tokens' entries (and any padding): set the tokens
        # with placeholder weights, then the saved ones once their length is checked
        self.set_vocabulary(values, idf_weights=np.ones(len(values)))
        want = len(self.idf_weights)
        if idf.shape != (want,):
            raise ValueError(f"{type(self).__name__} '{self.name}': the file's idf weights have shape {idf.shape}, its "
                             f"vocabulary (special tokens included) needs ({want},): the weights and the "
                             "vocabulary.txt asset come from different saves; re-save the model")
        self.idf_weights = idf.astype(self.compute_dtype)

    # ------------------------------------------------------------- weights-file variables
    def _named_variable_arrays(self):
        """``{name: array}`` this layer keeps in its ``vars`` group besides its variables: a 'tf_idf'
        lookup's idf weights, as Keras's ``save_own_variables`` stores them (``idf_weights``)."""
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            return {"idf_weights": np.asarray(self.idf_weights, np.float32)}
        return {}

    def _load_named_variable_arrays(self, arrays):
        """Keep ``idf_weights`` from a weights file: Keras loads variables before assets, and the
        vocabulary asset then sets them (``_load_asset_files``); with a constructor vocabulary, now."""
        if self.output_mode != "tf_idf" or "idf_weights" not in arrays:
            return
        idf = np.asarray(arrays["idf_weights"])
        if idf.ndim != 1 or idf.dtype.kind != "f":
            raise ValueError(f"{type(self).__name__} '{self.name}': 'idf_weights' must be a 1-d float array, the file "
                             f"has {idf.dtype} {idf.shape}: the file is damaged or not a Keras 3 save; re-save the "
                             "model")
        self._saved_idf_weights = idf
        if self.input_vocabulary is not None:
            if self.idf_weights is not None and idf.shape != self.idf_weights.shape:
                raise ValueError(f"{type(self).__name__} '{self.name}': the file's idf weights have shape "
                                 f"{idf.shape}, the layer's {self.idf_weights.shape}: the file was saved from a "
                                 "layer with another vocabulary")
            self.idf_weights = idf.astype(self.compute_dtype)

    # ------------------------------------------------------------- adapt
    def adapt(self, data, steps=None):
        """Build the vocabulary from an array (or an iterable of batches) of tokens."""
        self.reset_state()
        if isinstance(data, (np.ndarray, list, tuple, Tensor)):
            arr = self._as_tokens(data)
            self.update_state(arr[:, None] if arr.ndim == 1 else arr)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static vocabulary via `vocabulary` in "
                             "the constructor.")
        arr = self._as_tokens(data)
        arr = arr.reshape(1, -1) if arr.ndim <= 1 else arr
        tokens, counts = np.unique(arr, return_counts=True)
        self._counts.append((tokens, counts))
        if self.output_mode == "tf_idf":
            rows = arr.reshape(arr.shape[0], -1)
            row_ids = np.repeat(np.arange(rows.shape[0]), rows.shape[1])
            pairs = np.unique(np.stack([row_ids.astype(np.str_) if self._string else row_ids,
                                        rows.reshape(-1)]), axis=1)[1]
            dt, dc = np.unique(self._as_tokens(pairs), return_counts=True)
            self._doc_counts.append((dt, dc))
            self._num_documents += rows.shape[0]

    @staticmethod
    def _merge(parts, dtype):
        if not parts:
            return np.array([], dtype=dtype), np.array([], dtype=np.int64)
        tokens = np.concatenate([p[0] for p in parts])
        counts = np.concatenate([p[1] for p in parts])
        uniq, inv = np.unique(tokens, return_inverse=True)
        return uniq, np.bincount(inv.reshape(-1), weights=counts, minlength=len(uniq)).astype(np.int64)

    def finalize_state(self):
        if self._has_input_vocabulary:
            return
        tokens, counts = self._merge(self._counts, self._np_dtype())
        if tokens.size == 0:
            return
        drop = np.zeros(len(tokens), bool)
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                drop |= tokens == special
        tokens, counts = tokens[~drop], counts[~drop]
        order = np.lexsort((tokens, counts))[::-1]
        if self.max_tokens:
            order = order[:self.max_tokens - self._token_start_index()]
        tokens = tokens[order]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            dt, dc = self._merge(self._doc_counts, self._np_dtype())
            per = np.zeros(len(tokens), np.float64)
            pos = np.searchsorted(dt, tokens)
            hit = (pos < len(dt)) & (dt[np.minimum(pos, len(dt) - 1)] == tokens)
            per[hit] = dc[pos[hit]]
            idf = np.log(1 + self._num_documents / (1 + per)).astype(self.compute_dtype)
            idf = np.pad(idf, (self._token_start_index(), 0), constant_values=idf.mean())
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - idf.size))
            self.idf_weights = idf
        self.reset_state()

    def reset_state(self):
        self._counts, self._doc_counts, self._num_documents = [], [], 0

    # ------------------------------------------------------------- call
    def _check_input(self, inputs):
        pass

    def _convert_input(self, x):
        return x

    def _lookup(self, tokens):
        start = self._token_start_index()
        if len(self._sorted):
            pos = np.searchsorted(self._sorted, tokens)
            pos_c = np.minimum(pos, len(self._sorted) - 1)
            found = self._sorted[pos_c] == tokens
            idx = np.where(found, self._order[pos_c] + start, -1).astype(np.int64)
        else:
            idx = np.full(tokens.shape, -1, np.int64)
        if self.num_oov_indices == 1:
            idx[idx == -1] = self._oov_start_index()
        elif self.num_oov_indices > 1:  # integers: floormod (Keras's default); strings or "farmhash": FarmHash64
            miss = idx == -1
            if not self._string and self.oov_method == "floormod":
                idx[miss] = np.mod(tokens[miss], self.num_oov_indices) + self._oov_start_index()
            else:
                idx[miss] = hash_to_bins(tokens[miss], self.num_oov_indices, self.salt) + self._oov_start_index()
        elif (idx == -1).any():
            raise ValueError(f"When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                             f"{np.unique(tokens[idx == -1]).tolist()}, consider setting `num_oov_indices=1`.")
        if self.mask_token is not None:
            idx[tokens == self.mask_token] = 0 if self.output_mode == "int" else _INT64_MAX
        return idx

    def _invert(self, ids):
        vocab = np.asarray(self.get_vocabulary(), dtype=object)
        ids = np.asarray(ids).astype(np.int64)
        ok = (ids >= 0) & (ids < len(vocab))
        out = np.where(ok, vocab[np.clip(ids, 0, len(vocab) - 1)], self.oov_token)
        if self.mask_token is not None:
            out = np.where(ids == 0, self.mask_token, out)
        return out.astype(self._np_dtype())

    def call(self, inputs):
        if self.invert:
            return self._invert(_host(inputs))
        tokens = self._as_tokens(inputs)
        idx = self._lookup(tokens)
        if self.output_mode == "int":
            return Tensor(idx)
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        if self.output_mode != "tf_idf":  # Keras: the counts keep the lookup's int64
            return Tensor(encode_categorical(idx, self.output_mode, depth, np.int64))
        if self.idf_weights is None:
            raise ValueError("When `output_mode` is `'tf_idf'`, `idf_weights` must be provided (adapt the layer or "
                             "pass a vocabulary with idf_weights).")
        out = encode_categorical(idx, "count", depth, self.compute_dtype)
        return Tensor((out * self.idf_weights[:depth]).astype(self.compute_dtype))

    def _output_dtype(self, inputs):
        if self.invert:
            return "string" if self._string else self.vocabulary_dtype
        return "int64" if self.output_mode == "int" else backend.floatx()  # Keras's symbolic dtypes

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        return encoded_shape(input_shape, self.output_mode if self.output_mode != "tf_idf" else "count", depth)

    def get_config(self):
        vocab = self.input_vocabulary
        if isinstance(vocab, np.ndarray):
            vocab = vocab.tolist()
        idf = self.input_idf_weights
        if isinstance(idf, np.ndarray):
            idf = idf.tolist()
        return {"invert": self.invert, "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "oov_token": self.oov_token, "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary_dtype": self.vocabulary_dtype, "idf_weights": idf, "vocabulary": vocab,
                "vocabulary_size": self.vocabulary_size(), "oov_method": self.oov_method, "salt": self.salt,
                "name": self.name, "trainable": self.trainable}


class StringLookup(IndexLookup):
    """Strings -> vocabulary indices ("[UNK]" for out-of-vocabulary tokens; ``invert=True`` maps back)."""

    _string = True
    _accepts_strings = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, vocabulary_size=None, **kwargs):
        if encoding != "utf-8":
            raise ValueError(f"StringLookup: only encoding='utf-8' is supported, got {encoding!r}")
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary_dtype="string", vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, vocabulary_size=vocabulary_size,
                         **kwargs)

    def get_config(self):
        config = {**super().get_config(), "encoding": self.encoding}
        config.pop("vocabulary_dtype", None)
        return config


class IntegerLookup(IndexLookup):
    """Integers -> vocabulary indices (OOV token -1; several OOV indices use ``token % n``)."""

    _string = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, name=None, vocabulary_size=None, **kwargs):
        if vocabulary_dtype not in ("int32", "int64"):
            raise ValueError(f"IntegerLookup: vocabulary_dtype must be 'int32' or 'int64', got {vocabulary_dtype!r}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary_dtype=vocabulary_dtype, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, vocabulary_size=vocabulary_size,
                         **kwargs)
