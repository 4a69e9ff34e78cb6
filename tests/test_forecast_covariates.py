"""Known-future covariates: user columns led by the horizon (the model sees them over the forecast
steps), rows after the data giving their future values, predict requiring them, calendar features."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main
from apps.forecasting.covariates import calendar_features
from apps.forecasting.data import ForecastDataError


def promo_csv(path, n=300, future_rows=0, seed=0):
    rng = np.random.default_rng(seed)
    promo = (rng.random(n + future_rows) < 0.3).astype(int)
    y = 50 + 20 * promo[:n] + rng.normal(0, 1, n)
    lines = ["date,sales,promo"]
    start = datetime(2020, 1, 1)
    for i in range(n + future_rows):
        sales = f"{y[i]:.3f}" if i < n else ""
        lines.append(f"{start + timedelta(days=i):%Y-%m-%d},{sales},{promo[i]}")
    Path(path).write_text("\n".join(lines) + "\n")
    return str(path)


def train(csv, out, *extra):
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "sales", "-l", "14", "--horizon", "5", "-m", "linear",
                                  "--epochs", "60", "--lr", "0.01", "--intervals", "none", "-o", str(out), "-q", *extra])
    assert r.exit_code == 0, r.output
    return json.loads((out / "metrics.json").read_text()), r


@pytest.mark.slow
def test_future_covariates_are_used_and_required(tmp_path):
    csv = promo_csv(tmp_path / "p.csv", future_rows=5)
    with_cov, r = train(csv, tmp_path / "a", "--future-covariates", "promo")
    without, _ = train(promo_csv(tmp_path / "q.csv"), tmp_path / "b")
    # promotions known in advance explain the spikes: the error falls by far
    assert with_cov["model"]["mae"] < 0.5 * without["model"]["mae"], (with_cov["model"]["mae"], without["model"]["mae"])
    fut = (tmp_path / "a" / "future.csv").read_text().splitlines()
    assert len(fut) == 6 and fut[1].startswith("2020-10-27,")  # the 5 rows after the last sales value
    promo = [int(l.split(",")[2]) for l in Path(csv).read_text().splitlines()[-5:]]
    values = [float(l.split(",")[1]) for l in fut[1:]]
    assert all((v > 60) == bool(p) for v, p in zip(values, promo)), (values, promo)
    # predict on the data without the future rows: one line naming the column and the dates
    r = CliRunner().invoke(main, ["forecast", "predict", str(tmp_path / "a"), promo_csv(tmp_path / "n.csv")])
    assert r.exit_code == 1 and "future values of promo for the 5 steps after the last row (2020-10-27" in r.output
    # a gap in a future value is named
    lines = Path(csv).read_text().splitlines()
    lines[-2] = lines[-2].rsplit(",", 1)[0] + ","
    Path(tmp_path / "g.csv").write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(main, ["forecast", "predict", str(tmp_path / "a"), str(tmp_path / "g.csv")])
    assert r.exit_code == 1 and "missing on line 305 (promo)" in r.output


@pytest.mark.slow
def test_training_without_future_rows_says_so(tmp_path):
    _, r = train(promo_csv(tmp_path / "p.csv"), tmp_path / "a", "--future-covariates", "promo")
    assert not (tmp_path / "a" / "future.csv").exists()


def test_calendar_features():
    days = [datetime(2021, 1, 4) + timedelta(days=i) for i in range(14)]  # Monday first
    names, x = calendar_features(days, step=timedelta(days=1))
    assert names == ["weekday_sin", "weekday_cos", "yearday_sin", "yearday_cos"]
    np.testing.assert_allclose(x[7], x[0][:2].tolist() + x[7][2:].tolist())  # a week later: same weekday
    assert x[0, 0] == pytest.approx(0.0) and x[0, 1] == pytest.approx(1.0)
    names, x = calendar_features([datetime(2020, m, 1) for m in range(1, 13)], step_months=1)
    assert names == ["month_sin", "month_cos"] and x[3, 0] == pytest.approx(1.0)


def test_calendar_end_to_end(tmp_path):
    """Daily data with a weekday effect: --calendar writes future.csv without future rows."""
    t = np.arange(200)
    days = [datetime(2020, 1, 1) + timedelta(days=int(i)) for i in t]
    y = 10 + 5 * np.array([d.weekday() >= 5 for d in days]) + np.random.default_rng(0).normal(0, .2, 200)
    csv = tmp_path / "d.csv"
    csv.write_text("date,sales\n" + "\n".join(f"{d:%Y-%m-%d},{v:.3f}" for d, v in zip(days, y)) + "\n")
    m, _ = train(str(csv), tmp_path / "c", "--calendar")
    assert (tmp_path / "c" / "future.csv").exists()
    r = CliRunner().invoke(main, ["forecast", "predict", str(tmp_path / "c"), str(csv), "--json", "-q"])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 5


# ----------------------------------------------------------------------------- holidays (optional package)
def _needs_holidays():
    return pytest.importorskip("holidays", reason="the optional holidays package is not installed "
                                                  "(pip install 'zoo[holidays]')")


def test_holiday_feature_counts_the_holidays_of_each_step():
    _needs_holidays()
    from apps.forecasting.covariates import holiday_feature

    days = [datetime(2020, 12, 20) + timedelta(days=i) for i in range(17)]
    name, x = holiday_feature(days, "US", step=timedelta(days=1))
    assert name == "holidays_US" and [d.day for d, v in zip(days, x) if v] == [25, 1]  # Christmas, New Year
    hours = [datetime(2020, 12, 24, 18) + timedelta(hours=i) for i in range(12)]
    _, x = holiday_feature(hours, "US", step=timedelta(hours=1))
    assert x.tolist() == [0.0] * 6 + [1.0] * 6  # from midnight on the 25th
    months = [datetime(2020, m, 1) for m in range(1, 13)]
    _, x = holiday_feature(months, "US", step_months=1)
    assert x[0] == 2 and x[11] == 1 and x[6] == 2  # New Year + MLK day; Christmas; Independence Day + observed
    _, x = holiday_feature(days, "GB", step=timedelta(days=1))
    assert [d.day for d, v in zip(days, x) if v] == [25, 26, 28, 1]  # Boxing Day and its substitute (UK)
    with pytest.raises(ForecastDataError, match=r"--holidays XX: .*not available.*a country code such as US"):
        holiday_feature(days, "XX", step=timedelta(days=1))


def test_holidays_without_the_package_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "holidays", None)  # as if not installed: import fails
    r = CliRunner().invoke(main, ["forecast", "train", promo_csv(tmp_path / "p.csv"), "-t", "sales", "-l", "14",
                                  "--horizon", "5", "-m", "linear", "--holidays", "US", "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "--holidays US needs the holidays package, which is not installed: pip install holidays" in r.output


@pytest.mark.slow
def test_holidays_end_to_end(tmp_path):
    """Daily sales that drop by 30 on US public holidays: with --holidays US the network forecasts the drops
    (the ridge baseline, blind to them, cannot), in the test part and in future.csv (Christmas 2022).
    --norm last: an additive effect stays additive (a per-window std would rescale it window by window)."""
    _needs_holidays()
    import holidays

    days = [datetime(2019, 12, 19) + timedelta(days=i) for i in range(1100)]  # ends 2022-12-22
    us = holidays.country_holidays("US", years=range(2019, 2024))
    off = np.array([d.date() in us for d in days])
    y = 50 + 3 * np.sin(2 * np.pi * np.arange(1100) / 7) - 30 * off + np.random.default_rng(0).normal(0, 1, 1100)
    csv = tmp_path / "h.csv"
    csv.write_text("date,sales\n" + "\n".join(f"{d:%Y-%m-%d},{v:.3f}" for d, v in zip(days, y)) + "\n")
    out = tmp_path / "h"
    r = CliRunner().invoke(main, ["forecast", "train", str(csv), "-t", "sales", "-l", "14", "--horizon", "7",
                                  "-m", "linear", "--norm", "last", "--epochs", "20", "--lr", "0.01", "--holidays", "US",
                                  "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    args = json.loads((out / "args.json").read_text())
    assert args["holidays"] == "US"
    import csv as csvmod

    rows = list(csvmod.DictReader(open(out / "forecast.csv")))
    hol = [r for r in rows if datetime.strptime(r["date"], "%Y-%m-%d").date() in us]
    assert len(hol) >= 4
    err = lambda col: np.mean([abs(float(r[col]) - float(r["sales"])) for r in hol])  # noqa: E731
    assert err("sales_forecast") < 0.3 * err("sales_linear"), (err("sales_forecast"), err("sales_linear"))
    fut = {r["date"]: float(r["sales"]) for r in csvmod.DictReader(open(out / "future.csv"))}
    xmas = ("2022-12-25", "2022-12-26")  # Christmas and its observed Monday
    assert max(fut[d] for d in xmas) < min(v for d, v in fut.items() if d not in xmas) - 15, fut
