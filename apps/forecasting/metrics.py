"""Forecast errors per horizon step and overall: MAE, MSE, RMSE, MAPE (zero-safe), sMAPE, MASE."""
from __future__ import annotations

import warnings

import numpy as np

METRIC_NAMES = ("mae", "mse", "rmse", "mape", "smape", "mase")


def mase_scale(history: np.ndarray, season_length: int) -> np.ndarray:
    """Per-channel in-sample mean absolute seasonal difference of the training rows (T, C).
    Lag 1 when the history is not longer than the season; NaN for a channel without variation."""
    h = np.asarray(history, dtype=np.float64)
    m = int(season_length) if int(season_length) < len(h) else 1
    if len(h) <= m:
        return np.full(h.shape[1], np.nan)
    d = np.abs(h[m:] - h[:-m])
    seen = np.isfinite(d)  # NaN: rows outside a series of a long-format file
    scale = np.where(seen, d, 0.0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1)
    scale = np.where(seen.any(axis=0), scale, np.nan)
    return np.where(scale > 0, scale, np.nan)


def _clean(x):
    x = float(x)
    return None if not np.isfinite(x) else x


def forecast_metrics(y_true: np.ndarray, y_pred: np.ndarray, scale: np.ndarray, std=None) -> dict:
    """Errors of forecasts (n, H, C) against the truth, in the data's units.

    MAPE skips the points where the truth is 0 (null when all are); sMAPE counts 0/0 as 0; both are
    percentages. MASE divides each channel's absolute errors by ``scale`` (:func:`mase_scale`).
    With ``std`` (per channel), ``scaled_mae`` / ``scaled_mse`` are the errors on z-scored data.
    Every metric comes overall and as ``per_step`` lists of length H (averaged over origins and channels).
    NaN in y_true marks windows that do not exist (series of different lengths): they are left out.
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 3:
        raise ValueError(f"forecast_metrics: y_true {t.shape} and y_pred {p.shape} must both be (n, H, C)")
    e = p - t
    ae = np.abs(e)
    nonzero = np.abs(t) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(nonzero, ae / np.abs(t), np.nan) * 100.0
        denom = np.abs(t) + np.abs(p)
        sape = np.where(denom > 0, 2.0 * ae / denom, np.where(np.isnan(e), np.nan, 0.0)) * 100.0
        sae = ae / np.asarray(scale, dtype=np.float64)
    red = (0, 2)  # over origins and channels

    def nanmean(a, axis=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(a, axis=axis)

    out = {
        "mae": nanmean(ae), "mse": nanmean(e ** 2), "rmse": np.sqrt(nanmean(e ** 2)),
        "mape": nanmean(ape), "smape": nanmean(sape), "mase": nanmean(sae),
    }
    per_step = {
        "mae": nanmean(ae, red), "mse": nanmean(e ** 2, red), "rmse": np.sqrt(nanmean(e ** 2, red)),
        "mape": nanmean(ape, red), "smape": nanmean(sape, red), "mase": nanmean(sae, red),
    }
    result = {k: _clean(v) for k, v in out.items()}
    if std is not None:
        z = e / np.asarray(std, dtype=np.float64)
        result["scaled_mae"] = _clean(nanmean(np.abs(z)))
        result["scaled_mse"] = _clean(nanmean(z ** 2))
        per_step["scaled_mae"] = nanmean(np.abs(z), red)
        per_step["scaled_mse"] = nanmean(z ** 2, red)
    result["per_step"] = {k: [_clean(x) for x in v] for k, v in per_step.items()}
    return result
