"""RemoteMonitor: POST each epoch's logs to a server (Keras 3's callback, on ``requests``)."""
from __future__ import annotations

import json
import warnings

import numpy as np

from .callback import Callback


class RemoteMonitor(Callback):
    """At each epoch end, POST ``{"epoch": e, <logs>}`` to ``root + path``: as a JSON body with
    ``send_as_json=True``, else JSON-encoded in the form field ``field``. An unreachable or slow server
    (``timeout`` seconds) gives a warning and training goes on."""

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data", headers=None,
                 send_as_json=False, timeout=10.0):
        super().__init__()
        self.root, self.path, self.field = root, path, field
        self.headers, self.send_as_json, self.timeout = headers, send_as_json, timeout

    def on_epoch_end(self, epoch, logs=None):
        import requests

        send = {"epoch": epoch}
        for k, v in (logs or {}).items():
            send[k] = v.item() if isinstance(v, (np.ndarray, np.generic)) else v
        url = self.root + self.path
        try:
            if self.send_as_json:
                requests.post(url, json=send, headers=self.headers, timeout=self.timeout)
            else:
                requests.post(url, {self.field: json.dumps(send)}, headers=self.headers, timeout=self.timeout)
        except requests.exceptions.RequestException:
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)
