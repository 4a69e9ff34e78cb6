"""The three jobs behind ``zoo forecast``: train (with evaluation against the baselines on the
test part), backtest a saved model from rolling origins, and predict the steps after a CSV."""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from core.distribute import writes_files

from . import baselines as bl
from .covariates import with_known_future
from .data import NO_DATES, ForecastDataError, Series, load_series, parse_split, split_names
from .intervals import bounds, conformal_radii, interval_metrics, parse_levels, parse_quantiles, quantile_pairs
from .losses import PinballLoss
from .metrics import forecast_metrics, mase_scale
from .windows import (Scaler, make_inputs, make_targets, masked, part_origins, truth, unfold,
                      window_scale)

MODEL_FILE = "model.h5"
# per-model training defaults (the CLI shows them in --help)
# (epochs and patience: at least these; small data gets more epochs, see resolve_epochs)
TRAIN_DEFAULTS = {
    "linear": {"learning_rate": 1e-3, "batch_size": 32, "epochs": 10, "patience": 3},
    "transformer": {"learning_rate": 1e-3, "batch_size": 128, "epochs": 10, "patience": 3},
    "lstm": {"learning_rate": 2e-3, "batch_size": 32, "epochs": 20, "patience": 5},
}
DEFAULT_INTERVALS = "80,95"  # when there is a validation part to calibrate them on
MIN_STEPS = 1500      # default epochs give at least this many optimizer steps (small series need many epochs)
MAX_AUTO_EPOCHS = 500


@dataclass
class TrainConfig:
    """Everything ``zoo forecast train`` resolves from its arguments (written to args.json)."""
    csv: str
    target: list
    output: str
    lookback: int
    horizon: int
    model: str = "auto"
    candidates: str = None
    intervals: str = None
    quantiles: str = None
    features: list = field(default_factory=list)
    date_column: str = None
    date_format: str = None
    id_column: str = None
    future_covariates: list = None
    calendar: bool = False
    holidays: str = None
    split: str = "0.7,0.1,0.2"
    stride: int = 1
    season_length: int = None
    epochs: int = None
    batch_size: int = None
    learning_rate: float = None
    warmup_epochs: float = 1.0
    patience: int = None
    loss: str = "mse"
    norm: str = "revin"
    seed: int = 0
    fill: str = None
    device: str = None
    hyperparameters: dict = field(default_factory=dict)

    @property
    def quantile_list(self):
        return parse_quantiles(self.quantiles) if self.quantiles else None

    def resolve(self):
        d = TRAIN_DEFAULTS[self.model]
        for k in ("learning_rate", "batch_size"):
            if getattr(self, k) is None:
                setattr(self, k, d[k])
        return self

    def resolve_epochs(self, n_windows: int):
        """Default epochs: the model's base count, or enough for MIN_STEPS optimizer steps on small data
        (at most MAX_AUTO_EPOCHS); default patience: the base count or a tenth of the epochs."""
        d = TRAIN_DEFAULTS[self.model]
        if self.epochs is None:
            steps = max(math.ceil(n_windows / self.batch_size), 1)
            self.epochs = int(min(max(d["epochs"], math.ceil(MIN_STEPS / steps)), MAX_AUTO_EPOCHS))
        if self.patience is None:
            self.patience = int(max(d["patience"], math.ceil(0.1 * self.epochs)))
        return self


def _check_positive(name, value, minimum=1):
    if value is None or int(value) < minimum:
        raise ForecastDataError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _set_device(device):
    if device:
        from core import backend

        try:
            backend.set_default_device(device)
        except (RuntimeError, ValueError, TypeError) as e:
            raise ForecastDataError(f"--device {device}: {e}") from None


def _split_counts(n, cfg, who=""):
    """(train, val, test) rows of a series of ``n`` rows under ``--split``, each part checked."""
    try:
        n_train, n_val, n_test = parse_split(cfg.split, n)
    except ForecastDataError as e:
        raise ForecastDataError(f"{who}{e}") from None
    L, H = cfg.lookback, cfg.horizon
    if L + H > n_train:
        raise ForecastDataError(
            f"{who}the horizon is longer than the data allows: one training window needs lookback {L} + horizon "
            f"{H} = {L + H} rows, but the training part has {n_train} of the {n} rows (--split {cfg.split}); lower "
            "--lookback/--horizon or give the training part more rows")
    if n_val and n_val < H:
        raise ForecastDataError(f"{who}the validation part has {n_val} rows, fewer than the horizon {H}: it holds no "
                                "complete forecast; give it at least horizon rows or 0 (--split)")
    if n_test < H:
        raise ForecastDataError(f"{who}the horizon is longer than the data allows: the test part has {n_test} rows, "
                                f"fewer than the horizon {H}; give it at least {H} rows (--split)")
    return n_train, n_val, n_test


def _check_lengths(series: Series, L, H):
    """A series of a long-format file shorter than lookback + horizon is an error naming it."""
    spans = _spans(series)
    short = [f"{name!r} has {b - a} rows" for name, (a, b) in zip(series.targets, spans) if b - a < L + H]
    if short:
        raise ForecastDataError(f"series {'; '.join(short[:5])}{f' (and {len(short) - 5} more)' if len(short) > 5 else ''}"
                                f", fewer than lookback {L} + horizon {H} = {L + H}: too short for one forecast "
                                "window; drop it from the file or lower --lookback/--horizon")


