"""Shared by every framework's workload module: the workload specs (shapes, sizes, seeds), the random
data (NumPy, so every framework trains on the same arrays), thread pinning, and the child-process
main loop (warm-up, timed repeats, one ``BENCH_RESULT {json}`` line on stdout).

Imports only the standard library at import time (NumPy inside the functions), so that a workload
module can pin its threads (``pin_child_threads``) before NumPy or a framework is loaded, under the
project's Python and under the peer environment alike.
"""
from __future__ import annotations

import os
import sys

THREADS_DEFAULT = 2
RESULT_MARKER = "BENCH_RESULT "


def thread_env(threads: int) -> dict:
    """Environment variables that limit every framework's thread pools to ``threads``."""
    t = str(int(threads))
    return {
        "OMP_NUM_THREADS": t, "MKL_NUM_THREADS": t, "OPENBLAS_NUM_THREADS": t, "BLIS_NUM_THREADS": t,
        "VECLIB_MAXIMUM_THREADS": t, "NUMEXPR_NUM_THREADS": t,
        "TF_NUM_INTRAOP_THREADS": t, "TF_NUM_INTEROP_THREADS": t,
        # XLA (JAX) sizes its pool from the CPU affinity (pinned below); the flag keeps Eigen threaded.
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={t}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def pin_threads(threads: int) -> None:
    """Set the thread variables (when not set already) and restrict the CPU affinity to ``threads``
    CPUs when more are available (XLA and TensorFlow size their default pools from it)."""
    for k, v in thread_env(threads).items():
        os.environ.setdefault(k, v)
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > threads:
            os.sched_setaffinity(0, cpus[:threads])


def _early_threads() -> int:
    """The --threads value from argv (read before NumPy is imported)."""
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return THREADS_DEFAULT


def pin_child_threads() -> None:
    """Called by each workload module first thing, before NumPy or a framework is imported."""
    pin_threads(_early_threads())


import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

# ----------------------------------------------------------------------------------------- specs
# name -> description, full sizes, smoke sizes, and the unit its throughput is counted in.
# "n": samples per epoch (training) or items per timed run (inference); "batch": batch size.
WORKLOADS = {
    "a32": dict(desc="MLP 784-64-64-10, Adam, CCE: 1 epoch of 60,000, batch 32", kind="mlp",
                full=dict(n=60000, batch=32), smoke=dict(n=96, batch=32), unit="samples/s"),
    "a128": dict(desc="MLP 784-64-64-10, Adam, CCE: 1 epoch of 60,000, batch 128", kind="mlp",
                 full=dict(n=60000, batch=128), smoke=dict(n=256, batch=128), unit="samples/s"),
    "b": dict(desc="CNN 28x28x1 conv32-pool-conv64-pool-dense10: 1 epoch of 10,000, batch 64", kind="cnn",
              full=dict(n=10000, batch=64), smoke=dict(n=128, batch=64), unit="samples/s"),
    "c": dict(desc="ResNet50 inference, batch 16, 224x224x3", kind="resnet50",
              full=dict(n=16, batch=16, size=224), smoke=dict(n=1, batch=1, size=64), unit="images/s"),
    "d": dict(desc="VGG16 inference, batch 8, 224x224x3", kind="vgg16",
              full=dict(n=8, batch=8, size=224), smoke=dict(n=1, batch=1, size=64), unit="images/s"),
    "e": dict(desc="Embedding(20000,128)-LSTM(128)-Dense(1,sigmoid), len 200: 1 epoch of 5,000, batch 64",
              kind="lstm", full=dict(n=5000, batch=64, length=200, vocab=20000),
              smoke=dict(n=128, batch=64, length=20, vocab=20000), unit="samples/s"),
    "f": dict(desc="Transformer encoder classifier (d128, 2 blocks, 4 heads, ff512, len 128): 1 epoch of 5,000, "
                   "batch 32", kind="transformer",
              full=dict(n=5000, batch=32, length=128, vocab=20000, d=128, blocks=2, heads=4, ff=512),
              smoke=dict(n=64, batch=32, length=16, vocab=20000, d=128, blocks=2, heads=4, ff=512),
              unit="samples/s"),
    "g": dict(desc="CIFAR ResNet-20 training, batch 128, 20 steps (SGD momentum)", kind="resnet20",
              full=dict(n=2560, batch=128), smoke=dict(n=16, batch=8), unit="images/s"),
    "h": dict(desc="MiniLM-L6 sentence encoding (mean pooling), 256 sentences, batch 32, len <= 64", kind="minilm",
              full=dict(n=256, batch=32, length=64), smoke=dict(n=8, batch=4, length=16), unit="sentences/s"),
    "i": dict(desc="keras-io convolutional denoising autoencoder (28x28x1; conv-pool x2, Conv2DTranspose(strides=2) "
                   "x2, conv-sigmoid), Adam, BCE: 1 epoch of 10,000, batch 128", kind="autoencoder",
              full=dict(n=10000, batch=128), smoke=dict(n=256, batch=128), unit="samples/s"),
    "j": dict(desc="keras-io Functional-API toy ResNet (CIFAR 32x32x3, layers.add residuals, no batch norm, "
                   "dropout), RMSprop, CCE + accuracy: 1 epoch of 5,000, batch 64", kind="toy_resnet",
              full=dict(n=5000, batch=64), smoke=dict(n=128, batch=64), unit="samples/s"),
}

# MiniLM-L6 (all-MiniLM-L6-v2) configuration, used by every framework for workload h.
MINILM_CONFIG = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                     intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2,
                     layer_norm_eps=1e-12, hidden_act="gelu")


