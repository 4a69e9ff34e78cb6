"""Embedding layer: lookup, weights, masks (mask_zero), id checks, gradients, LoRA, config."""
import numpy as np
import pytest

from core import Tensor
from core.layers.core_layers import Input
from core.layers.embedding import Embedding

rng = np.random.default_rng(9)


def test_lookup_weights_and_output_dtype():
    emb = Embedding(12, 5, name="emb")
    ids = rng.integers(0, 12, (3, 4))
    y = emb(ids)
    assert [w.path for w in emb.weights] == ["emb/embeddings"] and emb.embeddings.shape == (12, 5)
    np.testing.assert_array_equal(y.numpy(), emb.get_weights()[0][ids])
    assert y.dtype == np.float32 and y.shape == emb.compute_output_shape((3, 4)) == (3, 4, 5)
    table = emb.get_weights()[0]
    assert np.abs(table).max() <= 0.05 and table.std() > 0.01  # "uniform" = RandomUniform(-0.05, 0.05)


def test_ids_of_any_shape_and_dtype():
    emb = Embedding(10, 3)
    assert emb(np.array([1, 2], np.int32)).shape == (2, 3)
    assert emb(np.array([[1, 2, 3, 4, 5]], np.uint8)).shape == (1, 5, 3)  # another sequence length
    np.testing.assert_array_equal(emb(np.array([[2.0, 7.0]])).numpy(), emb(np.array([[2, 7]])).numpy())
    big = Embedding(2 ** 24 + 2, 1, embeddings_initializer="zeros")
    big.build()
    big.embeddings.data[2 ** 24 + 1] = 1.0
    assert float(big(np.array([float(2 ** 24 + 1)])).numpy()[0, 0]) == 1.0  # float64 ids are not rounded via float32


def test_mask_zero_and_mask_propagation():
    emb = Embedding(6, 2, mask_zero=True)
    ids = np.array([[3, 1, 0], [0, 5, 0]])
    y = emb(ids)
    mask = y._keras_mask
    assert isinstance(mask, Tensor) and mask.dtype == bool and mask.shape == (2, 3)
    np.testing.assert_array_equal(mask.numpy(), ids != 0)
    np.testing.assert_array_equal(emb.compute_mask(Tensor(ids)).numpy(), ids != 0)
    assert Embedding(6, 2).compute_mask(Tensor(ids)) is None
    assert getattr(Embedding(6, 2)(ids), "_keras_mask", None) is None
    out = Embedding(6, 2, mask_zero=True)(Input((3,), dtype="int32"))
    assert out._has_mask and out.shape == (None, 3, 2) and out.dtype == np.float32


def test_errors_for_bad_ids_and_arguments():
    emb = Embedding(5, 2)
    with pytest.raises(ValueError, match=r"id 7 is out of range for input_dim=5"):
        emb(np.array([[1, 7]]))
    with pytest.raises(ValueError, match=r"id -1 is out of range"):
        emb(np.array([-1, 0]))
    with pytest.raises(ValueError, match="non-integral"):
        emb(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="input_dim"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="output_dim"):
        Embedding(3, 2.5)


def test_gradient_accumulates_repeated_ids():
    emb = Embedding(4, 3)
    ids = np.array([[1, 1, 3], [1, 0, 3]])
    g = rng.standard_normal((2, 3, 3)).astype(np.float32)
    (emb(ids) * Tensor(g)).sum().backward()
    want = np.zeros((4, 3), np.float32)
    np.add.at(want, ids.reshape(-1), g.reshape(-1, 3))
    np.testing.assert_allclose(emb.embeddings.grad, want, atol=1e-6)


def test_config_round_trip_with_keras_keys():
    emb = Embedding(7, 3, embeddings_initializer="random_normal", embeddings_regularizer="l2", mask_zero=True,
                    name="e1")
    ids = np.array([[1, 2, 0]])
    y = emb(ids)
    cfg = emb.get_config()
    assert {"name", "trainable", "dtype", "input_dim", "output_dim", "embeddings_initializer",
            "embeddings_regularizer", "activity_regularizer", "embeddings_constraint", "mask_zero",
            "quantization_config"} <= set(cfg)
    assert Embedding(3, 2).get_config()["embeddings_initializer"]["class_name"] == "RandomUniform"
    clone = Embedding.from_config(cfg)
    assert clone.get_config() == cfg
    clone.build()
    clone.set_weights(emb.get_weights())
    np.testing.assert_array_equal(clone(ids).numpy(), y.numpy())
    assert len(emb.losses) == 1


def test_weights_argument_and_activity_regularizer():
    table = rng.standard_normal((4, 2)).astype(np.float32)
    emb = Embedding(4, 2, weights=[table], activity_regularizer="l1")
    y = emb(np.array([[0, 3]]))
    np.testing.assert_array_equal(y.numpy()[0], table[[0, 3]])
    (loss,) = emb.losses
    np.testing.assert_allclose(float(loss.numpy()), 0.01 * np.abs(table[[0, 3]]).sum(), rtol=1e-6)


def test_lora_starts_equal_and_trains_only_the_adapters():
    emb = Embedding(6, 4)
    ids = np.array([[1, 5, 2]])
    before = emb(ids).numpy()
    emb.enable_lora(2)
    np.testing.assert_allclose(emb(ids).numpy(), before)  # B starts at zero
    assert [w.name for w in emb.trainable_weights] == ["lora_embeddings_a", "lora_embeddings_b"]
    assert [w.name for w in emb.non_trainable_weights] == ["embeddings"]
    emb.lora_embeddings_b.assign(np.ones((2, 4), np.float32))
    want = emb._embeddings.numpy() + emb.lora_embeddings_a.numpy() @ np.ones((2, 4), np.float32)
    np.testing.assert_allclose(emb(ids).numpy(), want[ids], atol=1e-6)
    assert emb.get_config()["lora_rank"] == 2
    with pytest.raises(ValueError, match="already enabled"):
        emb.enable_lora(2)
