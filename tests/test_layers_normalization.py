"""BatchNormalization and LayerNormalization layers: weights, training vs inference, masks,
renorm, configs and errors (Keras 3 semantics; masked/renorm references in layers_misc)."""
import numpy as np
import pytest

from core import Tensor
from core.gradient_check import check_gradients
from core.layers.core_layers import Input
from core.layers.normalization import BatchNormalization, LayerNormalization
from tests.fixture_utils import load_cases

rng = np.random.default_rng(11)


def _x(*shape, scale=2.0, shift=1.0):
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


# --------------------------------------------------------------------------- BatchNormalization
def test_bn_weights_names_order_shapes():
    bn = BatchNormalization(name="bn")
    bn(_x(4, 5, 3))
    assert [w.path for w in bn.weights] == ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    assert [w.shape for w in bn.weights] == [(3,)] * 4
    assert [w.path for w in bn.trainable_weights] == ["bn/gamma", "bn/beta"]
    assert [w.path for w in bn.non_trainable_weights] == ["bn/moving_mean", "bn/moving_variance"]
    np.testing.assert_array_equal(bn.moving_variance.numpy(), np.ones(3, np.float32))
    bn2 = BatchNormalization(center=False, scale=False)
    bn2(_x(2, 3))
    assert [w.name for w in bn2.weights] == ["moving_mean", "moving_variance"]


def test_bn_training_uses_batch_stats_and_updates_moving_stats():
    x = _x(8, 3)
    bn = BatchNormalization(momentum=0.9, epsilon=1e-3)
    bn.build(x.shape)
    bn.gamma.assign(np.array([1.0, 2.0, 0.5], np.float32))
    bn.beta.assign(np.array([0.0, -1.0, 3.0], np.float32))
    y = bn(x, training=True).numpy()
    mean, var = x.mean(0), x.var(0)
    want = (x - mean) / np.sqrt(var + 1e-3) * bn.gamma.numpy() + bn.beta.numpy()
    np.testing.assert_allclose(y, want, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, atol=1e-5)
    assert y.dtype == np.float32 and bn.moving_mean.dtype == np.float32


def test_bn_inference_uses_moving_stats_and_does_not_update():
    x = _x(6, 4)
    bn = BatchNormalization()
    bn.build(x.shape)
    mm, mv = rng.standard_normal(4).astype(np.float32), rng.random(4).astype(np.float32) + 0.5
    bn.set_weights([np.ones(4), np.zeros(4), mm, mv])
    for kwargs in ({}, {"training": False}):
        y = bn(x, **kwargs).numpy()
        np.testing.assert_allclose(y, (x - mm) / np.sqrt(mv + 1e-3), atol=1e-5)
        np.testing.assert_array_equal(bn.moving_mean.numpy(), mm)
        np.testing.assert_array_equal(bn.moving_variance.numpy(), mv)


def test_bn_frozen_runs_in_inference_mode_even_when_training():
    x = _x(6, 4)
    bn = BatchNormalization()
    bn(x, training=True)
    before = [w.copy() for w in bn.get_weights()]
    bn.trainable = False
    y = bn(Tensor(x), training=True).numpy()
    mm, mv = before[2], before[3]
    np.testing.assert_allclose(y, (x - mm) / np.sqrt(mv + 1e-3), atol=1e-5)
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_bn_channels_first_axis():
    x = _x(3, 4, 2, 5)
    bn = BatchNormalization(axis=1, momentum=0.0)
    y = bn(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean.reshape(-1), atol=1e-6)
    assert bn.gamma.shape == (4,)


def test_bn_and_ln_accept_other_sizes_on_unnormalized_axes():
    bn = BatchNormalization(axis=1)
    bn(_x(2, 3, 4, 5))
    assert bn(_x(1, 3, 6, 7), training=True).shape == (1, 3, 6, 7)
    ln = LayerNormalization(axis=1)
    ln(_x(2, 3, 4))
    assert ln(_x(5, 3, 9)).shape == (5, 3, 9)
    with pytest.raises(ValueError, match=r"\(5, 4, 9\)"):
        ln(_x(5, 4, 9))


