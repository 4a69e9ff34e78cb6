"""``zoo weights`` commands through click's CliRunner, against the local HTTP server."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time

from click.testing import CliRunner

from apps.cli import main
from tests.weights_helpers import REPO, make_entry, payload, server, wenv  # noqa: F401

DATA = payload(50_000, seed=7)
SMALL = payload(3_000, seed=8)


def setup(wenv, server):
    u1 = server.add("/w/model.bin", DATA)
    u2 = server.add("/w/labels.json", SMALL)
    wenv.write_manifest({
        "test.model": make_entry([u1], DATA, filename="model.bin"),
        "test.labels": make_entry([u2], SMALL, filename="labels.json", algo="md5"),
    })


def run(*args, input=None):
    return CliRunner().invoke(main, ["weights", *args], input=input)


def test_list(wenv, server):
    setup(wenv, server)
    r = run("list")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["KEY", "SIZE", "CACHED", "CHECKSUM", "LICENSE"]
    assert lines[1].split() == ["test.labels", "2.9", "KiB", "no", "md5", "CC0-1.0"]
    assert lines[2].split() == ["test.model", "48.8", "KiB", "no", "sha256", "CC0-1.0"]
    assert "weak" not in r.output
    assert run("download", "test.model").exit_code == 0
    r = run("list", "--cached")
    assert r.exit_code == 0 and "test.model" in r.output and "test.labels" not in r.output
    assert run("list").output.splitlines()[2].split()[3] == "yes"


def test_download_keys_and_all(wenv, server):
    setup(wenv, server)
    r = run("download", "test.model", "-q")
    assert r.exit_code == 0, r.output
    assert r.output == f"test.model: {wenv.cached('test.model')}\n"
    r = run("download", "--all", "-q")
    assert r.exit_code == 0, r.output
    assert f"test.labels: {wenv.cached('test.labels')}" in r.output
    assert wenv.cached("test.labels").read_bytes() == SMALL
    assert server.full_gets("/w/model.bin") == 1  # already cached: not downloaded again
    r = run("download")
    assert r.exit_code == 2 and "give at least one KEY" in r.output


def test_download_errors_are_messages_not_tracebacks(wenv, server):
    setup(wenv, server)
    server.routes["/w/model.bin"].status = 404
    r = run("download", "test.model", "test.labels", "--retries", "0")
    assert r.exit_code == 1
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    assert "error: test.model: could not download 'test.model'" in r.output
    assert "HTTP 404" in r.output
    assert f"test.labels: {wenv.cached('test.labels')}" in r.output  # the other key still downloaded
    assert "Error: 1 of 2 downloads failed: test.model" in r.output
    r = run("download", "test.modle")
    assert r.exit_code == 1
    assert "Error: unknown weights key 'test.modle'. Did you mean: test.model" in r.output


def test_verify(wenv, server):
    setup(wenv, server)
    r = run("verify")
    assert r.exit_code == 0 and "no cached weights to verify" in r.output
    run("download", "--all", "-q")
    r = run("verify")
    assert r.exit_code == 0, r.output
    assert f"ok     test.model: {wenv.cached('test.model')}" in r.output
    assert "ok     test.labels" in r.output
    p = wenv.cached("test.model")
    bad = b"\x00" + DATA[1:]
    p.write_bytes(bad)
    r = run("verify", "test.model")
    assert r.exit_code == 1
    assert "FAILED test.model: checksum mismatch for 'test.model' in the cache" in r.output
    assert f"actual hash: sha256 {hashlib.sha256(bad).hexdigest()}" in r.output
    assert "Error: 1 of 1 files failed verification: test.model" in r.output
    r = run("verify", "test.labels")
    assert r.exit_code == 0
    run("purge", "test.labels")
    r = run("verify", "test.labels")
    assert r.exit_code == 1 and "'test.labels' is not in the cache" in r.output


def test_path(wenv, server):
    setup(wenv, server)
    r = run("path", "test.model")
    assert r.exit_code == 1
    assert f"'test.model' is not in the cache; it would be at {wenv.cached('test.model')}" in r.output
    run("download", "test.model", "-q")
    r = run("path", "test.model")
    assert r.exit_code == 0 and r.output == f"{wenv.cached('test.model')}\n"


def test_import(wenv, server, tmp_path):
    setup(wenv, server)
    f = tmp_path / "got-it-elsewhere.bin"
    f.write_bytes(DATA)
    r = run("import", "test.model", str(f))
    assert r.exit_code == 0, r.output
    assert r.output == f"imported test.model: {wenv.cached('test.model')}\n"
    assert wenv.cached("test.model").read_bytes() == DATA and server.gets() == []
    bad = tmp_path / "bad.json"
    bad.write_bytes(SMALL[:-1])
    r = run("import", "test.labels", str(bad))
    assert r.exit_code == 1
    assert f"checksum mismatch for 'test.labels' in the file {bad}" in r.output
    assert "expected size: 3000 bytes; actual size: 2999 bytes" in r.output
    assert "nothing was imported" in r.output
    r = run("import", "test.labels", str(tmp_path / "absent"))
    assert r.exit_code == 2 and "does not exist" in r.output


def test_purge(wenv, server):
    setup(wenv, server)
    run("download", "--all", "-q")
    r = run("purge", "test.model")
    assert r.exit_code == 0, r.output
    assert r.output == f"removed {wenv.cached('test.model')}\n1 file(s) removed\n"
    r = run("purge", input="n\n")
    assert r.exit_code == 1 and "Aborted" in r.output and wenv.cached("test.labels").exists()
    r = run("purge", "--yes")
    assert r.exit_code == 0 and "1 file(s) removed" in r.output
    assert not wenv.cached("test.labels").exists()
    r = run("purge", "test.nope")
    assert r.exit_code == 1 and "unknown weights key 'test.nope'" in r.output


def test_offline_cli_message(wenv, server, monkeypatch):
    setup(wenv, server)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    r = run("download", "test.model")
    assert r.exit_code == 1
    assert "ZOO_OFFLINE=1 forbids network access" in r.output
    assert "zoo weights import test.model /path/to/model.bin" in r.output
    assert server.gets() == []


def test_help_is_fast_and_light():
    code = ("import sys, time; t=time.perf_counter(); import apps.cli; "
            "print(time.perf_counter()-t); print('requests' in sys.modules, 'numpy' in sys.modules, "
            "'zoo.weights' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    lines = out.stdout.split()
    assert lines[1:] == ["False", "False", "False"], out.stdout
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "apps.cli", "weights", "--help"], cwd=REPO, check=True,
                   capture_output=True)
    assert time.perf_counter() - t0 < 2.0  # generous on a loaded 2-core machine; typically ~0.2 s
    assert float(lines[0]) < 0.5


def test_real_manifest_import_staged_checkpoint(wenv, monkeypatch):
    """End to end with the real manifest and a real upstream file staged in ../shared (offline)."""
    from tests.weights_helpers import SHARED

    staged = SHARED / "data" / "weights" / "akamaster_resnet_cifar10" / "resnet20-12fca82f.th"
    if not staged.is_file():
        import pytest

        pytest.skip(f"{staged} not present")
    monkeypatch.delenv("ZOO_WEIGHTS_MANIFEST", raising=False)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    dest = wenv.home / "weights" / "resnet20.cifar10" / "resnet20-12fca82f.th"
    r = run("download", "resnet20.cifar10")
    assert r.exit_code == 1
    assert ("https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"
            "resnet20-12fca82f.th") in r.output
    assert "zoo weights import resnet20.cifar10 /path/to/resnet20-12fca82f.th" in r.output
    r = run("import", "resnet20.cifar10", str(staged))
    assert r.exit_code == 0 and r.output == f"imported resnet20.cifar10: {dest}\n"
    assert run("verify", "resnet20.cifar10").exit_code == 0
    assert run("path", "resnet20.cifar10").output == f"{dest}\n"
    r = run("download", "resnet20.cifar10", "-q")  # offline, but cached: fine
    assert r.exit_code == 0 and r.output == f"resnet20.cifar10: {dest}\n"
    r = run("import", "resnet32.cifar10", str(staged))  # wrong file for that key
    assert r.exit_code == 1 and "expected size: 1890043 bytes; actual size: 1099231 bytes" in r.output


def test_list_marks_prefix_pinned_entries_and_import_pins_the_full_hash(wenv, server, tmp_path):
    import hashlib

    prefix = hashlib.sha256(DATA).hexdigest()[:8]
    u = server.add(f"/w/model-{prefix}.bin", DATA)
    wenv.write_manifest({"test.model": make_entry([u], DATA, filename=f"model-{prefix}.bin", algo="sha256_prefix")})
    r = run("list")
    assert "sha256 prefix, 32 bits (weak)" in r.output and "zoo weights import KEY FILE" in r.output
    f = tmp_path / "trusted.bin"
    f.write_bytes(DATA)
    assert run("import", "test.model", str(f)).exit_code == 0
    r = run("list")
    assert "sha256 (local pin)" in r.output and "weak" not in r.output
