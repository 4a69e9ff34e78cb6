"""Turn what users pass to fit/evaluate/predict into batches: arrays (and lists/dicts of them),
Python generators and iterables of batches, or ``core.data.Dataset``."""
from __future__ import annotations

import collections.abc
import math

import numpy as np

from .. import backend
from .. import random as zrandom
from ..autodiff import Tensor


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
    y = _as_array(_flat(y)[0] if isinstance(y, (list, dict)) else y, "y")
    y = backend.to_numpy(y)
    labels = y.argmax(-1) if (y.ndim > 1 and y.shape[-1] > 1) else y.reshape(len(y), -1)[:, 0].round().astype(np.int64)
    bad = {k: v for k, v in class_weight.items() if not _finite_number(v)}
    if bad:
        raise ValueError(f"class_weight must map classes to finite numbers; got {bad}: a NaN or infinite weight "
                         "would turn every weight into NaN")
    unknown = set(np.unique(labels).tolist()) - set(int(k) for k in class_weight)
    if unknown:
        raise ValueError(f"class_weight has no entry for class(es) {sorted(unknown)}; it covers {sorted(class_weight)}")
    table = np.zeros(int(max(max(class_weight), labels.max())) + 1, np.float32)
    for k, v in class_weight.items():
        table[int(k)] = v
    sw = table[labels]
    if sample_weight is not None:
        sw = sw * backend.to_numpy(_as_array(sample_weight, "sample_weight")).astype(np.float32)
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
    if is_iterator_like(validation_data):
        return validation_data, None, None
    if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
        x, y = validation_data[:2]
        sw = validation_data[2] if len(validation_data) == 3 else None
        return x, y, sw
    raise ValueError("validation_data must be a tuple (x, y) or (x, y, sample_weight), a Dataset or a generator")


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
        self.sw = None if sw is None else _as_array(sw, "sample_weight")
        check_finite(self.sw, "sample_weight", "the training/evaluation data")
        self.batch_size = int(batch_size or 32)
        self.shuffle = shuffle
        self.steps_per_epoch = math.ceil(self.n / self.batch_size)
        if steps is not None:
            self.steps_per_epoch = min(int(steps), self.steps_per_epoch)

    def _take(self, idx):
        def take(a):
            return Tensor(a[idx])

        xb = _map(take, self.x)
        yb = None if self.y is None else _map(take, self.y)
        swb = None if self.sw is None else Tensor(self.sw[idx])
        return xb, yb, swb

    def epoch_batches(self):
        if self.shuffle:
            with zrandom.lock():
                order = zrandom.get_generator().permutation(self.n)
        else:
            order = None
        for step in range(self.steps_per_epoch):
            lo, hi = step * self.batch_size, min((step + 1) * self.batch_size, self.n)
            idx = order[lo:hi] if order is not None else slice(lo, hi)
            yield self._take(idx)

    def peek(self):
        return self._take(slice(0, min(self.batch_size, self.n)))


def _unpack_batch(item):
    if isinstance(item, tuple):
        if len(item) == 1:
            return item[0], None, None
        if len(item) == 2:
            return item[0], item[1], None
        if len(item) == 3:
            return item
        raise ValueError(f"a batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(item)}")
    return item, None, None


class IteratorAdapter:
    """Batches from a generator/iterable/Dataset; a one-shot generator needs ``steps``."""

    def __init__(self, source, steps=None):
        self.source = source
        self.steps_per_epoch = int(steps) if steps is not None else (
            len(source) if hasattr(source, "__len__") else None)
        self._reiterable = not isinstance(source, collections.abc.Iterator)
        self._iter = None
        self._peeked = []

    def _iterator(self):
        if self._reiterable:
            return iter(self.source)
        if self._iter is None:
            self._iter = iter(self.source)
        return self._iter

    def epoch_batches(self):
        it = self._iterator()
        step = 0
        while self.steps_per_epoch is None or step < self.steps_per_epoch:
            if self._peeked:
                item = self._peeked.pop(0)
            else:
                try:
                    item = next(it)
                except StopIteration:
                    if step == 0:
                        raise ValueError("the data generator/dataset produced no batches") from None
                    if not self._reiterable and self.steps_per_epoch is not None:
                        raise ValueError(f"the generator ran out of data after {step} of steps_per_epoch="
                                         f"{self.steps_per_epoch} steps; make it loop forever or lower "
                                         "steps_per_epoch") from None
                    return
            x, y, sw = _unpack_batch(item)
            yield to_tensors(x), to_tensors(y), to_tensors(sw)
            step += 1

    def peek(self):
        if not self._peeked:
            try:
                self._peeked.append(next(iter(self.source)) if self._reiterable else next(self._iterator()))
            except StopIteration:
                raise ValueError("the data generator/dataset produced no batches") from None
        x, y, sw = _unpack_batch(self._peeked[0])
        if self._reiterable:
            self._peeked.clear()
        return to_tensors(x), to_tensors(y), to_tensors(sw)


def get_adapter(x, y=None, sw=None, batch_size=None, shuffle=True, steps=None, class_weight=None):
    if x is None:
        raise ValueError("no input data x given")
    if is_iterator_like(x):
        if y is not None:
            raise ValueError("when x is a generator or Dataset, y must be None (the batches carry the targets)")
        if batch_size is not None and not hasattr(x, "_is_unbatched"):
            pass  # Keras ignores batch_size for batched sources
        return IteratorAdapter(x, steps)
    return ArrayAdapter(x, y, sw, batch_size=batch_size, shuffle=shuffle, steps=steps, class_weight=class_weight)
