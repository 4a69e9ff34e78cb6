"""Access to the real data in ../shared/data for acceptance tests (skipped when absent)."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(os.environ.get("ZOO_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def require(relpath: str) -> Path:
    """The path of a shared data file, or skip the test with the reason."""
    path = SHARED_DATA / relpath
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing (tests need ../shared/data)")
    return path


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_test_set():
    """The 10,000 MNIST test images (uint8, 10000x28x28) and labels."""
    images = _idx(require("images/mnist/t10k-images-idx3-ubyte.gz"))
    labels = _idx(require("images/mnist/t10k-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)