class Unavailable(Exception):
    """Raised by a builder when a workload cannot run in this framework (reported, not a crash)."""


def spec(name: str, smoke: bool = False) -> dict:
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; expected one of {', '.join(WORKLOADS)}")
    w = WORKLOADS[name]
    return dict(w["smoke" if smoke else "full"], name=name, kind=w["kind"], smoke=smoke)


# ------------------------------------------------------------------------ keras-io models (i, j)
def keras_autoencoder(L, models, losses, optimizers):
    """keras-io's convolutional denoising autoencoder, compiled, written once for every Keras-API
    framework (``L``: its ``layers`` module, and so on)."""
    inp = L.Input((28, 28, 1))
    x = L.Conv2D(32, (3, 3), activation="relu", padding="same")(inp)
    x = L.MaxPooling2D((2, 2), padding="same")(x)
    x = L.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = L.MaxPooling2D((2, 2), padding="same")(x)
    x = L.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = L.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = L.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    m = models.Model(inp, x)
    m.compile(optimizer="adam", loss="binary_crossentropy")
    return m


def keras_toy_resnet(L, models, losses, optimizers):
    """The toy ResNet of keras-io's Functional API guide, compiled as the guide does."""
    inputs = L.Input((32, 32, 3))
    x = L.Conv2D(32, 3, activation="relu")(inputs)
    x = L.Conv2D(64, 3, activation="relu")(x)
    b1 = L.MaxPooling2D(3)(x)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(b1)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(x)
    b2 = L.add([x, b1])
    x = L.Conv2D(64, 3, activation="relu", padding="same")(b2)
    x = L.Conv2D(64, 3, activation="relu", padding="same")(x)
    b3 = L.add([x, b2])
    x = L.Conv2D(64, 3, activation="relu")(b3)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(256, activation="relu")(x)
    x = L.Dropout(0.5)(x)
    m = models.Model(inputs, L.Dense(10)(x))
    m.compile(optimizer=optimizers.RMSprop(1e-3), loss=losses.CategoricalCrossentropy(from_logits=True),
              metrics=["acc"])
    return m


