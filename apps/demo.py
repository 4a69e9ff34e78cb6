"""A short end-to-end training run of the engine alone (no layers): a 2-64-64-2 MLP on two
interleaved spirals, trained with mini-batch SGD with momentum."""
from __future__ import annotations

import sys

import numpy as np

from core import Parameter, Tensor, no_grad, ops


def make_spirals(n_per_class: int, rng: np.random.Generator, noise: float = 0.15):
    t = np.sqrt(rng.uniform(0.05, 1.0, size=n_per_class)) * 3 * np.pi
    a = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    x = np.concatenate([a, -a]) / (3 * np.pi) + rng.normal(0, noise / 3, size=(2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class, np.int64), np.ones(n_per_class, np.int64)])
    return x.astype(np.float32), y


def train_spirals(epochs: int = 20, seed: int = 0, n_per_class: int = 500, batch_size: int = 32,
                  lr: float = 0.1, momentum: float = 0.9, verbose: bool = True) -> float:
    rng = np.random.default_rng(seed)
    x, y = make_spirals(n_per_class, rng)
    sizes = [2, 64, 64, 2]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))  # glorot uniform
        params.append(Parameter(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)))
        params.append(Parameter(np.zeros(fan_out, np.float32)))
    velocity = [np.zeros_like(p.data) for p in params]

    def forward(xb):
        h = xb
        for i in range(0, len(params) - 2, 2):
            h = ops.relu(h @ params[i] + params[i + 1])
        return h @ params[-2] + params[-1]

    n = len(x)
    for epoch in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            logits = forward(Tensor(x[idx]))
            logp = ops.log_softmax(logits, axis=-1)
            loss = -ops.mean(logp[np.arange(len(idx)), y[idx]])
            for p in params:
                p.zero_grad()
            loss.backward()
            with no_grad():
                for p, v in zip(params, velocity):
                    v *= momentum
                    v -= lr * p.grad
                    p.data += v
            total += loss.item() * len(idx)
        with no_grad():
            acc = float((ops.argmax(forward(Tensor(x)), axis=-1).numpy() == y).mean())
        if verbose:
            print(f"epoch {epoch + 1}/{epochs} - loss: {total / n:.4f} - accuracy: {acc:.4f}", file=sys.stderr,
                  flush=True)
    return acc
