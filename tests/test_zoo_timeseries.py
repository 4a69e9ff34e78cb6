"""ts_transformer: shapes, instance normalisation, and learning a sine-wave forecast."""
import numpy as np
import pytest

import zoo
from core import optimizers
from core.utils import set_random_seed


def sines(n, length, horizon, seed):
    rng = np.random.default_rng(seed)
    period = rng.uniform(12, 24, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amp = rng.uniform(0.5, 2.0, (n, 1))
    offset = rng.normal(0, 1, (n, 1))
    t = np.arange(length + horizon)[None, :]
    s = (amp * np.sin(2 * np.pi * t / period + phase) + offset).astype(np.float32)
    return s[:, :length, None], s[:, length:]


@pytest.mark.slow
def test_patch_transformer_learns_sine_forecast():
    set_random_seed(0)
    x, y = sines(256, 48, 12, seed=0)
    xv, yv = sines(128, 48, 12, seed=1)
    naive = float(np.mean((yv - xv[:, -1, :]) ** 2))  # repeat the last value
    m = zoo.create_model("ts_transformer", input_length=48, num_features=1, horizon=12, patch_len=8, d_model=32,
                         num_heads=4, num_layers=2, ff_dim=64, dropout=0.0)
    m.compile(optimizer=optimizers.Adam(3e-3), loss="mse")
    hist = m.fit(x, y, epochs=10, batch_size=32, verbose=0)
    pred = m.predict(xv, verbose=0)
    assert pred.shape == (128, 12) and pred.dtype == np.float32
    mse = float(np.mean((pred - yv) ** 2))
    assert hist.history["loss"][-1] < 0.2 * hist.history["loss"][0]
    assert mse < 0.05 * naive, (mse, naive)


def test_step_embedding_trains():
    set_random_seed(1)
    x, y = sines(64, 24, 4, seed=2)
    m = zoo.create_model("ts_transformer", input_length=24, num_features=1, horizon=4, d_model=16, num_heads=2,
                         num_layers=1, ff_dim=32, dropout=0.1)
    assert "patching" not in [l.name for l in m.layers]
    assert m.get_layer("position_embedding").embeddings.shape == (24, 16)  # one token per step
    m.compile(optimizer=optimizers.Adam(1e-2), loss="mse")
    hist = m.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_multi_target_output_and_instance_norm_equivariance():
    set_random_seed(2)
    m = zoo.create_model("ts_transformer", input_shape=(24, 3), horizon=6, patch_len=6, num_targets=2, d_model=16,
                         num_heads=2, num_layers=1, ff_dim=16, dropout=0.0)
    assert m.get_layer("position_embedding").embeddings.shape == (4, 16)  # 24 / 6 patches
    x = np.random.default_rng(0).normal(size=(5, 24, 3)).astype(np.float32)
    y = m.predict(x, verbose=0)
    assert y.shape == (5, 6, 2)
    # instance normalisation: the forecast of a*x + b is a*f(x) + b (per feature)
    a = np.array([3.0, 0.5, 2.0], np.float32)
    b = np.array([10.0, -4.0, 1.0], np.float32)
    np.testing.assert_allclose(m.predict(x * a + b, verbose=0), y * a[:2] + b[:2], rtol=1e-3, atol=1e-3)
    plain = zoo.create_model("ts_transformer", input_length=24, num_features=3, horizon=6, num_targets=3,
                             instance_norm=False, d_model=8, num_heads=2, num_layers=1, ff_dim=8)
    assert plain.predict(x, verbose=0).shape == (5, 6, 3)


def test_ts_transformer_errors_and_registry():
    assert "ts_transformer" in zoo.list_models()
    with pytest.raises(ValueError, match="multiple of patch_len=7"):
        zoo.create_model("ts_transformer", input_length=48, patch_len=7)
    with pytest.raises(ValueError, match="num_targets=3.*num_features=2"):
        zoo.create_model("ts_transformer", input_length=8, num_features=2, num_targets=3)
    with pytest.raises(ValueError, match="divisible by num_heads=3"):
        zoo.create_model("ts_transformer", input_length=8, d_model=16, num_heads=3)
    m = zoo.create_model("ts_transformer", input_length=8, horizon=2, d_model=8, num_heads=2, num_layers=1, ff_dim=8)
    with pytest.raises(ValueError, match=r"\(None, 8, 1\)"):
        m.predict(np.zeros((2, 9, 1), np.float32), verbose=0)
