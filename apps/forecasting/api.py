"""The forecaster in Python (the ``zoo forecast`` pipeline without the command line)::

    from apps.forecasting import Forecaster

    f = Forecaster(lookback=24, horizon=12).fit("airline.csv", target="Passengers")   # or an array
    f.selection            # --model auto: which candidate won, validation errors
    out = f.predict()      # {"dates", "targets", "mean" (H, C), "lower"/"upper" {80: (H, C)}, "quantiles" {0.1: ...}}
    f.backtest()           # rolling-origin metrics beside the baselines
    f.save("runs/air"); g = Forecaster.load("runs/air")
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from core.distribute import writes_files

from .data import ForecastDataError, Series, series_from_arrays
from .pipeline import MODEL_FILE, TrainConfig, backtest, load_forecaster, predict, train

_RUN_FILES = ("model.h5", "metrics.json", "args.json", "forecast.csv", "future.csv", "forecast.png")


class Forecaster:
    """Direct multi-step forecaster: ``lookback`` past steps -> ``horizon`` future ones.

    ``model``: "auto" (the lowest validation error among ``candidates``), "linear", "transformer" or
    "lstm". ``intervals`` (percent levels, conformal) or ``quantiles`` (pinball-trained network) give
    prediction intervals. Other keyword options are :class:`pipeline.TrainConfig`'s (split, epochs,
    season_length, norm, seed, stride, ...)."""

    def __init__(self, lookback, horizon, model="auto", *, intervals=None, quantiles=None, candidates=None, **options):
        self.lookback, self.horizon, self.model_kind = int(lookback), int(horizon), model
        self.intervals = _join(intervals)
        self.quantiles = _join(quantiles)
        self.candidates = _join(candidates)
        self.options = options
        self.metrics = None
        self._model = self._assets = self._series = None
        self._dir = None

    # ------------------------------------------------------------------ fitting
    def fit(self, data, target=None, *, dates=None, features=None, covariates=None, date_column=None,
            date_format=None, output=None, verbose=False):
        """Train on ``data``: a CSV path (``target`` column(s), optional ``features``, ``date_column``) or
        an array (T,) / (T, C) with optional ``dates`` and ``covariates`` (T, F). Writes the run folder
        (``output``, else a temporary one) and returns ``self``."""
        if isinstance(data, (str, Path)):
            if target is None:
                raise ForecastDataError("fit(csv): give target= (the column(s) to forecast)")
            series, csv = None, str(data)
        else:
            series, csv = series_from_arrays(data, dates, target, features, covariates, date_format), "<array>"
        if output is None:
            self._dir = tempfile.TemporaryDirectory(prefix="zoo-forecast-")
            output = self._dir.name
        cfg = TrainConfig(csv=csv, target=target or [], output=str(output), lookback=self.lookback,
                          horizon=self.horizon, model=self.model_kind, candidates=self.candidates,
                          intervals=self.intervals, quantiles=self.quantiles, features=features or [],
                          date_column=date_column, date_format=date_format, **self.options)
        say = print if verbose else (lambda s: None)
        self.metrics = train(cfg, echo=say, quiet=not verbose, warn=print, series=series)
        self.output = Path(output)
        self._model, self._assets = load_forecaster(self.output)
        self._series = series if series is not None else str(data)
        return self

    @property
    def selection(self):
        """``--model auto``'s choice: {"winner", "validation_mae_z", "margin"} (None for a named model)."""
        return (self.metrics or {}).get("selection")

    @property
    def model_name(self):
        return self._assets["forecast"]["model"] if self._assets else None

    # ------------------------------------------------------------------ using it
    def predict(self, horizon=None, data=None, *, dates=None, covariates=None) -> dict:
        """Forecast the steps after ``data`` (default: the data it was fitted on; a CSV path or an array with
        the fitted columns). ``horizon`` <= the trained horizon (the model forecasts that many steps at once).
        Returns {"dates", "targets", "mean" (h, C), "lower"/"upper" {level: (h, C)}, "quantiles" {tau: (h, C)}};
        for long-format series that end at different dates, each column is that series' own next steps and
        "series_dates" {target: dates} says which ("dates" are those of the series that end last)."""
        self._require_fitted()
        H = int(self._assets["horizon"])
        h = H if horizon is None else int(horizon)
        if not 1 <= h <= H:
            raise ForecastDataError(f"horizon {h}: this model forecasts 1..{H} steps at once (train with a longer "
                                    "horizon for more)")
        source = self._source(data, dates, covariates)
        columns, rows = predict((self._model, self._assets), source, echo=lambda s: None)
        targets = list(self._assets["columns"]["targets"])
        values = np.array([[float(v) if v != "" else np.nan for v in r[1:]] for r in rows], dtype=np.float64)
        staggered = bool(np.isnan(values).any())  # long-format series ending at different dates: each its own steps
        own_dates = {t: [r[0] for r, v in zip(rows, values[:, columns.index(t)]) if not np.isnan(v)][:h]
                     for t in targets} if staggered else None
        if staggered:
            values = np.stack([col[~np.isnan(col)] for col in values.T], axis=1)
        values = values[:h]
        col = {c: values[:, i] for i, c in enumerate(columns)}
        out = {"dates": [r[0] for r in rows[-H:][:h]], "targets": targets,
               "mean": np.stack([col[t] for t in targets], axis=1), "lower": {}, "upper": {}, "quantiles": {}}
        out["quantiles"][0.5] = out["mean"]
        levels = sorted({float(c.rsplit("_lo", 1)[1]) for c in columns if "_lo" in c and c.rsplit("_lo", 1)[0] in targets})
        for p in levels:
            lo = np.stack([col[f"{t}_lo{p:g}"] for t in targets], axis=1)
            hi = np.stack([col[f"{t}_hi{p:g}"] for t in targets], axis=1)
            out["lower"][p], out["upper"][p] = lo, hi
            tau = round((1 - p / 100) / 2, 6)
            out["quantiles"][tau], out["quantiles"][round(1 - tau, 6)] = lo, hi
        out["quantiles"] = dict(sorted(out["quantiles"].items()))
        if staggered:
            out["series_dates"] = own_dates  # "dates" are then those of the series that end last
        return out

    def backtest(self, data=None, start=None, step=1, *, dates=None, covariates=None) -> dict:
        """Rolling-origin metrics of the model and the baselines from ``start`` (a row or a fraction;
        default: the test part) every ``step`` rows, on ``data`` (default: the fitted data)."""
        self._require_fitted()
        result, _ = backtest((self._model, self._assets), self._source(data, dates, covariates), start=start,
                             step=step)
        return result

    def save(self, path):
        """Copy the run folder (model.h5 holds everything predict needs) to ``path`` (under
        data-parallel training, on rank 0 only, which alone wrote the run folder)."""
        self._require_fitted()
        dst = Path(path)
        if not writes_files():
            return dst
        dst.mkdir(parents=True, exist_ok=True)
        for name in _RUN_FILES:
            if (self.output / name).exists() and (self.output / name).resolve() != (dst / name).resolve():
                shutil.copy2(self.output / name, dst / name)
        return dst

    @classmethod
    def load(cls, path):
        """A fitted Forecaster from a run folder or model.h5 (of ``save`` or ``zoo forecast train``)."""
        model, assets = load_forecaster(path)
        f = cls(int(assets["lookback"]), int(assets["horizon"]), assets["forecast"]["model"])
        f._model, f._assets = model, assets
        p = Path(path)
        f.output = p if p.is_dir() else p.parent
        metrics = f.output / "metrics.json"
        if metrics.exists():
            import json

            f.metrics = json.loads(metrics.read_text())
        return f

    # ------------------------------------------------------------------ helpers
    def _require_fitted(self):
        if self._model is None:
            raise ForecastDataError("this Forecaster is not fitted: call fit(data) or Forecaster.load(path)")

    def _source(self, data, dates, covariates):
        if data is None:
            if self._series is None:
                raise ForecastDataError("a loaded Forecaster has no data of its own: pass data= (a CSV path or an "
                                        "array)")
            return self._series
        if isinstance(data, (str, Path)):
            return str(data)
        if isinstance(data, Series):
            return data
        cols = self._assets["columns"]
        return series_from_arrays(data, dates, cols["targets"], cols["features"], covariates,
                                  None if dates is None else None)


def _join(v):
    if v is None or isinstance(v, str):
        return v
    return ",".join(f"{float(x):g}" for x in v)
