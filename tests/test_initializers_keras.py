"""core.initializers carries keras.initializers' public names (tests/fixtures/initializers.json,
made by make_initializers_fixture.py) and STFT kernels equal to Keras 3.15.1's."""
import json
import os

import numpy as np
import pytest

from core import initializers as I

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "initializers")
with open(FIX + ".json") as _f:
    META = json.load(_f)
with np.load(FIX + ".npz") as _z:
    REF = {k: _z[k] for k in _z.files}


def test_every_keras_initializer_name_is_present():
    missing = [n for n in META["names"] if not hasattr(I, n)]
    assert missing == [] or set(missing) <= {"deserialize"}, missing  # (deserialize: the registry's)
    for lower, cls in (("glorot_uniform", "GlorotUniform"), ("orthogonal", "Orthogonal"), ("zeros", "Zeros"),
                       ("he_normal", "HeNormal"), ("stft", "STFT")):
        assert getattr(I, lower) is getattr(I, cls)  # as Keras: the lowercase names are the classes
    assert I.OrthogonalInitializer is I.Orthogonal and I.IdentityInitializer is I.Identity
    assert isinstance(I.get("stft"), I.STFT) and isinstance(I.get("OrthogonalInitializer"), I.Orthogonal)
    assert I.glorot_uniform(seed=1)((3, 4)).shape == (3, 4)


@pytest.mark.parametrize("i", range(6))
def test_stft_matches_keras(i):
    kw = META["stft_cases"][i]
    out = I.STFT(**kw)((9, 2, 5))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, REF[f"stft/{i}"], rtol=1e-5, atol=1e-6)
    again = I.STFT(**I.STFT(**kw).get_config())
    np.testing.assert_array_equal(again((9, 2, 5)), out)


def test_identity_and_stft_errors():
    np.testing.assert_array_equal(I.Identity(gain=2.0)((3, 5)), REF["identity"])
    with pytest.raises(NotImplementedError, match="blackman"):
        I.STFT(window="blackman")
    with pytest.raises(ValueError, match="side"):
        I.STFT(side="both")
    with pytest.raises(ValueError, match="frame_length"):
        I.STFT(window=np.ones(4))((9, 1, 5))


# --------------------------------------------------------------------------- chunked draws
def _one_draw(init, shape, dtype):
    """What the random initializers computed before drawing a chunk at a time: one float64 draw of
    the whole shape (the truncated normal re-drawn in place), then the cast."""
    gen = np.random.default_rng(init.seed)

    def truncated(stddev):
        out = gen.normal(0.0, 1.0, shape)
        bad = np.abs(out) > 2
        while bad.any():
            out[bad] = gen.normal(0.0, 1.0, int(bad.sum()))
            bad = np.abs(out) > 2
        return out * stddev

    if isinstance(init, I.TruncatedNormal):
        return (init.mean + truncated(init.stddev)).astype(dtype)
    if isinstance(init, I.RandomUniform):
        return gen.uniform(init.minval, init.maxval, shape).astype(dtype)
    if isinstance(init, I.VarianceScaling):
        fan_in, fan_out = I.compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[init.mode]
        scale = init.scale / max(1.0, n)
        if init.distribution == "truncated_normal":
            return truncated(np.sqrt(scale) / 0.87962566103423978).astype(dtype)
        if init.distribution in ("untruncated_normal", "normal"):
            return gen.normal(0.0, np.sqrt(scale), shape).astype(dtype)
        return gen.uniform(-np.sqrt(3.0 * scale), np.sqrt(3.0 * scale), shape).astype(dtype)
    return gen.normal(init.mean, init.stddev, shape).astype(dtype)


@pytest.mark.parametrize("shape", [(), (7,), (3, 3, 5, 8), (300, 700), (1, 65537)])  # chunks of 2**16
@pytest.mark.parametrize("make", [
    lambda: I.RandomNormal(0.5, 0.2, seed=1), lambda: I.RandomUniform(-0.3, 0.1, seed=2),
    lambda: I.TruncatedNormal(0.1, 0.3, seed=3), lambda: I.TruncatedNormal(0.0, 1.0, seed=4),
    lambda: I.GlorotUniform(seed=5), lambda: I.HeNormal(seed=6), lambda: I.LecunNormal(seed=7),
    lambda: I.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=8)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_chunked_draws_equal_one_draw_of_the_whole_shape(make, shape, dtype):
    """The random initializers draw a chunk at a time (no float64 array of a whole large kernel):
    bit for bit the values of one draw, the truncated normal's re-draws included."""
    init = make()
    got = init(shape, dtype)
    want = _one_draw(init, shape, dtype)
    assert got.shape == want.shape == tuple(shape) and got.dtype == want.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.view(f"u{got.dtype.itemsize}"), want.view(f"u{want.dtype.itemsize}"))
