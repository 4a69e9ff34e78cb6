"""ONNX export of every core layer that is neither recurrent nor attention: each converter is checked
by building a tiny model with random weights, exporting it, running ``onnx.checker`` and comparing
onnxruntime's outputs with ``model.predict`` (rtol = atol = 1e-4) at batch sizes 1 and 3 (the batch
dimension is dynamic). Also: the graph passes (batch-norm folding, transpose cancellation) never
change results, metadata, and clear errors for layers without a mapping."""
from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from core import activations as A  # noqa: E402
from core import layers as L  # noqa: E402
from core import ops  # noqa: E402
from core.export import OnnxExportError, export_onnx  # noqa: E402
from core.layers.base import Layer  # noqa: E402
from core.models import Model, Sequential  # noqa: E402

from tests.onnx_helpers import ort_session  # noqa: E402

TOL = dict(rtol=1e-4, atol=1e-4)


def _feed(sess, x):
    xs = x if isinstance(x, (list, tuple)) else [x]
    return {i.name: np.asarray(v) for i, v in zip(sess.get_inputs(), xs)}


def _run(sess, x):
    return sess.run(None, _feed(sess, x))


def _predict(model, x):
    out = model.predict(x if not isinstance(x, tuple) else list(x), verbose=0)
    return out if isinstance(out, list) else [out]


def check(model, make, tmp_path, batches=(1, 3), name="m.onnx", **kw):
    """Export ``model``, check the file, compare onnxruntime with predict; returns the ONNX model."""
    path = tmp_path / name
    export_onnx(model, path, **kw)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    sess = ort_session(path, threads=1)
    for b in batches:
        x = make(b)
        got, want = _run(sess, x), _predict(model, x)
        assert len(got) == len(want)
        for gv, wv in zip(got, want):
            assert gv.shape == wv.shape
            np.testing.assert_allclose(gv, wv, **TOL)
    return proto


def rand(*shape, scale=1.0, seed=0):
    return (np.random.default_rng(seed + sum(shape)).normal(size=shape) * scale).astype(np.float32)


def single(layer_or_layers, shape, tmp_path, scale=1.0, **kw):
    inp = L.Input(shape)
    x = inp
    for layer in (layer_or_layers if isinstance(layer_or_layers, list) else [layer_or_layers]):
        x = layer(x)
    model = Model(inp, x)
    return check(model, lambda b: rand(b, *shape, scale=scale), tmp_path, **kw)


def op_types(proto):
    out = {}
    for n in proto.graph.node:
        out[n.op_type] = out.get(n.op_type, 0) + 1
    return out


def randomize_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(size=c).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.3, 2.0, size=c).astype(np.float32))
            if layer.gamma is not None:
                layer.gamma.assign(rng.normal(size=c).astype(np.float32))
            if layer.beta is not None:
                layer.beta.assign(rng.normal(size=c).astype(np.float32))


# =========================================================================== dense and activations
def _onnx_names():
    from core.export.onnx_layers import onnx_activation_names

    return onnx_activation_names()


@pytest.mark.parametrize("activation", _onnx_names() + ["ops.gelu"])
def test_dense_activations(tmp_path, activation):
    act = ops.gelu if activation == "ops.gelu" else activation
    single(L.Dense(5, activation=act), (7,), tmp_path, scale=3.0)


def test_dense_rank3_no_bias(tmp_path):
    single(L.Dense(4, use_bias=False), (5, 6), tmp_path)


def test_softplus_large_values(tmp_path):
    inp = L.Input((4,))
    model = Model(inp, L.Activation("softplus")(inp))
    proto_path = tmp_path / "sp.onnx"
    export_onnx(model, proto_path)
    x = np.array([[-100.0, -20.0, 20.0, 80.0]], np.float32)
    np.testing.assert_allclose(_run(ort_session(proto_path, threads=1), x)[0], _predict(model, x)[0], **TOL)


@pytest.mark.parametrize("equation,out_shape,bias_axes,in_shape", [
    ("abc,cde->abde", (5, 2, 3), "de", (5, 6)),
    ("ab,bc->ac", (4,), "c", (6,)),
    ("abcd,cde->abe", (4,), None, (3, 2, 5)),
    ("...b,bc->...c", (4,), "c", (3, 6)),
])
def test_einsum_dense(tmp_path, equation, out_shape, bias_axes, in_shape):
    single(L.EinsumDense(equation, out_shape, bias_axes=bias_axes, activation="tanh"), in_shape, tmp_path)


@pytest.mark.parametrize("layer", [
    lambda: L.ReLU(), lambda: L.ReLU(max_value=6.0), lambda: L.ReLU(max_value=2.5),
    lambda: L.ReLU(negative_slope=0.1), lambda: L.ReLU(threshold=0.5),
    lambda: L.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.5), lambda: L.ReLU(negative_slope=0.2, max_value=1.0),
    lambda: L.LeakyReLU(0.3), lambda: L.ELU(0.7), lambda: L.Softmax(), lambda: L.Softmax(axis=1),
    lambda: L.Activation("selu"), lambda: L.Activation("hard_sigmoid"), lambda: L.Activation("log_softmax"),
    lambda: L.Identity(),
], ids=["relu", "relu6", "relu_max", "relu_slope", "relu_threshold", "relu_all", "relu_slope_max", "leaky",
        "elu", "softmax", "softmax_axis1", "selu", "hard_sigmoid", "log_softmax", "identity"])
