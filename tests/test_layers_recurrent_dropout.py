"""LSTM / GRU / SimpleRNN trained with ``recurrent_dropout`` against Keras 3.15 (the ``rd_*`` cases of
tests/fixtures/catalog_layers.*): with the same per-gate dropout masks set on the cell, outputs,
states and one training step's gradients match; plus mask sharing across steps, inference, the
generic RNN path and a finite-difference check of the per-step path."""
import numpy as np
import pytest

from core import layers as L
from core.autodiff import Tensor
from core.gradient_check import check_gradients
from tests.fixture_utils import load_cases

CASES = [c for c in load_cases("catalog_layers") if c.params.get("recurrent_dropout_case")]
PARAMS = [pytest.param(c, id=c.name) for c in CASES] or [pytest.param(None, marks=pytest.mark.skip("no fixtures"))]


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def make(case, dtype="float64"):
    p = case.params
    layer = getattr(L, p["op"])(**p["config"], name=p["layer_name"], dtype=dtype)
    x = case.arrays["x"].astype(dtype)
    layer.build((None,) + x.shape[1:])
    layer.set_weights([case.arrays[f"w{i}"].astype(dtype) for i in range(len(p["paths"]))])
    return layer, x


def _preset(layer, case, dtype):
    a = case.arrays
    dms = [a[k].astype(dtype) for k in sorted(k for k in a if k.startswith("dm"))]
    rms = [a[k].astype(dtype) for k in sorted(k for k in a if k.startswith("rm"))]
    layer.cell._dropout_mask = dms or None
    layer.cell._recurrent_dropout_mask = rms


@pytest.mark.parametrize("case", PARAMS)
def test_training_step_matches_keras(case):
    layer, x = make(case)
    assert [w.path for w in layer.weights] == case.params["paths"]
    _preset(layer, case, np.float64)
    xt = Tensor(x, requires_grad=True)
    outs = _flat(layer(xt, training=True, mask=case.arrays.get("mask")))
    assert len(outs) == case.params["n_outputs"]
    loss = None
    for i, o in enumerate(outs):
        np.testing.assert_allclose(o.numpy(), case.arrays[f"y{i}"], rtol=1e-10, atol=1e-12, err_msg=f"output {i}")
        term = (o * Tensor(case.arrays[f"r{i}"].astype(np.float64))).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    np.testing.assert_allclose(xt.grad, case.arrays["gx"], rtol=1e-9, atol=1e-11)
    for i, w in enumerate(layer.trainable_weights):
        np.testing.assert_allclose(w.grad, case.arrays[f"g{i}"], rtol=1e-9, atol=1e-11, err_msg=w.path)
    assert layer.cell._recurrent_dropout_mask is None  # reset after the sequence, as Keras


@pytest.mark.parametrize("case", PARAMS)
def test_float32_and_inference_ignore_recurrent_dropout(case):
    layer, x = make(case, "float32")
    _preset(layer, case, np.float32)
    y = _flat(layer(x, training=True, mask=case.arrays.get("mask")))[0]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), case.arrays["y0"], rtol=1e-4, atol=1e-5)
    cfg = dict(case.params["config"], recurrent_dropout=0.0, dropout=0.0)
    plain = getattr(L, case.params["op"])(**cfg, dtype="float32")
    plain.build((None,) + x.shape[1:])
    plain.set_weights(layer.get_weights())
    for a, b in zip(_flat(layer(x, mask=case.arrays.get("mask"))), _flat(plain(x, mask=case.arrays.get("mask")))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("cls,gates", [(L.LSTM, 4), (L.GRU, 3), (L.SimpleRNN, 1)])
def test_masks_drawn_once_per_sequence_per_gate(cls, gates):
    layer = cls(3, recurrent_dropout=0.5, dropout=0.5, seed=1, return_sequences=True)
    x = np.random.default_rng(0).standard_normal((4, 6, 2)).astype(np.float32)
    layer(x)
    seen = []
    orig = layer.cell.get_recurrent_dropout_mask

    def spy(state):
        m = orig(state)
        seen.append(m)
        return m

    layer.cell.get_recurrent_dropout_mask = spy
    a = layer(x, training=True).numpy()
    b = layer(x, training=True).numpy()
    assert len(seen) == 2 and len(seen[0]) == gates and not np.array_equal(a, b)
    vals = np.unique(np.concatenate([m.ravel() for m in seen[0]]))
    np.testing.assert_allclose(vals, [0.0, 2.0])


@pytest.mark.parametrize("cell", [lambda: L.LSTMCell(3, recurrent_dropout=0.4, dropout=0.2, seed=3),
                                  lambda: L.GRUCell(3, recurrent_dropout=0.4, seed=3, reset_after=False)])
def test_generic_rnn_with_builtin_cell_matches_the_layer(cell):
    """RNN(cell) steps the cell; the layer runs the same per-step path: with the same masks, same numbers."""
    c = cell()
    rnn = L.RNN(c, return_sequences=True)
    x = np.random.default_rng(2).standard_normal((2, 5, 3))
    rnn(x.astype(np.float32))
    if isinstance(c, L.LSTMCell):
        layer = L.LSTM(3, recurrent_dropout=0.4, dropout=c.dropout, return_sequences=True)
    else:
        layer = L.GRU(3, recurrent_dropout=0.4, dropout=c.dropout, reset_after=c.reset_after, return_sequences=True)
    layer(x.astype(np.float32))
    layer.set_weights(rnn.get_weights())
    rng = np.random.default_rng(4)
    dms = [(rng.random((2, 3)) > 0.2).astype(np.float32) / 0.8 for _ in range(c._gates)] if c.dropout else None
    rms = [(rng.random((2, 3)) > 0.4).astype(np.float32) / 0.6 for _ in range(c._gates)]
    for m in (c, layer.cell):
        m._dropout_mask, m._recurrent_dropout_mask = (list(dms) if dms else None), list(rms)
    np.testing.assert_allclose(rnn(x.astype(np.float32), training=True).numpy(),
                               layer(x.astype(np.float32), training=True).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,kw", [(L.LSTM, {}), (L.GRU, {}), (L.GRU, {"reset_after": False}), (L.SimpleRNN, {})])
def test_per_step_path_gradients(cls, kw):
    rng = np.random.default_rng(0)
    layer = cls(2, recurrent_dropout=0.5, dropout=0.3, dtype="float64", return_sequences=True, **kw)
    x = rng.standard_normal((2, 3, 2))
    layer(x)
    gates = layer.cell._gates
    dms = [(rng.random((2, 2)) > 0.3) / 0.7 for _ in range(gates)]
    rms = [(rng.random((2, 2)) > 0.5) / 0.5 for _ in range(gates)]
    weights = [w.numpy() for w in layer.trainable_weights]
    names = ["kernel", "recurrent_kernel", "bias"]

    def fn(xt, *ws):
        old = [getattr(layer.cell, n) for n in names]
        for n, w in zip(names, ws):
            object.__setattr__(layer.cell, n, w)
        layer.cell._dropout_mask, layer.cell._recurrent_dropout_mask = list(dms), list(rms)
        try:
            return layer(xt, training=True)
        finally:
            for n, w in zip(names, old):
                object.__setattr__(layer.cell, n, w)

    check_gradients(fn, [x] + weights)
