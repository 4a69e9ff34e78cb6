"""The HTTP server behind ``zoo serve``: a JSON API over a model made by the apps (or a cached
registry classifier), on the standard library's ``ThreadingHTTPServer``.

Request threads decode and preprocess their inputs with the apps' own functions, then hand the
items to one worker thread that owns the model: it gathers items of concurrent requests (up to
``max_batch``, waiting at most ``batch_timeout_ms`` for more), runs one predict for them and gives
each request its slice.

>>> handler = load_handler("runs/pets/model.h5")
>>> server = ModelServer(handler, "127.0.0.1", 8000)
>>> server.start()          # background threads; server.url, server.stop()
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
import queue
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

DEFAULT_TOP = 3
DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
INTERNAL_ERROR = "internal error while predicting; the server log has the details"


class ServeError(Exception):
    """A model the server cannot load; the message says why."""


class HTTPError(Exception):
    """An answer other than 200, with a message for the client."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status, self.headers = int(status), dict(headers or {})


class BadRequest(HTTPError):
    def __init__(self, message):
        super().__init__(400, message)


# --------------------------------------------------------------------------- JSON input helpers
def _numbers(where, value, what):
    """A float64 array from JSON numbers (nested lists), or BadRequest naming what was expected."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise BadRequest(f"{where}: expected {what}, got lists of different lengths") from None
    if arr.size == 0:
        raise BadRequest(f"{where}: expected {what}, got an empty list")
    if arr.dtype.kind not in "iuf":
        got = ("null values or lists of different lengths" if arr.dtype == object else
               "strings" if arr.dtype.kind in "US" else "true/false" if arr.dtype.kind == "b" else str(arr.dtype))
        raise BadRequest(f"{where}: expected {what}, got {got}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise BadRequest(f"{where}: expected {what}, got non-finite values")
    return arr


def _shape_text(shape):
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _top_k(row, labels, top):
    order = np.argsort(-np.asarray(row), kind="stable")[:top]
    return [{"label": labels[j], "probability": _finite(row[j])} for j in order]


def _input_shape(model):
    """The batch shape of the model's single input (Functional and Sequential models)."""
    shapes = model._expected_input_shapes() if hasattr(model, "_expected_input_shapes") else None
    if not shapes:
        raise ServeError(f"model {model.name!r} declares no input shape; the server needs one")
    if len(shapes) != 1:
        raise ServeError(f"model {model.name!r} has {len(shapes)} inputs; the server handles single-input models")
    return tuple(shapes[0])


def _check_inputs(arr, expected, where="inputs"):
    """``arr`` (N, ...) against the model input shape (None, ...): BadRequest on a mismatch."""
    want = _shape_text(expected[1:])
    if arr.ndim != len(expected) or any(e is not None and e != g for e, g in zip(expected[1:], arr.shape[1:])):
        raise BadRequest(f"{where}: expected a list of arrays of shape {want} (the model input without the batch "
                         f"axis), got shape {_shape_text(arr.shape[1:])} per item")


def _stack_by_shape(items, fn):
    """Run ``fn`` on items stacked by shape (one call per distinct shape); per-item results in order."""
    out = [None] * len(items)
    groups = {}
    for i, item in enumerate(items):
        groups.setdefault(item.shape, []).append(i)
    for idx in groups.values():
        res = fn(np.stack([items[i] for i in idx]))
        for j, i in enumerate(idx):
            out[i] = res[j]
    return out


# --------------------------------------------------------------------------- model handlers
class ModelHandler:
    """What the server needs of a model: decode a request into items (request thread), predict a
    list of items (worker thread), turn one item's result into JSON, describe itself."""

    kind = "array"
    fields = ("inputs",)
    labels = None

    def __init__(self, model, source):
        self.model, self.source = model, str(source)
        self.name = getattr(model, "name", None) or Path(self.source).stem

    # request thread
    def decode(self, field, value):
        raise NotImplementedError

    # worker thread
    def predict(self, items):
        raise NotImplementedError

    def format(self, result, top):
        raise NotImplementedError

    def options(self, payload, query):
        """Per-request options (``top`` for classifiers)."""
        return {}

    def input_spec(self):
        return {}

    def output_spec(self):
        return {}

    def metadata(self):
        return {"model": self.name, "source": self.source, "kind": self.kind, "labels": self.labels,
                "input": self.input_spec(), "output": self.output_spec()}


