"""Multiply-add counts of the benchmark models, to turn the measured times into GFLOP/s.

    python benchmarks/model_flops.py [--times results.json]

Counts 2 FLOPs per multiply-add of every Conv2D / DepthwiseConv2D / Dense layer (the arithmetic
of a direct convolution, also for layers run with Winograd, which does fewer multiplications),
for one forward pass; a training step is counted as 3x the forward (forward, input gradient,
kernel gradient; the first layer's input gradient included, a small overcount). With ``--times``
(the JSON of run_benchmarks.py) it prints each framework's achieved GFLOP/s.

With ``--gemm-floor`` it also times, for the training workloads, the GEMMs alone that an
im2col + GEMM engine runs in one timed run: per Conv2D / Dense layer and step the forward
product, the input gradient's (except the first layer's) and the kernel gradient's, on random
matrices of the engine's block shapes, the blocks shared out among the intra-op threads as the
engine does. No im2col fill and no other op is timed: no such engine can train faster than that.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# workload -> (model builder, per-sample input shape, samples per timed run, training batch or None)
WORKLOADS = {
    "b": ("cnn", (28, 28, 1), 10000, 64),
    "c": ("resnet50", (224, 224, 3), 16, None),
    "d": ("vgg16", (224, 224, 3), 8, None),
    "g": ("resnet20", (32, 32, 3), 2560, 128),
    "j": ("toy_resnet", (32, 32, 3), 5000, 64),
}


def _model(name):
    import zoo
    from core import layers as L
    from core import models

    if name == "toy_resnet":
        sys.path.insert(0, os.path.join(HERE, "workloads"))
        import common
        from core import losses, optimizers

        return common.keras_toy_resnet(L, models, losses, optimizers)
    if name == "cnn":
        return models.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                                  L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
    return zoo.create_model(name, weights=None)


def layer_shapes(model, input_shape):
    """``[(layer, input shape, output shape)]`` of one sample through the model's Conv2D,
    DepthwiseConv2D and Dense layers, in call order."""
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
    return [(layer,) + shapes[id(layer)] for layer in todo]


def forward_flops(model, input_shape):
    """2 x multiply-adds of one sample's forward pass through the conv and dense layers."""
    import numpy as np

    from core import layers as L

    total = 0
    for layer, xs, ys in layer_shapes(model, input_shape):
        if isinstance(layer, L.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            total += 2 * int(np.prod(ys[1:])) * kh * kw
        elif isinstance(layer, L.Conv2D):
            kh, kw = layer.kernel_size
            total += 2 * int(np.prod(ys[1:])) * kh * kw * xs[-1] // layer.groups
        else:
            total += 2 * int(np.prod(ys[1:])) * xs[-1]
    return total


def step_gemms(model, input_shape, batch):
    """``[(rows, K, N, kind)]``: the GEMMs of one training step of an im2col + GEMM engine, as
    (rows, K) @ (K, N) products over ``rows`` im2col rows (kind "fwd", "dx": dy @ kernel^T, "dk":
    cols^T @ dy, the same multiply-adds as the forward). Grouped and depthwise convolutions are
    left out (none in the training workloads)."""
    import numpy as np

    from core import layers as L

    out = []
    for i, (layer, xs, ys) in enumerate(layer_shapes(model, input_shape)):
        if isinstance(layer, L.DepthwiseConv2D) or getattr(layer, "groups", 1) != 1:
            continue
        if isinstance(layer, L.Conv2D):
            kh, kw = layer.kernel_size
            rows, K, N = batch * int(np.prod(ys[1:-1])), kh * kw * xs[-1], ys[-1]
        else:
            rows, K, N = batch * int(np.prod(xs[1:-1])), xs[-1], ys[-1]
        out += [(rows, K, N, "fwd"), (rows, K, N, "dk")] + ([(rows, K, N, "dx")] if i > 0 else [])
    return out


def gemm_floor_seconds(gemms, repeats=5):
    """Seconds of one step's ``gemms`` (``step_gemms``): each over row blocks of about the
    engine's per-thread im2col block, shared out among the intra-op threads (BLAS single-threaded
    in each, as the engine runs its blocks), on random float32 matrices. Median of ``repeats``."""
    import importlib
    import time

    import numpy as np

    from core import parallel
    conv = importlib.import_module("core.ops.conv")  # ops.conv is Keras's function

    r = np.random.default_rng(0)
    threads = parallel.num_threads()
    plans = []
    for rows, K, N, kind in gemms:
        block = max(1, min(rows, conv._BLOCK_BYTES_PER_THREAD // (4 * K)))
        count = -(-rows // block)
        count = -(-count // threads) * threads
        block = -(-rows // count)
        a = [r.standard_normal((block, K), dtype=np.float32) for _ in range(threads)]
        b = r.standard_normal((K, N), dtype=np.float32)
        g = [r.standard_normal((block, N), dtype=np.float32) for _ in range(threads)]
        if kind == "fwd":
            def one(t, a=a, b=b, out=[np.empty((block, N), np.float32) for _ in range(threads)]):
                np.matmul(a[t], b, out=out[t])
        elif kind == "dx":
            def one(t, g=g, bt=b.T, out=[np.empty((block, K), np.float32) for _ in range(threads)]):
                np.matmul(g[t], bt, out=out[t])
        else:
            def one(t, a=a, g=g, out=[np.empty((K, N), np.float32) for _ in range(threads)]):
                np.matmul(a[t].T, g[t], out=out[t])
        plans.append((one, count))

    def step():
        for one, count in plans:
            per = count // threads
            parallel.run(lambda t, one=one, per=per: [one(t) for _ in range(per)],
                         [(t,) for t in range(threads)], gemm=True)

    step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--times", help="run_benchmarks.py JSON: print achieved GFLOP/s per framework")
    ap.add_argument("--gemm-floor", action="store_true",
                    help="also time the GEMMs alone of the training workloads (an im2col + GEMM engine's floor)")
    ap.add_argument("--only", help="comma-separated workloads (default: all)")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else set(WORKLOADS)
    unknown = only - set(WORKLOADS)
    if unknown:
        ap.error(f"--only: unknown workload(s) {sorted(unknown)}; choose from {sorted(WORKLOADS)}")
    times = json.load(open(args.times))["workloads"] if args.times else {}
    for w, (name, shape, n, batch) in WORKLOADS.items():
        if w not in only:
            continue
        model = _model(name)
        f = forward_flops(model, shape) * n * (3 if batch else 1)
        line = f"{w} {name:9s} {'training' if batch else 'inference'}: {f / 1e9:7.1f} GFLOP per timed run"
        fw = times.get(w, {}).get("frameworks", {})
        rates = [f"{k} {f / v['median_s'] / 1e9:.0f}" for k, v in fw.items() if v.get("median_s")]
        print(line + (("  GFLOP/s: " + ", ".join(rates)) if rates else ""))
        if args.gemm_floor and batch:
            gemms = step_gemms(model, shape, batch)
            floor = gemm_floor_seconds(gemms) * (n // batch)
            gf = sum(2 * rows * K * N for rows, K, N, _ in gemms) * (n // batch)
            print(f"  its GEMMs alone (no im2col, no other op): {floor:.2f} s per timed run, {gf / floor / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
