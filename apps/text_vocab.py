"""Word-level tokenizer and vocabulary of the ``lstm`` and ``transformer`` text models.

Texts are lower-cased (optionally) and cut by a Unicode-aware regex into words (letters,
digits and underscores of any script, with inner apostrophes: ``don't``, ``l'été``) and single
symbols (``!``, ``£``, ``?``: they carry signal, e.g. in spam). The vocabulary holds the most
frequent words of the training texts: id 0 is ``<pad>``, id 1 ``<unk>`` (any other word).
It is saved with the model as JSON (:meth:`Vocabulary.to_config`).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

PAD, UNK = "<pad>", "<unk>"
WORD_PATTERN = r"\w+(?:['\u2019]\w+)*|[^\w\s]"


class Vocabulary:
    """Word <-> id mapping with ``<pad>`` = 0 and ``<unk>`` = 1."""

    def __init__(self, tokens, lowercase=True, pattern=WORD_PATTERN):
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {[PAD, UNK]}, got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("the vocabulary has duplicate tokens")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        self.lowercase = bool(lowercase)
        self.pattern = pattern
        self._re = re.compile(pattern)

    def __len__(self):
        return len(self.tokens)

    def __repr__(self):
        return f"Vocabulary({len(self)} tokens, lowercase={self.lowercase})"

    def split(self, text):
        """The words of one text."""
        return self._re.findall(text.lower() if self.lowercase else text)

    @classmethod
    def build(cls, texts, max_size=20000, min_count=1, lowercase=True, pattern=WORD_PATTERN):
        """The ``max_size - 2`` most frequent words (seen at least ``min_count`` times) of ``texts``;
        ties keep the order of first appearance, so the result is deterministic."""
        if max_size < 3:
            raise ValueError(f"the vocabulary size must be at least 3 (<pad>, <unk> and one word), got {max_size}")
        rx = re.compile(pattern)
        counts = Counter()
        for t in texts:
            counts.update(rx.findall(t.lower() if lowercase else t))
        words = [w for w, c in counts.most_common(max_size - 2) if c >= min_count]
        return cls([PAD, UNK] + words, lowercase=lowercase, pattern=pattern)

    def encode(self, text, max_length=None):
        """Ids of one text (the first ``max_length`` words)."""
        words = self.split(text)
        if max_length is not None:
            words = words[:max_length]
        get = self.index.get
        return [get(w, 1) for w in words]

    def encode_batch(self, texts, max_length=None):
        """One id list per text."""
        return [self.encode(t, max_length) for t in texts]

    def coverage(self, texts):
        """Fraction of the words of ``texts`` that are in the vocabulary."""
        total = known = 0
        for t in texts:
            w = self.split(t)
            total += len(w)
            known += sum(1 for x in w if x in self.index)
        return known / total if total else 1.0

    def to_config(self):
        return {"type": "words", "tokens": self.tokens, "lowercase": self.lowercase, "pattern": self.pattern}

    @classmethod
    def from_config(cls, config):
        if config.get("type", "words") != "words":
            raise ValueError(f"not a word vocabulary: type {config.get('type')!r}")
        return cls(config["tokens"], lowercase=config.get("lowercase", True), pattern=config.get("pattern", WORD_PATTERN))


def pad_batch(sequences, pad_id=0, length=None):
    """(B, T) int64 array of id lists padded at the end with ``pad_id``; T = the longest (at least 1),
    or ``length``."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    T = int(length if length is not None else max(1, int(lengths.max()) if len(lengths) else 1))
    out = np.full((len(sequences), T), pad_id, dtype=np.int64)
    mask = np.arange(T)[None, :] < np.minimum(lengths, T)[:, None]
    total = int(mask.sum())
    if total:
        out[mask] = np.fromiter((i for s in sequences for i in s[:T]), dtype=np.int64, count=total)
    return out
