"""Inference fusion in Functional models (core/models/inference_fusion.py): which chains are
fused, and that predict equals the layer-by-layer computation."""
import numpy as np
import pytest

from core import layers as L
from core.autodiff import no_grad
from core.models import Model
from core.models.inference_fusion import build_plan

rng = np.random.default_rng(0)


def randomize(model):
    """Random weights and BN statistics (the initial ones would hide a wrong fold)."""
    for w in model.weights:
        v = rng.normal(size=w.shape).astype(np.float32) * 0.5
        if "variance" in w.name:
            v = np.abs(v) + 0.2
        w.assign(v)


def layer_by_layer(model, x):
    """The unfused outputs: a forward pass that records a graph (fusion runs only without one)."""
    from core import Tensor

    out = model(Tensor(x, requires_grad=True, dtype=x.dtype), training=False)
    return [o.numpy() for o in out] if isinstance(out, list) else out.numpy()


class MyConv(L.Conv2D):
    pass


def graph():
    inp = L.Input((9, 8, 3))
    a = L.Conv2D(6, 3, padding="same", name="c1")(inp)
    a = L.BatchNormalization(name="bn1")(a)
    a = L.Activation("relu", name="r1")(a)                       # conv -> BN -> relu: fused
    b = L.Conv2D(6, 1, use_bias=False, name="c2")(inp)
    b = L.BatchNormalization(scale=False, epsilon=1e-5, name="bn2")(b)  # conv -> BN: fused
    s = L.ReLU(name="r2")(L.Add(name="add")([a, b]))               # add -> relu: fused
    c = L.Conv2D(6, 3, strides=2, padding="same", name="c3")(s)
    c = L.ReLU(name="r3")(c)                                       # conv -> relu: fused
    d = L.Conv2D(4, 3, name="c4")(c)                               # used twice: not fused
    e = L.ReLU(max_value=6.0, name="r4")(L.BatchNormalization(name="bn4")(d))  # ReLU6 not fused
    f = L.Activation("relu", name="r5")(L.BatchNormalization(name="bn5")(MyConv(4, 1, name="c5")(d)))
    out1 = L.GlobalAveragePooling2D()(L.Concatenate()([e, f]))
    g = L.Conv2D(3, 1, name="c6")(c)
    out2 = L.BatchNormalization(name="bn6")(g)                     # a model output: BN fused, still output
    return Model(inp, [out1, out2, d])


def test_plan_fuses_exactly_the_eligible_chains():
    model = graph()
    plan = build_plan(model)
    chains = sorted((kind, tuple(n.layer.name for n in nodes)) for kind, nodes in plan.values())
    assert chains == sorted([("add_relu", ("add", "r2")), ("conv", ("c1", "bn1", "r1")), ("conv", ("c2", "bn2")),
                             ("conv", ("c3", "r3")), ("conv", ("c6", "bn6"))])


@pytest.mark.parametrize("batch", [1, 5])
def test_predict_equals_layer_by_layer(batch):
    model = graph()
    randomize(model)
    x = rng.normal(size=(batch, 9, 8, 3)).astype(np.float32)
    fused = model.predict(x, verbose=0)
    ref = layer_by_layer(model, x)
    for a, b in zip(fused, ref):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert (fused[0] > 0).any()


def test_current_weights_are_folded_at_every_call():
    model = graph()
    randomize(model)
    x = rng.normal(size=(2, 9, 8, 3)).astype(np.float32)
    before = model.predict(x, verbose=0)
    bn = model.get_layer("bn1")
    bn.moving_mean.assign(bn.moving_mean.numpy() + 1.0)
    model.get_layer("c1").kernel.assign(model.get_layer("c1").kernel.numpy() * 2)
    after = model.predict(x, verbose=0)
    assert np.abs(after[0] - before[0]).max() > 1e-3
    np.testing.assert_allclose(after[0], layer_by_layer(model, x)[0], rtol=1e-5, atol=1e-5)


def test_training_and_gradients_are_not_fused():
    """In training the BN uses batch statistics: no fold (and fit still learns)."""
    model = graph()
    randomize(model)
    x = rng.normal(size=(4, 9, 8, 3)).astype(np.float32)
    with no_grad():
        train_out = model(x, training=True)[0].numpy()
    np.testing.assert_raises(AssertionError, np.testing.assert_allclose, train_out,
                             model.predict(x, verbose=0)[0], rtol=1e-4)


def test_float64_models():
    inp = L.Input((6, 6, 2), dtype="float64")
    y = L.BatchNormalization(dtype="float64")(L.Conv2D(3, 3, dtype="float64")(inp))
    mixed = Model(inp, L.Activation("relu")(y))  # a float32 ReLU casts its input: not fused
    assert [len(c) for _, c in build_plan(mixed).values()] == [2]
    randomize(mixed)
    out = mixed.predict(rng.normal(size=(2, 6, 6, 2)), verbose=0)
    assert out.dtype == np.float32
    model = Model(inp, L.Activation("relu", dtype="float64")(y))
    randomize(model)
    x = rng.normal(size=(2, 6, 6, 2))
    assert len(build_plan(model)) == 1
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, layer_by_layer(model, x), rtol=1e-12, atol=1e-12)
