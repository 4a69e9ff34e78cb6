"""Baselines reported beside every model: naive (last value), seasonal naive (the value one season
earlier) and a linear autoregression fitted in closed form on the training windows."""
from __future__ import annotations

import numpy as np

from .windows import make_inputs, make_targets, unfold


def naive(series: np.ndarray, orig: np.ndarray, horizon: int) -> np.ndarray:
    """The last observed value repeated: (n, H, C)."""
    last = series[orig - 1]                                   # (n, C)
    return np.repeat(last[:, None, :], horizon, axis=1)


def seasonal_naive(series: np.ndarray, orig: np.ndarray, horizon: int, season_length: int) -> np.ndarray:
    """y[o + h] = y[o + h - m * (h // m + 1)]: the same point of the last observed season; naive
    where the history is shorter than one season."""
    m = max(int(season_length), 1)
    h = np.arange(horizon)
    idx = orig[:, None] + h[None, :] - m * (h[None, :] // m + 1)
    out = series[np.clip(idx, 0, None)]
    short = idx < 0
    if short.any():
        out[short] = np.repeat(series[orig - 1][:, None, :], horizon, axis=1)[short]
    return out


class LinearBaseline:
    """Ridge regression from the lookback to the horizon on windows relative to their last value,
    shared by all channels (fitted on the scaled training rows)."""

    def __init__(self, weights=None):
        self.weights = weights

    def fit(self, scaled: np.ndarray, orig: np.ndarray, lookback: int, horizon: int, ridge: float = 1e-3,
            max_samples: int = 60000, mask=None):
        """``mask`` (n, C): the (origin, channel) windows to fit on (default all)."""
        if len(orig) == 0:
            raise ValueError("LinearBaseline.fit: no training windows")
        C = scaled.shape[1]
        if len(orig) * C > max_samples:
            keep = np.linspace(0, len(orig) - 1, max(max_samples // C, 1)).astype(np.int64)
            orig, mask = orig[keep], (mask[keep] if mask is not None else None)
        x = make_inputs(scaled, None, orig, lookback)[:, :, 0].astype(np.float64)
        y = make_targets(scaled, orig, horizon).astype(np.float64)
        if mask is not None:
            x, y = x[mask.reshape(-1)], y[mask.reshape(-1)]
        last = x[:, -1:]
        a = np.concatenate([x - last, np.ones((len(x), 1))], axis=1)
        gram = a.T @ a
        reg = ridge * np.trace(gram) / len(gram) * np.eye(len(gram))
        reg[-1, -1] = 0.0
        self.weights = np.linalg.solve(gram + reg, a.T @ (y - last))
        return self

    def predict(self, scaled: np.ndarray, orig: np.ndarray, lookback: int) -> np.ndarray:
        """Scaled forecasts (n, H, C)."""
        x = make_inputs(scaled, None, orig, lookback)[:, :, 0].astype(np.float64)
        last = x[:, -1:]
        a = np.concatenate([x - last, np.ones((len(x), 1))], axis=1)
        return unfold((a @ self.weights + last).astype(np.float32), scaled.shape[1])
