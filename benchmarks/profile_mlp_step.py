"""Where the MLP training step (workload a32: 784-64-64-10, Adam, batch 32) spends its time.

    python benchmarks/profile_mlp_step.py             # the split: BLAS against everything else
    python benchmarks/profile_mlp_step.py --cprofile  # cProfile's top functions (the non-BLAS part)
    python benchmarks/profile_mlp_step.py --split     # ops / optimizer / the rest, timed in the step
    python benchmarks/profile_mlp_step.py --numpy     # the same step hand-written in NumPy, no framework

The split times the real training step (``fit``, 2 threads, as the benchmark), then replays
exactly the GEMMs one step runs (3 forward products, 5 backward: the first layer needs no input
gradient) with the same shapes and threads; their ratio is the share of BLAS. The rest is the
engine's Python (graph building, backward bookkeeping, the optimizer, the training loop) and
NumPy's single-threaded elementwise work (bias, ReLU, softmax cross-entropy, Adam's update).
``--numpy`` also times the step written directly in NumPy (``numpy_training_step``, the engine's
arithmetic with nothing else): the BLAS share that no engine running the step as NumPy calls can
exceed, and how far the engine is from it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "workloads"))
import common  # noqa: E402

if __name__ == "__main__":  # (imported by the tests: their process's threads stay as they are)
    common.pin_threads(2)
sys.path.insert(0, os.path.dirname(HERE))
from core.host_memory import configure_process  # noqa: E402

if __name__ == "__main__":  # before NumPy, as the benchmark's workloads: OpenBLAS's threads' spin
    configure_process()

STEPS = 1875  # one epoch of 60,000 at batch 32


def train_step_seconds(epochs, on_start=None):
    from core import layers as L
    from core import models, optimizers
    from core.utils import set_random_seed

    set_random_seed(0)
    d = common.data(common.spec("a32"))
    m = models.Sequential([L.Input((784,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                           L.Dense(10, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(), loss="categorical_crossentropy")
    m.fit(d["x"][:3200], d["y"][:3200], batch_size=32, epochs=1, verbose=0)
    if on_start is not None:
        on_start()  # after the warm-up
    t = time.perf_counter()
    m.fit(d["x"], d["y"], batch_size=32, epochs=epochs, verbose=0)
    return (time.perf_counter() - t) / (epochs * STEPS)


def gemm_step_seconds(repeats):
    """The eight GEMMs of one step, replayed ``repeats`` times (fresh outputs, as the engine)."""
    import numpy as np

    r = np.random.default_rng(0)
    f = np.float32
    x, w1, w2, w3 = (r.random(s, dtype=f) for s in ((32, 784), (784, 64), (64, 64), (64, 10)))
    h1, h2, g3, g2, g1 = (r.random(s, dtype=f) for s in ((32, 64), (32, 64), (32, 10), (32, 64), (32, 64)))
    t = time.perf_counter()
    for _ in range(repeats):
        x @ w1, h1 @ w2, h2 @ w3                       # forward
        g3 @ w3.T, h2.T @ g3, g2 @ w2.T, h1.T @ g2      # backward, layers 3 and 2
        x.T @ g1                                       # layer 1: kernel gradient only
    return (time.perf_counter() - t) / repeats


def numpy_training_step(weights):
    """The MLP's training step written directly in NumPy, with no framework: ``step(x, y, it)``
    (a batch, one-hot targets, the 1-based step number) returns the batch's loss and updates
    ``weights`` (the kernels and biases of the three layers, float32) in place. Softmax
    cross-entropy and Keras's Adam (default hyperparameters) on one flat buffer, the gradients
    copied into it as the engine's fused update does: the engine's arithmetic, without its
    graph, layers, checks or callbacks."""
    import numpy as np

    f = np.float32
    w = weights
    offsets = np.cumsum([0] + [a.size for a in w])
    n = int(offsets[-1])
    m, v, g, t1, t2 = (np.zeros(n, f) for _ in range(5))
    b1, b2, eps, lr = 0.9, 0.999, f(1e-7), 1e-3

    def step(x, y, it):
        h1 = x @ w[0]
        h1 += w[1]
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ w[2]
        h2 += w[3]
        np.maximum(h2, 0, out=h2)
        z = h2 @ w[4]
        z += w[5]
        z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(1, keepdims=True)
        loss = -np.log(np.clip((z * y).sum(1), 1e-7, 1.0)).mean()
        g3 = (z - y) * f(1.0 / len(x))
        d2 = g3 @ w[4].T
        d2 *= h2 > 0
        d1 = d2 @ w[2].T
        d1 *= h1 > 0
        grads = (x.T @ d1, d1.sum(0), h1.T @ d2, d2.sum(0), h2.T @ g3, g3.sum(0))
        for i, gi in enumerate(grads):
            g[offsets[i]:offsets[i + 1]] = gi.ravel()
        alpha = f(lr * np.sqrt(1 - b2 ** it) / (1 - b1 ** it))
        np.subtract(g, m, out=t1)  # m += (g - m) * (1 - beta_1)
        np.multiply(t1, f(1 - b1), out=t1)
        np.add(m, t1, out=m)
        np.square(g, out=t1)  # v += (g^2 - v) * (1 - beta_2)
        np.subtract(t1, v, out=t1)
        np.multiply(t1, f(1 - b2), out=t1)
        np.add(v, t1, out=v)
        np.sqrt(v, out=t2)  # w -= m * alpha / (sqrt(v) + epsilon)
        np.add(t2, eps, out=t2)
        np.multiply(m, alpha, out=t1)
        np.divide(t1, t2, out=t1)
        for i, wi in enumerate(w):
            wi -= t1[offsets[i]:offsets[i + 1]].reshape(wi.shape)
        return loss

    return step


def numpy_step_seconds(epochs):
    """Seconds per step of ``numpy_training_step`` on the benchmark's data and shuffled batches of
    32: the floor of any engine that runs this step as NumPy calls."""
    import numpy as np

    r = np.random.default_rng(0)
    d = common.data(common.spec("a32"))
    x_all, y_all = d["x"], d["y"]
    shapes = ((784, 64), (64,), (64, 64), (64,), (64, 10), (10,))
    step = numpy_training_step([r.standard_normal(s, dtype=np.float32) * np.float32(0.05) for s in shapes])

    def epoch(count, it):
        order = r.permutation(len(x_all))
        for i in range(count):
            idx = order[i * 32:(i + 1) * 32]
            step(x_all[idx], y_all[idx], it + i + 1)
        return it + count

    it = epoch(100, 0)  # warm-up
    t = time.perf_counter()
    for _ in range(epochs):
        it = epoch(STEPS, it)
    return (time.perf_counter() - t) / (epochs * STEPS)


def split_seconds(epochs):
    """Per step: the graph nodes' forward/backward (NumPy and BLAS work), the optimizer's update,
    and the rest (layer calls, graph building, the backward walk, the loss's reduction, the
    training loop and its batches), timed inside ``fit`` by wrapping the nodes' methods and the
    optimizer (the wrappers add about half a microsecond a call to the first two)."""
    from core import optimizers
    from core.autodiff import Function

    spent = {"ops": 0.0, "optimizer": 0.0}

    def timed(fn, key):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t
        return wrapper

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    saved = []
    for cls in set(subclasses(Function)):
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                saved.append((cls, name, cls.__dict__[name]))
                setattr(cls, name, timed(cls.__dict__[name], "ops"))
    saved.append((optimizers.Optimizer, "apply", optimizers.Optimizer.apply))
    optimizers.Optimizer.apply = timed(optimizers.Optimizer.apply, "optimizer")
    try:
        step = train_step_seconds(epochs, on_start=lambda: spent.update(ops=0.0, optimizer=0.0))
        ops, opt = spent["ops"] / (epochs * STEPS), spent["optimizer"] / (epochs * STEPS)
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)
    return step, ops, opt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--cprofile", action="store_true", help="train under cProfile and print the top functions")
    ap.add_argument("--split", action="store_true", help="time the graph nodes, the optimizer and the rest")
    ap.add_argument("--numpy", action="store_true",
                    help="also time the step hand-written in NumPy (no framework) and its BLAS share")
    args = ap.parse_args()
    if args.split:
        step, ops, opt = split_seconds(args.epochs)
        rest = step - ops - opt
        print(f"training step (fit, batch 32, timing wrappers on): {step * 1e6:.0f} us")
        print(f"  graph nodes' forward/backward (NumPy + BLAS): {ops * 1e6:.0f} us = {100 * ops / step:.0f}%")
        print(f"  optimizer update (Adam):                       {opt * 1e6:.0f} us = {100 * opt / step:.0f}%")
        print(f"  the rest (layer calls, graph, backward walk, loss reduction, loop, batches): "
              f"{rest * 1e6:.0f} us = {100 * rest / step:.0f}%")
        return
    if args.cprofile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(train_step_seconds, args.epochs)
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
        return
    step = train_step_seconds(args.epochs)
    blas = min(gemm_step_seconds(args.epochs * STEPS) for _ in range(3))
    print(f"training step (fit, batch 32): {step * 1e6:.0f} us")
    print(f"  its 8 GEMMs replayed alone:  {blas * 1e6:.0f} us = {100 * blas / step:.0f}% of the step")
    print(f"  everything else:             {(step - blas) * 1e6:.0f} us = {100 * (1 - blas / step):.0f}% "
          "(Python bookkeeping and NumPy elementwise work; --cprofile shows which)")
    if args.numpy:
        raw = numpy_step_seconds(args.epochs)
        print(f"the same step hand-written in NumPy, no framework: {raw * 1e6:.0f} us, "
              f"of which the GEMMs are {100 * blas / raw:.0f}%; the engine takes {step / raw:.2f}x it")


if __name__ == "__main__":
    main()