def test_activation_layers(tmp_path, layer):
    single(layer(), (4, 5), tmp_path, scale=3.0)


def test_softmax_multiple_axes(tmp_path):
    single(L.Softmax(axis=(1, 2)), (3, 4), tmp_path, scale=2.0)


# =========================================================================== convolutions
@pytest.mark.parametrize("kw", [
    dict(padding="valid"), dict(padding="same"), dict(padding="causal"), dict(padding="same", strides=2),
    dict(padding="valid", strides=3), dict(padding="causal", dilation_rate=2), dict(padding="same", dilation_rate=3),
    dict(padding="same", groups=2, activation="relu"),
])
def test_conv1d(tmp_path, kw):
    single(L.Conv1D(4, 3, **kw), (11, 4), tmp_path)


@pytest.mark.parametrize("kw", [
    dict(padding="valid"), dict(padding="same"), dict(padding="same", strides=2), dict(padding="valid", strides=2),
    dict(padding="same", strides=(2, 3), kernel_size=(3, 2)), dict(padding="same", dilation_rate=2),
    dict(padding="valid", dilation_rate=(2, 1)), dict(padding="same", groups=2, activation="silu"),
    dict(padding="same", strides=2, kernel_size=4, use_bias=False),
])
def test_conv2d(tmp_path, kw):
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    single(L.Conv2D(4, k, **kw), (7, 8, 4), tmp_path)


def test_conv2d_dynamic_spatial(tmp_path):
    """'same' with strides on an image size unknown at export: ONNX auto_pad SAME_UPPER."""
    inp = L.Input((None, None, 3))
    y = L.Conv2D(4, 3, strides=2, padding="same")(inp)
    y = L.MaxPooling2D(3, strides=2, padding="same")(y)
    y = L.AveragePooling2D(2, padding="same", strides=2)(y)
    model = Model(inp, L.GlobalMaxPooling2D()(y))
    path = tmp_path / "dyn.onnx"
    export_onnx(model, path)
    sess = ort_session(path, threads=1)
    for hw, b in (((9, 10), 1), ((16, 7), 3)):
        x = rand(b, *hw, 3)
        np.testing.assert_allclose(_run(sess, x)[0], _predict(model, x)[0], **TOL)


@pytest.mark.parametrize("kw", [dict(padding="valid"), dict(padding="same", strides=2, depth_multiplier=2),
                                dict(padding="same", dilation_rate=2, activation="relu6")])
def test_depthwise_conv2d(tmp_path, kw):
    single(L.DepthwiseConv2D(3, **kw), (7, 8, 3), tmp_path)


@pytest.mark.parametrize("kw", [dict(padding="valid"), dict(padding="same", strides=2, depth_multiplier=2),
                                dict(padding="same", use_bias=False)])
def test_separable_conv2d(tmp_path, kw):
    single(L.SeparableConv2D(5, 3, **kw), (7, 8, 3), tmp_path)


@pytest.mark.parametrize("kw", [
    dict(padding="valid"), dict(padding="same"), dict(padding="valid", strides=2), dict(padding="same", strides=2),
    dict(padding="same", strides=2, output_padding=1), dict(padding="valid", strides=3, output_padding=2),
    dict(padding="valid", strides=3, kernel_size=2), dict(padding="same", dilation_rate=2),
])
def test_conv2d_transpose(tmp_path, kw):
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    single(L.Conv2DTranspose(4, k, **kw), (5, 6, 3), tmp_path)


# =========================================================================== pooling
@pytest.mark.parametrize("cls", [L.MaxPooling2D, L.AveragePooling2D])
@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same"),
                                dict(pool_size=(2, 3), strides=1, padding="same"), dict(pool_size=3, strides=2)])
def test_pooling2d(tmp_path, cls, kw):
    single(cls(**kw), (7, 8, 3), tmp_path)


@pytest.mark.parametrize("cls", [L.MaxPooling1D, L.AveragePooling1D])
@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same")])
def test_pooling1d(tmp_path, cls, kw):
    single(cls(**kw), (9, 3), tmp_path)


