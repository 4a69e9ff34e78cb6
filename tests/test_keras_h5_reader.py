"""core.saving.keras_h5: Keras HDF5 weight files read with h5py only, and detect_format.

Fixtures (tests/fixtures/readers/keras*) were written by Keras 3.15.1 (TensorFlow backend) with
tests/fixtures/make_reader_fixtures.py: model.save_weights (.weights.h5), the legacy writer
keras.src.legacy.saving.legacy_h5_format.save_weights_to_hdf5_group / save_model_to_hdf5.
"""
import collections
import io
import json
import pickle
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from core.saving import (KerasH5FormatError, UnknownFormatError, WeightFileError, detect_format,
                         read_keras3_object_names, read_keras3_weights, read_keras_full_model,
                         read_keras_legacy_weights, read_keras_optimizer_weights)
from tests.shared_data import require

FIX = Path(__file__).resolve().parent / "fixtures" / "readers"
EXP = np.load(FIX / "keras_expected.npz")
META = json.loads((FIX / "keras_expected.json").read_text())
K3 = FIX / "keras3_model.weights.h5"
LEGACY = FIX / "keras_legacy_weights.h5"
FULL = FIX / "keras_full_model.h5"

# Keras 3 object path -> the layer whose weights live there
K3_LAYER = {"layers/conv2d": "conv", "layers/batch_normalization": "bn", "layers/embedding": "embed",
            "layers/lstm/cell": "lstm", "layers/sequential/layers/dense": "head", "layers/dense": "out"}


# ------------------------------------------------------------------------------------------- Keras 3

def test_keras3_weights_paths_order_and_values():
    entries = read_keras3_weights(K3)
    paths = [p for p, _ in entries]
    assert set(paths) == set(META["keras3_vars_groups"])
    assert paths[0] == "" and paths[-1] == "optimizer"           # model itself, its layers, then the optimizer
    assert paths.index("layers/lstm") < paths.index("layers/lstm/cell")
    by_path = dict(entries)
    for path, info in META["keras3_vars_groups"].items():
        assert len(by_path[path]) == info["n"], path
    for path, layer in K3_LAYER.items():
        ws = by_path[path]
        assert [k for k, _ in ws] == [str(i) for i in range(len(ws))]
        for i, (_, arr) in enumerate(ws):
            np.testing.assert_array_equal(arr, EXP[f"{layer}/{i}"], err_msg=path)
    assert by_path["layers/lstm/cell"][0][1].shape == (3, 8)       # LSTM kernel (input 3, 4 gates x 2 units)
    assert by_path["layers/embedding"][0][1].shape == (12, 3)


def test_keras3_optimizer_vars_sorted_numerically():
    opt = dict(read_keras3_weights(K3))["optimizer"]
    assert len(opt) == len(META["optimizer_variables"]) == 26
    assert [k for k, _ in opt][:12] == [str(i) for i in range(12)]          # 0, 1, ..., 10, 11 (not 0, 1, 10)
    for i, (_, arr) in enumerate(opt):
        np.testing.assert_array_equal(arr, EXP[f"optimizer/{i}"])
    assert opt[0][1].dtype == np.int64 and int(opt[0][1]) == 1             # iterations after one step
    assert "optimizer" not in dict(read_keras3_weights(K3, include_optimizer=False))


def test_keras3_object_names():
    names = read_keras3_object_names(K3)
    assert names == {p: info["name"] for p, info in META["keras3_vars_groups"].items()}
    assert names["layers/conv2d"] == "conv" and names["layers/sequential/layers/dense"] == "head_dense"


def test_keras3_bfloat16_vars_become_float32():
    entries = dict(read_keras3_weights(FIX / "keras3_bf16.weights.h5"))
    kernel, bias = (a for _, a in entries["layers/dense"])
    assert kernel.dtype == np.float32 and kernel.shape == (3, 2)
    np.testing.assert_array_equal(kernel, EXP["bf/kernel"])
    np.testing.assert_array_equal(bias, EXP["bf/bias"])


# ------------------------------------------------------------------------------------ legacy layout

def _check_legacy(entries):
    assert [name for name, _ in entries] == [layer["name"] for layer in META["layers"]]
    for (name, ws), layer in zip(entries, META["layers"]):
        assert [w for w, _ in ws] == layer["weights"], name
        for i, (_, arr) in enumerate(ws):
            np.testing.assert_array_equal(arr, EXP[f"{name}/{i}"], err_msg=f"{name}/{i}")


def test_legacy_weights_file():
    entries = read_keras_legacy_weights(LEGACY)
    _check_legacy(entries)
    assert dict(entries)["lstm"][0][0] == "lstm/lstm_cell/kernel"
    assert dict(entries)["head"][0][0] == "head/head_dense/kernel"           # nested model: nested path
    with h5py.File(LEGACY, "r") as f:                                         # an open file or a group works too
        _check_legacy(read_keras_legacy_weights(f))
        _check_legacy(read_keras_legacy_weights(f["/"]))