# ------------------------------------------------------------------------------------------ data
def data(s: dict) -> dict:
    """The random inputs/targets for spec ``s`` (NumPy, fixed seeds, identical in every framework)."""
    import numpy as np

    kind, n = s["kind"], s["n"]
    r0, r1 = np.random.default_rng(0), np.random.default_rng(1)
    if kind == "mlp":
        x = r0.random((n, 784), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[r1.integers(0, 10, n)]
        return dict(x=x, y=y)
    if kind == "cnn":
        return dict(x=r0.random((n, 28, 28, 1), dtype=np.float32), y=r1.integers(0, 10, n).astype(np.int64))
    if kind in ("resnet50", "vgg16"):
        size = s["size"]
        return dict(x=(r0.random((n, size, size, 3), dtype=np.float32) * 255).astype(np.float32))
    if kind == "lstm":
        x = r0.integers(1, s["vocab"], (n, s["length"])).astype(np.int32)
        y = r1.integers(0, 2, (n, 1)).astype(np.float32)
        return dict(x=x, y=y)
    if kind == "transformer":
        x = r0.integers(1, s["vocab"], (n, s["length"])).astype(np.int32)
        return dict(x=x, y=r1.integers(0, 2, n).astype(np.int64))
    if kind == "resnet20":
        return dict(x=r0.standard_normal((n, 32, 32, 3)).astype(np.float32), y=r1.integers(0, 10, n).astype(np.int64))
    if kind == "autoencoder":  # images in [0, 1], reconstructed (the target is the input)
        x = r0.random((n, 28, 28, 1), dtype=np.float32)
        return dict(x=x, y=x)
    if kind == "toy_resnet":
        x = r0.random((n, 32, 32, 3), dtype=np.float32)
        return dict(x=x, y=np.eye(10, dtype=np.float32)[r1.integers(0, 10, n)])
    if kind == "minilm":
        L = s["length"]
        lengths = r1.integers(max(2, L // 4), L + 1, n)
        mask = (np.arange(L)[None, :] < lengths[:, None]).astype(np.int32)
        ids = r0.integers(1000, MINILM_CONFIG["vocab_size"], (n, L)).astype(np.int32) * mask
        ids[:, 0] = 101  # [CLS]
        ids[np.arange(n), lengths - 1] = 102  # [SEP]
        return dict(ids=ids, mask=mask, token_type=np.zeros_like(ids))
    raise ValueError(f"unknown workload kind {kind!r}")


def warmup_slice(n: int, batch: int) -> int:
    """Samples for a training warm-up: two full batches plus the epoch's last partial batch (so that
    tracing frameworks have compiled every batch shape the timed epoch uses)."""
    return min(n, 2 * batch + n % batch)


def batches(n: int, batch: int):
    """(start, stop) of each batch of an epoch of ``n`` samples."""
    return [(i, min(i + batch, n)) for i in range(0, n, batch)]


# ----------------------------------------------------------------------------------- child main
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def emit(result: dict) -> None:
    sys.stdout.flush()
    print(RESULT_MARKER + json.dumps(result), flush=True)


def child_main(framework: str, builders: dict, argv=None, extra_args=None, setup=None) -> int:
    """Run one workload in this process: build, warm up, time ``--repeats`` runs, print the result.

    ``builders``: workload kind -> ``fn(spec, data, args) -> (warmup_fn, run_fn)``; a builder raises
    ``Unavailable`` (or ImportError) when the workload cannot run here. ``setup(args)`` runs first
    (seeds, framework thread settings) and returns the framework label to report.
    """
    ap = argparse.ArgumentParser(description=f"Run one benchmark workload for {framework}.")
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (a few steps), for tests")
    ap.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    for args_, kw in (extra_args or []):
        ap.add_argument(*args_, **kw)
    args = ap.parse_args(argv)
    s = spec(args.workload, args.smoke)
    result = dict(workload=args.workload, framework=framework, smoke=args.smoke, threads=args.threads,
                  n=s["n"], unit=WORKLOADS[args.workload]["unit"], pid=os.getpid())
    try:
        label = setup(args) if setup else framework
        if isinstance(label, tuple):  # (label, {package: version})
            label, result["versions"] = label
        result["framework"] = label or framework
        builder = builders.get(s["kind"])
        if builder is None:
            raise Unavailable(f"no {s['kind']} workload for {framework}")
        t0 = time.perf_counter()
        warm, run = builder(s, data(s), args)
        warm()
        result["setup_s"] = time.perf_counter() - t0
        times, cpu_times = [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)  # every thread of the process, user + system
    except (Unavailable, ImportError) as e:
        result.update(status="unavailable", reason=f"{type(e).__name__}: {e}".strip())
        result["peak_rss_mb"] = peak_rss_mb()
        emit(result)
        return 0
    except Exception as e:  # a failure is a result too: report it, with the traceback on stderr
        traceback.print_exc()
        result.update(status="error", reason=f"{type(e).__name__}: {e}"[:500])
        result["peak_rss_mb"] = peak_rss_mb()
        emit(result)
        return 0
    med = statistics.median(times)
    result.update(status="ok", times=times, median_s=med, throughput=s["n"] / med if med > 0 else None,
                  cpu_times=cpu_times, cpu_s=statistics.median(cpu_times), peak_rss_mb=peak_rss_mb())
    emit(result)
    return 0
