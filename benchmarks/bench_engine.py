"""Engine micro-benchmarks: conv2d forward+backward and an MLP training step.

    python benchmarks/bench_engine.py [--repeats 5] [--json out.json]

Prints a table (median of the repeats, after a warm-up). Never run as a test.
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

from core import Parameter, Tensor, no_grad, ops  # noqa: E402
from core.host_memory import prepare_host  # noqa: E402


def bench(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def conv_case(n, h, w, cin, cout, k, strides=1, padding="same"):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((n, h, w, cin)).astype(np.float32), requires_grad=True)
    kern = Parameter(rng.standard_normal((k, k, cin, cout)).astype(np.float32) * 0.1)

    def fwd():
        with no_grad():
            ops.conv2d(x, kern, strides=strides, padding=padding)

    def fwd_bwd():
        x.grad = kern.grad = None
        ops.conv2d(x, kern, strides=strides, padding=padding).sum().backward()

    return fwd, fwd_bwd


def mlp_step(batch):
    rng = np.random.default_rng(0)
    sizes = [784, 64, 64, 10]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [Parameter(rng.standard_normal((a, b)).astype(np.float32) * 0.05),
                   Parameter(np.zeros(b, np.float32))]
    x = Tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = rng.integers(0, 10, batch)
    rows = np.arange(batch)

    def step():
        h = x
        for i in range(0, 4, 2):
            h = ops.relu(h @ params[i] + params[i + 1])
        logits = h @ params[4] + params[5]
        loss = -ops.mean(ops.log_softmax(logits)[rows, y])
        for p in params:
            p.grad = None
        loss.backward()
        with no_grad():
            for p in params:
                p.data -= np.float32(0.01) * p.grad

    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args(argv)
    rows = []
    for desc, shape in [("conv2d 3x3 same, 64x28x28x32 -> 64", (64, 28, 28, 32, 64, 3)),
                        ("conv2d 3x3 same, 32x32x32x16 -> 16", (32, 32, 32, 16, 16, 3)),
                        ("conv2d 1x1, 16x14x14x256 -> 64", (16, 14, 14, 256, 64, 1)),
                        ("conv2d 3x3 stride 2, 16x56x56x64 -> 128", (16, 56, 56, 64, 128, 3, 2))]:
        fwd, fwd_bwd = conv_case(*shape)
        rows.append((desc + " forward", bench(fwd, args.repeats)))
        rows.append((desc + " forward+backward", bench(fwd_bwd, args.repeats)))
    for batch in (32, 128):
        rows.append((f"MLP 784-64-64-10 train step, batch {batch}", bench(mlp_step(batch), args.repeats * 20)))
    width = max(len(r[0]) for r in rows)
    print(f"{'workload'.ljust(width)}  median ms")
    print("-" * (width + 11))
    for name, t in rows:
        print(f"{name.ljust(width)}  {t * 1e3:9.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({name: t for name, t in rows}, f, indent=2)


if __name__ == "__main__":
    prepare_host()  # the host settings a model's first layer call applies (core/host_memory.py)
    main()
