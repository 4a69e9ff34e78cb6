"""The first run works anywhere: the built-in CIFAR-10 ResNet-20 answers `zoo classify` with no
`--model` and no network, the weights and the manifest ship as package data (importlib.resources),
and an installed copy (`pip install --target`) runs the README's first command with networking
unavailable."""
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "apps" / "samples" / "chelsea.jpg"

# a sitecustomize that makes every socket connection and name lookup fail, as on a machine without network
NO_NETWORK = textwrap.dedent('''
    import socket

    def _refuse(*args, **kwargs):
        raise OSError(101, "Network is unreachable (networking disabled for this test)")

    socket.socket.connect = _refuse
    socket.socket.connect_ex = _refuse
    socket.getaddrinfo = _refuse
    socket.create_connection = _refuse
''')


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    def refuse(*a, **k):
        raise OSError(101, "Network is unreachable (networking disabled for this test)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    monkeypatch.delenv("ZOO_MIRROR", raising=False)


def readme_first_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip()
    return block


def test_readme_first_command_is_the_offline_one():
    cmd = readme_first_command()
    assert cmd == "pip install . && zoo classify apps/samples/chelsea.jpg"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "zoo classify apps/samples/chelsea.jpg --model resnet50" in text  # the next step


def test_default_model_answers_without_network(no_network):
    r = CliRunner().invoke(main, ["classify", str(SAMPLE)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "model: resnet20.cifar10 (CIFAR-10, 10 classes; built in, no download)"
    assert lines[1].split()[1] == "cat"
    assert "--model resnet50" in r.stderr and "98 MB" in r.stderr and "1,000 classes" in r.stderr
    r = CliRunner().invoke(main, ["classify", str(SAMPLE), "--json", "-q"])
    rec = json.loads(r.stdout.strip())
    assert rec["model"] == "resnet20.cifar10" and rec["predictions"][0]["label"] == "cat"
    assert r.stderr == ""


def test_builtin_weights_are_package_data():
    from importlib import resources

    import zoo.weights as w

    assert w.is_builtin("resnet20.cifar10") and not w.is_builtin("resnet50.imagenet")
    path = w.builtin_file("resnet20.cifar10")
    assert path == Path(str(resources.files("zoo.weights").joinpath("builtin", "resnet20_cifar10.weights.h5")))
    assert 1_000_000 < path.stat().st_size < 1_300_000
    lic = w.license_text("resnet20.cifar10")
    assert "Copyright (c) 2018, Yerlan Idelbayev" in lic and "Redistribution and use in source and binary forms" in lic
    assert "resnet20-12fca82f.th" in lic
    text = (ROOT / "pyproject.toml").read_text()
    assert '"zoo.weights" = ["builtin/*.h5", "builtin/*.txt"]' in text


def test_weights_list_shows_builtin(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    r = CliRunner().invoke(main, ["weights", "list"])
    assert r.exit_code == 0, r.output
    row = next(l for l in r.output.splitlines() if l.startswith("resnet20.cifar10 "))
    assert "built in" in row
    assert next(l for l in r.output.splitlines() if l.startswith("resnet32.cifar10 ")).split()[3] == "no"
    r = CliRunner().invoke(main, ["weights", "list", "--cached"])
    assert "resnet20.cifar10" in r.output and "resnet32.cifar10" not in r.output


def test_builtin_weights_equal_the_checkpoint():
    """The conversion changed no value: the built-in model and the one built from the upstream
    checkpoint give the same outputs, bit for bit."""
    from tests.shared_data import require

    import zoo

    ckpt = require("weights/akamaster_resnet_cifar10/resnet20-12fca82f.th")
    builtin = zoo.create_model("resnet20", weights="cifar10")
    ref = zoo.create_model("resnet20", weights=str(ckpt))
    for a, b in zip(builtin.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    np.testing.assert_array_equal(builtin.predict(builtin.preprocess(x), verbose=0),
                                  ref.predict(ref.preprocess(x), verbose=0))


def test_repo_holds_no_byte_identical_copy_of_shared_data():
    from tests.shared_data import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is missing")
    shared = {}
    for p in SHARED_DATA.rglob("*"):
        if p.is_file():
            shared.setdefault(p.stat().st_size, []).append(p)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    for rel in tracked:
        p = ROOT / rel
        if p.is_file() and p.stat().st_size in shared:
            same = [s for s in shared[p.stat().st_size] if digest(s) == digest(p)]
            assert not same, f"{rel} is a byte-identical copy of {same[0]}"


def test_manifest_found_as_package_data(monkeypatch, tmp_path):
    """Outside a checkout (no manifest at the repo root), the manifest comes from the package."""
    from zoo.weights import manifest

    monkeypatch.delenv("ZOO_WEIGHTS_MANIFEST", raising=False)
    packaged = manifest.packaged_manifest()
    assert packaged.parent == Path(manifest.__file__).resolve().parent
    cands = manifest.default_manifest_candidates()
    assert cands[0] == ROOT / "weights_manifest.json" and cands[1] == packaged
    copy = tmp_path / "pkg" / "weights_manifest.json"
    copy.parent.mkdir()
    copy.write_bytes((ROOT / "weights_manifest.json").read_bytes())
    monkeypatch.setattr(manifest, "default_manifest_candidates",
                        lambda: [tmp_path / "missing.json", copy])
    assert manifest.manifest_path() == copy
    assert "resnet50.imagenet" in manifest.load()


def test_setup_copies_the_manifest_into_the_package():
    text = (ROOT / "setup.py").read_text()
    assert 'Path(self.build_lib) / "zoo" / "weights" / MANIFEST' in text


@pytest.mark.slow
def test_target_install_runs_the_readme_command_without_network(tmp_path):
    """`pip install --target DIR .` then the README's first command, from another folder, with every
    socket refused: the installed package finds its manifest and built-in weights and answers."""
    target = tmp_path / "target"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--disable-pip-version-check",
                        "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        if "setuptools" in r.stderr and ("No matching distribution" in r.stderr or "Could not find" in r.stderr):
            pytest.skip("pip cannot get the build backend (setuptools) here: " + r.stderr.strip().splitlines()[-1])
        raise AssertionError(r.stderr)
    wheel_files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    for f in ("zoo/weights/weights_manifest.json", "zoo/weights/builtin/resnet20_cifar10.weights.h5",
              "zoo/weights/builtin/resnet20_cifar10.LICENSE.txt"):
        assert f in wheel_files
    assert (target / "zoo/weights/weights_manifest.json").read_bytes() == (ROOT / "weights_manifest.json").read_bytes()
    site = tmp_path / "nonet"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_NETWORK)
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "apps" / "samples").mkdir(parents=True)
    (work / "apps" / "samples" / "chelsea.jpg").write_bytes(SAMPLE.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "PYTHON"))}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(target)]), ZOO_HOME=str(tmp_path / "home"),
               PYTHONNOUSERSITE="1")
    cmd = readme_first_command().split("&&", 1)[1].split()
    assert cmd[0] == "zoo"
    r = subprocess.run([sys.executable, str(target / "bin" / "zoo"), *cmd[1:]], cwd=work, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("model: resnet20.cifar10 (CIFAR-10")
    assert r.stdout.splitlines()[1].split()[1] == "cat"
    # the network really was off: the ImageNet model cannot be fetched, and says what to do
    r = subprocess.run([sys.executable, str(target / "bin" / "zoo"), *cmd[1:], "--model", "resnet50"], cwd=work,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "zoo weights import resnet50.imagenet" in r.stderr
    assert "Traceback" not in r.stderr


def test_weights_json_outputs(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    r = CliRunner().invoke(main, ["weights", "list", "--json"])
    rows = {json.loads(l)["key"]: json.loads(l) for l in r.stdout.splitlines()}
    assert rows["resnet20.cifar10"]["built_in"] is True and rows["resnet50.imagenet"]["built_in"] is False
    assert rows["resnet50.imagenet"]["cached"] is False


def test_demo_checks_epochs_and_speaks_json():
    r = CliRunner().invoke(main, ["demo", "--epochs", "0"])
    assert r.exit_code == 2 and "Invalid value for '--epochs'" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["demo", "--epochs", "1", "--json", "-q"])
    assert r.exit_code == 0 and 0 <= json.loads(r.stdout)["accuracy"] <= 1 and r.stderr == ""