@pytest.mark.parametrize("cls,shape", [(L.GlobalAveragePooling2D, (5, 6, 3)), (L.GlobalMaxPooling2D, (5, 6, 3)),
                                       (L.GlobalAveragePooling1D, (7, 3)), (L.GlobalMaxPooling1D, (7, 3))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(tmp_path, cls, shape, keepdims):
    single(cls(keepdims=keepdims), shape, tmp_path)


# =========================================================================== normalization
def _bn_model(kind):
    if kind == "conv":
        inp = L.Input((6, 6, 3))
        x = L.Conv2D(4, 3, padding="same")(inp)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.Conv2D(4, 3, use_bias=False)(x)
        x = L.BatchNormalization(epsilon=1e-5, center=False)(x)
    elif kind == "conv_transpose":
        inp = L.Input((4, 4, 3))
        x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(inp)
        x = L.BatchNormalization(scale=False)(x)
    elif kind == "dense":
        inp = L.Input((5,))
        x = L.Dense(4)(inp)
        x = L.BatchNormalization()(x)
        x = L.Dense(3, use_bias=False)(x)
        x = L.BatchNormalization()(x)
    elif kind == "dense_rank3":
        inp = L.Input((3, 5))
        x = L.BatchNormalization()(L.Dense(4)(inp))
    elif kind == "axis1":  # normalizing the height axis of an image: not foldable into the conv
        inp = L.Input((4, 5, 3))
        x = L.BatchNormalization(axis=1)(L.Conv2D(2, 1)(inp))
    else:  # the first layer, and a BN whose input is used twice (no folding)
        inp = L.Input((4, 4, 2))
        c = L.Conv2D(2, 1)(inp)
        x = L.Add()([L.BatchNormalization()(inp), L.BatchNormalization()(c), c])
    model = Model(inp, x)
    randomize_bn(model)
    return model


@pytest.mark.parametrize("kind", ["conv", "conv_transpose", "dense", "dense_rank3", "axis1", "shared"])
def test_batchnorm_fold_on_off(tmp_path, kind):
    model = _bn_model(kind)
    shape = model.inputs[0].shape[1:]
    make = lambda b: rand(b, *shape)  # noqa: E731
    folded = check(model, make, tmp_path, name="f.onnx")
    plain = check(model, make, tmp_path, name="p.onnx", fold_batchnorm=False)
    raw = check(model, make, tmp_path, name="r.onnx", fold_batchnorm=False, optimize=False)
    n_bn = sum(isinstance(l, L.BatchNormalization) for l in model.layers)
    assert op_types(plain).get("BatchNormalization", 0) == n_bn == op_types(raw).get("BatchNormalization", 0)
    expect_left = {"conv": 0, "conv_transpose": 0, "dense": 0, "dense_rank3": 0, "axis1": 1, "shared": 2}[kind]
    assert op_types(folded).get("BatchNormalization", 0) == expect_left
    x = make(3)
    outs = [_run(ort_session(tmp_path / n, threads=1), x)[0] for n in ("f.onnx", "p.onnx", "r.onnx")]
    np.testing.assert_allclose(outs[0], outs[1], **TOL)
    np.testing.assert_allclose(outs[1], outs[2], **TOL)


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("kw,shape", [
    (dict(), (4, 6)), (dict(axis=[1, 2]), (3, 4)), (dict(axis=1), (3, 4)), (dict(axis=[1, 3]), (3, 4, 2)),
    (dict(center=False), (6,)), (dict(scale=False, epsilon=1e-5), (6,)), (dict(rms_scaling=True), (2, 6)),
])
def test_layer_normalization(tmp_path, kw, shape):
    layer = L.LayerNormalization(**kw)
    inp = L.Input(shape)
    model = Model(inp, layer(inp))
    rng = np.random.default_rng(1)
    for w in layer.weights:
        w.assign(rng.normal(size=w.shape).astype(np.float32))
    check(model, lambda b: rand(b, *shape, scale=2.0) + 5.0, tmp_path)


# =========================================================================== identity layers
@pytest.mark.parametrize("layer,shape", [
    (lambda: L.Dropout(0.5), (5,)), (lambda: L.SpatialDropout1D(0.3), (4, 3)), (lambda: L.SpatialDropout2D(0.3),
                                                                             (3, 3, 2)),
    (lambda: L.GaussianNoise(0.5), (5,)), (lambda: L.GaussianDropout(0.3), (5,)), (lambda: L.AlphaDropout(0.3), (5,)),
    (lambda: L.ActivityRegularization(l1=0.1), (5,)), (lambda: L.RandomFlip(), (4, 4, 3)),
    (lambda: L.RandomRotation(0.2), (4, 4, 3)), (lambda: L.RandomCrop(4, 4), (4, 4, 3)),
])
def test_inference_identities(tmp_path, layer, shape):
    proto = single([L.Dense(shape[-1]), layer()], shape, tmp_path)
    assert set(op_types(proto)) == {"MatMul", "Add"}


# =========================================================================== reshaping
@pytest.mark.parametrize("layer,shape", [
    (lambda: L.Flatten(), (3, 4, 2)), (lambda: L.Reshape((-1, 2)), (3, 4)), (lambda: L.Reshape((2, 6))
                                                                           , (3, 4)),
    (lambda: L.Permute((2, 1)), (3, 4)), (lambda: L.Permute((3, 1, 2)), (2, 3, 4)), (lambda: L.RepeatVector(3), (4,)),
    (lambda: L.Cropping1D((1, 2)), (6, 3)), (lambda: L.Cropping1D((2, 0)), (6, 3)),
    (lambda: L.Cropping2D(((1, 0), (2, 1))), (5, 6, 2)), (lambda: L.ZeroPadding1D((1, 2)), (4, 3)),
    (lambda: L.ZeroPadding2D(((1, 0), (2, 3))), (3, 4, 2)), (lambda: L.UpSampling1D(3), (4, 2)),
    (lambda: L.UpSampling2D((2, 3)), (3, 4, 2)), (lambda: L.UpSampling2D(2, interpolation="bilinear"), (3, 5, 2)),
], ids=["flatten", "reshape_auto", "reshape", "permute", "permute3", "repeat", "crop1d", "crop1d_start", "crop2d",
        "pad1d", "pad2d", "up1d", "up2d", "up2d_bilinear"])
def test_reshaping(tmp_path, layer, shape):
    single(layer(), shape, tmp_path)


def test_upsampling_and_cropping_dynamic_size(tmp_path):
    inp = L.Input((None, None, 2))
    y = L.UpSampling2D(2, interpolation="bilinear")(inp)
    y = L.UpSampling2D((1, 2))(y)
    y = L.Cropping2D(((1, 1), (0, 2)))(y)
    y = L.ZeroPadding2D(1)(y)
    model = Model(inp, L.GlobalAveragePooling2D()(y))
    path = tmp_path / "dyn.onnx"
    export_onnx(model, path)
    sess = ort_session(path, threads=1)
    for hw in ((3, 4), (6, 5)):
        x = rand(2, *hw, 2)
        np.testing.assert_allclose(_run(sess, x)[0], _predict(model, x)[0], **TOL)


# =========================================================================== preprocessing
@pytest.mark.parametrize("kw", [dict(interpolation="bilinear"), dict(interpolation="nearest"),
                                dict(interpolation="bicubic"), dict(interpolation="area"),
                                dict(crop_to_aspect_ratio=True), dict(pad_to_aspect_ratio=True, fill_value=0.5)])
def test_resizing_static(tmp_path, kw):
    single(L.Resizing(5, 7, **kw), (9, 6, 3), tmp_path)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resizing_dynamic_size(tmp_path, interpolation):
    inp = L.Input((None, None, 3))
    model = Model(inp, L.Resizing(6, 5, interpolation=interpolation)(inp))
    path = tmp_path / "rs.onnx"
    export_onnx(model, path)
    sess = ort_session(path, threads=1)
    for hw in ((9, 4), (3, 7), (12, 10)):
        x = rand(2, *hw, 3)
        np.testing.assert_allclose(_run(sess, x)[0], _predict(model, x)[0], **TOL)


def test_rescaling_normalization(tmp_path):
    data = rand(20, 4, 3, scale=3.0) + 2.0
    norm = L.Normalization()
    norm.adapt(data)
    inv = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.0, 1.0], invert=True)
    inp = L.Input((4, 3))
    y = norm(L.Rescaling(0.5, offset=1.0)(inp))
    y = inv(L.Rescaling(np.array([1.0, 2.0, 0.5]))(y))
    model = Model(inp, L.Normalization(axis=None, mean=1.5, variance=2.0)(y))
    check(model, lambda b: rand(b, 4, 3, scale=3.0), tmp_path)


def test_rescaling_uint8_images(tmp_path):
    inp = L.Input((4, 4, 3), dtype="uint8")
    model = Model(inp, L.Conv2D(2, 1)(L.Rescaling(1 / 255)(inp)))
    check(model, lambda b: np.random.default_rng(b).integers(0, 256, (b, 4, 4, 3)).astype(np.uint8), tmp_path)


# =========================================================================== embedding and merging
def test_embedding_mask_and_masked_pooling(tmp_path):
    inp = L.Input((6,), dtype="int32")
    emb = L.Embedding(10, 4, mask_zero=True)(inp)
    emb2 = L.Embedding(10, 4, mask_zero=True)(inp)
    x = L.Maximum()([L.Dense(4)(emb), emb2])
    x = L.Multiply()([x, emb2])
    model = Model(inp, L.GlobalAveragePooling1D()(x))

    def make(b):
        ids = np.random.default_rng(b).integers(0, 10, (b, 6)).astype(np.int32)
        ids[:, -2:] = 0
        ids[0, 0] = 0
        return ids

    check(model, make, tmp_path)


def test_embedding_plain_int64(tmp_path):
    inp = L.Input((5,), dtype="int64")
    model = Model(inp, L.Flatten()(L.Embedding(7, 3)(inp)))
    check(model, lambda b: np.random.default_rng(b).integers(0, 7, (b, 5)).astype(np.int64), tmp_path)


@pytest.mark.parametrize("cls", [L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum])
def test_elementwise_merges(tmp_path, cls):
    a, b = L.Input((3, 4)), L.Input((3, 4))
    model = Model([a, b], cls()([a, b]))
    check(model, lambda n: (rand(n, 3, 4), rand(n, 3, 4, seed=5)), tmp_path)