class _ClassifierMixin:
    default_top = DEFAULT_TOP

    def options(self, payload, query):
        top = payload.get("top", query.get("top", [None])[-1] if query.get("top") else None)
        if top is None:
            top = self.default_top
        elif isinstance(top, str) and top.strip().isdigit():
            top = int(top)
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise BadRequest(f"top: expected a whole number >= 1, got {top!r}")
        return {"top": min(top, len(self.labels))}

    def format(self, result, top):
        return _top_k(result, self.labels, top)

    def output_spec(self):
        return {"type": "top_k", "num_classes": len(self.labels), "default_top": self.default_top,
                "format": "per item, a list of {label, probability}, most probable first"}


class ImageHandler(_ClassifierMixin, ModelHandler):
    """A classifier of images: ``images`` (base64 files) or ``inputs`` (preprocessed arrays)."""

    kind = "image"
    fields = ("images", "inputs")

    def __init__(self, model, source, preprocess, labels, spec):
        super().__init__(model, source)
        self.preprocess, self.labels, self.spec = preprocess, list(labels), dict(spec or {})
        self.shape = _input_shape(model)

    def decode(self, field, value):
        if field == "inputs":
            arr = _numbers("inputs", value, f"a list of arrays of shape {_shape_text(self.shape[1:])}")
            _check_inputs(arr, self.shape)
            return list(arr.astype(np.float32))
        from apps.images import read_image

        items = []
        for i, s in enumerate(value):
            if not isinstance(s, str):
                raise BadRequest(f"images[{i}]: expected a base64 string of an image file, got {type(s).__name__}")
            if s.startswith("data:") and "," in s[:200]:  # a data URL: data:image/png;base64,....
                s = s.split(",", 1)[1]
            try:
                data = base64.b64decode(s, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"images[{i}]: not valid base64 (expected the bytes of an image file, "
                                 "base64-encoded)") from None
            try:
                img = read_image(data)
            except ValueError as e:
                raise BadRequest(f"images[{i}]: {e} (expected a PNG, JPEG, BMP, GIF, TIFF or WebP file)") from None
            items.append(self.preprocess([img])[0])
        return items

    def predict(self, items):
        from apps.classify_cmd import _probabilities

        return _stack_by_shape(items, lambda x: _probabilities(self.model.predict(x, batch_size=len(x), verbose=0)))

    def input_spec(self):
        h, w = self.shape[1:3]
        size = f"resized to {h}x{w}" if None not in (h, w) else "kept at their size"
        return {"shape": list(self.shape), "dtype": "float32", "image_size": [h, w], "preprocessing": self.spec,
                "fields": {"images": "base64-encoded image files (PNG, JPEG, ...), any size: decoded to RGB, "
                                     f"{size} and preprocessed as in 'preprocessing'",
                           "inputs": f"arrays of shape {_shape_text(self.shape[1:])}, already preprocessed"}}


class TextHandler(_ClassifierMixin, ModelHandler):
    """A text classifier made by ``zoo text train``: ``texts`` (raw strings)."""

    kind = "text"
    fields = ("texts",)

    def __init__(self, model, source, labels, tokenizer, max_length):
        super().__init__(model, source)
        self.labels, self.tokenizer, self.max_length = list(labels), tokenizer, int(max_length)

    def decode(self, field, value):
        for i, t in enumerate(value):
            if not isinstance(t, str):
                raise BadRequest(f"texts[{i}]: expected a string, got {type(t).__name__}")
        return list(self.tokenizer.encode_batch(value, self.max_length))

    def predict(self, items):
        from apps.text_models import predict_ids

        return list(predict_ids(self.model, items, batch_size=max(len(items), 1), pad_id=self.tokenizer.pad_id))

    def input_spec(self):
        vocab = self.model.assets.get("vocab") or {}
        return {"shape": [None, None], "dtype": "int64", "max_length": self.max_length,
                "text_model": self.model.assets.get("text_model"),
                "preprocessing": {"tokenizer": vocab.get("type", "word"), "vocab_size": len(vocab.get("tokens", [])),
                                  "max_length": self.max_length, "pad_id": int(self.tokenizer.pad_id)},
                "fields": {"texts": f"raw strings (the first {self.max_length} tokens are used)"}}


