"""Prediction intervals and their scores.

Conformal intervals (split conformal, one radius per horizon step, normalised by the local scale): the
absolute errors of a model's validation forecasts, in the z-scored units of the targets and divided by
the standard deviation of each forecast's lookback window, give for each level p the radius
``q_h`` = the ceil((n + 1) p)-th smallest of the n scores of step h; the interval is the point forecast
+- ``q_h`` times the window's standard deviation times the target's scale, so it widens in volatile
stretches and narrows in calm ones (locally weighted conformal prediction; the exchangeability
guarantee is that of the normalised scores). Levels are nested by construction (a higher level takes a later
order statistic), so bounds never cross. With fewer than 1/(1 - p) - 1 validation windows the exact
rank does not exist and the largest error is used (reported as ``undercalibrated``).

Scores (the GluonTS definitions): coverage (share of true values inside), mean width, and the
weighted quantile loss ``wQL = 2 * sum(pinball_tau(y, q_tau)) / sum(|y|)`` averaged over the
quantiles the intervals imply (the lower and upper bound of each level and the point forecast as the
median).
"""
from __future__ import annotations

import math

import numpy as np

from .data import ForecastDataError


def parse_levels(text) -> list:
    """``"80,95"`` -> [80.0, 95.0] (percent, each in (0, 100), increasing, no repeats); "none" -> []."""
    if text is None or str(text).strip().lower() in ("", "none"):
        return []
    try:
        levels = sorted({float(t) for t in str(text).split(",")})
    except ValueError:
        raise ForecastDataError(f"--intervals {text!r}: expected percentages such as 80,95 (or none)") from None
    bad = [v for v in levels if not 0 < v < 100]
    if bad:
        raise ForecastDataError(f"--intervals {text!r}: levels are percentages strictly between 0 and 100")
    return levels


def parse_quantiles(text) -> list:
    """``"0.1,0.5,0.9"`` -> [0.1, 0.5, 0.9]: inside (0, 1), in symmetric pairs (tau, 1 - tau) that form
    intervals; the median 0.5 (the point forecast) is added when missing."""
    try:
        qs = sorted({round(float(t), 6) for t in str(text).split(",") if t.strip()} | {0.5})
    except ValueError:
        raise ForecastDataError(f"--quantiles {text!r}: expected numbers such as 0.1,0.5,0.9") from None
    if any(not 0 < q < 1 for q in qs):
        raise ForecastDataError(f"--quantiles {text!r}: quantiles lie strictly between 0 and 1")
    unpaired = [q for q in qs if round(1 - q, 6) not in qs]
    if unpaired or len(qs) < 3:
        raise ForecastDataError(f"--quantiles {text!r}: give pairs tau and 1 - tau (e.g. 0.1,0.9 for an 80% interval)"
                                + (f"; unpaired: {', '.join(f'{q:g}' for q in unpaired)}" if unpaired else ""))
    return qs


def quantile_pairs(quantiles) -> list:
    """[(level %, index of tau, index of 1 - tau)] for the pairs below the median, narrowest level first."""
    qs = [round(float(q), 6) for q in quantiles]
    pairs = [(round(100 * (1 - 2 * q), 6), i, qs.index(round(1 - q, 6))) for i, q in enumerate(qs) if q < 0.5]
    return sorted(pairs)


def conformal_radii(residuals: np.ndarray, levels) -> tuple:
    """Radii (len(levels), H) from validation errors ``residuals`` (n, H) (absolute, any unit), and the
    levels whose exact conformal rank needed more windows than there are."""
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    r = np.sort(r[np.isfinite(r).all(axis=1)], axis=0)  # NaN rows: windows that do not exist
    n = r.shape[0]
    if n == 0:
        raise ForecastDataError("prediction intervals need validation forecasts: give --split a validation part")
    out, short = [], []
    for p in levels:
        k = math.ceil((n + 1) * p / 100.0)
        if k > n:
            short.append(p)
            k = n
        out.append(r[k - 1])
    return np.stack(out), short


def bounds(point: np.ndarray, radii: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(lower, upper) arrays (levels, n, H, C) around point forecasts (n, H, C): radii (levels, H) times
    ``scale``: per channel (C,) or per forecast and channel (n, C)."""
    sc = np.asarray(scale, dtype=np.float64)
    half = radii[:, None, :, None] * (sc[None, None, None, :] if sc.ndim == 1 else sc[None, :, None, :])
    p = np.asarray(point, dtype=np.float64)[None]
    return p - half, p + half


def pinball(y, q, tau):
    """Pinball (quantile) loss elementwise: tau * (y - q) if y >= q else (1 - tau) * (q - y)."""
    d = np.asarray(y, dtype=np.float64) - np.asarray(q, dtype=np.float64)
    return np.maximum(tau * d, (tau - 1) * d)


def interval_metrics(y_true, point, lower, upper, levels) -> dict:
    """Coverage and mean width per level, and the weighted quantile loss over the implied quantiles."""
    y = np.asarray(y_true, dtype=np.float64)
    seen = np.isfinite(y)  # NaN: windows that do not exist (series of different lengths)
    denom = np.abs(y[seen]).sum()
    out = {"levels": {}, "wql": None}
    losses = [pinball(y, point, 0.5)[seen].sum()]
    for i, p in enumerate(levels):
        lo, hi = lower[i], upper[i]
        out["levels"][f"{p:g}"] = {"coverage": float(((y >= lo) & (y <= hi))[seen].mean()),
                                   "mean_width": float((hi - lo)[seen].mean())}
        a = (1 - p / 100.0) / 2
        losses += [pinball(y, lo, a)[seen].sum(), pinball(y, hi, 1 - a)[seen].sum()]
    if denom > 0:
        out["wql"] = float(2 * np.mean(losses) / denom)
    return out
