"""``zoo forecast``: train, backtest and apply time-series forecasters on CSV files.

Only click is imported at module level; numpy, the engine and ``apps.forecasting`` are imported
inside the commands so ``zoo forecast --help`` stays fast.
"""
from __future__ import annotations

import json

import click

from apps.options import use_device, work_options

FILL_CHOICES = ["none", "ffill", "bfill", "linear", "zero", "drop"]
# model option -> the model kinds it applies to
MODEL_OPTIONS = {
    "d_model": ("transformer",), "num_heads": ("transformer",), "num_layers": ("transformer",),
    "ff_dim": ("transformer",), "patch_len": ("transformer",), "patch_stride": ("transformer",),
    "dropout": ("transformer", "lstm"), "units": ("lstm",), "kernel_size": ("linear",),
}


def _run(fn, *args, **kwargs):
    """Call into apps.forecasting, turning data and memory problems into clean CLI errors."""
    from apps.forecasting.data import ForecastDataError

    try:
        return fn(*args, **kwargs)
    except ForecastDataError as e:
        raise click.ClickException(str(e)) from None
    except MemoryError:
        raise click.ClickException("out of memory: lower --batch-size, raise --stride (fewer training windows) or "
                                   "shorten --lookback") from None


def _info(quiet):
    """Information lines go to stderr (results to stdout), none with -q."""
    return (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))


def _warn(message):
    click.echo(message, err=True)


def _table(result, echo):
    rows = [(f"model ({result['model_name']})" if "model_name" in result else "model", result["model"])] + [(k, v) for k, v in result["baselines"].items()]
    echo(f"{'':24}{'MAE':>11}{'RMSE':>11}{'MAPE%':>9}{'sMAPE%':>9}{'MASE':>8}{'MSE(z)':>9}{'MAE(z)':>9}")

    def f(v, w, p):
        return f"{'n/a':>{w}}" if v is None else f"{v:>{w}.{p}f}"

    for name, m in rows:
        echo(f"{name:24}{f(m['mae'], 11, 4)}{f(m['rmse'], 11, 4)}{f(m['mape'], 9, 2)}{f(m['smape'], 9, 2)}"
             f"{f(m['mase'], 8, 3)}{f(m.get('scaled_mse'), 9, 4)}{f(m.get('scaled_mae'), 9, 4)}")


@click.group("forecast")
def forecast():
    """Train, backtest and apply time-series forecasters (lstm, transformer, linear) on CSV files.

    \b
    zoo forecast train data.csv --target sales --lookback 36 --horizon 12 --output runs/sales
    zoo forecast backtest runs/sales data.csv
    zoo forecast predict runs/sales data.csv
    """


@forecast.command("train")
@click.argument("csv_path", metavar="CSV")
@click.option("--target", "-t", required=True, help="Column(s) to forecast; several (comma-separated) are "
              "forecast channel-independently by one shared model.")
@click.option("--date-column", default=None,
              help="Column of dates/times; year,month,day[,hour] for dates in several integer columns; 'none' to "
                   "number the rows [default: a column named date/time/month..., year/month/day columns, or a first "
                   "column of dates; none found is a warning].")
@click.option("--date-format", default=None,
              help="strptime format of the dates (e.g. %d/%m/%Y) [default: recognised: ISO 8601 with T/Z/offsets, "
                   "YYYY-MM, YYYYQn, MM/DD/YYYY or DD/MM/YYYY by the data, DD.MM.YYYY, month names].")
@click.option("--id-column", default=None,
              help="Long format: the column naming the series (one row per series and step); one global model is "
                   "trained across them, each scaled on its own, with metrics per series. Series may start and end at "
                   "different dates on one calendar; each is split on its own rows.")
@click.option("--future-covariates", default=None,
              help="Columns whose future values are known (prices, promotions, holidays; comma-separated): the model "
                   "sees them over the horizon; the rows after the data (target empty) give them for the forecast, "
                   "and `predict` requires them.")
@click.option("--calendar", is_flag=True,
              help="Add calendar features of the dates as known-future covariates (month of year; day of week and "
                   "year; hour of day), chosen by the step.")
