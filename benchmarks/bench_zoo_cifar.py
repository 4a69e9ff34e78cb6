"""CIFAR ResNet-20 training throughput (zoo.create_model("resnet20")): images/s of training steps
(SGD momentum 0.9, sparse categorical cross-entropy, BatchNorm in training mode) at batch 128,
and inference images/s, on random 32x32x3 data with fixed seeds.

    python benchmarks/bench_zoo_cifar.py [--steps 10] [--batch 128] [--depth 20] [--device cpu|gpu:0] [--json out.json]

Times ``--steps`` training steps after ``--warmup`` steps (median over ``--repeats`` runs); the
process CPU time per step is printed too (a load-independent cross-check on a shared machine).
Never run as a test.
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

import zoo  # noqa: E402
from core import backend, optimizers  # noqa: E402
from core.utils import set_random_seed  # noqa: E402


def _sync():
    if backend.config.device.kind == "gpu":
        import cupy  # type: ignore

        cupy.cuda.Device().synchronize()


def bench(depth=20, batch=128, steps=10, warmup=2, repeats=3):
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * steps, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, batch * steps)
    model = zoo.create_model(f"resnet{depth}", classifier_activation=None)
    model.compile(optimizer=optimizers.SGD(0.1, momentum=0.9),
                  loss=__import__("core.losses", fromlist=["x"]).SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[: batch * warmup], y[: batch * warmup], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    train, cpu = [], []
    for _ in range(repeats):
        _sync()
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        _sync()
        train.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    model.predict(x[:batch], batch_size=batch, verbose=0)
    infer = []
    for _ in range(repeats):
        _sync()
        t0 = time.perf_counter()
        model.predict(x, batch_size=batch, verbose=0)
        _sync()
        infer.append(time.perf_counter() - t0)
    n = batch * steps
    return {"model": f"resnet{depth}", "device": str(backend.config.device), "batch": batch, "steps": steps,
            "train_step_s": statistics.median(train) / steps, "train_cpu_s_per_step": statistics.median(cpu) / steps, "train_images_per_s": n / statistics.median(train),
            "inference_images_per_s": n / statistics.median(infer)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default=None, help="cpu (default, or $ZOO_DEVICE) or gpu:N")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    if args.device:
        backend.set_default_device(args.device)
    r = bench(args.depth, args.batch, args.steps, args.warmup, args.repeats)
    print(f"{r['model']} on {r['device']}, batch {r['batch']}: training {r['train_images_per_s']:.1f} images/s "
          f"({r['train_step_s'] * 1000:.0f} ms/step, {r['train_cpu_s_per_step'] * 1000:.0f} ms CPU/step), inference {r['inference_images_per_s']:.1f} images/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
