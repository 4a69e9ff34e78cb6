"""lstm, gru and simple_rnn over whole sequences: gradients, Keras reference fixtures (family
``rnn``), a NumPy loop reference for simple_rnn, mask / go_backwards semantics, dtypes, errors."""
import numpy as np
import pytest

from core import Tensor, no_grad
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops.recurrent import gru, lstm, simple_rnn
from tests.fixture_utils import case_params

rng = np.random.default_rng(0)
N, T, F, U = 2, 4, 3, 2
MASK = np.array([[True, True, False, True], [True, False, False, False]])  # gaps and right padding


def rand(*shape, scale=0.5):
    return rng.standard_normal(shape) * scale


# ----------------------------------------------------------------------------- gradients

SEQ_BACK_MASK = [(rs, gb, m) for rs in (False, True) for gb in (False, True) for m in (False, True)]


@pytest.mark.parametrize("rs,gb,use_mask", SEQ_BACK_MASK)
def test_lstm_gradients(rs, gb, use_mask):
    mask = MASK if use_mask else None
    args = [rand(N, T, F, scale=1.0), rand(F, 4 * U), rand(U, 4 * U), rand(4 * U), rand(N, U), rand(N, U)]
    check_gradients(lambda x, k, rk, b, h0, c0: lstm(x, k, rk, b, (h0, c0), mask=mask, return_sequences=rs,
                                                       go_backwards=gb), args)


def test_lstm_gradients_no_bias_no_state():
    args = [rand(N, T, F, scale=1.0), rand(F, 4 * U), rand(U, 4 * U)]
    check_gradients(lambda x, k, rk: lstm(x, k, rk, return_sequences=True, mask=MASK), args)


def test_lstm_step_gradients():
    """A single step (T=1): the LSTM cell."""
    args = [rand(3, 1, 4, scale=1.0), rand(4, 12), rand(3, 12), rand(12), rand(3, 3), rand(3, 3)]
    check_gradients(lambda x, k, rk, b, h0, c0: lstm(x, k, rk, b, (h0, c0)), args)


@pytest.mark.parametrize("act,ract", [("relu", "hard_sigmoid"), ("linear", "sigmoid"), ("tanh", "hard_sigmoid")])
def test_lstm_gradients_other_activations(act, ract):
    args = [rand(N, T, F, scale=1.0), rand(F, 4 * U), rand(U, 4 * U), rand(4 * U)]
    check_gradients(lambda x, k, rk, b: lstm(x, k, rk, b, return_sequences=True, activation=act,
                                             recurrent_activation=ract), args)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("rs,gb,use_mask", SEQ_BACK_MASK)
def test_gru_gradients(reset_after, rs, gb, use_mask):
    mask = MASK if use_mask else None
    bias = rand(2, 3 * U) if reset_after else rand(3 * U)
    args = [rand(N, T, F, scale=1.0), rand(F, 3 * U), rand(U, 3 * U), bias, rand(N, U)]
    check_gradients(lambda x, k, rk, b, h0: gru(x, k, rk, b, h0, mask=mask, return_sequences=rs, go_backwards=gb,
                                                reset_after=reset_after), args)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_gradients_no_bias_other_activations(reset_after):
    args = [rand(N, T, F, scale=1.0), rand(F, 3 * U), rand(U, 3 * U)]
    check_gradients(lambda x, k, rk: gru(x, k, rk, return_sequences=True, reset_after=reset_after,
                                         activation="relu", recurrent_activation="hard_sigmoid"), args)


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "hard_sigmoid", "linear"])
@pytest.mark.parametrize("rs,gb,use_mask", [(True, False, True), (False, True, True), (True, True, False)])
def test_simple_rnn_gradients(act, rs, gb, use_mask):
    mask = MASK if use_mask else None
    args = [rand(N, T, F, scale=1.0), rand(F, U), rand(U, U), rand(U), rand(N, U)]
    check_gradients(lambda x, k, rk, b, h0: simple_rnn(x, k, rk, b, [h0], mask=mask, return_sequences=rs,
                                                       go_backwards=gb, activation=act), args)


def test_retain_graph_backward_twice_gives_same_grads():
    x = Tensor(rand(N, T, F), requires_grad=True)
    k, rk, b = (Tensor(a, requires_grad=True) for a in (rand(F, 4 * U), rand(U, 4 * U), rand(4 * U)))
    y, h, c = lstm(x, k, rk, b, mask=MASK, return_sequences=True)
    loss = (y * y).sum() + h.sum()
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in (x, k, rk, b)]
    loss.backward()
    for t, g in zip((x, k, rk, b), first):
        np.testing.assert_allclose(t.grad, 2 * g, rtol=1e-12)


