"""Per-sample losses: gradients, Keras 3 fixtures, extra Keras references, dtypes and errors."""
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.ops import OpError
from core.ops import losses as L
from tests.fixture_utils import case_params

rng = np.random.default_rng(0)

# float64: rtol 1e-5 / atol 1e-7; float32: atol 1e-6 covers float32 round-off of values near zero.
TOL = {np.float64: dict(rtol=1e-5, atol=1e-7), np.float32: dict(rtol=1e-5, atol=1e-6)}


def dist(*shape):
    p = rng.random(shape) + 0.05
    return p / p.sum(-1, keepdims=True)


def probs(*shape):
    return rng.uniform(0.05, 0.95, shape)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((2, 3, 4), -1), ((2, 3, 4), 1), ((5,), 0)])
def test_categorical_crossentropy_gradients(from_logits, ls, shape, axis):
    t = rng.random(shape)  # unnormalised soft targets: exercises the general softmax*sum(t) - t
    p = rng.standard_normal(shape) if from_logits else rng.uniform(0.05, 0.9, shape)
    check_gradients(lambda t, p: L.categorical_crossentropy(t, p, from_logits=from_logits, label_smoothing=ls,
                                                            axis=axis), [t, p])


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((2, 3, 4), -1), ((2, 4, 3), 1)])
def test_sparse_categorical_crossentropy_gradients(from_logits, shape, axis):
    c = shape[axis]
    tshape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    tgt = rng.integers(0, c, size=tshape)
    p = rng.standard_normal(shape) if from_logits else dist(*shape)
    check_gradients(lambda p: L.sparse_categorical_crossentropy(tgt, p, from_logits=from_logits, axis=axis), [p])


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2), (5,)])
def test_binary_crossentropy_gradients(from_logits, ls, shape):
    t = rng.random(shape)
    p = rng.standard_normal(shape) * 2 if from_logits else probs(*shape)
    check_gradients(lambda t, p: L.binary_crossentropy(t, p, from_logits=from_logits, label_smoothing=ls), [t, p])


def _away_from_kinks(shape, gap=0.05, avoid=(0.0,)):
    """(t, p) with p - t kept at least ``gap`` away from each value in ``avoid`` (the kinks)."""
    t = rng.standard_normal(shape)
    d = rng.standard_normal(shape)
    for k in avoid:
        for s in (1, -1):
            near = np.abs(d - s * k) < gap
            d[near] = s * k + np.where(d[near] >= s * k, gap, -gap)
    return t, t + d


REGRESSION = [
    ("mse", L.mean_squared_error, ()),
    ("mae", L.mean_absolute_error, (0.0,)),
    ("huber_1", lambda t, p: L.huber(t, p, delta=1.0), (0.0, 1.0)),
    ("huber_0.3", lambda t, p: L.huber(t, p, delta=0.3), (0.0, 0.3)),
    ("log_cosh", L.log_cosh, ()),
]


@pytest.mark.parametrize("name,fn,kinks", REGRESSION, ids=[r[0] for r in REGRESSION])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (5,)])
def test_regression_gradients(name, fn, kinks, shape):
    t, p = _away_from_kinks(shape, avoid=kinks or (0.0,))
    check_gradients(fn, [t, p])


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5)])
def test_mape_gradients(shape):
    t, p = _away_from_kinks(shape)
    t = np.where(np.abs(t) < 0.1, 0.5, t)
    check_gradients(L.mean_absolute_percentage_error, [t, p], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5)])
def test_kl_divergence_gradients(shape):
    check_gradients(L.kl_divergence, [dist(*shape), dist(*shape)])


@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((3, 4), 0), ((2, 3, 5), 1), ((4,), -1)])
def test_cosine_similarity_gradients(shape, axis):
    check_gradients(lambda t, p: L.cosine_similarity(t, p, axis=axis),
                    [rng.standard_normal(shape), rng.standard_normal(shape)])


def test_rank_fixed_regression_gradients():
    # Keras squeeze_or_expand_to_same_rank: (N, 1) vs (N,) and (N, K, 1) vs (N, K)
    check_gradients(L.mean_squared_error, [rng.standard_normal((4, 1)), rng.standard_normal(4)])
    check_gradients(L.huber, [rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 1)) * 0.3])