@click.option("--holidays", default=None, metavar="COUNTRY",
              help="Add the public holidays of a country (US, GB, DE... or with a subdivision, US-CA) as a known-future "
                   "covariate: 1 on a holiday (sub-daily and daily steps), the number of holidays in each week or "
                   "month. Needs the holidays package (pip install 'zoo[holidays]').")
@click.option("--features", default=None, help="Extra input columns (comma-separated), seen over the lookback only.")
@click.option("--lookback", "-l", type=int, required=True, help="Past steps the model sees.")
@click.option("--horizon", type=int, required=True, help="Steps to forecast (direct multi-step).")
@click.option("--model", "-m", type=click.Choice(["auto", "linear", "transformer", "lstm"]), default="auto",
              show_default=True,
              help="auto: the candidate (--candidates) with the lowest validation MAE; linear: DLinear (trend/seasonal "
                   "linear maps); transformer: patch-based (PatchTST-like); lstm: LSTM encoder.")
@click.option("--candidates", default=None,
              help="--model auto chooses among these (comma-separated) [default: linear,transformer,lstm,naive,"
                   "seasonal_naive,ridge; the last three are the baselines, saved as fixed-weight linear models].")
@click.option("--intervals", default=None,
              help="Prediction interval levels in percent (e.g. 80,95) or none: split conformal, calibrated on the "
                   "validation forecasts [default: 80,95 when there is a validation part].")
@click.option("--quantiles", default=None,
              help="Train the network (--model linear/transformer/lstm) to forecast these quantiles with the pinball "
                   "loss (instead of --loss), in pairs (e.g. 0.1,0.5,0.9 = the median and an 80% interval); they never "
                   "cross.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--split", default="0.7,0.1,0.2", show_default=True,
              help="Time-ordered train,val,test as fractions or row counts (e.g. 8640,2880,2880); 'train,test' "
                   "skips validation. Val/test windows look back into the previous part.")
@click.option("--stride", type=int, default=1, show_default=True, help="Step between training windows.")
@click.option("--season-length", type=int, default=None,
              help="Season for seasonal naive and MASE [default: from the dates: 12 monthly, 24 hourly, 7 daily; else 1].")
@click.option("--epochs", type=int, default=None,
              help="Maximum epochs [default: linear/transformer 10, lstm 20, or more on small data: enough for "
                   "1500 optimizer steps, at most 500 epochs].")
@click.option("--batch-size", type=int, default=None, help="[default: linear/lstm 32, transformer 128].")
@click.option("--learning-rate", "--lr", "learning_rate", type=float, default=None,
              help="Peak learning rate of the warmup + cosine schedule [default: linear/transformer 1e-3, lstm 2e-3].")
@click.option("--warmup-epochs", type=float, default=1.0, show_default=True, help="Linear warmup length.")
@click.option("--patience", type=int, default=None,
              help="Early stopping on validation loss, best weights restored [default: linear/transformer 3, lstm 5, "
                   "or a tenth of the epochs].")
@click.option("--loss", type=click.Choice(["mse", "mae", "huber"]), default="mse", show_default=True)
@click.option("--norm", type=click.Choice(["revin", "last", "none"]), default="revin", show_default=True,
              help="Per-window normalisation of the target: revin (window mean/std), last (relative to the last "
                   "value) or none (the global train-fitted z-score only).")
@click.option("--fill", type=click.Choice(FILL_CHOICES), default="none", show_default=True,
              help="How to fill missing values (none: refuse them, listing their lines).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of initialisation and shuffling.")
