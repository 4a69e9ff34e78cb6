"""statsforecast's AutoETS on the splits of benchmarks/forecast_real_data.py, for the README's comparison
(a peer, never a dependency: run it with a Python that has statsforecast, e.g. a separate venv).

AutoETS is fitted once on the rows before the test part (train + validation; it needs no validation),
then, as our models, applied without refitting at every test origin (``forward``: the fitted parameters
filtered over the history up to the origin), forecasting the horizon with its 80%/95% intervals. MASE uses
our scale (the mean absolute seasonal difference of the rows before the test part).

    /path/to/venv-with-statsforecast/bin/python benchmarks/forecast_autoets.py [--only airline,...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.forecast_real_data import CASES, DATA  # noqa: E402


def run(name):
    from statsforecast.models import AutoETS

    from apps.forecasting.data import load_series, parse_split

    file, target, L, H, split, _ = CASES[name]
    s = load_series(str(DATA / file), target)
    y = s.values[:, 0].astype(np.float64)
    m = s.dates.season_length()
    n_train, n_val, n_test = parse_split(split, len(y))
    start, end = n_train + n_val, n_train + n_val + n_test
    t0 = time.time()
    model = AutoETS(season_length=m).fit(y[:start])
    pts, lo, hi, truth = [], {80: [], 95: []}, {80: [], 95: []}, []
    for o in range(start, end - H + 1):  # every test origin, as `zoo forecast train` evaluates
        f = model.forward(y=y[:o], h=H, level=[80, 95])
        pts.append(f["mean"])
        for p in (80, 95):
            lo[p].append(f[f"lo-{p}"])
            hi[p].append(f[f"hi-{p}"])
        truth.append(y[o:o + H])
    pts, truth = np.array(pts), np.array(truth)
    hist = y[:start]
    mm = m if m < len(hist) else 1
    scale = np.abs(hist[mm:] - hist[:-mm]).mean()
    cov = {p: float(((truth >= np.array(lo[p])) & (truth <= np.array(hi[p]))).mean()) for p in (80, 95)}
    return {"name": name, "spec": model.model_["method"] if hasattr(model, "model_") else "",
            "mase": float(np.abs(pts - truth).mean() / scale), "cov80": cov[80], "cov95": cov[95],
            "origins": len(pts), "seconds": time.time() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(CASES))
    a = ap.parse_args()
    print("| series | AutoETS model | test origins | MASE | 80% cover | 95% cover | s |")
    print("|---|---|---|---|---|---|---|")
    for name in a.only.split(","):
        r = run(name)
        print(f"| {name} | {r['spec']} | {r['origins']} | {r['mase']:.3f} | {r['cov80']:.2f} | {r['cov95']:.2f} | "
              f"{r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
