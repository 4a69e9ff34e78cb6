"""``model.freeze()`` freezes every layer, the head too: ``fit`` then warns as Keras does ("The
model does not have any trainable weights."); ``freeze(until=head)`` keeps the head trainable."""
import warnings

import numpy as np
import pytest

from core import layers as L
from core.models import Sequential


def small_model():
    m = Sequential([L.Input((3,)), L.Dense(4, activation="relu", name="body"), L.Dense(2, name="head")])
    m.compile(optimizer="sgd", loss="mse")
    return m


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)


def test_freeze_all_warns_and_trains_nothing():
    m = small_model()
    m.freeze()
    before = [w.copy() for w in m.get_weights()]
    with pytest.warns(UserWarning, match="The model does not have any trainable weights."):
        m.fit(*data(), epochs=1, verbose=0)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_freeze_until_head_trains_the_head_without_warning():
    m = small_model()
    m.freeze(until="head")
    assert [l.trainable for l in m.layers] == [False, True]
    body_before = m.get_layer("body").get_weights()[0].copy()
    head_before = m.get_layer("head").get_weights()[0].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(*data(), epochs=1, verbose=0)
    np.testing.assert_array_equal(body_before, m.get_layer("body").get_weights()[0])
    assert not np.array_equal(head_before, m.get_layer("head").get_weights()[0])
