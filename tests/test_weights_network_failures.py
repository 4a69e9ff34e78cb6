"""Network failures fail fast and teach: a host name that does not resolve and a refused
connection are not retried (no backoff sleep, one request per URL), and the final error of any
fetch says what to do offline (the URL, size and checksum, the exact `zoo weights import`
command, ZOO_MIRROR)."""
from __future__ import annotations

import socket
import time

import pytest
from click.testing import CliRunner

from apps.cli import main
from tests.weights_helpers import make_entry, payload, wenv  # noqa: F401
from zoo import weights
from zoo.weights import download

DATA = payload(4_000, seed=3)


def refused_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}/w/model.bin"


@pytest.fixture
def no_sleep(monkeypatch):
    sleeps = []
    monkeypatch.setattr(download.time, "sleep", lambda s: sleeps.append(s))
    return sleeps


def unreachable_manifest(tmp_path, monkeypatch):
    """The real manifest with every URL on a host that does not resolve."""
    import json

    from tests.weights_helpers import REPO

    manifest = json.loads((REPO / "weights_manifest.json").read_text())
    for e in manifest["entries"].values():
        e["urls"] = ["http://nonexistent.invalid/" + e["filename"]]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    monkeypatch.setenv("ZOO_WEIGHTS_MANIFEST", str(path))


def check_howto(text, url):
    assert url in text
    assert "zoo weights import test.model /path/to/model.bin" in text
    assert f"sha256 {weights.get_entry('test.model')['sha256']}" in text and f"{len(DATA)} bytes" in text
    assert "ZOO_MIRROR=" in text


@pytest.mark.parametrize("kind", ["dns", "refused"])
def test_unreachable_is_not_retried_and_says_what_to_do(wenv, no_sleep, kind):
    url = "http://nonexistent.invalid/w/model.bin" if kind == "dns" else refused_url()
    wenv.write_manifest({"test.model": make_entry([url], DATA, filename="model.bin")})
    t0 = time.perf_counter()
    with pytest.raises(weights.DownloadError) as ei:
        weights.fetch("test.model", progress=False)  # default retries and backoff
    took = time.perf_counter() - t0
    text = str(ei.value)
    assert no_sleep == [], f"retried with backoff {no_sleep} ({took:.2f} s)"
    assert "not retried" in text
    assert ("cannot be resolved" in text) if kind == "dns" else ("refused" in text)
    check_howto(text, url)


def test_two_unreachable_urls_each_tried_once(wenv, no_sleep, monkeypatch):
    urls = ["http://nonexistent.invalid/a/model.bin", refused_url().replace("/w/", "/b/")]
    wenv.write_manifest({"test.model": make_entry(urls, DATA, filename="model.bin")})
    import requests

    calls = []
    real_get = requests.Session.get
    monkeypatch.setattr(requests.Session, "get", lambda self, url, **kw: calls.append(url) or real_get(self, url, **kw))
    with pytest.raises(weights.DownloadError) as ei:
        weights.fetch("test.model", progress=False)
    assert calls == urls and no_sleep == []
    check_howto(str(ei.value), urls[0])


def test_other_connection_errors_are_still_retried(wenv, no_sleep, monkeypatch):
    """A reset or timeout may pass: those keep their retries (the classification is narrow)."""
    import requests

    assert download.unreachable_reason(requests.ConnectionError("Connection reset by peer")) is None
    assert download.unreachable_reason(requests.Timeout("read timed out")) is None
    assert download.unreachable_reason(ConnectionRefusedError(111, "Connection refused")) is not None
    assert download.unreachable_reason(socket.gaierror(-2, "Name or service not known")) is not None
    wrapped = requests.ConnectionError(OSError("outer"))
    wrapped.__cause__ = OSError(101, "Network is unreachable")
    assert download.unreachable_reason(wrapped) == "the network is unreachable"


def test_weights_download_cli_prints_the_howto(wenv, no_sleep):
    url = "http://nonexistent.invalid/w/model.bin"
    wenv.write_manifest({"test.model": make_entry([url], DATA, filename="model.bin")})
    r = CliRunner().invoke(main, ["weights", "download", "test.model"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    check_howto(r.output, url)
    assert no_sleep == []


def test_classify_with_an_unreachable_host_prints_the_howto(wenv, no_sleep, monkeypatch, tmp_path):
    """`zoo classify --model resnet50` with no network: the ImageNet weights' how-to, at once."""
    from tests.weights_helpers import REPO

    unreachable_manifest(tmp_path, monkeypatch)
    r = CliRunner().invoke(main, ["classify", str(REPO / "apps" / "samples" / "chelsea.jpg"), "--model", "resnet50"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "zoo weights import resnet50.imagenet /path/to/resnet50_weights_tf_dim_ordering_tf_kernels.h5" in r.output
    assert "cannot be resolved" in r.output and no_sleep == []


def test_text_train_minilm_with_an_unreachable_host_prints_the_howto(wenv, no_sleep, monkeypatch, tmp_path):
    unreachable_manifest(tmp_path, monkeypatch)
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"good film {i},pos\nbad plot {i},neg\n" for i in range(20)))
    r = CliRunner().invoke(main, ["text", "train", str(data), "--model", "minilm", "-o", str(tmp_path / "run")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "zoo weights import minilm_l6." in r.output and "cannot be resolved" in r.output
    assert no_sleep == []
