"""CIFAR ResNets (zoo.models.resnet_cifar): architecture, parameter counts, the akamaster
checkpoints through the real weight registry (offline), published accuracy on the exact CIFAR-10
images, logits equal to PyTorch's, and fine-tuning a pretrained ResNet-20 on two classes."""
from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

import numpy as np
import pytest

import zoo
import zoo.weights
from core import random as zrandom
from core.autodiff import Tensor
from core.saving.torch_mapping import StateDictMappingError
from zoo.models.resnet_cifar import ShortcutA, torch_mapping

from tests.shared_data import SHARED_DATA, require

FIXTURE = Path(__file__).parent / "fixtures" / "cifar_resnet" / "torch_logits.npz"
CKPT_DIR = "weights/akamaster_resnet_cifar10"
CKPTS = {20: "resnet20-12fca82f.th", 32: "resnet32-d509ac18.th", 44: "resnet44-014dd654.th",
         56: "resnet56-4bfd9763.th"}
# correct of the 846 exact CIFAR-10 test images (../shared/data/README.md, and PyTorch here)
EXPECTED_CORRECT = {20: 776, 32: 787, 44: 793, 56: 789}


# ---------------------------------------------------------------------------- helpers / fixtures
def _read_cifar_bin(raw):
    rows = np.frombuffer(raw, np.uint8).reshape(-1, 3073)
    return rows[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rows[:, 0].astype(np.int64)


@pytest.fixture(scope="module")
def exact_cifar():
    """The 846 exact CIFAR-10 test images (uint8 NHWC RGB) and labels."""
    return _read_cifar_bin(require("images/cifar10/test_batch_first846_exact.bin").read_bytes())


@pytest.fixture(scope="module")
def zoo_home(tmp_path_factory):
    """An empty, offline weight cache with the staged akamaster checkpoints imported into it
    through the registry (sha256 verified against the manifest)."""
    require(f"{CKPT_DIR}/{CKPTS[20]}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_HOME", str(tmp_path_factory.mktemp("zoo_home")))
        mp.setenv("ZOO_OFFLINE", "1")
        for depth, fname in CKPTS.items():
            zoo.weights.import_file(f"resnet{depth}.cifar10", str(SHARED_DATA / CKPT_DIR / fname))
        yield


@pytest.fixture(scope="module")
def torch_ref():
    return dict(np.load(FIXTURE))


# ---------------------------------------------------------------------------- architecture
@pytest.mark.slow
def test_registered_and_built_for_every_depth():
    assert {"resnet20", "resnet32", "resnet44", "resnet56", "resnet110"} <= set(zoo.list_models("resnet*"))
    entry = zoo.registry.get_entry("resnet20")
    assert entry.default_num_classes == 10 and set(entry.loaders) == {"torch_legacy", "torch_zip"}
    for depth in (20, 32, 44, 56, 110):
        m = zoo.create_model(f"resnet{depth}")
        n = (depth - 2) // 6
        convs = [l.name for l in m.layers if type(l).__name__ == "Conv2D"]
        assert len(convs) == 6 * n + 1 and convs[0] == "conv1" and convs[-1] == f"layer3_{n - 1}_conv2"
        assert m.head_name == "fc" and m.num_classes == 10 and m.num_features == 64
        assert tuple(m.outputs[0].shape) == (None, 10)
        assert tuple(m.inputs[0].shape) == (None, 32, 32, 3)


def test_parameter_counts_match_the_paper():
    m = zoo.create_model("resnet20")
    trainable = sum(int(np.prod(w.shape)) for w in m.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in m.non_trainable_weights)
    # convs 267,696 + BN gamma/beta 1,376 + fc 650; BN moving mean/var 1,376
    assert (trainable, non_trainable, m.count_params()) == (269_722, 1_376, 271_098)
    assert abs(m.count_params() - 270_000) <= 2_700  # "0.27M" +- 1%
    lines = []
    m.summary(print_fn=lambda s, *a, **k: lines.append(s))
    text = "\n".join(lines)
    assert re.search(r"Total params: 271,098\b", text), text[-400:]
    assert re.search(r"Trainable params: 269,722\b", text)
    assert re.search(r"Non-trainable params: 1,376\b", text)
    # the paper's table (trainable parameters, rounded as published)
    for depth, published, digits in ((32, 0.46, 2), (44, 0.66, 2), (56, 0.85, 2), (110, 1.7, 1)):
        got = sum(int(np.prod(w.shape)) for w in zoo.create_model(f"resnet{depth}").trainable_weights)
        assert round(got / 1e6, digits) == published, (depth, got)


def test_stride2_convs_pad_symmetrically_and_stride1_use_same():
    m = zoo.create_model("resnet20")
    for name in ("layer2_0_conv1", "layer3_0_conv1"):
        conv = m.get_layer(name)
        assert conv.strides == (2, 2) and conv.padding == "valid" and not conv.use_bias
        assert m.get_layer(f"{name}_pad").padding == ((1, 1), (1, 1))
    assert m.get_layer("layer1_0_conv1").padding == "same"
    bn = m.get_layer("layer1_0_bn1")
    assert bn.epsilon == pytest.approx(1e-5) and bn.momentum == pytest.approx(0.9)
    assert [l.name for l in m.layers if isinstance(l, ShortcutA)] == ["layer2_0_shortcut", "layer3_0_shortcut"]
    feats = zoo.create_model("resnet20", include_top=False)
    assert tuple(feats.outputs[0].shape) == (None, 8, 8, 64)
    assert feats.get_layer("layer2_0_conv1_pad").compute_output_shape((None, 32, 32, 16)) == (None, 34, 34, 16)


def test_option_a_shortcut_values_gradient_and_config():
    x = np.arange(2 * 5 * 5 * 4, dtype=np.float32).reshape(2, 5, 5, 4)
    layer = ShortcutA(pad=2, stride=2, name="sc")
    y = layer(Tensor(x))
    expected = np.zeros((2, 3, 3, 8), np.float32)
    expected[..., 2:6] = x[:, ::2, ::2, :]
    np.testing.assert_array_equal(y.numpy(), expected)
    assert y.numpy().dtype == np.float32
    assert layer.compute_output_shape((None, 5, 5, 4)) == (None, 3, 3, 8)
    assert not layer.weights
    # gradient flows to the kept pixels only
    xt = Tensor(x, requires_grad=True)
    (layer(xt) * 2.0).sum().backward()
    g = np.zeros_like(x)
    g[:, ::2, ::2, :] = 2.0
    np.testing.assert_array_equal(xt.grad, g)
    clone = ShortcutA.from_config(layer.get_config())
    assert (clone.pad, clone.stride) == (2, 2)
    with pytest.raises(ValueError, match="4-D"):
        layer(Tensor(np.zeros((2, 4, 4), np.float32)))
    with pytest.raises(ValueError, match="pad >= 0"):
        ShortcutA(pad=-1)


def test_bad_arguments_name_what_was_received():
    from zoo.models.resnet_cifar import cifar_resnet

    with pytest.raises(ValueError, match=r"6n \+ 2.*received 21"):
        cifar_resnet(21)
    with pytest.raises(ValueError, match="pooling.*'sum'"):
        zoo.create_model("resnet20", include_top=False, pooling="sum")
    with pytest.raises(ValueError, match="num_classes"):
        zoo.create_model("resnet20", num_classes=0)


def test_headless_variants_and_torch_mapping():
    m = zoo.create_model("resnet20", include_top=False)
    assert tuple(m.outputs[0].shape) == (None, 8, 8, 64) and m.head is None
    m = zoo.create_model("resnet20", include_top=False, pooling="max")
    assert tuple(m.outputs[0].shape) == (None, 64)
    mapping = torch_mapping(zoo.create_model("resnet20"))
    assert mapping["layer3_2_bn2"] == "layer3.2.bn2" and mapping["fc"] == "linear" and mapping["conv1"] == "conv1"
    assert len(mapping) == 1 + 1 + 9 * 4 + 1


def test_save_and_load_round_trip(tmp_path):
    from core.models import load_model

    zrandom.set_seed(1)
    m = zoo.create_model("resnet20", num_classes=3)
    m.save(tmp_path / "resnet20.h5")
    back = load_model(tmp_path / "resnet20.h5")
    assert isinstance(back.get_layer("layer3_0_shortcut"), ShortcutA)
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))


