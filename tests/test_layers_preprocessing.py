"""Preprocessing layers: Rescaling, Normalization (+ adapt), Resizing (vs TF fixture) and the
random image layers (training only, per-image draws, repeatable seeds), configs and errors."""
import numpy as np
import pytest

from core import Tensor
from core.data import Dataset
from core.layers.core_layers import Input
from core.layers.preprocessing import (Normalization, RandomCrop, RandomFlip, RandomRotation, Rescaling,
                                       Resizing)
from core.models import Sequential
from core.utils import set_random_seed
from tests.fixture_utils import case_params

rng = np.random.default_rng(21)


def _imgs(*shape):
    return rng.random(shape, dtype=np.float32)


def _round_trip(layer, x, **kw):
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    if layer.weights:
        clone.build(x.shape)
        clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x, **kw).numpy(), layer(x, **kw).numpy(), atol=1e-6)
    return clone


# --------------------------------------------------------------------------- Rescaling
def test_rescaling_scalar_and_per_channel():
    u8 = rng.integers(0, 256, (2, 3, 3, 3)).astype(np.uint8)
    y = Rescaling(1 / 127.5, offset=-1)(u8)
    assert y.dtype == np.float32 and y.shape == u8.shape
    np.testing.assert_allclose(y.numpy(), u8 / 127.5 - 1, atol=1e-6)
    layer = Rescaling(np.array([1.0, 2.0, 3.0]), offset=0.5)
    np.testing.assert_allclose(layer(u8).numpy(), u8 * np.array([1, 2, 3]) + 0.5, rtol=1e-6)
    cfg = layer.get_config()
    assert cfg["scale"] == {"class_name": "__numpy__", "config": {"value": [1.0, 2.0, 3.0], "dtype": "float64"}}
    _round_trip(layer, u8.astype(np.float32))
    assert Rescaling(2.0).compute_output_shape((None, 4)) == (None, 4)


# --------------------------------------------------------------------------- Normalization
def test_normalization_adapt_matches_numpy_and_keras_weights():
    x = (rng.standard_normal((50, 4)) * [1, 2, 3, 4] + [0, 1, -2, 5]).astype(np.float32)
    norm = Normalization(name="norm")
    norm.adapt(x)
    assert [w.path for w in norm.weights] == ["norm/mean", "norm/variance", "norm/count"]
    assert [w.dtype for w in norm.weights] == [np.float32, np.float32, np.int64]
    assert norm.trainable_weights == []
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(norm.adapt_mean.numpy(), x64.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(norm.adapt_variance.numpy(), x64.var(0), rtol=1e-6)
    y = norm(x).numpy()
    np.testing.assert_allclose(y, (x64 - x64.mean(0)) / x64.std(0), atol=1e-5)
    assert y.dtype == np.float32


@pytest.mark.parametrize("axis,keep", [(None, ()), ((1, 2), (1, 2)), (1, (1,)), ((0, -1), (0, 3))])
def test_normalization_axes(axis, keep):
    x = rng.standard_normal((5, 3, 4, 2)).astype(np.float32) * 3 + 1
    norm = Normalization(axis=axis)
    norm.adapt(x)
    red = tuple(d for d in range(4) if d not in keep)
    np.testing.assert_allclose(norm.adapt_mean.numpy(), x.astype(np.float64).mean(red), atol=1e-5)
    np.testing.assert_allclose(norm.adapt_variance.numpy(), x.astype(np.float64).var(red), rtol=1e-5)
    assert norm.adapt_mean.shape == tuple(x.shape[d] for d in keep)


def test_normalization_adapt_in_chunks_and_from_datasets():
    x = (rng.standard_normal((1000, 3)) * 5 + 100).astype(np.float32)
    ref_m, ref_v = x.astype(np.float64).mean(0), x.astype(np.float64).var(0)
    n1 = Normalization()
    n1.build(x.shape)
    from core.layers.preprocessing import _Moments
    m = _Moments()
    n1._adapt_array(m, x, chunk_elems=61)  # many unequal chunks merged
    np.testing.assert_allclose(m.result()[0], ref_m, rtol=1e-12)
    np.testing.assert_allclose(m.result()[1], ref_v, rtol=1e-9)
    for data in (Dataset.from_tensor_slices(x).batch(64), Dataset.from_tensor_slices(x),
                 Dataset.from_tensor_slices((x, np.zeros(1000))).batch(100), [x[:300], x[300:]],
                 (b for b in np.array_split(x, 7)), Tensor(x)):
        n = Normalization()
        n.adapt(data)
        np.testing.assert_allclose(n.adapt_mean.numpy(), ref_m, rtol=1e-6)
        np.testing.assert_allclose(n.adapt_variance.numpy(), ref_v, rtol=1e-5)


def test_normalization_given_stats_epsilon_rule_and_invert():
    x = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]], np.float32)
    norm = Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    y = norm(x).numpy()
    np.testing.assert_allclose(y, [[0, 0, 0], [2, 2, 2]], atol=1e-6)
    assert norm.weights == []
    inv = Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0], invert=True)
    np.testing.assert_allclose(inv(Tensor(y)).numpy(), x, atol=1e-6)
    zero_var = Normalization(mean=2.0, variance=0.0)  # Keras: divide by max(sqrt(var), 1e-7)
    np.testing.assert_allclose(zero_var(np.ones((1, 2), np.float32)).numpy(), [[-1e7, -1e7]], rtol=1e-6)
    cfg = norm.get_config()
    assert cfg["mean"] == [1.0, 2.0, 3.0] and cfg["axis"] == (-1,) and cfg["invert"] is False
    _round_trip(norm, x)


