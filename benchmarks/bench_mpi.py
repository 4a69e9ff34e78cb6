"""Data-parallel training on MPI: ResNet-20 CIFAR training steps (global batch 128) on this
process group, the allreduce's time for the model's gradient, and the scaling expected on paper.

    python benchmarks/bench_mpi.py [--steps 8] [--batch 128]                     # 1 process
    mpirun -np 2 -x ZOO_NUM_THREADS=1 python benchmarks/bench_mpi.py [--steps 8]  # 2 processes x 1 thread

Prints (rank 0) the images/s of ``fit``, the time of one gradient allreduce (``average_gradients``
on the model's gradient sizes, median of 20) and its share of a step, then for 2, 8 and 32 nodes
the efficiency ``t_compute / (t_compute + 2 (N-1)/N * bytes / bandwidth)`` at 10 and 100 Gb/s
for the measured compute time (float32; float16 halves the bytes). Never run as a test.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import zoo  # noqa: E402
from core import distribute, optimizers  # noqa: E402
from core.utils import set_random_seed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    set_random_seed(0)
    model = zoo.create_model("resnet20")
    model.compile(optimizer=optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    n = args.batch * (args.steps + 1)
    x = rng.standard_normal((n, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, n)
    model.fit(x[:args.batch], y[:args.batch], batch_size=args.batch, epochs=1, verbose=0)  # warm-up step
    distribute.barrier()
    t0 = time.perf_counter()
    model.fit(x[args.batch:], y[args.batch:], batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
    step = (time.perf_counter() - t0) / args.steps
    grads = [np.ones(w.data.shape, np.float32) for w in model.trainable_weights]
    nbytes = sum(g.nbytes for g in grads)
    times = []
    dist = distribute.distribution()
    for _ in range(20):
        distribute.barrier()
        t0 = time.perf_counter()
        if dist is not None:
            dist.average_gradients(grads, args.batch // distribute.size())
        times.append(time.perf_counter() - t0)
    reduce_s = statistics.median(times)
    if not distribute.is_chief():
        return
    print(f"processes {distribute.size()}, threads {os.environ.get('ZOO_NUM_THREADS', 'default')}: "
          f"{args.batch / step:.1f} images/s, {step * 1e3:.0f} ms/step; allreduce of {nbytes / 1e6:.2f} MB: "
          f"{reduce_s * 1e3:.2f} ms ({100 * reduce_s / step:.1f}% of a step)")
    compute = step - reduce_s
    for gbps in (10, 100):
        cells = []
        for nodes in (2, 8, 32):
            comm = 2 * (nodes - 1) / nodes * nbytes * 8 / (gbps * 1e9)
            cells.append(f"{nodes} nodes {100 * compute / (compute + comm):.1f}%")
        print(f"on paper at {gbps} Gb/s (float32 gradients, compute {compute * 1e3:.0f} ms/step): " + ", ".join(cells))


if __name__ == "__main__":
    main()