# ---------------------------------------------------------------------------- real checkpoints
@pytest.mark.slow
@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_pretrained_accuracy_and_logits_equal_pytorch(depth, zoo_home, exact_cifar, torch_ref):
    images, labels = exact_cifar
    model = zoo.create_model(f"resnet{depth}", weights="cifar10", classifier_activation=None)
    assert model.pretrained_cfg["key"] == f"resnet{depth}.cifar10"
    x = model.preprocess(images)
    assert x.dtype == np.float32 and x.shape == (846, 32, 32, 3)
    logits = model.predict(x, batch_size=128, verbose=0)
    assert logits.dtype == np.float32
    pred = logits.argmax(axis=1)
    correct = int((pred == labels).sum())
    print(f"\nresnet{depth}: {correct}/846 = {100 * correct / 846:.2f}% on the exact CIFAR-10 images")
    assert correct == EXPECTED_CORRECT[depth]
    ref = torch_ref[f"logits{depth}"]
    diff = float(np.abs(logits[: len(ref)] - ref).max())
    print(f"resnet{depth}: max |logit - PyTorch logit| = {diff:.2e}")
    assert diff < 1e-4
    np.testing.assert_array_equal(pred, torch_ref[f"pred{depth}"])
    np.testing.assert_array_equal(labels, torch_ref["labels"])


