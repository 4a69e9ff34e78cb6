"""TimeDistributed: Keras 3.15 fixtures (family ``rnn_layers``: TimeDistributed(Dense) on rank-3
and rank-4 inputs), weight paths, shapes, masks, symbolic calls, config, gradients, errors."""
import json

import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.layers import Dense, Input
from core.layers.base import clear_session
from core.layers.recurrent import LSTM
from core.layers.wrappers import TimeDistributed
from tests.fixture_utils import case_params

RTOL, ATOL = 1e-5, 1e-6
rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


TD_CASES = [c for c in case_params("rnn_layers") if c.values[0] is None
            or c.values[0].params["layer"] == "TimeDistributed"]


@pytest.mark.parametrize("case", TD_CASES)
def test_keras_fixture(case):
    p, a = case.params, case.arrays
    layer = TimeDistributed(Dense(**p["inner"][1]))
    x = a["x"]
    layer.build((None,) + x.shape[1:])
    assert [w.path for w in layer.weights] == p["weight_paths"]
    assert [list(w.shape) for w in layer.weights] == p["weight_shapes"]
    layer.set_weights([a["w0"], a["w1"]])
    y = layer(x)
    assert y.dtype == np.float32 and list(y.shape) == p["output_shapes"][0]
    np.testing.assert_allclose(y.numpy(), a["out0"], rtol=RTOL, atol=ATOL)
    assert list(layer.compute_output_shape((None,) + x.shape[1:])) == p["compute_output_shape"]
    cfg = layer.get_config()
    json.dumps(cfg)
    assert cfg["layer"]["class_name"] == "Dense" and cfg["layer"]["config"]["units"] == p["inner"][1]["units"]
    clone = TimeDistributed.from_config(json.loads(json.dumps(cfg)))
    clone.build((None,) + x.shape[1:])
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), y.numpy())


def test_equals_the_layer_on_each_time_slice_and_passes_the_mask():
    dense = Dense(3, activation="tanh")
    td = TimeDistributed(dense)
    x = Tensor(rng.standard_normal((2, 4, 5)).astype(np.float32))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    x._keras_mask = Tensor(mask)
    y = td(x)
    for t in range(4):
        np.testing.assert_allclose(y.numpy()[:, t], dense(x.numpy()[:, t]).numpy(), rtol=1e-6)
    assert np.array_equal(np.asarray(y._keras_mask), mask)
    assert [w.path for w in td.weights] == ["time_distributed/dense/kernel", "time_distributed/dense/bias"]


def test_inner_layer_receives_the_flattened_mask():
    """TimeDistributed(LSTM) over (N, T, steps, F) with a (N, T, steps) mask: each slice's LSTM sees
    its own (N, steps) mask."""
    inner = LSTM(2)
    td = TimeDistributed(inner)
    x = rng.standard_normal((2, 3, 4, 2)).astype(np.float32)
    mask = rng.random((2, 3, 4)) < 0.7
    y = td(x, mask=mask)
    assert y.shape == (2, 3, 2)
    for t in range(3):
        np.testing.assert_allclose(y.numpy()[:, t], inner(x[:, t], mask=mask[:, t]).numpy(), rtol=1e-6)


def test_symbolic_call_and_shapes():
    from core.models.functional import Functional

    inp = Input((6, 4))
    out = TimeDistributed(Dense(7))(inp)
    assert out.shape == (None, 6, 7)
    model = Functional(inp, out)
    assert model(np.zeros((3, 6, 4), np.float32)).shape == (3, 6, 7)
    td = TimeDistributed(Dense(2))
    assert td.compute_output_shape((None, 5, 3, 4)) == (None, 5, 3, 2)


def test_gradients():
    layer = TimeDistributed(Dense(2, activation="tanh", dtype="float64"), dtype="float64")
    x = rng.standard_normal((2, 3, 2))
    layer.build((None, 3, 2))
    assert len(layer.trainable_weights) == 2
    check_gradients(layer, [x], params=layer.trainable_weights, atol=1e-7)


def test_errors():
    with pytest.raises(ValueError, match="Layer instance"):
        TimeDistributed("dense")
    with pytest.raises(ValueError, match="rank >= 3"):
        TimeDistributed(Dense(2))(np.zeros((2, 3), np.float32))
    td = TimeDistributed(LSTM(2))
    with pytest.raises(ValueError, match="mask must have shape"):
        td(np.zeros((2, 3, 4, 2), np.float32), mask=np.ones((3, 3), bool))
