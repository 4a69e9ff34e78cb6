"""Quantile forecasts: the pinball loss and the non-crossing head, gradient-checked against float64
finite differences, and a quantile network trained end to end."""
from __future__ import annotations

import numpy as np
import pytest

from apps.forecasting.intervals import pinball
from apps.forecasting.losses import PinballLoss
from apps.forecasting.models import MonotoneQuantiles, build_model, monotone_matrices
from core.gradient_check import check_gradients

Q = [0.1, 0.5, 0.9]


def test_pinball_loss_values_and_gradient():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(4, 3))
    q = rng.normal(size=(4, 3, 3))
    loss = PinballLoss(Q)
    want = np.mean([pinball(y, q[:, :, k], t) for k, t in enumerate(Q)])
    assert float(loss(y.astype(np.float32), q.astype(np.float32)).data) == pytest.approx(want, rel=1e-5)
    check_gradients(lambda yt, yp: loss.call(yt, yp), [y, q], wrt=[1])


def test_monotone_head_never_crosses_and_has_gradients():
    rng = np.random.default_rng(1)
    layer = MonotoneQuantiles([0.05, 0.1, 0.5, 0.8, 0.95])
    raw = rng.normal(scale=5.0, size=(6, 4 * 5))
    out = layer(raw.astype(np.float32)).data
    assert out.shape == (6, 4, 5) and (np.diff(out, axis=-1) > 0).all()
    np.testing.assert_allclose(out[..., 2], raw.reshape(6, 4, 5)[..., 2], rtol=1e-6)  # the anchor is the median
    sp = np.log1p(np.exp(raw.reshape(6, 4, 5)))
    np.testing.assert_allclose(out[..., 4] - out[..., 2], sp[..., 3] + sp[..., 4], rtol=1e-5)
    np.testing.assert_allclose(out[..., 2] - out[..., 0], sp[..., 0] + sp[..., 1], rtol=1e-5)
    check_gradients(lambda r: layer.call(r), [raw[:2]])
    a, inc = monotone_matrices([0.5, 0.9])
    assert a.tolist() == [[1, 1], [0, 0]] and inc.tolist() == [[0, 0], [0, 1]]
    with pytest.raises(ValueError, match="increasing and inside"):
        MonotoneQuantiles([0.9, 0.1])


@pytest.mark.parametrize("kind", ["linear", "lstm"])
def test_quantile_networks_output_ordered_quantiles(kind):
    m = build_model(kind, 16, 4, 1, quantiles=Q, **({"units": 4} if kind == "lstm" else {}))
    x = np.random.default_rng(0).normal(size=(3, 16, 1)).astype(np.float32) * 10 + 100
    y = m.predict(x, verbose=0)
    assert y.shape == (3, 4, 3) and (np.diff(y, axis=-1) > 0).all()


def test_parse_quantiles_and_pairs():
    from apps.forecasting.data import ForecastDataError
    from apps.forecasting.intervals import parse_quantiles, quantile_pairs

    assert parse_quantiles("0.9,0.1") == [0.1, 0.5, 0.9]
    assert quantile_pairs([0.025, 0.1, 0.5, 0.9, 0.975]) == [(80.0, 1, 3), (95.0, 0, 4)]
    for bad, msg in (("0.1,0.8", "unpaired: 0.1, 0.8"), ("0,1", "strictly between"), ("a", "expected numbers")):
        with pytest.raises(ForecastDataError, match=msg):
            parse_quantiles(bad)


@pytest.mark.slow
def test_cli_quantile_network_end_to_end(tmp_path):
    """--quantiles trains with the pinball loss: the median is the point forecast, the bounds are ordered
    in forecast.csv/future.csv/predict, metrics.json reports them; auto and --intervals are refused with it."""
    import json

    from click.testing import CliRunner

    from apps.cli import main
    from tests.app_helpers import series_csv

    csv = series_csv(tmp_path / "s.csv", 240)
    out = tmp_path / "q"
    r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "y", "-l", "24", "--horizon", "4", "-m", "linear",
                                  "--quantiles", "0.1,0.9", "--epochs", "20", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["intervals"]["levels"] == [80.0] and m["intervals"]["method"].startswith("quantile regression")
    assert 0 <= m["intervals"]["model"]["levels"]["80"]["coverage"] <= 1 and m["intervals"]["model"]["wql"] > 0
    assert "seasonal_naive" in m["intervals"]
    rows = [list(map(float, l.split(",")[4:7])) for l in (out / "forecast.csv").read_text().splitlines()[1:]]
    assert all(lo < p < hi for p, lo, hi in rows)
    r = CliRunner().invoke(main, ["forecast", "predict", str(out), csv, "--json", "-q"])
    first = json.loads(r.stdout.splitlines()[0])
    fut = (out / "future.csv").read_text().splitlines()[1].split(",")
    assert first["y_lo80"] < first["y"] < first["y_hi80"] and first["y"] == pytest.approx(float(fut[1]), rel=1e-5)
    for extra, msg in ((["-m", "auto"], "name --model linear"), (["-m", "linear", "--intervals", "80"], "choose one")):
        r = CliRunner().invoke(main, ["forecast", "train", csv, "-t", "y", "-l", "24", "--horizon", "4", *extra,
                                      "--quantiles", "0.1,0.9", "-o", str(tmp_path / "x")])
        assert r.exit_code == 1 and msg in r.output, r.output
