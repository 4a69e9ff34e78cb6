"""WordPiece tokenization as BERT does it: the ``BertTokenizer`` of Hugging Face ``transformers`` 5
(the Rust ``tokenizers`` one that sentence-transformers uses), id for id.

    tok = WordPieceTokenizer.from_file("vocab.txt")             # lower-casing BERT vocabulary
    batch = tok(["Hello, world!", "Héllo"], max_length=128)     # dict of (B, T) int64 arrays
    batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]

The basic tokenizer cleans the text (drops NUL, U+FFFD and control characters, maps white space
to spaces), puts spaces around CJK ideographs, strips accents (NFD, combining marks dropped) and
lower-cases character by character (so a final capital sigma becomes "σ", where the slow Python
tokenizer's ``str.lower`` writes "ς"), and splits on punctuation (every non-alphanumeric printable ASCII
character and every Unicode ``P*`` character). Each word is then cut greedily into the longest
vocabulary pieces, continuation pieces carrying ``##``; a word that cannot be cut (or longer
than ``max_input_chars_per_word``) becomes ``[UNK]``. Special tokens written in the text
(``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]``, ``[MASK]``) are kept whole, as Hugging Face does.

The character work runs through ``str.translate`` with lazily filled, cached per-character
tables, and the pieces of each distinct word are cached, so repeated words cost a dict lookup.
"""
from __future__ import annotations

import os
import re
import unicodedata

import numpy as np

__all__ = ["WordPieceTokenizer", "load_vocab", "basic_tokenize"]


# --------------------------------------------------------------------------- character classes
def _is_whitespace(ch):
    if ch in " \t\n\r":
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class _LazyTable(dict):
    """A ``str.translate`` table filled on first sight of each code point (None = delete)."""

    def __init__(self, fn):
        super().__init__()
        self._fn = fn

    def __missing__(self, cp):
        v = self._fn(cp)
        self[cp] = v
        return v


def _clean_entry(cp, chinese):
    ch = chr(cp)
    if cp == 0 or cp == 0xFFFD or _is_control(ch):
        return None
    if _is_whitespace(ch):
        return " "
    if chinese and _is_cjk(cp):
        return f" {ch} "
    return cp


_CLEAN = {True: _LazyTable(lambda cp: _clean_entry(cp, True)),
          False: _LazyTable(lambda cp: _clean_entry(cp, False))}
_STRIP_MN = _LazyTable(lambda cp: None if unicodedata.category(chr(cp)) == "Mn" else cp)
_PUNCT = _LazyTable(lambda cp: f" {chr(cp)} " if _is_punctuation(chr(cp)) else cp)
_ASCII_CLEAN = {i: None for i in range(32) if chr(i) not in "\t\n\r"}
_ASCII_CLEAN.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " ", 0x7F: None})
_ASCII_WORDS = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9\s]")


def basic_tokenize(text, lowercase=True, strip_accents=None, tokenize_chinese_chars=True, split_on_punc=True):
    """BERT's basic tokenizer: clean, split CJK characters, lower-case and strip accents, split
    on punctuation and white space. ``strip_accents=None`` follows ``lowercase``."""
    if not isinstance(text, str):
        raise TypeError(f"basic_tokenize expects a str, got {type(text).__name__}")
    strip = lowercase if strip_accents is None else bool(strip_accents)
    if text.isascii():  # fast path: no accents, no CJK, every printable non-alphanumeric is punctuation
        text = text.translate(_ASCII_CLEAN)
        if lowercase:
            text = text.lower()
        return _ASCII_WORDS.findall(text) if split_on_punc else text.split()
    text = text.translate(_CLEAN[bool(tokenize_chinese_chars)])
    if strip:
        text = unicodedata.normalize("NFD", text).translate(_STRIP_MN)
    if lowercase:  # per character, as the Rust normalizer: no final-sigma rule
        text = text.replace("\u03a3", "\u03c3").lower()
    if split_on_punc:
        text = text.translate(_PUNCT)
    return text.split()


