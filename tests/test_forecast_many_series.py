"""Long-format files with --id-column: one global model across the series, each scaled on its own,
metrics per series; series with other dates, missing series at predict and per-series features are
one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main
from apps.forecasting.data import ForecastDataError, load_series


def long_csv(path, series=(("a", 5.0), ("b", 20.0), ("c", 100.0)), n=90, drop=None):
    rng = np.random.default_rng(0)
    rows = ["store,date,sales"]
    for s, amp in series:
        for i in range(n):
            if drop and (s, i) in drop:
                continue
            rows.append(f"{s},{2000 + i // 12}-{i % 12 + 1:02d},{amp * (3 + np.sin(2 * np.pi * i / 12)) + rng.normal(0, amp * .05):.3f}")
    Path(path).write_text("\n".join(rows) + "\n")
    return str(path)


def test_long_format_loads_one_channel_per_series(tmp_path):
    s = load_series(long_csv(tmp_path / "l.csv"), "sales", id_column="store")
    assert s.targets == ["a", "b", "c"] and s.values.shape == (90, 3) and s.dates.season_length() == 12
    assert s.values[:, 2].mean() == pytest.approx(20 * s.values[:, 0].mean(), rel=0.05)
    with pytest.raises(ForecastDataError, match=r"series 'b' skips steps of the common calendar \(2000-11 first"):
        load_series(long_csv(tmp_path / "d.csv", drop={("b", 10)}), "sales", id_column="store")
    with pytest.raises(ForecastDataError, match="per-series features are not supported"):
        load_series(long_csv(tmp_path / "l.csv"), "sales", features="x", id_column="store")
    with pytest.raises(ForecastDataError, match="no column named 'shop'"):
        load_series(long_csv(tmp_path / "l.csv"), "sales", id_column="shop")


@pytest.mark.slow
def test_global_model_per_series_metrics_and_predict(tmp_path):
    csv = long_csv(tmp_path / "l.csv")
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "sales", "--id-column", "store", "-l", "24",
                                  "--horizon", "3", "-m", "linear", "--epochs", "5", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["per_target"]) == {"a", "b", "c"}
    scaler = json.loads((out / "args.json").read_text())
    assert scaler["id_column"] == "store" and scaler["target"] == ["sales"]
    r = CliRunner().invoke(main, ["forecast", "predict", str(out), csv, "--json", "-q"])
    first = json.loads(r.stdout.splitlines()[0])
    assert {"a", "b", "c", "c_lo80"} <= set(first) and first["c"] > 5 * first["a"]  # each series in its own scale
    short = long_csv(tmp_path / "s.csv", series=(("a", 5.0), ("b", 20.0)))
    r = CliRunner().invoke(main, ["forecast", "predict", str(out), short])
    assert r.exit_code == 1 and "missing: c" in r.output and "Traceback" not in r.output


def ragged_csv(path, spans=(("a", 0, 90), ("b", 30, 90), ("c", 0, 70)), extra=()):
    """Monthly series on one calendar (2000-01 + row), each over its own rows [start, end), levels far apart."""
    rng = np.random.default_rng(1)
    rows = ["store,date,sales"]
    for s, a, b in tuple(spans) + tuple(extra):
        amp = {"a": 5.0, "b": 20.0, "c": 100.0}.get(s, 1.0)
        for i in range(a, b):
            rows.append(f"{s},{2000 + i // 12}-{i % 12 + 1:02d},"
                        f"{amp * (3 + np.sin(2 * np.pi * i / 12)) + rng.normal(0, amp * .05):.3f}")
    Path(path).write_text("\n".join(rows) + "\n")
    return str(path)


def test_series_of_different_lengths_share_one_calendar(tmp_path):
    s = load_series(ragged_csv(tmp_path / "r.csv"), "sales", id_column="store")
    assert s.values.shape == (90, 3) and s.spans == [(0, 90), (30, 90), (0, 70)]
    assert np.isnan(s.values[:30, 1]).all() and np.isfinite(s.values[30:, 1]).all()
    assert np.isnan(s.values[70:, 2]).all() and s.dates.labels[30] == "2002-07"
    with pytest.raises(ForecastDataError, match=r"series 'c' skips steps of the common calendar \(2001-01 first"):
        load_series(ragged_csv(tmp_path / "g.csv", spans=(("a", 0, 90), ("c", 0, 12)), extra=(("c", 20, 60),)),
                    "sales", id_column="store")
    with pytest.raises(ForecastDataError, match="do not form one regular calendar"):
        load_series(ragged_csv(tmp_path / "h.csv", spans=(("a", 0, 30), ("c", 40, 90))), "sales", id_column="store")


def test_a_series_shorter_than_lookback_plus_horizon_is_named(tmp_path):
    csv = ragged_csv(tmp_path / "r.csv", extra=(("d", 80, 90),))
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "sales", "--id-column", "store", "-l", "12",
                                  "--horizon", "3", "-m", "linear", "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    msg = [l for l in r.output.splitlines() if l.startswith("Error")]
    assert len(msg) == 1 and "series 'd' has 10 rows, fewer than lookback 12 + horizon 3 = 15" in msg[0], r.output


@pytest.mark.slow
def test_global_model_on_series_of_different_lengths(tmp_path):
    """Each series is split, scaled, evaluated and forecast on its own rows; c ends 20 months early."""
    csv = ragged_csv(tmp_path / "r.csv")
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "sales", "--id-column", "store", "-l", "12",
                                  "--horizon", "3", "-m", "linear", "--epochs", "60", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["split_rows"]["b"] == {"train": 42, "val": 6, "test": 12} and m["split_rows"]["c"]["train"] == 49
    assert set(m["per_target"]) == {"a", "b", "c"}
    for name in "abc":  # the model is far better than naive on every series, each in its own units
        pt = m["per_target"][name]
        assert pt["model"]["mase"] < pt["naive"]["mase"], (name, pt)
    assert m["per_target"]["c"]["model"]["mae"] > 5 * m["per_target"]["a"]["model"]["mae"]
    assert 0 < m["intervals"]["model"]["levels"]["80"]["coverage"] <= 1
    # scaling per series: b's statistics are those of its own 42 training rows
    s = load_series(csv, "sales", id_column="store")
    from apps.forecasting.pipeline import load_forecaster
    _, assets = load_forecaster(out)
    assert assets["scaler"]["mean"][1] == pytest.approx(s.values[30:72, 1].mean(), rel=1e-5)
    assert assets["scaler"]["std"][2] == pytest.approx(s.values[:49, 2].std(), rel=1e-4)
    # the test forecasts of c lie in c's own test part (its last 14 rows: 2004-09..2005-10)
    import csv as csvmod
    rows = list(csvmod.DictReader(open(out / "forecast.csv")))
    c_dates = [r["date"] for r in rows if r["c_forecast"] != ""]
    assert c_dates[0] == "2004-09" and max(c_dates) <= "2005-10" and len(c_dates) == len(set(c_dates)) == 12
    # future.csv: c after its own last month (2005-10), a and b after 2007-06
    fut = list(csvmod.DictReader(open(out / "future.csv")))
    assert [r["date"] for r in fut if r["c"]] == ["2005-11", "2005-12", "2006-01"]
    assert [r["date"] for r in fut if r["a"]] == [r["date"] for r in fut if r["b"]] == ["2007-07", "2007-08", "2007-09"]
    assert all(float(r["c_lo80"]) < float(r["c"]) < float(r["c_hi80"]) for r in fut if r["c"])
    # backtest: per-series start rows (each series' own test part) and per-series metrics
    r = CliRunner().invoke(main, ["forecast", "backtest", str(out), csv, "--json", "-q"])
    assert r.exit_code == 0, r.output
    bt = json.loads(r.stdout)
    assert bt["start_rows"] == {"a": 72, "b": 48, "c": 56} and set(bt["per_target"]) == {"a", "b", "c"}
    assert bt["model"]["mae"] == pytest.approx(m["model"]["mae"], rel=1e-4)  # the same windows as the test part
    assert bt["origins"] == m["test"]["origins"]
    from apps.forecasting import Forecaster
    f = Forecaster.load(out)
    p = f.predict(data=csv)
    assert p["series_dates"]["c"] == ["2005-11", "2005-12", "2006-01"] and p["mean"].shape == (3, 3)
    assert p["mean"][0, 2] == pytest.approx(float(fut[0]["c"]), rel=1e-5)