def test_full_model_file():
    m = read_keras_full_model(FULL)
    model_config, training_config, weights, attrs = m
    assert model_config["class_name"] == "Functional"
    assert [l["class_name"] for l in model_config["config"]["layers"]] == META["config_class_names"]
    assert training_config["loss"] == "mse"
    assert training_config["optimizer_config"]["class_name"] == "Adam"
    assert attrs == {"keras_version": META["keras_version"], "backend": "tensorflow"}
    _check_legacy(weights)
    _check_legacy(read_keras_legacy_weights(FULL))            # reads its model_weights group
    opt = read_keras_optimizer_weights(FULL)
    assert len(opt) == 26 and opt[0][0] == "adam/iteration"
    for i, (_, arr) in enumerate(opt):
        np.testing.assert_array_equal(arr, EXP[f"optimizer/{i}"])
    assert read_keras_optimizer_weights(LEGACY) == []


def _applications_style_file(path, chunked=False):
    """The keras.applications layout as Keras 2 wrote it: bytes attributes, ':0' names, nested datasets."""
    rng = np.random.default_rng(0)
    layers = {"input_1": [], "conv1_conv": [("conv1_conv/kernel:0", (3, 3, 3, 4)), ("conv1_conv/bias:0", (4,))],
              "conv1_bn": [("conv1_bn/gamma:0", (4,)), ("conv1_bn/beta:0", (4,)),
                           ("conv1_bn/moving_mean:0", (4,)), ("conv1_bn/moving_variance:0", (4,))],
              "predictions": [("predictions/kernel:0", (4, 2)), ("predictions/bias:0", (2,))]}
    values = {}
    with h5py.File(path, "w") as f:
        names = np.array([n.encode() for n in layers], dtype="S12")
        if chunked:      # what save_attributes_to_hdf5_group does past the 64 KB header limit
            f.attrs["layer_names0"], f.attrs["layer_names1"] = names[:2], names[2:]
        else:
            f.attrs["layer_names"] = names
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in sorted(layers):
            g = f.create_group(layer)
            g.attrs["weight_names"] = np.array([w.encode() for w, _ in layers[layer]], dtype="S32")
            for w, shape in layers[layer]:
                values[w] = rng.standard_normal(shape).astype(np.float32)
                g.create_dataset(w, data=values[w])
    return layers, values


@pytest.mark.parametrize("chunked", [False, True])
def test_keras_applications_layout(tmp_path, chunked):
    path = tmp_path / "resnet_weights_tf_dim_ordering_tf_kernels.h5"
    layers, values = _applications_style_file(path, chunked)
    entries = read_keras_legacy_weights(path)
    assert [n for n, _ in entries] == list(layers)
    assert [w for w, _ in entries[2][1]] == [w for w, _ in layers["conv1_bn"]]
    for _, ws in entries:
        for w, arr in ws:
            np.testing.assert_array_equal(arr, values[w])
    assert detect_format(path) == "keras_legacy_h5"


# -------------------------------------------------------------------------------- the real MLPerf file

def test_mlperf_tiny_resnet8_full_model():
    path = require("weights/mlperf_tiny_resnet8_cifar10/pretrainedResnet.h5")
    assert detect_format(path) == "keras_full_h5"
    m = read_keras_full_model(path)
    assert m.attrs == {"keras_version": "2.4.0", "backend": "tensorflow"}
    assert m.model_config["class_name"] == "Functional"
    layers = m.model_config["config"]["layers"]
    assert len(layers) == 30
    assert collections.Counter(l["class_name"] for l in layers) == {
        "Conv2D": 9, "BatchNormalization": 7, "Activation": 7, "Add": 3, "InputLayer": 1,
        "AveragePooling2D": 1, "Flatten": 1, "Dense": 1}
    assert [l["class_name"] for l in layers[:4]] == ["InputLayer", "Conv2D", "BatchNormalization", "Activation"]
    assert m.training_config["loss"] == "categorical_crossentropy"
    w = dict(m.weights)
    assert list(w) == [l["config"]["name"] for l in layers]                  # every layer, in topological order
    assert sum(a.size for ws in w.values() for _, a in ws) == 78666          # as the README states
    assert [(n, a.shape) for n, a in w["conv2d"]] == [("conv2d/kernel:0", (3, 3, 3, 16)), ("conv2d/bias:0", (16,))]
    assert [n for n, _ in w["batch_normalization"]] == [f"batch_normalization/{k}:0" for k in
                                                        ("gamma", "beta", "moving_mean", "moving_variance")]
    assert w["conv2d_5"][0][1].shape == (1, 1, 16, 32) and w["conv2d_8"][0][1].shape == (1, 1, 32, 64)
    assert w["conv2d_7"][0][1].shape == (3, 3, 64, 64)
    assert [a.shape for _, a in w["dense"]] == [(64, 10), (10,)]
    assert w["input_1"] == [] and w["add"] == [] and w["flatten"] == []
    assert all(a.dtype == np.float32 for ws in w.values() for _, a in ws)
    opt = read_keras_optimizer_weights(path)
    assert len(opt) == 69 and opt[0][0] == "Adam/iter:0"


