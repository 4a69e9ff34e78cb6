"""Data-parallel training on MPI: ResNet-20 CIFAR training steps (global batch 128) on this
process group, the allreduce's time for the model's gradient (float32 and float16-compressed),
whether overlapping it with the backward pass would save time, and the scaling expected on paper.

    python benchmarks/bench_mpi.py [--steps 8] [--batch 128]                     # 1 process
    mpirun -np 2 -x ZOO_NUM_THREADS=1 python benchmarks/bench_mpi.py [--steps 8]  # 2 processes x 1 thread
    mpirun -np 2 python benchmarks/bench_mpi.py --allreduce-only                  # allreduce times alone
    python benchmarks/bench_mpi.py --paper-only --step-ms 3400 --batch 128       # the table alone

Prints (rank 0) the images/s of ``fit``, the time of one gradient allreduce (``average_gradients``
on the model's gradient sizes, median of 20; also with ``compression="fp16"``) and its share of a
step. With several processes, the overlap probe: forward + backward of the rank's share then a
blocking Allreduce of the gradient's size, against the same with a non-blocking Iallreduce started
before the forward pass and waited for after the backward (an upper bound on what bucketed
overlap could save). Then, on paper, the efficiency ``t_compute / (t_compute + 2 (N-1)/N * bytes /
bandwidth)`` at 2, 8 and 32 nodes, 10 and 100 Gb/s, for ResNet-20 (the measured step), ResNet-50
and MiniLM-L6 fine-tuning (their FLOP counts at the GFLOP/s ResNet-20 achieved here, and at assumed
node speeds), float32 and float16 gradients, and 4x larger per-rank batches. Never run as a test.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import zoo  # noqa: E402
from core import distribute, optimizers  # noqa: E402
from core.utils import set_random_seed  # noqa: E402

RESNET20_FWD_FLOPS = 81.1e6  # per 32x32 image, benchmarks/model_flops.py forward_flops (conv + dense)
RESNET50_FWD_FLOPS = 7.72e9  # per 224x224 image, the same count
RESNET20_PARAMS, RESNET50_PARAMS, MINILM_PARAMS = 271_098, 25_583_592, 22_565_376  # trainable


def minilm_fwd_flops_per_token(layers=6, d=384, ff=1536, seq=128):
    """2 x multiply-adds per token of a BERT encoder: the Q, K, V, output projections (4 d^2), the
    feed-forward (2 d ff) and the attention products (2 seq d) in each layer."""
    return 2 * layers * (4 * d * d + 2 * d * ff + 2 * seq * d)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        distribute.barrier()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(args):
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
    dist = distribute.distribution()
    share = args.batch // distribute.size()
    reduce32 = reduce16 = overlap = None
    if dist is not None:
        reduce32 = median_time(lambda: dist.average_gradients(grads, share), 20)
        fp16 = distribute.DataParallel(compression="fp16")
        reduce16 = median_time(lambda: fp16.average_gradients(grads, share), 20)
        if args.overlap:
            overlap = overlap_probe(model, x[:share], y[:share], nbytes // 4)
    if distribute.is_chief():
        print(f"processes {distribute.size()}, threads {os.environ.get('ZOO_NUM_THREADS', 'default')}, "
              f"load average {os.getloadavg()[0]:.1f}: {args.batch / step:.1f} images/s, {step * 1e3:.0f} ms/step")
        if dist is not None:
            print(f"allreduce of the {nbytes / 1e6:.2f} MB gradient: float32 {reduce32 * 1e3:.2f} ms "
                  f"({100 * reduce32 / step:.2f}% of a step), fp16-compressed {reduce16 * 1e3:.2f} ms")
        if overlap is not None:
            blocking, overlapped = overlap
            print(f"overlap probe (forward+backward of {share} images, then the allreduce): blocking "
                  f"{blocking * 1e3:.1f} ms, Iallreduce started before the forward pass {overlapped * 1e3:.1f} ms "
                  f"(saves {1e3 * (blocking - overlapped):.1f} ms, {100 * (blocking - overlapped) / blocking:.1f}%)")
    return step, (reduce32 or 0.0)


def allreduce_sizes(repeats=30):
    """min and median seconds of ``average_gradients`` of float32 gradients of ResNet-20's,
    ResNet-50's and MiniLM's sizes, uncompressed and fp16-compressed (rank 0 prints)."""
    dist = distribute.distribution()
    fp16 = distribute.DataParallel(compression="fp16")
    for label, params in (("ResNet-20", RESNET20_PARAMS), ("MiniLM-L6", MINILM_PARAMS), ("ResNet-50", RESNET50_PARAMS)):
        grads = [np.ones(params, np.float32)]
        cells = []
        for name, d in (("float32", dist), ("fp16", fp16)):
            times = []
            for _ in range(repeats):
                distribute.barrier()
                t0 = time.perf_counter()
                d.average_gradients(grads, 64)
                times.append(time.perf_counter() - t0)
            cells.append(f"{name} min {min(times) * 1e3:.2f} / median {statistics.median(times) * 1e3:.2f} ms")
        if distribute.is_chief():
            print(f"allreduce of {label}'s gradient ({4 * params / 1e6:.1f} MB float32): " + ", ".join(cells))


def overlap_probe(model, xb, yb, count):
    """(blocking, overlapped) median seconds of a forward + backward of the share followed by an
    allreduce of ``count`` float32 values: blocking Allreduce after the backward, or Iallreduce
    started before the forward pass and waited for after it (the most overlap there can be)."""
    from mpi4py import MPI

    comm = distribute._world()
    send, recv = np.ones(count, np.float32), np.empty(count, np.float32)

    def backward():
        loss = model.compute_loss(x=xb, y=yb, y_pred=model(xb, training=True))
        loss.backward()
        for p in model.trainable_weights:
            p.grad = None

    def blocking():
        backward()
        comm.Allreduce(send, recv, op=MPI.SUM)

    def overlapped():
        req = comm.Iallreduce(send, recv, op=MPI.SUM)
        backward()
        req.Wait()

    times = {blocking: [], overlapped: []}
    for _ in range(6):  # interleaved, so that load changes hit both alike
        for fn in (blocking, overlapped):
            times[fn].append(median_time(fn, 1))
    return statistics.median(times[blocking]), statistics.median(times[overlapped])


def paper(step_s, reduce_s, batch, size):
    """The scaling table. ResNet-20: the measured compute time per step of ``batch // size`` images
    per rank; the others: their FLOPs at the GFLOP/s that step achieved, and at assumed speeds."""
    compute20 = step_s - reduce_s
    per_rank = batch // size
    gflops = 3 * RESNET20_FWD_FLOPS * per_rank / compute20 / 1e9  # a training step ~ 3x the forward pass
    print(f"\nmeasured: {gflops:.1f} GFLOP/s per process ({per_rank} images/step/process, "
          f"{compute20 * 1e3:.0f} ms compute/step)")
    minilm_step = 3 * minilm_fwd_flops_per_token() * 32 * 128  # 32 sequences of 128 tokens per rank
    models = [("ResNet-20, 64 img/rank", 3 * RESNET20_FWD_FLOPS * 64, RESNET20_PARAMS),
              ("ResNet-50, 32 img/rank", 3 * RESNET50_FWD_FLOPS * 32, RESNET50_PARAMS),
              ("MiniLM-L6, 32x128 tok/rank", minilm_step, MINILM_PARAMS)]
    speeds = [(f"this machine's {gflops:.0f} GFLOP/s (measured)", gflops * 1e9),
              ("a 32-core node at 1 TFLOP/s (assumed)", 1e12),
              ("a GPU at 50 TFLOP/s (assumed, unverified)", 50e12)]
    print("efficiency t_c / (t_c + 2(N-1)/N * bytes / bandwidth), no overlap; "
          "columns: nodes 2 / 8 / 32 at 10 Gb/s | at 100 Gb/s")
    for label, flops, params in models:
        for speed_label, rate in speeds:
            t_c = flops / rate
            for variant, nbytes, tc in (("fp32", 4 * params, t_c), ("fp16", 2 * params, t_c),
                                        ("fp32 4x batch", 4 * params, 4 * t_c)):
                cells = []
                for gbps in (10, 100):
                    cells.append(" / ".join(f"{100 * tc / (tc + 2 * (n - 1) / n * nbytes * 8 / (gbps * 1e9)):.1f}"
                                            for n in (2, 8, 32)))
                print(f"  {label:27} {speed_label:44} t_c {tc * 1e3:9.1f} ms  {variant:14} "
                      f"{cells[0]:>17} | {cells[1]:>17}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128, help="global batch")
    ap.add_argument("--overlap", action="store_true", help="run the overlap probe (several processes)")
    ap.add_argument("--allreduce-only", action="store_true", help="only the allreduce times (several processes)")
    ap.add_argument("--paper-only", action="store_true", help="only the table, from --step-ms")
    ap.add_argument("--step-ms", type=float, help="with --paper-only: a measured ResNet-20 step (ms)")
    ap.add_argument("--processes", type=int, default=2, help="with --paper-only: the processes of that step")
    args = ap.parse_args()
    if args.paper_only:
        if args.step_ms is None:
            ap.error("--paper-only needs --step-ms")
        return paper(args.step_ms / 1e3, 0.0, args.batch, args.processes)
    if args.allreduce_only:
        return allreduce_sizes()
    step, reduce_s = measure(args)
    if distribute.is_chief():
        paper(step, reduce_s, args.batch, distribute.size())


if __name__ == "__main__":
    main()