class SeriesHandler(ModelHandler):
    """A forecaster made by ``zoo forecast train``: ``series`` (each its history, at least lookback rows)."""

    kind = "series"
    fields = ("series",)

    def __init__(self, model, source, assets):
        from apps.forecasting.windows import Scaler

        super().__init__(model, source)
        self.assets = assets
        self.targets = list(assets["columns"]["targets"])
        self.features = list(assets["columns"].get("features") or [])
        self.lookback, self.horizon = int(assets["lookback"]), int(assets["horizon"])
        self.scaler = Scaler.from_dict(assets["scaler"])

    def _columns_hint(self):
        cols = self.targets + self.features
        if len(cols) == 1:
            return f"a list of at least {self.lookback} numbers (the history of {cols[0]!r})"
        return (f"rows [{', '.join(cols)}] (at least {self.lookback} of them) or an object {{column: values}} "
                f"with the columns {cols}")

    def decode(self, field, value):
        from apps.forecasting.windows import make_inputs

        cols = self.targets + self.features
        C, L = len(self.targets), self.lookback
        items = []
        for i, s in enumerate(value):
            where = f"series[{i}]"
            if isinstance(s, dict):
                missing, unknown = [c for c in cols if c not in s], [k for k in s if k not in cols]
                if missing or unknown:
                    raise BadRequest(f"{where}: expected the columns {cols}" + (f"; missing {missing}" if missing else "")
                                     + (f"; unknown {unknown}" if unknown else ""))
                arrs = [_numbers(f"{where}[{c!r}]", s[c], "a list of numbers") for c in cols]
                if any(a.ndim != 1 for a in arrs) or len({len(a) for a in arrs}) != 1:
                    raise BadRequest(f"{where}: expected one flat list of numbers per column, all of the same length, "
                                     f"got lengths {[len(a) for a in arrs]}")
                values = np.stack(arrs, axis=1)
            elif isinstance(s, list):
                values = _numbers(where, s, self._columns_hint())
                if values.ndim == 1 and len(cols) == 1:
                    values = values[:, None]
                elif values.ndim != 2 or values.shape[1] != len(cols):
                    raise BadRequest(f"{where}: expected {self._columns_hint()}, got an array of shape "
                                     f"{list(values.shape)}")
            else:
                raise BadRequest(f"{where}: expected {self._columns_hint()}, got {type(s).__name__}")
            if len(values) < L:
                raise BadRequest(f"{where} has {len(values)} rows; the model needs at least its lookback of {L} "
                                 f"(the last {L} are used)")
            allv = self.scaler.transform(values[-L:])
            items.append(make_inputs(allv[:, :C], allv[:, C:], np.array([L], np.int64), L))  # (C, L, 1 + F)
        return items

    def predict(self, items):
        from apps.forecasting.windows import unfold

        C = len(self.targets)
        out = self.model.predict(np.concatenate(items), batch_size=len(items) * C, verbose=0)
        return list(self.scaler.inverse(unfold(np.asarray(out), C), slice(0, C)))  # (n, H, C)

    def format(self, result, top=None):
        return {t: [_finite(v) for v in result[:, j]] for j, t in enumerate(self.targets)}

    def input_spec(self):
        return {"shape": [None, self.lookback, 1 + len(self.features)], "dtype": "float32",
                "lookback": self.lookback, "targets": self.targets, "features": self.features,
                "preprocessing": {"scaler": "z-score with the training statistics (in the model file)",
                                  "norm": self.assets["forecast"].get("norm")},
                "fields": {"series": "per series, its history in the data's units: " + self._columns_hint()
                                     + "; the last lookback rows are used, gaps are not filled"}}

    def output_spec(self):
        return {"type": "forecast", "horizon": self.horizon, "targets": self.targets,
                "format": "per series, {target: [horizon values]} in the data's units"}


