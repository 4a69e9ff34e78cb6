"""Multiply-add counts of the benchmark models, to turn the measured times into GFLOP/s.

    python benchmarks/model_flops.py [--times results.json]

Counts 2 FLOPs per multiply-add of every Conv2D / DepthwiseConv2D / Dense layer (the arithmetic
of a direct convolution, also for layers run with Winograd, which does fewer multiplications),
for one forward pass; a training step is counted as 3x the forward (forward, input gradient,
kernel gradient; the first layer's input gradient included, a small overcount). With ``--times``
(the JSON of run_benchmarks.py) it prints each framework's achieved GFLOP/s.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# workload -> (model builder, per-sample input shape, samples per timed run, training?)
WORKLOADS = {
    "b": ("cnn", (28, 28, 1), 10000, True),
    "c": ("resnet50", (224, 224, 3), 16, False),
    "d": ("vgg16", (224, 224, 3), 8, False),
    "g": ("resnet20", (32, 32, 3), 2560, True),
}


def _model(name):
    import zoo
    from core import layers as L
    from core import models

    if name == "cnn":
        return models.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                                  L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
    return zoo.create_model(name, weights=None)


def forward_flops(model, input_shape):
    """2 x multiply-adds of one sample's forward pass through the conv and dense layers."""
    import numpy as np

    from core import Tensor
    from core import layers as L

    shapes = {}

    def hook(layer):
        call = layer.call

        def wrapped(x, *a, **k):
            y = call(x, *a, **k)
            shapes[id(layer)] = (tuple(x.shape), tuple(y.shape))
            return y
        layer.call = wrapped

    todo = [m for m in model.layers if isinstance(m, (L.Conv2D, L.DepthwiseConv2D, L.Dense))]
    for layer in todo:
        hook(layer)
    # with a graph recorded (an input that requires grad), so that inference fusion, which calls
    # the ops directly, does not bypass the hooked layers
    model(Tensor(np.zeros((1,) + tuple(input_shape), np.float32), requires_grad=True), training=False)
    total = 0
    for layer in todo:
        (xs, ys) = shapes[id(layer)]
        if isinstance(layer, L.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            total += 2 * int(np.prod(ys[1:])) * kh * kw
        elif isinstance(layer, L.Conv2D):
            kh, kw = layer.kernel_size
            total += 2 * int(np.prod(ys[1:])) * kh * kw * xs[-1] // layer.groups
        else:
            total += 2 * int(np.prod(ys[1:])) * xs[-1]
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--times", help="run_benchmarks.py JSON: print achieved GFLOP/s per framework")
    args = ap.parse_args()
    times = json.load(open(args.times))["workloads"] if args.times else {}
    for w, (name, shape, n, training) in WORKLOADS.items():
        f = forward_flops(_model(name), shape) * n * (3 if training else 1)
        line = f"{w} {name:9s} {'training' if training else 'inference'}: {f / 1e9:7.1f} GFLOP per timed run"
        fw = times.get(w, {}).get("frameworks", {})
        rates = [f"{k} {f / v['median_s'] / 1e9:.0f}" for k, v in fw.items() if v.get("median_s")]
        print(line + (("  GFLOP/s: " + ", ".join(rates)) if rates else ""))


if __name__ == "__main__":
    main()