def test_loss_then_mean_composition_gradients():
    t = dist(4, 3)
    check_gradients(lambda z: L.categorical_crossentropy(t, z, from_logits=True).mean(), [rng.standard_normal((4, 3))])
    check_gradients(lambda z: L.binary_crossentropy(t, z, from_logits=True).sum() + L.log_cosh(t, z).mean(),
                    [rng.standard_normal((4, 3))])


# --------------------------------------------------------------------------- Keras 3 fixtures
EPS_HI_F32 = float(np.float32(1 - 1e-7))  # 1 - 1e-7 rounded to float32: 0.99999988


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", case_params("losses"))
def test_loss_fixture(case, dtype):
    p, A = case.params, case.arrays
    fn = getattr(L, p["op"])
    yt = A["y_true"] if A["y_true"].dtype.kind != "f" else A["y_true"].astype(dtype)
    out = fn(Tensor(yt), Tensor(A["y_pred"].astype(dtype)), **p["kwargs"])
    assert out.dtype == dtype
    ref = A["loss"]
    if dtype == np.float32 and case.name == "bce_probs_ls0.1":
        # y_pred holds an exact 1.0, clipped to 1 - 1e-7; in float32 (ours and Keras/TF alike) that bound is
        # 0.99999988, so log(1 - p) differs from the float64 reference there. Keras 3.15 / TF 2.21 run in
        # float32 on this very case gives these values (our float32 output matched them exactly):
        keras32 = np.array([1.2286036014556885, 1.006468653678894, 1.3708840608596802, 0.8272941708564758,
                            1.4483004808425903, 0.973086953163147])
        np.testing.assert_allclose(out.numpy(), keras32, **TOL[dtype])
        clipped = (A["y_pred"] >= EPS_HI_F32).any(-1)
        np.testing.assert_allclose(out.numpy()[~clipped], ref[~clipped], **TOL[dtype])
        return
    np.testing.assert_allclose(out.numpy(), ref, **TOL[dtype])


# --------------------------------------------------------------------------- more Keras 3 references
# Values from Keras 3.15 (TensorFlow 2.21 backend, float64 inputs) for the inputs built below.
def _keras_inputs():
    r = np.random.default_rng(11)
    yt = r.random((4, 6))
    yt /= yt.sum(-1, keepdims=True)
    yt[0, 0] = 0.0
    yp = r.random((4, 6))
    yp /= yp.sum(-1, keepdims=True)
    yp[1, 2] = 0.0
    yp[2, 3] = 1.3
    a = r.standard_normal((4, 6)) * 3
    b = r.standard_normal((4, 6)) * 3
    a[0, 1] = 0.0
    b[1, 1] = a[1, 1]
    b[2, 2] = a[2, 2] + 20
    c = a.copy()
    c[3] = 0.0
    x3 = r.standard_normal((3, 5, 4))
    t3 = r.random((3, 5, 4))
    return dict(yt=yt, yp=yp, a=a, b=b, c=c, x3=x3, t3=t3)


KERAS = {
    "kl": [1.0683688387455104, 5.352909891602688, 0.17722761024115807, 0.441971400886008],
    "log_cosh": [1.9443364872519957, 1.227245071770263, 6.570560994889504, 2.3974715526540336],
    "mape": [315978700.4472461, 85.97780167064674, 1636.9949932722034, 393.2428193878819],
    "cos": [-0.4619393558851359, -0.726757913487293, 0.6087338265494006, -0.0],
    "cos0": [-0.008892407444672568, -0.12076254099214273, 0.1576645286546195, -0.835785924045882,
             -0.27040347816018034, 0.40048928879845935],
    "cce_ax1_logits": [[6.837884781073077, 4.305012830120081, 6.438884171099861, 5.348720195653405],
                       [5.802582862844673, 6.833405262012524, 3.3794342880894854, 5.646941539618394],
                       [6.024110497111826, 3.0269910180388075, 3.0405447852456975, 4.482292384601669]],
    "cce_ax1_probs": [[5.400560542860448, 5.676554302262733, 7.6624735710342105, 4.448124838488899],
                      [6.047839236142335, 5.284160685610502, 5.838492205427612, 5.390298930806389],
                      [5.645245211600464, 3.245218467114045, 3.4498958392343715, 3.885963246543678]],
    "mse_n1_n": [4.4837542089658085, 2.1662045647630745, 21.686419837081903, 18.274583137289145],
    "mse_n1k_nk": [1.3501456118673085, 0.2696803295408983, 1.77373558660613],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(KERAS))
