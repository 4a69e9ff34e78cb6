"""core.ops.reference: every fast fused/blocked op equals its plain reference (values and gradients,
float32 and float64, random shapes), each reference passes a float64 gradient check, Adam's fused
step and the switch's per-parameter one equal ``adam_update``, and ZOO_REFERENCE_OPS=1 trains a CNN,
a recurrent model and an attention model for a few Adam steps on the reference ops (in a subprocess)
with the fast engine's numbers."""
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core import Tensor, ops
from core.autodiff import Parameter
from core.gradient_check import check_gradients
from core.ops import reference
from core.optimizers import Adam
from core.utils import set_random_seed

# the op modules (``core.ops.conv`` and ``core.ops.linalg`` are also Keras op names on the package)
attention, conv, linalg, losses, normalization, pooling, recurrent = (
    importlib.import_module(f"core.ops.{m}") for m in ("attention", "conv", "linalg", "losses", "normalization",
                                                       "pooling", "recurrent"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _values_and_grads(fn, arrays, seed=0):
    """fn's outputs and the gradients of sum(outputs * random weights) w.r.t. every float input."""
    ts = [Tensor(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    outs = fn(*ts)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    wr = np.random.default_rng(seed)
    total = None
    for o in outs:
        if o.requires_grad:
            term = (o * Tensor(wr.standard_normal(o.shape).astype(o.dtype))).sum()
            total = term if total is None else total + term
    total.backward()
    return [o.numpy() for o in outs], [t.grad for t in ts if t.requires_grad]


def assert_fast_equals_reference(monkeypatch, module, names, fn, arrays, rtol=1e-4, atol=1e-5, before=None):
    """fn run on the fast Functions, then with ``names`` of ``module`` swapped for the reference's."""
    if before:
        before()
    fast = _values_and_grads(fn, arrays)
    for name in names:
        monkeypatch.setattr(module, name, getattr(reference, name))
    if before:
        before()
    ref = _values_and_grads(fn, arrays)
    for kind, a_list, b_list in (("output", fast[0], ref[0]), ("gradient", fast[1], ref[1])):
        assert len(a_list) == len(b_list)
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            assert a.shape == b.shape and a.dtype == b.dtype, (kind, i, a.shape, b.shape, a.dtype, b.dtype)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{kind} {i}")


def check_reference_gradients(monkeypatch, module, names, fn, arrays, **kw):
    for name in names:
        monkeypatch.setattr(module, name, getattr(reference, name))
    check_gradients(fn, arrays, **kw)


# --------------------------------------------------------------------------- dense
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "softmax", "silu", "relu6"])
@pytest.mark.parametrize("lead,bias", [((5,), True), ((2, 3), False)])
def test_dense(monkeypatch, activation, lead, bias):
    act = None if activation is None else getattr(ops, activation)
    x, w, b = rand(*lead, 4), rand(4, 6), rand(6)
    args = [x, w, b] if bias else [x, w]
    fn = (lambda x_, w_, b_: linalg.dense(x_, w_, b_, activation=act)) if bias else \
        (lambda x_, w_: linalg.dense(x_, w_, activation=act))
    assert_fast_equals_reference(monkeypatch, linalg, ["Dense"], fn, args)
    check_reference_gradients(monkeypatch, linalg, ["Dense"], fn, [a.astype(np.float64) for a in args])


# --------------------------------------------------------------------------- convolutions
CONV_CASES = [  # x shape, kernel shape, strides, padding, dilation, groups, activation, bias
    ((2, 7, 6, 3), (3, 3, 3, 4), 1, "valid", 1, 1, None, True),
    ((2, 8, 7, 4), (3, 2, 4, 5), 2, "same", 1, 1, "relu", True),
    ((1, 9, 9, 4), (3, 3, 2, 6), 1, "same", 2, 2, None, False),
    ((3, 6, 5, 2), (1, 1, 2, 3), (2, 1), ((1, 0), (2, 1)), 1, 1, "relu", True),
    ((2, 7, 6, 5), (3, 3, 5, 1), 1, "same", 1, 1, "relu", True),      # one output channel (_conv_one_out)
    ((2, 8, 7, 4), (3, 2, 4, 1), 1, "valid", (2, 1), 1, None, False),
]


@pytest.mark.parametrize("xs,ks,s,pad,d,g,act,bias", CONV_CASES)
def test_conv2d(monkeypatch, xs, ks, s, pad, d, g, act, bias):
    args = [rand(*xs), rand(*ks)] + ([rand(ks[3])] if bias else [])

    def fn(x, k, *b):
        return ops.conv2d(x, k, b[0] if b else None, strides=s, padding=pad, dilation=d, groups=g, activation=act)

    assert_fast_equals_reference(monkeypatch, conv, ["Conv2D"], fn, args)
    check_reference_gradients(monkeypatch, conv, ["Conv2D"], fn, [a.astype(np.float64) for a in args])


@pytest.mark.parametrize("padding,d", [("causal", 2), ("same", 1), ("valid", 1)])
def test_conv1d(monkeypatch, padding, d):
    args = [rand(2, 9, 3), rand(3, 3, 4), rand(4)]
    fn = lambda x, k, b: ops.conv1d(x, k, b, strides=1, padding=padding, dilation=d)  # noqa: E731
    assert_fast_equals_reference(monkeypatch, conv, ["Conv2D"], fn, args)


@pytest.mark.parametrize("s,pad,d,mult", [(1, "valid", 1, 1), (2, "same", 1, 2), (1, "same", 2, 3)])
def test_depthwise_conv2d(monkeypatch, s, pad, d, mult):
    args = [rand(2, 7, 8, 3), rand(3, 3, 3, mult), rand(3 * mult)]
    fn = lambda x, k, b: ops.depthwise_conv2d(x, k, b, strides=s, padding=pad, dilation=d)  # noqa: E731
    assert_fast_equals_reference(monkeypatch, conv, ["DepthwiseConv2D"], fn, args)
    check_reference_gradients(monkeypatch, conv, ["DepthwiseConv2D"], fn, [a.astype(np.float64) for a in args])


@pytest.mark.parametrize("ks,s,pad,out_pad,d", [((3, 3), 2, "same", None, 1), ((3, 2), 2, "valid", None, 1),
                                                ((3, 3), 3, "same", (1, 2), 1), ((2, 2), 1, "valid", None, 2),
                                                ((4, 4), 2, "same", (1, 1), 1), ((2, 2), 3, "valid", None, 1),
                                                ((2, 3), 3, "same", (2, 0), 1), ((3, 3), (2, 1), "same", None, 1),
                                                ((1, 1), 2, "valid", (1, 1), 1)])
@pytest.mark.parametrize("act", [None, "relu"])
def test_conv2d_transpose(monkeypatch, ks, s, pad, out_pad, d, act):
    args = [rand(2, 4, 5, 3), rand(*ks, 2, 3), rand(2)]
    fn = lambda x, k, b: ops.conv2d_transpose(x, k, b, strides=s, padding=pad, output_padding=out_pad,  # noqa: E731
                                              dilation=d, activation=act)
    assert_fast_equals_reference(monkeypatch, conv, ["Conv2DTranspose"], fn, args)
    check_reference_gradients(monkeypatch, conv, ["Conv2DTranspose"], fn, [a.astype(np.float64) for a in args])


# --------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("pool,s,pad", [(2, None, "valid"), (3, 2, "same"), ((2, 3), 1, "valid"), (3, 3, "same")])
def test_pool2d(monkeypatch, op, pool, s, pad):
    x = rand(2, 7, 8, 3)
    fn = lambda x_: getattr(ops, op)(x_, pool, strides=s, padding=pad)  # noqa: E731
    assert_fast_equals_reference(monkeypatch, pooling, ["Pool2D"], fn, [x])
    check_reference_gradients(monkeypatch, pooling, ["Pool2D"], fn, [x.astype(np.float64)])


@pytest.mark.parametrize("op", ["max_pool1d", "avg_pool1d"])
def test_pool1d(monkeypatch, op):
    fn = lambda x_: getattr(ops, op)(x_, 3, strides=2, padding="same")  # noqa: E731
    assert_fast_equals_reference(monkeypatch, pooling, ["Pool2D"], fn, [rand(2, 9, 4)])


# --------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("shape,axis", [((6, 4), -1), ((3, 5, 4, 6), -1), ((2, 3, 4, 5), 1)])
@pytest.mark.parametrize("training,activation", [(True, None), (False, None), (True, "relu")])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(monkeypatch, shape, axis, training, activation, affine):
    c = shape[axis]
    stats, start = {}, (rand(c) * 0.1, np.abs(rand(c)) + 0.5)

    def reset():
        stats["mean"], stats["var"] = start[0].copy(), start[1].copy()

    def fn(x, *p):
        gamma, beta = p if p else (None, None)
        return ops.batch_norm(x, gamma, beta, stats["mean"], stats["var"], training=training, momentum=0.9,
                              axis=axis, activation=activation)

    args = [rand(*shape) * 2 + 1] + ([rand(c), rand(c)] if affine else [])
    assert_fast_equals_reference(monkeypatch, normalization, ["BatchNormTrain", "BatchNormInfer"], fn, args,
                                 before=reset)
    if training:  # the moving statistics moved the same way
        updated = dict(stats)
        monkeypatch.undo()
        reset()
        _values_and_grads(fn, args)
        np.testing.assert_allclose(stats["mean"], updated["mean"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats["var"], updated["var"], rtol=1e-5, atol=1e-6)
    reset()
    check_reference_gradients(monkeypatch, normalization, ["BatchNormTrain", "BatchNormInfer"], fn,
                              [a.astype(np.float64) for a in args])


@pytest.mark.parametrize("shape,axis,compact", [((4, 6), -1, True), ((2, 3, 8), -1, False),
                                                ((2, 3, 4, 5), (1, 2), True), ((3, 4, 5), (2, 1), False)])
def test_layer_norm(monkeypatch, shape, axis, compact):
    axes = sorted(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis))
    pshape = tuple(shape[a] for a in axes) if compact else tuple(shape[i] if i in axes else 1
                                                                     for i in range(len(shape)))
    args = [rand(*shape) * 3 - 1, rand(*pshape), rand(*pshape)]
    fn = lambda x, g, b: ops.layer_norm(x, g, b, axis=axis, epsilon=1e-3)  # noqa: E731
    assert_fast_equals_reference(monkeypatch, normalization, ["LayerNorm"], fn, args)
    check_reference_gradients(monkeypatch, normalization, ["LayerNorm"], fn, [a.astype(np.float64) for a in args])


# --------------------------------------------------------------------------- attention
@pytest.mark.parametrize("kw", [{}, {"causal": True}, {"return_weights": True}, {"masks": True},
                                {"dropout_rate": 0.3, "training": True}, {"broadcast": True}])
def test_scaled_dot_product_attention(monkeypatch, kw):
    kw = dict(kw)
    q, k, v = rand(2, 3, 5, 4), rand(2, 3, 6, 4), rand(2, 3, 6, 7)
    if kw.pop("broadcast", False):
        k, v = rand(1, 3, 6, 4), rand(2, 1, 6, 7)
    if kw.pop("masks", False):
        kw["key_padding_mask"] = np.array([[1, 1, 1, 0, 0, 0], [1] * 6], bool)
        kw["attn_mask"] = rng.random((5, 6)) > 0.3
    fn = lambda q_, k_, v_: ops.scaled_dot_product_attention(q_, k_, v_, **kw)  # noqa: E731
    assert_fast_equals_reference(monkeypatch, attention, ["SDPA"], fn, [q, k, v], before=lambda: set_random_seed(3))
    set_random_seed(3)
    check_reference_gradients(monkeypatch, attention, ["SDPA"], lambda *a: (set_random_seed(3), fn(*a))[1],
                              [a.astype(np.float64) for a in (q, k, v)])


# --------------------------------------------------------------------------- cross-entropies
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("ls,axis", [(0.0, -1), (0.1, -1), (0.0, 1)])
def test_categorical_crossentropy(monkeypatch, from_logits, ls, axis):
    p = rand(4, 5, 3) if from_logits else rng.random((4, 5, 3)).astype(np.float32) + 0.05
    t = rng.random((4, 5, 3)).astype(np.float32)
    fn = lambda t_, p_: losses.categorical_crossentropy(t_, p_, from_logits=from_logits,  # noqa: E731
                                                     label_smoothing=ls, axis=axis)
    assert_fast_equals_reference(monkeypatch, losses, ["CategoricalCrossentropy"], fn, [t, p])
    check_reference_gradients(monkeypatch, losses, ["CategoricalCrossentropy"], fn,
                              [t.astype(np.float64), p.astype(np.float64)])


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("axis", [-1, 1])
def test_sparse_categorical_crossentropy(monkeypatch, from_logits, axis):
    p = rand(4, 5, 3) if from_logits else rng.random((4, 5, 3)).astype(np.float32) * 0.9 + 0.05
    shape = (4, 3) if axis == 1 else (4, 5)
    target = rng.integers(0, 5 if axis == 1 else 3, shape)
    fn = lambda p_: losses.sparse_categorical_crossentropy(target, p_, from_logits=from_logits, axis=axis)  # noqa: E731
    assert_fast_equals_reference(monkeypatch, losses, ["SparseCategoricalCrossentropy"], fn, [p])
    check_reference_gradients(monkeypatch, losses, ["SparseCategoricalCrossentropy"], fn, [p.astype(np.float64)])


# --------------------------------------------------------------------------- recurrent
RNN_KW = [
    {},
    {"return_sequences": True},
    {"return_sequences": True, "go_backwards": True, "mask": True},
    {"mask": True, "states": True},
    {"activation": "relu", "recurrent_activation": "hard_sigmoid", "return_sequences": True},
]


def _rnn_args(op, kw, gates, u=3, N=3, T=5, F=2, bias_shape=None, **fixed):
    kw = dict(kw, **fixed)
    args = [rand(N, T, F), rand(F, gates * u) * 0.5, rand(u, gates * u) * 0.5, rand(*(bias_shape or (gates * u,)))]
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], bool) if kw.pop("mask", False) else None
    n_states = {"lstm": 2}.get(op, 1)
    if kw.pop("states", False):
        args += [rand(N, u) for _ in range(n_states)]
    if op == "simple_rnn":
        kw.pop("recurrent_activation", None)

    def fn(x, k, r, b, *states):
        return getattr(ops, op)(x, k, r, b, initial_state=list(states) if states else None, mask=mask, **kw)

    return fn, args


