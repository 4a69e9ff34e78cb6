"""The forecasting Python API: fit on an array or a CSV, predict(horizon) with intervals and quantiles,
backtest, save/load giving the same forecasts, and the errors a user meets."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from apps.forecasting import Forecaster
from apps.forecasting.data import ForecastDataError


def data(n=180):
    t = np.arange(n)
    y = 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t + np.random.default_rng(0).normal(0, 0.1, n)
    return y, [datetime(2000 + i // 12, i % 12 + 1, 1) for i in range(n)]


@pytest.mark.slow
def test_fit_array_predict_backtest_save_load(tmp_path):
    y, dates = data()
    f = Forecaster(24, 6, candidates="ridge,seasonal_naive,naive").fit(y, dates=dates)
    assert f.selection["winner"] == f.model_name and set(f.selection["validation_mae_z"]) == {"ridge", "seasonal_naive",
                                                                                             "naive"}
    p = f.predict(4)
    assert p["targets"] == ["y"] and p["mean"].shape == (4, 1) and len(p["dates"]) == 4
    assert p["dates"][0].startswith("2015-01-01")  # the month after the last date
    assert list(p["quantiles"]) == [0.025, 0.1, 0.5, 0.9, 0.975]
    qs = np.stack(list(p["quantiles"].values()))
    assert (np.diff(qs, axis=0) >= 0).all() and np.array_equal(p["quantiles"][0.1], p["lower"][80.0])
    bt = f.backtest()
    assert bt["model_name"] == f.model_name and bt["model"]["mase"] == pytest.approx(f.metrics["model"]["mase"], rel=1e-4)
    f.save(tmp_path / "run")
    g = Forecaster.load(tmp_path / "run")
    np.testing.assert_allclose(g.predict(data=y, dates=dates)["mean"], f.predict()["mean"], rtol=1e-6)
    with pytest.raises(ForecastDataError, match="forecasts 1..6 steps"):
        f.predict(7)
    with pytest.raises(ForecastDataError, match="no data of its own"):
        g.predict()
    with pytest.raises(ForecastDataError, match="not fitted"):
        Forecaster(24, 6).predict()


def test_fit_csv_quantile_network(tmp_path):
    y, dates = data(120)
    csv = tmp_path / "s.csv"
    csv.write_text("month,sales\n" + "\n".join(f"{d:%Y-%m},{v:.4f}" for d, v in zip(dates, y)) + "\n")
    f = Forecaster(24, 3, model="linear", quantiles=[0.1, 0.9], epochs=5).fit(csv, target="sales",
                                                                                 output=tmp_path / "run")
    assert (tmp_path / "run" / "model.h5").exists() and f.model_name == "linear"
    p = f.predict()
    assert p["dates"] == ["2010-01", "2010-02", "2010-03"]
    assert (p["quantiles"][0.1] < p["mean"]).all() and (p["mean"] < p["quantiles"][0.9]).all()
    with pytest.raises(ForecastDataError, match="give target="):
        Forecaster(24, 3).fit(csv)
    with pytest.raises(ForecastDataError, match="row 5: missing or infinite"):
        Forecaster(24, 3).fit(np.where(np.arange(120) == 5, np.nan, y))