def _spans(series: Series):
    return series.spans or [(0, len(series))] * len(series.targets)


@dataclass
class Parts:
    """Each target channel's rows (start, end) and its train/val/test row counts: all alike for a wide
    file; per series for a long-format file of different lengths (the split applies to each series' rows)."""
    spans: np.ndarray   # (C, 2)
    counts: np.ndarray  # (C, 3)

    @classmethod
    def of(cls, series: Series, cfg: TrainConfig) -> "Parts":
        spans = np.asarray(_spans(series), dtype=np.int64)
        if series.spans is None:
            counts = [_split_counts(len(series), cfg)] * len(spans)
        else:
            counts = [_split_counts(int(b - a), cfg, f"series {name!r} ({b - a} rows): ")
                      for name, (a, b) in zip(series.targets, spans)]
        return cls(spans, np.asarray(counts, dtype=np.int64))

    @property
    def uniform(self) -> bool:
        return bool((self.spans == self.spans[0]).all() and (self.counts == self.counts[0]).all())

    def bounds(self, part: int) -> np.ndarray:
        """(C, 2) rows [a, b) of part 0 (train), 1 (val) or 2 (test) of each channel."""
        ends = self.spans[:, :1] + np.cumsum(self.counts, axis=1)
        start = self.spans[:, 0] if part == 0 else ends[:, part - 1]
        return np.stack([start, ends[:, part]], axis=1)

    def origins(self, part: int, L: int, H: int, stride: int = 1):
        return part_origins(self.bounds(part), self.spans[:, 0], L, H, stride)

    def rows(self, T: int, upto: int) -> np.ndarray:
        """(T, C) mask of each channel's rows from its start to the end of part ``upto``."""
        t = np.arange(T)[:, None]
        return (t >= self.spans[:, 0]) & (t < self.bounds(upto)[:, 1])


def _loss(name):
    from core import losses

    table = {"mse": losses.MeanSquaredError(), "mae": losses.MeanAbsoluteError(), "huber": losses.Huber()}
    if name not in table:
        raise ForecastDataError(f"unknown --loss {name!r}; choose mse, mae or huber")
    return table[name]


