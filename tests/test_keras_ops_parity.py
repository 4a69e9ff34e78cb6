"""``core.ops`` against Keras 3.15 (TensorFlow backend) on the cases where Keras's semantics
are subtle: ties, out-of-range one-hot indices, attention masks, conv/pool padding, empty
segments, dtype rules (fixtures from tests/fixtures/make_keras_ops_fixtures.py)."""
import numpy as np
import pytest

import core
from core import activations, ops
from tests.fixture_utils import case_params

# float32 ops computed in a different order than TensorFlow's: a few ulps
ATOL, RTOL = 2e-5, 2e-5
LOOSE = {"erfinv": 5e-5, "lstsq": 1e-4, "inv": 1e-4, "solve": 1e-4, "det": 1e-3, "cholesky": 1e-4,
         "eigh_values": 1e-4, "cce_logits": 5e-5, "bce_probs": 5e-5}


def _resolve(path):
    obj = {"ops": ops, "activations": activations}[path.split(".")[0]]
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("case", case_params("keras_ops"))
def test_matches_keras(case):
    p = case.params

    def arg(v):
        if isinstance(v, str) and v.startswith("@"):
            return core.Tensor(case.arrays[v[1:]])
        if isinstance(v, list) and v and all(isinstance(e, str) and e.startswith("@") for e in v):
            return tuple(core.Tensor(case.arrays[e[1:]]) for e in v)  # a (real, imaginary) pair
        return tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v

    out = _resolve(p["op"])(*[arg(a) for a in p["args"]], **{k: arg(v) for k, v in p["kwargs"].items()})
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if case.name == "eigh_values":
        outs = outs[:1]  # eigenvectors are defined up to sign
    for i, o in enumerate(outs):
        want = case.arrays[f"out{i}"]
        got = np.asarray(o.numpy() if isinstance(o, core.Tensor) else o)
        assert got.shape == want.shape, (case.name, i, got.shape, want.shape)
        assert got.dtype == np.dtype(p["dtypes"][i]), (case.name, i, got.dtype, p["dtypes"][i])
        if want.dtype.kind == "f":
            tol = LOOSE.get(case.name, ATOL)
            np.testing.assert_allclose(got, want, atol=tol, rtol=max(tol, RTOL), err_msg=case.name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=case.name)