def test_bn_gradients_flow_to_input_gamma_beta():
    x = _x(5, 3).astype(np.float64)
    bn = BatchNormalization(dtype="float64")
    bn.build(x.shape)
    xt = Tensor(x, requires_grad=True)
    (bn(xt, training=True) * Tensor(rng.standard_normal((5, 3)))).sum().backward()
    assert xt.grad is not None and bn.gamma.grad is not None and bn.beta.grad is not None
    assert abs(xt.grad.sum(0)).max() < 1e-10  # batch-stat BN: gradient w.r.t. x sums to zero per channel


def test_bn_masked_training_matches_keras():
    (case,) = load_cases("layers_misc", op="batch_norm_layer")[:1]
    a = case.arrays
    bn = BatchNormalization(momentum=case.params["momentum"])
    bn.build(a["x"].shape)
    bn.set_weights([a["gamma"], a["beta"], np.zeros(4), np.ones(4)])
    y = bn(Tensor(a["x"]), training=True, mask=Tensor(a["mask"]))
    np.testing.assert_allclose(y.numpy(), a["y"], atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), a["moving_mean"], atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), a["moving_variance"], atol=1e-5)


def test_bn_masked_gradients():
    x = _x(3, 5, 2).astype(np.float64)
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 1, 0, 1]], bool)

    def fn(t):
        bn = BatchNormalization(dtype="float64", center=False, scale=False)
        return bn(t, training=True, mask=Tensor(mask))

    check_gradients(fn, [x], atol=1e-5)


def test_bn_mask_from_embedding_is_used():
    from core.layers.embedding import Embedding

    ids = np.array([[3, 1, 0, 0], [2, 2, 5, 0]])
    emb = Embedding(6, 3, mask_zero=True)
    h = emb(ids)
    bn = BatchNormalization(momentum=0.0)
    bn(h, training=True)
    keep = ids != 0
    np.testing.assert_allclose(bn.moving_mean.numpy(), h.numpy()[keep].mean(0), atol=1e-5)


def test_bn_renorm_matches_keras():
    case = next(c for c in load_cases("layers_misc", op="batch_norm_layer") if c.name == "bn_renorm_train")
    p, a = case.params, case.arrays
    bn = BatchNormalization(momentum=p["momentum"], renorm=True, renorm_clipping=p["renorm_clipping"],
                            renorm_momentum=p["renorm_momentum"])
    bn.build(a["x2"].shape)
    assert [w.name for w in bn.weights] == p["weight_names"]
    bn.gamma.assign(a["gamma"])
    bn.beta.assign(a["beta"])
    np.testing.assert_allclose(bn(a["x2"], training=True).numpy(), a["y2"], atol=1e-5)
    np.testing.assert_allclose(bn(a["x3"], training=True).numpy(), a["y3"], atol=1e-5)
    np.testing.assert_allclose(bn(a["x3"], training=False).numpy(), a["y_inf"], atol=1e-5)
    for i, w in enumerate(bn.weights):
        np.testing.assert_allclose(w.numpy(), a[f"w{i}"], atol=1e-5, err_msg=w.name)


def test_bn_config_round_trip_and_same_outputs():
    bn = BatchNormalization(axis=-1, momentum=0.7, epsilon=1e-2, center=False, gamma_initializer="random_normal",
                            gamma_regularizer="l2", name="bnx")
    x = _x(4, 3)
    y = bn(x, training=True)
    cfg = bn.get_config()
    keras_keys = {"name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
                  "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
                  "gamma_regularizer", "beta_constraint", "gamma_constraint", "synchronized", "renorm",
                  "renorm_clipping", "renorm_momentum"}
    assert keras_keys <= set(cfg)
    clone = BatchNormalization.from_config(cfg)
    assert clone.get_config() == cfg
    clone.build(x.shape)
    clone.set_weights(bn.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), bn(x).numpy(), atol=1e-6)
    assert y.shape == tuple(bn.compute_output_shape(x.shape))
    assert len(bn.losses) == 1  # gamma_regularizer


