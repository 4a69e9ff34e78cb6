"""ImageNet inference throughput of the zoo models: ResNet50 at batch 16 and VGG16 at batch 8
(224x224x3, random weights and N(0, 1) inputs with fixed seeds), through ``model.predict``.

    python benchmarks/bench_zoo_inference.py [--models resnet50,vgg16] [--repeats 3] [--device cpu|gpu:0]
                                             [--json out.json]

Each model: one warm-up batch, then ``--repeats`` timed batches; images/s of the median wall time
(the process CPU time is printed too, to read numbers taken on a busy machine). Never run as a test.
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
from core import backend  # noqa: E402
from core.utils import set_random_seed  # noqa: E402

BATCH = {"resnet50": 16, "vgg16": 8}


def _sync():
    if backend.config.device.kind == "gpu":
        import cupy  # type: ignore

        cupy.cuda.Device().synchronize()


def bench(name, batch=None, repeats=3, size=224):
    """``{"model", "batch", "seconds_per_batch", "images_per_s", ...}`` for one registered model."""
    batch = batch or BATCH.get(name, 8)
    set_random_seed(0)
    model = zoo.create_model(name, input_shape=(size, size, 3))
    x = np.random.default_rng(0).standard_normal((batch, size, size, 3), dtype=np.float32)
    model.predict(x, batch_size=batch, verbose=0)  # warm-up
    times, cpu = [], []
    for _ in range(repeats):
        _sync()
        t0, c0 = time.perf_counter(), time.process_time()
        model.predict(x, batch_size=batch, verbose=0)
        _sync()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    return {"model": name, "device": str(backend.config.device), "batch": batch, "size": size,
            "params": int(model.count_params()), "seconds_per_batch": med, "images_per_s": batch / med,
            "cpu_seconds_per_batch": statistics.median(cpu), "runs_s": times}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet50,vgg16", help="comma-separated registered names")
    ap.add_argument("--batch", type=int, default=None, help="override the batch (resnet50 16, vgg16 8)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default=None, help="cpu (default, or $ZOO_DEVICE) or gpu:N")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    if args.device:
        backend.set_default_device(args.device)
    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        r = bench(name, args.batch, args.repeats)
        results.append(r)
        print(f"{r['model']} on {r['device']}, batch {r['batch']} at {r['size']}x{r['size']}: "
              f"{r['images_per_s']:.2f} images/s ({r['seconds_per_batch']:.3f} s/batch, median of {args.repeats}; "
              f"process CPU {r['cpu_seconds_per_batch']:.2f} s/batch)",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