@pytest.mark.parametrize("kw", RNN_KW)
@pytest.mark.parametrize("op,cls,gates,bias_shape", [("lstm", "LSTM", 4, None), ("simple_rnn", "SimpleRNN", 1, None),
                                                     ("gru", "GRU", 3, (2, 9))])
def test_recurrent(monkeypatch, op, cls, gates, bias_shape, kw):
    fn, args = _rnn_args(op, kw, gates, bias_shape=bias_shape)
    assert_fast_equals_reference(monkeypatch, recurrent, [cls], fn, args)
    check_reference_gradients(monkeypatch, recurrent, [cls], fn, [a.astype(np.float64) for a in args])


@pytest.mark.parametrize("kw", RNN_KW[:4])
def test_gru_reset_before(monkeypatch, kw):
    fn, args = _rnn_args("gru", kw, 3, reset_after=False)
    assert_fast_equals_reference(monkeypatch, recurrent, ["GRU"], fn, args)
    check_reference_gradients(monkeypatch, recurrent, ["GRU"], fn, [a.astype(np.float64) for a in args])


# --------------------------------------------------------------------------- Adam
@pytest.mark.parametrize("shapes", [[(4, 3)], [(7,), (300, 250), (5, 2, 3)]])  # (300, 250): > _FLAT_MAX
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_fused_step_and_the_switch_equal_adam_update(monkeypatch, shapes, dtype, amsgrad):
    """Adam's fused flat-buffer step (one flat segment of small parameters, a large one on its own
    views) and the switch's per-parameter step both give ``reference.adam_update``'s weights and
    slots (m, v, and AMSGrad's v_hat) after several steps."""
    r = np.random.default_rng(len(shapes))
    inits = [r.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[r.standard_normal(s).astype(dtype) for s in shapes] for _ in range(4)]
    names = ["momentum", "velocity"] + (["velocity_hat"] if amsgrad else [])
    expected = {"param": [a.astype(np.float64) for a in inits]}
    expected.update({n: [np.zeros(s) for s in shapes] for n in names})
    for step, gs in enumerate(grads):
        for i, g in enumerate(gs):
            p, m, v, v_hat = reference.adam_update(expected["param"][i], g.astype(np.float64), expected["momentum"][i],
                                                   expected["velocity"][i], step, 0.01,
                                                   v_hat=expected["velocity_hat"][i] if amsgrad else None)
            expected["param"][i], expected["momentum"][i], expected["velocity"][i] = p, m, v
            if amsgrad:
                expected["velocity_hat"][i] = v_hat
    for switched in (False, True):
        monkeypatch.setattr(reference, "ENABLED", switched)
        params = [Parameter(a.copy()) for a in inits]
        opt = Adam(learning_rate=0.01, amsgrad=amsgrad)
        for gs in grads:
            opt.apply([g.copy() for g in gs], params)
        assert (opt._flat is None) == switched  # the fused step's flat buffers, or per-parameter slots
        got = {"param": [p.data for p in params], **{n: [opt._slot(n, p) for p in params] for n in names}}
        for name, arrays in expected.items():
            for i, want in enumerate(arrays):
                assert got[name][i].dtype == dtype
                np.testing.assert_allclose(got[name][i], want, rtol=1e-5, atol=1e-6,
                                           err_msg=f"{name} {i}, switch {switched}")


