"""`zoo serve` / apps.serving: a real HTTP server on 127.0.0.1 (ephemeral port) over tiny models made
by the apps themselves (image, text, forecast), answering real requests: every endpoint, answers
equal to the apps' own predict output, and every kind of bad request."""
from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from apps.cli import main
from apps.serving import Batcher, ModelServer, ServeError, load_handler
from core import layers as L

from tests.app_helpers import SERVE_CLASSES, png_bytes, run_cli, train_image_model  # also registers tiny_serve_image

ROOT = Path(__file__).resolve().parents[1]
CLASSES = SERVE_CLASSES


def train_text_model(root):
    rng = np.random.default_rng(0)
    pos, neg, filler = ["good", "great", "nice"], ["bad", "awful", "ugly"], ["the", "movie", "was", "plot"]
    rows = ["text,label"]
    for i in range(40):
        words = list(rng.choice(filler, 3)) + [str(rng.choice(pos if i % 2 else neg))]
        rows.append(f"{' '.join(words)},{'pos' if i % 2 else 'neg'}")
    (root / "texts.csv").write_text("\n".join(rows) + "\n")
    run_cli("text", "train", root / "texts.csv", "--model", "lstm", "--epochs", "1", "--embed-dim", "8", "--units", "4",
            "--batch-size", "16", "-o", root / "text_run")
    return root / "text_run" / "model.h5"


def monthly_csv(path, n=60):
    rng = np.random.default_rng(0)
    t = np.arange(n)
    y = 100 + 0.8 * t + 15 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.0, n)
    z = 50 + 5 * np.cos(2 * np.pi * t / 12) + rng.normal(0, 0.5, n)
    f = np.sin(2 * np.pi * t / 12 + 0.3)
    lines = ["Month,sales,visits,promo"] + [f"{1990 + i // 12}-{i % 12 + 1:02d},{y[i]:.3f},{z[i]:.3f},{f[i]:.3f}"
                                             for i in range(n)]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def train_forecast_model(root):
    csv = monthly_csv(root / "monthly.csv")
    run_cli("forecast", "train", csv, "--target", "sales,visits", "--features", "promo", "--lookback", 12,
            "--horizon", 3, "--split", "36,12,12", "--epochs", 1, "--quiet", "-o", root / "forecast_run")
    return root / "forecast_run" / "model.h5", csv


# --------------------------------------------------------------------------- HTTP helpers
class Client:
    def __init__(self, server):
        self.host, self.port = server.httpd.server_address[:2]

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
            assert r.getheader("Content-Type") == "application/json", (r.status, r.getheaders())
            return r.status, (json.loads(raw) if raw else None), r
        finally:
            conn.close()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)


def start(handler, **kw):
    return ModelServer(handler, "127.0.0.1", 0, **kw).start()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    image_path, image_dir = train_image_model(root)
    text_path = train_text_model(root)
    fc_path, fc_csv = train_forecast_model(root)
    return {"image": image_path, "image_dir": image_dir, "text": text_path, "forecast": fc_path, "forecast_csv": fc_csv}


@pytest.fixture(scope="module")
def image_server(models):
    srv = start(load_handler(models["image"]), max_request_bytes=64 * 1024, max_items=8)
    yield srv
    srv.stop()


def b64(path):
    return base64.b64encode(Path(path).read_bytes()).decode()


def app_top(lines):
    """The apps' `predict --json` lines -> [[(label, probability)], ...]."""
    return [[(p["label"], p["probability"]) for p in json.loads(l)["predictions"]] for l in lines.strip().splitlines()]


def assert_same_top(served, expected, atol=1e-6):
    """Same labels with the same probabilities (the order may differ only between near-equal ones)."""
    assert len(served) == len(expected)
    for s, e in zip(served, expected):
        probs = [p["probability"] for p in s]
        assert probs == sorted(probs, reverse=True)
        got, want = {p["label"]: p["probability"] for p in s}, dict(e)
        assert set(got) == set(want), (s, e)
        np.testing.assert_allclose([got[l] for l in want], list(want.values()), atol=atol, rtol=0)


