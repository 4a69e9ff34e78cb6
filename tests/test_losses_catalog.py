"""The catalogue losses of issue 22 against Keras 3.15 (tests/fixtures/catalog_losses.*, made by
make_catalog_loss_fixtures.py): reduced values, per-sample functions, gradients w.r.t. y_pred,
configs and names; float64 finite-difference gradient checks; CTC errors and edge cases."""
import numpy as np
import pytest

from core import losses
from core.autodiff import Tensor
from core.gradient_check import check_gradients
from tests.fixture_utils import case_params

CASES = case_params("catalog_losses")


def _inputs(case, dtype):
    yt = case.arrays["y_true"]
    yt = yt if yt.dtype.kind in "iu" else yt.astype(dtype)
    return yt, case.arrays["y_pred"].astype(dtype)


@pytest.mark.parametrize("case", CASES)
def test_value_and_gradient_match_keras_float64(case):
    p = case.params
    loss = getattr(losses, p["op"])(**p["config"], dtype="float64")
    yt, yp = _inputs(case, np.float64)
    pred = Tensor(yp, requires_grad=True)
    sw = case.arrays.get("sample_weight")
    value = loss(yt, pred, sample_weight=sw)
    tol = dict(rtol=2e-6, atol=1e-7) if p["op"] == "CTC" else dict(rtol=1e-10, atol=1e-12)  # TF runs CTC in float32
    np.testing.assert_allclose(value.numpy(), case.arrays["value"], **tol)
    value.sum().backward() if value.ndim else value.backward()
    np.testing.assert_allclose(pred.grad, case.arrays["grad"], **tol)


@pytest.mark.parametrize("case", CASES)
def test_per_sample_function_and_float32(case):
    p = case.params
    fn = getattr(losses, p["fn"])
    yt, yp = _inputs(case, np.float64)
    tol = dict(rtol=2e-6, atol=1e-7) if p["op"] == "CTC" else dict(rtol=1e-10, atol=1e-12)
    ytt = Tensor(yt)
    np.testing.assert_allclose(fn(ytt, Tensor(yp), **p["fn_kwargs"]).numpy(), case.arrays["per_sample"], **tol)
    loss = getattr(losses, p["op"])(**p["config"])
    yt32, yp32 = _inputs(case, np.float32)
    v = loss(yt32, yp32, sample_weight=case.arrays.get("sample_weight"))
    assert v.dtype == np.float32
    np.testing.assert_allclose(v.numpy(), case.arrays["value"], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES)
def test_config_names_and_registry(case):
    p = case.params
    loss = getattr(losses, p["op"])(**p["config"])
    cfg = loss.get_config()
    assert {k: v for k, v in cfg.items() if k != "dtype"} == {k: (list(v) if isinstance(v, tuple) else v)
                                                             for k, v in p["keras_config"].items() if k != "dtype"}
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == cfg
    assert type(losses.get(p["fn"])) is type(loss)
    assert losses.serialize(getattr(losses, p["fn"])) == p["fn"]


@pytest.mark.parametrize("name,fn,kw,true,pred", [
    ("hinge", losses.hinge, {}, "pm1", "real"),
    ("squared_hinge", losses.squared_hinge, {}, "pm1", "real"),
    ("categorical_hinge", losses.categorical_hinge, {}, "onehot", "real"),
    ("poisson", losses.poisson, {}, "pos", "pos"),
    ("msle", losses.mean_squared_logarithmic_error, {}, "pos", "pos"),
    ("bfce", losses.binary_focal_crossentropy, {"apply_class_balancing": True}, "bin", "prob"),
    ("bfce_logits", losses.binary_focal_crossentropy, {"from_logits": True, "gamma": 1.5}, "bin", "real"),
    ("cfce", losses.categorical_focal_crossentropy, {}, "onehot", "prob"),
    ("cfce_logits", losses.categorical_focal_crossentropy, {"from_logits": True}, "onehot", "real"),
    ("dice", losses.dice, {"axis": [1]}, "bin", "prob"),
    ("tversky", losses.tversky, {"alpha": 0.2, "beta": 0.8}, "bin", "prob"),
])
def test_finite_difference_gradients(name, fn, kw, true, pred):
    rng = np.random.default_rng(3)
    shape = (4, 5)
    trues = {"pm1": np.sign(rng.standard_normal(shape)), "onehot": np.eye(5)[rng.integers(0, 5, 4)],
             "pos": rng.uniform(0.1, 2, shape), "bin": (rng.random(shape) < 0.5).astype(float)}
    preds = {"real": rng.standard_normal(shape), "pos": rng.uniform(0.2, 2, shape),
             "prob": rng.uniform(0.1, 0.9, shape)}
    check_gradients(lambda p: fn(Tensor(trues[true]), p, **kw), [preds[pred]])


