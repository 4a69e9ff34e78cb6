"""`zoo serve` against hostile clients: decompression-bomb images (pixel budgets per image and per
request, checked from the header; large images scaled down while decoding), slowloris headers,
bodies shorter than their Content-Length, connection floods (bounded workers, a real backlog)."""
from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from apps.serving import ImageHandler, ModelServer
from apps.serving.decoding import decode, open_images
from core import layers as L
from core.models import Sequential
from tests.hostile_helpers import run_measured

SETUP = """
import base64, http.client, json
import numpy as np
from apps.serving import ImageHandler, ModelServer
from core import layers as L
from core.models import Sequential
from zoo.preprocessing import preprocess_images
model = Sequential([L.Input((16, 16, 3)), L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")])
handler = ImageHandler(model, "tiny", lambda imgs: preprocess_images(imgs, {}, (16, 16)), ["a", "b", "c"], {})
server = ModelServer(handler, "127.0.0.1", 0, **OPTS).start()
host, port = server.httpd.server_address[:2]
def post(obj):
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("POST", "/predict", body=json.dumps(obj), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = (r.status, json.loads(r.read()))
    c.close()
    return out
post({"inputs": np.zeros((1, 16, 16, 3)).tolist()})   # warm up the model and the threads
"""


def _tiny_handler():
    from zoo.preprocessing import preprocess_images

    model = Sequential([L.Input((16, 16, 3)), L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")])
    return ImageHandler(model, "tiny", lambda imgs: preprocess_images(imgs, {}, (16, 16)), ["a", "b", "c"], {})


@pytest.fixture
def server():
    srv = ModelServer(_tiny_handler(), "127.0.0.1", 0, header_timeout=1.0, body_timeout=1.0, idle_timeout=5.0,
                      max_connections=8).start()
    yield srv
    srv.stop()


def _post(srv, obj, timeout=60):
    c = http.client.HTTPConnection(*srv.httpd.server_address[:2], timeout=timeout)
    c.request("POST", "/predict", body=json.dumps(obj), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, json.loads(r.read())
    c.close()
    return out


def _image_file(tmp_path, name, size, mode="P", fmt="PNG", **save):
    path = tmp_path / name
    Image.new(mode, size).save(path, format=fmt, **save)
    return path


def _b64(path):
    return base64.b64encode(path.read_bytes()).decode()


@pytest.mark.slow
def test_9000x9000_png_is_refused_from_its_header_with_bounded_memory(tmp_path):
    png = _image_file(tmp_path, "big.png", (9000, 9000))
    assert png.stat().st_size < 1_000_000
    result, growth, seconds = run_measured(SETUP.replace("**OPTS", ""), f"""
        data = base64.b64encode(open({str(png)!r}, "rb").read()).decode()
        result = post({{"images": [data]}})
        """)
    status, body = result
    assert status == 413 and "9000x9000" in body["error"] and "max_image_pixels" in body["error"], body
    assert growth < 100, f"RSS grew {growth:.0f} MB answering one 9000x9000 PNG"
    print(f"9000x9000 PNG: 413 in {seconds * 1000:.0f} ms, RSS growth {growth:.0f} MB (under load)")


@pytest.mark.slow
def test_request_pixel_budget_refuses_before_decoding_any_image(tmp_path):
    png = _image_file(tmp_path, "mid.png", (4000, 4000))   # 16 MP: under the per-image budget
    result, growth, seconds = run_measured(SETUP.replace("**OPTS", ""), f"""
        data = base64.b64encode(open({str(png)!r}, "rb").read()).decode()
        result = post({{"images": [data] * 8}})
        """)
    status, body = result
    assert status == 413 and "per request" in body["error"] and "max_request_pixels" in body["error"], body
    assert growth < 100, growth


def test_big_jpeg_is_decoded_scaled_down_and_answered(tmp_path, server):
    jpg = _image_file(tmp_path, "photo.jpg", (8000, 6000), mode="L", fmt="JPEG", quality=50)   # 48 MP declared
    status, body = _post(server, {"images": [_b64(jpg)]})
    assert status == 200, body
    [img] = open_images([jpg.read_bytes()], (16, 16), 25_000_000, 100_000_000)
    assert img.size == (1000, 750)        # JPEG DCT scaling: 1/8 of each side is decoded
    arr = decode(img, (16, 16), "images[0]")
    assert arr.dtype == np.uint8 and arr.shape[2] == 3 and 64 <= arr.shape[0] < 128


def test_big_png_is_reduced_in_uint8_before_preprocessing(tmp_path):
    png = tmp_path / "grad.png"
    Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (2000, 8))).save(png)   # 2048 x 2000
    [img] = open_images([png.read_bytes()], (16, 16), 25_000_000, 100_000_000)
    arr = decode(img, (16, 16), "images[0]")
    assert arr.dtype == np.uint8 and arr.shape == (-(-2000 // 31), -(-2048 // 31), 3)   # 1/31, rounded up
    # a small image is left alone: the server predicts exactly what the apps predict on it
    small = tmp_path / "small.png"
    Image.fromarray(np.full((40, 50, 3), 7, np.uint8)).save(small)
    [img] = open_images([small.read_bytes()], (16, 16), 25_000_000, 100_000_000)
    assert decode(img, (16, 16), "images[0]").shape == (40, 50, 3)


def test_budgets_are_configurable_and_in_metadata(tmp_path):
    srv = ModelServer(_tiny_handler(), "127.0.0.1", 0, max_image_pixels=1000, max_request_pixels=1500).start()
    try:
        c = http.client.HTTPConnection(*srv.httpd.server_address[:2], timeout=30)
        c.request("GET", "/metadata")
        limits = json.loads(c.getresponse().read())["limits"]
        assert limits["max_image_pixels"] == 1000 and limits["max_request_pixels"] == 1500
        assert limits["header_timeout_s"] > 0 and limits["body_timeout_s"] > 0 and limits["max_connections"] >= 1
        ok = _image_file(tmp_path, "ok.png", (30, 30), mode="RGB")
        big = _image_file(tmp_path, "big.png", (40, 30), mode="RGB")
        assert _post(srv, {"images": [_b64(ok)]})[0] == 200
        assert _post(srv, {"images": [_b64(big)]})[0] == 413
        status, body = _post(srv, {"images": [_b64(ok), _b64(ok)]})
        assert status == 413 and "per request" in body["error"]
    finally:
        srv.stop()


def _read_all(sock):
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        pass
    return data


@pytest.mark.slow
def test_slowloris_headers_get_408_at_the_header_deadline(server):
    addr = server.httpd.server_address[:2]
    s = socket.create_connection(addr, timeout=30)
    t0 = time.monotonic()
    s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
    answer = b""
    for _ in range(60):               # one header byte every 0.1 s: each recv is quick, the whole is not
        try:
            s.sendall(b"X")
        except OSError:
            break
        time.sleep(0.1)
        s.settimeout(0.01)
        try:
            answer += s.recv(65536)
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            break
        if answer:
            break
    s.settimeout(10)
    answer += _read_all(s)
    held = time.monotonic() - t0
    s.close()
    assert answer.split(b" ")[1] == b"408", answer
    assert held < 5.5, f"a 1 s header deadline held the connection {held:.1f} s"
    assert _post(server, {"inputs": np.zeros((1, 16, 16, 3)).tolist()})[0] == 200


@pytest.mark.slow
def test_body_shorter_than_its_content_length_gets_408(server):
    s = socket.create_connection(server.httpd.server_address[:2], timeout=30)
    body = b'{"inputs": [[[0.0]]]}'
    s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body) + 50}\r\n\r\n".encode() + body)
    t0 = time.monotonic()
    answer = _read_all(s)
    s.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"408", answer
    assert f"{len(body)} of the {len(body) + 50} bytes" in json.loads(payload)["error"]
    assert time.monotonic() - t0 < 10


def test_connection_flood_is_bounded_and_answered_503(server):
    addr = server.httpd.server_address[:2]
    idle = [socket.create_connection(addr, timeout=10) for _ in range(8)]    # hold every slot
    deadline = time.monotonic() + 20
    while server.httpd._slots._value > 0:    # until the server has taken all eight
        assert time.monotonic() < deadline
        time.sleep(0.02)
    s = socket.create_connection(addr, timeout=10)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = _read_all(s)
    s.close()
    assert answer.split(b" ")[1] == b"503" and b"max_connections" in answer, answer
    assert threading.active_count() < 40
    for c in idle:
        c.close()
    deadline = time.monotonic() + 10
    while True:   # slots come back as the idle connections close
        try:
            if _post(server, {"inputs": np.zeros((1, 16, 16, 3)).tolist()}, timeout=5)[0] == 200:
                break
        except (OSError, http.client.HTTPException):
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.slow
def test_idle_keep_alive_connections_are_closed_at_the_idle_deadline():
    srv = ModelServer(_tiny_handler(), "127.0.0.1", 0, idle_timeout=0.5).start()
    try:
        s = socket.create_connection(srv.httpd.server_address[:2], timeout=10)
        t0 = time.monotonic()
        assert _read_all(s) == b""        # closed without an answer: no request was started
        assert time.monotonic() - t0 < 5
        s.close()
    finally:
        srv.stop()


@pytest.mark.slow
def test_a_burst_of_new_connections_is_queued_not_dropped():
    srv = ModelServer(_tiny_handler(), "127.0.0.1", 0).start()
    try:
        assert srv.httpd.request_queue_size >= 512
        results = []

        def hit():
            c = http.client.HTTPConnection(*srv.httpd.server_address[:2], timeout=30)
            c.request("GET", "/health")
            results.append(c.getresponse().status)
            c.close()

        threads = [threading.Thread(target=hit) for _ in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(200) == 200
    finally:
        srv.stop()
