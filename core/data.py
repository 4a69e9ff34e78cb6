"""A small ``tf.data``-like input pipeline: slices of arrays or a generator, then
``shuffle`` / ``batch`` / ``map`` / ``prefetch`` (a background thread), re-iterable per epoch."""
from __future__ import annotations

import queue
import threading

import numpy as np

from .random import generator as zrandom


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
    """Iterate it once per epoch; each element is an array structure (a sample or a batch).

    A dataset built on indexable rows (``from_tensor_slices``, the directory and timeseries
    utilities) fetches whole batches at once: ``shuffle`` with a buffer covering the whole set
    draws a permutation per epoch and ``batch`` gathers each batch with one indexing per array,
    the same elements in the same order as the element-by-element pipeline."""

    def __init__(self, make_iter, length=None):
        self._make_iter = make_iter
        self._length = length

    def __iter__(self):
        return iter(self._make_iter())

    def __len__(self):
        if self._length is None:
            raise TypeError("the length of this dataset is unknown")
        return self._length

    def cardinality(self):
        """The number of elements (batches once batched), as ``tf.data``'s method: -2 when unknown."""
        return -2 if self._length is None else self._length

    # ------------------------------------------------------------------ indexable rows
    @staticmethod
    def _from_rows(n, fetch, order=None):
        """``n`` elements, ``fetch(indices)`` gives the stacked elements at ``indices`` (an int
        array); ``order()`` gives each epoch's order (None: 0..n-1)."""
        chunk = 256

        def gen():
            idx = order() if order is not None else np.arange(n)
            for lo in range(0, n, chunk):
                rows = fetch(idx[lo:lo + chunk])
                for j in range(min(chunk, n - lo)):
                    yield _map_structure(lambda a, j=j: a[j], rows)

        ds = Dataset(gen, n)
        ds._rows = (n, fetch, order)
        return ds

    def _row_source(self):
        return getattr(self, "_rows", None)

    @staticmethod
    def from_tensor_slices(tensors):
        """One element per row of the array(s): ``from_tensor_slices((x, y))``."""
        arrays = _map_structure(np.asarray, tensors)
        leaves = []
        _map_structure(leaves.append, arrays)
        n = len(leaves[0])
        if any(len(a) != n for a in leaves):
            raise ValueError(f"from_tensor_slices: arrays have different lengths {[len(a) for a in leaves]}")

        ds = Dataset._from_rows(n, lambda idx: _map_structure(lambda a: a[idx], arrays))
        ds._slices = arrays
        return ds

    @staticmethod
    def from_generator(generator_fn, length=None):
        """Elements from ``generator_fn()``, called anew each epoch."""
        if not callable(generator_fn):
            raise TypeError("from_generator expects a callable that returns a fresh generator")
        return Dataset(generator_fn, length)

    def map(self, fn, num_parallel_calls=None, deterministic=None, name=None):
        """``fn(*element)`` for tuple elements, ``fn(element)`` otherwise (``num_parallel_calls`` is accepted
        for tf.data compatibility; elements are mapped in order in the iterating thread)."""
        parent = self

        def gen():
            for el in parent:
                yield fn(*el) if isinstance(el, tuple) else fn(el)

        return _derived(Dataset(gen, self._length), self)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """Shuffle with a buffer (the whole set when buffer_size >= length), anew each epoch
        (the same order every epoch when ``reshuffle_each_iteration=False``)."""
        parent = self
        if buffer_size <= 0:
            raise ValueError(f"shuffle: buffer_size must be positive, got {buffer_size}")
        rows = self._row_source()
        if rows is not None and buffer_size >= rows[0]:
            return self._shuffled_rows(rows, seed, reshuffle_each_iteration)
        if not reshuffle_each_iteration:
            seed = int(zrandom.get_generator().integers(2 ** 31)) if seed is None else seed
        seeded = np.random.default_rng(seed) if seed is not None else None  # one stream over the epochs

        def gen():
            rng = np.random.default_rng(seed) if not reshuffle_each_iteration else seeded
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

        return _derived(Dataset(gen, self._length), self)

    def _shuffled_rows(self, rows, seed, reshuffle_each_iteration):
        n, fetch, order = rows
        epoch_rng = np.random.default_rng(seed) if seed is not None else None
        fixed = []

        def new_order():
            if not reshuffle_each_iteration and fixed:
                return fixed[0]
            base = order() if order is not None else np.arange(n)
            if epoch_rng is not None:
                perm = epoch_rng.permutation(n)
            else:
                with zrandom.lock():
                    perm = zrandom.get_generator().permutation(n)
            out = base[perm]
            if not reshuffle_each_iteration:
                fixed.append(out)
            return out

        return _derived(Dataset._from_rows(n, fetch, new_order), self)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        """Stack ``batch_size`` consecutive elements (the last batch smaller unless ``drop_remainder``)."""
        if batch_size is None or batch_size <= 0:
            raise ValueError(f"batch: batch_size must be positive, got {batch_size}")
        batch_size = int(batch_size)
        parent = self
        rows = self._row_source()

        def stacked():
            buf = []
            for el in parent:
                buf.append(el)
                if len(buf) == batch_size:
                    yield _stack(buf)
                    buf = []
            if buf and not drop_remainder:
                yield _stack(buf)

        def gathered():  # the same batches as stacked(), one indexing per array
            total, fetch, order = rows
            idx = order() if order is not None else np.arange(total)
            stop = total - total % batch_size if drop_remainder else total
            for lo in range(0, stop, batch_size):
                yield fetch(idx[lo:lo + batch_size])

        n = None
        if self._length is not None:
            n = self._length // batch_size if drop_remainder else -(-self._length // batch_size)
        ds = Dataset(stacked if rows is None else gathered, n)
        ds._is_batched = True
        ds._batch_size = batch_size
        ds._element_count = None if drop_remainder else self._length
        return ds

    def unbatch(self, name=None):
        """Split each batch back into its elements (along the first axis of every array)."""
        parent = self

        def gen():
            for el in parent:
                leaves = []
                _map_structure(leaves.append, el)
                sizes = {len(np.asarray(a)) for a in leaves}
                if len(sizes) != 1:
                    raise ValueError(f"unbatch: the arrays of an element have different first dimensions {sorted(sizes)}")
                for j in range(sizes.pop()):
                    yield _map_structure(lambda a, j=j: np.asarray(a)[j], el)

        return Dataset(gen, getattr(self, "_element_count", None))

    def cache(self, filename="", name=None):
        """Keep the elements of the first complete pass in memory and replay them afterwards
        (a ``filename`` cache on disk is not supported)."""
        if filename:
            raise NotImplementedError("Dataset.cache(filename) (an on-disk cache) is not supported yet; "
                                      "call cache() to cache in memory")
        parent = self
        store = []
        done = []

        def gen():
            if done:
                yield from store
                return
            seen = []
            for el in parent:
                seen.append(el)
                yield el
            if not done:  # a partial pass (take, break) caches nothing
                store.extend(seen)
                done.append(True)

        return _derived(Dataset(gen, self._length), self)

    def skip(self, count, name=None):
        """Drop the first ``count`` elements (all of them when ``count == -1``)."""
        parent = self
        count = int(count)

        def gen():
            for i, el in enumerate(parent):
                if count < 0 or i < count:
                    continue
                yield el

        n = None if self._length is None else (0 if count < 0 else max(self._length - count, 0))
        return Dataset(gen, n)

    def filter(self, predicate, name=None):
        """The elements for which ``predicate(*element)`` is true (the length becomes unknown)."""
        parent = self

        def gen():
            for el in parent:
                keep = predicate(*el) if isinstance(el, tuple) else predicate(el)
                if bool(np.asarray(getattr(keep, "data", keep))):
                    yield el

        return Dataset(gen, None)

    def as_numpy_iterator(self):
        """An iterator over the elements (already NumPy arrays)."""
        return iter(self)

    def take(self, count, name=None):
        """The first ``count`` elements (all of them when ``count == -1``)."""
        parent = self
        count = int(count)
        if count < 0:
            return self

        def gen():
            if count == 0:
                return
            for i, el in enumerate(parent):
                yield el
                if i + 1 >= count:
                    return

        return Dataset(gen, None if self._length is None else min(count, self._length))

    def repeat(self, count=None, name=None):
        parent = self

        def gen():
            i = 0
            while count is None or i < count:
                yield from parent
                i += 1

        return Dataset(gen, None if count is None or self._length is None else self._length * count)

    def prefetch(self, buffer_size=2, name=None):
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

        return _derived(Dataset(gen, self._length), self)


def _derived(ds, parent):
    """``ds`` keeps what ``parent`` knows of its batches (for ``unbatch``)."""
    for attr in ("_is_batched", "_batch_size", "_element_count"):
        if hasattr(parent, attr):
            setattr(ds, attr, getattr(parent, attr))
    return ds


AUTOTUNE = -1
