"""embedding: lookup, scatter-add gradient with repeated indices, dtypes and errors."""
import numpy as np
import pytest

from core import Parameter, Tensor
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops.embedding import embedding, scatter_rows
from core.ops.losses import sparse_categorical_crossentropy

rng = np.random.default_rng(0)


@pytest.mark.parametrize("ishape", [(5,), (2, 3), (2, 2, 3), ()])
def test_embedding_forward_and_gradients(ishape):
    table = rng.standard_normal((7, 3))
    idx = rng.integers(0, 7, size=ishape)
    y = embedding(idx, Tensor(table))
    assert y.shape == ishape + (3,)
    np.testing.assert_array_equal(y.numpy(), table[idx])
    check_gradients(lambda t: embedding(idx, t), [table])


def test_embedding_repeated_indices_accumulate():
    table = Parameter(np.zeros((5, 2), np.float32))
    idx = Tensor(np.array([[1, 3, 1], [1, 0, 3]]))
    g = rng.standard_normal((2, 3, 2)).astype(np.float32)
    embedding(idx, table).backward(g)
    want = np.zeros((5, 2), np.float32)
    np.add.at(want, idx.numpy().ravel(), g.reshape(-1, 2))
    assert table.grad.dtype == np.float32
    np.testing.assert_allclose(table.grad, want, rtol=1e-6)
    assert not table.grad[[2, 4]].any()


@pytest.mark.parametrize("rows,dtype", [(100, np.int64), (100, np.uint8), (1 << 16, np.int32),
                                        (1 << 16, np.uint64), ((1 << 16) + 5, np.int64)])
def test_scatter_rows_matches_add_at(rows, dtype):
    """Small vocabularies sort their ids as uint16 (up to 2**16 rows, the last id included),
    larger ones as they are: both equal np.add.at."""
    idx = (np.minimum(rng.zipf(1.5, size=500) - 1, 99) * ((rows - 1) // 99)).astype(dtype)
    idx[:3] = rows - 1
    g = rng.standard_normal((500, 4))
    want = np.zeros((rows, 4))
    np.add.at(want, idx, g)
    got = scatter_rows(np, idx, g, rows)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got[rows - 1].any()
    assert not scatter_rows(np, idx[:0], g[:0], rows).any()


def test_embedding_dtypes_and_composition():
    table = rng.standard_normal((6, 4)).astype(np.float32)
    idx = np.array([[0, 5], [2, 2]], dtype=np.int32)
    y = embedding(idx, Tensor(table))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), table[idx])
    assert embedding(np.array([1, 2], np.uint8), Tensor(table)).shape == (2, 4)
    # embedding -> logits -> sparse cross-entropy, through the table
    tgt = np.array([[1, 3], [0, 2]])
    check_gradients(lambda t: sparse_categorical_crossentropy(tgt, embedding(idx, t), from_logits=True),
                    [table.astype(np.float64)])


def test_embedding_no_grad_needed_keeps_nothing():
    table = Tensor(rng.standard_normal((4, 2)))
    y = embedding(np.array([1, 2]), table)
    assert y.creator is None


def test_embedding_errors():
    table = Tensor(np.zeros((5, 3)))
    with pytest.raises(OpError, match=r"embedding: index 5 is out of range for a table of 5 rows .*\[0, 4\]"):
        embedding(np.array([0, 5]), table)
    with pytest.raises(OpError, match=r"embedding: index -1 is out of range"):
        embedding(np.array([[-1, 2]]), table)
    with pytest.raises(OpError, match=r"embedding: indices must have an integer dtype, got float32 \(shape \(2,\)\)"):
        embedding(np.array([1.0, 2.0], np.float32), table)
    with pytest.raises(OpError, match="embedding: indices must have an integer dtype, got bool"):
        embedding(np.array([True, False]), table)
    with pytest.raises(OpError, match=r"embedding: table must have rank 2 .*got shape \(5,\)"):
        embedding(np.array([1]), np.zeros(5))
    with pytest.raises(OpError, match="embedding: expected floating inputs"):
        embedding(np.array([1]), np.zeros((5, 3), np.int64))


@pytest.mark.parametrize("rounds", [1, 3, 8])
def test_table_gradient_with_heavily_repeated_indices(monkeypatch, rounds):
    """Indices repeated far more often than the rounds of scatter_rows (a padding id) go through
    its per-run sums: the gradient equals np.add.at's."""
    import importlib

    E = importlib.import_module("core.ops.embedding")
    monkeypatch.setattr(E, "_ROUNDS", rounds)
    r = np.random.default_rng(5)
    idx = np.concatenate([np.zeros(50, np.int64), r.integers(0, 7, 40), [6, 6, 3]])
    r.shuffle(idx)
    g = r.standard_normal((idx.size, 4))
    ref = np.zeros((9, 4))
    np.add.at(ref, idx, g)
    np.testing.assert_allclose(E.scatter_rows(np, idx, g, 9), ref, rtol=1e-12, atol=1e-12)
    table = Tensor(r.standard_normal((9, 4)), requires_grad=True)
    (embedding(idx.reshape(3, -1), table) * Tensor(g.reshape(3, -1, 4))).sum().backward()
    np.testing.assert_allclose(table.grad, ref, rtol=1e-12, atol=1e-12)
