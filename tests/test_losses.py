"""core.losses: loss classes vs Keras 3 fixtures, reductions and sample weights, masks, gradients,
get/serialize, and target validation messages."""
import json
import os

import numpy as np
import pytest

from core import losses, ops
from core.autodiff import Tensor
from core.gradient_check import check_gradients
from tests.fixture_utils import FIXTURE_DIR, case_params, load_cases

OP_TO_CLASS = {
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
    "binary_crossentropy": losses.BinaryCrossentropy,
    "mean_squared_error": losses.MeanSquaredError,
    "mean_absolute_error": losses.MeanAbsoluteError,
    "huber": losses.Huber,
}


# --------------------------------------------------------------------------- fixtures
@pytest.mark.parametrize("case", case_params("losses"))
def test_per_sample_values_match_keras(case):
    # the references are float64 computations: run in float64 (a float64 Tensor keeps its dtype)
    cls = OP_TO_CLASS[case.params["op"]]
    y_pred = Tensor(case.arrays["y_pred"].astype(np.float64))
    loss = cls(reduction="none", **case.params["kwargs"])
    out = loss(case.arrays["y_true"], y_pred)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), case.arrays["loss"], rtol=1e-6, atol=1e-8)
    # the default reduction is the plain mean of the per-sample values
    mean = cls(**case.params["kwargs"])(case.arrays["y_true"], y_pred)
    np.testing.assert_allclose(float(mean), np.mean(case.arrays["loss"]), rtol=1e-6, atol=1e-8)
    # arrays in: float32 computation and result
    out32 = loss(case.arrays["y_true"], case.arrays["y_pred"])
    assert out32.dtype == np.float32 and out32.shape == case.arrays["loss"].shape


def _reduction_of(key):
    return key.replace("_weighted_row", "").replace("_weighted", "")


@pytest.mark.parametrize("case", case_params("loss_classes"))
def test_loss_classes_reductions_match_keras(case):
    cls = getattr(losses, case.params["class_name"])
    a = case.arrays
    keys = [k for k in a if k not in ("y_true", "y_pred", "sample_weight", "sample_weight_row", "mask")]
    assert keys
    for key in keys:
        red = "sum_over_batch_size" if key.startswith("masked") else _reduction_of(key)
        loss = cls(reduction=red, **case.params["kwargs"])
        y_pred = Tensor(a["y_pred"])
        if key.startswith("masked"):
            y_pred._keras_mask = Tensor(a["mask"])
        sw = None
        if key.endswith("_row"):
            sw = a["sample_weight_row"]
        elif key.endswith("weighted"):
            sw = a["sample_weight"]
        out = loss(a["y_true"], y_pred, sample_weight=sw).numpy()
        assert out.shape == a[key].shape, key
        np.testing.assert_allclose(out, a[key], rtol=2e-5, atol=2e-6, err_msg=f"{case.name}/{key}")


# --------------------------------------------------------------------------- reductions by hand
Y = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]], np.float32)
P = np.array([[.2, .7, .1], [.5, .3, .2], [.1, .1, .8], [.6, .3, .1]], np.float32)
PER = -np.log(np.array([.7, .5, .8, .3]))
W = np.array([2.0, 0.0, 1.0, 0.5], np.float32)


def test_sum_over_batch_size_divides_by_count_not_weight_sum():
    cce = losses.get("categorical_crossentropy")
    assert cce.reduction == "sum_over_batch_size"
    np.testing.assert_allclose(float(cce(Y, P)), PER.mean(), rtol=1e-6)
    np.testing.assert_allclose(float(cce(Y, P, sample_weight=W)), (PER * W).sum() / 4, rtol=1e-6)
    # a (N, 1) weight column is squeezed to match the (N,) losses
    np.testing.assert_allclose(float(cce(Y, P, sample_weight=W[:, None])), (PER * W).sum() / 4, rtol=1e-6)
    # a scalar weight scales
    np.testing.assert_allclose(float(cce(Y, P, sample_weight=3.0)), 3 * PER.mean(), rtol=1e-6)


@pytest.mark.parametrize("reduction, expected", [
    ("sum", (PER * W).sum()),
    ("mean", (PER * W).sum() / 4),
    ("mean_with_sample_weight", (PER * W).sum() / W.sum()),
    ("none", PER * W),
    (None, PER * W),
])
def test_reductions(reduction, expected):
    out = losses.CategoricalCrossentropy(reduction=reduction)(Y, P, sample_weight=W)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