@click.option("--d-model", type=int, default=None, help="transformer: width [64].")
@click.option("--num-heads", type=int, default=None, help="transformer: attention heads [4].")
@click.option("--num-layers", type=int, default=None, help="transformer: encoder blocks [2].")
@click.option("--ff-dim", type=int, default=None, help="transformer: feed-forward width [128].")
@click.option("--patch-len", type=int, default=None, help="transformer: patch length [16].")
@click.option("--patch-stride", type=int, default=None, help="transformer: patch stride [8].")
@click.option("--dropout", type=float, default=None, help="transformer [0.2] / lstm [0.0] dropout.")
@click.option("--units", type=int, default=None, help="lstm: units [64].")
@click.option("--kernel-size", type=int, default=None, help="linear: moving-average window of the trend [25].")
@work_options(json_help="Print the metrics as JSON instead of the table.")
def train_cmd(csv_path, target, date_column, date_format, id_column, future_covariates, calendar, holidays, features, lookback, horizon, model, candidates, intervals,
              quantiles, output, split, stride, season_length,
              epochs, batch_size, learning_rate, warmup_epochs, patience, loss, norm, fill, seed, device, quiet,
              as_json, **model_opts):
    """Train a forecaster on CSV and compare it with naive, seasonal-naive and linear baselines on the test part.

    Writes to the output folder: model.h5 (the scaler, columns, lookback and horizon are assets in it, so
    `zoo forecast predict` needs nothing else), metrics.json (model and baselines: mae, mse, rmse, mape,
    smape, mase overall and per_step; scaled_mse/scaled_mae on the z-scored data; with auto the selection;
    intervals: coverage, mean width, wQL), args.json, forecast.csv (the test part, dated, every row forecast
    once, with interval bounds), future.csv (the steps after the data) and forecast.png when matplotlib is
    installed.
    """
    from apps.forecasting.pipeline import TrainConfig, train

    hp = {k: v for k, v in model_opts.items() if v is not None}
    if candidates and model != "auto":
        raise click.UsageError(f"--candidates applies to --model auto, not {model}")
    wrong = [k for k in hp if model != "auto" and model not in MODEL_OPTIONS[k]]
    if wrong:
        raise click.UsageError(f"--{wrong[0].replace('_', '-')} applies to --model {'/'.join(MODEL_OPTIONS[wrong[0]])}, "
                               f"not {model}")
    if warmup_epochs < 0:
        raise click.UsageError(f"--warmup-epochs must be >= 0, got {warmup_epochs}")
    from apps.model_files import check_output_dir

    check_output_dir(output)  # an unwritable -o fails before any work
    use_device(device)
    cfg = TrainConfig(csv=csv_path, target=target, output=output, lookback=lookback, horizon=horizon, model=model,
                      candidates=candidates, intervals=intervals, quantiles=quantiles,
                      features=features or [], date_column=date_column, date_format=date_format, id_column=id_column,
                      future_covariates=future_covariates, calendar=calendar, holidays=holidays,
                      split=split, stride=stride,
                      season_length=season_length, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                      warmup_epochs=warmup_epochs, patience=patience, loss=loss, norm=norm, seed=seed,
                      fill=None if fill == "none" else fill, device=device, hyperparameters=hp)
    result = _run(train, cfg, echo=_info(quiet), quiet=quiet, warn=_warn)
    if as_json:
        click.echo(json.dumps({k: result[k] for k in ("model_name", "model", "baselines", "selection", "intervals")
                               if k in result}, indent=2))
        return
    t = result["test"]
    tr = result["training"]
    fitted = (f"trained {tr['epochs_run']} epochs (best {tr['best_epoch']}) in {tr['train_seconds']:.1f}s"
              if tr["epochs_run"] else f"{result['model_name']} is a baseline (no training)")
    click.echo(f"test: {t['origins']} forecast origins covering {t['first_date']} .. {t['last_date']}, horizon "
               f"{result['horizon']}; {fitted}")
    _table(result, click.echo)
    if "intervals" in result:
        iv = result["intervals"]
        ref = iv.get("seasonal_naive", {}).get("levels", {})
        parts = [f"{p}% coverage {v['coverage']:.2f}"
                 + (f" (seasonal naive {ref[p]['coverage']:.2f})" if p in ref else "")
                 + f", mean width {v['mean_width']:.4g}" for p, v in iv["model"]["levels"].items()]
        click.echo("intervals: " + "; ".join(parts)
                   + (f"; wQL {iv['model']['wql']:.4f}" if iv["model"]["wql"] is not None else ""))
    click.echo(f"wrote {output}: {', '.join(result['files'])}"
               + ("" if result["plot"] else " (no plot: pip install matplotlib)"))


