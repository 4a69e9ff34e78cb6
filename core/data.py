"""A small ``tf.data``-like input pipeline: slices of arrays or a generator, then
``shuffle`` / ``batch`` / ``map`` / ``prefetch`` (a background thread), re-iterable per epoch."""
from __future__ import annotations

import queue
import threading

import numpy as np

from . import random as zrandom


def _map_structure(fn, x):
    if isinstance(x, tuple):
        return tuple(_map_structure(fn, v) for v in x)
    if isinstance(x, list):
        return [_map_structure(fn, v) for v in x]
    if isinstance(x, dict):
        return {k: _map_structure(fn, v) for k, v in x.items()}
    return fn(x)


def _stack(items):
    first = items[0]
    if isinstance(first, tuple):
        return tuple(_stack([it[i] for it in items]) for i in range(len(first)))
    if isinstance(first, list):
        return [_stack([it[i] for it in items]) for i in range(len(first))]
    if isinstance(first, dict):
        return {k: _stack([it[k] for it in items]) for k in first}
    return np.stack([np.asarray(i) for i in items])


class Dataset:
    """Iterate it once per epoch; each element is an array structure (a sample or a batch)."""

    def __init__(self, make_iter, length=None):
        self._make_iter = make_iter
        self._length = length

    def __iter__(self):
        return iter(self._make_iter())

    def __len__(self):
        if self._length is None:
            raise TypeError("the length of this dataset is unknown")
        return self._length

    @property
    def cardinality(self):
        return self._length

    @staticmethod
    def from_tensor_slices(tensors):
        """One element per row of the array(s): ``from_tensor_slices((x, y))``."""
        arrays = _map_structure(np.asarray, tensors)
        leaves = []
        _map_structure(leaves.append, arrays)
        n = len(leaves[0])
        if any(len(a) != n for a in leaves):
            raise ValueError(f"from_tensor_slices: arrays have different lengths {[len(a) for a in leaves]}")

        def gen():
            for i in range(n):
                yield _map_structure(lambda a: a[i], arrays)

        ds = Dataset(gen, n)
        ds._slices = arrays
        return ds

    @staticmethod
    def from_generator(generator_fn, length=None):
        """Elements from ``generator_fn()``, called anew each epoch."""
        if not callable(generator_fn):
            raise TypeError("from_generator expects a callable that returns a fresh generator")
        return Dataset(generator_fn, length)

    def map(self, fn):
        parent = self

        def gen():
            for el in parent:
                yield fn(*el) if isinstance(el, tuple) else fn(el)

        return Dataset(gen, self._length)

    def shuffle(self, buffer_size, seed=None):
        """Shuffle with a buffer (the whole set when buffer_size >= length), anew each epoch."""
        parent = self
        if buffer_size <= 0:
            raise ValueError(f"shuffle: buffer_size must be positive, got {buffer_size}")

        def gen():
            rng = np.random.default_rng(seed) if seed is not None else None
            buf = []
            for el in parent:
                buf.append(el)
                if len(buf) >= buffer_size:
                    j = int((rng or zrandom.get_generator()).integers(len(buf)))
                    buf[j], buf[-1] = buf[-1], buf[j]
                    yield buf.pop()
            order = (rng or zrandom.get_generator()).permutation(len(buf))
            for j in order:
                yield buf[j]

        return Dataset(gen, self._length)

    def batch(self, batch_size, drop_remainder=False):
        if batch_size <= 0:
            raise ValueError(f"batch: batch_size must be positive, got {batch_size}")
        parent = self

        def gen():
            buf = []
            for el in parent:
                buf.append(el)
                if len(buf) == batch_size:
                    yield _stack(buf)
                    buf = []
            if buf and not drop_remainder:
                yield _stack(buf)

        n = None
        if self._length is not None:
            n = self._length // batch_size if drop_remainder else -(-self._length // batch_size)
        ds = Dataset(gen, n)
        ds._is_batched = True
        return ds

    def take(self, count):
        parent = self

        def gen():
            for i, el in enumerate(parent):
                if i >= count:
                    return
                yield el

        return Dataset(gen, None if self._length is None else min(count, self._length))

    def repeat(self, count=None):
        parent = self

        def gen():
            i = 0
            while count is None or i < count:
                yield from parent
                i += 1

        return Dataset(gen, None if count is None or self._length is None else self._length * count)

    def prefetch(self, buffer_size=2):
        """Produce elements in a background thread, ``buffer_size`` ahead (errors re-raised here)."""
        parent = self
        buffer_size = max(int(buffer_size if buffer_size is not None and buffer_size > 0 else 2), 1)
        _end = object()

        def gen():
            q = queue.Queue(maxsize=buffer_size)
            stop = threading.Event()

            def work():
                try:
                    for el in parent:
                        while not stop.is_set():
                            try:
                                q.put(el, timeout=0.1)
                                break
                            except queue.Full:
                                continue
                        if stop.is_set():
                            return
                    q.put(_end)
                except BaseException as e:  # handed to the consumer
                    q.put(e)

            t = threading.Thread(target=work, daemon=True)
            t.start()
            try:
                while True:
                    el = q.get()
                    if el is _end:
                        return
                    if isinstance(el, BaseException):
                        raise el
                    yield el
            finally:
                stop.set()

        return Dataset(gen, self._length)


AUTOTUNE = -1
