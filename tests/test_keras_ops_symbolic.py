"""``keras.ops`` on symbolic KerasTensors: graph nodes in Functional models (Keras 3's Operation
design), their static shapes, execution, training, and the get_config / from_config / .h5 round
trips of op nodes."""
import json

import numpy as np
import pytest

from core import Tensor, ops
from core.layers import Dense, Input, KerasTensor, Layer, clear_session
from core.models import Functional, Model, load_model
from core.ops.operation import Operation

rng = np.random.default_rng(3)


def _roundtrip(model, x, tmp_path):
    """predict() of the model, of from_config(get_config()) and of a saved and reloaded .h5 file."""
    want = model.predict(x, verbose=0)
    cfg = json.loads(json.dumps(model.get_config()))
    clone = Functional.from_config(cfg)
    clone.set_weights(model.get_weights())
    path = str(tmp_path / "m.h5")
    model.save(path)
    loaded = load_model(path)
    return want, clone.predict(x, verbose=0), loaded.predict(x, verbose=0)


def test_operators_build_nodes_with_static_shapes():
    x = Input((4,))
    w = rng.standard_normal((4, 3)).astype(np.float32)
    cases = {
        "x + 1": (x + 1, (None, 4)), "1 - x": (1 - x, (None, 4)), "x * 2": (x * 2, (None, 4)),
        "-x": (-x, (None, 4)), "x @ w": (x @ w, (None, 3)), "x[:, 0]": (x[:, 0], (None,)),
        "x[:, None, 1:3]": (x[:, None, 1:3], (None, 1, 2)), "x / x": (x / x, (None, 4)), "x ** 2": (x ** 2, (None, 4)),
        "abs(x)": (abs(x), (None, 4)), "w.T @ x.T": (w.T @ ops.transpose(x), (3, None)),
        "np + x": (np.ones(4, np.float32) + x, (None, 4)), "x // 2": (x // 2, (None, 4)), "x % 2": (x % 2, (None, 4)),
    }
    for name, (t, shape) in cases.items():
        assert isinstance(t, KerasTensor), name
        assert t.shape == shape, (name, t.shape)
        assert t.dtype == "float32", name
        assert isinstance(t._history[0].operation, Operation), name
    assert (x > 0).dtype == bool and (x <= 1).shape == (None, 4) and (x != 0).dtype == bool
    assert x.ndim == 2 and ops.shape(x) == (None, 4) and ops.ndim(x) == 2 and ops.dtype(x) == "float32"
    with pytest.raises(TypeError, match="no truth value"):
        bool(x > 0)
    with pytest.raises(TypeError, match="cannot be converted to a NumPy array"):
        np.asarray(x)


def test_ops_on_symbolic_tensors_infer_shapes():
    x = Input((5, 6))
    ids = Input((3,), dtype="int32")
    sq = Input((3, 3))
    assert ops.one_hot(ids, 7).shape == (None, 3, 7)
    vals, idx = ops.top_k(x, 2)
    assert vals.shape == (None, 5, 2) and idx.dtype == np.int32
    parts = ops.unstack(x, axis=1)
    assert isinstance(parts, list) and len(parts) == 5 and parts[0].shape == (None, 6)
    assert ops.reshape(x, (-1, 30)).shape == (None, 30)
    assert ops.transpose(x).shape == (6, 5, None)
    assert ops.einsum("btd,bsd->bts", x, x).shape == (None, 5, 5)
    assert ops.linalg.inv(sq).shape == (None, 3, 3)  # identity matrices probe an op zeros would break
    assert ops.linalg.cholesky(sq).shape == (None, 3, 3)
    assert ops.quantile(x, 0.5, axis=1).shape == (None, 6)
    assert ops.conv(x, np.ones((3, 6, 4), np.float32), padding="same").shape == (None, 5, 4)
    q = Input((4, 2, 8))
    assert ops.dot_product_attention(q, q, q, is_causal=True).shape == (None, 4, 2, 8)
    assert ops.where(x > 0, x, 0.0).shape == (None, 5, 6)
    assert ops.sum(x, axis=(1, 2)).shape == (None,)
    assert ops.image.resize(Input((8, 8, 3)), (4, 5)).shape == (None, 4, 5, 3)
    assert ops.concatenate([x, x], axis=-1).shape == (None, 5, 12)
    assert ops.cast(x, "int32").dtype == np.int32


def test_functional_model_with_ops_runs_trains_and_round_trips(tmp_path):
    clear_session()
    inp = Input((4,))
    h = Dense(6, activation="relu")(inp)
    y = ops.add(h, 1.0)
    y = ops.concatenate([y * 0.5, ops.expand_dims(inp[:, 0], -1), ops.sum(h, axis=-1, keepdims=True)], axis=-1)
    y = ops.softmax(ops.log1p(ops.abs(y)) - ops.max(y, axis=-1, keepdims=True))
    out = Dense(2)(ops.reshape(y, (-1, 8)))
    model = Model(inp, out)
    assert [l.name for l in model.layers] == ["input_layer", "dense", "dense_1"]  # Layers only, as Keras
    assert all(isinstance(l, Layer) for l in model.layers)
    assert {"add", "get_item", "concatenate", "softmax", "reshape"} <= {o.name for o in model.operations}
    x = rng.standard_normal((5, 4)).astype(np.float32)
    # the same computation eagerly
    k1, b1, k2, b2 = model.get_weights()
    hh = np.maximum(x @ k1 + b1, 0)
    yy = np.concatenate([(hh + 1) * 0.5, x[:, :1], hh.sum(-1, keepdims=True)], -1)
    z = np.log1p(np.abs(yy)) - yy.max(-1, keepdims=True)
    sm = np.exp(z - z.max(-1, keepdims=True))
    sm /= sm.sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), sm @ k2 + b2, rtol=1e-5, atol=1e-6)
    want, from_cfg, from_file = _roundtrip(model, x, tmp_path)
    np.testing.assert_array_equal(from_cfg, want)
    np.testing.assert_array_equal(from_file, want)
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(x, rng.standard_normal((5, 2)).astype(np.float32), epochs=2, verbose=0)
    assert not np.allclose(model.get_weights()[0], before)  # gradients flow through the op nodes


