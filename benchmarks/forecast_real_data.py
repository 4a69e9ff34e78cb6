"""`zoo forecast train --model auto` on the real series of ../shared/data/timeseries, several seeds:
test MASE of the chosen model beside seasonal naive and the linear baseline, and the test coverage of
the 80%/95% conformal intervals. Prints a markdown table (the README's numbers).

    python benchmarks/forecast_real_data.py [--seeds 3] [--candidates ...] [--only airline,births]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("ZOO_SHARED_DATA", ROOT.parent / "shared" / "data")) / "timeseries" / "jbrownlee"

# name: file, target, lookback, horizon, split (the airline split holds out 1960, as in the tests), and the
# candidates (None: auto's full default set). FAST_CANDIDATES (no transformer, no LSTM) is the cheaper set the
# CI tests use on the two long series.
FAST_CANDIDATES = "linear,naive,seasonal_naive,ridge"
CASES = {
    "airline": ("airline-passengers.csv", "Passengers", 24, 12, "108,24,12", None),
    "sunspots": ("monthly-sunspots.csv", "Sunspots", 60, 12, "0.7,0.1,0.2", None),
    "min_temperatures": ("daily-min-temperatures.csv", "Temp", 30, 7, "0.7,0.1,0.2", None),
    "female_births": ("daily-total-female-births.csv", "Births", 28, 7, "0.7,0.1,0.2", None),
}


def run(name, seed, candidates=None):
    from click.testing import CliRunner

    from apps.cli import main

    file, target, lookback, horizon, split, measured = CASES[name]
    candidates = candidates or measured
    with tempfile.TemporaryDirectory() as out:
        args = ["forecast", "train", str(DATA / file), "-t", target, "-l", str(lookback), "--horizon", str(horizon),
                "--split", split, "--seed", str(seed), "-o", out, "-q"]
        if candidates:
            args += ["--candidates", candidates]
        t0 = time.time()
        r = CliRunner().invoke(main, args)
        if r.exit_code:
            raise RuntimeError(r.output)
        m = json.loads((Path(out) / "metrics.json").read_text())
    iv = m["intervals"]["model"]["levels"]
    return {"name": name, "seed": seed, "winner": m["model_name"], "mase": m["model"]["mase"],
            "snaive": m["baselines"]["seasonal_naive"]["mase"], "linear": m["baselines"]["linear"]["mase"],
            "cov80": iv["80"]["coverage"], "cov95": iv["95"]["coverage"], "seconds": time.time() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--candidates", default=None, help="[default: those of CASES]")
    ap.add_argument("--only", default=",".join(CASES))
    ap.add_argument("--first-seed", type=int, default=0)
    a = ap.parse_args()
    print("| series | seed | chosen | MASE | seasonal naive | linear | 80% cover | 95% cover | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in a.only.split(","):
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            r = run(name, seed, a.candidates)
            print(f"| {name} | {seed} | {r['winner']} | {r['mase']:.3f} | {r['snaive']:.3f} | {r['linear']:.3f} | "
                  f"{r['cov80']:.2f} | {r['cov95']:.2f} | {r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
