"""``PyDataset`` (``keras.utils.PyDataset``, alias ``Sequence``): batches computed by Python code,
indexed by batch number, with optional worker threads that compute the next batches ahead."""
from __future__ import annotations

import collections
import itertools
import warnings
from concurrent.futures import ThreadPoolExecutor


class PyDataset:
    """Subclass it and implement ``__len__`` (the number of batches) and ``__getitem__(index)``
    (the batch ``index``: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``); override
    ``on_epoch_begin`` / ``on_epoch_end`` to change the data between epochs. ``fit`` calls them
    and (with ``shuffle=True``) visits the batches in a new order each epoch.

    ``workers > 1`` computes up to ``max_queue_size`` batches ahead in that many threads
    (``use_multiprocessing=True`` is accepted and also uses threads: the engine does not fork
    worker processes). Call ``super().__init__(**kwargs)`` in your constructor.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        missing = False
        for attr, default in (("_workers", 1), ("_use_multiprocessing", False), ("_max_queue_size", 10)):
            if not hasattr(self, attr):
                setattr(self, attr, default)
                missing = True
        if missing:
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                          "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass "
                          "these arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(self, index)")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError("You need to implement the `num_batches` property:\n\n"
                                  "@property\ndef num_batches(self):\n  return ...")

    def __iter__(self):
        try:
            n = self.num_batches
        except NotImplementedError:
            n = None
        return self.iter_batches(range(n) if n is not None else itertools.count())

    def iter_batches(self, indices):
        """``self[i]`` for ``i`` in ``indices``, in order; with ``workers > 1`` computed ahead in threads."""
        workers = int(self.workers or 1)
        if workers <= 1:
            for i in indices:
                yield self[i]
            return
        ahead = max(int(self.max_queue_size or 1), 1)
        pending = collections.deque()
        indices = iter(indices)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="py_dataset") as pool:
            try:
                for i in itertools.islice(indices, ahead):
                    pending.append(pool.submit(self.__getitem__, i))
                while pending:
                    batch = pending.popleft().result()
                    for i in itertools.islice(indices, 1):
                        pending.append(pool.submit(self.__getitem__, i))
                    yield batch
            finally:
                for f in pending:
                    f.cancel()

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset
