"""RemoteMonitor posts each epoch's logs to a local HTTP server (as Keras: form field or JSON body)."""
import http.server
import json
import threading
import urllib.parse

import numpy as np
import pytest

from core import layers as L
from core.callbacks import RemoteMonitor
from core.models import Sequential
from tests.markers import slow_except


@pytest.fixture()
def server():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, self.headers.get("Content-Type"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    httpd.shutdown()
    httpd.server_close()


def _fit(callback, epochs=2):
    model = Sequential([L.Input((3,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    return model.fit(x, x[:, :1], epochs=epochs, batch_size=8, verbose=0, callbacks=[callback])


@pytest.mark.parametrize("as_json", slow_except([False, True], [True]))
def test_posts_every_epoch(server, as_json):
    root, received = server
    history = _fit(RemoteMonitor(root=root, path="/ep/", send_as_json=as_json))
    assert [r[0] for r in received] == ["/ep/", "/ep/"]
    for epoch, (_, ctype, body) in enumerate(received):
        if as_json:
            assert ctype == "application/json"
            data = json.loads(body)
        else:
            data = json.loads(urllib.parse.parse_qs(body)["data"][0])
        assert data["epoch"] == epoch
        assert data["loss"] == pytest.approx(history.history["loss"][epoch])
        assert data["mae"] == pytest.approx(history.history["mae"][epoch])


def test_unreachable_server_warns_and_training_goes_on():
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor"):
        history = _fit(RemoteMonitor(root="http://127.0.0.1:1"), epochs=1)
    assert len(history.history["loss"]) == 1