# --------------------------------------------------------------------------- the switch
_TRAIN_STEP = r"""
import importlib, json, numpy as np
from core import layers as L, ops
from core.autodiff import Function
from core.models import Model, Sequential
from core.ops import reference
from core.utils import set_random_seed

ran, apply = set(), Function.apply


def recording_apply(self, *inputs):  # which Function classes run, by module
    ran.add(f"{type(self).__module__}.{type(self).__name__}")
    return apply(self, *inputs)


Function.apply = recording_apply
set_random_seed(0)
cnn = Sequential([L.Input((8, 8, 2)), L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNormalization(),
                  L.MaxPooling2D(2), L.DepthwiseConv2D(3, padding="same"), L.Conv2DTranspose(3, 2, strides=2),
                  L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")])
cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
rnn = Sequential([L.Input((6, 3)), L.LSTM(5, return_sequences=True), L.GRU(4), L.Dense(2)])
rnn.compile(optimizer="adam", loss="mse")
seq = L.Input((8, 3))
h = L.AveragePooling1D(2)(L.Conv1D(4, 3, padding="causal")(seq))
h = L.LayerNormalization()(L.MultiHeadAttention(2, 3)(h, h))
att = Model(seq, L.Dense(3, activation="softmax")(L.SimpleRNN(5)(h)))
att.compile(optimizer="adam", loss="categorical_crossentropy")
rng = np.random.default_rng(0)
x, y = rng.standard_normal((8, 8, 8, 2)).astype("float32"), rng.integers(0, 3, 8)
xs, ys = rng.standard_normal((8, 6, 3)).astype("float32"), rng.standard_normal((8, 2)).astype("float32")
xa, ya = rng.standard_normal((8, 8, 3)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
conv = importlib.import_module("core.ops.conv")
out = {"reference": conv.Conv2D is reference.Conv2D}
for name, model, data in (("cnn", cnn, (x, y)), ("rnn", rnn, (xs, ys)), ("att", att, (xa, ya))):
    out[name + "_loss"] = [float(model.train_on_batch(*data)) for _ in range(3)]
    out[name + "_pred"] = model.predict(data[0], verbose=0).tolist()
    out[name + "_flat_adam"] = model.optimizer._flat is not None
inp = L.Input((8, 8, 2))
res = Model(inp, L.ReLU()(L.Add()([inp, L.BatchNormalization()(L.Conv2D(2, 3, padding="same")(inp))])))
out["res_pred"] = res.predict(x, verbose=0).tolist()
out["steps"] = sorted({type(s).__name__ for s in res._steps(True)})
out["ran"] = sorted(ran)
print(json.dumps(out))
"""


