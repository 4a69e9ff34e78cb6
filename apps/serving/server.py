"""The HTTP side of ``zoo serve``: routes, request parsing, and :class:`ModelServer`.

Slow or hostile clients cost bounded resources: a connection waits at most ``idle_timeout`` for a
request, its headers must arrive within ``header_timeout`` of its first byte (408 otherwise) and its
body within ``body_timeout`` (408), whatever pace the bytes trickle in at; at most
``max_connections`` are served at once (more get an immediate 503) and the listen backlog holds a
burst of new connections instead of dropping them.
"""
from __future__ import annotations

import io
import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .batching import Batcher
from .decoding import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_REQUEST_PIXELS
from .errors import BadRequest, HTTPError

DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0     # seconds from a request's first byte to the end of its headers
DEFAULT_BODY_TIMEOUT = 30.0       # seconds for its body
DEFAULT_IDLE_TIMEOUT = 30.0       # seconds a kept-alive connection may wait for its next request
DEFAULT_MAX_CONNECTIONS = 256
LISTEN_BACKLOG = 1024             # the kernel caps it at net.core.somaxconn
WRITE_TIMEOUT = 30.0


class _DeadlineReader(io.RawIOBase):
    """The connection's socket, read against the handler's current absolute deadline (a per-recv
    timeout would let a client that sends one byte at a time hold the connection forever)."""

    def __init__(self, sock, handler):
        self.sock, self.handler = sock, handler

    def readable(self):
        return True

    def readinto(self, buf):
        h = self.handler
        left = h._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(h._phase)
        self.sock.settimeout(left)
        try:
            n = self.sock.recv_into(buf)
        except socket.timeout:
            raise TimeoutError(h._phase) from None
        if n and h._phase == "idle":  # the request has begun: its headers now have a deadline
            h._phase, h._deadline = "headers", time.monotonic() + h.server.app.header_timeout
        return n