def test_merge_rank_broadcast_and_three_inputs(tmp_path):
    a, b, c = L.Input((3, 4)), L.Input((4,)), L.Input((3, 1))
    y = L.Add()([a, b, c])
    z = L.Multiply()([y, b])
    model = Model([a, b, c], [L.Average()([z, a, c]), L.Maximum()([y, c])])
    check(model, lambda n: (rand(n, 3, 4), rand(n, 4, seed=1), rand(n, 3, 1, seed=2)), tmp_path)


@pytest.mark.parametrize("axis", [-1, 1])
def test_concatenate(tmp_path, axis):
    a, b = L.Input((3, 4)), L.Input((3, 4))
    model = Model([a, b], L.Concatenate(axis=axis)([a, L.Dense(4)(b)]))
    check(model, lambda n: (rand(n, 3, 4), rand(n, 3, 4, seed=3)), tmp_path)


@pytest.mark.parametrize("axes,normalize,shapes", [
    (1, False, ((5,), (5,))), (1, True, ((5,), (5,))), ((2, 2), False, ((3, 4), (6, 4))),
    ((1, 1), True, ((3, 4), (3, 5))), ((2, 1), False, ((3, 4), (4,))), (-1, False, ((2, 3, 4), (5, 4))),
])
def test_dot(tmp_path, axes, normalize, shapes):
    a, b = L.Input(shapes[0]), L.Input(shapes[1])
    model = Model([a, b], L.Dot(axes=axes, normalize=normalize)([a, b]))
    check(model, lambda n: (rand(n, *shapes[0]), rand(n, *shapes[1], seed=7)), tmp_path)


def test_concatenate_masks_along_time(tmp_path):
    inp = L.Input((4,), dtype="int32")
    e1 = L.Embedding(6, 3, mask_zero=True)(inp)
    e2 = L.Dense(3)(L.Embedding(6, 3)(inp))
    model = Model(inp, L.GlobalAveragePooling1D()(L.Concatenate(axis=1)([e1, e2])))

    def make(b):
        ids = np.random.default_rng(b).integers(0, 6, (b, 4)).astype(np.int32)
        ids[:, 0] = 0
        return ids

    check(model, make, tmp_path)


# =========================================================================== wrappers, models
def test_time_distributed(tmp_path):
    inp = L.Input((3, 6, 6, 2))
    y = L.TimeDistributed(L.Conv2D(3, 3, strides=2, padding="same"))(inp)
    y = L.TimeDistributed(L.GlobalAveragePooling2D())(y)
    model = Model(inp, L.TimeDistributed(L.Dense(2))(y))
    check(model, lambda b: rand(b, 3, 6, 6, 2), tmp_path)


