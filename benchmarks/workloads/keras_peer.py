"""The benchmark workloads in Keras 3 (peer environment only: keras 3.15.1 with the TensorFlow or JAX
backend). Same shapes, data, seeds and threads as ``ours.py``; Keras defaults otherwise (``fit`` with
its default ``jit_compile="auto"``, ``predict_on_batch`` for inference).

    /path/to/peer/python benchmarks/workloads/keras_peer.py WORKLOAD --backend tensorflow|jax [--repeats 3] [--smoke]

Prints one ``BENCH_RESULT {json}`` line. Never imported by the project.
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if __package__:
    from . import common
else:
    sys.path.insert(0, _HERE)
    import common  # noqa: E402
common.pin_child_threads()  # before NumPy or a framework is imported


def _early_backend():
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--backend="):
            return a.split("=", 1)[1]
    return os.environ.get("KERAS_BACKEND", "tensorflow")


os.environ["KERAS_BACKEND"] = _early_backend()

Unavailable = common.Unavailable
keras = None  # imported in _setup, after the thread settings


def _fit_fns(model, x, y, batch):
    w = common.warmup_slice(len(x), batch)

    def warm():
        model.fit(x[:w], y[:w], batch_size=batch, epochs=1, verbose=0)

    def run():
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)

    return warm, run


def mlp(s, d, args):
    L = keras.layers
    m = keras.Sequential([keras.Input((784,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                          L.Dense(10, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy")
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def cnn(s, d, args):
    L = keras.layers
    m = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                          L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
    m.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def _inference(model, x):
    def run():
        model.predict_on_batch(x)

    return run, run


def resnet50(s, d, args):
    size = s["size"]
    return _inference(keras.applications.ResNet50(weights=None, input_shape=(size, size, 3)), d["x"])


def vgg16(s, d, args):
    size = s["size"]
    return _inference(keras.applications.VGG16(weights=None, input_shape=(size, size, 3)), d["x"])


def lstm(s, d, args):
    L = keras.layers
    m = keras.Sequential([keras.Input((s["length"],), dtype="int32"), L.Embedding(s["vocab"], 128), L.LSTM(128),
                          L.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def transformer(s, d, args):
    L = keras.layers

    class PositionEmbedding(L.Layer):
        def build(self, input_shape):
            self.pos = self.add_weight(shape=(input_shape[1], input_shape[2]), initializer="glorot_uniform",
                                       name="pos")

        def call(self, inputs):
            return inputs + self.pos

    dm, heads = s["d"], s["heads"]
    inp = keras.Input((s["length"],), dtype="int32")
    x = L.Embedding(s["vocab"], dm)(inp)
    x = PositionEmbedding()(x)
    for _ in range(s["blocks"]):
        a = L.MultiHeadAttention(heads, dm // heads)(x, x)
        x = L.LayerNormalization(epsilon=1e-5)(L.Add()([x, a]))
        f = L.Dense(dm)(L.Dense(s["ff"], activation="relu")(x))
        x = L.LayerNormalization(epsilon=1e-5)(L.Add()([x, f]))
    out = L.Dense(2)(L.GlobalAveragePooling1D()(x))
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def _resnet20_model():
    """CIFAR ResNet-20 as in zoo/models/resnet_cifar.py: option-A shortcuts, PyTorch-style padding."""
    L, ops = keras.layers, keras.ops

    class ShortcutA(L.Layer):
        def __init__(self, pad, **kw):
            super().__init__(**kw)
            self.pad = pad

        def call(self, x):
            return ops.pad(x[:, ::2, ::2, :], [[0, 0], [0, 0], [0, 0], [self.pad, self.pad]])

    bn = dict(momentum=0.9, epsilon=1e-5)

    def conv(x, f, stride):
        if stride == 1:
            return L.Conv2D(f, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = L.ZeroPadding2D(1)(x)
        return L.Conv2D(f, 3, strides=stride, padding="valid", use_bias=False, kernel_initializer="he_normal")(x)

    inp = keras.Input((32, 32, 3))
    x = L.ReLU()(L.BatchNormalization(**bn)(conv(inp, 16, 1)))
    for stage, planes in enumerate((16, 32, 64), start=1):
        for i in range(3):
            stride = 2 if stage > 1 and i == 0 else 1
            out = L.ReLU()(L.BatchNormalization(**bn)(conv(x, planes, stride)))
            out = L.BatchNormalization(**bn)(conv(out, planes, 1))
            sc = ShortcutA(planes // 4)(x) if stride != 1 or x.shape[-1] != planes else x
            x = L.ReLU()(L.Add()([out, sc]))
    out = L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out)


def resnet20(s, d, args):
    m = _resnet20_model()
    m.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def minilm(s, d, args):
    raise Unavailable("no Keras peer for MiniLM: the peer for h is PyTorch transformers (torch_peer.py)")


def autoencoder(s, d, args):
    m = common.keras_autoencoder(keras.layers, keras.models, keras.losses, keras.optimizers)
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def toy_resnet(s, d, args):
    m = common.keras_toy_resnet(keras.layers, keras.models, keras.losses, keras.optimizers)
    return _fit_fns(m, d["x"], d["y"], s["batch"])


BUILDERS = dict(mlp=mlp, cnn=cnn, resnet50=resnet50, vgg16=vgg16, lstm=lstm, transformer=transformer,
                resnet20=resnet20, minilm=minilm, autoencoder=autoencoder, toy_resnet=toy_resnet)


def _setup(args):
    global keras
    backend = os.environ["KERAS_BACKEND"]
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras as _keras

    keras = _keras
    if keras.backend.backend() != backend:
        raise RuntimeError(f"expected the Keras backend {backend!r}, received {keras.backend.backend()!r}")
    keras.utils.set_random_seed(0)
    versions = {"keras": keras.__version__}
    versions[backend] = __import__(backend).__version__
    return {"tensorflow": "keras-tf", "jax": "keras-jax"}.get(backend, f"keras-{backend}"), versions


if __name__ == "__main__":
    sys.exit(common.child_main("keras", BUILDERS, setup=_setup,
                               extra_args=[(("--backend",), dict(choices=["tensorflow", "jax"],
                                                                 default=os.environ["KERAS_BACKEND"]))]))
