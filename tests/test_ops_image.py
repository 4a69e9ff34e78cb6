"""core.ops.image: resize and affine_transform vs TensorFlow fixtures, gradients, dtypes, errors."""
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops import image as im
from tests.fixture_utils import case_params

rng = np.random.default_rng(3)


@pytest.mark.parametrize("case", case_params("image", op="resize"))
def test_resize_matches_tensorflow(case):
    p = case.params
    y = im.resize(Tensor(case.arrays["x"]), p["size"], interpolation=p["interpolation"],
                  crop_to_aspect_ratio=p.get("crop_to_aspect_ratio", False),
                  pad_to_aspect_ratio=p.get("pad_to_aspect_ratio", False), fill_value=p.get("fill_value", 0.0),
                  data_format=p.get("data_format", "channels_last"))
    ref = case.arrays["y"]
    assert y.shape == ref.shape and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("case", case_params("image", op="affine_transform"))
def test_affine_transform_matches_tensorflow(case):
    p = case.params
    y = im.affine_transform(Tensor(case.arrays["x"]), case.arrays["transform"], interpolation=p["interpolation"],
                            fill_mode=p["fill_mode"], fill_value=p["fill_value"])
    ref = case.arrays["y"]
    assert y.shape == ref.shape and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-5, rtol=0)


def test_resize_same_size_bilinear_and_nearest_are_identity():
    x = rng.random((2, 5, 6, 3), dtype=np.float32)
    for interp in ("bilinear", "nearest", "area", "bicubic"):
        np.testing.assert_allclose(im.resize(Tensor(x), (5, 6), interpolation=interp).numpy(), x, atol=1e-6)


def test_resize_integer_images_give_float32_and_float64_stays_float64():
    u8 = rng.integers(0, 256, (1, 4, 4, 1)).astype(np.uint8)
    assert im.resize(Tensor(u8), (2, 2)).dtype == np.float32
    x64 = rng.random((1, 4, 4, 1))
    assert im.resize(Tensor(x64), (3, 3)).dtype == np.float64


@pytest.mark.parametrize("interp", ["bilinear", "nearest", "bicubic", "area"])
def test_resize_gradients(interp):
    x = rng.random((2, 5, 4, 2))
    check_gradients(lambda t: im.resize(t, (7, 3), interpolation=interp), [x])
    check_gradients(lambda t: im.resize(t, (3, 6), interpolation=interp, crop_to_aspect_ratio=True), [x])


@pytest.mark.parametrize("interp", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_affine_gradients(interp, fill_mode):
    x = rng.random((2, 4, 5, 2))
    t = np.stack([im.rotation_matrix([33.0], 4, 5)[0], np.array([1.1, 0.3, -0.7, -0.2, 0.9, 0.4, 0, 0])])
    check_gradients(lambda a: im.affine_transform(a, t, interpolation=interp, fill_mode=fill_mode,
                                                  fill_value=0.3), [x])


def test_affine_identity_and_unbatched_and_channels_first():
    x = rng.random((2, 5, 6, 3), dtype=np.float32)
    ident = np.array([1, 0, 0, 0, 1, 0, 0, 0], np.float32)
    np.testing.assert_array_equal(im.affine_transform(Tensor(x), ident).numpy(), x)
    np.testing.assert_array_equal(im.affine_transform(Tensor(x[0]), ident).numpy(), x[0])
    rot = im.rotation_matrix([20.0, -50.0], 5, 6)
    last = im.affine_transform(Tensor(x), rot).numpy()
    first = im.affine_transform(Tensor(x.transpose(0, 3, 1, 2)), rot, data_format="channels_first").numpy()
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, atol=1e-6)


def test_rotation_matrix_180_reverses_both_axes():
    x = rng.random((1, 5, 7, 2), dtype=np.float32)
    y = im.affine_transform(Tensor(x), im.rotation_matrix([180.0], 5, 7), fill_mode="reflect").numpy()
    np.testing.assert_allclose(y, x[:, ::-1, ::-1], atol=1e-5)


def test_errors_name_the_problem():
    x = Tensor(np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(OpError, match="interpolation"):
        im.resize(x, (2, 2), interpolation="cubic")
    with pytest.raises(NotImplementedError, match="lanczos3"):
        im.resize(x, (2, 2), interpolation="lanczos3")
    with pytest.raises(NotImplementedError, match="antialias"):
        im.resize(x, (2, 2), antialias=True)
    with pytest.raises(OpError, match="rank 3"):
        im.resize(Tensor(np.zeros((4, 4), np.float32)), (2, 2))
    with pytest.raises(OpError, match="size"):
        im.resize(x, (2, 0))
    with pytest.raises(OpError, match="only one of"):
        im.resize(x, (2, 3), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(OpError, match=r"\(8,\) or \(N, 8\)"):
        im.affine_transform(x, np.zeros(6))
    with pytest.raises(OpError, match="3 rows for a batch of 2"):
        im.affine_transform(x, np.zeros((3, 8)))
    with pytest.raises(OpError, match="fill_mode"):
        im.affine_transform(x, np.zeros(8), fill_mode="mirror")
