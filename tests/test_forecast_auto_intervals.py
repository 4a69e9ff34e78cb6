"""`--model auto` (the baselines as exact fixed-weight networks, the choice by validation error) and
split conformal prediction intervals (ranks, nesting, scores by hand, calibration on a long series)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main
from apps.forecasting import baselines as bl
from apps.forecasting.data import ForecastDataError
from apps.forecasting.intervals import bounds, conformal_radii, interval_metrics, parse_levels, pinball
from apps.forecasting.selection import baseline_model, choose, parse_candidates
from apps.forecasting.windows import make_inputs, origins, unfold
from tests.app_helpers import series_csv


def train(*args):
    r = CliRunner().invoke(main, ["forecast", "train", *[str(a) for a in args]])
    assert r.exit_code == 0, r.output
    return r


# ----------------------------------------------------------------------------- baselines as networks
@pytest.mark.parametrize("n_features", [0, 2])
@pytest.mark.parametrize("norm", ["revin", "last"])
def test_baseline_networks_equal_the_baselines(n_features, norm):
    rng = np.random.default_rng(1)
    T, L, H, m = 120, 30, 14, 12
    scaled = rng.normal(size=(T, 2)).astype(np.float32).cumsum(axis=0) * 0.3
    cov = rng.normal(size=(T, n_features)).astype(np.float32)
    orig = origins(L, T, L, H)
    x = make_inputs(scaled, cov, orig, L)
    for name, want in (("naive", bl.naive(scaled, orig, H)), ("seasonal_naive", bl.seasonal_naive(scaled, orig, H, m))):
        got = unfold(baseline_model(name, L, H, 1 + n_features, m, norm=norm).predict(x, verbose=0), 2)
        np.testing.assert_allclose(got, want, atol=1e-4)
    ridge = bl.LinearBaseline().fit(scaled[:80], origins(0, 80, L, H), L, H)
    got = unfold(baseline_model("ridge", L, H, 1 + n_features, ridge=ridge).predict(x, verbose=0), 2)
    np.testing.assert_allclose(got, ridge.predict(scaled, orig, L), atol=1e-4)


def test_choose_and_candidates():
    assert choose({"a": 2.0, "b": 1.0, "c": 1.5}) == ("b", {"runner_up": "c", "relative": pytest.approx(0.5)})
    assert choose({"a": 1.0, "b": 1.0})[0] == "a"  # ties: the first listed
    assert choose({"a": 1.0}) == ("a", None)
    # one-standard-error rule: a network must beat the best baseline by more than the SE of the paired
    # per-origin differences (n / horizon effective windows); closer, the baseline is kept
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 1.5, 240)
    noisy = base - 0.01 + rng.normal(0, 0.2, 240)  # 1% better on average, differences of sd 0.2
    errors = {"linear": noisy, "ridge": base, "naive": base + 1}
    scores = {k: float(v.mean()) for k, v in errors.items()}
    w, margin = choose(scores, errors, horizon=12)
    rule = margin["one_standard_error_rule"]
    d = noisy - base
    assert rule["standard_error"] == pytest.approx(d.std(ddof=1) / np.sqrt(20)) and rule["baseline_kept"]
    assert w == "ridge" and margin["runner_up"] == "linear" and margin["relative"] < 0
    errors["linear"] = base - 0.2 + rng.normal(0, 0.05, 240)  # clearly better
    assert choose({k: float(v.mean()) for k, v in errors.items()}, errors, horizon=12)[0] == "linear"
    assert parse_candidates("ridge, linear,ridge") == ["ridge", "linear"]
    with pytest.raises(ForecastDataError, match="unknown arima"):
        parse_candidates("linear,arima")


# ----------------------------------------------------------------------------- conformal intervals
def test_conformal_ranks_nesting_and_short_calibration():
    rng = np.random.default_rng(0)
    res = rng.normal(size=(9, 4))
    radii, short = conformal_radii(res, [50, 80, 95])
    srt = np.sort(np.abs(res), axis=0)
    np.testing.assert_array_equal(radii[0], srt[math.ceil(10 * 0.5) - 1])
    np.testing.assert_array_equal(radii[1], srt[math.ceil(10 * 0.8) - 1])
    np.testing.assert_array_equal(radii[2], srt[-1])
    assert short == [95]  # ceil(10 * 0.95) = 10 > 9 windows
    assert (np.diff(radii, axis=0) >= 0).all()  # nested: never crossing
    lo, hi = bounds(rng.normal(size=(5, 4, 3)), radii, np.array([1.0, 2.0, 0.5]))
    assert (lo[:, None] <= hi[None]).all() and (np.diff(lo, axis=0) <= 0).all() and (np.diff(hi, axis=0) >= 0).all()
    per_window = rng.uniform(0.5, 2.0, size=(5, 3))  # a scale per forecast and channel (normalised scores)
    lo2, hi2 = bounds(np.zeros((5, 4, 3)), radii, per_window)
    np.testing.assert_allclose(hi2, radii[:, None, :, None] * per_window[None, :, None, :])
    np.testing.assert_allclose(lo2, -hi2)
    assert parse_levels("95,80") == [80.0, 95.0] and parse_levels("none") == []
    for bad in ("80,100", "0", "eighty"):
        with pytest.raises(ForecastDataError):
            parse_levels(bad)


def test_interval_scores_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    point = np.array([1.5, 2.0, 2.0, 5.0]).reshape(1, 4, 1)
    lo = (point - 0.6)[None]
    hi = (point + 0.6)[None]
    out = interval_metrics(y, point, lo, hi, [80])
    assert out["levels"]["80"]["coverage"] == 0.5  # 1 in [0.9, 2.1], 2 in [1.4, 2.6]; 3 and 4 outside
    assert out["levels"]["80"]["mean_width"] == pytest.approx(1.2)
    # pinball by hand: median 0.5*(0.5+0+1+1) = 1.25; q0.1 on lo = [0.9,1.4,1.4,4.4]: 0.1*(0.1+0.6+1.6)+0.9*0.4
    q10 = 0.1 * (0.1 + 0.6 + 1.6) + 0.9 * 0.4
    q90 = 0.1 * 1.1 + 0.1 * 0.6 + 0.9 * 0.4 + 0.1 * 1.6  # q0.9 on hi = [2.1, 2.6, 2.6, 5.6]
    assert out["wql"] == pytest.approx(2 * np.mean([1.25, q10, q90]) / 10.0)
    assert pinball(np.array([1.0]), np.array([3.0]), 0.9)[0] == pytest.approx(0.2)


@pytest.mark.slow
def test_conformal_intervals_cover_on_a_long_series(tmp_path):
    """AR(1) + season, 1800 months, ridge (no training): the 80%/95% test coverage lands near the level and
    bounds are in forecast.csv, future.csv and predict."""
    csv = series_csv(tmp_path / "s.csv", 1800)
    out = tmp_path / "run"
    train(csv, "-t", "y", "-l", 24, "--horizon", 6, "--candidates", "ridge", "-o", out, "-q")
    m = json.loads((out / "metrics.json").read_text())
    iv = m["intervals"]
    assert iv["levels"] == [80.0, 95.0] and iv["undercalibrated_levels"] == []
    assert 0.72 <= iv["model"]["levels"]["80"]["coverage"] <= 0.88, iv
    assert 0.90 <= iv["model"]["levels"]["95"]["coverage"] <= 0.985, iv
    assert iv["model"]["levels"]["80"]["mean_width"] < iv["model"]["levels"]["95"]["mean_width"]
    assert iv["model"]["wql"] < iv["seasonal_naive"]["wql"]
    header = (out / "forecast.csv").read_text().splitlines()[0].split(",")
    assert header[3:9] == ["y", "y_forecast", "y_lo80", "y_hi80", "y_lo95", "y_hi95"]
    rows = np.array([[float(v) for v in r.split(",")[1:6]] for r in (out / "future.csv").read_text().splitlines()[1:]])
    assert len(rows) == 6 and (rows[:, 3] <= rows[:, 1]).all() and (rows[:, 1] <= rows[:, 0]).all()
    assert (rows[:, 0] <= rows[:, 2]).all() and (rows[:, 2] <= rows[:, 4]).all()
    r = CliRunner().invoke(main, ["forecast", "predict", str(out), csv, "--json", "-q"])
    first = json.loads(r.stdout.splitlines()[0])
    assert set(first) == {"date", "y", "y_lo80", "y_hi80", "y_lo95", "y_hi95"}
    # normalised scores: the future half-width is radius x the last window's deviation (z units) x the scale
    from apps.forecasting.pipeline import load_forecaster

    _, assets = load_forecaster(out)
    assert assets["intervals"]["scale"] == "window_std"
    y = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=1)
    mean, sd = assets["scaler"]["mean"][0], assets["scaler"]["std"][0]
    w = ((y[-24:] - mean) / sd).std()
    np.testing.assert_allclose((rows[:, 2] - rows[:, 1]) / 2, np.asarray(assets["intervals"]["radii"])[0] * w * sd,
                               atol=1e-3)  # future.csv: 6 significant digits of values near 140


def test_auto_reports_the_choice_and_saves_the_winner(tmp_path):
    csv = series_csv(tmp_path / "s.csv", 120)
    out = tmp_path / "run"
    r = train(csv, "-t", "y", "-l", 24, "--horizon", 6, "--candidates", "linear,naive,seasonal_naive,ridge",
              "--epochs", 30, "-o", out)
    m = json.loads((out / "metrics.json").read_text())
    sel = m["selection"]
    assert set(sel["validation_mae_z"]) == {"linear", "naive", "seasonal_naive", "ridge"}
    assert sel["winner"] == m["model_name"] and sel["winner"] in sel["validation_mae_z"]
    if sel["winner"] != min(sel["validation_mae_z"], key=sel["validation_mae_z"].get):
        assert sel["margin"]["one_standard_error_rule"]["baseline_kept"]
    assert f"auto: {sel['winner']} won" in r.output and "% higher" in r.output
    assert json.loads((out / "args.json").read_text())["model"] == "auto"
    # the saved model is the winner: backtest over the test part gives the same model metrics
    bt = CliRunner().invoke(main, ["forecast", "backtest", str(out), csv, "--json", "-q"])
    assert json.loads(bt.stdout)["model"]["mae"] == pytest.approx(m["model"]["mae"], rel=1e-4)
    assert json.loads(bt.stdout)["model_name"] == sel["winner"]


def test_auto_and_intervals_need_a_validation_part(tmp_path):
    csv = series_csv(tmp_path / "s.csv", 120)
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "y", "-l", 24, "--horizon", 6, "--split", "0.8,0.2",
                                  "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "--model auto chooses by validation error" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "y", "-l", 24, "--horizon", 6, "--split", "0.8,0.2",
                                  "-m", "linear", "--intervals", "80", "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "--intervals are calibrated on the validation" in r.output
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "y", "-l", 24, "--horizon", 6, "-m", "linear",
                                  "--candidates", "ridge", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--candidates applies to --model auto" in r.output