def _train_step(reference_ops):
    env = dict(os.environ, PYTHONPATH=ROOT, ZOO_REFERENCE_OPS="1" if reference_ops else "0")
    r = subprocess.run([sys.executable, "-c", _TRAIN_STEP], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_switch_trains_cnn_recurrent_and_attention_models_on_the_reference_ops_with_the_same_numbers():
    fast, ref = _train_step(False), _train_step(True)
    assert not fast["reference"] and ref["reference"]
    assert "ConvChainStep" in fast["steps"] and ref["steps"] == ["NodeStep"]  # no fusion on the reference ops
    for name in ("cnn", "rnn", "att"):  # the fused Adam step, or reference.adam_update per parameter
        assert fast[name + "_flat_adam"] and not ref[name + "_flat_adam"]
    # every switched op ran, from core.ops.reference under the switch and from its fast module without
    switched = {f"core.ops.{module}.{cls.__name__}": f"core.ops.reference.{cls.__name__}"
                for module, classes in reference.REPLACED.items() for cls in classes}
    assert set(switched) <= set(fast["ran"]) and not any(r.startswith("core.ops.reference.") for r in fast["ran"])
    assert set(switched.values()) <= set(ref["ran"]) and not set(switched) & set(ref["ran"])
    for key in ("cnn_loss", "cnn_pred", "rnn_loss", "rnn_pred", "att_loss", "att_pred", "res_pred"):
        np.testing.assert_allclose(ref[key], fast[key], rtol=1e-5, atol=1e-5, err_msg=key)
