"""Scaling fitted on the training part, and sliding windows (lookback -> horizon) with the target
channels folded into the batch (channel-independent forecasting)."""
from __future__ import annotations

import numpy as np


class Scaler:
    """Per-column z-score with statistics from the training rows only (std 0 is treated as 1)."""

    def __init__(self, mean, std, columns=None):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.columns = list(columns) if columns is not None else None

    @classmethod
    def fit(cls, values: np.ndarray, columns=None) -> "Scaler":
        """Statistics of each column's values; NaN (rows outside a series of a long-format file) are skipped."""
        v = np.asarray(values, dtype=np.float64)
        seen = np.isfinite(v)
        count = seen.sum(axis=0)
        mean = np.where(seen, v, 0.0).sum(axis=0) / np.maximum(count, 1)
        std = np.sqrt(np.where(seen, (v - mean) ** 2, 0.0).sum(axis=0) / np.maximum(count, 1))
        std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        return cls(mean, std, columns)

    @classmethod
    def identity(cls, n, columns=None) -> "Scaler":
        return cls(np.zeros(n), np.ones(n), columns)

    def transform(self, values):
        return ((np.asarray(values, dtype=np.float32) - self.mean) / self.std).astype(np.float32)

    def inverse(self, values, cols=slice(None)):
        """Back to the original units; ``cols`` picks the statistics of the columns in ``values``' last axis."""
        return (np.asarray(values, dtype=np.float32) * self.std[cols] + self.mean[cols]).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "columns": self.columns}

    @classmethod
    def from_dict(cls, d) -> "Scaler":
        return cls(d["mean"], d["std"], d.get("columns"))


def origins(start: int, end: int, lookback: int, horizon: int, stride: int = 1) -> np.ndarray:
    """Forecast origins ``o`` (index of the first forecast step) with targets in rows [start, end)
    and the lookback rows [o - lookback, o) inside the data (they may reach before ``start``)."""
    first = max(int(start), int(lookback))
    last = int(end) - int(horizon)
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, int(stride), dtype=np.int64)


def part_origins(bounds, starts, lookback: int, horizon: int, stride: int = 1):
    """Per-channel forecast origins: channel c's have their targets in rows [bounds[c][0], bounds[c][1]) and
    their lookback inside the channel's rows (from ``starts[c]``), every ``stride`` from its first.
    Returns the origins of any channel (n,) and the mask (n, C) of the (origin, channel) windows that exist."""
    b = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    first = np.maximum(b[:, 0], np.asarray(starts, dtype=np.int64) + int(lookback))
    last = b[:, 1] - int(horizon)
    ok = last >= first
    if not ok.any():
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(b)), dtype=bool)
    orig = np.arange(first[ok].min(), last[ok].max() + 1, dtype=np.int64)
    o = orig[:, None]
    mask = (o >= first) & (o <= last) & ((o - first) % int(stride) == 0)
    keep = mask.any(axis=1)
    return orig[keep], mask[keep]


def masked(values: np.ndarray, mask) -> np.ndarray:
    """Forecast-shaped values (n, H, C) with NaN where the (origin, channel) window does not exist."""
    if mask is None or mask.all():
        return values
    return np.where(mask[:, None, :], values, np.nan)


def make_inputs(targets: np.ndarray, covariates: np.ndarray, orig: np.ndarray, lookback: int) -> np.ndarray:
    """Model inputs (n * C, lookback, 1 + F): for each origin and target channel, that channel's
    lookback followed by the shared feature columns."""
    n, C = len(orig), targets.shape[1]
    idx = orig[:, None] + np.arange(-lookback, 0)[None, :]           # (n, L)
    tv = targets[idx].transpose(0, 2, 1).reshape(n * C, lookback, 1)  # (n*C, L, 1)
    if covariates is None or covariates.shape[1] == 0:
        return np.ascontiguousarray(tv, dtype=np.float32)
    fv = covariates[idx]                                               # (n, L, F)
    fv = np.broadcast_to(fv[:, None], (n, C) + fv.shape[1:]).reshape(n * C, lookback, -1)
    return np.concatenate([tv, fv], axis=-1).astype(np.float32)


WINDOW_SCALE_FLOOR = 1e-3  # in z-scored units: a flat window still gets an interval


def window_scale(targets: np.ndarray, orig: np.ndarray, lookback: int) -> np.ndarray:
    """The standard deviation (n, C) of each lookback window of each target channel (at least
    WINDOW_SCALE_FLOOR): the unit of the normalised conformal scores."""
    idx = orig[:, None] + np.arange(-lookback, 0)[None, :]
    return np.maximum(np.asarray(targets, dtype=np.float64)[idx].std(axis=1), WINDOW_SCALE_FLOOR)


def make_targets(targets: np.ndarray, orig: np.ndarray, horizon: int) -> np.ndarray:
    """Targets (n * C, horizon) in the same order as :func:`make_inputs`."""
    n, C = len(orig), targets.shape[1]
    idx = orig[:, None] + np.arange(horizon)[None, :]                  # (n, H)
    return np.ascontiguousarray(targets[idx].transpose(0, 2, 1).reshape(n * C, horizon), dtype=np.float32)


def unfold(pred: np.ndarray, n_channels: int) -> np.ndarray:
    """Model outputs (n * C, H) back to (n, H, C)."""
    n = pred.shape[0] // n_channels
    return pred.reshape(n, n_channels, -1).transpose(0, 2, 1)


def truth(targets: np.ndarray, orig: np.ndarray, horizon: int) -> np.ndarray:
    """The true values (n, H, C) after each origin."""
    return targets[orig[:, None] + np.arange(horizon)[None, :]]