def _fit(model, cfg, xtr, ytr, val, quiet=False):
    from apps.progress import EpochProgress
    from core import callbacks, optimizers, schedules

    steps = math.ceil(len(xtr) / cfg.batch_size)
    total = max(steps * cfg.epochs, 1)
    warm = min(int(round(cfg.warmup_epochs * steps)), total // 2)
    lr = schedules.CosineDecay(cfg.learning_rate * 0.1 if warm else cfg.learning_rate, max(total - warm, 1),
                               alpha=0.01, warmup_target=cfg.learning_rate if warm else None, warmup_steps=warm)
    model.compile(optimizer=optimizers.Adam(lr), loss=PinballLoss(cfg.quantile_list) if cfg.quantile_list
                  else _loss(cfg.loss))
    cbs = [EpochProgress(cfg.epochs, quiet=quiet, steps=steps, max_lines=20)]
    stopper = None
    if val is not None:
        stopper = callbacks.EarlyStopping("val_loss", patience=cfg.patience, restore_best_weights=True)
        cbs.append(stopper)
    hist = model.fit(xtr, ytr, batch_size=cfg.batch_size, epochs=cfg.epochs, validation_data=val, verbose=0,
                     callbacks=cbs, validation_batch_size=max(cfg.batch_size, 256))
    h = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    best = int(np.argmin(h["val_loss"])) + 1 if "val_loss" in h else len(h.get("loss", []))
    return {"epochs_run": len(h.get("loss", [])), "best_epoch": best, "history": h}


def _model_quantiles(model):
    """The quantiles a network forecasts (its MonotoneQuantiles head), or None for a point forecaster."""
    try:
        return list(model.get_layer("quantiles").quantiles)
    except (ValueError, AttributeError, KeyError):
        return None


def _predict_raw(model, scaled, cov, orig, lookback, n_channels, batch=1024):
    """Scaled forecasts (n, H, C), or (n, H, C, Q) for a quantile network."""
    out = model.predict(make_inputs(scaled, cov, orig, lookback), batch_size=batch, verbose=0)
    if out.ndim == 3:
        n = out.shape[0] // n_channels
        return out.reshape(n, n_channels, out.shape[1], out.shape[2]).transpose(0, 2, 1, 3)
    return unfold(out, n_channels)


def _predict_scaled(model, scaled, cov, orig, lookback, n_channels, batch=1024):
    """Scaled point forecasts (n, H, C): a quantile network's median."""
    out = _predict_raw(model, scaled, cov, orig, lookback, n_channels, batch)
    return out[..., _model_quantiles(model).index(0.5)] if out.ndim == 4 else out


def _quantile_bounds(model, scaled, cov, scaler, orig, L, n_ch):
    """(levels, lower, upper) of a quantile network: each symmetric pair (tau, 1 - tau) is the
    (1 - 2 tau) interval; bounds (levels, n, H, C) in the data's units."""
    q = _model_quantiles(model)
    raw = np.moveaxis(_predict_raw(model, scaled, cov, orig, L, n_ch), -1, 0)  # (Q, n, H, C)
    inv = np.stack([scaler.inverse(a, slice(0, n_ch)) for a in raw]).astype(np.float64)
    pairs = quantile_pairs(q)
    return [lv for lv, _, _ in pairs], np.stack([inv[a] for _, a, _ in pairs]), np.stack([inv[b] for _, _, b in pairs])


def _evaluate(model, scaled, cov, raw, scaler, orig, cfg, n_ch, linear, mase_sc, mask=None):
    """Metrics of the model and the baselines on the origins (the (origin, channel) windows of ``mask``
    (n, C); all by default), in the data's units."""
    H, L, m = cfg.horizon, cfg.lookback, cfg.season_length
    y_true = masked(truth(raw, orig, H), mask)
    std = scaler.std[:n_ch]
    preds = {"model": scaler.inverse(_predict_scaled(model, scaled, cov, orig, L, n_ch), slice(0, n_ch)),
             "naive": bl.naive(raw, orig, H),
             "seasonal_naive": bl.seasonal_naive(raw, orig, H, m),
             "linear": scaler.inverse(linear.predict(scaled, orig, L), slice(0, n_ch))}
    preds = {k: masked(p, mask) for k, p in preds.items()}
    metrics = {k: forecast_metrics(y_true, p, mase_sc, std) for k, p in preds.items()}
    return metrics, preds, y_true


def _scores(pred, truth_, scale):
    """Conformal scores (n * C, H): absolute errors of forecasts (n, H, C) over their windows' scale (n, C)."""
    return (np.abs(pred - truth_) / scale[:, None, :]).transpose(0, 2, 1).reshape(-1, pred.shape[1])


def _per_target(y_true, preds, mase_sc, std, targets):
    out = {}
    for j, name in enumerate(targets):
        out[name] = {}
        for k, p in preds.items():
            mt = forecast_metrics(y_true[:, :, j:j + 1], p[:, :, j:j + 1], mase_sc[j:j + 1], std[j:j + 1])
            mt.pop("per_step")
            out[name][k] = mt
    return out


def _tell(series, echo, warn):
    for w in series.warnings:
        (warn or echo)(w)
    for note in series.notes:
        echo(note)


def _candidate_cfg(cfg, kind):
    """The training settings of one candidate network: the user's values, else the kind's defaults."""
    from .models import DEFAULTS

    c = replace(cfg, model=kind,
                hyperparameters={k: v for k, v in cfg.hyperparameters.items() if k in DEFAULTS[kind]})
    return c.resolve()


def _train_network(kind, cfg, dims, data, echo, quiet):
    from core import random as zrandom

    from .models import DEFAULTS, build_model

    L, H, n_in, n_windows = dims
    xtr, ytr, val = data
    c = _candidate_cfg(cfg, kind).resolve_epochs(n_windows)
    if cfg.model == "auto" and kind == "transformer" and "patch_len" not in c.hyperparameters \
            and L < DEFAULTS["transformer"]["patch_len"]:  # a short lookback: patches that fit it
        c.hyperparameters["patch_len"] = max(L // 2, 1)
        c.hyperparameters.setdefault("patch_stride", max(L // 4, 1))
    zrandom.set_seed(cfg.seed)
    np.random.seed(cfg.seed)
    try:
        model = build_model(kind, L, H, n_in, norm=cfg.norm, quantiles=c.quantile_list, **c.hyperparameters)
    except ValueError as e:
        raise ForecastDataError(str(e)) from None
    echo(f"model: {kind} ({model.count_params():,} parameters), lr {c.learning_rate:g} cosine with "
         f"warmup, batch {c.batch_size}, up to {c.epochs} epochs"
         + (f", early stopping (patience {c.patience})" if val is not None else " (no validation part: no early stopping)"))
    t0 = time.time()
    info = _fit(model, c, xtr, ytr, val, quiet)
    info["train_seconds"] = round(time.time() - t0, 2)
    return model, info, c


def train(cfg: TrainConfig, echo=print, quiet=False, warn=None, series: Series = None) -> dict:
    """Train a forecaster (``cfg.model``, or with ``"auto"`` the candidate with the lowest validation error),
    compare it with the baselines on the test part, calibrate prediction intervals on the validation part,
    write the output folder. ``echo`` gets the information lines, ``warn`` (default ``echo``) the
    warnings; epochs are shown in the apps' progress style (stderr) unless ``quiet``. ``series`` (the
    Python API's arrays) replaces reading ``cfg.csv``."""
    from .models import DEFAULTS
    from .selection import BASELINES, baseline_model, choose, parse_candidates

    if cfg.model not in ("auto",) + tuple(TRAIN_DEFAULTS):
        raise ForecastDataError(f"unknown --model {cfg.model!r}; choose auto, {', '.join(TRAIN_DEFAULTS)}")
    kinds = parse_candidates(cfg.candidates) if cfg.model == "auto" else [cfg.model]
    if cfg.quantiles is not None:
        cfg.quantiles = ",".join(f"{q:g}" for q in parse_quantiles(cfg.quantiles))
        if cfg.model == "auto":
            raise ForecastDataError("--quantiles trains one network with the pinball loss: name --model linear, "
                                    "transformer or lstm (--model auto gives conformal --intervals)")
        if cfg.intervals is not None:
            raise ForecastDataError("--quantiles and --intervals both give intervals: choose one")
    levels = parse_levels(cfg.intervals if cfg.intervals is not None else DEFAULT_INTERVALS)
    for name in ("lookback", "horizon", "stride"):
        _check_positive(f"--{name.replace('_', '-')}", getattr(cfg, name))
    if cfg.batch_size is not None:
        _check_positive("--batch-size", cfg.batch_size)
    if cfg.epochs is not None:
        _check_positive("--epochs", cfg.epochs)
    if cfg.patience is not None:
        _check_positive("--patience", cfg.patience, 0)
    if cfg.learning_rate is not None and not cfg.learning_rate > 0:
        raise ForecastDataError(f"--learning-rate must be > 0, got {cfg.learning_rate!r}")
    _set_device(cfg.device)
    t_start = time.time()
    if series is None:
        series = load_series(cfg.csv, cfg.target, cfg.features, cfg.date_column, cfg.fill, cfg.date_format,
                             cfg.id_column, cfg.future_covariates)
    id_targets = split_names(cfg.target)
    cfg.target, cfg.features = (id_targets if cfg.id_column else series.targets), series.features
    base_features, known_names = list(series.features), list(series.known_names)
    cfg.future_covariates = known_names
    _check_positive("--horizon", cfg.horizon)
    series, lacking = with_known_future(series, cfg.horizon, cfg.calendar, cfg.holidays)
    cfg.date_column = series.date_column or NO_DATES
    _tell(series, echo, warn)
    if cfg.id_column:
        _check_lengths(series, cfg.lookback, cfg.horizon)
    parts = Parts.of(series, cfg)
    n_train, n_val, n_test = (int(v) for v in parts.counts[0])
    n_used = n_train + n_val + n_test
    if cfg.season_length is None:
        cfg.season_length = series.dates.season_length() if series.dates.parsed else 1
    _check_positive("--season-length", cfg.season_length)
    n_ch = len(series.targets)
    raw = series.values
    T = len(series)
    train_rows = parts.rows(T, 0)
    fit_rows = np.concatenate([np.where(train_rows, raw, np.nan),
                               np.where(train_rows.any(axis=1)[:, None], series.covariates, np.nan)], axis=1)
    scaler = Scaler.fit(fit_rows, series.targets + series.features)
    allv = np.nan_to_num(scaler.transform(np.concatenate([raw, series.covariates], axis=1)))
    scaled, cov = allv[:, :n_ch], allv[:, n_ch:]
    L, H, m = cfg.lookback, cfg.horizon, cfg.season_length
    o_tr, k_tr = parts.origins(0, L, H, cfg.stride)
    o_va, k_va = parts.origins(1, L, H)
    o_te, k_te = parts.origins(2, L, H)
    if len(o_te) == 0:
        raise ForecastDataError(f"the test part (rows {n_train + n_val}..{n_used}) holds no complete forecast "
                                f"window of lookback {L} + horizon {H}")
    if not len(o_va):
        if cfg.model == "auto":
            raise ForecastDataError("--model auto chooses by validation error: give --split a validation part "
                                    "(train,val,test) or name a --model")
        if cfg.intervals is not None and levels:
            raise ForecastDataError("--intervals are calibrated on the validation forecasts: give --split a "
                                    "validation part (train,val,test) or --intervals none")
        levels = []
    if cfg.model == "auto" and "seasonal_naive" in kinds and L < m:
        kinds.remove("seasonal_naive")
        echo(f"auto: seasonal_naive left out (the lookback {L} is shorter than the season {m})")
        if not kinds:
            raise ForecastDataError("--candidates: none left to choose from")
    echo(f"data: {len(series)} rows ({series.dates.describe()}), target(s) {', '.join(series.targets)}"
         + (f", features {', '.join(series.features)}" if series.features else "")
         + (f"; split train {n_train} / val {n_val} / test {n_test} rows" if parts.uniform else
            f"; split {cfg.split} of each series' rows") + f"; windows train {int(k_tr.sum())}, "
           f"val {int(k_va.sum())}, test {int(k_te.sum())}; season length {m}")

    out = Path(cfg.output)
    writes = writes_files()  # under data-parallel training rank 0 alone writes the folder; every rank computes
    try:  # before the (possibly long) training, so a bad folder fails at once
        if writes:
            out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ForecastDataError(f"cannot create the output folder {out}: {e.strerror or e}") from None
    o_lin, k_lin = parts.origins(0, L, H)
    linear = bl.LinearBaseline().fit(scaled, o_lin, L, H, mask=k_lin)
    n_in = 1 + len(series.features)
    xtr, ytr = make_inputs(scaled, cov, o_tr, L)[k_tr.reshape(-1)], make_targets(scaled, o_tr, H)[k_tr.reshape(-1)]
    val = (make_inputs(scaled, cov, o_va, L)[k_va.reshape(-1)], make_targets(scaled, o_va, H)[k_va.reshape(-1)]) \
        if len(o_va) else None
    y_val = masked(truth(scaled, o_va, H), k_va) if len(o_va) else None
    fitted, scores, val_preds, origin_errors = {}, {}, {}, {}
    for kind in kinds:
        if kind in BASELINES:
            model = baseline_model(kind, L, H, n_in, m, linear, cfg.norm)
            fitted[kind] = (model, {"epochs_run": 0, "best_epoch": 0, "history": {}, "train_seconds": 0.0}, None)
        else:
            fitted[kind] = _train_network(kind, cfg, (L, H, n_in, len(xtr)), (xtr, ytr, val), echo, quiet)
        if len(o_va):
            val_preds[kind] = masked(_predict_scaled(fitted[kind][0], scaled, cov, o_va, L, n_ch), k_va)
            origin_errors[kind] = np.nanmean(np.abs(val_preds[kind] - y_val), axis=(1, 2))
            scores[kind] = float(origin_errors[kind].mean())
            if cfg.model == "auto":
                echo(f"auto: {kind} validation MAE(z) {scores[kind]:.4f}")
    del xtr, ytr, val
    selection = None
    winner = kinds[0]
    if cfg.model == "auto":
        winner, margin = choose(scores, origin_errors, H)
        selection = {"winner": winner, "validation_mae_z": scores, "margin": margin}
        gap = ""
        if margin and margin["relative"] is not None:
            rel = margin["relative"]
            gap = (f" (runner-up {margin['runner_up']} {scores[margin['runner_up']]:.4f}, "
                   + (f"{100 * rel:.1f}% higher)" if rel >= 0 else
                      f"{-100 * rel:.1f}% lower, but within one standard error of the paired validation errors: "
                      "the baseline is kept)"))
        echo(f"auto: {winner} won with validation MAE(z) {scores[winner]:.4f}{gap}")
    model, fit_info, wcfg = fitted[winner]
    for k in ("learning_rate", "batch_size", "epochs", "patience"):
        if wcfg is not None:
            setattr(cfg, k, getattr(wcfg, k))

    mase_sc = mase_scale(np.where(parts.rows(T, 1), raw, np.nan), m)  # in-sample: each series' rows before its test part
    metrics, preds, y_true = _evaluate(model, scaled, cov, raw, scaler, o_te, cfg, n_ch, linear, mase_sc, k_te)
    std = scaler.std[:n_ch]
    result = {
        "model": metrics["model"],
        "baselines": {k: metrics[k] for k in ("naive", "seasonal_naive", "linear")},
        "model_name": winner,
        "targets": series.targets,
        "season_length": m,
        "horizon": H, "lookback": L,
        "split_rows": {"train": n_train, "val": n_val, "test": n_test} if parts.uniform else
        {name: {"train": int(a), "val": int(b), "test": int(c)} for name, (a, b, c) in zip(series.targets, parts.counts)},
        "test": {"origins": int(len(o_te)), "first_date": series.dates.labels[o_te[0]],
                 "last_date": series.dates.labels[o_te[-1] + H - 1]},
        "training": {k: v for k, v in fit_info.items() if k != "history"},
        "history": fit_info["history"],
    }
    if selection:
        result["selection"] = selection
    if n_ch > 1:
        result["per_target"] = _per_target(y_true, preds, mase_sc, std, series.targets)
    radii, qs = None, _model_quantiles(model)
    w_va = window_scale(scaled, o_va, L) if len(o_va) else None
    w_te = window_scale(scaled, o_te, L)
    if qs:
        levels, lo, hi = _quantile_bounds(model, scaled, cov, scaler, o_te, L, n_ch)
        lo, hi = np.stack([masked(a, k_te) for a in lo]), np.stack([masked(a, k_te) for a in hi])
        method = (f"quantile regression: the network forecasts the quantiles {', '.join(f'{q:g}' for q in qs)}, "
                  "trained with the pinball loss, ordered by construction (softplus increments)")
        short = []
    elif levels:
        radii, short = conformal_radii(_scores(val_preds[winner], y_val, w_va), levels)
        lo, hi = bounds(preds["model"], radii, w_te * std)
        method = (f"split conformal, normalised: per-step quantiles of the absolute errors of {int(k_va.sum())} "
                  "validation forecasts divided by the standard deviation of their lookback window (in the "
                  "targets' scaled units), symmetric around the point forecast, scaled by each window's deviation")
    if levels:
        preds["bounds"] = (lo, hi)
        result["intervals"] = {"method": method, "levels": levels, "undercalibrated_levels": short,
                               "model": interval_metrics(y_true, preds["model"], lo, hi, levels)}
        if len(o_va):  # the reference: a conformal interval around seasonal naive
            sn_val = masked(bl.seasonal_naive(scaled, o_va, H, m), k_va)
            sn_radii, _ = conformal_radii(_scores(sn_val, y_val, w_va), levels)
            sn_lo, sn_hi = bounds(preds["seasonal_naive"], sn_radii, w_te * std)
            result["intervals"]["seasonal_naive"] = interval_metrics(y_true, preds["seasonal_naive"], sn_lo, sn_hi,
                                                                     levels)
        if short:
            warn_fn = warn or echo
            warn_fn(f"warning: {int(k_va.sum())} validation forecasts are too few for an exact "
                    f"{', '.join(f'{p:g}%' for p in short)} conformal interval: the largest validation error is used "
                    "(a longer validation part calibrates it)")

    model.assets = {
        "forecast": {"model": winner, "norm": "none" if winner == "ridge" else cfg.norm, "season_length": m,
                     "date_format": series.dates.fmt, "date_format_given": cfg.date_format,
                     "step_months": series.dates.step_months,
                     "step_seconds": series.dates.step.total_seconds() if series.dates.step else None,
                     "fill": cfg.fill, "split_rows": [n_train, n_val, n_test], "hyperparameters": cfg.hyperparameters,
                     "split_rows_per_series": None if parts.uniform else parts.counts.tolist()},
        "columns": {"targets": series.targets, "features": base_features, "date": series.date_column,
                    "future_covariates": known_names, "calendar": bool(cfg.calendar), "holidays": cfg.holidays,
                    "id": cfg.id_column, "id_targets": id_targets if cfg.id_column else None},
        "lookback": L, "horizon": H,
        "scaler": scaler.to_dict(),
        "linear_baseline": np.asarray(linear.weights, dtype=np.float64),
    }
    if radii is not None:
        model.assets["intervals"] = {"levels": levels, "radii": np.asarray(radii, dtype=np.float64),
                                     "scale": "window_std"}
    model.save(str(out / MODEL_FILE))
    args = asdict(cfg)
    args["split_rows"] = [n_train, n_val, n_test] if parts.uniform else result["split_rows"]
    if winner in DEFAULTS:
        args["model_hyperparameters"] = {**DEFAULTS[winner], **fitted[winner][2].hyperparameters}
    if writes:
        (out / "args.json").write_text(json.dumps(args, indent=2))
        (out / "metrics.json").write_text(json.dumps(result, indent=2))
        _write_test_forecast(out / "forecast.csv", series, o_te, k_te, preds, y_true, H, levels)
    if lacking:
        echo(f"no future.csv: the future values of {', '.join(lacking)} over the {H} steps after the data are not in "
             f"{cfg.csv} (add {H} rows with the target empty); `zoo forecast predict` takes them")
    else:
        columns, future = _future(model, scaled, cov, scaler, series, L, H, n_ch, model.assets.get("intervals"))
        if writes:
            _write_rows(out / "future.csv", ["date"] + columns, future)
    plot = _plot(out / "forecast.png", series, o_te, k_te, preds, y_true, H, L, levels) if writes else None
    result["files"] = sorted(p.name for p in out.iterdir() if p.is_file()) if writes else []
    result["total_seconds"] = round(time.time() - t_start, 2)
    result["plot"] = plot
    return result


def _tiled(o_te, H, mask=None):
    """Indices of origins every H steps from each channel's first test origin (each test row forecast once):
    the origins' indices, and the (index, channel) cells that belong to the tiling."""
    if mask is None or mask.all():
        idx = np.arange(0, len(o_te), H)
        return idx, np.ones((len(idx), 1 if mask is None else mask.shape[1]), dtype=bool)
    cells = np.zeros(mask.shape, dtype=bool)
    for c in range(mask.shape[1]):
        mine = np.flatnonzero(mask[:, c])
        cells[mine[(o_te[mine] - o_te[mine[0]]) % H == 0] if len(mine) else mine, c] = True
    idx = np.flatnonzero(cells.any(axis=1))
    return idx, cells[idx]


def _bound_names(target, levels):
    return [n for p in levels for n in (f"{target}_lo{p:g}", f"{target}_hi{p:g}")]


def _write_test_forecast(path, series, o_te, mask, preds, y_true, H, levels=()):
    header = ["date", "origin", "step"]
    for t in series.targets:
        header += [t, f"{t}_forecast"] + _bound_names(t, levels) + [f"{t}_seasonal_naive", f"{t}_naive", f"{t}_linear"]
    lo, hi = preds.get("bounds", (None, None))
    rows = []
    idx, cells = _tiled(o_te, H, mask)
    width = 5 + 2 * len(levels)
    for i, on in zip(idx, cells):
        o = int(o_te[i])
        for h in range(H):
            row = [series.dates.labels[o + h], series.dates.labels[o - 1], h + 1]
            for j in range(len(series.targets)):
                if not on[min(j, len(on) - 1)]:
                    row += [""] * width
                    continue
                row += [_fmt(y_true[i, h, j]), _fmt(preds["model"][i, h, j])]
                for k in range(len(levels)):
                    row += [_fmt(lo[k, i, h, j]), _fmt(hi[k, i, h, j])]
                row += [_fmt(preds["seasonal_naive"][i, h, j]), _fmt(preds["naive"][i, h, j]),
                        _fmt(preds["linear"][i, h, j])]
            if any(v != "" for v in row[3:]):
                rows.append(row)
    _write_rows(path, header, rows)


def _fmt(v):
    return f"{float(v):.6g}"


def _write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _future(model, scaled, cov, scaler, series, L, H, n_ch, intervals=None):
    """(column names, rows [date, values...]) of the H steps after the data (after each series' last row
    when series of a long-format file end at different dates: a cell is empty outside its series' H
    steps), with the interval bounds of the saved conformal radii or of a quantile network."""
    ends = np.array([b for _, b in _spans(series)], dtype=np.int64)
    o = np.unique(ends)
    which = np.searchsorted(o, ends)  # each channel's origin among o
    pred = scaler.inverse(_predict_scaled(model, scaled, cov, o, L, n_ch), slice(0, n_ch))
    levels = list(intervals["levels"]) if intervals else []
    if _model_quantiles(model):
        levels, lo, hi = _quantile_bounds(model, scaled, cov, scaler, o, L, n_ch)
    elif levels:
        unit = scaler.std[:n_ch].astype(np.float64)
        if intervals.get("scale") == "window_std":  # normalised scores (older runs: absolute ones)
            unit = window_scale(scaled, o, L) * unit
        lo, hi = bounds(pred, np.asarray(intervals["radii"], dtype=np.float64), unit)
    columns = [c for t in series.targets for c in [t] + _bound_names(t, levels)]
    T, first = len(series), int(o[0])
    labels = list(series.dates.labels[first:]) + series.dates.future(H)
    rows = []
    for t in range(first, T + H):
        row = [labels[t - first]]
        for j in range(n_ch):
            h, k = t - int(ends[j]), int(which[j])
            if not 0 <= h < H:
                row += [""] * (1 + 2 * len(levels))
                continue
            row.append(_fmt(pred[k, h, j]))
            for q in range(len(levels)):
                row += [_fmt(lo[q, k, h, j]), _fmt(hi[q, k, h, j])]
        rows.append(row)
    return columns, rows


def _plot(path, series, o_te, mask, preds, y_true, H, L, levels=()):
    """History, truth and forecast of the first target over the test part (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return None
    idx, cells = _tiled(o_te, H, mask)
    idx = idx[cells[:, 0]]  # the first target's
    start = max(int(o_te[idx[0]]) - max(L, 2 * H), 0)
    end = int(o_te[idx[-1]]) + H
    x = np.arange(start, end)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(x, series.values[start:end, 0], color="black", lw=1, label="history / truth")
    for n, i in enumerate(idx):
        xs = np.arange(o_te[i], o_te[i] + H)
        ax.plot(xs, preds["model"][i, :, 0], color="tab:blue", lw=1.2, label="model" if n == 0 else None)
        for k, p in enumerate(levels):
            lo, hi = preds["bounds"]
            ax.fill_between(xs, lo[k, i, :, 0], hi[k, i, :, 0], color="tab:blue", alpha=0.25 / (k + 1), lw=0,
                            label=f"{p:g}% interval" if n == 0 else None)
        ax.plot(xs, preds["seasonal_naive"][i, :, 0], color="tab:orange", lw=0.8, ls="--",
                label="seasonal naive" if n == 0 else None)
    ax.axvline(int(o_te[idx[0]]), color="grey", lw=0.8)
    ticks = np.linspace(start, end - 1, 6).astype(int)
    ax.set_xticks(ticks)
    ax.set_xticklabels([series.dates.labels[t] for t in ticks], rotation=20, fontsize=8)
    ax.set_title(f"{series.targets[0]}: test-part forecasts (horizon {H})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)


# ----------------------------------------------------------------------------- saved models
def load_forecaster(path):
    """A model saved by ``train`` (its folder or model.h5) and its assets."""
    from apps.model_files import app_of
    from core.models import load_model

    from . import models  # noqa: F401  (registers the custom layers)

    p = Path(path)
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.exists():
        raise ForecastDataError(f"no such model: {p} (give the folder written by `zoo forecast train` or its "
                                f"{MODEL_FILE})")
    other = app_of(p)
    if other not in (None, "forecast"):
        raise ForecastDataError(f"{p} is {'an' if other[0] in 'aeiou' else 'a'} {other} model (made by `zoo {other} "
                                f"train`), not a forecaster; use `zoo {other} predict` with it")
    try:
        model = load_model(str(p), compile=False)
    except Exception as e:  # corrupt or foreign files
        raise ForecastDataError(f"{p} could not be read as a forecasting model: {e}") from None
    assets = getattr(model, "assets", {}) or {}
    missing = [k for k in ("forecast", "columns", "lookback", "horizon", "scaler") if k not in assets]
    if missing:
        raise ForecastDataError(f"{p} is not a model written by `zoo forecast train` (no {', '.join(missing)} "
                                "assets)")
    return model, assets


def _series_for(model_assets, csv_path, fill):
    cols = model_assets["columns"]
    fill = fill or model_assets["forecast"].get("fill")
    fc = model_assets["forecast"]
    date_column = cols.get("date") or NO_DATES
    # the training file's date format (so a day order fixed there is kept); date parts carry their own
    date_format = fc.get("date_format") if date_column != NO_DATES and "," not in date_column else None
    if cols.get("id"):
        series = load_series(csv_path, cols["id_targets"], (), date_column, fill, date_format, cols["id"])
        missing = [t for t in cols["targets"] if t not in series.targets]
        extra = [t for t in series.targets if t not in cols["targets"]]
        if missing or extra:
            raise ForecastDataError(f"{csv_path}: the model forecasts the series {', '.join(cols['targets'])}"
                                    + (f"; missing: {', '.join(missing)}" if missing else "")
                                    + (f"; not trained on: {', '.join(extra)}" if extra else ""))
        order = [series.targets.index(t) for t in cols["targets"]]
        series.values, series.targets = series.values[:, order], list(cols["targets"])
        if series.spans is not None:
            series.spans = [series.spans[i] for i in order]
    else:
        series = load_series(csv_path, cols["targets"], cols["features"], date_column, fill, date_format,
                             future=cols.get("future_covariates") or ())
    series, lacking = with_known_future(series, int(model_assets["horizon"]), bool(cols.get("calendar")),
                                        cols.get("holidays"))
    series.lacking_future = lacking
    scaler = Scaler.from_dict(model_assets["scaler"])
    return series, scaler


def _open(model_path):
    """A saved model's (model, assets): from its path, or given as such a pair."""
    return model_path if isinstance(model_path, tuple) else load_forecaster(model_path)


def _data_for(assets, data, fill):
    """(Series, scaler) of a CSV path or an already loaded :class:`Series` (the Python API's arrays)."""
    if isinstance(data, Series):
        return data, Scaler.from_dict(assets["scaler"])
    return _series_for(assets, data, fill)


def predict(model_path, csv_path, fill=None, echo=print, warn=None):
    """Forecast the ``horizon`` steps after the end of the CSV: (column names, rows [date, values...]) with
    each target's interval bounds (``<target>_lo80``, ``<target>_hi80``...) when the model has them.
    ``model_path`` may be a (model, assets) pair and ``csv_path`` a :class:`Series`."""
    model, assets = _open(model_path)
    series, scaler = _data_for(assets, csv_path, fill)
    _tell(series, echo, warn)
    L, H = int(assets["lookback"]), int(assets["horizon"])
    lacking = getattr(series, "lacking_future", [])
    if lacking:
        after = ", ".join(series.dates.future(H)[:3]) + (" ..." if H > 3 else "")
        raise ForecastDataError(f"{'the data' if isinstance(csv_path, Series) else csv_path}: the model needs the future "
                                f"values of {', '.join(lacking)} for the {H} steps after the last row ({after}): add "
                                f"{H} rows after the data with the target empty and these columns filled")
    where = "the data" if isinstance(csv_path, Series) else csv_path
    if len(series) < L:
        raise ForecastDataError(f"{where} has {len(series)} rows; the model needs the last {L} (its lookback)")
    short = [f"{t!r} has {b - a}" for t, (a, b) in zip(series.targets, _spans(series)) if b - a < L]
    if short:
        raise ForecastDataError(f"{where}: series {', '.join(short)} rows; the model needs the last {L} of each "
                                "(its lookback)")
    n_ch = len(series.targets)
    allv = np.nan_to_num(scaler.transform(np.concatenate([series.values, series.covariates], axis=1)))
    return _future(model, allv[:, :n_ch], allv[:, n_ch:], scaler, series, L, H, n_ch, assets.get("intervals"))


def backtest(model_path, csv_path, start=None, step=1, fill=None, season_length=None, warn=None):
    """Rolling-origin evaluation of a saved model: origins from ``start`` (row or fraction; default the
    model's test part) to the end, every ``step`` rows, against the baselines (the linear baseline and
    the MASE scale use the rows before ``start``)."""
    model, assets = _open(model_path)
    series, scaler = _data_for(assets, csv_path, fill)
    _tell(series, lambda s: None, warn)
    L, H = int(assets["lookback"]), int(assets["horizon"])
    n = len(series)
    if step < 1:
        raise ForecastDataError(f"--step must be >= 1, got {step}")
    spans = np.asarray(_spans(series), dtype=np.int64)
    per_series = assets["forecast"].get("split_rows_per_series")
    split = assets["forecast"].get("split_rows")
    starts = []  # each channel's first origin row; a series of a long-format file counts its own rows
    for j, (a, b) in enumerate(spans):
        rows = int(b - a)
        if start is None:
            sp = per_series[j] if per_series and series.spans is not None and j < len(per_series) else split
            first = sp[0] + sp[1] if sp and sum(sp) <= rows else int(round(0.8 * rows))
        elif 0 < float(start) < 1:
            first = int(round(float(start) * rows))
        else:
            first = int(start)
        if first < L + H:
            who = f"series {series.targets[j]!r}: " if series.spans is not None else ""
            raise ForecastDataError(f"{who}--start {first}: the rows before the first origin must hold lookback {L} + "
                                    f"horizon {H} = {L + H} rows (to fit the linear baseline)")
        starts.append(int(a) + first)
    starts = np.asarray(starts, dtype=np.int64)
    orig, mask = part_origins(np.stack([starts, spans[:, 1]], axis=1), spans[:, 0], L, H, step)
    if len(orig) == 0:
        raise ForecastDataError(f"the horizon is longer than the data allows: from row {int(starts.min())} of {n} "
                                f"there is no complete forecast of horizon {H}")
    start = int(starts[0]) if series.spans is None else None
    m = int(season_length or assets["forecast"].get("season_length") or 1)
    n_ch = len(series.targets)
    allv = np.nan_to_num(scaler.transform(np.concatenate([series.values, series.covariates], axis=1)))
    scaled, cov = allv[:, :n_ch], allv[:, n_ch:]
    o_fit, k_fit = part_origins(np.stack([spans[:, 0], starts], axis=1), spans[:, 0], L, H)
    linear = bl.LinearBaseline().fit(scaled, o_fit, L, H, mask=k_fit)
    t = np.arange(n)[:, None]
    mase_sc = mase_scale(np.where((t >= spans[:, 0]) & (t < starts), series.values, np.nan), m)

    class _Cfg:
        horizon, lookback, season_length = H, L, m

    metrics, preds, y_true = _evaluate(model, scaled, cov, series.values, scaler, orig, _Cfg, n_ch, linear, mase_sc,
                                       mask)
    per_origin = []
    for i, o in enumerate(orig):
        row = {"origin": series.dates.labels[o - 1], "first_date": series.dates.labels[o]}
        for k, p in preds.items():
            row[f"{k}_mae"] = float(np.nanmean(np.abs(p[i] - y_true[i])))
        per_origin.append(row)
    result = {"model": metrics["model"], "baselines": {k: metrics[k] for k in ("naive", "seasonal_naive", "linear")},
              "model_name": assets["forecast"]["model"],
              "origins": int(len(orig)), "start_row": start, "step": int(step), "season_length": m,
              "horizon": H, "lookback": L, "targets": series.targets}
    if series.spans is not None:
        result["start_rows"] = {name: int(st - a) for name, st, (a, _) in zip(series.targets, starts, spans)}
    if n_ch > 1:
        result["per_target"] = _per_target(y_true, preds, mase_sc, scaler.std[:n_ch], series.targets)
    return result, per_origin
