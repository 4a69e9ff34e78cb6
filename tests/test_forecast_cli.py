"""`zoo forecast train | backtest | predict` on small CSVs made here: outputs, saved assets, metrics,
and every bad-input case answered with a clear message (never a traceback)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main
from apps.forecasting import baselines as bl
from apps.forecasting.data import fill_missing, parse_split, ForecastDataError
from apps.forecasting.metrics import forecast_metrics, mase_scale
from apps.forecasting.windows import make_inputs, make_targets, origins, unfold

from tests.app_helpers import monthly_csv

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--epochs", "3", "--quiet", "--model", "linear"]


def invoke(*args):
    return CliRunner().invoke(main, ["forecast", *[str(a) for a in args]])


def assert_clean_error(res, *fragments):
    assert res.exit_code != 0, res.output
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # click's error exit, not a traceback
    assert "Traceback" not in res.output
    for frag in fragments:
        assert frag in res.output, (frag, res.output)


# ----------------------------------------------------------------------------- fast help
def test_help_does_not_import_numpy():
    code = ("import sys; import apps.cli, apps.forecast_cmd; "
            "from click.testing import CliRunner; r = CliRunner().invoke(apps.cli.main, ['forecast', 'train', '--help']); "
            "assert r.exit_code == 0, r.output; print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_help_lists_commands():
    res = invoke("--help")
    assert res.exit_code == 0
    for cmd in ("train", "backtest", "predict"):
        assert cmd in res.output


# ----------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc")
    csv = monthly_csv(d / "m.csv", crlf=True, quote=True)
    out = d / "run"
    res = invoke("train", csv, "--target", "sales", "--lookback", 24, "--horizon", 6, "--split", "0.6,0.2,0.2",
                 "--output", out, *FAST)
    assert res.exit_code == 0, res.output
    return csv, out, res


def test_train_writes_outputs(trained):
    csv, out, res = trained
    for name in ("model.h5", "metrics.json", "args.json", "forecast.csv", "future.csv"):
        assert (out / name).exists(), name
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["baselines"]) == {"naive", "seasonal_naive", "linear"}
    for entry in [m["model"], *m["baselines"].values()]:
        for k in ("mae", "mse", "rmse", "mape", "smape", "mase"):
            assert isinstance(entry[k], float) and entry[k] >= 0
            assert len(entry["per_step"][k]) == 6
        assert entry["rmse"] == pytest.approx(np.sqrt(entry["mse"]))
    assert m["season_length"] == 12  # inferred from monthly dates
    args = json.loads((out / "args.json").read_text())
    assert args["lookback"] == 24 and args["horizon"] == 6 and args["model"] == "linear"
    assert args["split_rows"] == [58, 19, 19] and args["epochs"] == 3 and args["date_column"] == "Month"
    assert "model" in res.output and "seasonal_naive" in res.output


def test_plot_written_when_matplotlib_is_installed(trained):
    _, out, res = trained
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (out / "forecast.png").exists()
        pytest.skip("matplotlib is not installed: no plot (and none expected)")
    assert (out / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_assets_hold_scaler_fitted_on_train(trained):
    csv, out, _ = trained
    from apps.forecasting.pipeline import load_forecaster

    model, assets = load_forecaster(out)
    assert assets["lookback"] == 24 and assets["horizon"] == 6
    assert assets["columns"] == {"targets": ["sales"], "features": [], "date": "Month", "future_covariates": [],
                                 "calendar": False, "holidays": None, "id": None, "id_targets": None}
    values = np.array([float(l.split(",")[1]) for l in Path(csv).read_text().splitlines()[1:]])
    assert assets["scaler"]["mean"][0] == pytest.approx(values[:58].mean(), rel=1e-5)  # train rows only
    assert assets["scaler"]["mean"][0] != pytest.approx(values.mean(), rel=1e-3)


def test_forecast_csv_has_dates_and_covers_test_rows(trained):
    _, out, _ = trained
    lines = (out / "forecast.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["date", "origin", "step", "sales"] and "sales_forecast" in header
    dates = [l.split(",")[0] for l in lines[1:]]
    assert dates[0] == "1996-06" and len(dates) == len(set(dates)) == 18  # 19 test rows, tiled by 6


def test_predict_continues_the_dates_and_matches_future_csv(trained, tmp_path):
    csv, out, _ = trained
    res = invoke("predict", out / "model.h5", csv, "--output", tmp_path / "p.csv")
    assert res.exit_code == 0, res.output
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "date,sales,sales_lo80,sales_hi80,sales_lo95,sales_hi95"  # conformal bounds by default
    assert [r.split(",")[0] for r in rows[1:]] == ["1998-01", "1998-02", "1998-03", "1998-04", "1998-05", "1998-06"]
    future = (out / "future.csv").read_text().splitlines()
    np.testing.assert_allclose([float(r.split(",")[1]) for r in rows[1:]],
                               [float(r.split(",")[1]) for r in future[1:]], rtol=1e-5)
    js = invoke("predict", out, csv, "--json")
    assert js.exit_code == 0 and json.loads(js.output.splitlines()[0])["date"] == "1998-01"


def test_backtest_rolling_origins(trained, tmp_path):
    csv, out, _ = trained
    res = invoke("backtest", out, csv, "--step", 2, "--output", tmp_path / "bt", "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["start_row"] == 77 and r["origins"] == len(range(77, 96 - 6 + 1, 2))
    assert set(r["baselines"]) == {"naive", "seasonal_naive", "linear"}
    assert len((tmp_path / "bt" / "backtest.csv").read_text().splitlines()) == r["origins"] + 1
    # the default backtest (every origin of the test part) reproduces train's test metrics
    full = json.loads(invoke("backtest", out, csv, "--json").output)
    m = json.loads((out / "metrics.json").read_text())
    assert full["model"]["mae"] == pytest.approx(m["model"]["mae"], rel=1e-5)
    assert full["baselines"]["seasonal_naive"]["mase"] == pytest.approx(m["baselines"]["seasonal_naive"]["mase"])


def test_multivariate_targets_with_features(tmp_path):
    csv = monthly_csv(tmp_path / "m.csv")
    res = invoke("train", csv, "--target", "sales,visits", "--features", "promo", "--lookback", 12, "--horizon", 3,
                 "--split", "60,12,24", "--output", tmp_path / "o", "--json", "--epochs", 2, "--model", "linear")
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert set(m["per_target"]) == {"sales", "visits"}
    assert m["model"]["mae"] == pytest.approx(np.mean([m["per_target"][t]["model"]["mae"] for t in ("sales", "visits")]))
    pred = invoke("predict", tmp_path / "o", csv)
    assert pred.exit_code == 0 and "visits" in pred.output and len(pred.output.strip().splitlines()) == 4


@pytest.mark.parametrize("model,opts", [
    pytest.param("transformer", ["--d-model", 8, "--num-heads", 2, "--num-layers", 1, "--ff-dim", 16, "--patch-len", 4,
                                 "--patch-stride", 4], marks=pytest.mark.slow),
    ("lstm", ["--units", 8])])
def test_other_models_train_save_and_predict(tmp_path, model, opts):
    csv = monthly_csv(tmp_path / "m.csv", n=60)
    res = invoke("train", csv, "--target", "sales", "--lookback", 12, "--horizon", 3, "--model", model, *opts,
                 "--output", tmp_path / "o", "--epochs", 1, "--batch-size", 16, "--quiet")
    assert res.exit_code == 0, res.output
    pred = invoke("predict", tmp_path / "o", csv, "--json")
    assert pred.exit_code == 0, pred.output
    assert len(pred.output.strip().splitlines()) == 3


def test_series_without_dates(tmp_path):
    values = 10 + np.sin(np.arange(80) / 2.0)
    (tmp_path / "v.csv").write_text("value\n" + "\n".join(f"{v:.4f}" for v in values))
    res = invoke("train", tmp_path / "v.csv", "--target", "value", "--lookback", 8, "--horizon", 2,
                 "--output", tmp_path / "o", "--epochs", 2, "--quiet", "--model", "linear")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["season_length"] == 1
    pred = invoke("predict", tmp_path / "o", tmp_path / "v.csv", "--json")
    assert [json.loads(l)["date"] for l in pred.output.splitlines()] == ["+1", "+2"]


@pytest.mark.slow
def test_fill_options(tmp_path):
    csv = monthly_csv(tmp_path / "m.csv", extra={5: "1990-04,,50.0,0.1", 9: "1990-08,NA,50.0,0.1"})
    res = invoke("train", csv, "--target", "sales", "--lookback", 12, "--horizon", 3, "--output", tmp_path / "o", *FAST)
    assert_clean_error(res, "missing values", "sales (2)", "line(s) 5, 9", "--fill")
    for method in ("ffill", "bfill", "linear", "zero", "drop"):
        res = invoke("train", csv, "--target", "sales", "--lookback", 12, "--horizon", 3, "--fill", method,
                     "--output", tmp_path / method, "--epochs", 1)
        assert res.exit_code == 0, (method, res.output)
        assert ("dropped 2 row(s)" if method == "drop" else f"with {method}") in res.output
        assert "lines 5, 9" in res.output
    assert len((tmp_path / "drop" / "forecast.csv").read_text().splitlines()) > 1


def test_fill_values():
    v = np.array([[np.nan], [1.0], [np.nan], [3.0], [np.nan]])
    np.testing.assert_array_equal(fill_missing(v, "ffill")[:, 0], [1, 1, 1, 3, 3])
    np.testing.assert_array_equal(fill_missing(v, "bfill")[:, 0], [1, 1, 3, 3, 3])
    np.testing.assert_array_equal(fill_missing(v, "linear")[:, 0], [1, 1, 2, 3, 3])
    np.testing.assert_array_equal(fill_missing(v, "zero")[:, 0], [0, 1, 0, 3, 0])


# ----------------------------------------------------------------------------- error cases
def base_args(csv, out):
    return ["train", csv, "--target", "sales", "--lookback", 12, "--horizon", 3, "--output", out, *FAST]


def test_output_folder_is_a_file(tmp_path):
    csv = monthly_csv(tmp_path / "m.csv")
    (tmp_path / "taken").write_text("x")
    res = invoke(*base_args(csv, tmp_path / "taken"))
    assert_clean_error(res, "taken")


def test_missing_file(tmp_path):
    assert_clean_error(invoke(*base_args(tmp_path / "nope.csv", tmp_path / "o")), "no such file", "nope.csv")
    assert_clean_error(invoke(*base_args(tmp_path, tmp_path / "o")), "is a folder")


def test_empty_and_header_only(tmp_path):
    (tmp_path / "e.csv").write_text("")
    assert_clean_error(invoke(*base_args(tmp_path / "e.csv", tmp_path / "o")), "is empty")
    (tmp_path / "h.csv").write_text("Month,sales\n")
    assert_clean_error(invoke(*base_args(tmp_path / "h.csv", tmp_path / "o")), "no data rows")
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe\x00\x81binary")
    assert_clean_error(invoke(*base_args(tmp_path / "b.bin", tmp_path / "o")), "not UTF-8")


def test_unknown_columns(tmp_path):
    csv = monthly_csv(tmp_path / "m.csv")
    args = base_args(csv, tmp_path / "o")
    args[3] = "revenue"
    assert_clean_error(invoke(*args), "no column named 'revenue' (the target)", "'sales'")
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o"), "--features", "weather"),
                       "no column named 'weather' (the feature)")
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o"), "--date-column", "when"),
                       "no column named 'when' (the date column)")
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o"), "--features", "sales"), "given twice")


def test_non_numeric_values_reported_with_lines(tmp_path):
    csv = monthly_csv(tmp_path / "m.csv", extra={4: "1990-03,abc,50,0.1", 7: "1990-06,12..5,50,0.1"})
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o")), "non-numeric", "line 4: 'abc'", "line 7: '12..5'")
    csv = monthly_csv(tmp_path / "f.csv", extra={6: "1990-05,100,50,high"})
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o"), "--features", "promo"), "'promo'", "line 6: 'high'")


def test_short_rows_and_bad_dates(tmp_path):
    csv = monthly_csv(tmp_path / "s.csv", extra={5: "1990-04"})
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o")), "missing on line(s) 5")
    csv = monthly_csv(tmp_path / "d.csv", extra={6: "1990-03,100,50,0.1"})
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o")), "line 6", "increasing time order")
    csv = monthly_csv(tmp_path / "x.csv", extra={6: "1990/13/45,100,50,0.1"})
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o")), "line 6", "does not match the format")


def test_horizon_longer_than_the_data(tmp_path):
    csv = monthly_csv(tmp_path / "m.csv", n=40)
    res = invoke("train", csv, "--target", "sales", "--lookback", 24, "--horizon", 12, "--output", tmp_path / "o", *FAST)
    assert_clean_error(res, "horizon is longer than the data allows", "training part has 28")
    res = invoke("train", csv, "--target", "sales", "--lookback", 6, "--horizon", 12, "--split", "24,8,8",
                 "--output", tmp_path / "o", *FAST)
    assert_clean_error(res, "validation part has 8 rows")
    res = invoke("train", csv, "--target", "sales", "--lookback", 6, "--horizon", 12, "--split", "24,0,10",
                 "--output", tmp_path / "o", *FAST)
    assert_clean_error(res, "horizon is longer than the data allows", "test part has 10 rows")


@pytest.mark.parametrize("split,message", [("0.7,0.2", None), ("a,b,c", "must be numbers"), ("0.8,0.3,0.2", "sum to"),
                                           ("100,20,20", "asks for 140 rows"), ("0.9,0.1,0", "no test rows"),
                                           ("1,2,3,4", "expected train,val,test"), ("0,0.5,0.5", "no training rows"),
                                           ("-0.1,0.5,0.5", "non-negative")])
def test_bad_split(tmp_path, split, message):
    csv = monthly_csv(tmp_path / "m.csv", n=96)
    res = invoke(*base_args(csv, tmp_path / "o"), "--split", split)
    if message is None:
        assert res.exit_code == 0, res.output
    else:
        assert_clean_error(res, message)


def test_split_parsing():
    assert parse_split("8640,2880,2880", 17420) == (8640, 2880, 2880)
    assert parse_split("0.7,0.1,0.2", 100) == (70, 10, 20)
    assert parse_split("0.8,0.2", 50) == (40, 0, 10)
    with pytest.raises(ForecastDataError):
        parse_split("0.5", 10)


def test_bad_numbers_and_options(tmp_path):
    csv = monthly_csv(tmp_path / "m.csv")
    res = invoke("train", csv, "--target", "sales", "--lookback", 0, "--horizon", 3, "--output", tmp_path / "o")
    assert_clean_error(res, "--lookback must be an integer >= 1")
    res = invoke(*base_args(csv, tmp_path / "o"), "--d-model", 32)
    assert_clean_error(res, "--d-model applies to --model transformer")
    res = invoke(*base_args(csv, tmp_path / "o"), "--model", "transformer", "--d-model", 30, "--num-heads", 4,
                 "--patch-len", 4)
    assert_clean_error(res, "multiple of num_heads")
    res = invoke(*base_args(csv, tmp_path / "o"), "--model", "transformer")
    assert_clean_error(res, "patch length 16 is longer than the lookback 12")
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o"), "--model", "arima"), "Invalid value for '--model'")
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o"), "--learning-rate", -1), "--learning-rate must be > 0")
    assert_clean_error(invoke(*base_args(csv, tmp_path / "o"), "--fill", "mean"), "Invalid value for '--fill'")


def test_predict_and_backtest_errors(trained, tmp_path):
    csv, out, _ = trained
    assert_clean_error(invoke("predict", tmp_path / "none", csv), "no such model")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    assert_clean_error(invoke("predict", tmp_path / "junk.h5", csv), "could not be read as a forecasting model")
    short = monthly_csv(tmp_path / "short.csv", n=10)
    assert_clean_error(invoke("predict", out, short), "has 10 rows", "lookback")
    other = tmp_path / "other.csv"
    other.write_text("Month,revenue\n1990-01,1\n")
    assert_clean_error(invoke("predict", out, other), "no column named 'sales'")
    assert_clean_error(invoke("backtest", out, csv, "--start", 95), "no complete forecast")
    assert_clean_error(invoke("backtest", out, csv, "--start", 10), "--start 10")
    assert_clean_error(invoke("backtest", out, csv, "--start", "x"), "--start must be")


# ----------------------------------------------------------------------------- pieces
def test_windows_fold_channels_in_order():
    T, C, L, H = 20, 3, 4, 2
    series = np.arange(T * C, dtype=np.float32).reshape(T, C)
    feats = -np.arange(T, dtype=np.float32)[:, None]
    o = origins(0, T, L, H, stride=3)
    assert o.tolist() == [4, 7, 10, 13, 16]
    x, y = make_inputs(series, feats, o, L), make_targets(series, o, H)
    assert x.shape == (len(o) * C, L, 2) and y.shape == (len(o) * C, H)
    np.testing.assert_array_equal(x[1 * C + 2, :, 0], series[3:7, 2])   # origin 7, channel 2
    np.testing.assert_array_equal(x[1 * C + 2, :, 1], feats[3:7, 0])
    np.testing.assert_array_equal(unfold(y, C)[1], series[7:9])
    assert origins(10, 20, 4, 2).tolist()[0] == 10  # lookback reaches back into the previous part


def test_baselines():
    s = np.arange(30, dtype=np.float64)[:, None]
    o = np.array([24])
    np.testing.assert_array_equal(bl.naive(s, o, 3)[0, :, 0], [23, 23, 23])
    np.testing.assert_array_equal(bl.seasonal_naive(s, o, 14, 12)[0, :, 0],
                                  [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 12, 13])
    lin = bl.LinearBaseline().fit(np.sin(np.arange(200) / 3.0)[:, None], origins(0, 200, 10, 3), 10, 3)
    pred = lin.predict(np.sin(np.arange(200) / 3.0)[:, None], np.array([150]), 10)
    np.testing.assert_allclose(pred[0, :, 0], np.sin(np.arange(150, 153) / 3.0), atol=1e-3)


def test_metrics_zero_safe_and_mase():
    t = np.array([[[0.0], [2.0]]])
    p = np.array([[[0.0], [1.0]]])
    m = forecast_metrics(t, p, scale=np.array([0.5]), std=np.array([2.0]))
    assert m["mae"] == pytest.approx(0.5) and m["mse"] == pytest.approx(0.5)
    assert m["mape"] == pytest.approx(50.0)                       # the zero truth is skipped
    assert m["smape"] == pytest.approx((0 + 200 * 1 / 3) / 2)     # 0/0 counts as 0
    assert m["mase"] == pytest.approx(1.0) and m["per_step"]["mase"] == [0.0, 2.0]
    assert m["scaled_mae"] == pytest.approx(0.25) and m["scaled_mse"] == pytest.approx(0.125)
    assert forecast_metrics(np.zeros((1, 2, 1)), np.ones((1, 2, 1)), np.array([1.0]))["mape"] is None
    hist = np.array([[1.0], [2.0], [4.0], [7.0]])
    assert mase_scale(hist, 1)[0] == pytest.approx(2.0) and mase_scale(hist, 2)[0] == pytest.approx(4.0)
    assert mase_scale(hist, 12)[0] == pytest.approx(2.0)  # season longer than the history: lag 1


def test_unwritable_output_is_a_one_line_error_before_work(tmp_path):
    from click.testing import CliRunner

    from apps.cli import main

    (tmp_path / "afile").write_text("x")
    csv = tmp_path / "s.csv"
    csv.write_text("y\n" + "\n".join(str(i % 7) for i in range(60)) + "\n")
    r = CliRunner().invoke(main, ["forecast", "train", str(csv), "--target", "y", "--lookback", "4", "--horizon", "2",
                                  "-o", str(tmp_path / "afile" / "run")])
    assert r.exit_code != 0 and "cannot write to the output folder" in r.output and "Traceback" not in r.output


@pytest.mark.slow
def test_progress_is_the_apps_style_and_capped(tmp_path):
    """Epoch lines in the apps' format on stderr (at most ~20 for many short epochs, the last one run
    included); nothing but the JSON on stdout with --json -q."""
    csv = monthly_csv(tmp_path / "m.csv")
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "sales", "-l", "12", "--horizon", "3", "-m", "linear",
                                  "--epochs", "100",
                                  "--patience", "100", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    epochs = [l for l in r.output.splitlines() if l.startswith("epoch ")]
    assert 10 <= len(epochs) <= 21 and epochs[-1].startswith("epoch 100/100 - ") and "val_loss: " in epochs[-1]
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "sales", "-l", "12", "--horizon", "3", "-m", "linear",
                                  "--epochs", "2",
                                  "-o", str(tmp_path / "o2"), "--json", "-q"])
    assert r.exit_code == 0 and json.loads(r.stdout)["model"]["mase"] > 0
