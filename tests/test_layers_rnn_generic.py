"""``RNN`` with custom and stacked cells against Keras 3.15 (tests/fixtures/catalog_layers.*, the
``rnn_*`` cases of make_catalog_layer_fixtures.py): outputs and states, masks, go_backwards,
initial states, weight paths, one training step's gradients; configs round trip."""
import numpy as np
import pytest

from core import layers as L
from core import ops
from core.autodiff import Tensor
from core.layers.base import KerasTensor, register_serializable
from core.models import Model
from tests.fixture_utils import case_params

CASES = case_params("catalog_layers", op="RNN")


@register_serializable(package="zoo_fixtures")
class MinimalRNNCell(L.Layer):
    """h = tanh(x K + h R), as the fixture generator's cell."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), "uniform", name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), "uniform", name="recurrent_kernel")

    def call(self, inputs, states):
        return (h := ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel))), [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _flat(v)]
    return [x]


def make(case, dtype="float64"):
    p = case.params
    parts = [q.split("/") for q in p["paths"]]
    stacked = len(p["cells"]) > 1
    names = list(dict.fromkeys(q[2] if stacked else q[1] for q in parts))

    def cell(spec, name):
        cls, kw = spec
        c = MinimalRNNCell if cls == "MinimalRNNCell" else getattr(L, cls)
        return c(**kw, name=name, dtype=dtype)

    cells = [cell(s, n) for s, n in zip(p["cells"], names)]
    c = L.StackedRNNCells(cells, name=parts[0][1], dtype=dtype) if stacked else cells[0]
    layer = L.RNN(c, **p["config"], name=p["layer_name"], dtype=dtype)
    x = case.arrays["x"].astype(dtype)
    layer.build((None,) + x.shape[1:])
    layer.set_weights([case.arrays[f"w{i}"].astype(dtype) for i in range(len(p["paths"]))])
    return layer, x


def _call(layer, case, xt, states=None):
    kw = {}
    if "mask" in case.arrays:
        kw["mask"] = case.arrays["mask"]
    if states:
        kw["initial_state"] = states
    return _flat(layer(xt, training=True, **kw))


@pytest.mark.parametrize("case", CASES)
def test_outputs_states_and_gradients_match_keras(case):
    p = case.params
    layer, x = make(case)
    assert [w.path for w in layer.weights] == p["paths"]
    assert layer.count_params() == p["count_params"]
    xt = Tensor(x, requires_grad=True)
    states = [Tensor(case.arrays[f"s{i}"].astype(np.float64), requires_grad=True) for i in range(p["n_init"])]
    outs = _call(layer, case, xt, states)
    assert len(outs) == p["n_outputs"]
    loss = None
    for i, o in enumerate(outs):
        np.testing.assert_allclose(o.numpy(), case.arrays[f"y{i}"], rtol=1e-10, atol=1e-12, err_msg=f"output {i}")
        term = (o * Tensor(case.arrays[f"r{i}"].astype(np.float64))).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    np.testing.assert_allclose(xt.grad, case.arrays["gx"], rtol=1e-9, atol=1e-11)
    for i, s in enumerate(states):
        np.testing.assert_allclose(s.grad, case.arrays[f"gs{i}"], rtol=1e-9, atol=1e-11)
    for i, w in enumerate(layer.trainable_weights):
        np.testing.assert_allclose(w.grad, case.arrays[f"g{i}"], rtol=1e-9, atol=1e-11, err_msg=w.path)


@pytest.mark.parametrize("case", CASES)
def test_float32_shapes_and_config(case):
    p = case.params
    layer, x = make(case, "float32")
    states = [case.arrays[f"s{i}"] for i in range(p["n_init"])]
    outs = _call(layer, case, Tensor(x), states)
    for i, o in enumerate(outs):
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.numpy(), case.arrays[f"y{i}"], rtol=1e-4, atol=1e-5)
    want = p["output_shape"]
    got = layer.compute_output_shape((None,) + x.shape[1:])
    assert _flat(want) == _flat(got) if not isinstance(want[0], list) else \
        [list(s) for s in _flat_shapes(got)] == [list(s) for s in _flat_shapes(want)]
    cfg = layer.get_config()
    assert sorted(set(cfg) - {"dtype"}) == sorted(set(p["keras_config_keys"]) - {"dtype"})
    clone = L.RNN.from_config(cfg)
    clone.build((None,) + x.shape[1:])
    clone.set_weights(layer.get_weights())
    for a, b in zip(_call(clone, case, Tensor(x), states), outs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _flat_shapes(s):
    if isinstance(s, (list, tuple)) and s and isinstance(s[0], (list, tuple)):
        return [a for v in s for a in _flat_shapes(v)]
    return [s]


def test_rnn_in_functional_model_trains():
    inp = L.Input((None, 3))
    h = L.RNN([MinimalRNNCell(4), L.GRUCell(3)], return_sequences=True)(inp)
    out = L.Dense(1)(L.RNN(MinimalRNNCell(2))(h))
    model = Model(inp, out)
    assert tuple(model.output.shape) == (None, 1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 5, 3)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_rnn_errors():
    class NoState(L.Layer):
        def call(self, inputs, states):
            return inputs, states

    with pytest.raises(ValueError, match="state_size"):
        L.RNN(NoState())
    with pytest.raises(ValueError, match="stateful"):
        L.RNN(MinimalRNNCell(2), stateful=True)
    layer = L.RNN(MinimalRNNCell(2))
    with pytest.raises(ValueError, match="initial_state must hold 1"):
        layer(np.zeros((2, 3, 4), np.float32), initial_state=[np.zeros((2, 2)), np.zeros((2, 2))])
    with pytest.raises(ValueError, match="initial state of shape"):
        layer(np.zeros((2, 3, 4), np.float32), initial_state=[np.zeros((2, 5))])
    assert isinstance(L.RNN(MinimalRNNCell(2))(KerasTensor((None, 3, 4))), KerasTensor)


def test_onnx_export_names_the_layer(tmp_path):
    pytest.importorskip("onnx")
    from core.export import OnnxExportError, export_onnx

    inp = L.Input((4, 3))
    model = Model(inp, L.RNN(MinimalRNNCell(2), name="my_rnn")(inp))
    with pytest.raises(OnnxExportError, match="my_rnn"):
        export_onnx(model, tmp_path / "m.onnx")


def test_conv_lstm2d_trains_with_dropout_and_exports_clear_error(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5, 2)).astype(np.float32)
    inp = L.Input((3, 5, 5, 2))
    h = L.ConvLSTM2D(2, 3, padding="same", dropout=0.2, recurrent_dropout=0.3, seed=1, name="clstm")(inp)
    model = Model(inp, L.Dense(1)(L.Flatten()(h)))
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, rng.standard_normal((4, 1)).astype(np.float32), epochs=1, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    a, b = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(a, b)  # no dropout at inference
    pytest.importorskip("onnx")
    from core.export import OnnxExportError, export_onnx

    with pytest.raises(OnnxExportError, match="clstm"):
        export_onnx(model, tmp_path / "m.onnx")


def test_wrapper_base_for_custom_wrappers():
    @register_serializable(package="zoo_fixtures")
    class Doubler(L.Wrapper):
        def call(self, inputs):
            return self.layer(inputs) * 2.0

    d = Doubler(L.Dense(3, name="inner"), name="doubler")
    x = np.ones((2, 4), np.float32)
    y = d(x).numpy()
    np.testing.assert_allclose(y, 2 * d.layer(x).numpy(), rtol=1e-6)
    assert [w.path for w in d.weights] == ["doubler/inner/kernel", "doubler/inner/bias"]
    clone = Doubler.from_config(d.get_config())
    assert isinstance(clone.layer, L.Dense) and isinstance(L.TimeDistributed(L.Dense(2)), L.Wrapper)