@forecast.command("backtest")
@click.argument("model_path", metavar="MODEL")
@click.argument("csv_path", metavar="CSV")
@click.option("--start", default=None, help="First forecast origin: a row number or a fraction of the rows "
              "[default: the model's test part, else the last 20%].")
@click.option("--step", type=int, default=1, show_default=True, help="Rows between forecast origins.")
@click.option("--season-length", type=int, default=None, help="[default: the one the model was trained with].")
@click.option("--fill", type=click.Choice(FILL_CHOICES), default=None, help="[default: the training run's].")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None,
              help="Write backtest.json and backtest.csv (per-origin MAE) there.")
@work_options(json_help="Print the metrics as JSON.")
def backtest_cmd(model_path, csv_path, start, step, season_length, fill, output, as_json, quiet, device):
    """Rolling-origin backtest of a trained MODEL (folder or model.h5) on CSV, beside the baselines.

    Every `--step` rows from `--start` to the end, the model forecasts the next horizon steps from the
    lookback before it (no refitting); errors are averaged over origins, steps and targets. The linear
    baseline and the MASE scale use only the rows before `--start`.
    """
    from pathlib import Path

    from apps.forecasting.pipeline import backtest

    use_device(device)
    if start is not None:
        try:
            start = float(start) if "." in str(start) else int(start)
        except ValueError:
            raise click.UsageError(f"--start must be a row number or a fraction, got {start!r}") from None
        if start <= 0:
            raise click.UsageError(f"--start must be positive, got {start}")
    result, per_origin = _run(backtest, model_path, csv_path, start=start, step=step,
                              fill=None if fill == "none" else fill, season_length=season_length, warn=_warn)
    if output:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "backtest.json").write_text(json.dumps(result, indent=2))
        import csv

        with open(out / "backtest.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(per_origin[0]))
            w.writeheader()
            w.writerows(per_origin)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    where = (f"row {result['start_row']}" if result["start_row"] is not None else
             "each series' row " + ", ".join(f"{k} {v}" for k, v in list(result["start_rows"].items())[:4])
             + (" ..." if len(result["start_rows"]) > 4 else ""))
    click.echo(f"backtest: {result['origins']} origins from {where} every {result['step']}, "
               f"horizon {result['horizon']}, season length {result['season_length']}")
    _table(result, click.echo)
    if output:
        click.echo(f"wrote {output}: backtest.json, backtest.csv")


@forecast.command("predict")
@click.argument("model_path", metavar="MODEL")
@click.argument("csv_path", metavar="CSV")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write the forecast to this CSV.")
@click.option("--fill", type=click.Choice(FILL_CHOICES), default=None, help="[default: the training run's].")
@work_options(json_help="Print JSON lines {date, target: value...}.")
def predict_cmd(model_path, csv_path, output, fill, as_json, quiet, device):
    """Forecast the horizon steps after the end of CSV with a trained MODEL (folder or model.h5).

    The CSV needs the columns the model was trained on (targets, features, date); the model file holds
    everything else (scaler, lookback, horizon).
    """
    from apps.forecasting.pipeline import predict

    use_device(device)
    targets, rows = _run(predict, model_path, csv_path, fill=None if fill == "none" else fill,
                         echo=_info(quiet), warn=_warn)
    if output:
        import csv

        with open(output, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["date"] + targets)
            w.writerows(rows)
    if as_json:
        for r in rows:
            click.echo(json.dumps({"date": r[0], **{t: float(v) for t, v in zip(targets, r[1:]) if v != ""}}))
        return
    width = max(len("date"), *(len(r[0]) for r in rows))
    click.echo(f"{'date':<{width}}  " + "  ".join(f"{t:>12}" for t in targets))
    for r in rows:
        click.echo(f"{r[0]:<{width}}  " + "  ".join(f"{float(v):>12.4f}" if v != "" else " " * 12 for v in r[1:]))
    if output:
        click.echo(f"wrote {output}")
