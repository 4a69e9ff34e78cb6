"""Shared helpers of the ONNX export tests: an onnxruntime session and ``assert_onnx_matches``
(export, ``onnx.checker``, onnxruntime equals ``predict`` at several batch sizes)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from core.export import export_onnx  # noqa: E402

ATOL = 1e-4


def ort_session(path, threads=2):
    """A CPU onnxruntime session on the file at ``path``."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _as_list(out):
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


class Exported(NamedTuple):
    worst: float  # the max abs difference over every output and batch size
    proto: object  # the loaded ModelProto (None with load_proto=False)
    session: object  # the onnxruntime session


def assert_onnx_matches(model, feeds, path, atol=ATOL, batches=None, load_proto=True, **export_kwargs):
    """Export ``model`` to ``path`` (``export_onnx`` runs ``onnx.checker`` with full_check and
    fails otherwise), run onnxruntime on ``feeds`` (a list in the model's input order) cut to each
    batch size in ``batches`` (default: 1 row and all rows), and assert every output equals
    ``model.predict`` on those rows within ``atol``."""
    export_onnx(model, path, check=True, **export_kwargs)
    proto = onnx.load(str(path)) if load_proto else None
    sess = ort_session(path)
    names = [i.name for i in sess.get_inputs()]
    assert len(names) == len(feeds)
    feeds = [np.asarray(f) for f in feeds]
    n = len(feeds[0])
    refs = _as_list(model.predict(feeds if len(feeds) > 1 else feeds[0], verbose=0))
    worst = 0.0
    for b in batches or (1, n):
        got = sess.run(None, dict(zip(names, [f[:b] for f in feeds])))
        assert len(got) == len(refs)
        for ref, o in zip(refs, got):
            r = ref[:b]
            assert o.shape == r.shape and o.dtype == r.dtype, (o.shape, r.shape, o.dtype, r.dtype)
            assert np.isfinite(r).all()
            diff = float(np.abs(o.astype(np.float64) - r).max()) if r.size else 0.0
            assert diff <= atol, f"batch {b}: max abs difference {diff:.3g} > {atol}"
            worst = max(worst, diff)
    return Exported(worst, proto, sess)


def randomize(model, rng, scale=0.5):
    """Random weights everywhere (biases too), so that no term hides behind a zero."""
    for w in model.weights:
        w.assign((rng.normal(size=w.shape) * scale).astype(np.float32))
