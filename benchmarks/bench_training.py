"""Training-loop benchmarks: one epoch of the workloads users run (random data, fixed seeds).

    python benchmarks/bench_training.py [--repeats 3] [--only mlp32,cnn,lstm] [--json out.json]

Median of the repeats after a warm-up epoch; prints a table. Never run as a test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from core import layers as L  # noqa: E402
from core.models import Sequential  # noqa: E402
from core.utils import set_random_seed  # noqa: E402


def mlp(batch):
    def make():
        x = np.random.default_rng(0).random((60000, 784), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[np.random.default_rng(1).integers(0, 10, 60000)]
        m = Sequential([L.Input((784,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                        L.Dense(10, activation="softmax")])
        m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        return m, x, y, batch
    return make


def cnn():
    x = np.random.default_rng(0).random((10000, 28, 28, 1), dtype=np.float32)
    y = np.random.default_rng(1).integers(0, 10, 10000)
    m = Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                    L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
    m.compile(optimizer="adam", loss=__import__("core.losses", fromlist=["x"]).SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])
    return m, x, y, 64


def lstm():
    x = np.random.default_rng(0).integers(1, 20000, (5000, 200))
    y = np.random.default_rng(1).integers(0, 2, (5000, 1)).astype(np.float32)
    m = Sequential([L.Input((200,), dtype="int32"), L.Embedding(20000, 128), L.LSTM(128),
                    L.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return m, x, y, 64


WORKLOADS = {
    "mlp32": ("MLP 784-64-64-10, 60,000 samples, batch 32", mlp(32)),
    "mlp128": ("MLP 784-64-64-10, 60,000 samples, batch 128", mlp(128)),
    "cnn": ("CNN 28x28x1 (conv32-pool-conv64-pool-dense), 10,000 samples, batch 64", cnn),
    "lstm": ("Embedding(20000,128)-LSTM(128)-Dense(1), length 200, 5,000 samples, batch 64", lstm),
}


def time_epoch(make, repeats):
    set_random_seed(0)
    model, x, y, batch = make()
    model.fit(x[: batch * 5], y[: batch * 5], batch_size=batch, epochs=1, verbose=0)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = []
    for key in args.only.split(","):
        desc, make = WORKLOADS[key]
        rows.append((desc, time_epoch(make, args.repeats)))
        print(f"{desc}: {rows[-1][1]:.2f} s/epoch", flush=True)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'workload (one epoch)'.ljust(width)}  median s")
    print("-" * (width + 10))
    for desc, t in rows:
        print(f"{desc.ljust(width)}  {t:8.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({d: t for d, t in rows}, f, indent=2)


if __name__ == "__main__":
    main()
