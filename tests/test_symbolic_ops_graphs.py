"""Functional graphs with symbolic op nodes (``x + y`` on KerasTensors, as Keras's ConvNeXt blocks
add their residuals): a ``.keras`` archive keeps them as Keras writes them (``keras.src.ops.numpy``)
and reloads them, and the ONNX exporter maps the elementwise binaries."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from core import layers as L
from core import ops
from core.models import Model, load_model


def _graph():
    inp = L.Input((3, 4))
    a = L.Dense(4, name="a")(inp)
    b = L.Dense(4, name="b")(inp)
    out = (a + b) * a - ops.maximum(a, b) / (ops.minimum(a, b) * ops.minimum(a, b) + 1.5)
    return Model(inp, out)


def test_keras_archive_keeps_and_reloads_symbolic_ops(tmp_path):
    model = _graph()
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    y = np.asarray(model.predict(x, verbose=0))
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
    adds = [lc for lc in layers if lc["class_name"] == "Add"]
    assert adds and all(lc["module"] == "keras.src.ops.numpy" and lc["registered_name"] == "Add" for lc in adds)
    back = load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_array_equal(np.asarray(back.predict(x, verbose=0)), y)


def test_onnx_maps_elementwise_symbolic_ops(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from core.export import OnnxExportError, export_onnx
    from tests.onnx_helpers import assert_onnx_matches

    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    assert_onnx_matches(_graph(), [x], tmp_path / "m.onnx")
    inp = L.Input((4,))
    with pytest.raises(OnnxExportError, match=r"op 'sqrt.*no ONNX mapping \(supported symbolic ops: Add"):
        export_onnx(Model(inp, ops.sqrt(L.Dense(4)(inp))), tmp_path / "n.onnx")