def test_ctc_gradient_and_brute_force_value():
    rng = np.random.default_rng(5)
    labels = np.array([[1, 2], [2, 2], [1, 0]])
    logits = rng.standard_normal((3, 4, 3))
    check_gradients(lambda p: losses.ctc(Tensor(labels), p), [logits], atol=1e-6)
    # brute force: sum over every alignment of length 4 that collapses to the label sequence
    import itertools

    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    for b in range(3):
        target = [int(v) for v in labels[b] if v != 0]
        total = 0.0
        for path in itertools.product(range(3), repeat=4):
            collapsed = [k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k)]
            if collapsed == target:
                total += np.exp(sum(logp[b, t, path[t]] for t in range(4)))
        np.testing.assert_allclose(losses.ctc(Tensor(labels[b:b + 1]), Tensor(logits[b:b + 1])).numpy()[0],
                                   -np.log(total), rtol=1e-10)


def test_ctc_errors():
    with pytest.raises(ValueError, match=r"batch_size, max_length\)"):
        losses.CTC()(np.zeros((2, 3, 1)), np.zeros((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match=r"num_classes"):
        losses.CTC()(np.zeros((2, 3), np.int64), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\)"):
        losses.CTC()(np.array([[1, 7]]), np.zeros((1, 4, 5), np.float32))


def test_hinge_converts_only_all_binary_batches():
    pred = np.array([[0.3, -0.2]], np.float32)
    np.testing.assert_allclose(losses.hinge(Tensor(np.array([[0.0, 1.0]], np.float32)), Tensor(pred)).numpy(),
                               [np.mean([1.3, 1.2])], rtol=1e-6)
    np.testing.assert_allclose(losses.hinge(Tensor(np.array([[0.5, 1.0]], np.float32)), Tensor(pred)).numpy(),
                               [np.mean([0.85, 1.2])], rtol=1e-6)


def test_target_checks_before_training():
    with pytest.raises(ValueError, match=r"expects targets in \[0, 1\]"):
        losses.BinaryFocalCrossentropy().check_targets(np.array([[0.0, 2.0]]), (None, 2))
    with pytest.raises(ValueError, match="integer labels"):
        losses.CategoricalFocalCrossentropy().check_targets(np.array([1, 2, 0]), (3, 4))
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        losses.Hinge().check_targets(np.zeros((3, 5)), (3, 2))
    with pytest.raises(ValueError, match=r"\(batch, max_label_length\)"):
        losses.CTC().check_targets(np.zeros((3, 4, 1)), (3, 9, 5))
    losses.CTC().check_targets(np.array([[1, 2, 0]]), (1, 6, 4))


def test_circle_and_gce_gradients():
    rng = np.random.default_rng(7)
    emb = rng.standard_normal((6, 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = np.array([0, 1, 0, 1, 2, 2])
    check_gradients(lambda p: losses.circle(Tensor(labels), p, gamma=5.0), [emb])
    probs = rng.uniform(0.05, 1.0, (5, 3))
    check_gradients(lambda p: losses.categorical_generalized_cross_entropy(Tensor(np.array([0, 2, 1, 1, 0])), p, q=0.7),
                    [probs])
