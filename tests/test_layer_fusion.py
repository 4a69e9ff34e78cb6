"""Layer pairs that Sequential and Functional models run as one op (core/models/layer_fusion.py):
which pairs are fused, and that calls, training and prediction equal the layer-by-layer
computation."""
import numpy as np
import pytest

from core import Tensor, layers as L, regularizers
from core.models import Model, Sequential
from core.models import layer_fusion as LF

rng = np.random.default_rng(0)


def counted(monkeypatch, name):
    """A list that gets an item at each call of ``layer_fusion.<name>``."""
    calls = []
    real = getattr(LF, name)
    monkeypatch.setattr(LF, name, lambda *a: calls.append(1) or real(*a))
    return calls


@pytest.fixture
def fused_calls(monkeypatch):
    """The fused conv + pool calls the models make."""
    return counted(monkeypatch, "run_conv_pool")


def randomized(model, seed):
    r = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(r.normal(size=w.shape).astype(np.float32) * 0.3)
    return model


def cnn(conv_kwargs=None, pool_kwargs=None, seed=1):
    model = Sequential([L.Input((12, 11, 2)),
                        L.Conv2D(4, 3, **({"activation": "relu"} | (conv_kwargs or {}))),
                        L.MaxPooling2D(**(pool_kwargs or {})),
                        L.Conv2D(3, 3, padding="same", activation="relu"),
                        L.MaxPooling2D(),
                        L.Flatten(), L.Dense(3, activation="softmax")])
    return randomized(model, seed)


def unfused(monkeypatch, predicate="conv_pool_fusable"):
    monkeypatch.setattr(LF, predicate, lambda *a: False)


def fused_then_unfused(monkeypatch, run, predicate="conv_pool_fusable"):
    """``[run(True), run(False)]``: with the pairs fused, then with ``layer_fusion.<predicate>``
    refusing every pair."""
    out = []
    for fuse in (True, False):
        with monkeypatch.context() as m:
            if not fuse:
                unfused(m, predicate)
            out.append(run(fuse))
    return out


def functional_cnn(seed=1):
    """The same CNN as a Functional graph."""
    inp = L.Input((12, 11, 2))
    h = L.MaxPooling2D()(L.Conv2D(4, 3, activation="relu")(inp))
    h = L.MaxPooling2D()(L.Conv2D(3, 3, padding="same", activation="relu")(h))
    model = Model(inp, L.Dense(3, activation="softmax")(L.Flatten()(h)))
    return randomized(model, seed)