class ArrayHandler(ModelHandler):
    """Any other single-input model: ``inputs`` (arrays of the model's input shape)."""

    kind = "array"
    fields = ("inputs",)
    default_top = DEFAULT_TOP

    def __init__(self, model, source, labels=None):
        super().__init__(model, source)
        self.labels = list(labels) if labels else None
        self.shape = _input_shape(model)
        first = (getattr(model, "_flat_inputs", None) or [None])[0]
        self.dtype = str(getattr(first, "dtype", None) or "float32")

    def options(self, payload, query):
        return _ClassifierMixin.options(self, payload, query) if self.labels else {}

    def decode(self, field, value):
        arr = _numbers("inputs", value, f"a list of arrays of shape {_shape_text(self.shape[1:])}")
        _check_inputs(arr, self.shape)
        return list(arr.astype(self.dtype if np.dtype(self.dtype).kind in "iuf" else np.float32))

    def predict(self, items):
        def run(x):
            out = self.model.predict(x, batch_size=len(x), verbose=0)
            if self.labels:
                from apps.classify_cmd import _probabilities

                return _probabilities(out)
            if isinstance(out, dict):
                return [{k: v[i] for k, v in out.items()} for i in range(len(x))]
            if isinstance(out, (list, tuple)):
                return [[o[i] for o in out] for i in range(len(x))]
            return out

        return _stack_by_shape(items, run)

    def format(self, result, top=None):
        if self.labels:
            return _top_k(result, self.labels, top)

        def plain(v):
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, list):
                return [plain(x) for x in v]
            a = np.asarray(v, np.float64)
            return [plain(x) for x in a] if a.ndim else _finite(a)

        return plain(result)

    def input_spec(self):
        return {"shape": list(self.shape), "dtype": self.dtype, "preprocessing": None,
                "fields": {"inputs": f"arrays of shape {_shape_text(self.shape[1:])}, fed to the model as they are"}}

    def output_spec(self):
        if self.labels:
            return _ClassifierMixin.output_spec(self)
        return {"type": "raw", "format": "per item, the model's output for it"}


# --------------------------------------------------------------------------- loading
def _asset_names(path):
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return set(f["assets"]) if "assets" in f else set()
    except Exception:  # not HDF5: load_model reports it
        return set()


def _message(e):
    return e.format_message() if hasattr(e, "format_message") else str(e)


def load_handler(model_spec, weights=None) -> ModelHandler:
    """The handler for a model file from ``zoo image|text|forecast train`` (or its run folder), any
    other saved single-input model, or a registry classifier ``name[.tag]`` whose weights are cached."""
    p = Path(model_spec)
    if p.is_dir():
        p = p / "model.h5"
    try:
        if p.exists():
            assets = _asset_names(p)
            if "forecast" in assets:
                from apps.forecasting.pipeline import load_forecaster

                model, a = load_forecaster(p)
                return SeriesHandler(model, p, a)
            if "vocab" in assets:
                from apps.text_cmd import _load

                model, labels, tok, max_length = _load(p)
                return TextHandler(model, p, labels, tok, max_length)
            if "input_spec" in assets:
                from apps.classify_cmd import _load_classifier

                model, preprocess, labels = _load_classifier(str(p), None)
                return ImageHandler(model, p, preprocess, labels, model.assets.get("input_spec"))
            import apps.forecasting.models  # noqa: F401  (registers the custom layers of the apps' models)
            import apps.text_models  # noqa: F401
            from core.models import load_model

            model = load_model(p, compile=False)
            labels = (getattr(model, "assets", None) or {}).get("labels")
            return ArrayHandler(model, p, labels)
        if os.sep in str(model_spec) or str(model_spec).endswith((".h5", ".hdf5")):
            raise ServeError(f"model file not found: {model_spec}")
        return _registry_handler(str(model_spec), weights)
    except ServeError:
        raise
    except Exception as e:  # the apps' loaders raise click/data errors with their own message
        raise ServeError(f"cannot serve {model_spec}: {_message(e)}") from None


