"""Schema of the real ``weights_manifest.json`` (and of the validator itself).

The checks here are written out independently of ``zoo.weights.manifest.validate_manifest`` so a
bug in the validator cannot hide a bad manifest. Facts are cross-checked against
``../shared`` (upstream_weights.md, data/README.md, the staged CIFAR checkpoints) when present.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.weights_helpers import REPO, SHARED
from zoo.weights import manifest as wm

MANIFEST = REPO / "weights_manifest.json"
REQUIRED = {"kind", "architecture", "urls", "filename", "size_bytes", "size_source", "format", "source",
            "license", "input", "num_classes", "labels", "metrics"}
OPTIONAL = {"checksum_source", "output", "notes"}
CHECKSUMS = {"sha256": 64, "md5": 32}
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
EXPECTED_KEYS = {
    *(f"{a}.imagenet{s}" for a in ("resnet50", "resnet101", "resnet152", "vgg16", "vgg19") for s in ("", "_notop")),
    "imagenet.labels", "resnet18.imagenet", "resnet34.imagenet",
    *(f"resnet{d}.cifar10" for d in (20, 32, 44, 56)),
    "minilm_l6.sentence", "minilm_l6.vocab", "minilm_l6.config",
}


def _pairs_no_dup(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    assert not dup, f"duplicate keys in weights_manifest.json: {sorted(dup)}"
    return dict(pairs)


@pytest.fixture(scope="module")
def data():
    return json.loads(MANIFEST.read_text(encoding="utf-8"), object_pairs_hook=_pairs_no_dup)


@pytest.fixture(scope="module")
def entries(data):
    return data["entries"]


def test_top_level(data):
    assert set(data) == {"_doc", "schema_version", "entries"}
    assert data["schema_version"] == 1


def test_duplicate_keys_are_detected():
    text = '{"schema_version": 1, "entries": {"a.b": {}, "a.b": {}}}'
    with pytest.raises(AssertionError, match="duplicate keys"):
        json.loads(text, object_pairs_hook=_pairs_no_dup)
    with pytest.raises(wm.ManifestError, match="duplicate key 'a.b'"):
        json.loads(text, object_pairs_hook=wm._no_duplicates)


def test_expected_keys_present(entries):
    assert EXPECTED_KEYS <= set(entries), sorted(EXPECTED_KEYS - set(entries))


def test_validator_accepts_the_real_manifest(data):
    assert wm.validate_manifest(data, require_https=True) == []
    wm.load(MANIFEST)  # and the loader agrees


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS))
def test_entry_fields(entries, key):
    e = entries[key]
    checks = [c for c in ("sha256", "sha256_prefix", "md5") if c in e]
    assert REQUIRED <= set(e), REQUIRED - set(e)
    assert set(e) <= REQUIRED | OPTIONAL | {"sha256", "sha256_prefix", "md5"}
    assert len(checks) == 1, checks
    algo = checks[0]
    value = e[algo]
    assert re.fullmatch(r"[0-9a-f]+", value)
    if algo == "sha256_prefix":
        assert 8 <= len(value) < 64 and f"-{value}." in e["filename"]
    else:
        assert len(value) == CHECKSUMS[algo]
    if algo != "sha256":
        assert e.get("checksum_source"), "a weak checksum must say why nothing stronger exists"

    assert re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", key)
    assert e["kind"] in {"weights", "labels", "vocab", "config"}
    assert e["architecture"] is None or e["architecture"] == key.split(".")[0]
    assert e["urls"] and len(set(e["urls"])) == len(e["urls"])
    for u in e["urls"]:
        parsed = urlparse(u)
        assert parsed.scheme == "https" and parsed.netloc, u
        assert parsed.path.rsplit("/", 1)[-1] == e["filename"], u
    assert e["source"].startswith("https://")
    assert e["format"] in {"keras_h5", "torch_zip", "torch_legacy", "safetensors", "json", "text"}
    assert isinstance(e["license"], str) and e["license"]

    # size policy: exact bytes, or null with a stated reason (never a made-up number)
    if e["size_bytes"] is None:
        assert e["size_source"].startswith("unpublished")
    else:
        assert isinstance(e["size_bytes"], int) and e["size_bytes"] > 0 and e["size_source"]

    nc, labels = e["num_classes"], e["labels"]
    if isinstance(labels, str):
        assert labels in entries and entries[labels]["kind"] == "labels", labels
        assert entries[labels]["num_classes"] == nc
    elif isinstance(labels, list):
        assert len(labels) == nc and len(set(labels)) == nc
    else:
        assert labels is None
    if e["kind"] == "weights":
        assert isinstance(e["input"], dict)
    else:
        assert e["input"] is None
    if e["metrics"]:
        assert isinstance(e["metrics"]["dataset"], str) and isinstance(e["metrics"]["source"], str)


def test_filenames_unique(entries):
    names = [e["filename"] for e in entries.values()]
    assert len(names) == len(set(names))  # ZOO_MIRROR serves files by name


def test_keras_entries(entries):
    for arch in ("resnet50", "resnet101", "resnet152", "vgg16", "vgg19"):
        folder = "resnet" if arch.startswith("resnet") else arch
        for notop in (False, True):
            e = entries[f"{arch}.imagenet{'_notop' if notop else ''}"]
            fname = f"{arch}_weights_tf_dim_ordering_tf_kernels{'_notop' if notop else ''}.h5"
            assert e["urls"] == [f"https://storage.googleapis.com/tensorflow/keras-applications/{folder}/{fname}"]
            assert "md5" in e and e["format"] == "keras_h5"
            inp = e["input"]
            assert inp["mode"] == "caffe" and inp["channel_order"] == "BGR" and inp["layout"] == "NHWC"
            assert inp["mean"] == [103.939, 116.779, 123.68] and inp["std"] is None and inp["scale"] == 1.0
            assert inp["size"] == [224, 224]
            if notop:
                assert e["num_classes"] is None and e["labels"] is None and e["metrics"] == {}
            else:
                assert e["num_classes"] == 1000 and e["labels"] == "imagenet.labels"
    top1 = {k: entries[f"{k}.imagenet"]["metrics"]["top1"] for k in ("resnet50", "resnet101", "resnet152", "vgg16", "vgg19")}
    assert top1 == {"resnet50": 74.9, "resnet101": 76.4, "resnet152": 76.6, "vgg16": 71.3, "vgg19": 71.3}
    lab = entries["imagenet.labels"]
    assert lab["md5"] == "c2c37ea517e94d9795004a39431a14cb" and lab["num_classes"] == 1000
    assert lab["urls"] == ["https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"]


def test_torchvision_entries(entries):
    for arch, prefix, top1, top5 in (("resnet18", "f37072fd", 69.758, 89.078), ("resnet34", "b627a593", 73.314, 91.420)):
        e = entries[f"{arch}.imagenet"]
        assert e["urls"] == [f"https://download.pytorch.org/models/{arch}-{prefix}.pth"]
        if arch == "resnet18":   # full hash recorded by third parties, consistent with the prefix
            assert e["sha256"].startswith(prefix) and len(e["sha256"]) == 64 and "sha256_prefix" not in e
        else:
            assert e["sha256_prefix"] == prefix and "sha256" not in e
            assert e["checksum_source"].startswith("PREFIX-PINNED")
        inp = e["input"]
        assert inp["channel_order"] == "RGB" and inp["scale"] == pytest.approx(1 / 255)
        assert inp["mean"] == [0.485, 0.456, 0.406] and inp["std"] == [0.229, 0.224, 0.225]
        assert (inp["resize"], inp["crop"], inp["interpolation"]) == (256, 224, "bilinear")
        assert e["metrics"]["top1"] == top1 and e["metrics"]["top5"] == top5
        assert e["labels"] == "imagenet.labels"


def test_cifar_entries(entries):
    errors = {20: 8.27, 32: 7.37, 44: 6.90, 56: 6.61}
    for depth, err in errors.items():
        e = entries[f"resnet{depth}.cifar10"]
        assert e["labels"] == CIFAR10 and e["num_classes"] == 10
        assert e["filename"] == f"resnet{depth}-{e['sha256'][:8]}.th"
        assert e["urls"][0] == f"https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/{e['filename']}"
        inp = e["input"]
        assert inp["size"] == [32, 32] and inp["channel_order"] == "RGB" and inp["scale"] == pytest.approx(1 / 255)
        assert inp["mean"] == [0.485, 0.456, 0.406] and inp["std"] == [0.229, 0.224, 0.225]
        assert e["metrics"]["test_error"] == err and e["metrics"]["top1"] == pytest.approx(100 - err)
        assert e["license"] == "BSD-2-Clause"


def test_minilm_entries(entries):
    m = entries["minilm_l6.sentence"]
    assert m["sha256"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert m["format"] == "safetensors" and m["input"]["vocab"] == "minilm_l6.vocab"
    assert entries["minilm_l6.vocab"]["kind"] == "vocab" and entries["minilm_l6.config"]["kind"] == "config"
    for k in ("minilm_l6.sentence", "minilm_l6.vocab", "minilm_l6.config"):
        assert entries[k]["urls"][0].startswith("https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/")


def test_keras_md5_match_keras_sources(entries):
    """Every MD5 (or SHA-256: ConvNeXt) credited to a Keras source file is one that file publishes."""
    record = json.loads((REPO / "tests" / "fixtures" / "keras_application_hashes.json").read_text())
    checked = 0
    for key, e in entries.items():
        digest = e.get("md5") or e.get("sha256")
        if digest is None or not e.get("checksum_source", "").startswith("keras-team/keras "):
            continue
        source = e["checksum_source"].split()[1]
        assert source in record["files"], (key, source)
        assert digest in record["files"][source], key
        checked += 1
    assert checked >= 64


def test_keras_md5_match_shared_notes(entries):
    notes = SHARED / "upstream_weights.md"
    if not notes.is_file():
        pytest.skip(f"{notes} not present")
    text = notes.read_text()
    listed = [k for k, e in entries.items() if "md5" in e and e["filename"] in text]
    assert len(listed) >= 10
    for key in listed:
        assert entries[key]["md5"] in text, key


def test_cifar_hashes_match_shared_data(entries):
    readme = SHARED / "data" / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} not present")
    text = readme.read_text()
    for depth in (20, 32, 44, 56):
        e = entries[f"resnet{depth}.cifar10"]
        row = re.search(rf"\| weights/akamaster_resnet_cifar10/{re.escape(e['filename'])} \|[^|]*\| (\d+) \| ([0-9a-f]{{64}}) \|", text)
        assert row, e["filename"]
        assert int(row.group(1)) == e["size_bytes"] and row.group(2) == e["sha256"]
        staged = SHARED / "data" / "weights" / "akamaster_resnet_cifar10" / e["filename"]
        if staged.is_file():
            raw = staged.read_bytes()
            assert len(raw) == e["size_bytes"] and hashlib.sha256(raw).hexdigest() == e["sha256"]


def test_validator_rejects_broken_entries(data):
    def problems(mutate):
        d = copy.deepcopy(data)
        mutate(d["entries"])
        return "\n".join(wm.validate_manifest(d, require_https=True))

    assert "md5 must be 32" in problems(lambda E: E["resnet50.imagenet"].update(md5="abc"))
    assert "sha256 must be 64" in problems(lambda E: E["resnet20.cifar10"].update(sha256="ab" * 31))
    assert "labels 'nope.labels' is not a key" in problems(lambda E: E["vgg16.imagenet"].update(labels="nope.labels"))
    assert "is not https" in problems(lambda E: E["resnet18.imagenet"]["urls"].__setitem__(0, "http://download.pytorch.org/models/resnet18-f37072fd.pth"))
    assert "missing fields ['license']" in problems(lambda E: E["imagenet.labels"].pop("license"))
    assert "needs exactly one of" in problems(lambda E: E["resnet18.imagenet"].update(md5="0" * 32))
    assert "size_source must start with 'unpublished'" in problems(lambda E: E["resnet20.cifar10"].update(size_bytes=None))
    assert "inline labels has 9 names" in problems(lambda E: E["resnet20.cifar10"].update(labels=CIFAR10[:9]))
    assert "is not the '-<hash>.' part" in problems(lambda E: E["resnet34.imagenet"].update(sha256_prefix="deadbeef"))
    assert "does not end with the filename" in problems(lambda E: E["vgg19.imagenet"].update(filename="x.h5"))
    assert "unknown fields ['sha1']" in problems(lambda E: E["vgg19.imagenet"].update(sha1="0" * 40))
    assert "input.vocab 'minilm_l6.config' is not the key of a vocab entry" in problems(
        lambda E: E["minilm_l6.sentence"]["input"].update(vocab="minilm_l6.config"))