def test_op_configs_keep_indices_slices_and_constants(tmp_path):
    inp = Input((3, 4))
    const = rng.standard_normal((4,)).astype(np.float32)
    y = inp[:, 1:, ::2] + 0
    y = ops.multiply(inp[..., 0], inp[:, 0, 1:2])   # Ellipsis, an int index, slices
    z = ops.add(ops.take(inp, np.array([3, 0]), axis=2), ops.one_hot(ops.argmax(inp, axis=-1), 2))
    w = ops.matmul(inp, const)    # a NumPy constant in the node's arguments
    model = Model(inp, [y, z, w, inp[:, 0, 1]])
    cfg = model.get_config()
    text = json.dumps(cfg)
    assert "__slice__" in text and "__ellipsis__" in text and "__numpy__" in text
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    want, from_cfg, from_file = _roundtrip(model, x, tmp_path)
    for a, b, c in zip(want, from_cfg, from_file):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    np.testing.assert_allclose(want[2], x @ const, rtol=1e-6)
    np.testing.assert_array_equal(want[3], x[:, 0, 1])
    entry = next(e for e in cfg["layers"] if e["class_name"] == "Take")
    assert entry["module"] == "keras.src.ops.numpy" and entry["config"]["axis"] == 2  # named as Keras names it


def test_operations_get_unique_names_shared_with_layers():
    clear_session()
    x = Input((2,))
    a, b = ops.add(x, 1), ops.add(x, 2)
    assert (a._history[0].operation.name, b._history[0].operation.name) == ("add", "add_1")
    from core.layers import Add

    assert Add().name == "add_2"


def test_symbolic_results_of_eager_only_ops_are_refused():
    x = Input((2,))
    with pytest.raises(NotImplementedError, match="keras.ops.cond on symbolic KerasTensors is not supported yet"):
        ops.cond(x, lambda: x, lambda: x)
    with pytest.raises(NotImplementedError, match="keras.ops.view_as_complex is not supported yet: complex"):
        ops.view_as_complex(x)
    re, im = ops.fft((x, x))  # Fourier ops take and give (real, imaginary) pairs: graph nodes
    assert re.shape == im.shape == (None, 2)
    with pytest.raises(NotImplementedError, match="keras.ops.linalg.eig is not supported yet"):
        ops.linalg.eig(Tensor(np.eye(2)))


def test_hot_paths_stay_eager():
    """Tensor operators and layer calls never go through the symbolic dispatch."""
    import core.autodiff as autodiff
    from core.ops import elementwise

    assert autodiff._ops.add is elementwise.add
    assert ops.add.eager is elementwise.add and ops.relu.eager is not ops.relu
    t = Tensor(np.ones(3, np.float32))
    assert type(ops.add(t, 1)) is Tensor


def test_keras_written_functional_config_with_op_nodes_loads(tmp_path):
    """A Keras 3.15 model.to_json() whose graph holds 25 kinds of op nodes (keras.src.ops.numpy.Add,
    GetItem with a __slice__ key, DotProductAttention, TopK's two outputs, ...) rebuilds here and
    predicts as Keras does (fixture: tests/fixtures/make_keras_ops_model_fixture.py)."""
    import os

    from core.models.serialization import model_from_json
    from tests.fixture_utils import FIXTURE_DIR

    path = os.path.join(FIXTURE_DIR, "keras_ops_model.json")
    if not os.path.exists(path):
        pytest.skip("fixture keras_ops_model.json not found")
    with open(path) as f:
        model = model_from_json(f.read())
    z = np.load(os.path.join(FIXTURE_DIR, "keras_ops_model.npz"))
    model.set_weights([z[f"w{i}"] for i in range(len(model.get_weights()))])
    assert len(model.layers) == 3 and len(model.operations) == 33  # as many entries as the config lists
    out, arg = model.predict(z["x"], verbose=0)
    np.testing.assert_allclose(out, z["y0"], rtol=1e-5, atol=1e-5)
    assert arg.dtype == z["y1"].dtype and (arg == z["y1"]).all()
    want, from_cfg, from_file = _roundtrip(model, z["x"], tmp_path)
    np.testing.assert_array_equal(from_cfg[0], want[0])
    np.testing.assert_array_equal(from_file[0], want[0])


def test_symbolic_tensor_shows_its_mask_as_keras_does():
    """keras-io's masking guide prints x._keras_mask of a symbolic tensor: a bool (batch, time) tensor."""
    import core as keras

    inputs = keras.Input(shape=(None,), dtype="int32")
    assert inputs._keras_mask is None
    x = keras.layers.Embedding(input_dim=50, output_dim=16, mask_zero=True)(inputs)
    assert x._keras_mask.shape == (None, None) and x._keras_mask.dtype == np.dtype(bool)