# --------------------------------------------------------------------------- endpoints
@pytest.mark.slow
def test_health_and_metadata(image_server, models):
    c = Client(image_server)
    assert c.get("/health")[:2] == (200, {"status": "ok"})
    status, meta, _ = c.get("/metadata")
    assert status == 200
    from core.models import load_model

    saved = load_model(models["image"], compile=False)
    assert meta["kind"] == "image" and meta["labels"] == list(CLASSES) == saved.assets["labels"]
    assert meta["input"]["shape"] == [None, 16, 16, 3] and meta["input"]["dtype"] == "float32"
    assert meta["input"]["preprocessing"] == saved.assets["input_spec"]
    assert set(meta["input"]["fields"]) == {"images", "inputs"}
    assert meta["output"]["type"] == "top_k" and meta["output"]["num_classes"] == 3
    assert meta["batching"] == {"max_batch": 32, "batch_timeout_ms": 5.0, "max_items_per_request": 8,
                                "max_request_bytes": 64 * 1024}
    assert image_server.url.startswith("http://127.0.0.1:") and not image_server.url.endswith(":0")


def test_image_predictions_equal_the_apps(image_server, models):
    files = [models["image_dir"] / c / f"{i}.png" for c in CLASSES for i in (0, 4)]
    cli = run_cli("image", "predict", models["image"], *files, "--json", "--top", "3")
    status, out, _ = Client(image_server).post("/predict", {"images": [b64(f) for f in files]})
    assert status == 200 and out["kind"] == "image" and len(out["predictions"]) == len(files)
    assert_same_top(out["predictions"], app_top(cli.stdout))
    # the full probabilities equal a direct predict with the app's own loader and preprocessing
    from apps.classify_cmd import _load_classifier, _probabilities
    from apps.images import read_images

    model, preprocess, labels = _load_classifier(str(models["image"]), None)
    imgs, _, _ = read_images(files)
    x = preprocess(imgs)
    direct = _probabilities(model.predict(x, verbose=0))
    for row, preds in zip(direct, out["predictions"]):
        got = {p["label"]: p["probability"] for p in preds}
        np.testing.assert_allclose([got[l] for l in labels], row, atol=1e-6, rtol=0)
    # preprocessed arrays give the same answers; top from the body or the query
    status, arr_out, _ = Client(image_server).post("/predict?top=3", {"inputs": x[:3].tolist()})
    assert status == 200
    assert_same_top(arr_out["predictions"], [[(p["label"], p["probability"]) for p in q] for q in out["predictions"][:3]])
    status, one, _ = Client(image_server).post("/predict?top=1", {"images": [b64(files[0])]})
    assert status == 200 and len(one["predictions"][0]) == 1
    assert one["predictions"][0][0]["label"] == out["predictions"][0][0]["label"]
    status, two, _ = Client(image_server).post("/predict?top=1", {"images": [b64(files[0])], "top": 2})
    assert status == 200 and len(two["predictions"][0]) == 2  # the body's top wins over the query's
    status, many, _ = Client(image_server).post("/predict", {"images": [b64(files[0])], "top": 50})
    assert status == 200 and len(many["predictions"][0]) == 3  # at most the number of classes


def test_data_url_images_are_accepted(image_server, models):
    f = models["image_dir"] / "dark" / "1.png"
    s1, a, _ = Client(image_server).post("/predict", {"images": [b64(f)]})
    s2, b, _ = Client(image_server).post("/predict", {"images": ["data:image/png;base64," + b64(f)]})
    assert s1 == s2 == 200 and a["predictions"] == b["predictions"]


def test_text_predictions_equal_the_apps(models):
    srv = start(load_handler(models["text"]))
    try:
        c = Client(srv)
        texts = ["a great and nice movie", "the plot was awful", "", "zebra xylophone", "ugly ugly ugly"]
        cli = run_cli("text", "predict", models["text"], *texts, "--json", "--top", "2")
        status, out, _ = c.post("/predict", {"texts": texts, "top": 2})
        assert status == 200 and out["kind"] == "text"
        assert_same_top(out["predictions"], app_top(cli.stdout))
        status, meta, _ = c.get("/metadata")
        assert meta["kind"] == "text" and meta["labels"] == ["neg", "pos"]
        assert meta["input"]["max_length"] == 128 and meta["input"]["preprocessing"]["tokenizer"] == "words"
        status, err, _ = c.post("/predict", {"texts": ["ok", 3]})
        assert status == 400 and "texts[1]" in err["error"] and "string" in err["error"]
        status, err, _ = c.post("/predict", {"images": ["x"]})
        assert status == 400 and "'texts'" in err["error"]
    finally:
        srv.stop()