def test_against_keras_values(name, dtype):
    I = {k: Tensor(v.astype(dtype)) for k, v in _keras_inputs().items()}
    out = {
        "kl": lambda: L.kl_divergence(I["yt"], I["yp"]),
        "log_cosh": lambda: L.log_cosh(I["a"], I["b"]),
        "mape": lambda: L.mean_absolute_percentage_error(I["a"], I["b"]),
        "cos": lambda: L.cosine_similarity(I["c"], I["b"]),  # row 3 of c is all zeros
        "cos0": lambda: L.cosine_similarity(I["c"], I["b"], axis=0),
        "cce_ax1_logits": lambda: L.categorical_crossentropy(I["t3"], I["x3"], from_logits=True, axis=1),
        "cce_ax1_probs": lambda: L.categorical_crossentropy(I["t3"], Tensor(np.abs(I["x3"].numpy())), axis=1),
        "mse_n1_n": lambda: L.mean_squared_error(I["a"][:, :1], I["b"][:, 0]),
        "mse_n1k_nk": lambda: L.mean_squared_error(I["x3"][..., :1], I["t3"][..., 0]),
    }[name]()
    assert out.dtype == dtype
    # mape row 0 divides by max(|0|, 1e-7): rtol only (the value is ~3e8)
    np.testing.assert_allclose(out.numpy(), np.array(KERAS[name]), **TOL[dtype])


def test_logits_stable_for_large_values():
    z = np.array([[1000.0, -1000.0, 0.0]], np.float32)
    t = np.array([[0.0, 1.0, 0.0]], np.float32)
    ce = L.categorical_crossentropy(t, Tensor(z), from_logits=True).numpy()
    np.testing.assert_allclose(ce, [2000.0])
    sce = L.sparse_categorical_crossentropy(np.array([1]), Tensor(z), from_logits=True).numpy()
    np.testing.assert_allclose(sce, [2000.0])
    bce = L.binary_crossentropy(t, Tensor(z), from_logits=True).numpy()
    np.testing.assert_allclose(bce, [(1000 + 1000 + np.log(2)) / 3], rtol=1e-6)
    assert np.isfinite(L.log_cosh(np.zeros((1, 2), np.float32), Tensor(np.array([[200.0, -200.0]], np.float32))).numpy()).all()


def test_from_logits_gradient_is_softmax_minus_target():
    z = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    t = np.eye(4, dtype=np.float32)[[0, 3, 1]]
    L.categorical_crossentropy(t, z, from_logits=True).sum().backward()
    e = np.exp(z.numpy() - z.numpy().max(-1, keepdims=True))
    assert z.grad.dtype == np.float32
    np.testing.assert_allclose(z.grad, e / e.sum(-1, keepdims=True) - t, rtol=1e-5, atol=1e-6)
    z.zero_grad()
    L.sparse_categorical_crossentropy(np.array([0, 3, 1]), z, from_logits=True).sum().backward()
    np.testing.assert_allclose(z.grad, e / e.sum(-1, keepdims=True) - t, rtol=1e-5, atol=1e-6)


ALL = [
    ("cce", lambda t, p: L.categorical_crossentropy(t, p)),
    ("cce_logits", lambda t, p: L.categorical_crossentropy(t, p, from_logits=True, label_smoothing=0.1)),
    ("bce", lambda t, p: L.binary_crossentropy(t, p)),
    ("bce_logits", lambda t, p: L.binary_crossentropy(t, p, from_logits=True)),
    ("mse", L.mean_squared_error), ("mae", L.mean_absolute_error), ("mape", L.mean_absolute_percentage_error),
    ("huber", L.huber), ("log_cosh", L.log_cosh), ("kl", L.kl_divergence), ("cos", L.cosine_similarity),
]


@pytest.mark.parametrize("name,fn", ALL, ids=[a[0] for a in ALL])
def test_float32_in_float32_out_and_grads(name, fn):
    t = Tensor(dist(3, 4).astype(np.float32), requires_grad=True)
    p = Tensor(dist(3, 4).astype(np.float32), requires_grad=True)
    y = fn(t, p)
    assert y.dtype == np.float32 and y.shape == (3,)
    y.sum().backward()
    assert p.grad.dtype == np.float32 and t.grad.dtype == np.float32
    # integer / float64 numpy targets are cast to y_pred's dtype (as Keras casts y_true)
    assert fn(np.eye(4, dtype=np.int64)[[0, 1, 2]], p).dtype == np.float32
    assert fn(dist(3, 4), p).dtype == np.float32


