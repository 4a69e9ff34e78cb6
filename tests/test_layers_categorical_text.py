"""CategoryEncoding, Discretization, Hashing, StringLookup, IntegerLookup and TextVectorization against
Keras 3.15 (the "call" cases of tests/fixtures/catalog_preprocessing.*): outputs, learned
vocabularies / boundaries / idf weights after ``adapt``, configs; plus errors and round trips."""
import numpy as np
import pytest

from core import layers as L
from core.models import Model
from tests.fixture_utils import load_cases

CASES = [c for c in load_cases("catalog_preprocessing") if c.params["kind"] == "call"]
PARAMS = [pytest.param(c, id=c.name) for c in CASES] or [pytest.param(None, marks=pytest.mark.skip("no fixtures"))]


def _build(case):
    layer = getattr(L, case.params["op"])(**case.params["config"])
    if case.params["adapt"]:
        layer.adapt(case.arrays["x_adapt"])
    return layer


def _call(layer, case):
    kw = {"count_weights": case.arrays["count_weights"]} if "count_weights" in case.arrays else {}
    out = layer(case.arrays["x"], **kw)
    return np.asarray(out.numpy() if hasattr(out, "numpy") else out)


@pytest.mark.parametrize("case", PARAMS)
def test_outputs_match_keras(case):
    layer = _build(case)
    y = _call(layer, case)
    if "y_str" in case.arrays:
        np.testing.assert_array_equal(y.astype(str), case.arrays["y_str"])
        return
    want = case.arrays["y"]
    assert y.shape == want.shape
    if want.dtype.kind in "iu":
        assert y.dtype.kind in "iu"
        np.testing.assert_array_equal(y, want)
    else:
        np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", PARAMS)
def test_learned_state_and_config_match_keras(case):
    layer = _build(case)
    p = case.params
    if "vocabulary" in p:
        assert layer.get_vocabulary() == p["vocabulary"]
    if "bin_boundaries" in p:
        np.testing.assert_allclose(layer.bin_boundaries, p["bin_boundaries"], rtol=1e-6)
    if "idf_weights" in case.arrays:
        lk = getattr(layer, "_lookup_layer", layer)
        np.testing.assert_allclose(lk.idf_weights, case.arrays["idf_weights"], rtol=1e-6)
    cfg = layer.get_config()
    want = p["keras_config"]
    assert set(cfg) - {"dtype", "trainable"} == set(want) - {"dtype", "trainable"}
    for k, v in want.items():
        if k not in ("name", "dtype", "trainable"):
            got = cfg[k]
            assert (list(got) if isinstance(got, tuple) else got) == v, k
    clone = type(layer).from_config(cfg)
    tf_idf = p["config"].get("output_mode") == "tf_idf"
    if p["adapt"] and hasattr(clone, "set_vocabulary") and "vocabulary" in p and not tf_idf:
        clone.set_vocabulary(p["vocabulary"])
    elif p["adapt"] and p["op"] == "Discretization":
        clone.bin_boundaries = layer.bin_boundaries
    if not p["adapt"] or "vocabulary" in p or p["op"] == "Discretization":
        if p["config"].get("output_mode") != "tf_idf":
            np.testing.assert_array_equal(_call(clone, case), _call(layer, case))


def test_text_pipeline_in_a_model():
    texts = np.array(["good movie", "bad movie", "good good fun", "bad plot"])
    vec = L.TextVectorization(output_mode="multi_hot")
    vec.adapt(texts)
    x = vec(texts).numpy()
    inp = L.Input((x.shape[1],))
    model = Model(inp, L.Dense(1, activation="sigmoid")(inp))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, np.array([1, 0, 1, 0], np.float32), epochs=2, verbose=0)
    assert model.predict(x, verbose=0).shape == (4, 1)


def test_errors():
    with pytest.raises(ValueError, match="num_tokens must be set"):
        L.CategoryEncoding()
    with pytest.raises(ValueError, match="count_weights"):
        L.CategoryEncoding(3, "multi_hot")(np.array([[1]]), count_weights=np.array([[1.0]]))
    with pytest.raises(ValueError, match="either `num_bins` or `bin_boundaries`"):
        L.Discretization()
    with pytest.raises(ValueError, match="adapt"):
        L.Discretization(num_bins=3)(np.array([1.0]))
    with pytest.raises(ValueError, match="repeated term"):
        L.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        L.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["b"]))
    with pytest.raises(ValueError, match="salt"):
        L.IntegerLookup(num_oov_indices=2, salt=3)
    with pytest.raises(ValueError, match="salt"):
        L.Hashing(4, salt="pepper")
    with pytest.raises(ValueError, match="num_bins"):
        L.Hashing(0)
    with pytest.raises(ValueError, match="`output_mode` must be `'int'`"):
        L.IntegerLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="output_sequence_length"):
        L.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        L.TextVectorization()(np.array([["a", "b"]]))


def test_farmhash_and_siphash_match_tensorflow():
    from core.layers.farmhash import fingerprint64, siphash64

    (case,) = [c for c in load_cases("catalog_preprocessing") if c.params["kind"] == "fingerprint"] or [None]
    if case is None:
        pytest.skip("fixtures missing")
    np.testing.assert_array_equal(fingerprint64(case.arrays["strings"]), case.arrays["fingerprints"])
    sip = siphash64(case.arrays["strings"], (123456789, 987654321987)) % np.uint64(2 ** 31 - 1)
    np.testing.assert_array_equal(sip.astype(np.int64), case.arrays["sip_buckets"])
    assert fingerprint64(np.array([["ab", "c"]])).shape == (1, 2)
