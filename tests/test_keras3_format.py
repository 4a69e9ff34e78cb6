"""Keras 3's ``.keras`` format and ``.weights.h5`` layout, both ways.

Fixtures: tests/fixtures/keras3/*.keras saved by Keras 3.15.1 (make_keras3_files.py), with Keras's
predictions. That Keras loads the files written here is checked by
tests/fixtures/check_keras3_interop.py in the reference venv (the suite never imports Keras).
"""
import io
import json
import os
import warnings
import zipfile

import h5py
import numpy as np
import pytest

from core import layers as L
from core import models, ops, optimizers
from core.layers import register_serializable
from core.models import load_model, model_from_json
from core.saving.keras_archive import (KerasArchiveError, keras3_weight_layout, keras_config,
                                       read_keras_archive)
from core.saving.keras_h5 import detect_format
from core.saving.zoo_format import save_model as save_zoo_h5

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras3")
NAMES = ["mlp", "cnn", "lstm_text", "transformer", "nested", "ops_graph"]


@register_serializable(package="zoo_test")
class TokenAndPosition(L.Layer):
    """The custom registered layer of the transformer fixture (Keras's twin is in make_keras3_files.py)."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = L.Embedding(vocab_size, embed_dim)
        self.pos_emb = L.Embedding(maxlen, embed_dim)

    def call(self, x):
        return ops.add(self.token_emb(x), self.pos_emb(np.arange(x.shape[-1])))

    def get_config(self):
        return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim}


@pytest.fixture(scope="module")
def keras_io():
    return np.load(os.path.join(HERE, "io.npz"))


def _no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def _file_optimizer_vars(path):
    with h5py.File(io.BytesIO(read_keras_archive(path).weights), "r") as f:
        g = f["optimizer/vars"]
        return [np.asarray(g[str(i)]) for i in range(len(g))]


# ----------------------------------------------------------------------------- Keras -> zoo
@pytest.mark.parametrize("name", NAMES)
def test_keras_archive_loads_with_keras_predictions(name, keras_io):
    path = os.path.join(HERE, f"{name}.keras")
    assert detect_format(path) == "keras_archive"
    model = _no_warnings(load_model, path)
    x = keras_io[f"{name}_x"]
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_io[f"{name}_y"], atol=1e-5, rtol=0)
    # compile settings and optimizer state come back: the file's optimizer/vars, in Keras's order
    assert model.compiled and model.optimizer is not None
    ours = [np.asarray(v) for v in model.optimizer.variables()]
    theirs = _file_optimizer_vars(path)
    assert len(ours) == len(theirs) and model.optimizer.iterations == int(theirs[0]) > 0
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_keras_archive_optimizer_kinds(keras_io):
    kinds = {n: type(load_model(os.path.join(HERE, f"{n}.keras")).optimizer).__name__ for n in NAMES}
    assert kinds == {"mlp": "Adam", "cnn": "SGD", "lstm_text": "RMSprop", "transformer": "AdamW", "nested": "Adam",
                     "ops_graph": "Adam"}
    cnn = load_model(os.path.join(HERE, "cnn.keras"))
    assert cnn.optimizer.momentum == pytest.approx(0.9)
    conv = [l for l in cnn.layers if type(l).__name__ == "Conv2D"]
    assert type(conv[0].kernel_regularizer).__name__ == "L2" and conv[0].kernel_regularizer.l2 == pytest.approx(1e-4)
    assert type(conv[1].kernel_constraint).__name__ == "MaxNorm"


@pytest.mark.parametrize("name", NAMES)
def test_keras_to_json_rebuilds_and_takes_the_weights(name, keras_io):
    with open(os.path.join(HERE, f"{name}.json")) as f:
        text = f.read()
    model = _no_warnings(model_from_json, text)
    model.load_weights(os.path.join(HERE, f"{name}.keras"))   # weights straight from the archive
    np.testing.assert_allclose(model.predict(keras_io[f"{name}_x"], verbose=0), keras_io[f"{name}_y"],
                               atol=1e-5, rtol=0)


def test_load_without_compile_skips_optimizer():
    model = load_model(os.path.join(HERE, "mlp.keras"), compile=False)
    assert not getattr(model, "compiled", False)


def test_keras_weights_h5_inside_archive_loads(tmp_path, keras_io):
    data = read_keras_archive(os.path.join(HERE, "cnn.keras")).weights
    wpath = tmp_path / "cnn.weights.h5"
    wpath.write_bytes(data)
    model = model_from_json(open(os.path.join(HERE, "cnn.json")).read())
    model.load_weights(str(wpath))
    np.testing.assert_allclose(model.predict(keras_io["cnn_x"], verbose=0), keras_io["cnn_y"], atol=1e-5)


# ----------------------------------------------------------------------------- zoo -> Keras layout
def _mlp():
    m = models.Sequential([L.Input((8,)), L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def _lstm():
    inp = L.Input((10,), dtype="int32")
    h = L.LSTM(6)(L.Embedding(30, 4, mask_zero=True)(inp))
    m = models.Model(inp, L.Dense(1, activation="sigmoid")(h))
    m.compile(optimizer=optimizers.SGD(0.05, momentum=0.9), loss="binary_crossentropy")
    return m


def _transformer():
    inp = L.Input((12,), dtype="int32")
    h = TokenAndPosition(12, 40, 16)(inp)
    att = L.MultiHeadAttention(num_heads=2, key_dim=8)(h, h)
    h = L.LayerNormalization(epsilon=1e-6)(L.Add()([h, att]))
    out = L.Dense(2, activation="softmax")(L.GlobalAveragePooling1D()(h))
    m = models.Model(inp, out)
    m.compile(optimizer="adamw", loss="sparse_categorical_crossentropy")
    return m


def _data(name, rng):
    if name == "mlp":
        return rng.normal(size=(16, 8)).astype("float32"), rng.integers(0, 3, 16)
    if name == "lstm":
        x = rng.integers(1, 30, size=(16, 10)).astype("int32")
        x[:, 6:] = 0
        return x, rng.integers(0, 2, size=(16, 1)).astype("float32")
    return rng.integers(0, 40, size=(16, 12)).astype("int32"), rng.integers(0, 2, 16)


@pytest.mark.parametrize("name,make", [("mlp", _mlp), ("lstm", _lstm), ("transformer", _transformer)])
def test_roundtrip_keeps_predictions_and_training_state(name, make, tmp_path):
    rng = np.random.default_rng(0)
    x, y = _data(name, rng)
    model = make()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "m.keras")
    model.save(path)
    assert zipfile.is_zipfile(path)
    again = _no_warnings(load_model, path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.optimizer.iterations == model.optimizer.iterations == 2
    # the restored optimizer state continues training exactly where the original would
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    again.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_written_archive_is_in_keras_form(tmp_path):
    model = _mlp()
    model.fit(np.zeros((4, 8), "float32"), np.zeros(4), verbose=0)
    path = tmp_path / "m.keras"
    model.save(str(path))
    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        config = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json"))
        weights = z.read("model.weights.h5")
    assert meta["keras_version"].startswith("3.")
    assert config["class_name"] == "Sequential" and config["module"] == "keras"
    first, dense = config["config"]["layers"][:2]
    assert first["class_name"] == "InputLayer" and first["config"]["batch_shape"] == [None, 8]
    assert dense["module"] == "keras.layers" and "batch_input_shape" not in dense["config"]
    assert dense["config"]["dtype"] == {"module": "keras", "class_name": "DTypePolicy",
                                        "config": {"name": "float32"}, "registered_name": None}
    assert dense["config"]["kernel_initializer"]["module"] == "keras.initializers"
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert config["compile_config"]["loss"] == "sparse_categorical_crossentropy"
    with h5py.File(io.BytesIO(weights), "r") as f:
        assert f["vars"].attrs["name"] == model.name
        assert f["layers/dense/vars"].attrs["name"] == model.layers[0].name
        np.testing.assert_array_equal(f["layers/dense/vars/0"][()], model.layers[0].kernel.numpy())
        np.testing.assert_array_equal(f["layers/dense_1/vars/1"][()], model.layers[1].bias.numpy())
        assert f["optimizer/vars/0"][()] == 1 and f["optimizer/vars/0"].dtype == np.int64
        assert len(f["optimizer/vars"]) == 2 + 2 * 4


def test_weight_layout_names_sublayers_as_keras():
    paths = [p for p, _, _ in keras3_weight_layout(_transformer())]
    for p in ["layers/token_and_position/token_emb", "layers/token_and_position/pos_emb",
              "layers/multi_head_attention/query_dense", "layers/multi_head_attention/output_dense",
              "layers/layer_normalization", "layers/dense", "layers/input_layer"]:
        assert p in paths
    lstm_paths = [p for p, _, v in keras3_weight_layout(_lstm()) if v]
    assert lstm_paths == ["layers/embedding", "layers/lstm/cell", "layers/dense"]


def test_weights_h5_roundtrip_and_keras_layout(tmp_path):
    rng = np.random.default_rng(1)
    x, y = _data("lstm", rng)
    model = _lstm()
    model.fit(x, y, batch_size=8, verbose=0)
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    assert detect_format(path) == "keras3_weights_h5"
    with h5py.File(path, "r") as f:
        assert f["layers/lstm/cell/vars/1"].shape == (6, 24)
        assert "optimizer/vars" in f
    other = _lstm()
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_json_roundtrip_here():
    model = _transformer()
    text = model.to_json()
    assert json.loads(text)["config"]["layers"][1]["registered_name"] == "zoo_test>TokenAndPosition"
    again = model_from_json(text)
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
    assert again.count_params() == model.count_params()


# ----------------------------------------------------------------------------- our HDF5 format
def test_hdf5_format_keeps_its_extension_and_old_keras_named_files_load(tmp_path):
    model = _mlp()
    x = np.ones((2, 8), "float32")
    model.save(str(tmp_path / "m.zoo.h5"))
    assert detect_format(str(tmp_path / "m.zoo.h5")) == "zoo_h5"
    old = tmp_path / "old.keras"        # what earlier versions wrote under the .keras name
    save_zoo_h5(model, str(old))
    assert detect_format(str(old)) == "zoo_h5"
    np.testing.assert_array_equal(load_model(str(old)).predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match=r"unknown extension.*'\.keras'.*'\.zoo\.h5'"):
        model.save(str(tmp_path / "m.bin"))


def test_subclassed_model_is_refused_for_keras_format(tmp_path):
    class Net(models.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    with pytest.raises(Exception, match=r"subclassed model.*zoo\.h5"):
        net.save(str(tmp_path / "n.keras"))
    assert not (tmp_path / "n.keras").exists()


# ----------------------------------------------------------------------------- untrusted archives
def _archive(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return str(path)


def _good_entries():
    with zipfile.ZipFile(os.path.join(HERE, "mlp.keras")) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_untrusted_path_traversal_is_refused(tmp_path):
    entries = {**_good_entries(), "../evil.txt": b"x"}
    with pytest.raises(KerasArchiveError, match="unsafe entry name"):
        load_model(_archive(tmp_path / "a.keras", entries))
    entries = {**_good_entries(), "/etc/passwd": b"x"}
    with pytest.raises(KerasArchiveError, match="unsafe entry name"):
        read_keras_archive(_archive(tmp_path / "b.keras", entries))


def test_untrusted_size_claims_are_checked_before_reading(tmp_path):
    path = _archive(tmp_path / "bomb.keras", _good_entries(), compression=zipfile.ZIP_DEFLATED)
    data = bytearray(open(path, "rb").read())
    # forge the central directory's uncompressed size of config.json to 2**31
    cd = data.rfind(b"PK\x01\x02", 0, data.find(b"config.json", data.find(b"PK\x01\x02")))
    cd = data.find(b"PK\x01\x02")
    while data[cd + 46:cd + 46 + 11] != b"config.json":
        cd = data.find(b"PK\x01\x02", cd + 4)
    data[cd + 24:cd + 28] = (2 ** 31).to_bytes(4, "little")
    open(path, "wb").write(bytes(data))
    with pytest.raises(KerasArchiveError, match="more than deflate can produce|over the"):
        read_keras_archive(path)


def test_untrusted_malformed_archives(tmp_path):
    good = _good_entries()
    with pytest.raises(KerasArchiveError, match="no config.json"):
        read_keras_archive(_archive(tmp_path / "a.keras", {k: v for k, v in good.items() if k != "config.json"}))
    with pytest.raises(KerasArchiveError, match="not valid JSON"):
        read_keras_archive(_archive(tmp_path / "b.keras", {**good, "config.json": b"{oops"}))
    with pytest.raises(KerasArchiveError, match="no model.weights.h5"):
        read_keras_archive(_archive(tmp_path / "c.keras", {k: v for k, v in good.items() if k != "model.weights.h5"}))
    with pytest.raises(KerasArchiveError, match="not a readable HDF5"):
        load_model(_archive(tmp_path / "d.keras", {**good, "model.weights.h5": b"garbage"}))
    truncated = tmp_path / "e.keras"
    truncated.write_bytes(open(os.path.join(HERE, "mlp.keras"), "rb").read()[:3000])
    with pytest.raises(Exception, match="zip|truncated|cannot"):
        load_model(str(truncated))


def test_lambda_needs_safe_mode_off_and_its_function(tmp_path):
    config = json.loads(open(os.path.join(HERE, "mlp.json")).read())
    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None, "config": {
        "name": "double", "trainable": True, "dtype": "float32",
        "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None,
                                                             "closure": None}},
        "arguments": {}, "output_shape": None}}
    config["config"]["layers"].insert(2, lam)
    text = json.dumps(config)
    with pytest.raises(Exception, match=r"refusing to load a Lambda layer \('double'\).*safe_mode=False"):
        model_from_json(text)
    from core.saving.keras_archive import model_from_keras_config

    with pytest.raises(Exception, match="bytecode, which is never executed"):
        model_from_keras_config(json.loads(text), safe_mode=False)
    model = model_from_keras_config(json.loads(text), custom_objects={"double": lambda t: t * 2.0},
                                    safe_mode=False)
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Lambda", "Dropout", "Dense"]


def test_keras_default_only_keys_refuse_other_values():
    config = json.loads(open(os.path.join(HERE, "transformer.json")).read())
    ln = next(l for l in config["config"]["layers"] if l["class_name"] == "LayerNormalization")
    ln["config"]["rms_scaling"] = True
    with pytest.raises(Exception, match="rms_scaling=True is not supported"):
        model_from_json(json.dumps(config))


@pytest.mark.slow
def test_resnet50_roundtrip(tmp_path):
    import zoo

    clf = zoo.ResNet50(weights=None)
    model = models.Model(clf.inputs[0], clf.outputs[0])
    x = np.random.default_rng(0).normal(size=(1, 224, 224, 3)).astype("float32")
    path = str(tmp_path / "r.keras")
    model.save(path)
    again = load_model(path)
    assert len(keras_config(again)["config"]["layers"]) == len(model.layers)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_compile_objects_and_custom_loss_roundtrip(tmp_path):
    from core import losses, metrics

    def my_loss(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    m = models.Sequential([L.Input((3,)), L.Dense(2)])
    m.compile(optimizer=optimizers.SGD(0.1), loss=losses.Huber(delta=2.0), metrics=[metrics.MeanAbsoluteError()])
    m.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    m.save(str(tmp_path / "a.keras"))
    cfg = keras_config(m)["compile_config"]
    assert cfg["loss"]["class_name"] == "Huber" and cfg["metrics"][0]["class_name"] == "MeanAbsoluteError"
    again = load_model(str(tmp_path / "a.keras"))
    assert type(again._losses_per_output[0]).__name__ == "Huber" and again._losses_per_output[0].delta == 2.0
    hist = again.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    assert "mean_absolute_error" in hist.history
    m.compile(optimizer="sgd", loss=my_loss)
    m.save(str(tmp_path / "b.keras"))
    assert keras_config(m)["compile_config"]["loss"] == "my_loss"
    with pytest.warns(UserWarning, match="compile settings could not be restored"):
        plain = load_model(str(tmp_path / "b.keras"))
    assert not plain.compiled
    custom = load_model(str(tmp_path / "b.keras"), custom_objects={"my_loss": my_loss})
    assert custom.compiled


def test_untrusted_dataset_shapes_are_checked_before_reading(tmp_path):
    from core.saving.errors import KerasH5FormatError

    model = _mlp()
    path = tmp_path / "w.weights.h5"
    model.save_weights(str(path))
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        # claims 400 MB, stores nothing (never written chunks of a gzip dataset)
        f.create_dataset("layers/dense/vars/0", shape=(10 ** 8,), dtype="float32", chunks=(1 << 16,),
                         compression="gzip")
    with pytest.raises(KerasH5FormatError, match=r"claims 400000000 bytes but the file stores 0"):
        model.load_weights(str(path))


def test_registered_functional_subclass_roundtrip(tmp_path):
    from zoo.classifier import ClassifierModel

    inp = L.Input((5,))
    feats = L.Dense(4, activation="relu", name="feat")(inp)
    out = L.Dense(3, activation="softmax", name="head")(feats)
    clf = ClassifierModel(inp, out, features_tensor=feats, head_name="head", name="clf")
    clf.assets = {"labels": ["a", "b", "c"]}
    path = str(tmp_path / "clf.keras")
    clf.save(path)
    config = keras_config(clf)
    assert config["class_name"] == "ClassifierModel" and config["registered_name"] == "zoo>ClassifierModel"
    again = load_model(path)
    assert type(again) is ClassifierModel and again.head_name == "head"
    assert again.assets == {"labels": ["a", "b", "c"]}
    x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    np.testing.assert_array_equal(again.predict(x, verbose=0), clf.predict(x, verbose=0))


def test_sublayers_held_in_lists_roundtrip_weights_h5(tmp_path):
    class Stack(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.blocks = [L.Dense(3), L.Dense(3)]

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    def make():
        inp = L.Input((3,))
        return models.Model(inp, Stack()(inp))

    model = make()
    assert [p for p, _, v in keras3_weight_layout(model) if v] == ["layers/stack/blocks/dense",
                                                                     "layers/stack/blocks/dense_1"]
    model.save_weights(str(tmp_path / "s.weights.h5"))
    other = make()
    other.load_weights(str(tmp_path / "s.weights.h5"))
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_unbuilt_optimizer_saves_its_iteration_and_learning_rate(tmp_path):
    model = models.Sequential([L.Input((3,)), L.Dense(2)])
    model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
    path = str(tmp_path / "u.keras")
    model.save(path)
    with h5py.File(io.BytesIO(read_keras_archive(path).weights), "r") as f:
        assert len(f["optimizer/vars"]) == 2    # what Keras writes for an optimizer that has not stepped
    again = _no_warnings(load_model, path)
    assert again.optimizer.iterations == 0 and again.optimizer.learning_rate == pytest.approx(0.01)
    again.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    assert again.optimizer.iterations == 1


def test_deflated_archive_loads(tmp_path, keras_io):
    path = _archive(tmp_path / "deflated.keras", _good_entries(), compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as z:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
    model = load_model(path)
    np.testing.assert_allclose(model.predict(keras_io["mlp_x"], verbose=0), keras_io["mlp_y"], atol=1e-5)
