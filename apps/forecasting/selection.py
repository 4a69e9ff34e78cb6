"""``--model auto``: the candidates (the trained networks and the baselines themselves) and the choice
among them by validation error.

The baselines are written as the ``linear`` network with fixed weights, so whichever candidate wins,
``model.h5`` is an ordinary forecasting model that ``predict``/``backtest`` read the same way:

* naive and seasonal naive select inputs (a selection commutes with the per-window normalisation, so
  any ``norm`` gives them exactly);
* the ridge baseline (:class:`baselines.LinearBaseline`) is affine in the globally scaled window, so it is
  built with ``norm="none"``: ``y = last + W'(x - last) + b = A'x + b`` with ``A = W`` and
  ``A[last] += 1 - sum(W)``.
"""
from __future__ import annotations

import numpy as np

from .models import build_model

TRAINED = ("linear", "transformer", "lstm")
BASELINES = ("naive", "seasonal_naive", "ridge")
CANDIDATES = TRAINED + BASELINES


def parse_candidates(text) -> list:
    from .data import ForecastDataError

    names = [t.strip() for t in str(text).split(",") if t.strip()] if text else list(CANDIDATES)
    bad = [n for n in names if n not in CANDIDATES]
    if bad or not names:
        raise ForecastDataError(f"--candidates: unknown {', '.join(bad) or '(none given)'}; choose among "
                                f"{', '.join(CANDIDATES)}")
    return list(dict.fromkeys(names))


def _set_linear(model, matrix, bias, lookback, n_inputs):
    """Both Dense maps of a ``linear`` network set to one (L, H) matrix on the target channel (the trend
    and seasonal parts then add back to the window); features get zero weights."""
    H = matrix.shape[1]
    kernel = np.zeros((lookback * n_inputs, H), dtype=np.float32)
    kernel[0::n_inputs] = matrix  # Flatten of (L, 1 + F): the target channel is every (1 + F)-th entry
    model.get_layer("trend_linear").set_weights([kernel, np.asarray(bias, np.float32)])
    model.get_layer("seasonal_linear").set_weights([kernel, np.zeros(H, np.float32)])


def baseline_model(name, lookback, horizon, n_inputs, season_length=1, ridge=None, norm="revin"):
    """The baseline ``name`` as a saved-able network (batch, L, 1 + F) -> (batch, H)."""
    L, H = lookback, horizon
    if name == "ridge":
        w = np.asarray(ridge.weights, dtype=np.float64)  # (L + 1, H): window-minus-last weights, then the bias
        a = w[:L].copy()
        a[L - 1] += 1.0 - w[:L].sum(axis=0)
        model = build_model("linear", L, H, n_inputs, norm="none")
        _set_linear(model, a, w[L], L, n_inputs)
        return model
    m = max(int(season_length), 1) if name == "seasonal_naive" else 1
    h = np.arange(H)
    src = L + h - m * (h // m + 1)  # the same point of the last observed season (naive: the last value)
    src = np.where(src < 0, L - 1, src)  # lookback shorter than the season: the last value, as the baseline
    a = np.zeros((L, H))
    a[src, h] = 1.0
    model = build_model("linear", L, H, n_inputs, norm=norm)
    _set_linear(model, a, np.zeros(H), L, n_inputs)
    return model


def choose(scores: dict, errors: dict = None, horizon: int = 1):
    """(winner, margin) for ``scores`` {candidate: validation error}: the lowest (ties: the first listed),
    except that a network must beat the best baseline by more than one standard error of their paired
    per-origin differences (``errors`` {candidate: (n_origins,) errors}; overlapping windows counted as
    n / horizon independent ones): closer, the baseline is kept (the one-standard-error rule).
    margin: the runner-up, the relative gap, and the standard error when the rule was applied."""
    order = list(scores)
    ranked = sorted(scores.items(), key=lambda kv: (kv[1], order.index(kv[0])))
    best, rule = ranked[0], None
    simple = [kv for kv in ranked if kv[0] in BASELINES]
    if best[0] not in BASELINES and simple and errors is not None:
        d = np.asarray(errors[best[0]], dtype=np.float64) - np.asarray(errors[simple[0][0]], dtype=np.float64)
        if len(d) > 1:
            se = float(d.std(ddof=1) / np.sqrt(max(len(d) / max(int(horizon), 1), 1.0)))
            rule = {"network": best[0], "baseline": simple[0][0], "mean_difference": float(d.mean()),
                    "standard_error": se, "baseline_kept": bool(-d.mean() <= se)}
            if rule["baseline_kept"]:
                best = simple[0]
    if len(ranked) == 1:
        return best[0], None
    second = next(kv for kv in ranked if kv[0] != best[0])
    margin = {"runner_up": second[0], "relative": (second[1] - best[1]) / best[1] if best[1] > 0 else None}
    if rule:
        margin["one_standard_error_rule"] = rule
    return best[0], margin
