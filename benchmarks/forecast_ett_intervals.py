"""ETTh1, horizon 96 (lookback 336, the 8640/2880/2880 protocol split), with the conformal 80%/95%
intervals: the 7 channels as today's multivariate file and as 7 series of a long-format file (--id-column).
Prints the point errors (z-scored MSE/MAE, the published protocol's units) and the test coverage of the
intervals per layout (the README's numbers).

    python benchmarks/forecast_ett_intervals.py [--model linear] [--layouts wide,long]
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
DATA = Path(os.environ.get("ZOO_SHARED_DATA", ROOT.parent / "shared" / "data")) / "timeseries" / "ett" / "ETTh1.csv"
COLUMNS = "HUFL,HULL,MUFL,MULL,LUFL,LULL,OT"
PROTOCOL = ["--lookback", "336", "--horizon", "96", "--split", "8640,2880,2880"]


def ett_long(csv, path):
    """ETTh1 rewritten in long format: one row per (channel, hour), the channel name as the series id."""
    lines = Path(csv).read_text().splitlines()
    names = lines[0].split(",")[1:]
    rows = [r.split(",", 1) for r in lines[1:]]
    out = ["series,date,value"]
    for j, name in enumerate(names):
        out += [f"{name},{d},{v.split(',')[j]}" for d, v in rows]
    Path(path).write_text("\n".join(out) + "\n")
    return Path(path)


def run(layout, model_args, seed=0):
    from click.testing import CliRunner

    from apps.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        if layout == "long":
            data = ["--target", "value", "--id-column", "series"]
            csv = ett_long(DATA, Path(tmp) / "long.csv")
        else:
            data, csv = ["--target", COLUMNS], DATA
        out = Path(tmp) / "run"
        t0 = time.time()
        r = CliRunner().invoke(main, ["forecast", "train", str(csv), *data, *PROTOCOL, *model_args, "--seed", str(seed),
                                      "-o", str(out), "-q"])
        if r.exit_code:
            raise RuntimeError(r.output)
        m = json.loads((out / "metrics.json").read_text())
    lv = m["intervals"]["model"]["levels"]
    return {"layout": layout, "model": m["model_name"], "mse": m["model"]["scaled_mse"], "mae": m["model"]["scaled_mae"],
            "cov80": lv["80"]["coverage"], "cov95": lv["95"]["coverage"], "width80": lv["80"]["mean_width"],
            "seconds": time.time() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="linear", help="linear|transformer|lstm, or ridge (--model auto "
                                                      "--candidates ridge: the closed-form linear model)")
    ap.add_argument("--layouts", default="wide,long")
    a = ap.parse_args()
    model_args = ["--candidates", "ridge"] if a.model == "ridge" else ["--model", a.model]
    print("| layout | model | MSE | MAE | 80% cover | 95% cover | s |")
    print("|---|---|---|---|---|---|---|")
    for layout in a.layouts.split(","):
        r = run(layout, model_args)
        print(f"| {layout} | {r['model']} | {r['mse']:.3f} | {r['mae']:.3f} | {r['cov80']:.3f} | {r['cov95']:.3f} | "
              f"{r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