def test_mean_with_sample_weight_zero_weights_gives_zero():
    out = losses.CategoricalCrossentropy(reduction="mean_with_sample_weight")(Y, P, sample_weight=np.zeros(4))
    assert float(out) == 0.0


def test_invalid_reduction_names_the_choices():
    with pytest.raises(ValueError, match="sum_over_batch_size"):
        losses.MeanSquaredError(reduction="avg")


def test_bad_sample_weight_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\).*\(4,\)"):
        losses.get("mse")(Y, P, sample_weight=np.ones(3))


def test_mask_on_y_pred_drops_out_of_the_count():
    yt = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    yp = Tensor(np.array([[1.5], [2.0], [5.0], [0.0]], np.float32))
    yp._keras_mask = Tensor(np.array([True, True, False, True]))
    out = losses.MeanSquaredError()(yt, yp)
    np.testing.assert_allclose(float(out), (0.25 + 0 + 16) / 3, rtol=1e-6)
    out = losses.MeanSquaredError(reduction="sum")(yt, yp)
    np.testing.assert_allclose(float(out), 16.25, rtol=1e-6)


def test_sparse_ignore_class_by_hand():
    labels = np.array([1, -1, 2, 0])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    per = losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="none")(labels, P).numpy()
    np.testing.assert_allclose(per, [-np.log(.7), 0.0, -np.log(.8), -np.log(.6)], rtol=1e-6)
    np.testing.assert_allclose(float(loss(labels, P)), per.sum() / 3, rtol=1e-6)


def test_empty_batch_and_scalar_losses():
    out = losses.get("mse")(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert out.shape == (0,)
    out = losses.get("mse")(np.array([1.0, 2.0], np.float32), np.array([1.0, 4.0], np.float32))
    assert out.shape == () and float(out) == pytest.approx(2.0)


# --------------------------------------------------------------------------- dtypes and inputs
def test_dtypes_and_input_kinds():
    mse = losses.get("mse")
    assert mse(Y, P).dtype == np.float32
    assert mse(Y.astype(np.float64), P.astype(np.float64)).dtype == np.float32  # arrays: cast to floatx, as Keras
    t64 = Tensor(P.astype(np.float64), requires_grad=True)
    assert mse(Y, t64).dtype == np.float64  # Tensors keep their float dtype
    assert float(mse(Tensor(Y), Tensor(P))) == pytest.approx(float(mse(Y.tolist(), P.tolist())))
    # integer labels for the sparse loss are used as labels, not cast to y_pred's float dtype
    labels = np.array([1, 0, 2, 1])
    a = losses.get("sparse_categorical_crossentropy")(labels, P)
    b = losses.get("sparse_categorical_crossentropy")(labels.astype(np.float32), P)
    np.testing.assert_allclose(float(a), PER.mean(), rtol=1e-6)
    assert float(a) == pytest.approx(float(b))


def test_sparse_labels_column_and_sequence():
    labels = np.array([1, 0, 2, 1])
    scce = losses.get("sparse_categorical_crossentropy")
    assert float(scce(labels[:, None], P)) == pytest.approx(PER.mean(), rel=1e-6)
    seq_p = np.stack([P, P[::-1]], axis=1)  # (4, 2, 3)
    seq_y = np.stack([labels, labels[::-1]], axis=1)
    assert float(scce(seq_y, seq_p)) == pytest.approx(PER.mean(), rel=1e-6)


def test_binary_crossentropy_rank_reconciliation():
    y = np.array([1.0, 0.0, 1.0], np.float32)
    p = np.array([[0.9], [0.2], [0.6]], np.float32)
    expected = -np.mean(np.log([0.9, 0.8, 0.6]))
    assert float(losses.get("binary_crossentropy")(y, p)) == pytest.approx(expected, rel=1e-6)
    assert float(losses.get("binary_crossentropy")(y[:, None], p[:, 0])) == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- gradients
RNG = np.random.default_rng(7)
P_LOG = RNG.standard_normal((4, 3))
P_PROB = np.exp(P_LOG) / np.exp(P_LOG).sum(-1, keepdims=True)
Y_REG = RNG.standard_normal((4, 3))
P_REG = Y_REG + RNG.standard_normal((4, 3))
Y_BIN = (RNG.random((4, 3)) < 0.5).astype(np.float64)
Y_DIST = RNG.uniform(0.1, 1, (4, 3))
Y_DIST /= Y_DIST.sum(-1, keepdims=True)
WGT = np.array([1.0, 0.5, 0.0, 2.0])


@pytest.mark.parametrize("loss, y, p", [
    (losses.CategoricalCrossentropy(), Y, P_PROB),
    (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), Y, P_LOG),
    (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 0, 2, 1]), P_LOG),
    (losses.SparseCategoricalCrossentropy(ignore_class=0), np.array([1, 0, 2, 1]), P_PROB),
    (losses.BinaryCrossentropy(), Y_BIN, 1 / (1 + np.exp(-P_LOG))),
    (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), Y_BIN, P_LOG),
    (losses.MeanSquaredError(), Y_REG, P_REG),
    (losses.MeanAbsoluteError(), Y_REG, P_REG),
    (losses.MeanAbsolutePercentageError(), Y_REG, P_REG),
    (losses.Huber(delta=0.8), Y_REG, P_REG),
    (losses.LogCosh(), Y_REG, P_REG),
    (losses.KLDivergence(), Y_DIST, P_PROB),
    (losses.CosineSimilarity(), Y_REG, P_REG),
    (losses.MeanSquaredError(reduction="mean_with_sample_weight"), Y_REG, P_REG),
    (losses.CategoricalCrossentropy(reduction="sum"), Y, P_PROB),
], ids=lambda v: getattr(v, "name", None) or "")
def test_gradients(loss, y, p):
    check_gradients(lambda pred: loss(y, pred, sample_weight=WGT), [p])
    check_gradients(lambda pred: loss(y, pred), [p])