def test_sequential_cnn_and_nested_model(tmp_path):
    seq = Sequential([L.Input((8, 8, 3)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(),
                      L.MaxPooling2D(), L.SeparableConv2D(6, 3, strides=2, padding="same"), L.Flatten(),
                      L.Dropout(0.2), L.Dense(3, activation="softmax")])
    randomize_bn(seq)
    check(seq, lambda b: rand(b, 8, 8, 3), tmp_path)
    inp = L.Input((8, 8, 3))
    outer = Model(inp, L.Dense(2)(seq(L.Rescaling(2.0)(inp))))
    check(outer, lambda b: rand(b, 8, 8, 3), tmp_path, name="outer.onnx")


def _mini_resnet():
    inp = L.Input((16, 16, 3))
    x = L.ZeroPadding2D(1)(inp)
    x = L.Conv2D(8, 3, strides=2)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.MaxPooling2D(3, strides=2)(L.ZeroPadding2D(1)(x))
    for filters, stride in ((8, 1), (16, 2)):
        y = L.Conv2D(filters, 1, strides=stride)(x)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        y = L.Conv2D(filters, 3, padding="same")(y)
        y = L.BatchNormalization()(y)
        s = x if stride == 1 and x.shape[-1] == filters else L.BatchNormalization()(L.Conv2D(filters, 1,
                                                                                            strides=stride)(x))
        x = L.Activation("relu")(L.Add()([y, s]))
    x = L.GlobalAveragePooling2D()(x)
    model = Model(inp, L.Dense(4, activation="softmax")(x))
    randomize_bn(model)
    return model


def test_resnet_like_transposes_cancel(tmp_path):
    model = _mini_resnet()
    proto = check(model, lambda b: rand(b, 16, 16, 3), tmp_path)
    ops_ = op_types(proto)
    assert ops_.get("Transpose", 0) == 1  # only the input's NHWC -> NCHW
    assert "BatchNormalization" not in ops_ and "Identity" not in ops_ and "Pad" not in ops_
    raw = check(model, lambda b: rand(b, 16, 16, 3), tmp_path, name="raw.onnx", optimize=False,
                fold_batchnorm=False)
    assert op_types(raw)["Transpose"] > 10
    assert [o.name for o in proto.graph.output] == [model.output_names[0]]


@pytest.mark.slow
def test_resnet50_graph_is_lean(tmp_path):
    """ResNet50 (random weights): one layout transpose (at the input; the global pool reduces the
    channels-first tensor directly), every BN folded, the zero paddings merged into conv1 and into
    the max pooling (its input comes from a ReLU)."""
    import zoo

    proto = onnx.load(export_onnx(zoo.create_model("resnet50"), tmp_path / "r50.onnx"))
    ops_ = op_types(proto)
    assert ops_["Transpose"] == 1 and ops_["Conv"] == 53 and ops_["Add"] == 16 + 1
    assert not {"BatchNormalization", "Identity", "Pad"} & set(ops_)
    first = proto.graph.node[0]
    assert first.op_type == "Transpose" and first.input[0] == proto.graph.input[0].name


@pytest.mark.parametrize("relu", [True, False])
def test_zero_padding_before_max_pooling(tmp_path, relu):
    """Zero padding merges into MaxPool's (ignored) padding only when the values are >= 0."""
    layers = ([L.ReLU()] if relu else []) + [L.ZeroPadding2D(((1, 2), (2, 1))), L.MaxPooling2D(3, strides=2)]
    proto = single([L.Conv2D(3, 1)] + layers, (6, 7, 2), tmp_path)
    assert ("Pad" in op_types(proto)) is not relu


def test_multi_output_names_and_metadata(tmp_path):
    a = L.Input((4,), name="features")
    b = L.Input((2, 3), name="sequence")
    h = L.Dense(3, name="hidden")(a)
    out1 = L.Dense(2, activation="sigmoid", name="score")(h)
    out2 = L.Add(name="combined")([b, L.RepeatVector(2)(h)])
    model = Model([a, b], [out1, out2])
    model.assets = {"labels": ["x", "y"], "input_spec": {"scale": 0.5}}
    proto = check(model, lambda n: (rand(n, 4), rand(n, 2, 3)), tmp_path, opset=13)
    assert [i.name for i in proto.graph.input] == ["features", "sequence"]
    assert [o.name for o in proto.graph.output] == ["score", "combined"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["opset"] == "13" and proto.opset_import[0].version == 13
    assert json.loads(meta["inputs"]) == [{"name": "features", "shape": [None, 4], "dtype": "float32"},
                                          {"name": "sequence", "shape": [None, 2, 3], "dtype": "float32"}]
    assert json.loads(meta["labels"]) == ["x", "y"] and json.loads(meta["input_spec"]) == {"scale": 0.5}
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch" and not dim.HasField("dim_value")


@pytest.mark.parametrize("opset", [13, 18, 20])
def test_opsets(tmp_path, opset):
    if opset > onnx.defs.onnx_opset_version():
        pytest.skip("onnx too old")
    inp = L.Input((6, 6, 2))
    y = L.GlobalAveragePooling2D()(L.Conv2D(3, 3)(inp))
    y = L.LayerNormalization()(L.Dense(4, activation="gelu")(y))
    proto = check(model := Model(inp, y), lambda b: rand(b, 6, 6, 2), tmp_path, opset=opset)
    del model
    assert proto.opset_import[0].version == opset


def test_bad_opset(tmp_path):
    inp = L.Input((3,))
    with pytest.raises(OnnxExportError, match="opset must be between 13"):
        export_onnx(Model(inp, L.Dense(2)(inp)), tmp_path / "x.onnx", opset=9)


# =========================================================================== errors
class Doubler(Layer):
    def call(self, x):
        return x * 2.0

    def compute_output_shape(self, s):
        return s


def test_unmapped_layer_is_named(tmp_path):
    inp = L.Input((3,))
    model = Model(inp, L.Dense(2)(Doubler(name="my_doubler")(inp)))
    with pytest.raises(OnnxExportError, match=r"layer 'my_doubler' \(.*Doubler\) has no ONNX mapping"):
        export_onnx(model, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_lambda_refused(tmp_path):
    inp = L.Input((3,))
    model = Model(inp, L.Lambda(lambda t: t + 1, name="plus_one")(inp))
    with pytest.raises(OnnxExportError, match="plus_one.*Lambda"):
        export_onnx(model, tmp_path / "x.onnx")


@pytest.mark.parametrize("activation", sorted(set(A._NAMES) - set(_onnx_names()) - {"threshold"}))
def test_activations_without_onnx_mapping_are_named(tmp_path, activation):
    inp = L.Input((4,))
    model = Model(inp, L.Dense(4, activation=activation, name="d")(inp))
    with pytest.raises(OnnxExportError, match="'d'.*has no ONNX mapping"):
        export_onnx(model, tmp_path / "x.onnx")


def test_unknown_activation_named(tmp_path):
    inp = L.Input((3,))
    model = Model(inp, L.Dense(2, activation=lambda t: t * 3.0, name="odd")(inp))
    with pytest.raises(OnnxExportError, match="'odd'.*activation"):
        export_onnx(model, tmp_path / "x.onnx")


def test_register_custom_converter(tmp_path):
    from core.export import register_onnx_converter

    class Tripler(Layer):
        def call(self, x):
            return x * 3.0

        def compute_output_shape(self, s):
            return s

    @register_onnx_converter(Tripler)
    def _conv(g, layer, node, inputs):
        return [g.op("Mul", inputs[0], g.const(np.float32(3.0)))]

    inp = L.Input((3,))
    check(Model(inp, L.Dense(2)(Tripler()(inp))), lambda b: rand(b, 3), tmp_path)


def test_every_core_layer_has_a_converter():
    """Each public layer class of core.layers that is neither recurrent nor attention is mapped
    (Lambda is mapped to a clear refusal)."""
    import core.layers as CL
    from core.export.onnx_graph import get_onnx_converter
    from core.layers import recurrent

    missing = []
    for name in dir(CL):
        cls = getattr(CL, name)
        if not (isinstance(cls, type) and issubclass(cls, Layer)) or cls is Layer:
            continue
        if cls.__module__ == recurrent.__name__ or cls is CL.MultiHeadAttention:
            continue
        if get_onnx_converter(cls.__new__(cls)) is None:
            missing.append(name)
    assert missing == []


# =========================================================================== catalogue layers (issue 22)
def _randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])
    return layer


def test_masking_feeds_masked_pooling(tmp_path):
    inp = L.Input((5, 3))
    masked = L.Masking()(inp)
    model = Model(inp, [masked, L.GlobalAveragePooling1D()(masked)])

    def make(b):
        x = rand(b, 5, 3)
        x[:, 1] = 0.0
        x[-1, 3:] = 0.0
        return x

    check(model, make, tmp_path)


@pytest.mark.parametrize("kw,shape", [({}, (4, 3)), ({"shared_axes": [1, 2]}, (4, 5, 3))])
def test_prelu(tmp_path, kw, shape):
    layer = L.PReLU(**kw)
    layer.build((None,) + shape)
    single(_randomize(layer), shape, tmp_path)


@pytest.mark.parametrize("kw,shape", [({"groups": 2}, (5, 6)), ({"groups": 3}, (4, 3, 6)),
                                      ({"groups": -1, "center": False}, (4, 3)), ({"groups": 2, "axis": 1}, (4, 5))])
def test_group_normalization(tmp_path, kw, shape):
    layer = L.GroupNormalization(**kw)
    layer.build((None,) + shape)
    single(_randomize(layer), shape, tmp_path)


@pytest.mark.parametrize("kw,shape", [({}, (5,)), ({"axis": [1, 2]}, (3, 4))])
def test_unit_normalization(tmp_path, kw, shape):
    single(L.UnitNormalization(**kw), shape, tmp_path)


@pytest.mark.parametrize("kw,shape", [({}, (3, 6)), ({"axis": [1, 2], "epsilon": 1e-3}, (3, 4))])
def test_rms_normalization(tmp_path, kw, shape):
    layer = L.RMSNormalization(**kw)
    layer.build((None,) + shape)
    single(_randomize(layer), shape, tmp_path)


@pytest.mark.parametrize("layer", [
    lambda: L.Conv1DTranspose(3, 3, strides=2, padding="same"),
    lambda: L.Conv1DTranspose(2, 3, strides=2, output_padding=1, activation="relu"),
    lambda: L.SeparableConv1D(4, 3, padding="same", depth_multiplier=2),
    lambda: L.SeparableConv1D(3, 2, strides=2, activation="tanh"),
    lambda: L.DepthwiseConv1D(3, depth_multiplier=2, padding="same"),
    lambda: L.DepthwiseConv1D(3, dilation_rate=2, use_bias=False),
], ids=["conv1dT_same", "conv1dT_outpad", "sepconv1d_same", "sepconv1d_s2", "dwconv1d_same", "dwconv1d_dil"])
def test_conv1d_kin(tmp_path, layer):
    layer = layer()
    layer.build((None, 8, 3))
    single(_randomize(layer), (8, 3), tmp_path)


@pytest.mark.parametrize("layer,kw,key", [
    (lambda: L.Attention(), {}, False),
    (lambda: L.Attention(use_scale=True), {"use_causal_mask": True}, True),
    (lambda: L.Attention(use_scale=True, score_mode="concat"), {"return_attention_scores": True}, False),
    (lambda: L.AdditiveAttention(), {}, True),
    (lambda: L.AdditiveAttention(use_scale=False), {"return_attention_scores": True, "use_causal_mask": True}, False),
], ids=["dot", "dot_scale_causal_key", "concat_scores", "additive_key", "additive_noscale_scores_causal"])
def test_sequence_attention(tmp_path, layer, kw, key):
    layer = layer()
    q_in, v_in = L.Input((4, 3)), L.Input((5, 3))
    ins = [q_in, v_in] + ([L.Input((5, 3))] if key else [])
    layer.build([(None, 4, 3), (None, 5, 3)])
    _randomize(layer)
    out = layer(ins, **kw)
    model = Model(ins, list(out) if isinstance(out, tuple) else out)
    check(model, lambda b: tuple(rand(b, *s, seed=i) for i, s in enumerate([(4, 3), (5, 3), (5, 3)][:len(ins)])),
          tmp_path)


def test_attention_with_embedding_masks(tmp_path):
    q_in, v_in = L.Input((4,), dtype="int32"), L.Input((5,), dtype="int32")
    emb = L.Embedding(7, 3, mask_zero=True)
    out = L.Attention()([emb(q_in), emb(v_in)])
    model = Model([q_in, v_in], out)

    def make(b):
        rng = np.random.default_rng(b)
        q, v = rng.integers(1, 7, (b, 4)), rng.integers(1, 7, (b, 5))
        q[:, -1] = 0
        v[:, 3:] = 0
        return q.astype(np.int32), v.astype(np.int32)

    check(model, make, tmp_path)


@pytest.mark.parametrize("layer", [
    lambda: L.Conv3D(3, 2),
    lambda: L.Conv3D(4, 3, strides=(2, 1, 2), padding="same", activation="relu", groups=2),
    lambda: L.Conv3DTranspose(2, 3, strides=2, padding="same"),
    lambda: L.Conv3DTranspose(3, (3, 2, 2), strides=(2, 2, 1), output_padding=(1, 0, 0)),
    lambda: L.MaxPooling3D(),
    lambda: L.AveragePooling3D(3, strides=2, padding="same"),
    lambda: L.GlobalAveragePooling3D(),
    lambda: L.GlobalMaxPooling3D(keepdims=True),
    lambda: L.ZeroPadding3D(((1, 0), (0, 2), (1, 1))),
    lambda: L.Cropping3D(((0, 1), (1, 2), (0, 0))),
    lambda: L.UpSampling3D((2, 1, 3)),
], ids=["conv3d", "conv3d_same_s2_groups", "conv3dT_same", "conv3dT_outpad", "maxpool3d", "avgpool3d_same",
        "gap3d", "gmp3d", "zeropad3d", "crop3d", "upsample3d"])
def test_3d_layers(tmp_path, layer):
    layer = layer()
    layer.build((None, 5, 6, 5, 4))
    if layer.weights:
        _randomize(layer)
    single(layer, (5, 6, 5, 4), tmp_path)


@pytest.mark.parametrize("layer", [lambda: L.CenterCrop(4, 5), lambda: L.RandomTranslation(0.2, 0.2),
                                   lambda: L.RandomZoom(0.3), lambda: L.RandomContrast(0.5),
                                   lambda: L.RandomBrightness(0.2), lambda: L.RandomErasing(), lambda: L.MixUp(),
                                   lambda: L.CutMix()],
                         ids=["center_crop", "translation", "zoom", "contrast", "brightness", "erasing", "mixup",
                              "cutmix"])
def test_center_crop_and_inference_augmentations(tmp_path, layer):
    single(layer(), (7, 8, 3), tmp_path, scale=50.0)


def test_center_crop_upscale_refused(tmp_path):
    inp = L.Input((3, 3, 1))
    with pytest.raises(OnnxExportError, match="CenterCrop"):
        export_onnx(Model(inp, L.CenterCrop(5, 5)(inp)), tmp_path / "m.onnx")


@pytest.mark.parametrize("layer,shape", [
    (lambda: L.CategoryEncoding(5, "multi_hot"), (3,)), (lambda: L.CategoryEncoding(5, "count"), (4,)),
    (lambda: L.CategoryEncoding(5, "one_hot"), (1,)), (lambda: L.CategoryEncoding(5, "one_hot"), (3,)),
], ids=["multi_hot", "count", "one_hot_b1", "one_hot_bk"])
def test_category_encoding(tmp_path, layer, shape):
    inp = L.Input(shape, dtype="int64")
    model = Model(inp, layer()(inp))
    check(model, lambda b: np.random.default_rng(b).integers(0, 6, (b,) + shape).astype(np.int64), tmp_path)


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization(tmp_path, mode):
    inp = L.Input((4,))
    model = Model(inp, L.Discretization(bin_boundaries=[-0.5, 0.0, 0.7], output_mode=mode)(inp))
    check(model, lambda b: rand(b, 4), tmp_path)


@pytest.mark.parametrize("make", [lambda: L.RNN(L.GRUCell(2), name="named_rnn"),
                                  lambda: L.ConvLSTM2D(2, 1, name="named_rnn")])
def test_python_recurrences_refused_by_name(tmp_path, make):
    layer = make()
    inp = L.Input((3, 2, 2, 2) if isinstance(layer, L.ConvLSTM2D) else (3, 2))
    with pytest.raises(OnnxExportError, match="named_rnn"):
        export_onnx(Model(inp, layer(inp)), tmp_path / "m.onnx")
