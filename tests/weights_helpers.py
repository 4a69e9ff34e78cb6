"""Test helpers for the weight registry: a local HTTP server with scripted failures, an
isolated environment (cache, manifest, no proxies) and manifest entry builders.

Nothing here reaches outside 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# ../shared, or the parent of $ZOO_SHARED_DATA (the data folder) where the checkout lives elsewhere.
SHARED = Path(os.environ["ZOO_SHARED_DATA"]).parent if os.environ.get("ZOO_SHARED_DATA") else REPO.parent / "shared"


@dataclass
class Route:
    data: bytes
    status: int | None = None        # always answer this status (404, 500, ...)
    fail_first: int = 0              # answer fail_status to the first N requests
    fail_status: int = 500
    fail_after: int | None = None    # answer fail_status to every request after the first N
    drop_after: int | None = None    # send this many body bytes, then cut the connection ...
    drops: int = 1                   # ... this many times
    ranges: bool = True              # honour "Range: bytes=N-"
    delay: float = 0.0               # sleep before the response headers
    chunk: int = 1 << 16
    chunk_delay: float = 0.0         # sleep between body chunks
    content_length: str | None = None  # announce this Content-Length instead of the true one
    endless: bool = False            # after the data, keep sending bytes until the client hangs up
    hits: int = 0


@dataclass
class Request:
    path: str
    range: str | None


class WeightsServer:
    """``http.server`` on 127.0.0.1 in a thread; ``add()`` routes, ``requests`` records GETs."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                outer._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, path: str, data: bytes = b"", **opts) -> str:
        self.routes[path] = Route(data=data, **opts)
        return self.base + path

    def gets(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def full_gets(self, path: str) -> int:
        return sum(1 for r in self.gets(path) if r.range is None)

    def _handle(self, h: BaseHTTPRequestHandler):
        path = h.path.split("?")[0]
        rng = h.headers.get("Range")
        with self._lock:
            self.requests.append(Request(path, rng))
            route = self.routes.get(path)
            n = route.hits if route else 0
            if route:
                route.hits += 1
        if route is None:
            h.send_error(404, "Not Found")
            return
        if route.status is not None:
            h.send_error(route.status)
            return
        if n < route.fail_first or (route.fail_after is not None and n >= route.fail_after):
            h.send_error(route.fail_status)
            return
        if route.delay:
            time.sleep(route.delay)
        data = route.data
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        try:
            if m and route.ranges:
                start = int(m.group(1))
                if start >= len(data):
                    h.send_response(416)
                    h.send_header("Content-Range", f"bytes */{len(data)}")
                    h.send_header("Content-Length", "0")
                    h.end_headers()
                    return
                h.send_response(206)
                h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                h.send_response(200)
                if route.ranges:
                    h.send_header("Accept-Ranges", "bytes")
            h.send_header("Content-Type", "application/octet-stream")
            if route.content_length or not route.endless:
                h.send_header("Content-Length", route.content_length or str(len(data) - start))
            h.end_headers()
            body = data[start:]
            with self._lock:
                drop = route.drop_after is not None and route.drops > 0
                if drop:
                    route.drops -= 1
            if drop:
                h.wfile.write(body[: route.drop_after])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            for i in range(0, len(body), route.chunk):
                h.wfile.write(body[i : i + route.chunk])
                h.wfile.flush()
                if route.chunk_delay:
                    time.sleep(route.chunk_delay)
            sent = len(body)
            while route.endless and sent < 1 << 34:
                h.wfile.write(bytes(route.chunk))
                sent += route.chunk
            if route.content_length:
                h.close_connection = True
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up (timeout tests)


def payload(n: int = 200_000, seed: int = 0) -> bytes:
    """Deterministic, incompressible-looking bytes."""
    out = bytearray()
    block = hashlib.sha256(f"zoo-weights-{seed}".encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def make_entry(urls, data: bytes, *, filename: str, algo: str = "sha256", size="exact", kind="config",
               architecture="test") -> dict:
    """A schema-valid manifest entry for ``data`` served at ``urls``."""
    e = {
        "kind": kind, "architecture": architecture, "urls": list(urls), "filename": filename,
        "size_bytes": len(data) if size == "exact" else size,
        "size_source": "test data" if size is not None else "unpublished in this test",
        "format": "text", "source": "https://example.invalid/test", "license": "CC0-1.0",
        "input": None, "num_classes": None, "labels": None, "metrics": {},
    }
    if algo == "sha256":
        e["sha256"] = hashlib.sha256(data).hexdigest()
    elif algo == "sha256_prefix":
        e["sha256_prefix"] = hashlib.sha256(data).hexdigest()[:8]
        e["checksum_source"] = "test: file-name prefix"
    elif algo == "md5":
        e["md5"] = hashlib.md5(data).hexdigest()
        e["checksum_source"] = "test: md5 only"
    else:
        raise ValueError(algo)
    return e


@dataclass
class WeightsEnv:
    root: Path
    monkeypatch: pytest.MonkeyPatch
    manifest_path: Path | None = None
    entries: dict = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "zoo_home"

    def write_manifest(self, entries: dict) -> Path:
        self.entries = entries
        self.manifest_path = self.root / "weights_manifest.json"
        self.manifest_path.write_text(json.dumps({"schema_version": 1, "entries": entries}, indent=1))
        self.monkeypatch.setenv("ZOO_WEIGHTS_MANIFEST", str(self.manifest_path))
        return self.manifest_path

    def cached(self, key: str) -> Path:
        return self.home / "weights" / key / self.entries[key]["filename"]

    def key_dir_files(self, key: str) -> list[str]:
        d = self.home / "weights" / key
        return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.fixture
def wenv(tmp_path, monkeypatch) -> WeightsEnv:
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "zoo_home"))
    for var in ("ZOO_MIRROR", "ZOO_OFFLINE", "XDG_CACHE_HOME", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return WeightsEnv(tmp_path, monkeypatch)


@pytest.fixture
def server():
    s = WeightsServer().start()
    try:
        yield s
    finally:
        s.stop()


# Fast download settings for tests: tiny backoff, short timeouts.
FAST = {"progress": False, "retries": 2, "backoff": 0.001, "timeout": 5.0}