def test_default_softmax_head_labels_and_decode(zoo_home, exact_cifar):
    images, labels = exact_cifar
    model = zoo.create_model("resnet20", weights="cifar10")
    probs = model.predict(model.preprocess(images[:8]), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert model.labels[3] == "cat" and len(model.labels) == 10
    top = model.decode_predictions(probs, top=2)
    assert [t[0][0] for t in top] == [model.labels[i] for i in probs.argmax(1)]
    assert top[0][0][1] >= top[0][1][1]
    # image 0 of the CIFAR-10 test set is a cat, and the pretrained net says so
    assert labels[0] == 3 and top[0][0][0] == "cat"
    # the headless model gives the same pooled features as the full model's features()
    headless = zoo.create_model("resnet20", weights="cifar10", include_top=False, pooling="avg")
    x = model.preprocess(images[:4])
    np.testing.assert_allclose(headless.predict(x, verbose=0), model.features(Tensor(x)).numpy(), atol=1e-5)


def test_wrong_checkpoint_is_a_clear_error(zoo_home):
    path = SHARED_DATA / CKPT_DIR / CKPTS[20]
    with pytest.raises(StateDictMappingError, match="layer1.3.conv1"):
        zoo.create_model("resnet32", weights=str(path))


# ---------------------------------------------------------------------------- fine-tuning
def _two_classes(a, b, n_train, n_test):
    raw = gzip.decompress(require("images/cifar10/test_batch_from_jpeg.bin.gz").read_bytes())
    images, labels = _read_cifar_bin(raw)
    ia, ib = np.flatnonzero(labels == a), np.flatnonzero(labels == b)
    tr = np.concatenate([ia[:n_train], ib[:n_train]])
    te = np.concatenate([ia[n_train:n_train + n_test], ib[n_train:n_train + n_test]])
    return images[tr], (labels[tr] == b).astype(np.int64), images[te], (labels[te] == b).astype(np.int64)


@pytest.mark.slow
def test_finetune_pretrained_beats_scratch(zoo_home, caplog):
    from core import optimizers

    cat, dog = 3, 5
    xtr_u8, ytr, xte_u8, yte = _two_classes(cat, dog, n_train=150, n_test=150)
    epochs, batch_size = 3, 32

    def train(model):
        model.compile(optimizer=optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(xtr, ytr, batch_size=batch_size, epochs=epochs, verbose=0)
        return float((model.predict(xte, batch_size=300, verbose=0).argmax(1) == yte).mean())

    zrandom.set_seed(0)
    with caplog.at_level(logging.INFO, logger="zoo"):
        pre = zoo.create_model("resnet20", weights="cifar10", num_classes=2)
    assert "re-initialised" in caplog.text and "10 classes, 2 requested" in caplog.text
    assert "classifier head reset from 10 to 2 classes" in caplog.text
    assert pre.num_classes == 2 and pre.head.kernel.shape == (64, 2)
    reference = zoo.create_model("resnet20", weights="cifar10", num_classes=None)
    backbone = {w.path: w.numpy().copy() for w in pre.weights if not w.path.startswith("fc/")}
    assert backbone and all(np.array_equal(backbone[w.path], w.numpy()) for w in reference.weights
                            if w.path in backbone)
    xtr, xte = pre.preprocess(xtr_u8), pre.preprocess(xte_u8)
    pre.freeze(until="fc")
    assert [w.path for w in pre.trainable_weights] == ["fc/kernel", "fc/bias"]
    acc_pre = train(pre)
    # the frozen backbone (BN statistics included) did not move
    assert all(np.array_equal(backbone[w.path], w.numpy()) for w in pre.weights if w.path in backbone)

    zrandom.set_seed(0)
    scratch = zoo.create_model("resnet20", num_classes=2)
    assert len(scratch.trainable_weights) == 59
    acc_scratch = train(scratch)
    print(f"\nfine-tune cat vs dog (JPEG CIFAR-10, {len(ytr)} train / {len(yte)} held out, {epochs} epochs, "
          f"{epochs * -(-len(ytr) // batch_size)} steps): pretrained frozen backbone {acc_pre:.3f}, "
          f"from scratch {acc_scratch:.3f}")
    assert acc_pre >= 0.7
    assert acc_pre > acc_scratch + 0.1
