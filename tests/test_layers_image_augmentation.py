"""CenterCrop, RandomTranslation, RandomZoom, RandomContrast and RandomBrightness against Keras 3.15
(the image cases of tests/fixtures/catalog_preprocessing.*): outputs for the same transformation,
configs; plus the random draws (ranges, one per image, seeded, inference identity) and errors."""
import numpy as np
import pytest

from core import layers as L
from core.autodiff import Tensor
from core.models import Sequential
from tests.fixture_utils import case_params

CASES = case_params("catalog_preprocessing", op=["CenterCrop", "RandomTranslation", "RandomZoom", "RandomContrast",
                                                 "RandomBrightness", "RandomErasing", "MixUp", "CutMix"])


def _make(case):
    return getattr(L, case.params["op"])(**case.params["config"])


@pytest.mark.parametrize("case", CASES)
def test_matches_keras(case):
    layer = _make(case)
    x = case.arrays["x"]
    t = {k[2:]: v for k, v in case.arrays.items() if k.startswith("t_")}
    y = layer(x) if not t else layer.transform_images(Tensor(x), t, training=True)
    assert y.dtype == np.float32 and y.shape == case.arrays["y"].shape
    np.testing.assert_allclose(y.numpy(), case.arrays["y"], rtol=1e-5, atol=1e-3)
    assert tuple(layer.compute_output_shape(x.shape)) == case.arrays["y"].shape
    if "labels" in case.arrays:
        got = layer.transform_labels(case.arrays["labels"], t, training=True)
        np.testing.assert_allclose(np.asarray(got.numpy()), case.arrays["y_labels"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_config_matches_keras(case):
    layer = _make(case)
    cfg = layer.get_config()
    want = case.params["keras_config"]
    assert set(cfg) - {"dtype"} == set(want) - {"dtype"}
    for k, v in want.items():
        if k != "name":
            got = cfg[k]
            assert (list(got) if isinstance(got, tuple) else got) == v, k
    assert type(layer).from_config(cfg).get_config() == cfg


@pytest.mark.parametrize("make,key,lo,hi", [
    (lambda: L.RandomTranslation((-0.2, 0.1), 0.3, seed=1), "translations", None, None),
    (lambda: L.RandomZoom((-0.3, 0.2), seed=1), "height_zoom", 0.7, 1.2),
    (lambda: L.RandomContrast(0.4, seed=1), "contrast_factor", 1.0, 1.4),
    (lambda: L.RandomBrightness((-0.1, 0.3), value_range=(0, 1), seed=1), "rgb_delta", -0.1, 0.3),
])
def test_random_draws(make, key, lo, hi):
    layer = make()
    x = np.random.default_rng(0).random((64, 6, 10, 3)).astype(np.float32)
    t = layer.get_random_transformation(x)
    v = np.asarray(t[key])
    assert v.shape[0] == 64 and len(np.unique(v.round(6))) > 32  # one draw per image
    if key == "translations":
        assert np.all((v[:, 1] >= -0.2 * 6) & (v[:, 1] <= 0.1 * 6) & (np.abs(v[:, 0]) <= 0.3 * 10))
    else:
        assert np.all((v >= lo - 1e-6) & (v <= hi + 1e-6))
    a, b = make(), make()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())  # seeded
    assert not np.array_equal(a(x).numpy(), a(x).numpy())  # the generator advances


@pytest.mark.parametrize("layer", [L.RandomTranslation(0.2, 0.2), L.RandomZoom(0.2), L.RandomContrast(0.5),
                                   L.RandomBrightness(0.2)])
def test_inference_is_identity(layer):
    x = (np.random.default_rng(1).random((2, 5, 6, 3)) * 255).astype(np.float32)
    model = Sequential([L.Input((5, 6, 3)), layer])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_zero_transformations_are_identity():
    x = (np.random.default_rng(2).random((2, 5, 6, 3)) * 200).astype(np.float32)
    t = L.RandomTranslation(0.1, 0.1).transform_images(Tensor(x), {"translations": np.zeros((2, 2), np.float32)})
    np.testing.assert_allclose(t.numpy(), x, atol=1e-4)
    z = L.RandomZoom(0.1).transform_images(Tensor(x), {"height_zoom": np.ones((2, 1)), "width_zoom": np.ones((2, 1))})
    np.testing.assert_allclose(z.numpy(), x, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="factor"):
        L.RandomTranslation(1.5, 0.1)
    with pytest.raises(ValueError, match=r"\(-1.0, 1.0\]"):
        L.RandomZoom((-1.0, 0.5))
    with pytest.raises(NotImplementedError, match="fill_mode"):
        L.RandomZoom(0.2, fill_mode="mirror")
    with pytest.raises(ValueError, match="value_range"):
        L.RandomBrightness(0.2, value_range=(0, 1, 2))
    with pytest.raises(ValueError, match="rank 3"):
        L.CenterCrop(2, 2)(np.zeros((4, 4), np.float32))


@pytest.mark.parametrize("make", [lambda: L.MixUp(alpha=0.5, seed=3), lambda: L.CutMix(seed=3)])
def test_mixing_with_labels(make):
    rng = np.random.default_rng(0)
    x = (rng.random((16, 6, 6, 3)) * 255).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    out = make()({"images": x, "labels": y})
    labels = out["labels"].numpy()
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)  # convex mixes of one-hot labels
    assert not np.array_equal(labels, y) and out["images"].shape == x.shape
    a, b = make()({"images": x, "labels": y}), make()({"images": x, "labels": y})
    np.testing.assert_array_equal(a["images"].numpy(), b["images"].numpy())
    model_out = make()({"images": x, "labels": y}, training=False)
    np.testing.assert_array_equal(model_out["images"].numpy(), x)


def test_random_erasing_erases_boxes_within_scale():
    x = np.full((32, 20, 20, 1), 100.0, np.float32)
    out = L.RandomErasing(factor=1.0, scale=(0.1, 0.2), fill_value=0.0, seed=4)(x).numpy()
    erased = (out == 0).mean(axis=(1, 2, 3))
    assert erased.max() <= 0.2 + 0.05 and (erased > 0).sum() >= 8
