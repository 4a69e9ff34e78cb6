"""Dropout family layers: identity at inference, scaled masks in training, noise shapes,
seeds and set_random_seed, masks passing through, configs (Keras keys) and errors."""
import numpy as np
import pytest

from core import Tensor
from core.layers.core_layers import Input
from core.layers.embedding import Embedding
from core.layers.regularization import (ActivityRegularization, AlphaDropout, Dropout, GaussianDropout,
                                        GaussianNoise, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
from core.utils import set_random_seed

rng = np.random.default_rng(5)


def test_dropout_identity_at_inference_and_by_default():
    x = rng.standard_normal((8, 10)).astype(np.float32)
    d = Dropout(0.5)
    np.testing.assert_array_equal(d(x).numpy(), x)
    np.testing.assert_array_equal(d(x, training=False).numpy(), x)


def test_dropout_training_zeroes_and_scales():
    x = np.ones((200, 50), np.float32)
    y = Dropout(0.3)(x, training=True).numpy()
    kept = y != 0
    assert 0.25 < 1 - kept.mean() < 0.35
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32


def test_dropout_repeatable_with_set_random_seed_and_with_seed():
    x = np.ones((6, 7), np.float32)
    set_random_seed(42)
    a = Dropout(0.5)(x, training=True).numpy()
    set_random_seed(42)
    b = Dropout(0.5)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    l1, l2 = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    s1 = [l1(x, training=True).numpy() for _ in range(2)]
    s2 = [l2(x, training=True).numpy() for _ in range(2)]
    np.testing.assert_array_equal(s1[0], s2[0])
    np.testing.assert_array_equal(s1[1], s2[1])
    assert not np.array_equal(s1[0], s1[1])  # the seeded generator advances per call


def test_dropout_noise_shape_shares_mask():
    x = np.ones((4, 9, 3), np.float32)
    y = Dropout(0.5, noise_shape=(None, 1, 3))(x, training=True).numpy()
    assert (y == y[:, :1, :]).all()
    assert Dropout(0.5, noise_shape=[None, 1, 3]).get_config()["noise_shape"] == [None, 1, 3]


def test_dropout_rate_one_and_zero_and_gradient():
    x = Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True).numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), np.ones((3, 4)))
    y = Dropout(0.5, seed=1)(x, training=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, (y.numpy() != 0) * 2.0)


def test_dropout_any_shape_after_first_call():
    d = Dropout(0.2)
    d(np.ones((2, 3), np.float32))
    assert d(np.ones((5, 4, 2), np.float32), training=True).shape == (5, 4, 2)


def test_dropout_config_round_trip_and_errors():
    d = Dropout(0.25, noise_shape=(None, 1), seed=7, name="dr")
    cfg = d.get_config()
    assert {"name", "trainable", "dtype", "rate", "seed", "noise_shape"} <= set(cfg)
    clone = Dropout.from_config(cfg)
    assert clone.get_config() == cfg
    x = np.ones((5, 6), np.float32)
    np.testing.assert_array_equal(clone(x, training=True).numpy(), d(x, training=True).numpy())
    assert d.compute_output_shape((None, 6)) == (None, 6)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape="abc")
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=(0, 1))


def test_dropout_passes_mask_through():
    ids = np.array([[4, 2, 0], [1, 0, 0]])
    h = Embedding(5, 3, mask_zero=True)(ids)
    y = Dropout(0.5)(h, training=True)
    np.testing.assert_array_equal(y._keras_mask.numpy(), ids != 0)
    inp = Input((3,), dtype="int64")
    out = Dropout(0.5)(Embedding(5, 3, mask_zero=True)(inp))
    assert out._has_mask and out.shape == (None, 3, 3)


