"""NaN or infinite sample_weight / class_weight are clear errors before any step (as for x and y),
instead of silently turning every weight into NaN."""
import numpy as np
import pytest

from core import layers as L
from core.models import Sequential


def _model():
    m = Sequential([L.Input((4,)), L.Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4)).astype("float32"), rng.integers(0, 3, n)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_sample_weight_is_refused_everywhere(bad):
    m = _model()
    x, y = _data()
    sw = np.ones(len(x), np.float32)
    sw[5] = bad
    before = m.get_weights()
    for call in (lambda: m.fit(x, y, sample_weight=sw, epochs=1, verbose=0),
                 lambda: m.evaluate(x, y, sample_weight=sw, verbose=0),
                 lambda: m.train_on_batch(x, y, sample_weight=sw),
                 lambda: m.test_on_batch(x, y, sample_weight=sw)):
        with pytest.raises(ValueError, match=r"sample_weight contains NaN or infinite values, first at index \(5,\)"):
            call()
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "heavy", None])
def test_non_finite_class_weight_is_refused(bad):
    m = _model()
    x, y = _data()
    before = m.get_weights()
    cw = {0: 1.0, 1: bad, 2: 2.0}
    with pytest.raises(ValueError, match="class_weight must map classes to finite numbers"):
        m.fit(x, y, class_weight=cw, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class_weight must map classes to finite numbers"):
        m.train_on_batch(x, y, class_weight=cw)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_finite_weights_still_train():
    m = _model()
    x, y = _data()
    h = m.fit(x, y, sample_weight=np.linspace(0.5, 2, len(x)), epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"][0])
    h = m.fit(x, y, class_weight={0: 1, 1: 2, 2: 0.5}, epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"][0])
    assert all(np.isfinite(w).all() for w in m.get_weights())
