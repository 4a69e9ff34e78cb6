"""Embedding lookup: ``table[indices]`` with a scatter-add gradient for the table.

The table gradient accumulates repeated indices. On the CPU it sorts the indices and adds the
occurrences of every index round by round (see ``scatter_rows``); on a GPU it uses
``cupyx.scatter_add``.
"""
from __future__ import annotations

import numpy as np

from ..autodiff import Function, Tensor
from ..backend import device_of, get_xp, is_array, scatter_add, to_device
from ._util import OpError, tensors


_ROUNDS = 8  # occurrences of an index added by fancy-indexed rounds; beyond, per-run sums


def scatter_rows(xp, idx, g, num_rows):
    """A (num_rows, D) array holding, for each row r, the sum of ``g[i]`` over ``idx[i] == r``."""
    out = xp.zeros((num_rows, g.shape[1]), dtype=g.dtype)
    if idx.size == 0:
        return out
    if xp is not np:
        return scatter_add(xp, out, idx, g)
    # Sorted, every index's occurrences form a run. Round r adds the r-th occurrence of every
    # index at once (a fancy-indexed ``+=`` whose targets are distinct); occurrences past the
    # first _ROUNDS (a padding id repeated thousands of times) are summed per run by reduceat.
    # Measured (V=20000, D=128, 64x200 uniform ids): 5.8 ms, against 11.7 ms with reduceat alone
    # (slow per short run) and 15.0 ms with np.add.at.
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    gs = g[order]
    first = np.empty(s.size, dtype=bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    rank = np.arange(s.size) - np.repeat(starts, np.diff(np.append(starts, s.size)))
    for r in range(min(int(rank.max()) + 1, _ROUNDS)):
        sel = rank == r
        out[s[sel]] += gs[sel]
    rest = rank >= _ROUNDS
    if rest.any():
        rs = s[rest]
        rstarts = np.flatnonzero(np.concatenate(([True], rs[1:] != rs[:-1])))
        out[rs[rstarts]] += np.add.reduceat(gs[rest], rstarts, axis=0)
    return out


class Embedding(Function):
    def __init__(self, idx):
        self.idx = idx

    def forward(self, table):
        xp = get_xp(table)
        y = xp.take(table, self.idx, axis=0)
        self.num_rows = table.shape[0]
        if not self.needs_input_grad[0]:
            del self.idx
        return y

    def backward(self, gy):
        xp = get_xp(gy)
        d = gy.shape[-1]
        return scatter_rows(xp, self.idx.reshape(-1), gy.reshape(-1, d), self.num_rows)


def embedding(indices, table):
    """Rows of ``table`` (V, D) picked by integer ``indices`` of any shape -> (*indices.shape, D)."""
    op = "embedding"
    (table,) = tensors(op, table)
    if table.ndim != 2:
        raise OpError(f"{op}: table must have rank 2 (vocabulary, dim), got shape {tuple(table.shape)}")
    idx = indices.data if isinstance(indices, Tensor) else indices
    if not is_array(idx):
        idx = np.asarray(idx)
        if idx.dtype == object:
            raise OpError(f"{op}: indices must be integers, got {type(indices).__name__}")
    if idx.dtype.kind not in "iu":
        raise OpError(f"{op}: indices must have an integer dtype, got {idx.dtype} (shape {tuple(idx.shape)}); "
                      "cast with .astype('int64')")
    v = table.shape[0]
    if device_of(idx) != table.device:
        idx = to_device(idx, table.device)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= v:
            bad = lo if lo < 0 else hi
            raise OpError(f"{op}: index {bad} is out of range for a table of {v} rows (shape {tuple(table.shape)}); "
                          f"indices must be in [0, {v - 1}]")
    return Embedding(idx).apply(table)