def test_normalization_round_trip_after_adapt_and_errors():
    x = rng.standard_normal((20, 3)).astype(np.float32)
    norm = Normalization()
    norm.adapt(x)
    assert norm.get_config()["mean"] is None
    _round_trip(norm, x)
    assert norm(np.ones((2, 5, 3), np.float32)).shape == (2, 5, 3)  # statistics broadcast
    with pytest.raises(ValueError, match=r"data.shape=\(4, 5\)"):
        norm.adapt(np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        norm(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="empty"):
        Normalization().adapt([])
    with pytest.raises(TypeError, match="Unsupported"):
        Normalization().adapt(3.0)


# --------------------------------------------------------------------------- Resizing
@pytest.mark.parametrize("case", case_params("image", op="resizing_layer"))
def test_resizing_layer_uint8_matches_keras(case):
    p = case.params
    y = Resizing(p["height"], p["width"], interpolation=p["interpolation"])(case.arrays["x"])
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(y.numpy(), case.arrays["y"])


@pytest.mark.parametrize("case", case_params("image", op="resize"))
def test_resizing_layer_matches_tensorflow(case):
    p = case.params
    layer = Resizing(*p["size"], interpolation=p["interpolation"],
                     crop_to_aspect_ratio=p.get("crop_to_aspect_ratio", False),
                     pad_to_aspect_ratio=p.get("pad_to_aspect_ratio", False), fill_value=p.get("fill_value", 0.0),
                     data_format=p.get("data_format"))
    y = layer(case.arrays["x"])
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], atol=1e-5)
    assert y.shape == layer.compute_output_shape(case.arrays["x"].shape)


def test_resizing_config_symbolic_and_errors():
    layer = Resizing(5, 6, interpolation="nearest", crop_to_aspect_ratio=True, name="rs")
    x = _imgs(2, 9, 7, 3)
    assert layer(x).shape == (2, 5, 6, 3)
    cfg = layer.get_config()
    assert {"height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_mode",
            "fill_value", "antialias", "data_format"} <= set(cfg)
    _round_trip(layer, x)
    assert layer(_imgs(1, 4, 4, 3)).shape == (1, 5, 6, 3)  # any input size after the first call
    assert Resizing(3, 4)(Input((None, None, 3))).shape == (None, 3, 4, 3)
    with pytest.raises(ValueError, match="interpolation"):
        Resizing(3, 3, interpolation="cubic")
    with pytest.raises(ValueError, match="rank 3"):
        Resizing(3, 3)(_imgs(2, 4))
    with pytest.raises(NotImplementedError, match="antialias"):
        Resizing(3, 3, antialias=True)


# --------------------------------------------------------------------------- random image layers
def test_random_flip_inference_identity_and_training_per_image():
    x = _imgs(64, 3, 4, 2)
    flip = RandomFlip("horizontal", seed=0)
    np.testing.assert_array_equal(flip(x, training=False).numpy(), x)
    y = flip(x, training=True).numpy()
    same = (y == x).reshape(64, -1).all(1)
    flipped = (y == x[:, :, ::-1]).reshape(64, -1).all(1)
    assert (same | flipped).all() and 10 < flipped.sum() < 54  # one draw per image
    hv = RandomFlip(seed=1)(x, training=True).numpy()
    both = (hv == x[:, ::-1, ::-1]).reshape(64, -1).all(1)
    assert ((hv == x).reshape(64, -1).all(1) | both).all() and both.any()  # Keras: same draw for both axes
    v = RandomFlip("vertical", seed=2)(x, training=True).numpy()
    assert ((v == x).reshape(64, -1).all(1) | (v == x[:, ::-1]).reshape(64, -1).all(1)).all()