def test_sparse_targets_forms():
    p = Tensor(dist(3, 4).astype(np.float32))
    a = L.sparse_categorical_crossentropy(np.array([0, 3, 2]), p).numpy()
    b = L.sparse_categorical_crossentropy(np.array([[0], [3], [2]]), p).numpy()  # trailing 1 squeezed
    c = L.sparse_categorical_crossentropy(Tensor(np.array([0.0, 3.0, 2.0], np.float32)), p).numpy()
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_allclose(a, -np.log(p.numpy()[[0, 1, 2], [0, 3, 2]]), rtol=1e-5)


# --------------------------------------------------------------------------- errors
def test_loss_errors():
    p = np.zeros((3, 4), np.float32)
    for fn in (L.categorical_crossentropy, L.binary_crossentropy, L.mean_squared_error, L.kl_divergence,
               L.cosine_similarity, L.huber):
        with pytest.raises(OpError, match=r"y_true shape \(3, 5\) and y_pred shape \(3, 4\) must match"):
            fn(np.zeros((3, 5), np.float32), p)
    with pytest.raises(OpError, match=r"mean_absolute_error: y_true shape \(4, 3\) and y_pred shape \(3, 4\)"):
        L.mean_absolute_error(np.zeros((4, 3)), p)
    with pytest.raises(OpError, match="categorical_crossentropy: y_pred must be floating, got dtype int64"):
        L.categorical_crossentropy(p, np.zeros((3, 4), np.int64))
    with pytest.raises(OpError, match=r"label_smoothing must be a number in \[0, 1\]"):
        L.categorical_crossentropy(p, p, label_smoothing=1.5)
    with pytest.raises(OpError, match=r"binary_crossentropy: label_smoothing"):
        L.binary_crossentropy(p, p, label_smoothing=-0.1)
    with pytest.raises(OpError, match="categorical_crossentropy: axis 2 is out of range"):
        L.categorical_crossentropy(p, p, axis=2)
    with pytest.raises(OpError, match="huber: delta must be a positive number"):
        L.huber(p, p, delta=0)
    with pytest.raises(OpError, match="must have rank >= 1"):
        L.binary_crossentropy(np.float32(1), np.float32(0.5))
    with pytest.raises(OpError, match="y_true must be numeric"):
        L.mean_squared_error(np.array(["a", "b"]), np.zeros(2))
    with pytest.raises(OpError, match="y_true dtype float64 differs from y_pred dtype float32"):
        L.mean_squared_error(Tensor(np.zeros((3, 4)), requires_grad=True), Tensor(p))


def test_sparse_crossentropy_errors():
    p = Tensor(np.full((3, 4), 0.25, np.float32))
    with pytest.raises(OpError, match=r"target class 4 is out of range for y_pred shape \(3, 4\) with 4 classes"):
        L.sparse_categorical_crossentropy(np.array([0, 4, 1]), p)
    with pytest.raises(OpError, match=r"target class -1 is out of range"):
        L.sparse_categorical_crossentropy(np.array([0, -1, 1]), p)
    with pytest.raises(OpError, match=r"y_true shape \(4,\) must be y_pred shape \(3, 4\) without the class axis 1"):
        L.sparse_categorical_crossentropy(np.array([0, 1, 2, 3]), p)
    with pytest.raises(OpError, match=r"y_true shape \(3, 4\) must be y_pred shape"):
        L.sparse_categorical_crossentropy(np.zeros((3, 4), np.int64), p)
    with pytest.raises(OpError, match="non-integer values"):
        L.sparse_categorical_crossentropy(np.array([0.0, 1.5, 1.0]), p)
    with pytest.raises(OpError, match="must hold integer class indices, got dtype <U1"):
        L.sparse_categorical_crossentropy(np.array(["a", "b", "c"]), p)
    with pytest.raises(OpError, match="y_pred must have rank >= 1"):
        L.sparse_categorical_crossentropy(np.array(1), np.float32(0.3))
