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
