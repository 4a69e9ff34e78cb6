"""Turn what users pass to fit/evaluate/predict into batches: arrays (and lists/dicts of them),
Python generators and iterables of batches, or ``core.data.Dataset``."""
from __future__ import annotations

import collections.abc
import itertools
import math
import warnings

import numpy as np

from .. import backend
from ..autodiff import Tensor
from ..py_dataset import PyDataset
from ..random import generator as zrandom
from ..utils import unpack_x_y_sample_weight


def _flat(x):
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_flat(v))
        return out
    if isinstance(x, dict):
        out = []
        for v in x.values():
            out.extend(_flat(v))
        return out
    return [x]


def _map(fn, x):
    if isinstance(x, list):
        return [_map(fn, v) for v in x]
    if isinstance(x, tuple):
        return tuple(_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def is_iterator_like(x) -> bool:
    """A generator, iterator or Dataset (batches), as opposed to arrays."""
    from ..data import Dataset

    if isinstance(x, Dataset):
        return True
    if isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes)) or backend.is_array(x) or x is None:
        return False
    return isinstance(x, (collections.abc.Iterator, collections.abc.Iterable))


def _as_array(a, name):
    if a is None:
        return None
    if isinstance(a, Tensor):
        return a.data
    if backend.is_array(a):
        return a
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists etc.
        raise ValueError(f"{name} could not be converted to an array: {e}") from None
    if arr.dtype == object:
        raise ValueError(f"{name} is ragged or holds Python objects (dtype object); pad the sequences "
                         "to one length or pass a Dataset/generator")
    return arr


def texts_as_array(x):
    """A Python list of strings (or of lists of strings) as one NumPy string array: the samples of
    one string input, not one input per string. Anything else is returned unchanged."""
    if type(x) is not list or not x:
        return x
    first = x
    while type(first) is list and first:
        first = first[0]
    return np.asarray(x) if isinstance(first, (str, bytes)) else x


def check_finite(x, name, where):
    """Refuse NaN or infinite values in float data before any training step."""
    if x is None or is_iterator_like(x):
        return
    for i, a in enumerate(_flat(x)):
        a = _as_array(a, name)
        if a is None or a.dtype.kind != "f":
            continue
        xp = backend.get_xp(a)
        if _surely_finite(xp, a):
            continue
        finite = xp.isfinite(a)
        if not bool(finite.all()):
            bad = np.argwhere(~backend.to_numpy(finite))[0]
            part = f" (array {i})" if len(_flat(x)) > 1 else ""
            raise ValueError(f"{where}: {name}{part} contains NaN or infinite values, first at index "
                             f"{tuple(int(v) for v in bad)}; clean or impute the data before training")


def _surely_finite(xp, a) -> bool:
    """A fast screen for ``isfinite(a).all()`` on big float32/64 arrays: the dot product of the
    values with themselves is NaN or inf whenever one value is (it may also overflow for huge
    finite values, then the exact check runs). One BLAS pass, no temporary array."""
    if a.size < 4096 or a.dtype not in (np.float32, np.float64) or not a.flags.c_contiguous:
        return False
    flat = a.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(xp.isfinite(xp.dot(flat, flat)))


def to_tensors(x):
    if x is None:
        return None
    return _map(lambda a: a if isinstance(a, Tensor) else Tensor(_as_array(a, "data")), x)


def _finite_number(v):
    try:
        return bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def class_weight_to_sample_weight(y, class_weight, sample_weight=None):
    """Per-sample weights from a ``{class: weight}`` dict as Keras computes them: the class of a
    one-hot row is its argmax, of an integer or (n, 1) label its rounded value; a class the dict
    does not name weighs 1.0. ``class_weight`` and ``sample_weight`` together are an error."""
    if sample_weight is not None:
        raise ValueError("You cannot pass `class_weight` and `sample_weight` at the same time; fold the class "
                         "weights into the sample weights")
    if isinstance(y, (list, tuple, dict)):
        raise ValueError("`class_weight` is only supported for models with a single output; pass per-output "
                         "`sample_weight` instead")
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict {{class index: weight}}, got {type(class_weight).__name__}")
    bad = {k: v for k, v in class_weight.items() if not _finite_number(v)}
    if bad:
        raise ValueError(f"class_weight must map classes to finite numbers; got {bad}: a NaN or infinite weight "
                         "would turn every weight into NaN")
    y = backend.to_numpy(_as_array(y, "y"))
    if y.ndim > 1:
        y = y.argmax(-1) if y.shape[-1] != 1 else y[..., 0]
    labels = np.round(y).astype(np.int64).reshape(len(y), -1)[:, 0] if y.ndim > 1 else np.round(y).astype(np.int64)
    keys = np.array([int(k) for k in class_weight], np.int64)
    values = np.array([float(v) for v in class_weight.values()], np.float32)
    sw = np.ones(len(labels), np.float32)
    if keys.size:
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        pos = np.clip(np.searchsorted(keys, labels), 0, keys.size - 1)
        hit = keys[pos] == labels
        sw[hit] = values[pos[hit]]
    return sw