def test_bn_symbolic_output_shape():
    inp = Input((7, 3))
    out = BatchNormalization()(inp)
    assert out.shape == (None, 7, 3)


def test_bn_errors():
    bn = BatchNormalization()
    bn(_x(2, 3))
    with pytest.raises(ValueError, match=r"3.*\(2, 4\)|\(2, 4\)"):
        bn(_x(2, 4))
    bn1 = BatchNormalization(axis=1)
    bn1(_x(2, 3, 5))
    with pytest.raises(ValueError, match=r"axis 1 of size 3.*\(2, 4, 5\)"):
        bn1(_x(2, 4, 5))
    with pytest.raises(ValueError, match="out of bounds"):
        BatchNormalization(axis=3)(_x(2, 3))
    with pytest.raises(ValueError, match="invalid keys"):
        BatchNormalization(renorm=True, renorm_clipping={"rmx": 1})
    with pytest.raises(ValueError, match="one dimension less"):
        BatchNormalization()(_x(2, 3, 4), training=True, mask=Tensor(np.ones((2, 3, 4), bool)))


# --------------------------------------------------------------------------- LayerNormalization
def test_ln_matches_numpy_and_weights():
    x = _x(4, 5, 6)
    ln = LayerNormalization(name="ln")
    ln.build(x.shape)
    g, b = rng.random(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    ln.set_weights([g, b])
    y = ln(x).numpy()
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * g + b
    np.testing.assert_allclose(y, want, atol=1e-5)
    assert [w.path for w in ln.weights] == ["ln/gamma", "ln/beta"]
    assert ln.get_config()["axis"] == [-1]


def test_ln_multiple_axes_and_no_center():
    x = _x(3, 4, 5)
    ln = LayerNormalization(axis=(2, 1), center=False)
    y = ln(x).numpy()
    assert [w.shape for w in ln.weights] == [(4, 5)]
    want = (x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, want, atol=1e-5)
    assert ln.axis == [1, 2]


def test_ln_rms_scaling_matches_keras():
    (case,) = load_cases("layers_misc", op="layer_norm_layer")
    with pytest.warns(UserWarning, match="deprecated"):
        ln = LayerNormalization(rms_scaling=True)
    ln.build(case.arrays["x"].shape)
    assert [w.name for w in ln.weights] == ["gamma"]
    ln.set_weights([case.arrays["gamma"]])
    np.testing.assert_allclose(ln(case.arrays["x"]).numpy(), case.arrays["y"], atol=1e-5)


def test_ln_gradients():
    x = _x(3, 4).astype(np.float64)
    ln = LayerNormalization(dtype="float64", gamma_initializer="random_normal", beta_initializer="random_normal")
    check_gradients(lambda t: ln(t), [x])
    ln2 = LayerNormalization(axis=(1, 2), dtype="float64", gamma_initializer="random_normal")
    check_gradients(lambda t: ln2(t), [_x(2, 3, 4).astype(np.float64)])


def test_ln_config_round_trip_and_errors():
    ln = LayerNormalization(axis=-1, epsilon=1e-5, beta_initializer="random_uniform")
    x = _x(2, 3)
    ln(x)
    cfg = ln.get_config()
    clone = LayerNormalization.from_config(cfg)
    clone.build(x.shape)
    clone.set_weights(ln.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), ln(x).numpy(), atol=1e-6)
    assert clone.get_config() == cfg
    assert ln.compute_output_shape((None, 3)) == (None, 3)
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        ln(_x(2, 4))
    with pytest.raises(TypeError, match="axis"):
        LayerNormalization(axis="last")