def test_spatial_dropout_1d_drops_whole_channels():
    x = np.ones((16, 7, 5), np.float32)
    y = SpatialDropout1D(0.5)(x, training=True).numpy()
    assert (y == y[:, :1, :]).all() and (y == 0).any() and (y == 2).any()
    np.testing.assert_array_equal(SpatialDropout1D(0.5)(x).numpy(), x)
    with pytest.raises(ValueError, match="ndim=3"):
        SpatialDropout1D(0.5)(np.ones((2, 3), np.float32), training=True)


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_spatial_dropout_2d_3d(fmt):
    x = np.ones((8, 4, 5, 6), np.float32)
    y = SpatialDropout2D(0.5, data_format=fmt)(x, training=True).numpy()
    if fmt == "channels_last":
        assert (y == y[:, :1, :1, :]).all()
    else:
        assert (y == y[:, :, :1, :1]).all()
    assert (y == 0).any() and (y == 2).any()
    z = SpatialDropout3D(0.5, data_format=fmt)(np.ones((4, 3, 3, 3, 5), np.float32), training=True).numpy()
    assert (z == (z[:, :1, :1, :1, :] if fmt == "channels_last" else z[:, :, :1, :1, :1])).all()
    with pytest.raises(ValueError, match="ndim=4"):
        SpatialDropout2D(0.5)(np.ones((2, 3, 4), np.float32), training=True)


def test_spatial_dropout_configs_have_keras_keys():
    assert set(SpatialDropout1D(0.3).get_config()) == {"rate", "seed", "name", "dtype"}
    cfg = SpatialDropout2D(0.3, data_format="channels_first", seed=2).get_config()
    assert set(cfg) == {"rate", "seed", "name", "dtype", "data_format"}
    clone = SpatialDropout2D.from_config(cfg)
    assert clone.get_config() == cfg
    x = np.ones((3, 4, 2, 2), np.float32)
    np.testing.assert_array_equal(clone(x, training=True).numpy(),
                                  SpatialDropout2D.from_config(cfg)(x, training=True).numpy())


def test_gaussian_noise_and_dropout():
    x = np.ones((400, 50), np.float32)
    assert GaussianNoise(0.1)(x).numpy() is not None
    np.testing.assert_array_equal(GaussianNoise(0.1)(x).numpy(), x)
    y = GaussianNoise(0.2, seed=1)(x, training=True).numpy()
    assert abs((y - 1).std() - 0.2) < 0.01 and y.dtype == np.float32
    z = GaussianDropout(0.5, seed=1)(x, training=True).numpy()
    assert abs(z.mean() - 1) < 0.02 and abs(z.std() - 1.0) < 0.02  # sqrt(0.5 / 0.5) = 1
    np.testing.assert_array_equal(GaussianDropout(0.5)(x, training=False).numpy(), x)
    assert GaussianNoise.from_config(GaussianNoise(0.1, seed=3).get_config()).stddev == 0.1


def test_alpha_dropout_keeps_selu_statistics():
    x = rng.standard_normal((500, 40)).astype(np.float32)
    y = AlphaDropout(0.2, seed=0)(x, training=True).numpy()
    assert abs(y.mean()) < 0.05 and abs(y.std() - 1) < 0.05
    np.testing.assert_array_equal(AlphaDropout(0.2)(x).numpy(), x)


def test_activity_regularization_adds_batch_normalized_loss():
    x = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    layer = ActivityRegularization(l1=0.1, l2=0.01)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    (loss,) = layer.losses
    want = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 2
    np.testing.assert_allclose(float(loss.numpy()), want, rtol=1e-6)
    layer(x)
    assert len(layer.losses) == 1
    assert layer.get_config()["l1"] == 0.1


def test_add_loss_walks_start_with_the_first_loss(monkeypatch):
    """Until some layer holds an add_loss loss, the per-call walks over the sublayers are skipped:
    weight regularization is still counted, and the first add_loss (or activity regularizer) turns
    the gathering and clearing back on."""
    import numpy as np

    from core import layers as L
    from core import regularizers
    from core.layers import base
    from core.models import Model

    monkeypatch.setattr(base, "_losses_added", False)

    class Inner(L.Layer):
        def call(self, x):
            if self.emit:
                self.add_loss(x.sum() * 0 + 2.0)
            return x

    inp = L.Input((3,))
    inner = Inner()
    inner.emit = False
    model = Model(inp, inner(L.Dense(2, kernel_regularizer=regularizers.L2(0.5))(inp)))
    x = np.ones((4, 3), "float32")
    model(x)
    assert base._losses_added is False and len(model.losses) == 1   # the kernel's L2 term only
    inner.emit = True
    model(x)
    assert base._losses_added is True
    assert sorted(float(l.numpy()) for l in model.losses)[-1] == 2.0 and len(model.losses) == 2
    inner.emit = False
    model(x)                                                           # the next call clears it
    assert len(model.losses) == 1