def train_validation_split(arrays, validation_split):
    """Keras's rule: the last ``validation_split`` fraction of the samples, before any shuffling."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    x, y, sw = arrays
    n = _num_samples(x, y, sw)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={validation_split} leaves an empty training or validation set "
                         f"with {n} samples")

    def head(a):
        return None if a is None else _map(lambda v: _as_array(v, "data")[:split_at], a)

    def tail(a):
        return None if a is None else _map(lambda v: _as_array(v, "data")[split_at:], a)

    return (head(x), head(y), head(sw)), (tail(x), tail(y), tail(sw))


def unpack_validation(validation_data):
    """``(x, y, sample_weight)`` of fit's ``validation_data``: a Dataset/generator (its batches carry
    the targets), or ``(x, y)`` / ``(x, y, sample_weight)`` (a list counts as a tuple, as Keras)."""
    if is_iterator_like(validation_data):
        return validation_data, None, None
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
        return unpack_x_y_sample_weight(validation_data)
    raise ValueError("validation_data must be a tuple (x, y) or (x, y, sample_weight), a Dataset or a generator, "
                     f"got {type(validation_data).__name__}"
                     + (f" of {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else ""))


def _num_samples(x, y, sw):
    sizes = {}
    for name, part in (("x", x), ("y", y), ("sample_weight", sw)):
        if part is None:
            continue
        for a in _flat(part):
            arr = _as_array(a, name)
            if arr.ndim == 0:
                raise ValueError(f"{name} must have a batch axis, got a scalar")
            sizes.setdefault(name, set()).add(int(arr.shape[0]))
    all_sizes = set().union(*sizes.values()) if sizes else set()
    if len(all_sizes) > 1:
        desc = ", ".join(f"{k}: {sorted(v)}" for k, v in sizes.items())
        raise ValueError(f"data cardinality is ambiguous: the arrays have different numbers of samples ({desc}); "
                         "make sure all arrays contain the same number of samples")
    if not all_sizes:
        raise ValueError("no data given")
    n = all_sizes.pop()
    if n == 0:
        raise ValueError("the data is empty (0 samples)")
    return n


class ArrayAdapter:
    """Batches of in-memory arrays (lists/dicts of them), shuffled each pass when ``shuffle``.
    Without ``batch_size``, ``steps`` batches cover the data (Keras), else 32 samples a batch."""

    def __init__(self, x, y, sw, batch_size=None, shuffle=True, steps=None, class_weight=None):
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size <= 0):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.n = _num_samples(x, y, sw)
        self.x = _map(lambda a: _as_array(a, "x"), x)
        self.y = None if y is None else _map(lambda a: _as_array(a, "y"), y)
        if class_weight is not None:
            if y is None:
                raise ValueError("class_weight needs targets y")
            sw = class_weight_to_sample_weight(self.y, class_weight, sw)
        self.sw = None if sw is None else _map(lambda a: _as_array(a, "sample_weight"), sw)
        check_finite(self.sw, "sample_weight", "the training/evaluation data")
        if batch_size is None:
            batch_size = math.ceil(self.n / int(steps)) if steps else 32
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.num_batches = math.ceil(self.n / self.batch_size)

    def _take(self, idx):
        def take(a):
            return Tensor(a[idx])

        xb = _map(take, self.x)
        yb = None if self.y is None else _map(take, self.y)
        swb = None if self.sw is None else _map(take, self.sw)
        return xb, yb, swb

    def batches(self, distribution=None):
        """One pass over the data; with a ``distribution``, this process's share of each batch
        (every process cuts the same batches: rank 0's shuffling order is broadcast)."""
        if self.shuffle:
            with zrandom.lock():
                order = zrandom.get_generator().permutation(self.n)
            if distribution is not None:
                order = distribution.sync_order(order)
        else:
            order = None
        for step in range(self.num_batches):
            lo, hi = step * self.batch_size, min((step + 1) * self.batch_size, self.n)
            if distribution is not None:
                lo, hi = distribution.shard(lo, hi)
            idx = order[lo:hi] if order is not None else slice(lo, hi)
            yield self._take(idx)

    def peek(self):
        return self._take(slice(0, min(self.batch_size, self.n)))


def _unpack_batch(item):
    if isinstance(item, tuple) and len(item) > 3:
        raise ValueError(f"a batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(item)}")
    return unpack_x_y_sample_weight(item) if isinstance(item, tuple) else (item, None, None)


class IteratorAdapter:
    """Batches from a generator/iterable/Dataset. A re-iterable source starts over each pass; a
    one-shot generator is one pass in all."""

    def __init__(self, source, class_weight=None):
        self.source = source
        self.class_weight = class_weight
        self.num_batches = _known_length(source)
        self._reiterable = not isinstance(source, collections.abc.Iterator)
        self._iter = None
        self._peeked = []

    def _iterator(self):
        if self._reiterable:
            return iter(self.source)
        if self._iter is None:
            self._iter = iter(self.source)
        return self._iter

    def _convert(self, item):
        x, y, sw = _unpack_batch(item)
        if self.class_weight is not None:
            if y is None:
                raise ValueError("class_weight needs batches with targets (x, y)")
            sw = class_weight_to_sample_weight(y, self.class_weight, sw)
        return to_tensors(x), to_tensors(y), to_tensors(sw)

    def batches(self):
        it = self._iterator()
        while True:
            if self._peeked:
                item = self._peeked.pop(0)
            else:
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield self._convert(item)

    def peek(self):
        if not self._peeked:
            try:
                self._peeked.append(next(iter(self.source)) if self._reiterable else next(self._iterator()))
            except StopIteration:
                raise ValueError("the data generator/dataset produced no batches") from None
        batch = self._convert(self._peeked[0])
        if self._reiterable:
            self._peeked.clear()
        return batch


def _known_length(source):
    """``len(source)``, or None when it has no length or does not know it (a filtered Dataset)."""
    if not hasattr(source, "__len__"):
        return None
    try:
        return len(source)
    except TypeError:
        return None


class PyDatasetAdapter:
    """Batches of a ``PyDataset``: ``on_epoch_begin``/``on_epoch_end`` around each pass, the batch
    order shuffled each pass when ``shuffle``, computed ahead by the worker threads it asks for."""

    def __init__(self, dataset, shuffle=False, class_weight=None):
        self.dataset = dataset
        self.shuffle = shuffle
        self.class_weight = class_weight
        n = dataset.num_batches
        self.num_batches = None if n is None else int(n)

    def _convert(self, batch):
        if isinstance(batch, dict):
            return to_tensors(batch), None, None
        if isinstance(batch, list):
            batch = tuple(batch)
        if not isinstance(batch, tuple):
            batch = (batch,)
        if len(batch) not in (1, 2, 3):
            raise ValueError("PyDataset.__getitem__() must return a tuple or a dict. If a tuple, it must be ordered "
                             "either (input,) or (inputs, targets) or (inputs, targets, sample_weights). "
                             f"Received a tuple of {len(batch)}")
        x, y, sw = unpack_x_y_sample_weight(batch)
        if self.class_weight is not None:
            if sw is not None:
                raise ValueError("You cannot specify `class_weight` and `sample_weight` at the same time.")
            if y is None:
                raise ValueError("class_weight needs targets: the PyDataset batches have no y")
            sw = class_weight_to_sample_weight(y, self.class_weight)
        return to_tensors(x), to_tensors(y), to_tensors(sw)

    def _indices(self):
        if self.num_batches is None:
            return itertools.count()
        if not self.shuffle:
            return range(self.num_batches)
        with zrandom.lock():
            return [int(i) for i in zrandom.get_generator().permutation(self.num_batches)]

    def batches(self):
        """One pass: ``on_epoch_begin``, the batches, ``on_epoch_end``."""
        self.dataset.on_epoch_begin()
        for batch in self.dataset.iter_batches(self._indices()):
            yield self._convert(batch)
        self.dataset.on_epoch_end()

    def peek(self):
        return self._convert(self.dataset[0])


class EpochIterator:
    """Epochs of batches as Keras 3 iterates them. Without ``steps_per_epoch`` each epoch is one
    pass over the data. With it, an epoch is that many batches and the next epoch goes on where
    this one stopped; a pass that runs out mid-epoch ends the epoch early with a warning (the next
    epoch starts a new pass)."""

    def __init__(self, adapter, steps_per_epoch=None):
        if steps_per_epoch is not None and (not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch <= 0):
            raise ValueError(f"steps_per_epoch must be a positive integer or None, got {steps_per_epoch!r}")
        self.adapter = adapter
        self.steps = None if steps_per_epoch is None else int(steps_per_epoch)
        self._it = None
        self._fresh = False

    @property
    def steps_per_epoch(self):
        return self.steps if self.steps is not None else self.adapter.num_batches

    def peek(self):
        return self.adapter.peek()

    def epoch_batches(self):
        if self.steps is None:
            empty = True
            for batch in self.adapter.batches():
                empty = False
                yield batch
            if empty:
                raise ValueError("the data generator/dataset produced no batches")
            return
        for step in range(self.steps):
            if self._it is None:
                self._it, self._fresh = iter(self.adapter.batches()), True
            try:
                batch = next(self._it)
            except StopIteration:
                was_fresh, self._it = self._fresh, None
                if was_fresh:
                    raise ValueError("the data generator/dataset produced no batches") from None
                if step == 0:  # the last pass ended with the previous epoch: start the next one
                    self._it, self._fresh = iter(self.adapter.batches()), True
                    try:
                        batch = next(self._it)
                    except StopIteration:
                        self._it = None
                        _warn_ran_out()
                        return
                else:
                    _warn_ran_out()
                    return
            self._fresh = False
            yield batch


class ShardedAdapter:
    """Each process's share of the batches of ``adapter`` under a data-parallel ``distribution``:
    the contiguous share ``distribution.shard`` gives of every global batch. Arrays are indexed
    directly; a generator or Dataset runs on every process (seed it the same everywhere) and each
    of its batches is cut."""

    def __init__(self, adapter, distribution):
        self.adapter = adapter
        self.distribution = distribution
        self.num_batches = adapter.num_batches

    def peek(self):
        return self.adapter.peek()

    def batches(self):
        if isinstance(self.adapter, ArrayAdapter):
            yield from self.adapter.batches(self.distribution)
            return
        for xb, yb, swb in self.adapter.batches():
            lo, hi = self.distribution.shard(0, len(_flat(xb)[0]))
            cut = lambda t: t[lo:hi]  # noqa: E731
            yield (_map(cut, xb), None if yb is None else _map(cut, yb), None if swb is None else _map(cut, swb))


def shard(epoch_iterator, distribution):
    """``epoch_iterator`` over this process's shares of its batches (itself without a distribution)."""
    if distribution is not None:
        epoch_iterator.adapter = ShardedAdapter(epoch_iterator.adapter, distribution)
    return epoch_iterator


def _warn_ran_out():
    warnings.warn("Your input ran out of data; interrupting the epoch. Make sure that your dataset or generator "
                  "can generate at least `steps_per_epoch * epochs` batches.", stacklevel=3)


def get_adapter(x, y=None, sw=None, batch_size=None, shuffle=True, steps=None, class_weight=None):
    """An ``EpochIterator`` over what the user passed to fit/evaluate/predict."""
    if x is None:
        raise ValueError("no input data x given")
    if isinstance(x, PyDataset):
        if y is not None or sw is not None:
            raise ValueError("when x is a PyDataset, y and sample_weight must be None (its batches carry them)")
        return EpochIterator(PyDatasetAdapter(x, shuffle=shuffle, class_weight=class_weight), steps)
    if is_iterator_like(x):
        if y is not None:
            raise ValueError("when x is a generator or Dataset, y must be None (the batches carry the targets)")
        if sw is not None:
            raise ValueError("when x is a generator or Dataset, sample_weight must be None (the batches carry them "
                             "as (x, y, sample_weight))")
        return EpochIterator(IteratorAdapter(x, class_weight=class_weight), steps)
    return EpochIterator(ArrayAdapter(x, y, sw, batch_size=batch_size, shuffle=shuffle, steps=steps,
                                      class_weight=class_weight), steps)