@pytest.mark.parametrize("op,gates", [(lstm, 4), (simple_rnn, 1), (gru, 3)])
@pytest.mark.parametrize("wanted", [(0,), (1,), (2,), (1, 2), (0, 1, 3), (0, 1, 2, 3)])
@pytest.mark.parametrize("gb", [False, True])
def test_gradients_of_any_subset_of_inputs(op, gates, wanted, gb):
    """The kernel and recurrent-kernel gradients come from one GEMM when both are wanted, from
    one each otherwise (a frozen layer, a first layer): every subset gives the same gradients."""
    arrays = [rand(N, T, F, scale=1.0), rand(F, gates * U), rand(U, gates * U), rand(gates * U)]
    if op is gru:
        arrays[3] = rand(2, 3 * U)
    w = rand(N, T, U)

    def grads(want):
        ts = [Tensor(a, requires_grad=i in want) for i, a in enumerate(arrays)]
        y = op(*ts, mask=MASK, return_sequences=True, go_backwards=gb)[0]
        (y * Tensor(w)).sum().backward()
        return [t.grad for t in ts]

    every = grads(range(4))
    for i, g in enumerate(grads(wanted)):
        if i in wanted:
            np.testing.assert_allclose(g, every[i], rtol=1e-12, atol=1e-14)
        else:
            assert g is None


# ----------------------------------------------------------------------------- Keras fixtures


def _run_case(case, dtype):
    A, p = case.arrays, case.params
    args = [Tensor(A[n].astype(dtype)) for n in ("x", "kernel", "recurrent_kernel", "bias")]
    kw = dict(mask=A.get("mask"), return_sequences=p["return_sequences"], go_backwards=p["go_backwards"],
              activation=p["activation"], recurrent_activation=p["recurrent_activation"])
    if p["op"] == "lstm":
        y, h, c = lstm(*args, **kw)
        return {"y": y, "h": h, "c": c}
    y, h = gru(*args, reset_after=p["reset_after"], **kw)
    return {"y": y, "h": h}


@pytest.mark.parametrize("case", case_params("rnn"))
def test_rnn_matches_keras(case):
    out64 = _run_case(case, np.float64)
    out32 = _run_case(case, np.float32)
    for name, ref in ((n, case.arrays[n]) for n in out64):
        assert out64[name].dtype == np.float64
        np.testing.assert_allclose(out64[name].numpy(), ref, rtol=1e-5, atol=1e-7, err_msg=name)
        assert out32[name].dtype == np.float32
        # atol covers float32 round-off for values near zero
        np.testing.assert_allclose(out32[name].numpy(), ref, rtol=1e-5, atol=1e-6, err_msg=name)


# ----------------------------------------------------------------------------- semantics


def _np_simple_rnn(x, k, rk, b, h0, mask, go_backwards, act):
    n, t, _ = x.shape
    h = h0.copy()
    m = np.ones((n, t), bool) if mask is None else mask
    ys = []
    for s in (range(t - 1, -1, -1) if go_backwards else range(t)):
        hn = act(x[:, s] @ k + h @ rk + b)
        h = np.where(m[:, s, None], hn, h)
        ys.append(h.copy())
    return np.stack(ys, 1), h


@pytest.mark.parametrize("gb,use_mask,act", [(False, False, "tanh"), (True, True, "relu"), (False, True, "linear")])
def test_simple_rnn_matches_numpy_loop(gb, use_mask, act):
    acts = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "linear": lambda z: z}
    x, k, rk, b, h0 = rand(3, 5, 4), rand(4, 3), rand(3, 3), rand(3), rand(3, 3)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 1, 0, 1, 0]], bool) if use_mask else None
    ref_y, ref_h = _np_simple_rnn(x, k, rk, b, h0, mask, gb, acts[act])
    y, h = simple_rnn(x, k, rk, b, h0, mask=mask, return_sequences=True, go_backwards=gb, activation=act)
    np.testing.assert_allclose(y.numpy(), ref_y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.numpy(), ref_h, rtol=1e-12, atol=1e-14)
    y1, h1 = simple_rnn(x, k, rk, b, h0, mask=mask, go_backwards=gb, activation=act)
    np.testing.assert_allclose(y1.numpy(), ref_h, rtol=1e-12, atol=1e-14)


def test_lstm_right_padding_equals_truncation():
    """With a right-padded mask, each row's final state is that of its unpadded prefix and the
    padded steps repeat the last real output."""
    x, k, rk, b = rand(2, 6, 3), rand(3, 8), rand(2, 8), rand(8)
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3], bool)
    y, h, c = lstm(x, k, rk, b, mask=mask, return_sequences=True)
    y3, h3, c3 = lstm(x[1:, :3], k, rk, b, return_sequences=True)
    np.testing.assert_allclose(h.numpy()[1], h3.numpy()[0], rtol=1e-12)
    np.testing.assert_allclose(c.numpy()[1], c3.numpy()[0], rtol=1e-12)
    np.testing.assert_allclose(y.numpy()[1, :3], y3.numpy()[0], rtol=1e-12)
    np.testing.assert_allclose(y.numpy()[1, 3:], np.repeat(h3.numpy()[:, None][0], 3, 0), rtol=1e-12)