ROUTES = {"/health": ("GET",), "/metadata": ("GET",), "/predict": ("POST",)}


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zoo-serve"
    timeout = None  # reads run against deadlines (_DeadlineReader), writes against WRITE_TIMEOUT
    wbufsize = 64 * 1024  # headers and body leave in one write (flushed in _send)

    def setup(self):
        super().setup()
        self._phase, self._deadline = "idle", time.monotonic() + self.server.app.idle_timeout
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self), 64 * 1024)
        try:  # small answers must not wait for the client's delayed ACK (Nagle)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def handle_one_request(self):
        """One request, with the idle / header / body deadlines (the base class's loop otherwise)."""
        app = self.server.app
        self._phase, self._deadline = "idle", time.monotonic() + app.idle_timeout
        self._body_pending = False
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414, "the request line is over 65536 bytes")
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._phase, self._deadline = "body", time.monotonic() + app.body_timeout
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501, f"unsupported method {self.command!r}")
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True
            if self._phase == "headers":
                if not getattr(self, "command", None):
                    self.requestline = self.request_version = self.command = ""
                self.send_error(408, f"the request line and headers did not arrive within "
                                     f"{app.header_timeout:g} s")
        except (ConnectionError, OSError):
            self.close_connection = True

    def do_GET(self):
        self._route()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def send_error(self, code, message=None, explain=None):
        """The base class's errors (bad request line, unknown method, oversized headers) as JSON."""
        short = self.responses.get(code, ("error",))[0]
        body = json.dumps({"error": f"{short}: {message or explain or short}"}).encode("utf-8")
        self.close_connection = True
        self.connection.settimeout(WRITE_TIMEOUT)
        self.send_response(code, short)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format, *args):
        if self.server.app.access_log:
            super().log_message(format, *args)

    def _route(self):
        app = self.server.app
        self._body_pending = self._content_length_header() not in (None, 0)
        app._active_add(1)
        try:
            url = urlsplit(self.path)
            path = url.path.rstrip("/") or "/"
            if path not in ROUTES:
                raise HTTPError(404, f"no such path {url.path!r}; endpoints: GET /health, GET /metadata, POST /predict")
            if self.command not in ROUTES[path]:
                raise HTTPError(405, f"{path} takes {' or '.join(ROUTES[path])}, not {self.command}",
                                {"Allow": ", ".join(ROUTES[path])})
            if path == "/health":
                self._send(200, {"status": "ok"})
            elif path == "/metadata":
                self._send(200, app.metadata())
            else:
                self._send(200, app.predict(self._read_json(), parse_qs(url.query)))
        except HTTPError as e:
            self._send(e.status, {"error": str(e)}, e.headers)
        except Exception:
            sys.stderr.write(f"zoo serve: error answering {self.command} {self.path}:\n" + traceback.format_exc())
            sys.stderr.flush()
            self._send(500, {"error": "internal server error; the server log has the details"})
        finally:
            app._active_add(-1)

    def _content_length_header(self):
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        try:
            n = int(raw)
        except ValueError:
            return -1
        return n

    def _read_json(self):
        limit = self.server.app.max_request_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise HTTPError(411, "chunked bodies are not accepted: send a Content-Length header")
        n = self._content_length_header()
        if n is None:
            raise HTTPError(411, "a Content-Length header is required")
        if n < 0:
            raise BadRequest(f"Content-Length must be a whole number of bytes, got {self.headers.get('Content-Length')!r}")
        if n > limit:
            raise HTTPError(413, f"the request body has {n} bytes, over the limit of {limit} bytes "
                                 "(--max-request-bytes): send fewer or smaller items per request")
        body = bytearray()
        try:
            while len(body) < n:
                chunk = self.rfile.read1(n - len(body))
                if not chunk:
                    break
                body += chunk
        except TimeoutError:
            timeout = self.server.app.body_timeout
            raise HTTPError(408, f"the body sent {len(body)} of the {n} bytes of its Content-Length within "
                                 f"{timeout:g} s") from None
        self._body_pending = False
        if len(body) < n:
            raise BadRequest(f"the body ended after {len(body)} of the {n} bytes of its Content-Length")
        try:
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest("the body is not UTF-8 text: expected a JSON object") from None
        except (ValueError, RecursionError) as e:
            where = f" (line {e.lineno}, column {e.colno})" if hasattr(e, "lineno") else ""
            raise BadRequest(f"the body is not valid JSON{where}: expected a JSON object such as "
                             f"{self.server.app.example()}") from None
        if not isinstance(payload, dict):
            raise BadRequest(f"expected a JSON object such as {self.server.app.example()}, got a JSON "
                             f"{type(payload).__name__}")
        return payload

    def _send(self, status, obj, headers=None):
        body = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
        self.connection.settimeout(WRITE_TIMEOUT)
        if self._body_pending:  # an unread body cannot be skipped on a kept-alive connection
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if self._body_pending:
            self._drain()

    def _drain(self, limit=1 << 20, seconds=0.5):
        """Read (and drop) some of an unread body before closing, so the client gets the answer
        instead of a connection reset."""
        try:
            self._phase, self._deadline = "drain", time.monotonic() + seconds
            left = limit
            while left > 0:
                chunk = self.rfile.read1(min(left, 65536)) if hasattr(self.rfile, "read1") else self.rfile.read(
                    min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except (OSError, ValueError):   # TimeoutError included
            pass


class _HTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` of them: more are answered 503 at once."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, handler_class, max_connections):
        self._slots = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        super().__init__(address, handler_class)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            threading.Thread(target=self._serve_one, args=(request, client_address), daemon=True).start()
        except BaseException:
            self._slots.release()
            raise

    def _serve_one(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request):
        body = json.dumps({"error": f"Service Unavailable: the server already serves {self.max_connections} "
                                    "connections (max_connections); retry shortly"}).encode("utf-8")
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode("ascii")
        try:
            request.settimeout(1.0)
            request.sendall(head + body)
        except OSError:
            pass
        self.shutdown_request(request)


class ModelServer:
    """The HTTP JSON API over a :class:`ModelHandler`: ``GET /health``, ``GET /metadata``,
    ``POST /predict``; concurrent requests are batched by one worker thread."""

    def __init__(self, handler, host="127.0.0.1", port=8000, max_batch=32, batch_timeout_ms=5.0,
                 max_request_bytes=DEFAULT_MAX_REQUEST_BYTES, max_items=256, access_log=False,
                 max_image_pixels=DEFAULT_MAX_IMAGE_PIXELS, max_request_pixels=DEFAULT_MAX_REQUEST_PIXELS,
                 header_timeout=DEFAULT_HEADER_TIMEOUT, body_timeout=DEFAULT_BODY_TIMEOUT,
                 idle_timeout=DEFAULT_IDLE_TIMEOUT, max_connections=DEFAULT_MAX_CONNECTIONS):
        if min(max_batch, max_items, max_request_bytes, max_image_pixels, max_request_pixels, max_connections) < 1 \
                or batch_timeout_ms < 0:
            raise ValueError("max_batch, max_items, max_request_bytes, the pixel budgets and max_connections must "
                             "be >= 1 and batch_timeout_ms >= 0")
        if min(header_timeout, body_timeout, idle_timeout) <= 0:
            raise ValueError("header_timeout, body_timeout and idle_timeout must be > 0 seconds")
        self.handler = handler
        self.max_batch, self.batch_timeout_ms = int(max_batch), float(batch_timeout_ms)
        self.max_request_bytes, self.max_items, self.access_log = int(max_request_bytes), int(max_items), access_log
        self.max_image_pixels, self.max_request_pixels = int(max_image_pixels), int(max_request_pixels)
        self.header_timeout, self.body_timeout = float(header_timeout), float(body_timeout)
        self.idle_timeout, self.max_connections = float(idle_timeout), int(max_connections)
        if hasattr(handler, "max_image_pixels"):   # image handlers decode within these budgets
            handler.max_image_pixels, handler.max_request_pixels = self.max_image_pixels, self.max_request_pixels
        self.httpd = _HTTPServer((host, int(port)), _RequestHandler, self.max_connections)
        self.httpd.app = self
        self.batcher = Batcher(handler, self.max_batch, self.batch_timeout_ms)
        self._thread, self._serving = None, False
        self._active, self._active_lock = 0, threading.Lock()

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def _active_add(self, d):
        with self._active_lock:
            self._active += d

    # ----- API
    def example(self):
        return {"images": '{"images": ["<base64 of a PNG/JPEG file>"]}', "texts": '{"texts": ["some text"]}',
                "series": '{"series": [[1.0, 2.0, ...]]}', "inputs": '{"inputs": [[...]]}'}[self.handler.fields[0]]

    def metadata(self):
        meta = self.handler.metadata()
        meta["batching"] = {"max_batch": self.max_batch, "batch_timeout_ms": self.batch_timeout_ms,
                            "max_items_per_request": self.max_items, "max_request_bytes": self.max_request_bytes}
        meta["limits"] = {"max_request_bytes": self.max_request_bytes, "max_items_per_request": self.max_items,
                          "header_timeout_s": self.header_timeout, "body_timeout_s": self.body_timeout,
                          "idle_timeout_s": self.idle_timeout, "max_connections": self.max_connections}
        if hasattr(self.handler, "max_image_pixels"):
            meta["limits"].update(max_image_pixels=self.max_image_pixels, max_request_pixels=self.max_request_pixels)
        meta["endpoints"] = {"GET /health": "liveness", "GET /metadata": "this description",
                             "POST /predict": f"a JSON object with one of {list(self.handler.fields)}"
                                              + (" and optionally top (or ?top=)" if self.handler.labels else "")}
        meta["stats"] = dict(self.batcher.stats, mean_batch_size=round(self.batcher.mean_batch_size(), 3))
        return meta

    def predict(self, payload, query=None):
        h = self.handler
        allowed = set(h.fields) | ({"top"} if h.labels else set())
        unknown = sorted(set(payload) - allowed)
        given = [f for f in h.fields if f in payload]
        expected = " or ".join(repr(f) for f in h.fields)
        if unknown:
            raise BadRequest(f"unknown field(s) {unknown}: this {h.kind} model takes {expected}"
                             + (" (and 'top')" if h.labels else ""))
        if len(given) != 1:
            raise BadRequest(f"expected exactly one of {expected}, got " + (", ".join(map(repr, given)) or "none"))
        field = given[0]
        value = payload[field]
        if not isinstance(value, list):
            raise BadRequest(f"{field}: expected a list, got a JSON {type(value).__name__}")
        if not value:
            raise BadRequest(f"{field}: the list is empty; give at least one item")
        if len(value) > self.max_items:
            raise BadRequest(f"{field}: {len(value)} items, over the limit of {self.max_items} per request "
                             "(--max-items): split them over several requests")
        opts = h.options(payload, query or {})
        items = h.decode(field, value)
        results = self.batcher.submit(items)
        out = {"model": h.name, "kind": h.kind, "predictions": [h.format(r, **opts) for r in results]}
        if h.kind == "series":
            out.update(targets=h.targets, horizon=h.horizon)
        return out

    # ----- life cycle
    def serve_forever(self):
        self._serving = True
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self):
        """Serve in a background thread (returns at once)."""
        self._thread = threading.Thread(target=self.serve_forever, name="zoo-serve-http", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace=5.0):
        """Stop accepting connections, answer the requests in flight (up to ``grace`` seconds), end the worker."""
        if self._serving:
            self.httpd.shutdown()
        deadline = time.monotonic() + grace
        while self._active and time.monotonic() < deadline:
            time.sleep(0.01)
        self.batcher.stop()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(grace)