def test_forecasts_equal_the_apps(models):
    import csv as csvmod

    srv = start(load_handler(models["forecast"]))
    try:
        c = Client(srv)
        cli = run_cli("forecast", "predict", models["forecast"], models["forecast_csv"], "--json")
        expected = [json.loads(l) for l in cli.stdout.strip().splitlines()]
        with open(models["forecast_csv"]) as f:
            rows = list(csvmod.DictReader(f))
        cols = ["sales", "visits", "promo"]
        table = [[float(r[k]) for k in cols] for r in rows]
        as_dict = {k: [float(r[k]) for r in rows[-20:]] for k in cols}
        status, out, _ = c.post("/predict", {"series": [table, as_dict, table[:30]]})
        assert status == 200 and out["kind"] == "series" and out["horizon"] == 3
        assert out["targets"] == ["sales", "visits"] and len(out["predictions"]) == 3
        for t in ("sales", "visits"):
            want = [e[t] for e in expected]
            np.testing.assert_allclose(out["predictions"][0][t], want, rtol=1e-5)  # app prints 6 digits
            np.testing.assert_allclose(out["predictions"][1][t], want, rtol=1e-5)  # same last 12 rows
        assert not np.allclose(out["predictions"][2]["sales"], out["predictions"][0]["sales"])  # another history
        status, meta, _ = c.get("/metadata")
        assert meta["input"]["lookback"] == 12 and meta["output"]["horizon"] == 3
        assert meta["input"]["features"] == ["promo"]
        for body, needle in [({"series": [table[:5]]}, "lookback of 12"),
                             ({"series": [[1.0] * 20]}, "rows [sales, visits, promo]"),
                             ({"series": [[[1.0, 2.0]] * 20]}, "shape [20, 2]"),
                             ({"series": [{"sales": [1.0] * 20, "visits": [1.0] * 20}]}, "missing ['promo']"),
                             ({"series": [{**as_dict, "promo": as_dict["promo"][:-1]}]}, "same length"),
                             ({"series": [table[:-1] + [[1.0, None, 2.0]]]}, "null"),
                             ({"series": ["abc"]}, "series[0]"),
                             ({"series": [[[1.0, float("nan"), 0.0]] * 20]}, "non-finite values")]:
            status, err, _ = c.post("/predict", body)
            assert status == 400 and needle in err["error"], (body, err)
    finally:
        srv.stop()


def test_any_other_saved_model_takes_arrays(tmp_path):
    from core.models import Sequential

    model = Sequential([L.Input((4,)), L.Dense(3, name="d")])
    model.save(tmp_path / "plain.h5")
    srv = start(load_handler(tmp_path / "plain.h5"))
    try:
        c = Client(srv)
        meta = c.get("/metadata")[1]
        assert meta["kind"] == "array" and meta["input"]["shape"] == [None, 4] and meta["labels"] is None
        x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
        status, out, _ = c.post("/predict", {"inputs": x.tolist()})
        assert status == 200
        np.testing.assert_allclose(out["predictions"], model.predict(x, verbose=0), atol=1e-6, rtol=0)
        status, err, _ = c.post("/predict", {"inputs": x[:, :3].tolist()})
        assert status == 400 and "shape [4]" in err["error"]
        status, err, _ = c.post("/predict", {"inputs": x.tolist(), "top": 2})
        assert status == 400 and "unknown field(s) ['top']" in err["error"]
    finally:
        srv.stop()


# --------------------------------------------------------------------------- bad requests
def test_bad_requests_get_400_saying_what_was_expected(image_server, models):
    c = Client(image_server)
    good = b64(models["image_dir"] / "mid" / "2.png")
    cases = [
        (b"{not json", "not valid JSON (line 1, column 2)"),
        (b"\xff\xfe", "not UTF-8"),
        ([1, 2], "expected a JSON object"),
        ({}, "expected exactly one of 'images' or 'inputs', got none"),
        ({"images": [good], "inputs": [[0]]}, "got 'images', 'inputs'"),
        ({"texts": ["hi"]}, "unknown field(s) ['texts']"),
        ({"images": good}, "images: expected a list, got a JSON str"),
        ({"images": []}, "the list is empty"),
        ({"images": [good] * 9}, "9 items, over the limit of 8"),
        ({"images": ["%%%not base64%%%"]}, "images[0]: not valid base64"),
        ({"images": [good, base64.b64encode(b"definitely not an image").decode()]}, "images[1]: image data: not a readable image"),
        ({"images": [7]}, "images[0]: expected a base64 string"),
        ({"inputs": np.zeros((2, 8, 8, 3)).tolist()}, "shape [16, 16, 3]"),
        ({"inputs": np.zeros((2, 16, 16)).tolist()}, "got shape [16, 16] per item"),
        ({"inputs": [np.zeros((16, 16, 3)).tolist(), [1, 2]]}, "lists of different lengths"),
        ({"inputs": [[["a"] * 3] * 16] * 1}, "strings"),
        ({"images": [good], "top": 0}, "top: expected a whole number >= 1"),
        ({"images": [good], "top": "three"}, "top: expected a whole number"),
    ]
    for body, needle in cases:
        status, out, _ = c.post("/predict", body)
        assert status == 400, (body, out)
        assert needle in out["error"], (needle, out)
    status, out, _ = c.post("/predict?top=-2", {"images": [good]})
    assert status == 400 and "top" in out["error"]


