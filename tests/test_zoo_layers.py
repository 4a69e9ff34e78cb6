"""zoo.layers: ``LayerScale`` and ``StochasticDepth`` (Keras's keras.src.applications.convnext layers):
semantics, gradient checks, Keras config keys, and Keras-written configs that rebuild here."""
from __future__ import annotations

import numpy as np
import pytest

import zoo  # noqa: F401  (registers the lazy Keras module name)
from core.autodiff import Tensor
from core.gradient_check import check_gradients
from core.layers.base import deserialize_layer, serialize_layer
from zoo.layers import LayerScale, StochasticDepth

_DTYPE = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
# written by Keras 3.15.1 (ConvNeXt(..., drop_path_rate=0.1).get_config()["layers"])
KERAS_LAYER_SCALE = {"module": "keras.src.applications.convnext", "class_name": "LayerScale",
                     "config": {"name": "convnext_x_stage_0_block_0_layer_scale", "trainable": True, "dtype": _DTYPE,
                                "init_values": 1e-06, "projection_dim": 8},
                     "registered_name": "LayerScale", "build_config": {"input_shape": [None, 8, 8, 8]},
                     "name": "convnext_x_stage_0_block_0_layer_scale"}
KERAS_STOCHASTIC_DEPTH = {"module": "keras.src.applications.convnext", "class_name": "StochasticDepth",
                          "config": {"name": "convnext_x_stage_1_block_0_stochastic_depth", "trainable": True,
                                     "dtype": _DTYPE, "drop_path_rate": 0.03333333333333333},
                          "registered_name": "StochasticDepth", "build_config": {"input_shape": [None, 4, 4, 8]},
                          "name": "convnext_x_stage_1_block_0_stochastic_depth"}


def test_layer_scale_multiplies_by_a_learned_per_channel_gamma():
    layer = LayerScale(1e-6, 4)
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype(np.float32)
    y = layer(x)
    assert [w.shape for w in layer.weights] == [(4,)] and layer.trainable_weights == layer.weights
    np.testing.assert_allclose(layer.gamma.numpy(), np.full(4, 1e-6, np.float32))
    layer.gamma.assign(np.array([1.0, -2.0, 0.5, 3.0], np.float32))
    np.testing.assert_allclose(np.asarray(layer(x)), x * np.array([1.0, -2.0, 0.5, 3.0], np.float32), rtol=1e-6)
    assert tuple(y.shape) == x.shape
    with pytest.raises(ValueError, match="projection_dim=5 but the input has 4 channels"):
        LayerScale(0.1, 5)(x)
    with pytest.raises(ValueError, match="projection_dim must be a positive integer"):
        LayerScale(0.1, 0)


def test_layer_scale_gradients():
    layer = LayerScale(0.7, 3, dtype="float64")
    x = np.random.default_rng(1).normal(size=(2, 4, 3))
    layer.build(x.shape)
    layer.gamma.assign(np.array([0.5, -1.5, 2.0]))
    check_gradients(lambda t: layer(t), [x], params=layer.weights)


def test_stochastic_depth_is_the_identity_at_inference():
    x = np.random.default_rng(2).normal(size=(3, 2, 2, 4)).astype(np.float32)
    layer = StochasticDepth(0.5)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(StochasticDepth(0.0)(x, training=True)), x)
    assert not layer.weights


def test_stochastic_depth_drops_whole_samples_and_rescales_the_rest():
    rate = 0.25
    x = np.random.default_rng(3).uniform(1.0, 2.0, size=(4000, 3, 2, 2)).astype(np.float32)
    y = np.asarray(StochasticDepth(rate, seed=7)(x, training=True))
    flat_y, flat_x = y.reshape(len(y), -1), x.reshape(len(x), -1)
    dropped = (flat_y == 0).all(axis=1)
    kept = ~dropped
    assert ((flat_y == 0).any(axis=1) == dropped).all()          # a sample is dropped whole or not at all
    np.testing.assert_allclose(flat_y[kept], flat_x[kept] / (1 - rate), rtol=1e-6)
    assert abs(dropped.mean() - rate) < 0.03                     # 4000 samples: sd of the rate ~0.007
    # seeded: the same masks again from a fresh layer; an unseeded layer draws new ones per call
    np.testing.assert_array_equal(np.asarray(StochasticDepth(rate, seed=7)(x, training=True)), y)
    layer = StochasticDepth(rate, seed=7)
    assert not np.array_equal(np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True)))


def test_stochastic_depth_gradients_in_training():
    x = np.random.default_rng(4).normal(size=(6, 3, 2))
    # a fresh seeded layer per call: the same per-sample mask for every finite difference
    check_gradients(lambda t: StochasticDepth(0.5, seed=3, dtype="float64")(t, training=True), [x])
    mask = np.asarray(StochasticDepth(0.5, seed=3, dtype="float64")(Tensor(np.ones_like(x)), training=True))
    assert 0 < (mask == 0).all(axis=(1, 2)).sum() < 6             # the check covered dropped and kept samples


def test_stochastic_depth_rejects_bad_rates():
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(ValueError, match=r"drop_path_rate must be a number in \[0, 1\)"):
            StochasticDepth(bad)
    with pytest.raises(ValueError, match="seed must be None or a non-negative integer"):
        StochasticDepth(0.1, seed=-1)


@pytest.mark.parametrize("keras_config", [KERAS_LAYER_SCALE, KERAS_STOCHASTIC_DEPTH], ids=["LayerScale",
                                                                                         "StochasticDepth"])
def test_keras_written_configs_rebuild_and_ours_have_keras_keys(keras_config):
    layer = deserialize_layer(keras_config)
    assert type(layer).__name__ == keras_config["class_name"] and layer.name == keras_config["name"]
    ours = serialize_layer(layer)
    assert ours["module"] == "keras.src.applications.convnext" and ours["class_name"] == keras_config["class_name"]
    assert set(ours["config"]) == set(keras_config["config"])     # Keras's keys, nothing Keras would refuse
    for key in set(keras_config["config"]) - {"dtype"}:
        assert ours["config"][key] == keras_config["config"][key]
    again = deserialize_layer(ours)
    assert again.get_config() == layer.get_config()
    if isinstance(layer, StochasticDepth):
        assert StochasticDepth(0.2, seed=5).get_config()["seed"] == 5   # written only when set
