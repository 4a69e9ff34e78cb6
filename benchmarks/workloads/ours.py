"""The benchmark workloads written with this project's public API (``core`` and ``zoo``).

    python benchmarks/workloads/ours.py WORKLOAD [--repeats 3] [--smoke] [--threads 2]
    python -m benchmarks.workloads.ours WORKLOAD ...

Prints one ``BENCH_RESULT {json}`` line (times, median, throughput, peak RSS). A zoo model that
cannot be imported or built is reported as ``unavailable`` with the reason.
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
_ROOT = os.path.dirname(os.path.dirname(_HERE))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

try:
    from core.host_memory import configure_process  # noqa: E402
except ImportError:  # an older checkout measured with this harness (before/after tables)
    def configure_process():
        pass

configure_process()  # first, as the zoo command does: OpenBLAS's spin is set before NumPy loads it
import numpy as np  # noqa: E402

Unavailable = common.Unavailable


def _core():
    from core import layers as L
    from core import losses, models, optimizers

    return L, models, losses, optimizers


def _fit_fns(model, x, y, batch):
    w = common.warmup_slice(len(x), batch)

    def warm():
        model.fit(x[:w], y[:w], batch_size=batch, epochs=1, verbose=0)

    def run():
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)

    return warm, run


def _zoo_model(name, **kwargs):
    try:
        import zoo
        return zoo.create_model(name, **kwargs)
    except (ImportError, ValueError) as e:  # not written yet / not registered
        raise Unavailable(f"zoo model {name!r}: {type(e).__name__}: {e}") from None


def mlp(s, d, args):
    L, models, losses, optimizers = _core()
    m = models.Sequential([L.Input((784,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                           L.Dense(10, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(), loss="categorical_crossentropy")
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def cnn(s, d, args):
    L, models, losses, optimizers = _core()
    m = models.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                           L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
    m.compile(optimizer=optimizers.Adam(), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def _inference(model, x):
    def run():
        model.predict_on_batch(x)

    return run, run


def resnet50(s, d, args):
    size = s["size"]
    return _inference(_zoo_model("resnet50", input_shape=(size, size, 3)), d["x"])


def vgg16(s, d, args):
    size = s["size"]
    return _inference(_zoo_model("vgg16", input_shape=(size, size, 3)), d["x"])


def lstm(s, d, args):
    L, models, losses, optimizers = _core()
    m = models.Sequential([L.Input((s["length"],), dtype="int32"), L.Embedding(s["vocab"], 128), L.LSTM(128),
                           L.Dense(1, activation="sigmoid")])
    m.compile(optimizer=optimizers.Adam(), loss="binary_crossentropy")
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def _position_embedding_layer():
    from core.layers import Layer

    class PositionEmbedding(Layer):
        """Adds a learned (length, d) position embedding."""

        def build(self, input_shape):
            self.pos = self.add_weight(shape=(input_shape[1], input_shape[2]), initializer="glorot_uniform",
                                       name="pos")

        def call(self, inputs):
            return inputs + self.pos

        def compute_output_shape(self, input_shape):
            return input_shape

    return PositionEmbedding


def transformer(s, d, args):
    L, models, losses, optimizers = _core()
    dm, heads = s["d"], s["heads"]
    inp = L.Input((s["length"],), dtype="int32")
    x = L.Embedding(s["vocab"], dm)(inp)
    x = _position_embedding_layer()()(x)
    for _ in range(s["blocks"]):
        a = L.MultiHeadAttention(heads, dm // heads)(x, x)
        x = L.LayerNormalization(epsilon=1e-5)(L.Add()([x, a]))
        f = L.Dense(dm)(L.Dense(s["ff"], activation="relu")(x))
        x = L.LayerNormalization(epsilon=1e-5)(L.Add()([x, f]))
    out = L.Dense(2)(L.GlobalAveragePooling1D()(x))
    m = models.Model(inp, out)
    m.compile(optimizer=optimizers.Adam(), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def resnet20(s, d, args):
    _, _, _, optimizers = _core()
    m = _zoo_model("resnet20")
    m.compile(optimizer=optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    return _fit_fns(m, d["x"], d["y"], s["batch"])


def _minilm_encoder():
    """The zoo's MiniLM-L6 encoder (``zoo.create_model("minilm_l6")``, random weights) as a function
    (ids, mask, types) -> token states (B, T, 384), called as ``SentenceEncoder`` calls it."""
    model = _zoo_model("minilm_l6")

    def call(ids, mask, types):
        return model.predict_on_batch({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})

    return call


def minilm(s, d, args):
    encode = _minilm_encoder()
    ids, mask, types, b = d["ids"], d["mask"], d["token_type"], s["batch"]
    pieces = [(i, j, int(mask[i:j].sum(1).max())) for i, j in common.batches(len(ids), b)]

    def run():
        out = []
        for i, j, L in pieces:  # each batch padded to its longest sentence, as a tokenizer does
            h = np.asarray(encode(ids[i:j, :L], mask[i:j, :L], types[i:j, :L]))
            if h.ndim == 3:  # token states: mean pooling over the mask, then L2 normalisation
                m = mask[i:j, :L, None].astype(h.dtype)
                h = (h * m).sum(1) / np.maximum(m.sum(1), h.dtype.type(1e-9))
                h = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), h.dtype.type(1e-12))
            out.append(h)
        return np.concatenate(out)

    return run, run


def autoencoder(s, d, args):
    L, models, losses, optimizers = _core()
    return _fit_fns(common.keras_autoencoder(L, models, losses, optimizers), d["x"], d["y"], s["batch"])


def toy_resnet(s, d, args):
    L, models, losses, optimizers = _core()
    return _fit_fns(common.keras_toy_resnet(L, models, losses, optimizers), d["x"], d["y"], s["batch"])


BUILDERS = dict(mlp=mlp, cnn=cnn, resnet50=resnet50, vgg16=vgg16, lstm=lstm, transformer=transformer,
                resnet20=resnet20, minilm=minilm, autoencoder=autoencoder, toy_resnet=toy_resnet)


def _setup(args):
    from core.utils import set_random_seed

    set_random_seed(0)
    return "ours", {"numpy": np.__version__}


if __name__ == "__main__":
    sys.exit(common.child_main("ours", BUILDERS, setup=_setup))