# ---------------------------------------------------------------------------------------- errors

def test_layout_mismatches_are_clear(tmp_path):
    with pytest.raises(KerasH5FormatError, match="no 'layer_names' attribute.*not a Keras legacy weights layout"):
        read_keras_legacy_weights(K3)
    with pytest.raises(KerasH5FormatError, match="legacy HDF5 file, not a Keras 3"):
        read_keras3_weights(LEGACY)
    with pytest.raises(KerasH5FormatError, match="no 'model_config' attribute"):
        read_keras_full_model(LEGACY)
    path = tmp_path / "w.h5"
    _applications_style_file(path)
    with h5py.File(path, "a") as f:
        del f["conv1_bn/conv1_bn/moving_variance:0"]
    with pytest.raises(KerasH5FormatError, match=r"layer 'conv1_bn' lists weight 'conv1_bn/moving_variance:0' but"):
        read_keras_legacy_weights(path)
    _applications_style_file(path)
    with h5py.File(path, "a") as f:
        del f["predictions"]
    with pytest.raises(KerasH5FormatError, match=r"layer 'predictions' is listed in layer_names but has no group"):
        read_keras_legacy_weights(path)
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = "{not json"
        f.create_group("model_weights")
    with pytest.raises(KerasH5FormatError, match="'model_config' attribute is not valid JSON"):
        read_keras_full_model(path)
    with pytest.raises(KerasH5FormatError, match="no such file"):
        read_keras_legacy_weights(tmp_path / "missing.h5")


@pytest.mark.parametrize("fixture", ["keras3_model.weights.h5", "keras_legacy_weights.h5", "keras_full_model.h5"])
def test_truncated_and_corrupted_h5_files(tmp_path, fixture):
    data = (FIX / fixture).read_bytes()
    path = tmp_path / fixture
    readers = [read_keras3_weights, read_keras_legacy_weights, read_keras_full_model]
    for cut in (0, 7, 100, 2000, len(data) // 2, len(data) - 100):
        path.write_bytes(data[:cut])
        for reader in readers:
            with pytest.raises(KerasH5FormatError) as info:
                reader(path)
            assert str(path) in str(info.value)
        with pytest.raises(WeightFileError):
            detect_format(path)
    # a damaged superblock / signature (deterministic damage: random flips deep inside HDF5 metadata can
    # crash or hang libhdf5 itself, which no Python-level reader can guard against)
    for start, junk in ((0, b"\0" * 8), (8, b"\xff" * 40), (len(data) // 2, b"\0" * 64)):
        bad = bytearray(data)
        bad[start:start + len(junk)] = junk
        path.write_bytes(bytes(bad))
        for reader in readers:
            try:
                reader(path)
            except WeightFileError as e:
                assert str(path) in str(e)


# ----------------------------------------------------------------------------------- detect_format

def test_detect_format_on_every_fixture(tmp_path):
    assert detect_format(K3) == "keras3_weights_h5"
    assert detect_format(FIX / "keras3_bf16.weights.h5") == "keras3_weights_h5"
    assert detect_format(LEGACY) == "keras_legacy_h5"
    assert detect_format(FULL) == "keras_full_h5"
    assert detect_format(FIX / "torch_zip.pt") == "torch_zip"
    assert detect_format(FIX / "torch_legacy.pt") == "torch_legacy"
    assert detect_format(FIX / "official.safetensors") == "safetensors"
    zoo = tmp_path / "model.h5"
    with h5py.File(zoo, "w") as f:
        f.attrs["zoo_format"] = "1"
        f.attrs["layer_names"] = [b"x"]          # zoo_format wins
    assert detect_format(zoo) == "zoo_h5"


def test_detect_format_real_files():
    assert detect_format(require("weights/akamaster_resnet_cifar10/resnet20-12fca82f.th")) == "torch_legacy"


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (b"hello world, not weights", "unrecognised weight file"),
    (pickle.dumps({"a": 1}), "unrecognised weight file"),
    (b"\x89HDF\r\n\x1a\n" + bytes(200), "h5py cannot open it"),
])
def test_detect_format_refuses_unknown_content(tmp_path, content, message):
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(WeightFileError, match=message):
        detect_format(path)


def test_detect_format_unknown_h5_and_zips(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(UnknownFormatError, match=r"HDF5 file of no known weight layout .*\['x'\]"):
        detect_format(path)
    keras_zip = tmp_path / "model.keras"
    with zipfile.ZipFile(keras_zip, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("metadata.json", "{}")
        z.writestr("model.weights.h5", b"")
    assert detect_format(keras_zip) == "keras_archive"   # read by core.saving.keras_archive
    other = tmp_path / "other.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hi")
    other.write_bytes(buf.getvalue())
    with pytest.raises(UnknownFormatError, match="not a torch checkpoint"):
        detect_format(other)
    with pytest.raises(UnknownFormatError, match="cannot read"):
        detect_format(tmp_path / "missing.bin")
