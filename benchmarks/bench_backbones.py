"""CPU backbones: inference images/s and one fine-tuning epoch on 3,000 MNIST-as-RGB images at
96x96, for MobileNetV3-Small and EfficientNet-B0, ours against Keras 3 (TensorFlow) and PyTorch.

    python benchmarks/bench_backbones.py --peer-python /path/to/peer/bin/python [--json out.json]
    python benchmarks/bench_backbones.py --smoke            # a few images each: checks the harness

The images are the first 3,000 of MNIST's test set (``$ZOO_SHARED_DATA/images/mnist``, else
``../shared/data``), resized to 96x96 (bilinear, Pillow) and repeated on 3 channels, labels the digits.
Every framework gets the same arrays (written once by this process, read by each child).

Each model is the backbone without its ImageNet top (random weights: nothing is downloaded) ->
global average pooling -> ``Dense(10)``, the same layout in all three: ours
``zoo.create_model(name, include_top=False, pooling="avg")``, Keras
``keras.applications.MobileNetV3Small/EfficientNetB0(weights=None, include_top=False,
pooling="avg")``, PyTorch torchvision's ``mobilenet_v3_small``/``efficientnet_b0`` features (written
out in ``_torch_models`` below, torchvision's layer configuration, since torchvision is not
installable in the peer environment). Ours and Keras take [0, 255] pixels (their graphs rescale);
PyTorch takes the ImageNet-normalised input torchvision's models expect (normalised before timing).

* inference: ``predict_on_batch`` (ours, Keras) / ``torch.inference_mode()`` on 256 images in
  batches of 64 after one warm-up batch; images/s of the median of 3.
* fine-tuning: one epoch of 3,000 images, batch 32, Adam (1e-3), sparse categorical cross-entropy,
  every layer trainable (BatchNorm in training mode), after a warm-up of two batches (Keras traces
  its train function then); seconds per epoch, and images/s.

One fresh process per model and framework, each with 2 threads (``workloads/common.thread_env``, CPU
affinity cut to 2 CPUs), the frameworks alternating. Never run as a test.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "workloads"))
import common  # noqa: E402

MODELS = {"mobilenet_v3_small": ("MobileNetV3-Small", "MobileNetV3Small"),
          "efficientnet_b0": ("EfficientNet-B0", "EfficientNetB0")}
FRAMEWORKS = ("ours", "keras-tf", "torch")
SIZE, N_TRAIN, N_INFER, BATCH_TRAIN, BATCH_INFER, CLASSES = 96, 3000, 256, 32, 64, 10


# ------------------------------------------------------------------------------------------- data
def _mnist_dir():
    root = os.environ.get("ZOO_SHARED_DATA") or os.path.join(ROOT, "..", "shared", "data")
    path = os.path.join(root, "images", "mnist")
    if not os.path.isfile(os.path.join(path, "t10k-images-idx3-ubyte.gz")):
        raise SystemExit(f"MNIST's test set is not at {path}: set ZOO_SHARED_DATA to the shared data folder")
    return path


def make_data(out_dir, n):
    """``x.npy`` (n, 96, 96, 3) uint8 and ``y.npy`` (n,) int64 from MNIST's test set."""
    import numpy as np
    from PIL import Image

    path = _mnist_dir()
    with gzip.open(os.path.join(path, "t10k-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    count, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(raw, np.uint8, count * rows * cols, 16).reshape(count, rows, cols)[:n]
    with gzip.open(os.path.join(path, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    big = np.stack([np.asarray(Image.fromarray(im).resize((SIZE, SIZE), Image.BILINEAR)) for im in images])
    np.save(os.path.join(out_dir, "x.npy"), np.repeat(big[..., None], 3, axis=3))
    np.save(os.path.join(out_dir, "y.npy"), labels)


# ------------------------------------------------------------------------------------------ child
def _timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _child_ours(model_name, x, y, n_infer, repeats):
    from core.host_memory import configure_process

    configure_process()
    from core import layers as L
    from core import losses, models, optimizers
    from core.utils import set_random_seed

    import zoo

    set_random_seed(0)
    base = zoo.create_model(model_name, include_top=False, pooling="avg", input_shape=(SIZE, SIZE, 3))
    model = models.Model(base.inputs, L.Dense(CLASSES)(base.outputs[0]))
    return _keras_like(model, x, y, n_infer, repeats, optimizers.Adam(1e-3),
                       losses.SparseCategoricalCrossentropy(from_logits=True))


def _child_keras(model_name, x, y, n_infer, repeats, threads):
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(0)
    base = getattr(keras.applications, MODELS[model_name][1])(weights=None, include_top=False, pooling="avg",
                                                              input_shape=(SIZE, SIZE, 3))
    model = keras.Model(base.inputs, keras.layers.Dense(CLASSES)(base.outputs[0]))
    res = _keras_like(model, x, y, n_infer, repeats, keras.optimizers.Adam(1e-3),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    res["versions"] = {"keras": keras.__version__, "tensorflow": tf.__version__}
    return res


def _keras_like(model, x, y, n_infer, repeats, optimizer, loss):
    import numpy as np

    xf = x.astype(np.float32)
    xi = xf[:n_infer]
    model.predict_on_batch(xi[:BATCH_INFER])

    def infer():
        for i in range(0, len(xi), BATCH_INFER):
            model.predict_on_batch(xi[i:i + BATCH_INFER])

    infer_times = _timed(infer, repeats)
    model.compile(optimizer=optimizer, loss=loss)
    model.fit(xf[:2 * BATCH_TRAIN], y[:2 * BATCH_TRAIN], batch_size=BATCH_TRAIN, epochs=1, verbose=0)
    epoch = _timed(lambda: model.fit(xf, y, batch_size=BATCH_TRAIN, epochs=1, verbose=0), 1)
    return {"params": int(model.count_params()), "infer_s": infer_times, "epoch_s": epoch}


def _torch_models(torch, nn, name):
    """torchvision's mobilenet_v3_small / efficientnet_b0 feature extractors (their layer
    configurations, BatchNorm settings and stochastic depth) + average pooling + Linear(10)."""
    import math

    def divisible(v, d=8):
        new = max(d, int(v + d / 2) // d * d)
        return new + d if new < 0.9 * v else new

    def cba(cin, cout, k, s=1, groups=1, act=None, eps=1e-5, momentum=0.1):
        layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout, eps=eps, momentum=momentum)]
        return nn.Sequential(*layers, act()) if act is not None else nn.Sequential(*layers)

    class SE(nn.Module):
        def __init__(self, c, squeeze, act, gate):
            super().__init__()
            self.fc1, self.fc2, self.act, self.gate = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1), act(), gate()

        def forward(self, x):
            return x * self.gate(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))

    class StochasticDepth(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training or self.p == 0:
                return x
            keep = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype).bernoulli_(1 - self.p)
            return x * keep / (1 - self.p)

    class Block(nn.Module):
        def __init__(self, layers, residual, drop=0.0):
            super().__init__()
            self.block, self.residual, self.drop = nn.Sequential(*layers), residual, StochasticDepth(drop)

        def forward(self, x):
            y = self.block(x)
            return x + self.drop(y) if self.residual else y

    if name == "mobilenet_v3_small":
        bn = dict(eps=0.001, momentum=0.01)
        cfg = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
               (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
               (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
               (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1)]
        feats = [cba(3, 16, 3, 2, act=nn.Hardswish, **bn)]
        for cin, k, exp, cout, se, a, s in cfg:
            act = nn.ReLU if a == "RE" else nn.Hardswish
            layers = [cba(cin, exp, 1, act=act, **bn)] if exp != cin else []
            layers.append(cba(exp, exp, k, s, groups=exp, act=act, **bn))
            if se:
                layers.append(SE(exp, divisible(exp // 4), nn.ReLU, nn.Hardsigmoid))
            layers.append(cba(exp, cout, 1, **bn))
            feats.append(Block(layers, s == 1 and cin == cout))
        feats.append(cba(96, 576, 1, act=nn.Hardswish, **bn))
        width = 576
    else:
        cfg = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
               (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
        total, b = sum(c[5] for c in cfg), 0
        feats = [cba(3, 32, 3, 2, act=nn.SiLU)]
        for expand, k, s, cin, cout, n in cfg:
            for j in range(n):
                c_in, stride = (cin, s) if j == 0 else (cout, 1)
                exp = c_in * expand
                layers = [cba(c_in, exp, 1, act=nn.SiLU)] if exp != c_in else []
                layers += [cba(exp, exp, k, stride, groups=exp, act=nn.SiLU), SE(exp, max(1, c_in // 4), nn.SiLU,
                                                                                 nn.Sigmoid), cba(exp, cout, 1)]
                feats.append(Block(layers, stride == 1 and c_in == cout, 0.2 * b / total))
                b += 1
        feats.append(cba(320, 1280, 1, act=nn.SiLU))
        width = 1280
    model = nn.Sequential(*feats, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, CLASSES))
    for m in model.modules():   # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -1 / math.sqrt(m.out_features), 1 / math.sqrt(m.out_features))
            nn.init.zeros_(m.bias)
    return model


def _child_torch(model_name, x, y, n_infer, repeats, threads):
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = _torch_models(torch, nn, model_name)
    mean = np.array([0.485, 0.456, 0.406], np.float32) * 255
    std = np.array([0.229, 0.224, 0.225], np.float32) * 255
    xt = torch.from_numpy(np.ascontiguousarray(((x.astype(np.float32) - mean) / std).transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)
    model.eval()
    xi = xt[:n_infer]
    with torch.inference_mode():
        model(xi[:BATCH_INFER])

    def infer():
        with torch.inference_mode():
            for i in range(0, len(xi), BATCH_INFER):
                model(xi[i:i + BATCH_INFER])

    infer_times = _timed(infer, repeats)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(n):
        model.train()
        perm = torch.randperm(n)
        for i in range(0, n, BATCH_TRAIN):
            idx = perm[i:i + BATCH_TRAIN]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()

    epoch(2 * BATCH_TRAIN)
    epoch_times = _timed(lambda: epoch(len(xt)), 1)
    return {"params": int(sum(p.numel() for p in model.parameters())), "infer_s": infer_times,
            "epoch_s": epoch_times, "versions": {"torch": torch.__version__}}


def child(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("framework", choices=FRAMEWORKS)
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=common.THREADS_DEFAULT)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-infer", type=int, default=N_INFER)
    args = ap.parse_args(argv)
    import numpy as np

    x, y = np.load(os.path.join(args.data, "x.npy")), np.load(os.path.join(args.data, "y.npy"))
    t0 = time.perf_counter()
    if args.framework == "ours":
        res = _child_ours(args.model, x, y, args.n_infer, args.repeats)
    elif args.framework == "keras-tf":
        res = _child_keras(args.model, x, y, args.n_infer, args.repeats, args.threads)
    else:
        res = _child_torch(args.model, x, y, args.n_infer, args.repeats, args.threads)
    res.update(framework=args.framework, model=args.model, n_train=len(x), n_infer=min(args.n_infer, len(x)),
               total_s=time.perf_counter() - t0, peak_rss_mb=common.peak_rss_mb())
    common.emit(res)
    return 0


# ----------------------------------------------------------------------------------------- parent
def run_child(framework, model, data_dir, python, threads, repeats, n_infer, timeout):
    cmd = [python, os.path.abspath(__file__), "--child", framework, model, data_dir, "--threads", str(threads),
           "--repeats", str(repeats), "--n-infer", str(n_infer)]
    env = {**os.environ, **common.thread_env(threads), "PYTHONPATH": ROOT, "KERAS_BACKEND": "tensorflow"}
    try:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"framework": framework, "model": model, "status": "error", "reason": f"timeout after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(common.RESULT_MARKER):
            return {**json.loads(line[len(common.RESULT_MARKER):]), "status": "ok"}
    return {"framework": framework, "model": model, "status": "error",
            "reason": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}


def table(results):
    import statistics

    lines = ["| model | framework | params | inference images/s | fine-tuning epoch (s) | training images/s |"
             " peak RSS (MB) |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        label = MODELS[r["model"]][0]
        if r.get("status") != "ok":
            lines.append(f"| {label} | {r['framework']} | | ERROR: {r.get('reason', '')} | | | |")
            continue
        ips = r["n_infer"] / statistics.median(r["infer_s"])
        ep = r["epoch_s"][0]
        lines.append(f"| {label} | {r['framework']} | {r['params']:,} | {ips:.1f} | {ep:.1f} | "
                     f"{r['n_train'] / ep:.1f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer-python", help="a Python with keras 3 + tensorflow and torch (else ours only)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--frameworks", default=None, help=f"comma list of {', '.join(FRAMEWORKS)}")
    ap.add_argument("--threads", type=int, default=common.THREADS_DEFAULT)
    ap.add_argument("--repeats", type=int, default=3, help="timed inference passes (median); training: one epoch")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per child process")
    ap.add_argument("--smoke", action="store_true", help="64 images: checks the harness")
    ap.add_argument("--json", help="results (rewritten after every child)")
    ap.add_argument("--table-from", help="print the table of such a JSON file and exit")
    args = ap.parse_args(argv)
    if args.table_from:
        with open(args.table_from) as f:
            print(table(json.load(f)["results"]))
        return 0
    frameworks = (args.frameworks.split(",") if args.frameworks else
                  ["ours"] + (["keras-tf", "torch"] if args.peer_python else []))
    n = 64 if args.smoke else N_TRAIN
    n_infer = 64 if args.smoke else N_INFER
    results = []

    def write_json():   # after every child: an interrupted run keeps what it measured
        if not args.json:
            return
        meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": args.threads,
                "load_average": os.getloadavg(), "cpus": os.cpu_count(), "n_train": n, "n_infer": n_infer,
                "command": " ".join([os.path.basename(sys.executable)] + sys.argv)}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)

    with tempfile.TemporaryDirectory() as data_dir:
        make_data(data_dir, n)
        for i, model in enumerate(m.strip() for m in args.models.split(",")):
            order = frameworks[i % len(frameworks):] + frameworks[:i % len(frameworks)]   # rotate
            for fw in order:
                python = sys.executable if fw == "ours" else args.peer_python
                r = run_child(fw, model, data_dir, python, args.threads, 1 if args.smoke else args.repeats,
                              n_infer, args.timeout)
                results.append(r)
                write_json()
                print(f"{model} {fw}: {r.get('status')} "
                      f"{'' if r.get('status') == 'ok' else r.get('reason')}", file=sys.stderr, flush=True)
    results.sort(key=lambda r: (list(MODELS).index(r["model"]), FRAMEWORKS.index(r["framework"])))
    print(table(results))
    write_json()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        common.pin_threads(int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2)
    sys.exit(main())