def _registry_handler(spec, weights):
    import zoo
    from zoo import weights as wreg
    from zoo.registry import pretrained_tags

    name, _, tag = spec.partition(".")
    tag = tag or weights
    if name not in zoo.list_models():
        raise ServeError(f"{spec!r} is neither a model file nor a registry model; registry models with weights: "
                         f"{', '.join(zoo.list_models(pretrained=True))}")
    cached = {e["key"] for e in wreg.list() if e.get("cached")}
    tags = pretrained_tags(name)
    if tag is None:
        have = [t for t in tags if f"{name}.{t}" in cached]
        if not have:
            raise ServeError(f"no weights of {name!r} are in the cache (tags: {tags or 'none'}); run "
                             f"`zoo weights download {name}.<tag>` first")
        tag = "imagenet" if "imagenet" in have else have[0]
    if tag not in tags:
        raise ServeError(f"no weights {tag!r} for model {name!r}; tags: {tags or 'none'}")
    if f"{name}.{tag}" not in cached:
        raise ServeError(f"the weights {name}.{tag} are not in the cache; run `zoo weights download {name}.{tag}` "
                         "first (the server never downloads)")
    from apps.classify_cmd import _load_classifier

    model, preprocess, labels = _load_classifier(name, tag)
    spec_in = (getattr(model, "pretrained_cfg", None) or {}).get("input") or {}
    return ImageHandler(model, f"{name}.{tag}", preprocess, labels, spec_in)


# --------------------------------------------------------------------------- batching
class _Job:
    __slots__ = ("items", "event", "results", "error")

    def __init__(self, items):
        self.items, self.event, self.results, self.error = items, threading.Event(), None, None


