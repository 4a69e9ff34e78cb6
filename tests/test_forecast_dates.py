"""Dates of `zoo forecast` CSVs: every recognised format gives the same step, season length and future
dates; unrecognised or ambiguous dates, absurd values and other apps' runs are one-line errors, never
a silent fall-back to row numbers."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main
from apps.forecasting.data import ForecastDataError, load_series


def write(path, header, rows):
    Path(path).write_text("\n".join([header] + rows) + "\n")
    return str(path)


def monthly(n=40):
    t = np.arange(n)
    return [datetime(2000 + i // 12, i % 12 + 1, 1) for i in range(n)], 100 + 10 * np.sin(2 * np.pi * t / 12)


@pytest.mark.parametrize("fmt", ["%Y-%m", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%b %Y", "%Y-%m-%dT%H:%M:%SZ",
                                 "%Y-%m-%dT%H:%M:%S+02:00", "%d %B %Y"])
def test_monthly_formats_give_monthly_steps_and_future_dates(tmp_path, fmt):
    dates, y = monthly()
    csv = write(tmp_path / "m.csv", "when,y", [f"{d.strftime(fmt)},{v:.3f}" for d, v in zip(dates, y)])
    s = load_series(csv, "y", date_column="when")
    assert s.dates.parsed and s.dates.step_months == 1 and s.dates.season_length() == 12 and not s.warnings
    assert s.dates.future(2) == [datetime(2003, 5, 1).strftime(fmt), datetime(2003, 6, 1).strftime(fmt)]


def test_day_order_is_chosen_by_the_data_and_ambiguity_is_an_error(tmp_path):
    days = [datetime(2020, 1, 1) + timedelta(days=i) for i in range(20)]
    us = write(tmp_path / "us.csv", "date,y", [f"{d:%m/%d/%Y},{i}" for i, d in enumerate(days)])
    eu = write(tmp_path / "eu.csv", "date,y", [f"{d:%d/%m/%Y},{i}" for i, d in enumerate(days)])
    for csv, fmt in ((us, "%m/%d/%Y"), (eu, "%d/%m/%Y")):
        s = load_series(csv, "y")
        assert s.dates.fmt == fmt and s.dates.step == timedelta(days=1) and s.dates.season_length() == 7
        assert s.dates.values[-1] == datetime(2020, 1, 20)
    # 01/01 .. 01/10 then a year later: regular neither way round -> say which
    odd = write(tmp_path / "odd.csv", "date,y", [f"01/{i:02d}/2020,{i}" for i in range(1, 11)] + ["01/01/2021,3"])
    with pytest.raises(ForecastDataError, match="both day orders.*--date-format"):
        load_series(odd, "y")
    s = load_series(odd, "y", date_format="%d/%m/%Y")
    assert s.dates.values[1] == datetime(2020, 2, 1)


def test_iso8601_offsets_and_z_are_hourly_across_a_dst_change(tmp_path):
    start = datetime(2021, 3, 27, 20, tzinfo=timezone.utc)
    rows = []
    for i in range(48):
        u = start + timedelta(hours=i)
        off = 2 if u >= datetime(2021, 3, 28, 1, tzinfo=timezone.utc) else 1  # CET -> CEST
        local = u.astimezone(timezone(timedelta(hours=off)))
        rows.append(f"{local.isoformat()},{i % 24}")
    s = load_series(write(tmp_path / "dst.csv", "timestamp,load", rows), "load")
    assert s.dates.step == timedelta(hours=1) and s.dates.season_length() == 24
    assert s.dates.future(1) == [(start + timedelta(hours=48)).astimezone(timezone(timedelta(hours=2))).isoformat()]
    z = [f"2021-01-01T{h:02d}:00:00.000Z,{h}" for h in range(24)]
    s = load_series(write(tmp_path / "z.csv", "time,v", z), "v")
    assert s.dates.step == timedelta(hours=1) and s.dates.future(1) == ["2021-01-02T00:00:00.000Z"]


def test_quarters_and_date_parts(tmp_path):
    s = load_series(write(tmp_path / "q.csv", "quarter,gdp", [f"{1990 + i // 4}Q{i % 4 + 1},{i}" for i in range(12)]),
                    "gdp")
    assert s.dates.step_months == 3 and s.dates.season_length() == 4 and s.dates.future(1) == ["1993Q1"]
    rows = [f"{2010 + (i // 24) // 31},1,{(i // 24) % 31 + 1},{i % 24},{i}" for i in range(72)]
    csv = write(tmp_path / "parts.csv", "Year,Month,Day,Hour,pm", rows)
    s = load_series(csv, "pm")  # found by their names
    assert s.date_column == "Year,Month,Day,Hour" and s.dates.season_length() == 24
    assert s.dates.labels[25] == "2010-01-02 01:00" and s.dates.future(1) == ["2010-01-04 00:00"]
    bad = write(tmp_path / "badparts.csv", "year,month,v", ["2020,1,1", "2020,13,2"])
    with pytest.raises(ForecastDataError, match="line 3: no valid date from the columns year, month"):
        load_series(bad, "v")


def test_unrecognised_dates_fail_and_no_dates_warn(tmp_path):
    bad = write(tmp_path / "bad.csv", "date,y", [f"day {i},{i}" for i in range(10)])
    with pytest.raises(ForecastDataError, match="not recognised.*--date-format.*--date-column none"):
        load_series(bad, "y")
    s = load_series(bad, "y", date_column="none")
    assert not s.dates.parsed and not s.warnings and s.dates.future(2) == ["+1", "+2"]
    plain = write(tmp_path / "plain.csv", "a,y", [f"{i},{i}" for i in range(10)])
    s = load_series(plain, "y")
    assert not s.dates.parsed and len(s.warnings) == 1 and "--date-column none" in s.warnings[0]
    with pytest.raises(ForecastDataError, match=r"line 3: date '2020/13/01'.*does not match --date-format"):
        load_series(write(tmp_path / "f.csv", "d,y", ["2020/01/01,1", "2020/13/01,2"]), "y", date_format="%Y/%m/%d")


def test_absurd_and_infinite_values_are_errors_naming_the_line(tmp_path):
    dates, y = monthly()
    rows = [f"{d:%Y-%m},{v}" for d, v in zip(dates, y)]
    rows[5] = "2000-06,1e308"
    with pytest.raises(ForecastDataError, match=r"line 7: y = 1e\+308 is beyond"):
        load_series(write(tmp_path / "big.csv", "month,y", rows), "y")
    rows[5] = "2000-06,inf"
    with pytest.raises(ForecastDataError, match="line 7: 'inf'"):
        load_series(write(tmp_path / "inf.csv", "month,y", rows), "y")


def test_cli_dates_end_to_end(tmp_path):
    """US dates train with the monthly season (not rows and 1), write dated future rows; 1e308 fails before work."""
    dates, y = monthly(60)
    csv = write(tmp_path / "us.csv", "Date,y", [f"{d:%m/%d/%Y},{v:.3f}" for d, v in zip(dates, y)])
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "y", "-l", "12", "--horizon", "3", "--epochs", "1",
                                  "--model", "linear", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["season_length"] == 12
    assert (out / "future.csv").read_text().splitlines()[1].startswith("01/01/2005,")
    r = CliRunner().invoke(main, ["forecast", "predict", str(out), csv, "--json", "-q"])
    assert r.exit_code == 0 and json.loads(r.output.splitlines()[0])["date"] == "01/01/2005"
    rows = [f"{d:%Y-%m},{v:.3f}" for d, v in zip(dates, y)]
    rows[3] = "2000-04,1e308"
    r = CliRunner().invoke(main, ["forecast", "train", write(tmp_path / "b.csv", "month,y", rows), "-t", "y", "-l", "12",
                                  "--horizon", "3", "-o", str(tmp_path / "r2")])
    assert r.exit_code == 1 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert "line 5" in r.output and not (tmp_path / "r2" / "model.h5").exists()


def test_other_apps_name_a_forecast_run(tmp_path):
    dates, y = monthly(60)
    csv = write(tmp_path / "m.csv", "month,y", [f"{d:%Y-%m},{v:.3f}" for d, v in zip(dates, y)])
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "y", "-l", "12", "--horizon", "3", "--epochs", "1",
                                  "-m", "linear", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["text", "predict", str(out), "some text"])
    assert r.exit_code != 0 and "Traceback" not in r.output and "WindowNormalization" not in r.output
    assert "forecast" in r.output and "zoo forecast predict" in r.output