def test_random_layers_default_to_training_standalone_but_not_in_predict():
    x = _imgs(16, 4, 4, 1)
    assert not np.array_equal(RandomFlip(seed=0)(x).numpy(), x)
    assert RandomCrop(2, 2, seed=0)(x).shape == (16, 2, 2, 1)
    model = Sequential([Input((4, 4, 1)), RandomFlip(seed=0), RandomRotation(0.3, seed=0)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_random_layers_repeatable_with_set_random_seed_and_seed():
    x = _imgs(8, 5, 6, 3)
    outs = []
    for _ in range(2):
        set_random_seed(123)
        outs.append([RandomFlip()(x, training=True).numpy(), RandomRotation(0.2)(x, training=True).numpy(),
                     RandomCrop(3, 4)(x, training=True).numpy()])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    r1, r2 = RandomRotation(0.25, seed=9), RandomRotation(0.25, seed=9)
    np.testing.assert_array_equal(r1(x, training=True).numpy(), r2(x, training=True).numpy())


def test_random_crop_training_inference_and_small_inputs():
    x = _imgs(4, 10, 12, 2)
    crop = RandomCrop(4, 5, seed=3)
    y = crop(x, training=True).numpy()
    assert y.shape == (4, 4, 5, 2) == crop.compute_output_shape(x.shape)
    hits = [(i, j) for i in range(7) for j in range(8) if np.array_equal(x[:, i:i + 4, j:j + 5], y)]
    assert len(hits) == 1  # one window, shared by the batch (Keras 3)
    np.testing.assert_array_equal(crop(x, training=False).numpy(), x)  # Keras 3: identity at inference
    small = _imgs(2, 3, 8, 1)
    z = crop(small, training=True).numpy()
    from core.ops.image import resize
    # centre crop to the 4:5 aspect ratio (3 x 3 at w_start 2), then bilinear resize
    np.testing.assert_allclose(z, resize(Tensor(small[:, :, 2:5]), (4, 5)).numpy(), atol=1e-6)
    cfg = crop.get_config()
    assert cfg["seed"] == 3 and {"height", "width", "seed", "data_format"} <= set(cfg)
    assert isinstance(RandomCrop(2, 2).get_config()["seed"], int)  # as Keras: a drawn default seed


def test_random_rotation_behaviour_and_config():
    x = _imgs(6, 7, 7, 2)
    rot = RandomRotation(0.2, seed=4)
    np.testing.assert_array_equal(rot(x, training=False).numpy(), x)
    np.testing.assert_allclose(RandomRotation(0.0)(x, training=True).numpy(), x, atol=1e-6)
    np.testing.assert_allclose(RandomRotation((0.5, 0.5), fill_mode="constant")(x, training=True).numpy(),
                               x[:, ::-1, ::-1], atol=1e-5)
    same = np.repeat(x[:1], 6, axis=0)
    y = rot(same, training=True).numpy()
    assert len({y[i].tobytes() for i in range(6)}) == 6  # one angle per image
    u8 = rng.integers(0, 255, (2, 5, 5, 1)).astype(np.uint8)
    assert RandomRotation(0.1)(u8, training=False).dtype == np.float32
    cfg = RandomRotation(0.3, fill_mode="constant", fill_value=0.5, interpolation="nearest", seed=2).get_config()
    assert cfg["factor"] == (-0.3, 0.3)
    clone = RandomRotation.from_config(cfg)
    assert clone.get_config() == cfg
    np.testing.assert_array_equal(clone(x, training=True).numpy(),
                                  RandomRotation.from_config(cfg)(x, training=True).numpy())
    with pytest.raises(ValueError, match="factor"):
        RandomRotation(1.5)
    with pytest.raises(NotImplementedError, match="fill_mode"):
        RandomRotation(0.1, fill_mode="mirror")


def test_random_layers_channels_first_unbatched_and_gradients():
    x = _imgs(2, 3, 5, 5)
    y = RandomRotation((0.25, 0.25), data_format="channels_first", fill_mode="constant")(x, training=True).numpy()
    np.testing.assert_allclose(y, np.rot90(x, k=1, axes=(2, 3)), atol=1e-5)  # +90 degrees as TF rotates
    assert RandomFlip()(_imgs(5, 4, 3), training=True).shape == (5, 4, 3)
    assert RandomRotation(0.1)(_imgs(5, 4, 3), training=True).shape == (5, 4, 3)
    t = Tensor(_imgs(2, 4, 4, 1), requires_grad=True)
    RandomRotation(0.1, seed=0)(t, training=True).sum().backward()
    assert t.grad is not None and t.grad.shape == t.shape
    cfg = RandomFlip("vertical", seed=5).get_config()
    assert cfg["mode"] == "vertical" and cfg["seed"] == 5 and cfg["data_format"] == "channels_last"
    with pytest.raises(ValueError, match="mode"):
        RandomFlip("diagonal")
    with pytest.raises(ValueError, match="rank 3"):
        RandomFlip()(_imgs(2, 3), training=True)
