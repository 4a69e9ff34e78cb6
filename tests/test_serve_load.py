"""A bounded load test of `zoo serve`: 2,000 requests from 8 threads (keep-alive connections) against
the tiny image classifier made by `zoo image train`; every answer must equal a direct predict.
Latency percentiles, throughput and the mean batch size are printed, never asserted."""
from __future__ import annotations

import base64
import http.client
import json
import threading
import time

import numpy as np
import pytest

from apps.serving import ModelServer, load_handler

from tests.app_helpers import SERVE_CLASSES as CLASSES, train_image_model

N_REQUESTS, N_THREADS = 2000, 8


@pytest.mark.slow
def test_2000_requests_from_8_threads_all_correct(tmp_path, capsys):
    model_path, data = train_image_model(tmp_path)
    files = [data / c / f"{i}.png" for c in CLASSES for i in range(6)]
    bodies = [json.dumps({"images": [base64.b64encode(f.read_bytes()).decode()]}).encode() for f in files]
    # expected answers: a direct predict with the app's own loader, reader and preprocessing
    from apps.classify_cmd import _load_classifier, _probabilities
    from apps.images import read_images

    model, preprocess, labels = _load_classifier(str(model_path), None)
    imgs, _, _ = read_images(files)
    expected = _probabilities(model.predict(preprocess(imgs), verbose=0))

    server = ModelServer(load_handler(model_path), "127.0.0.1", 0).start()
    host, port = server.httpd.server_address[:2]
    latencies = np.zeros(N_REQUESTS)
    failures = []

    def client(t):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            for k in range(t, N_REQUESTS, N_THREADS):
                i = (k * 7) % len(files)
                t0 = time.perf_counter()
                conn.request("POST", "/predict", body=bodies[i], headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                raw = r.read()
                latencies[k] = time.perf_counter() - t0
                if r.status != 200:
                    failures.append((k, r.status, raw[:200]))
                    continue
                preds = json.loads(raw)["predictions"]
                got = {p["label"]: p["probability"] for p in preds[0]}
                if len(preds) != 1 or set(got) != set(labels) or \
                        not np.allclose([got[l] for l in labels], expected[i], atol=1e-5, rtol=0):
                    failures.append((k, i, preds, expected[i].tolist()))
        except Exception as e:  # reported below
            failures.append(("exception", t, repr(e)))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(t,)) for t in range(N_THREADS)]
    t_start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t_start
    stats = dict(server.batcher.stats)
    mean_batch = server.batcher.mean_batch_size()
    server.stop()

    assert not failures, failures[:5]
    assert stats["requests"] == N_REQUESTS and stats["items"] == N_REQUESTS
    p50, p99 = np.percentile(latencies * 1000, [50, 99])
    with capsys.disabled():
        print(f"\nzoo serve load test: {N_REQUESTS} requests from {N_THREADS} threads in {wall:.2f} s: "
              f"{N_REQUESTS / wall:.0f} requests/s, latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"{stats['batches']} model calls, mean batch size {mean_batch:.2f}")