def test_gradient_through_a_mask():
    mask = np.array([[True, True, False], [True, False, False]])
    y = np.array([[1, 0, 2], [2, 2, 1]])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)

    def fn(p):
        p._keras_mask = Tensor(mask)
        return loss(y, p, sample_weight=np.array([[1.0], [3.0]]))

    check_gradients(fn, [RNG.standard_normal((2, 3, 4))])
    # a per-sample (N,) weight does not broadcast over (N, T) losses (Keras errors too)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(2,\) cannot be broadcast to the per-sample "
                                         r"losses of shape \(2, 3\); to weight whole samples give it shape \(2, 1\)"):
        loss(y, RNG.standard_normal((2, 3, 4)), sample_weight=np.array([1.0, 3.0]))


def test_user_subclass_with_autodiff():
    class Quartic(losses.Loss):
        def call(self, y_true, y_pred):
            d = y_pred - y_true
            return ops.mean(d * d * d * d, axis=-1)

    loss = Quartic()
    assert loss.name == "quartic"
    np.testing.assert_allclose(float(loss(Y_REG, P_REG.astype(np.float32))), np.mean((P_REG - Y_REG) ** 4),
                               rtol=1e-5)
    check_gradients(lambda pred: loss(Y_REG, pred, sample_weight=WGT), [P_REG])
    assert losses.get(Quartic) is not None and isinstance(losses.get(Quartic), Quartic)


def test_plain_function_is_wrapped():
    def my_loss(y_true, y_pred):
        return ops.mean(ops.abs(y_pred - y_true), axis=-1)

    loss = losses.get(my_loss)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.name == "my_loss"
    np.testing.assert_allclose(float(loss(Y, P)), np.abs(P - Y).mean(), rtol=1e-6)
    check_gradients(lambda pred: loss(Y_REG, pred), [P_REG])


