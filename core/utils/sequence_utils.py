"""``pad_sequences``: lists of variable-length sequences to one padded array (Keras semantics)."""
from __future__ import annotations

import numpy as np


def _pad_reference(sequences, lengths, maxlen, sample_shape, dtype, padding, truncating, value):
    """The plain per-sequence loop (Keras's algorithm); the vectorised path is tested against it."""
    x = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not lengths[idx]:
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: sample shape {trunc.shape[1:]} of the sequence at position {idx} "
                             f"differs from the expected shape {sample_shape}")
        if padding == "post":
            x[idx, :len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or truncate) each sequence to ``maxlen`` (default: the longest) and stack them.

    ``padding``/``truncating`` = ``"pre"`` (default: pad or cut at the start) or ``"post"``;
    ``value`` fills the padding; elements may be scalars or arrays of one shape (then the
    result is ``(num_samples, maxlen) + sample_shape``). Returns a NumPy array of ``dtype``.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be a list of sequences (it has no length)")
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating must be "pre" or "post", got {truncating!r}')
    lengths = np.empty(len(sequences), dtype=np.int64)
    sample_shape = None
    for i, s in enumerate(sequences):
        try:
            lengths[i] = len(s)
        except TypeError:
            raise ValueError(f"pad_sequences: `sequences` must be a list of sequences; the element at "
                             f"position {i} is {type(s).__name__} {s!r:.60}") from None
        if sample_shape is None and lengths[i]:
            sample_shape = np.asarray(s).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = int(lengths.max()) if len(lengths) else 0
    maxlen = int(maxlen)
    if maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be >= 0, got {maxlen}")
    is_str_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_str_dtype:
        raise ValueError(f"pad_sequences: dtype {dtype} is not compatible with the string padding value "
                         f"{value!r}; pass dtype=object (or a string dtype) for strings")
    if maxlen == 0:
        return np.full((len(sequences), 0) + tuple(sample_shape), value, dtype=dtype)
    if sample_shape or dtype is object or is_str_dtype:
        return _pad_reference(sequences, lengths, maxlen, tuple(sample_shape), dtype, padding, truncating, value)

    # every sequence is flat: one concatenation and one scatter
    n = len(sequences)
    x = np.full((n, maxlen), value, dtype=dtype)
    if not n or not lengths.any():
        return x
    flat = np.concatenate([np.asarray(s, dtype=dtype).reshape(-1) for s in sequences if len(s)])
    if flat.size != lengths.sum():
        raise ValueError("pad_sequences: every element of the sequences must be a scalar or an array of one shape")
    keep = np.minimum(lengths, maxlen)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    src0 = starts + (lengths - keep if truncating == "pre" else 0)
    dst0 = (maxlen - keep) if padding == "pre" else np.zeros(n, dtype=np.int64)
    rows = np.repeat(np.arange(n), keep)
    within = np.arange(int(keep.sum())) - np.repeat(np.cumsum(keep) - keep, keep)
    x[rows, np.repeat(dst0, keep) + within] = flat[np.repeat(src0, keep) + within]
    return x