@pytest.mark.parametrize("build", [cnn, functional_cnn])
def test_calls_fit_and_predict_equal_the_layer_by_layer_model(monkeypatch, fused_calls, build):
    x = rng.normal(size=(10, 12, 11, 2)).astype(np.float32)
    y = rng.integers(0, 3, 10)

    def run(fuse):
        model = build()
        out = model(Tensor(x)).numpy()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        hist = model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        result = (out, model.predict(x, verbose=0), hist.history["loss"], model.get_weights())
        if fuse:
            # 2 pairs x (at least 1 call + 2 epochs x 3 batches + 1 predict batch)
            assert len(fused_calls) >= 16 and len(fused_calls) % 2 == 0
            fused_calls.clear()
        return result

    (o1, p1, l1, w1), (o2, p2, l2, w2) = fused_then_unfused(monkeypatch, run)
    assert not fused_calls
    np.testing.assert_allclose(o1, o2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(l1, l2, rtol=1e-5)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


class MyConv(L.Conv2D):
    pass


@pytest.mark.parametrize("conv_kwargs,pool_kwargs", [
    ({"strides": 2, "padding": "same"}, {}),
    ({"dilation_rate": 2}, {}),
    ({"activation": "tanh"}, {}),
    ({"activity_regularizer": regularizers.L2(0.1)}, {}),
    ({"dtype": "float64"}, {}),  # the input is cast to the layer's float64: no fusion
    ({}, {"pool_size": 3}),
    ({}, {"pool_size": 2, "strides": 1}),
    ({}, {"padding": "same"}),
])
def test_pairs_that_are_not_fused(monkeypatch, fused_calls, conv_kwargs, pool_kwargs):
    x = rng.normal(size=(3, 12, 11, 2)).astype(np.float32)
    model = cnn(conv_kwargs, pool_kwargs)
    out = model(Tensor(x)).numpy()
    assert len(fused_calls) == 1  # only the second pair
    fused_calls.clear()
    unfused(monkeypatch)
    np.testing.assert_allclose(out, model(Tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    assert not fused_calls
    if "activity_regularizer" in conv_kwargs:
        assert len(model.losses) == 1  # the regularizer still sees the convolution's output


def test_predicate_refuses_what_layer_call_would_treat_differently():
    conv, pool = L.Conv2D(4, 3), L.MaxPooling2D()
    x = Tensor(rng.normal(size=(2, 8, 8, 2)).astype(np.float32))
    assert not LF.conv_pool_fusable(conv, pool, x)  # not built yet
    conv.build((None, 8, 8, 2))
    assert LF.conv_pool_fusable(conv, pool, x)
    masked = Tensor(x.numpy())
    masked._keras_mask = np.ones((2, 8, 8), bool)
    assert not LF.conv_pool_fusable(conv, pool, masked)
    sub = MyConv(4, 3)
    sub.build((None, 8, 8, 2))
    assert not LF.conv_pool_fusable(sub, pool, x)
    hooked = L.MaxPooling2D()
    hooked.call = lambda inputs: L.MaxPooling2D.call(hooked, inputs)  # as a profiler would wrap it
    assert not LF.conv_pool_fusable(conv, hooked, x)
    assert not LF.conv_pool_fusable(conv, pool, x.numpy())  # not a Tensor
    assert not LF.conv_pool_fusable(conv, pool, Tensor(rng.normal(size=(2, 3, 3, 2)).astype(np.float32)))  # 1x1
    with pytest.raises(ValueError, match="is incompatible: expected last dimension 2"):  # the layer's own check
        LF.run_conv_pool(conv, pool, Tensor(np.ones((2, 8, 8, 3), np.float32)))


def test_functional_pairs_only_where_the_pool_alone_reads_the_convolution(fused_calls):
    inp = L.Input((10, 10, 2))
    a = L.Conv2D(3, 3, activation="relu", name="a")(inp)
    pa = L.MaxPooling2D(name="pa")(a)
    other = L.GlobalAveragePooling2D()(a)  # a second reader of a: not fused
    b = L.Conv2D(3, 3, name="b")(inp)
    pb = L.MaxPooling2D(name="pb")(b)  # fused
    c = L.Conv2D(3, 3, name="c")(inp)
    pc = L.MaxPooling2D(name="pc")(c)  # c is also a model output: not fused
    model = Model(inp, [L.Flatten()(pa), other, L.Flatten()(pb), c, L.Flatten()(pc)])
    pairs = LF.conv_pool_pairs(model)
    assert sorted(n.layer.name for n in pairs.values()) == ["pb"]
    x = rng.normal(size=(2, 10, 10, 2)).astype(np.float32)
    outs = [o.numpy() for o in model(Tensor(x))]
    assert len(fused_calls) == 1
    conv, pool = model.get_layer("b"), model.get_layer("pb")
    np.testing.assert_allclose(outs[2], pool(conv(Tensor(x))).numpy().reshape(2, -1), rtol=1e-6, atol=1e-6)


def test_layers_that_winograd_runs_and_large_images_are_not_fused():
    conv, pool = L.Conv2D(256, 3), L.MaxPooling2D()
    conv.build((None, 6, 6, 256))
    assert not LF.conv_pool_fusable(conv, pool, Tensor(np.zeros((1, 6, 6, 256), np.float32)))
    narrow = L.Conv2D(255, 3)
    narrow.build((None, 6, 6, 256))
    assert LF.conv_pool_fusable(narrow, pool, Tensor(np.zeros((1, 6, 6, 256), np.float32)))
    big = L.Conv2D(8, 3, padding="same")
    big.build((None, 112, 112, 64))  # 112 x 112 x 576 floats: 29 MB an image
    assert not LF.conv_pool_fusable(big, pool, Tensor(np.zeros((1, 112, 112, 64), np.float32)))
    assert LF.conv_pool_fusable(big, pool, Tensor(np.zeros((1, 32, 32, 64), np.float32)))


def test_only_cpu_arrays_are_fused(monkeypatch):
    """The blocks are sized for a CPU's caches: an input whose array module is not NumPy (CuPy)
    runs the layers one by one."""
    import types

    conv, pool = L.Conv2D(4, 3), L.MaxPooling2D()
    conv.build((None, 8, 8, 2))
    x = Tensor(np.zeros((1, 8, 8, 2), np.float32))
    assert LF.conv_pool_fusable(conv, pool, x)
    monkeypatch.setattr(LF, "np", types.SimpleNamespace(dtype=np.dtype))  # x.xp is then another module
    assert not LF.conv_pool_fusable(conv, pool, x)


# --------------------------------------------------------------------------- batch norm -> ReLU
@pytest.fixture
def bn_relu_calls(monkeypatch):
    """The fused batch norm + ReLU calls the models make."""
    return counted(monkeypatch, "run_bn_relu")


def randomized_bn(model, seed):
    """Random weights, and moving variances that are variances (positive)."""
    randomized(model, seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.moving_variance.assign(np.abs(layer.moving_variance.numpy()) + 0.5)
    return model


def bn_cnn(seed=2, relu=L.ReLU):
    model = Sequential([L.Input((8, 7, 3)), L.Conv2D(5, 3), L.BatchNormalization(momentum=0.8), relu(),
                        L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), relu(),
                        L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")])
    return randomized_bn(model, seed)


def functional_bn_cnn(seed=2):
    """A residual-style graph: BN -> ReLU pairs and a BN whose output is read twice (not fused)."""
    inp = L.Input((8, 7, 3))
    h = L.ReLU()(L.BatchNormalization(momentum=0.8)(L.Conv2D(5, 3, padding="same")(inp)))
    s = L.BatchNormalization(name="shared")(L.Conv2D(5, 1)(h))
    r = L.Activation("relu")(s)
    h = L.Add()([r, s])
    model = Model(inp, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(h)))
    return randomized_bn(model, seed)


def _stats(model):
    return [l.moving_mean.numpy().copy() for l in model.layers if isinstance(l, L.BatchNormalization)] + \
        [l.moving_variance.numpy().copy() for l in model.layers if isinstance(l, L.BatchNormalization)]


@pytest.mark.parametrize("build,pairs", [(bn_cnn, 2), (lambda: bn_cnn(relu=lambda: L.Activation("relu")), 2),
                                         (functional_bn_cnn, 1)])
def test_bn_relu_fit_equals_the_layer_by_layer_model(monkeypatch, bn_relu_calls, build, pairs):
    """Training with the pairs fused gives the layer-by-layer losses, weights and moving statistics;
    calls outside training (predict, a plain call) run the layers one by one."""
    x = rng.normal(size=(10, 8, 7, 3)).astype(np.float32)
    y = rng.integers(0, 3, 10)

    def run(fuse):
        model = build()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        hist = model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        if fuse:
            assert len(bn_relu_calls) == pairs * 2 * 3  # pairs x 2 epochs x 3 batches
            bn_relu_calls.clear()
        result = (hist.history["loss"], model.get_weights(), _stats(model), model.predict(x, verbose=0),
                  model(Tensor(x)).numpy())
        assert not bn_relu_calls  # predict and the call without training=True: not fused
        return result

    for a, b in zip(*fused_then_unfused(monkeypatch, run, "bn_relu_fusable")):
        for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
            assert np.isfinite(u).all()
            np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)


def test_bn_relu_predicate_refuses_what_layer_call_would_treat_differently(monkeypatch):
    from core.layers.base import _call_stack

    bn, act = L.BatchNormalization(), L.ReLU()
    x = Tensor(rng.normal(size=(4, 5, 5, 3)).astype(np.float32))
    stack = _call_stack()
    stack.append(True)  # inside a training call
    try:
        assert not LF.bn_relu_fusable(bn, act, x)  # not built yet
        bn.build((None, 5, 5, 3))
        assert LF.bn_relu_fusable(bn, act, x)
        assert LF.bn_relu_fusable(bn, L.Activation("relu"), x)
        for other in (L.ReLU(max_value=6.0), L.ReLU(negative_slope=0.1), L.Activation("gelu"), L.LeakyReLU()):
            assert not LF.bn_relu_fusable(bn, other, x)
        masked = Tensor(x.numpy())
        masked._keras_mask = np.ones((4, 5, 5), bool)
        assert not LF.bn_relu_fusable(bn, act, masked)
        assert not LF.bn_relu_fusable(bn, act, x.numpy())
        assert not LF.bn_relu_fusable(bn, act, Tensor(x.numpy().astype(np.float64)))  # BN would cast it
        hooked = L.ReLU()
        hooked.call = lambda inputs: L.ReLU.call(hooked, inputs)
        assert not LF.bn_relu_fusable(bn, hooked, x)
        bn.trainable = False  # Keras: a frozen BN normalizes with its moving statistics
        assert not LF.bn_relu_fusable(bn, act, x)
        bn.trainable = True
        renorm = L.BatchNormalization(renorm=True)
        renorm.build((None, 5, 5, 3))
        assert not LF.bn_relu_fusable(renorm, act, x)
        with pytest.raises(ValueError, match="expected rank 4 with axis -1 of size 3"):  # the layer's own check
            LF.run_bn_relu(bn, act, Tensor(np.ones((4, 5, 5, 2), np.float32)))
        stack[-1] = False  # a call with training=False
        assert not LF.bn_relu_fusable(bn, act, x)
    finally:
        stack.pop()
    assert not LF.bn_relu_fusable(bn, act, x)  # outside any call: BN's default is inference


def test_bn_relu_functional_pairs_only_where_the_relu_alone_reads_the_normalization():
    model = functional_bn_cnn()
    pairs = LF.bn_relu_pairs(model)
    assert [n.layer.__class__.__name__ for n in pairs.values()] == ["ReLU"]  # not the shared BN's


def test_same_padded_pool_of_an_even_map_is_fused(monkeypatch, fused_calls):
    """keras-io's autoencoder pools with padding="same": on an even-sized map that pads nothing, so
    the pair is fused, with the layer-by-layer values and gradients (an odd map is not fused:
    test_pairs_that_are_not_fused)."""
    x = rng.normal(size=(4, 10, 8, 2)).astype(np.float32)

    def build():
        inp = L.Input((10, 8, 2))
        h = L.MaxPooling2D((2, 2), padding="same")(L.Conv2D(3, 3, activation="relu", padding="same")(inp))
        return randomized(Model(inp, L.Dense(2)(L.Flatten()(h))), 3)

    def run(fuse):
        model = build()
        t = Tensor(x, requires_grad=True)
        y = model(t, training=True)
        y.backward(np.ones(y.shape, np.float32))
        assert len(fused_calls) == int(fuse)
        fused_calls.clear()
        return [y.numpy(), t.grad] + [w.grad for w in model.trainable_weights]

    for a, b in zip(*fused_then_unfused(monkeypatch, run)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
