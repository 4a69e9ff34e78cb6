"""PyTorch state dicts mapped into models here: a real torch.save file (made with torch 2.13 by
tests/fixtures/make_torch_mapping_fixture.py) gives PyTorch's output; mapping errors are clear."""
from pathlib import Path

import numpy as np
import pytest

from core import layers as L
from core.models import Model
from core.saving import load_torch_checkpoint
from core.saving.torch_mapping import StateDictMappingError, load_torch_state_dict

FIX = Path(__file__).parent / "fixtures" / "torch_mapping"
MAPPING = {"conv1": "conv1", "bn1": "bn1", "dw": "dw", "up": "up", "fc": "fc", "emb": "emb", "lstm": "lstm",
           "ln": "ln", "out": "out"}


def build():
    image = L.Input((8, 8, 3), name="image")
    h = L.ZeroPadding2D(1)(image)  # PyTorch pads symmetrically; TF 'same' with stride 2 would not
    h = L.Conv2D(4, 3, strides=2, use_bias=False, name="conv1")(h)
    h = L.ReLU()(L.BatchNormalization(epsilon=1e-5, name="bn1")(h))
    h = L.ReLU()(L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(h))
    h = L.GlobalAveragePooling2D()(L.Conv2DTranspose(5, 2, strides=2, name="up")(h))
    h = L.Dense(6, activation="relu", name="fc")(h)
    tokens = L.Input((5,), dtype="int32", name="tokens")
    s = L.LSTM(3, name="lstm")(L.Embedding(11, 5, name="emb")(tokens))
    s = L.LayerNormalization(epsilon=1e-5, name="ln")(s)
    return Model([image, tokens], L.Dense(2, name="out")(L.Concatenate()([h, s])))


def test_mapped_model_reproduces_pytorch_output():
    sd = load_torch_checkpoint(FIX / "net.pt")
    io = np.load(FIX / "io.npz")
    model = build()
    load_torch_state_dict(model, sd, MAPPING)
    out = model.predict([io["image_nchw"].transpose(0, 2, 3, 1), io["tokens"]], verbose=0)
    np.testing.assert_allclose(out, io["output"], rtol=1e-5, atol=1e-6)


def test_mapping_errors_are_clear():
    sd = dict(load_torch_checkpoint(FIX / "net.pt"))
    model = build()
    without_ln = {k: v for k, v in MAPPING.items() if k != "ln"}
    load_torch_state_dict(model, sd, without_ln, strict=False)  # partial loads are allowed when asked
    with pytest.raises(StateDictMappingError, match="leaves out: \\['ln'\\]"):
        load_torch_state_dict(model, {k: v for k, v in sd.items() if not k.startswith("ln.")}, without_ln)
    with pytest.raises(StateDictMappingError, match="no key 'fc.weight'"):
        load_torch_state_dict(model, {k: v for k, v in sd.items() if k != "fc.weight"}, MAPPING)
    bad = dict(sd)
    bad["fc.weight"] = np.zeros((7, 5), np.float32)
    before = model.get_layer("conv1").kernel.numpy().copy()
    with pytest.raises(StateDictMappingError, match=r"layer 'fc' weight 'kernel' expects shape \(5, 6\).*\(5, 7\)"):
        load_torch_state_dict(model, bad, MAPPING)
    np.testing.assert_array_equal(model.get_layer("conv1").kernel.numpy(), before)  # nothing half-assigned
    extra = dict(sd, **{"head.weight": np.zeros(3, np.float32)})
    with pytest.raises(StateDictMappingError, match="not used by the mapping: \\['head.weight'\\]"):
        load_torch_state_dict(model, extra, MAPPING)
