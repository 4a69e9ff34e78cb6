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
    # Sorted, every index's occurrences form a run. Round r writes the r-th occurrence of every
    # index at once (a fancy-indexed assignment for the first, whose targets are distinct and
    # still zero, then ``+=``); occurrences past the first _ROUNDS (a padding id repeated
    # thousands of times) are summed per run by reduceat. The rows of ``g`` are gathered per
    # round, not sorted as a whole. Indices below 2**16 sort as uint16 (NumPy's stable sort is
    # then a radix sort). The alternatives measured: benchmarks/README.md.
    keys = idx.astype(np.uint16) if num_rows <= 1 << 16 else idx
    order = np.argsort(keys, kind="stable")
    s = idx[order]
    first = np.empty(s.size, dtype=bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    rank = np.arange(s.size) - np.repeat(starts, np.diff(np.append(starts, s.size)))
    out[s[starts]] = g[order[starts]]
    for r in range(1, min(int(rank.max()) + 1, _ROUNDS)):
        sel = np.flatnonzero(rank == r)
        out[s[sel]] += g[order[sel]]
    rest = np.flatnonzero(rank >= _ROUNDS)
    if rest.size:
        rs = s[rest]
        rstarts = np.flatnonzero(np.concatenate(([True], rs[1:] != rs[:-1])))
        out[rs[rstarts]] += np.add.reduceat(g[order[rest]], rstarts, axis=0)
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