def test_unknown_paths_and_wrong_methods(image_server):
    c = Client(image_server)
    status, out, _ = c.get("/nope")
    assert status == 404 and "/predict" in out["error"]
    status, out, r = c.get("/predict")
    assert status == 405 and r.getheader("Allow") == "POST" and "not GET" in out["error"]
    status, out, r = c.post("/health", {"x": 1})
    assert status == 405 and r.getheader("Allow") == "GET"
    status, out, r = c.request("DELETE", "/metadata")
    assert status == 405 and r.getheader("Allow") == "GET"
    status, out, r = c.request("HEAD", "/health")
    assert status == 405 and out is None  # no body for HEAD
    assert c.get("/health/")[:2] == (200, {"status": "ok"})  # a trailing slash is fine


def test_malformed_http_gets_json_errors(image_server):
    import socket

    for raw, code in [(b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431), (b"FROB /health HTTP/1.1\r\nHost: x\r\n\r\n", 501)]:
        with socket.create_connection(image_server.httpd.server_address[:2], timeout=10) as s:
            s.sendall(raw)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.split()[1] == str(code).encode() and b"Content-Type: application/json" in head, data
        assert "error" in json.loads(body)


def test_oversized_bodies_get_413_unread(image_server):
    # headers claim 20 MB; no body byte is ever sent: the answer must come before reading it
    conn = http.client.HTTPConnection(*image_server.httpd.server_address[:2], timeout=10)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(20 * 1024 * 1024))
    conn.endheaders()
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 413 and r.getheader("Content-Type") == "application/json"
    assert "over the limit of 65536 bytes" in body["error"] and r.getheader("Connection") == "close"
    conn.close()
    # a real body over the limit (this server's limit is 64 KiB)
    status, out, _ = Client(image_server).post("/predict", {"images": ["A" * 100_000]})
    assert status == 413 and "--max-request-bytes" in out["error"]
    # no Content-Length at all
    conn = http.client.HTTPConnection(*image_server.httpd.server_address[:2], timeout=10)
    conn.putrequest("POST", "/predict")
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 411 and "Content-Length" in json.loads(r.read())["error"]
    conn.close()
    assert Client(image_server).get("/health")[0] == 200  # still serving


def test_keep_alive_connection_serves_many_requests(image_server, models):
    conn = http.client.HTTPConnection(*image_server.httpd.server_address[:2], timeout=10)
    good = json.dumps({"images": [b64(models["image_dir"] / "bright" / "3.png")]})
    seen = []
    for body in (good, "{bad", good):
        conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        seen.append((r.status, json.loads(r.read())))
    conn.close()
    assert [s for s, _ in seen] == [200, 400, 200] and seen[0][1] == seen[2][1]


def test_internal_error_is_500_without_the_traceback(image_server, models, capfd):
    model = image_server.handler.model

    def boom(*a, **k):
        raise RuntimeError("secret-detail-xyz in the engine")

    model.predict = boom
    try:
        status, out, _ = Client(image_server).post("/predict", {"images": [b64(models["image_dir"] / "dark" / "0.png")]})
    finally:
        del model.predict
    assert status == 500
    text = json.dumps(out)
    assert "secret-detail-xyz" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert out["error"].startswith("internal error")
    err = capfd.readouterr().err
    assert "Traceback" in err and "secret-detail-xyz" in err  # logged for the operator
    assert Client(image_server).post("/predict", {"images": [b64(models["image_dir"] / "dark" / "0.png")]})[0] == 200


# --------------------------------------------------------------------------- batching
class _EchoHandler:
    """Items are numbers; results are item * 10; records the batch sizes."""

    def __init__(self):
        self.sizes = []

    def predict(self, items):
        self.sizes.append(len(items))
        time.sleep(0.002)
        if -1 in items:
            raise ValueError("poisoned item")
        return [i * 10 for i in items]


