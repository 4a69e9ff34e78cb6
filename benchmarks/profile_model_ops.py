"""Where a registry model's inference or training step spends its time, by engine op.

    python benchmarks/profile_model_ops.py efficientnet_b0 [--size 96] [--batch 32] [--train] [--top 15]

Wraps ``forward``/``backward`` of every autodiff ``Function`` class (conv, depthwise conv, batch
norm, activations, ...) with a timer, runs one warm-up and one timed call (``predict`` on a batch,
or one ``fit`` step: Adam, sparse categorical cross-entropy, 10 classes, the model's backbone
without its ImageNet top + average pooling + ``Dense(10)``) and prints each op's share of the wall
time. A composite op that calls another (``Conv2D`` with one group per channel runs the depthwise
op) counts the inner op's time in both. The remainder is the engine's Python and the training loop.
2 threads, as the benchmarks. Never run as a test.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "workloads"))
import common  # noqa: E402

if __name__ == "__main__":
    common.pin_threads(2)
sys.path.insert(0, os.path.dirname(HERE))
from core.host_memory import configure_process  # noqa: E402

if __name__ == "__main__":
    configure_process()


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def instrument(stats):
    """Time every Function subclass's own forward/backward into ``stats`` ("Name.fwd" -> seconds)."""
    import core.ops  # noqa: F401  (defines the op classes)
    from core.autodiff import Function

    def wrap(cls, attr):
        fn = cls.__dict__[attr]
        key = f"{cls.__name__}.{'fwd' if attr == 'forward' else 'bwd'}"

        def timed(self, *a, **k):
            t0 = time.perf_counter()
            try:
                return fn(self, *a, **k)
            finally:
                stats[key] += time.perf_counter() - t0
        setattr(cls, attr, timed)

    for cls in set(_subclasses(Function)):
        for attr in ("forward", "backward"):
            if attr in cls.__dict__:
                wrap(cls, attr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train", action="store_true", help="one fit step instead of inference")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    import numpy as np

    import zoo
    from core import layers as L
    from core import losses, models, optimizers

    stats = collections.defaultdict(float)
    instrument(stats)
    base = zoo.create_model(args.model, include_top=False, pooling="avg", input_shape=(args.size, args.size, 3))
    model = models.Model(base.inputs, L.Dense(10)(base.outputs[0]))
    x = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3)).astype(np.float32)
    y = np.arange(args.batch) % 10
    if args.train:
        model.compile(optimizer=optimizers.Adam(1e-3), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        run = lambda: model.train_on_batch(x, y)  # noqa: E731
    else:
        run = lambda: model.predict_on_batch(x)  # noqa: E731
    run()
    stats.clear()
    t0 = time.perf_counter()
    run()
    total = time.perf_counter() - t0
    what = "training step" if args.train else "inference"
    print(f"{args.model} {args.size}x{args.size}, batch {args.batch}, {what}: {total:.3f} s")
    for key, sec in sorted(stats.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {key:36s} {sec:8.3f} s  {100 * sec / total:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
