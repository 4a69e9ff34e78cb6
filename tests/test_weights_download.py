"""Downloader, cache and lock of ``zoo.weights`` against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from tests.weights_helpers import FAST, REPO, make_entry, payload, server, wenv  # noqa: F401
from zoo import weights
from zoo.weights import cache as wcache
from zoo.weights.lock import FileLock

DATA = payload(200_000)
SHA = hashlib.sha256(DATA).hexdigest()


def range_start(header: str | None) -> int:
    m = re.fullmatch(r"bytes=(\d+)-", header or "")
    assert m, header
    return int(m.group(1))


def one(wenv, server, *, key="test.blob", filename="blob.bin", data=DATA, algo="sha256", size="exact",
        urls=None, **route):
    """Serve ``data`` at /files/<filename> and register a single-URL entry for it."""
    if urls is None:
        urls = [server.add(f"/files/{filename}", data, **route)]
    wenv.write_manifest({key: make_entry(urls, data, filename=filename, algo=algo, size=size)})
    return urls[0]


def test_success_then_cached_without_rehash(wenv, server, monkeypatch):
    url = one(wenv, server)
    p = weights.fetch("test.blob", **FAST)
    assert p == wenv.cached("test.blob") and p.read_bytes() == DATA
    assert str(p).startswith(str(wenv.home / "weights"))
    side = json.loads(p.with_name(p.name + ".verified.json").read_text())
    assert side["size"] == len(DATA) and side["actual"] == SHA and side["algorithm"] == "sha256"
    assert wenv.key_dir_files("test.blob") == ["blob.bin", "blob.bin.verified.json"]
    assert server.full_gets("/files/blob.bin") == 1 and url.endswith("/files/blob.bin")

    def boom(*a, **k):
        raise AssertionError("a verified cached file must not be re-hashed")

    monkeypatch.setattr(wcache, "hash_file", boom)
    assert weights.fetch("test.blob", **FAST) == p  # size check + sidecar only
    assert len(server.gets()) == 1


def test_404_names_url_and_cache_path(wenv, server):
    url = server.base + "/missing/blob.bin"
    one(wenv, server, urls=[url])
    with pytest.raises(weights.DownloadError) as ei:
        weights.fetch("test.blob", **FAST)
    msg = str(ei.value)
    assert "could not download 'test.blob'" in msg
    assert f"{url}: HTTP 404" in msg
    assert f"cache path: {wenv.cached('test.blob')}" in msg
    assert len(server.gets()) == 1  # 4xx is not retried
    assert wenv.key_dir_files("test.blob") == []


def test_500_then_success_with_backoff(wenv, server):
    one(wenv, server, fail_first=2)
    t0 = time.monotonic()
    p = weights.fetch("test.blob", progress=False, retries=3, backoff=0.01, timeout=5)
    assert p.read_bytes() == DATA
    assert len(server.gets("/files/blob.bin")) == 3
    assert time.monotonic() - t0 >= 0.01 + 0.02  # backoff 0.01, then 0.02


def test_500_forever_gives_up_with_message(wenv, server):
    url = one(wenv, server, status=500)
    with pytest.raises(weights.DownloadError) as ei:
        weights.fetch("test.blob", progress=False, retries=2, backoff=0.001, timeout=5)
    assert f"{url}: HTTP 500" in str(ei.value)
    assert "gave up after 3 attempts" in str(ei.value)
    assert len(server.gets()) == 3


def test_dropped_connection_resumes_with_range(wenv, server):
    half = len(DATA) // 2
    one(wenv, server, drop_after=half)
    p = weights.fetch("test.blob", **FAST)
    assert p.read_bytes() == DATA
    reqs = server.gets("/files/blob.bin")
    assert len(reqs) == 2 and reqs[0].range is None
    # resumed from what had reached the disk (at most the half that was sent)
    assert 0 < range_start(reqs[1].range) <= half
    assert not wcache.part_path(p).exists()


def test_server_without_range_restarts_from_zero(wenv, server):
    one(wenv, server, drop_after=len(DATA) // 3, ranges=False)
    p = weights.fetch("test.blob", **FAST)
    assert p.read_bytes() == DATA
    reqs = server.gets("/files/blob.bin")
    assert len(reqs) == 2 and reqs[1].range is not None  # asked for a range, got the whole file (200)
    assert json.loads(p.with_name(p.name + ".verified.json").read_text())["actual"] == SHA


@pytest.mark.parametrize("bad", [b"X" + DATA[1:], DATA[:-10]], ids=["same-size", "shorter"])
def test_wrong_content_hash_mismatch_keeps_nothing(wenv, server, bad):
    url = server.add("/files/blob.bin", bad)
    wenv.write_manifest({"test.blob": make_entry([url], DATA, filename="blob.bin")})
    with pytest.raises(weights.ChecksumError) as ei:
        weights.fetch("test.blob", **FAST)
    msg = str(ei.value)
    assert f"checksum mismatch for 'test.blob' downloaded from {url}" in msg
    assert f"expected size: {len(DATA)} bytes; actual size: {len(bad)} bytes" in msg
    assert f"expected hash: sha256 {SHA}; actual hash: sha256 {hashlib.sha256(bad).hexdigest()}" in msg
    assert f"cache path: {wenv.cached('test.blob')}" in msg
    assert "nothing was kept in the cache" in msg
    assert wenv.key_dir_files("test.blob") == []  # no file, no .part, no sidecar
    assert len(server.gets()) == 1  # a mismatch is not retried from the same URL


@pytest.mark.slow
def test_slow_server_times_out(wenv, server):
    url = one(wenv, server, delay=2.0)
    t0 = time.monotonic()
    with pytest.raises(weights.DownloadError) as ei:
        weights.fetch("test.blob", progress=False, retries=1, backoff=0.001, timeout=0.25)
    assert time.monotonic() - t0 < 1.5
    msg = str(ei.value)
    assert f"{url}: timed out (connect/read timeout 0.25s/0.25s)" in msg
    assert "gave up after 2 attempts" in msg
    assert wenv.key_dir_files("test.blob") == []


@pytest.mark.slow
def test_two_processes_one_download(wenv, server, tmp_path):
    # 8 chunks x 0.1 s: the first process holds the lock for ~0.8 s while the second waits.
    one(wenv, server, data=payload(8 * 65536, seed=3), chunk=65536, chunk_delay=0.1)
    go = tmp_path / "go"
    child = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from zoo.weights import fetch\n"
        "print('ready', flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
        "print(fetch('test.blob', progress=False, retries=0, timeout=10), flush=True)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=dict(os.environ)) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        outs.append(out.strip())
    assert outs[0] == outs[1] == str(wenv.cached("test.blob"))
    assert server.full_gets("/files/blob.bin") == 1
    assert len(server.gets()) == 1
    assert wenv.cached("test.blob").read_bytes() == payload(8 * 65536, seed=3)


def test_two_threads_one_download(wenv, server):
    one(wenv, server, chunk=50_000, chunk_delay=0.05)
    results, errors = [], []

    def run():
        try:
            results.append(weights.fetch("test.blob", **FAST))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    ts = [threading.Thread(target=run) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert not errors and len(results) == 3 and len(set(results)) == 1
    assert len(server.gets()) == 1


@pytest.mark.parametrize("how", ["flip-byte", "truncate"])
def test_corrupt_cached_file_is_healed(wenv, server, how, caplog):
    one(wenv, server)
    p = weights.fetch("test.blob", **FAST)
    if how == "flip-byte":
        raw = bytearray(p.read_bytes())
        raw[1000] ^= 0xFF
        time.sleep(0.01)
        p.write_bytes(bytes(raw))  # same size, new mtime: the sidecar no longer vouches for it
    else:
        p.write_bytes(DATA[:500])
    caplog.set_level("WARNING", logger="zoo.weights")
    assert weights.fetch("test.blob", **FAST) == p
    assert p.read_bytes() == DATA
    assert server.full_gets("/files/blob.bin") == 2
    assert "the cached file is bad, downloading it again" in caplog.text
    assert "checksum mismatch for 'test.blob' in the cache" in caplog.text


def test_verify_rehashes_even_when_size_and_mtime_are_kept(wenv, server):
    one(wenv, server)
    p = weights.fetch("test.blob", **FAST)
    assert weights.verify("test.blob") == p
    st = p.stat()
    raw = bytearray(p.read_bytes())
    raw[5] ^= 1
    p.write_bytes(bytes(raw))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # a silent bit flip: size and mtime unchanged
    with pytest.raises(weights.ChecksumError) as ei:
        weights.verify("test.blob")
    msg = str(ei.value)
    assert "checksum mismatch for 'test.blob' in the cache" in msg
    assert f"cache path: {p}" in msg and "run `zoo weights download test.blob` to replace it" in msg
    # verify dropped the sidecar, so fetch re-hashes and heals it
    assert weights.fetch("test.blob", **FAST).read_bytes() == DATA
    assert server.full_gets("/files/blob.bin") == 2


def test_verify_not_cached(wenv, server):
    one(wenv, server)
    with pytest.raises(weights.NotCachedError, match=r"'test.blob' is not in the cache .*zoo weights download test.blob"):
        weights.verify("test.blob")


def test_offline_missing_file_explains_import(wenv, server, monkeypatch):
    url = one(wenv, server)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(weights.OfflineError) as ei:
        weights.fetch("test.blob", **FAST)
    msg = str(ei.value)
    assert "ZOO_OFFLINE=1 forbids network access and 'test.blob' is not in the cache" in msg
    assert url in msg
    assert f"zoo weights import test.blob /path/to/blob.bin" in msg
    assert f"stores it at {wenv.cached('test.blob')}" in msg
    assert server.gets() == []


def test_offline_uses_cache_and_reports_corrupt_copy(wenv, server, monkeypatch):
    one(wenv, server)
    p = weights.fetch("test.blob", **FAST)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert weights.fetch("test.blob", **FAST) == p
    p.write_bytes(b"junk")
    with pytest.raises(weights.OfflineError, match="the cached copy of 'test.blob' is bad"):
        weights.fetch("test.blob", **FAST)
    assert len(server.gets()) == 1


def test_mirror_first_then_manifest_urls_in_order(wenv, server, monkeypatch):
    server.add("/mirror/blob.bin", DATA)
    a = server.add("/a/blob.bin", status=500)
    b = server.add("/b/blob.bin", status=404)
    c = server.add("/c/blob.bin", DATA)
    wenv.write_manifest({"test.blob": make_entry([a, b, c], DATA, filename="blob.bin")})
    monkeypatch.setenv("ZOO_MIRROR", server.base + "/mirror/")
    assert weights.fetch("test.blob", **FAST).read_bytes() == DATA
    assert [r.path for r in server.gets()] == ["/mirror/blob.bin"]

    weights.purge()
    server.requests.clear()
    server.routes["/mirror/blob.bin"].status = 404
    assert weights.fetch("test.blob", **FAST).read_bytes() == DATA
    # mirror (404, no retry), a (500: 1 + 2 retries), b (404), c (ok)
    assert [r.path for r in server.gets()] == ["/mirror/blob.bin"] + ["/a/blob.bin"] * 3 + ["/b/blob.bin", "/c/blob.bin"]


def test_all_urls_fail_lists_each(wenv, server, monkeypatch):
    a = server.add("/a/blob.bin", status=404)
    b = server.add("/b/blob.bin", b"wrong")
    wenv.write_manifest({"test.blob": make_entry([a, b], DATA, filename="blob.bin")})
    with pytest.raises(weights.DownloadError) as ei:
        weights.fetch("test.blob", **FAST)
    msg = str(ei.value)
    assert "could not download 'test.blob' from any of its 2 URLs" in msg
    assert f"{a}: HTTP 404" in msg and f"checksum mismatch for 'test.blob' downloaded from {b}" in msg


def test_sha256_prefix_checked_as_prefix(wenv, server):
    prefix = SHA[:8]
    name = f"blob-{prefix}.bin"
    url = one(wenv, server, filename=name, algo="sha256_prefix")
    assert weights.get_entry("test.blob")["sha256_prefix"] == prefix
    assert weights.fetch("test.blob", **FAST).read_bytes() == DATA
    weights.purge()
    server.routes[f"/files/{name}"].data = DATA[:-1] + b"\x00"
    with pytest.raises(weights.ChecksumError) as ei:
        weights.fetch("test.blob", **FAST)
    assert f"expected hash: sha256 prefix {prefix}; actual hash: sha256 " in str(ei.value)
    assert url in str(ei.value)


def test_md5_checked(wenv, server):
    url = one(wenv, server, algo="md5")
    md5 = hashlib.md5(DATA).hexdigest()
    p = weights.fetch("test.blob", **FAST)
    assert json.loads(p.with_name(p.name + ".verified.json").read_text())["actual"] == md5
    weights.purge()
    server.routes["/files/blob.bin"].data = b"Y" + DATA[1:]
    with pytest.raises(weights.ChecksumError) as ei:
        weights.fetch("test.blob", **FAST)
    assert f"expected hash: md5 {md5}; actual hash: md5 {hashlib.md5(b'Y' + DATA[1:]).hexdigest()}" in str(ei.value)
    assert url in str(ei.value)


def test_unpublished_size_uses_hash_then_sidecar_size(wenv, server):
    one(wenv, server, size=None)
    p = weights.fetch("test.blob", **FAST)
    assert p.read_bytes() == DATA
    assert [e for e in weights.list() if e["key"] == "test.blob"][0]["cached"]
    p.write_bytes(DATA[:100])  # truncated: the sidecar's verified size catches it
    assert not [e for e in weights.list() if e["key"] == "test.blob"][0]["cached"]
    assert weights.fetch("test.blob", **FAST).read_bytes() == DATA
    assert server.full_gets("/files/blob.bin") == 2


def test_partial_file_left_by_failed_run_is_resumed(wenv, server):
    # first GET drops half-way, every later one is a 503: the run fails and keeps its .part
    url = one(wenv, server, drop_after=len(DATA) // 2, fail_after=1, fail_status=503)
    with pytest.raises(weights.DownloadError) as ei:
        weights.fetch("test.blob", progress=False, retries=1, backoff=0.001, timeout=5)
    msg = str(ei.value)
    assert f"{url}: HTTP 503" in msg and "gave up after 3 attempts" in msg
    assert "partial download kept at" in msg and "the next attempt resumes it" in msg
    assert wenv.key_dir_files("test.blob") == ["blob.bin.part"]
    server.routes["/files/blob.bin"].fail_after = None
    assert weights.fetch("test.blob", **FAST).read_bytes() == DATA
    assert 0 < range_start(server.gets()[-1].range) <= len(DATA) // 2


def test_unknown_key_suggests_close_matches(wenv, server):
    one(wenv, server)
    with pytest.raises(weights.UnknownWeightsError) as ei:
        weights.fetch("test.blop")
    assert str(ei.value) == ("unknown weights key 'test.blop'. Did you mean: test.blob? "
                             "Run `zoo weights list` to see every key.")
    assert ei.value.suggestions == ["test.blob"]
    assert isinstance(ei.value, weights.WeightsError)


def test_import_file_verifies_and_places(wenv, server, tmp_path):
    one(wenv, server)
    good = tmp_path / "elsewhere.bin"
    good.write_bytes(DATA)
    p = weights.import_file("test.blob", good)
    assert p == wenv.cached("test.blob") and p.read_bytes() == DATA
    assert weights.fetch("test.blob", **FAST) == p and server.gets() == []
    weights.purge(["test.blob"])
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"Z" + DATA[1:])
    with pytest.raises(weights.ChecksumError) as ei:
        weights.import_file("test.blob", bad)
    assert f"checksum mismatch for 'test.blob' in the file {bad}" in str(ei.value)
    assert "nothing was imported" in str(ei.value)
    assert wenv.key_dir_files("test.blob") == []


def test_purge_and_list(wenv, server):
    u1 = server.add("/x/one.bin", DATA)
    u2 = server.add("/x/two.bin", DATA[:1000])
    wenv.write_manifest({"test.one": make_entry([u1], DATA, filename="one.bin"),
                         "test.two": make_entry([u2], DATA[:1000], filename="two.bin")})
    assert [(e["key"], e["cached"]) for e in weights.list()] == [("test.one", False), ("test.two", False)]
    p1 = weights.fetch("test.one", **FAST)
    weights.fetch("test.two", **FAST)
    assert all(e["cached"] for e in weights.list())
    assert weights.purge(["test.one"]) == [p1]
    assert [(e["key"], e["cached"]) for e in weights.list()] == [("test.one", False), ("test.two", True)]
    assert weights.purge() == [wenv.cached("test.two")]
    assert not any(e["cached"] for e in weights.list())
    with pytest.raises(weights.UnknownWeightsError):
        weights.purge(["test.nope"])


def test_cache_dir_env_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert weights.cache_dir() == tmp_path / "a" / "weights"
    monkeypatch.delenv("ZOO_HOME")
    assert weights.cache_dir() == tmp_path / "x" / "zoo" / "weights"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert weights.cache_dir() == tmp_path / "h" / ".cache" / "zoo" / "weights"


def test_file_lock_excludes_and_times_out(tmp_path):
    path = tmp_path / "l.lock"
    with FileLock(path):
        with pytest.raises(weights.LockTimeoutError, match="timed out after 0.1s waiting for the lock"):
            FileLock(path, timeout=0.1).acquire()
    with FileLock(path, timeout=0.1) as lk:  # released: free again
        assert lk.held


def test_bad_manifest_is_reported(wenv):
    wenv.write_manifest({"test.blob": {"kind": "config"}})
    with pytest.raises(weights.ManifestError, match=r"breaks the schema:\n  test.blob: missing fields"):
        weights.fetch("test.blob")
    wenv.manifest_path.write_text('{"schema_version": 1, "entries": {}, "entries": {}}')
    with pytest.raises(weights.ManifestError, match="duplicate key 'entries'"):
        weights.list()


def test_leftover_complete_part_with_unpublished_size_restarts_on_416(wenv, server):
    one(wenv, server, size=None)
    part = wenv.home / "weights" / "test.blob" / "blob.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA)  # a previous run received everything but died before the rename
    assert weights.fetch("test.blob", progress=False, retries=0, timeout=5).read_bytes() == DATA
    assert [r.range for r in server.gets()] == [f"bytes={len(DATA)}-", None]


def test_progress_bar_shows_bytes(wenv, server, capsys):
    one(wenv, server)
    weights.fetch("test.blob", progress=True, retries=0, timeout=5)
    err = capsys.readouterr().err
    assert "blob.bin" in err and "195k" in err.lower()  # 200000 B = 195 KiB


# ------------------------------------------------------------------ bytes capped at size_bytes

@pytest.mark.parametrize("how", ["endless", "huge_length"])
def test_endless_body_is_capped_at_size_bytes_and_is_a_checksum_failure(wenv, server, how):
    opts = {"endless": True}
    if how == "huge_length":
        opts["content_length"] = str(10 ** 12)
    one(wenv, server, **opts)
    with pytest.raises(weights.ChecksumError, match=f"more than the {len(DATA)} bytes"):
        weights.fetch("test.blob", **FAST)
    # nothing kept, and only one GET: an oversize body is not retried as if it were a network error
    assert wenv.key_dir_files("test.blob") == []
    assert server.full_gets("/files/blob.bin") == 1


@pytest.mark.parametrize("length", [str(10 ** 12), str(len(DATA) + 5)])
def test_correct_file_with_a_wrong_content_length_is_accepted(wenv, server, length):
    one(wenv, server, content_length=length)
    p = weights.fetch("test.blob", **FAST)
    assert p.read_bytes() == DATA


def test_import_pins_the_full_hash_of_a_prefix_pinned_entry(wenv, server, tmp_path):
    prefix = SHA[:8]
    name = f"blob-{prefix}.bin"
    one(wenv, server, filename=name, algo="sha256_prefix")
    trusted = tmp_path / name
    trusted.write_bytes(DATA)
    weights.import_file("test.blob", trusted)
    pins = json.loads((wenv.home / "weights" / "pins.json").read_text())
    assert pins == {"test.blob": SHA}
    # every later check enforces the full hash, not the 32-bit prefix
    cached = wenv.cached("test.blob")
    cached.write_bytes(DATA[:-1] + b"\x00")
    with pytest.raises(weights.ChecksumError) as ei:
        weights.verify("test.blob")
    assert f"expected hash: sha256 {SHA};" in str(ei.value)
    weights.purge()
    assert (wenv.home / "weights" / "pins.json").exists()   # a pin outlives the cached file
    server.routes[f"/files/{name}"].data = DATA[:-1] + b"\x00"
    with pytest.raises(weights.ChecksumError) as ei:
        weights.fetch("test.blob", **FAST)
    assert f"expected hash: sha256 {SHA};" in str(ei.value)
    server.routes[f"/files/{name}"].data = DATA
    assert weights.fetch("test.blob", **FAST).read_bytes() == DATA
    # a file that disagrees with the pin cannot be imported over it
    other = tmp_path / "other.bin"
    other.write_bytes(b"Y" + DATA[1:])
    with pytest.raises(weights.ChecksumError):
        weights.import_file("test.blob", other)


def test_unpublished_size_is_still_capped(wenv, server, monkeypatch):
    from zoo.weights import download

    monkeypatch.setattr(download, "MAX_UNSIZED_BYTES", len(DATA) + 1000)
    one(wenv, server, size=None, endless=True)
    with pytest.raises(weights.ChecksumError, match=f"more than {len(DATA) + 1000} bytes, the most accepted"):
        weights.fetch("test.blob", **FAST)
    assert wenv.key_dir_files("test.blob") == []