def test_go_backwards_is_reversed_input_and_reversed_output_order():
    x, k, rk, b = rand(N, T, F), rand(F, 3 * U), rand(U, 3 * U), rand(2, 3 * U)
    yb, hb = gru(x, k, rk, b, return_sequences=True, go_backwards=True)
    yf, hf = gru(x[:, ::-1].copy(), k, rk, b, return_sequences=True)
    np.testing.assert_allclose(yb.numpy(), yf.numpy(), rtol=1e-12)  # same (processing) order as Keras
    np.testing.assert_allclose(hb.numpy(), hf.numpy(), rtol=1e-12)


def test_all_true_mask_equals_no_mask_and_no_grad_mode():
    x, k, rk, b = rand(N, T, F), rand(F, 4 * U), rand(U, 4 * U), rand(4 * U)
    a = lstm(x, k, rk, b, return_sequences=True)
    with no_grad():
        m = lstm(x, k, rk, b, mask=np.ones((N, T), bool), return_sequences=True)
    for p, q in zip(a, m):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-14)


# ----------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("op", ["lstm", "gru", "gru_ra0", "simple_rnn"])
def test_float32_preserved(op):
    f32 = np.float32
    g = {"lstm": 4, "gru": 3, "gru_ra0": 3, "simple_rnn": 1}[op]
    bias = rand(2, 3 * U) if op == "gru" else rand(g * U)
    ts = [Tensor(a.astype(f32), requires_grad=True)
          for a in (rand(N, T, F), rand(F, g * U), rand(U, g * U), bias, rand(N, U))]
    kw = dict(mask=MASK, return_sequences=True)
    if op == "lstm":
        outs = lstm(*ts[:4], initial_state=(ts[4], ts[4]), **kw)
    elif op == "simple_rnn":
        outs = simple_rnn(*ts[:4], initial_state=ts[4], activation="hard_sigmoid", **kw)
    else:
        outs = gru(*ts[:4], initial_state=[ts[4]], reset_after=(op == "gru"), **kw)
    for o in outs:
        assert o.dtype == np.float32
    sum(((o * o).sum() for o in outs), Tensor(np.float32(0))).backward()
    for t in ts:
        assert t.grad is not None and t.grad.dtype == np.float32


# ----------------------------------------------------------------------------- errors


def test_errors():
    x, k, rk, b = rand(N, T, F), rand(F, 4 * U), rand(U, 4 * U), rand(4 * U)
    with pytest.raises(OpError, match=r"lstm: x must have rank 3"):
        lstm(x[0], k, rk, b)
    with pytest.raises(OpError, match=r"lstm: kernel must have shape \(F, 4\*units\)"):
        lstm(x, rand(F + 1, 4 * U), rk, b)
    with pytest.raises(OpError, match=r"lstm: kernel must have shape"):
        lstm(x, rand(F, 4 * U + 1), rk, b)
    with pytest.raises(OpError, match=r"lstm: recurrent_kernel must have shape"):
        lstm(x, k, rand(U + 1, 4 * U), b)
    with pytest.raises(OpError, match=r"lstm: bias must have shape \(8,\)"):
        lstm(x, k, rk, rand(2, 4 * U))
    with pytest.raises(OpError, match=r"gru: bias must have shape \(2, 6\)"):
        gru(x, rand(F, 3 * U), rand(U, 3 * U), rand(3 * U), reset_after=True)
    with pytest.raises(OpError, match=r"gru: bias must have shape \(6,\)"):
        gru(x, rand(F, 3 * U), rand(U, 3 * U), rand(2, 3 * U), reset_after=False)
    with pytest.raises(OpError, match=r"lstm: mask must have shape \(N, T\)"):
        lstm(x, k, rk, b, mask=MASK[:, :2])
    with pytest.raises(OpError, match=r"lstm: mask must be boolean"):
        lstm(x, k, rk, b, mask=MASK.astype(float))
    with pytest.raises(OpError, match=r"lstm: activation must be one of"):
        lstm(x, k, rk, b, activation="softsign")
    with pytest.raises(OpError, match=r"gru: recurrent_activation must be one of"):
        gru(x, rand(F, 3 * U), rand(U, 3 * U), recurrent_activation="swish")
    with pytest.raises(OpError, match=r"lstm: initial_state must be \(h0, c0\)"):
        lstm(x, k, rk, b, initial_state=rand(N, U))
    with pytest.raises(OpError, match=r"lstm: initial state c0 must have shape \(N, units\)"):
        lstm(x, k, rk, b, initial_state=(rand(N, U), rand(N + 1, U)))
    with pytest.raises(OpError, match=r"simple_rnn: initial state h0 must have shape"):
        simple_rnn(x, rand(F, U), rand(U, U), initial_state=rand(N, U + 1))
    with pytest.raises(OpError, match=r"lstm: expected floating inputs"):
        lstm(np.ones((N, T, F), int), np.ones((F, 4 * U), int), np.ones((U, 4 * U), int))
    with pytest.raises(OpError, match=r"different float dtypes"):
        lstm(Tensor(x.astype(np.float32)), Tensor(k), rk)
    with pytest.raises(OpError, match=r"return_sequences must be True or False"):
        lstm(x, k, rk, return_sequences="yes")
    with pytest.raises(OpError, match=r"at least one time step"):
        lstm(rand(N, 0, F), k, rk)