# --------------------------------------------------------------------------- vocabulary
def load_vocab(path):
    """Token -> id from a ``vocab.txt`` (one token a line, the id is the line number)."""
    path = os.fspath(path)
    with open(path, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    if tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise ValueError(f"vocabulary file {path} is empty")
    return {t: i for i, t in enumerate(tokens)}


class WordPieceTokenizer:
    """BERT WordPiece tokenizer from a vocabulary (a ``vocab.txt`` path, a list of tokens or a
    token -> id dict).

    ``tok(texts, text_pair=None, max_length=None, padding="longest", truncation=True)`` returns
    a dict of int64 arrays ``input_ids``, ``attention_mask`` (1 = token, 0 = padding) and
    ``token_type_ids`` (0 for the first segment, 1 for the second), each of shape (B, T):
    ``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]``, cut to ``max_length`` (pairs: the longer
    segment loses tokens first, as ``truncation="longest_first"``), padded with ``[PAD]``.
    """

    def __init__(self, vocab, lowercase=True, strip_accents=None, tokenize_chinese_chars=True, max_length=512,
                 unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]",
                 max_input_chars_per_word=100):
        if isinstance(vocab, (str, os.PathLike)):
            vocab = load_vocab(vocab)
        elif not isinstance(vocab, dict):
            vocab = {t: i for i, t in enumerate(vocab)}
        self.vocab = dict(vocab)
        self.inv_vocab = {i: t for t, i in self.vocab.items()}
        self.lowercase = bool(lowercase)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.max_length = int(max_length)
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.unk_token, self.cls_token, self.sep_token = unk_token, cls_token, sep_token
        self.pad_token, self.mask_token = pad_token, mask_token
        missing = [t for t in (unk_token, cls_token, sep_token, pad_token) if t not in self.vocab]
        if missing:
            raise ValueError(f"WordPieceTokenizer: the vocabulary lacks the special token(s) {missing}")
        self.unk_id = self.vocab[unk_token]
        self.cls_id = self.vocab[cls_token]
        self.sep_id = self.vocab[sep_token]
        self.pad_id = self.vocab[pad_token]
        self.mask_id = self.vocab.get(mask_token)
        specials = [t for t in (unk_token, sep_token, pad_token, cls_token, mask_token) if t in self.vocab]
        self.special_tokens = specials
        self._special_ids = {self.vocab[t] for t in specials}
        self._special_re = re.compile("(" + "|".join(re.escape(t) for t in sorted(specials, key=len, reverse=True))
                                      + ")")
        self._word_cache: dict[str, tuple] = {}

    @classmethod
    def from_file(cls, path, **kwargs):
        """A tokenizer reading ``vocab.txt`` at ``path``."""
        return cls(load_vocab(path), **kwargs)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def __len__(self):
        return len(self.vocab)

    def __repr__(self):
        return (f"WordPieceTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase}, "
                f"max_length={self.max_length})")

    # ------------------------------------------------------------- tokens
    def _word_ids(self, word):
        ids = self._word_cache.get(word)
        if ids is not None:
            return ids
        vocab = self.vocab
        if len(word) > self.max_input_chars_per_word:
            ids = (self.unk_id,)
        else:
            out, start, n = [], 0, len(word)
            while start < n:
                end = n
                piece = None
                while start < end:
                    sub = word[start:end] if start == 0 else "##" + word[start:end]
                    if sub in vocab:
                        piece = vocab[sub]
                        break
                    end -= 1
                if piece is None:
                    out = [self.unk_id]
                    break
                out.append(piece)
                start = end
            ids = tuple(out)
        if len(self._word_cache) < 500_000:
            self._word_cache[word] = ids
        return ids

    def _text_ids(self, text):
        if not isinstance(text, str):
            raise TypeError(f"WordPieceTokenizer expects str texts, got {type(text).__name__}")
        parts = self._special_re.split(text) if any(t in text for t in self.special_tokens) else [text]
        ids = []
        for i, part in enumerate(parts):
            if i % 2:  # a special token written in the text
                ids.append(self.vocab[part])
                continue
            for w in basic_tokenize(part, self.lowercase, self.strip_accents, self.tokenize_chinese_chars):
                ids.extend(self._word_ids(w))
        return ids

    def tokenize(self, text):
        """The WordPiece tokens of ``text`` (no special tokens added)."""
        return [self.inv_vocab[i] for i in self._text_ids(text)]

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_id)
        return [self.vocab.get(t, self.unk_id) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, (int, np.integer)):
            return self.inv_vocab[int(ids)]
        return [self.inv_vocab[int(i)] for i in ids]

    def decode(self, ids, skip_special_tokens=True):
        """Text from ids: pieces joined, ``##`` continuations glued to the previous piece."""
        toks = [self.inv_vocab[int(i)] for i in np.asarray(ids).reshape(-1)
                if not (skip_special_tokens and int(i) in self._special_ids)]
        return " ".join(toks).replace(" ##", "").strip()

    # ------------------------------------------------------------- encoding
    def _max_len(self, max_length):
        n = self.max_length if max_length is None else int(max_length)
        if n < 2:
            raise ValueError(f"max_length must be >= 2 (room for [CLS] and [SEP]), got {max_length}")
        return n

    def _build(self, a, b, max_length, truncation):
        """[CLS] a [SEP] (b [SEP]) ids and their segment ids, truncated to max_length."""
        special = 3 if b is not None else 2
        room = max_length - special
        if truncation:
            if b is None:
                a = a[:max(room, 0)]
            elif len(a) + len(b) > room:
                if room < 0:
                    raise ValueError(f"max_length={max_length} leaves no room for a text pair")
                # longest_first as the Rust tokenizers: the shorter segment (the first on ties) keeps
                # min(its length, room // 2) tokens, the longer one the rest
                la, lb = len(a), len(b)
                short = min(la, lb)
                keep_short = short if short <= room // 2 else room // 2
                keep_long = room - keep_short
                keep_a, keep_b = (keep_short, keep_long) if la <= lb else (keep_long, keep_short)
                a, b = a[:keep_a], b[:keep_b]
        ids = [self.cls_id] + list(a) + [self.sep_id]
        types = [0] * len(ids)
        if b is not None:
            ids += list(b) + [self.sep_id]
            types += [1] * (len(b) + 1)
        return ids, types

    def encode(self, text, text_pair=None, max_length=None, truncation=True):
        """Ids of ``[CLS] text [SEP]`` (``[CLS] text [SEP] text_pair [SEP]``), cut to ``max_length``."""
        n = self._max_len(max_length)
        b = self._text_ids(text_pair) if text_pair is not None else None
        return self._build(self._text_ids(text), b, n, truncation)[0]

    def __call__(self, texts, text_pair=None, max_length=None, padding="longest", truncation=True,
                 pad_to_multiple_of=None):
        """Tokenize a text or a list of texts (and their pairs) into padded (B, T) int64 arrays."""
        if isinstance(texts, str):  # one text: a batch of one
            texts = [texts]
            if text_pair is not None:
                text_pair = [text_pair]
        texts = list(texts)
        if text_pair is not None:
            text_pair = list(text_pair)
            if len(text_pair) != len(texts):
                raise ValueError(f"text_pair must have one entry per text: {len(texts)} texts, "
                                 f"{len(text_pair)} pairs")
        n = self._max_len(max_length)
        seqs, segs = [], []
        for i, t in enumerate(texts):
            b = self._text_ids(text_pair[i]) if text_pair is not None else None
            ids, types = self._build(self._text_ids(t), b, n, truncation)
            seqs.append(ids)
            segs.append(types)
        return self.pad(seqs, segs, padding=padding, max_length=n, pad_to_multiple_of=pad_to_multiple_of)

    def pad(self, sequences, token_types=None, padding="longest", max_length=None, pad_to_multiple_of=None):
        """Pad lists of ids (e.g. from ``encode``) into the (B, T) int64 arrays ``__call__`` returns."""
        seqs = [list(s) for s in sequences]
        segs = [list(t) for t in token_types] if token_types is not None else [[0] * len(s) for s in seqs]
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        if any(len(a) != len(b) for a, b in zip(seqs, segs)) or len(segs) != len(seqs):
            raise ValueError("pad: token_types must match the sequences one for one and in length")
        longest = int(lengths.max()) if len(seqs) else 0
        if padding in (True, "longest"):
            T = longest
        elif padding == "max_length":
            T = self._max_len(max_length)
        elif padding in (False, None, "do_not_pad"):
            if len(set(lengths.tolist())) > 1:
                raise ValueError("padding=False needs texts of equal token length; use padding='longest'")
            T = longest
        else:
            raise ValueError(f"padding must be 'longest', 'max_length' or False, got {padding!r}")
        if pad_to_multiple_of:
            m = int(pad_to_multiple_of)
            T = -(-T // m) * m
        if longest > T:
            raise ValueError(f"a text has {longest} tokens, more than the padded length {T} "
                             "(truncation=False with padding='max_length')")
        mask = np.arange(T)[None, :] < lengths[:, None]
        input_ids = np.full((len(seqs), T), self.pad_id, dtype=np.int64)
        token_type_ids = np.zeros((len(seqs), T), dtype=np.int64)
        total = int(lengths.sum())
        if total:
            input_ids[mask] = np.fromiter((i for s in seqs for i in s), dtype=np.int64, count=total)
            token_type_ids[mask] = np.fromiter((i for s in segs for i in s), dtype=np.int64, count=total)
        return {"input_ids": input_ids, "attention_mask": mask.astype(np.int64), "token_type_ids": token_type_ids}
