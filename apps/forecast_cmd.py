"""``zoo forecast``: train, backtest and apply time-series forecasters on CSV files.

Only click is imported at module level; numpy, the engine and ``apps.forecasting`` are imported
inside the commands so ``zoo forecast --help`` stays fast.
"""
from __future__ import annotations

import json

import click

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


def _table(result, echo):
    rows = [("model", result["model"])] + [(k, v) for k, v in result["baselines"].items()]
    echo(f"{'':16}{'MAE':>11}{'RMSE':>11}{'MAPE%':>9}{'sMAPE%':>9}{'MASE':>8}{'MSE(z)':>9}{'MAE(z)':>9}")

    def f(v, w, p):
        return f"{'n/a':>{w}}" if v is None else f"{v:>{w}.{p}f}"

    for name, m in rows:
        echo(f"{name:16}{f(m['mae'], 11, 4)}{f(m['rmse'], 11, 4)}{f(m['mape'], 9, 2)}{f(m['smape'], 9, 2)}"
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
@click.option("--date-column", default=None, help="Column of dates/times [default: a column named date/time/month..., "
              "or a first column of dates].")
@click.option("--features", default=None, help="Extra input columns (comma-separated), seen over the lookback only.")
@click.option("--lookback", "-l", type=int, required=True, help="Past steps the model sees.")
@click.option("--horizon", type=int, required=True, help="Steps to forecast (direct multi-step).")
@click.option("--model", "-m", type=click.Choice(["linear", "transformer", "lstm"]), default="linear", show_default=True,
              help="linear: DLinear (trend/seasonal linear maps); transformer: patch-based (PatchTST-like); "
                   "lstm: LSTM encoder.")
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
@click.option("--device", default=None, help="cpu or gpu[:N] (needs CuPy) [default: $ZOO_DEVICE or cpu].")
@click.option("--d-model", type=int, default=None, help="transformer: width [64].")
@click.option("--num-heads", type=int, default=None, help="transformer: attention heads [4].")
@click.option("--num-layers", type=int, default=None, help="transformer: encoder blocks [2].")
@click.option("--ff-dim", type=int, default=None, help="transformer: feed-forward width [128].")
@click.option("--patch-len", type=int, default=None, help="transformer: patch length [16].")
@click.option("--patch-stride", type=int, default=None, help="transformer: patch stride [8].")
@click.option("--dropout", type=float, default=None, help="transformer [0.2] / lstm [0.0] dropout.")
@click.option("--units", type=int, default=None, help="lstm: units [64].")
@click.option("--kernel-size", type=int, default=None, help="linear: moving-average window of the trend [25].")
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch lines.")
@click.option("--json", "as_json", is_flag=True, help="Print metrics.json instead of the table.")
def train_cmd(csv_path, target, date_column, features, lookback, horizon, model, output, split, stride, season_length,
              epochs, batch_size, learning_rate, warmup_epochs, patience, loss, norm, fill, seed, device, quiet,
              as_json, **model_opts):
    """Train a forecaster on CSV and compare it with naive, seasonal-naive and linear baselines on the test part.

    Writes to the output folder: model.h5 (the scaler, columns, lookback and horizon are assets in it, so
    `zoo forecast predict` needs nothing else), metrics.json (model and baselines: mae, mse, rmse, mape,
    smape, mase overall and per_step; scaled_mse/scaled_mae on the z-scored data), args.json, forecast.csv
    (the test part, dated, every row forecast once), future.csv (the steps after the data) and
    forecast.png when matplotlib is installed.
    """
    from apps.forecasting.pipeline import TrainConfig, train

    hp = {k: v for k, v in model_opts.items() if v is not None}
    wrong = [k for k in hp if model not in MODEL_OPTIONS[k]]
    if wrong:
        raise click.UsageError(f"--{wrong[0].replace('_', '-')} applies to --model {'/'.join(MODEL_OPTIONS[wrong[0]])}, "
                               f"not {model}")
    if warmup_epochs < 0:
        raise click.UsageError(f"--warmup-epochs must be >= 0, got {warmup_epochs}")
    from apps.model_files import check_output_dir

    check_output_dir(output)  # an unwritable -o fails before any work
    echo = (lambda s: None) if quiet or as_json else click.echo
    cfg = TrainConfig(csv=csv_path, target=target, output=output, lookback=lookback, horizon=horizon, model=model,
                      features=features or [], date_column=date_column, split=split, stride=stride,
                      season_length=season_length, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                      warmup_epochs=warmup_epochs, patience=patience, loss=loss, norm=norm, seed=seed,
                      fill=None if fill == "none" else fill, device=device, hyperparameters=hp)
    result = _run(train, cfg, echo=echo, progress=not (quiet or as_json))
    if as_json:
        click.echo(json.dumps({k: result[k] for k in ("model", "baselines")}, indent=2))
        return
    t = result["test"]
    click.echo(f"test: {t['origins']} forecast origins covering {t['first_date']} .. {t['last_date']}, horizon "
               f"{result['horizon']}; trained {result['training']['epochs_run']} epochs (best "
               f"{result['training']['best_epoch']}) in {result['training']['train_seconds']:.1f}s")
    _table(result, click.echo)
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
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def backtest_cmd(model_path, csv_path, start, step, season_length, fill, output, as_json):
    """Rolling-origin backtest of a trained MODEL (folder or model.h5) on CSV, beside the baselines.

    Every `--step` rows from `--start` to the end, the model forecasts the next horizon steps from the
    lookback before it (no refitting); errors are averaged over origins, steps and targets. The linear
    baseline and the MASE scale use only the rows before `--start`.
    """
    from pathlib import Path

    from apps.forecasting.pipeline import backtest

    if start is not None:
        try:
            start = float(start) if "." in str(start) else int(start)
        except ValueError:
            raise click.UsageError(f"--start must be a row number or a fraction, got {start!r}") from None
        if start <= 0:
            raise click.UsageError(f"--start must be positive, got {start}")
    result, per_origin = _run(backtest, model_path, csv_path, start=start, step=step,
                              fill=None if fill == "none" else fill, season_length=season_length)
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
    click.echo(f"backtest: {result['origins']} origins from row {result['start_row']} every {result['step']}, "
               f"horizon {result['horizon']}, season length {result['season_length']}")
    _table(result, click.echo)
    if output:
        click.echo(f"wrote {output}: backtest.json, backtest.csv")


@forecast.command("predict")
@click.argument("model_path", metavar="MODEL")
@click.argument("csv_path", metavar="CSV")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write the forecast to this CSV.")
@click.option("--fill", type=click.Choice(FILL_CHOICES), default=None, help="[default: the training run's].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines {date, target: value...}.")
def predict_cmd(model_path, csv_path, output, fill, as_json):
    """Forecast the horizon steps after the end of CSV with a trained MODEL (folder or model.h5).

    The CSV needs the columns the model was trained on (targets, features, date); the model file holds
    everything else (scaler, lookback, horizon).
    """
    from apps.forecasting.pipeline import predict

    targets, rows = _run(predict, model_path, csv_path, fill=None if fill == "none" else fill,
                         echo=(lambda s: None) if as_json else click.echo)
    if output:
        import csv

        with open(output, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["date"] + targets)
            w.writerows(rows)
    if as_json:
        for r in rows:
            click.echo(json.dumps({"date": r[0], **{t: float(v) for t, v in zip(targets, r[1:])}}))
        return
    width = max(len("date"), *(len(r[0]) for r in rows))
    click.echo(f"{'date':<{width}}  " + "  ".join(f"{t:>12}" for t in targets))
    for r in rows:
        click.echo(f"{r[0]:<{width}}  " + "  ".join(f"{float(v):>12.4f}" for v in r[1:]))
    if output:
        click.echo(f"wrote {output}")
