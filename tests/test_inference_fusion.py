"""Inference fusion in Functional models (core/models/inference_fusion.py) and the rewrite pass that
turns it into steps (core/models/graph_rewrites.py): which chains are
fused, and that predict equals the layer-by-layer computation."""
import numpy as np
import pytest

from core import Tensor
from core import layers as L
from core.autodiff import no_grad
from core.models import Model
from core.models import graph_rewrites as GR
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


# --------------------------------------------------------------------------- the rewrite pass (graph_rewrites)
def kinds(steps):
    return [(type(s).__name__, tuple(n.layer.name for n in getattr(s, "nodes", None) or
                                     ([s.add, s.relu] if isinstance(s, GR.AddReluStep) else [s.node])))
            for s in steps]


def test_inference_steps_fuse_the_chains_and_keep_every_node_once():
    model = graph()
    steps = GR.rewrite(model, inference=True)
    fused = [k for k in kinds(steps) if k[0] != "NodeStep"]
    assert sorted(fused) == sorted([("AddReluStep", ("add", "r2")), ("ConvChainStep", ("c1", "bn1", "r1")),
                                    ("ConvChainStep", ("c2", "bn2")), ("ConvChainStep", ("c3", "r3")),
                                    ("ConvChainStep", ("c6", "bn6"))])
    covered = [name for _, names in kinds(steps) for name in names]
    assert sorted(covered) == sorted(n.layer.name for n in model._nodes)  # each node in exactly one step


def test_training_steps_keep_only_the_conv_pool_pairs():
    inp = L.Input((8, 8, 2))
    h = L.MaxPooling2D(2, name="p1")(L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp))
    h = L.BatchNormalization(name="bn")(L.Conv2D(4, 3, padding="same", name="c2")(h))
    model = Model(inp, L.GlobalAveragePooling2D(name="gap")(h))
    train = kinds(GR.rewrite(model, inference=False))
    assert train == [("ConvPoolStep", ("c1", "p1")), ("NodeStep", ("c2",)), ("NodeStep", ("bn",)),
                     ("NodeStep", ("gap",))]
    infer = kinds(GR.rewrite(model, inference=True))
    assert ("ConvChainStep", ("c2", "bn")) in infer and ("ConvPoolStep", ("c1", "p1")) in infer
    assert model._steps(True) is model._steps(True) and model._steps(True) is not model._steps(False)


def test_predict_equals_layer_by_layer_and_frees_what_it_read():
    model = graph()
    randomize(model)
    x = rng.normal(size=(3, 9, 8, 3)).astype(np.float32)
    got = model.predict(x, verbose=0)
    for a, b in zip(got, layer_by_layer(model, x)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    values = {id(model._flat_inputs[0]): Tensor(x)}
    uses = dict(model._uses)
    for step in GR.rewrite(model, inference=True):
        step(values, uses)
    assert set(values) == {id(t) for t in model._flat_outputs}  # every intermediate value dropped


def test_a_masked_input_runs_the_chain_node_by_node():
    inp = L.Input((5, 6, 2))
    model = Model(inp, L.ReLU(name="r")(L.Conv2D(2, 1, name="c")(inp)))
    randomize(model)
    x = rng.normal(size=(2, 5, 6, 2)).astype(np.float32)
    masked = Tensor(x)
    masked._keras_mask = np.ones((2, 5, 6), bool)
    assert model._steps(True)[0].fused(masked) is None  # the chain's own check
    with no_grad():
        got = model(masked, training=False).numpy()
    np.testing.assert_allclose(got, layer_by_layer(model, x), rtol=1e-6, atol=1e-6)