class Batcher:
    """One worker thread owning the model: concurrent jobs' items are predicted together, at most
    ``max_batch`` per predict (a larger single job is cut into several)."""

    def __init__(self, handler, max_batch=32, batch_timeout_ms=5.0):
        self.handler, self.max_batch, self.timeout = handler, int(max_batch), float(batch_timeout_ms) / 1000.0
        self.queue = queue.Queue()
        self.stats = {"requests": 0, "items": 0, "batches": 0}
        self._carry, self._stopping = None, False
        self.thread = threading.Thread(target=self._loop, name="zoo-serve-worker", daemon=True)
        self.thread.start()

    def submit(self, items, timeout=300.0):
        """Per-item results of ``items``; raises HTTPError (500 on a failed predict, 503 when stopping)."""
        if self._stopping:
            raise HTTPError(503, "the server is shutting down")
        job = _Job(items)
        self.queue.put(job)
        deadline = time.monotonic() + timeout
        while not job.event.wait(0.5):
            if not self.thread.is_alive():
                raise HTTPError(503, "the server is shutting down")
            if time.monotonic() > deadline:
                raise HTTPError(503, f"the model did not answer within {timeout:g} s; try again later")
        if job.error is not None:
            raise job.error
        return job.results

    def stop(self, timeout=10.0):
        """Finish the queued jobs, then end the worker."""
        self._stopping = True
        self.queue.put(None)
        self.thread.join(timeout)

    def _next(self, block_for):
        if self._carry is not None:
            job, self._carry = self._carry, None
            return job
        if block_for is None:
            return self.queue.get()
        if block_for <= 0:
            return self.queue.get_nowait()
        return self.queue.get(timeout=block_for)

    def _loop(self):
        done = False
        while not done:
            job = self._next(None)
            if job is None:
                break
            jobs, n = [job], len(job.items)
            deadline = time.monotonic() + self.timeout
            while n < self.max_batch:
                try:
                    nxt = self._next(deadline - time.monotonic())
                except queue.Empty:
                    break
                if nxt is None:
                    done = True
                    break
                if n + len(nxt.items) > self.max_batch:
                    self._carry = nxt  # the next batch starts with it
                    break
                jobs.append(nxt)
                n += len(nxt.items)
            self._run(jobs)
        pending = [self._carry] if self._carry is not None else []
        self._carry = None
        while True:  # stopping: answer what is still queued
            job = self._get_nowait()
            if job is None:
                break
            pending.append(job)
        for job in pending:
            self._run([job])

    def _get_nowait(self):
        while True:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                return None
            if job is not None:
                return job

    def _run(self, jobs):
        items = [it for j in jobs for it in j.items]
        try:
            results = []
            for s in range(0, len(items), self.max_batch):
                chunk = items[s:s + self.max_batch]
                out = self.handler.predict(chunk)
                if len(out) != len(chunk):
                    raise RuntimeError(f"predict returned {len(out)} results for {len(chunk)} items")
                results.extend(out)
                self.stats["batches"] += 1
            self.stats["items"] += len(items)
            self.stats["requests"] += len(jobs)
            start = 0
            for j in jobs:
                j.results = results[start:start + len(j.items)]
                start += len(j.items)
        except Exception:
            if len(jobs) > 1:  # one request's items may be the cause: answer each request on its own
                for j in jobs:
                    self._run([j])
                return
            sys.stderr.write("zoo serve: predict failed:\n" + traceback.format_exc())
            sys.stderr.flush()
            jobs[0].error = HTTPError(500, INTERNAL_ERROR)
        for j in jobs:
            j.event.set()

    def mean_batch_size(self):
        return self.stats["items"] / self.stats["batches"] if self.stats["batches"] else 0.0


# --------------------------------------------------------------------------- HTTP
ROUTES = {"/health": ("GET",), "/metadata": ("GET",), "/predict": ("POST",)}


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zoo-serve"
    timeout = 60  # seconds a connection may stay silent
    wbufsize = 64 * 1024  # headers and body leave in one write (flushed in _send)

    def setup(self):
        super().setup()
        try:  # small answers must not wait for the client's delayed ACK (Nagle)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def do_GET(self):
        self._route()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def send_error(self, code, message=None, explain=None):
        """The base class's errors (bad request line, unknown method, oversized headers) as JSON."""
        short = self.responses.get(code, ("error",))[0]
        body = json.dumps({"error": f"{short}: {message or explain or short}"}).encode("utf-8")
        self.close_connection = True
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
        body = self.rfile.read(n)
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
            self.connection.settimeout(seconds)
            left = limit
            while left > 0:
                chunk = self.rfile.read1(min(left, 65536)) if hasattr(self.rfile, "read1") else self.rfile.read(
                    min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except (OSError, ValueError):
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ModelServer:
    """The HTTP JSON API over a :class:`ModelHandler`: ``GET /health``, ``GET /metadata``,
    ``POST /predict``; concurrent requests are batched by one worker thread."""

    def __init__(self, handler, host="127.0.0.1", port=8000, max_batch=32, batch_timeout_ms=5.0,
                 max_request_bytes=DEFAULT_MAX_REQUEST_BYTES, max_items=256, access_log=False):
        if max_batch < 1 or max_items < 1 or max_request_bytes < 1 or batch_timeout_ms < 0:
            raise ValueError("max_batch, max_items and max_request_bytes must be >= 1 and batch_timeout_ms >= 0")
        self.handler = handler
        self.max_batch, self.batch_timeout_ms = int(max_batch), float(batch_timeout_ms)
        self.max_request_bytes, self.max_items, self.access_log = int(max_request_bytes), int(max_items), access_log
        self.httpd = _HTTPServer((host, int(port)), _RequestHandler)
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
