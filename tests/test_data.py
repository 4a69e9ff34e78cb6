"""core.data.Dataset: slices, generator sources, shuffle, batch, map, take/repeat, prefetch."""
import threading

import numpy as np
import pytest

from core.data import Dataset
from core.utils import set_random_seed


def test_slices_batch_map_and_length():
    x, y = np.arange(10).reshape(10, 1), np.arange(10) * 2
    ds = Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 10, b + 1)).batch(4)
    batches = list(ds)
    assert len(ds) == 3 and [b[0].shape for b in batches] == [(4, 1), (4, 1), (2, 1)]
    np.testing.assert_array_equal(batches[0][1], [1, 3, 5, 7])
    assert len(Dataset.from_tensor_slices(x).batch(4, drop_remainder=True)) == 2


def test_shuffle_is_a_permutation_new_each_epoch_and_seeded():
    set_random_seed(0)
    ds = Dataset.from_tensor_slices(np.arange(50)).shuffle(50)
    a, b = [int(v) for v in ds], [int(v) for v in ds]
    assert sorted(a) == list(range(50)) and a != b
    s1 = [int(v) for v in Dataset.from_tensor_slices(np.arange(50)).shuffle(8, seed=3)]
    s2 = [int(v) for v in Dataset.from_tensor_slices(np.arange(50)).shuffle(8, seed=3)]
    assert s1 == s2 and sorted(s1) == list(range(50))


def test_generator_take_repeat_and_dict_elements():
    ds = Dataset.from_generator(lambda: ({"a": np.float32(i), "b": i % 2} for i in range(5)))
    out = list(ds.batch(2).take(2))
    assert len(out) == 2 and out[0]["a"].tolist() == [0.0, 1.0]
    assert [int(v["b"]) for v in ds.repeat(2)] == [0, 1, 0, 1, 0] * 2


def test_prefetch_runs_in_a_thread_and_reraises_errors():
    producer_threads = set()

    def gen():
        for i in range(6):
            producer_threads.add(threading.get_ident())
            if i == 4:
                raise RuntimeError("bad record 4")
            yield i

    ds = Dataset.from_generator(gen).prefetch(2)
    got = []
    with pytest.raises(RuntimeError, match="bad record 4"):
        for v in ds:
            got.append(v)
    assert got == [0, 1, 2, 3] and threading.get_ident() not in producer_threads


def test_bad_arguments():
    with pytest.raises(ValueError, match="different lengths"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="batch_size must be positive"):
        Dataset.from_tensor_slices(np.zeros(3)).batch(0)
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(iter([1, 2]))