# --------------------------------------------------------------------------- get / serialize
@pytest.mark.parametrize("name, cls", [
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy), ("bce", losses.BinaryCrossentropy),
    ("mean_squared_error", losses.MeanSquaredError), ("mse", losses.MeanSquaredError),
    ("mean_absolute_error", losses.MeanAbsoluteError), ("mae", losses.MeanAbsoluteError),
    ("mean_absolute_percentage_error", losses.MeanAbsolutePercentageError),
    ("mape", losses.MeanAbsolutePercentageError), ("huber", losses.Huber), ("log_cosh", losses.LogCosh),
    ("logcosh", losses.LogCosh), ("kl_divergence", losses.KLDivergence), ("kld", losses.KLDivergence),
    ("cosine_similarity", losses.CosineSimilarity),
])
def test_get_by_name(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls and loss.name == name  # named as written, like Keras' compile
    assert type(losses.get(cls.__name__)) is cls


def test_default_names_match_keras():
    assert losses.Huber().name == "huber_loss"
    assert losses.LogCosh().name == "log_cosh"
    assert losses.KLDivergence().name == "kl_divergence"
    assert losses.MeanSquaredError().name == "mean_squared_error"


def test_get_other_identifiers():
    inst = losses.Huber(delta=2.0)
    assert losses.get(inst) is inst
    assert losses.get(None) is None
    d = losses.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert isinstance(d, losses.CategoricalCrossentropy) and d.from_logits
    with pytest.raises(ValueError) as e:
        losses.get("categorical_crossentropyy")
    assert "'categorical_crossentropyy'" in str(e.value) and "categorical_crossentropy," in str(e.value)
    with pytest.raises(ValueError, match="cannot interpret"):
        losses.get(3)


@pytest.mark.parametrize("loss", [
    losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, axis=1, reduction="sum", name="cce"),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
    losses.BinaryCrossentropy(label_smoothing=0.05), losses.MeanSquaredError(reduction="none"),
    losses.MeanAbsoluteError(), losses.MeanAbsolutePercentageError(), losses.Huber(delta=0.3),
    losses.LogCosh(), losses.KLDivergence(), losses.CosineSimilarity(axis=0),
], ids=lambda v: type(v).__name__)
def test_serialize_round_trip(loss):
    cfg = losses.serialize(loss)
    assert cfg["class_name"] == type(loss).__name__ and cfg["module"] == "keras.losses"
    back = losses.deserialize(json.loads(json.dumps(cfg)))
    assert type(back) is type(loss) and back.get_config() == loss.get_config()


