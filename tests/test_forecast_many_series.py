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
    with pytest.raises(ForecastDataError, match=r"series 'b' does not have the dates of series 'a' \(89 rows against 90"):
        load_series(long_csv(tmp_path / "d.csv", drop={("b", 10)}), "sales", id_column="store")
    with pytest.raises(ForecastDataError, match="per-series features are not supported"):
        load_series(long_csv(tmp_path / "l.csv"), "sales", features="x", id_column="store")
    with pytest.raises(ForecastDataError, match="no column named 'shop'"):
        load_series(long_csv(tmp_path / "l.csv"), "sales", id_column="shop")


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