def test_batcher_gathers_concurrent_requests_and_slices_answers():
    h = _EchoHandler()
    b = Batcher(h, max_batch=8, batch_timeout_ms=20)
    results, errors = {}, []

    def worker(k):
        try:
            items = list(range(k * 100, k * 100 + 1 + k % 3))
            results[k] = (items, b.submit(items))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    big = list(range(20))
    assert b.submit(big) == [i * 10 for i in big]  # one request larger than max_batch: cut into batches
    b.stop()
    assert not errors
    for items, res in results.values():
        assert res == [i * 10 for i in items]
    assert max(h.sizes) <= 8 and sum(h.sizes) == sum(len(i) for i, _ in results.values()) + 20
    assert len(h.sizes) < 24  # concurrent requests shared model calls
    assert b.stats["requests"] == 25 and b.stats["items"] == sum(h.sizes)


def test_a_failing_request_does_not_fail_the_others_in_its_batch(capfd):
    h = _EchoHandler()
    b = Batcher(h, max_batch=16, batch_timeout_ms=50)
    out = {}

    def worker(k, items):
        try:
            out[k] = b.submit(items)
        except Exception as e:
            out[k] = e

    threads = [threading.Thread(target=worker, args=(k, [k, -1] if k == 2 else [k])) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b.stop()
    assert getattr(out[2], "status", None) == 500 and "poisoned" not in str(out[2])
    assert [out[k] for k in (0, 1, 3, 4)] == [[0], [10], [30], [40]]
    assert "poisoned item" in capfd.readouterr().err


# --------------------------------------------------------------------------- loading and the command
def test_loading_errors_are_clear(tmp_path, models):
    with pytest.raises(ServeError, match="model file not found"):
        load_handler(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(ServeError, match="cannot serve"):
        load_handler(tmp_path / "junk.h5")
    with pytest.raises(ServeError, match="neither a model file nor a registry model"):
        load_handler("no_such_model_xyz")
    assert load_handler(models["text"].parent).kind == "text"  # the run folder works too


def test_registry_models_only_from_the_cache():
    from zoo import weights

    from zoo.weights.builtin import is_builtin

    rows = {e["key"]: e["cached"] for e in weights.list()}
    missing = [k for k, cached in rows.items() if not cached and not is_builtin(k)
               and k.startswith(("resnet20.", "resnet32.", "resnet56."))]
    if missing:
        with pytest.raises(ServeError, match="not in the cache"):
            load_handler(missing[0])
    assert is_builtin("resnet20.cifar10")  # shipped in the package: served with no cache and no download
    srv = start(load_handler("resnet20.cifar10"))
    try:
        c = Client(srv)
        meta = c.get("/metadata")[1]
        assert meta["kind"] == "image" and len(meta["labels"]) == 10 and meta["source"] == "resnet20.cifar10"
        img = np.random.default_rng(0).integers(0, 255, (40, 40, 3)).astype(np.uint8)
        status, out, _ = c.post("/predict", {"images": [base64.b64encode(png_bytes(img)).decode()], "top": 5})
        assert status == 200 and len(out["predictions"][0]) == 5
        assert 0 < sum(p["probability"] for p in out["predictions"][0]) <= 1 + 1e-6 and out["predictions"][0][0]["label"] in meta["labels"]
    finally:
        srv.stop()


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys; from click.testing import CliRunner; import apps.cli; "
            "r = CliRunner().invoke(apps.cli.main, ['serve', '--help']); assert r.exit_code == 0, r.output; "
            "assert '--max-batch' in r.output and '--max-request-bytes' in r.output; "
            "print('numpy' in sys.modules, 'apps.serving' in sys.modules)")
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"] and time.time() - t0 < 20


@pytest.mark.slow
def test_command_prints_the_url_serves_and_stops_on_sigterm(models):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "apps.cli", "serve", str(models["text"]), "--port", "0",
                          "--no-access-log"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    try:
        line = p.stdout.readline()
        assert "serving" in line and "(text)" in line and "http://127.0.0.1:" in line, (line, p.poll())
        url = line.split(" on ", 1)[1].split()[0]
        host, port = url[len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/predict", body=json.dumps({"texts": ["great movie"]}))
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["predictions"][0][0]["label"] in ("pos", "neg")
        conn.close()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
        err = p.stderr.read()
        assert "shutting down" in err and "stopped after 1 predict requests" in err and "Traceback" not in err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_command_errors_are_clean(tmp_path):
    r = CliRunner().invoke(main, ["serve", str(tmp_path / "nope.h5")])
    assert r.exit_code != 0 and "model file not found" in r.output and "Traceback" not in r.output