def test_get_config_matches_keras():
    assert losses.CategoricalCrossentropy().get_config() == {
        "name": "categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "label_smoothing": 0.0, "axis": -1}
    assert losses.SparseCategoricalCrossentropy().get_config() == {
        "name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "ignore_class": None, "axis": -1}
    assert losses.MeanSquaredError().get_config() == {"name": "mean_squared_error",
                                                      "reduction": "sum_over_batch_size"}


def test_crossentropy_resolves_by_shapes():
    assert isinstance(losses.get("crossentropy", y_true=np.zeros((5, 1)), y_pred_shape=(None, 1)),
                      losses.BinaryCrossentropy)
    assert isinstance(losses.get("ce", y_true=np.zeros(5), y_pred_shape=(None, 4)),
                      losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.get("crossentropy", y_true=np.zeros((5, 4)), y_pred_shape=(None, 4)),
                      losses.CategoricalCrossentropy)
    lazy = losses.get("crossentropy")
    labels = np.array([1, 0, 2, 1])
    assert float(lazy(labels, P)) == pytest.approx(PER.mean(), rel=1e-6)
    assert isinstance(lazy.resolved, losses.SparseCategoricalCrossentropy) and lazy.name == "crossentropy"


# --------------------------------------------------------------------------- target validation
def test_cce_with_integer_labels_message():
    y = np.arange(100) % 10
    with pytest.raises(ValueError) as e:
        losses.get("categorical_crossentropy").check_targets(y, (None, 10))
    assert str(e.value) == ("categorical_crossentropy expects one-hot targets of shape (100, 10); got integer labels "
                            "of shape (100,). Use sparse_categorical_crossentropy or one-hot encode the labels")
    with pytest.raises(ValueError, match=r"integer labels of shape \(100, 1\)"):
        losses.CategoricalCrossentropy().check_targets(y[:, None].astype(np.float32), (None, 10))
    with pytest.raises(ValueError, match=r"expects one-hot targets of shape \(100, 10\).*got targets of shape "
                                         r"\(100, 4\)"):
        losses.CategoricalCrossentropy().check_targets(np.eye(4)[y % 4], (None, 10))
    losses.CategoricalCrossentropy().check_targets(np.eye(10)[y], (None, 10))


def test_scce_messages():
    scce = losses.get("sparse_categorical_crossentropy")
    scce.check_targets(np.arange(20) % 10, (None, 10))
    scce.check_targets((np.arange(20) % 10)[:, None], (None, 10))
    with pytest.raises(ValueError) as e:
        scce.check_targets(np.array([0, 3, 10, 2]), (None, 10))
    assert str(e.value) == ("sparse_categorical_crossentropy: labels must be in [0, 10) for a model output with 10 "
                            "classes; got labels in [0, 10] (e.g. 10 at index (2,))")
    with pytest.raises(ValueError, match=r"got labels in \[-1, 3\]"):
        scce.check_targets(np.array([0, -1, 3]), (None, 10))
    with pytest.raises(ValueError, match=r"expects integer class labels of shape \(20,\); got one-hot targets of "
                                         r"shape \(20, 10\). Use categorical_crossentropy"):
        scce.check_targets(np.eye(10)[np.arange(20) % 10], (None, 10))
    with pytest.raises(ValueError, match="non-integer"):
        scce.check_targets(np.array([0.5, 1.0]), (None, 10))
    losses.SparseCategoricalCrossentropy(ignore_class=-1).check_targets(np.array([0, -1, 9]), (None, 10))
    # sequence labels (N, T) for an output (None, T, C)
    scce.check_targets(np.zeros((4, 7), np.int64), (None, 7, 5))


def test_bce_messages():
    bce = losses.get("binary_crossentropy")
    bce.check_targets(np.array([0.0, 1.0, 0.3])[:, None], (None, 1))
    bce.check_targets(np.array([0, 1, 1]), (None, 1))
    with pytest.raises(ValueError) as e:
        bce.check_targets(np.array([0, 1, 4]), (None, 1))
    assert str(e.value) == ("binary_crossentropy expects targets in [0, 1]; got values in [0, 4]. For integer class "
                            "labels use sparse_categorical_crossentropy with a softmax output.")
    with pytest.raises(ValueError, match=r"got values in \[-0.5, 1\]\.$"):
        bce.check_targets(np.array([-0.5, 1.0]), (None, 1))
    with pytest.raises(ValueError, match=r"binary_crossentropy expects targets of shape \(3, 2\)"):
        bce.check_targets(np.array([0, 1, 1]), (None, 2))


def test_regression_shape_messages_and_trailing_one():
    mse = losses.get("mse")
    mse.check_targets(np.ones(5), (None, 1))  # (N,) vs (None, 1): Keras expands
    mse.check_targets(np.ones((5, 1)), (None,))
    mse.check_targets(np.ones((5, 3)), (None, 3))
    with pytest.raises(ValueError) as e:
        mse.check_targets(np.ones((5, 2)), (None, 3))
    assert str(e.value) == ("mse expects targets of shape (5, 3) (the model output shape (None, 3)); got targets of "
                            "shape (5, 2)")
    with pytest.raises(ValueError, match=r"huber_loss expects targets of shape \(5, 3\)"):
        losses.Huber().check_targets(np.ones(5), (None, 3))
    with pytest.raises(ValueError, match=r"kl_divergence expects target distributions"):
        losses.KLDivergence().check_targets(np.ones((5, 2)), (None, 3))


@pytest.mark.parametrize("name", ["mse", "categorical_crossentropy", "binary_crossentropy", "kld"])
def test_nan_and_inf_targets_rejected(name):
    y = np.zeros((6, 3), np.float32)
    y[2, 1] = np.nan
    y[4, 0] = np.inf
    with pytest.raises(ValueError) as e:
        losses.get(name).check_targets(y, (None, 3))
    assert str(e.value) == (f"{name}: targets contain 2 NaN/inf values (first at index (2, 1)); clean or impute the "
                            "targets before training")


def test_non_numeric_targets_and_user_losses():
    with pytest.raises(ValueError, match=r"targets must be numeric, got dtype <U1"):
        losses.get("mse").check_targets(np.array(["a", "b"]), (None, 1))
    wrapped = losses.get(lambda t, p: ops.mean(ops.square(p - t), axis=-1))
    wrapped.check_targets(np.ones((3, 9)), (None, 2))  # user losses: only numeric / finite
    with pytest.raises(ValueError, match="NaN/inf"):
        wrapped.check_targets(np.array([np.nan]), (None, 1))
    lazy = losses.get("crossentropy")
    with pytest.raises(ValueError, match="categorical_crossentropy|crossentropy expects one-hot"):
        losses.get("crossentropy").check_targets(np.ones((4, 3)), (None, 5))
    lazy.check_targets(np.arange(4), (None, 5))
    assert isinstance(lazy.resolved, losses.SparseCategoricalCrossentropy)


def test_fixture_files_present():
    assert os.path.exists(os.path.join(FIXTURE_DIR, "loss_classes.json"))
    assert len(load_cases("loss_classes")) >= 17
