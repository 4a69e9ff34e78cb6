"""String inputs: ``Input(dtype="string")``, the preprocessing layers that take strings called on it,
and end-to-end Functional models trained, evaluated, predicted, configured and saved with raw text
(the end of keras-io's text_classification_from_scratch)."""
from __future__ import annotations

import numpy as np
import pytest

import core as keras
from core.backend import STRING

TEXTS = np.array(["good movie great fun", "bad film awful boring", "great good fun", "awful bad boring",
                  "good fun", "bad boring", "great movie", "awful film"])
LABELS = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype="float32")


def _vectorizer(length=4):
    tv = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=length)
    tv.adapt(TEXTS)
    return tv


def _end_to_end(tv, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(1,), dtype="string")
    x = tv(inp)
    x = keras.layers.Embedding(20, 4)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inp, out)


def test_brief_snippet_string_input_model_predicts():
    tv = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    tv.adapt(np.array(["the cat sat", "the dog ran far away"]))
    inp = keras.Input(shape=(1,), dtype="string")
    assert inp.dtype == "string" and inp.dtype is STRING and inp.shape == (None, 1)
    assert "dtype=string" in repr(inp)
    x = tv(inp)
    assert x.shape == (None, 5) and x.dtype == np.int64
    x = keras.layers.Embedding(20, 4)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(1)(x)
    m = keras.Model(inp, out)
    pred = m.predict(np.array([["the cat"], ["dog far"]]), verbose=0)
    assert pred.shape == (2, 1) and pred.dtype == np.float32 and np.isfinite(pred).all()


def test_fit_evaluate_end_to_end_loss_decreases():
    m = _end_to_end(_vectorizer())
    m.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    hist = m.fit(TEXTS[:, None], LABELS, epochs=6, batch_size=4, verbose=0, shuffle=True)
    losses = hist.history["loss"]
    assert losses[-1] < losses[0] * 0.7
    loss, acc = m.evaluate(TEXTS, LABELS, verbose=0)  # a (n,) batch feeds Input(shape=(1,)), as in Keras
    assert acc == 1.0 and loss < losses[0]
    assert m.evaluate(list(TEXTS), LABELS, verbose=0) == pytest.approx([loss, acc])


def test_predict_equals_vectorize_then_model():
    tv = _vectorizer()
    keras.utils.set_random_seed(1)
    ids = keras.Input(shape=(4,), dtype="int64")
    x = keras.layers.Embedding(20, 4)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, keras.layers.Dense(1)(x))
    inp = keras.Input(shape=(1,), dtype="string")
    e2e = keras.Model(inp, model(tv(inp)))
    # each comparison with the same batches: a GEMM's rounding may differ with its row count
    token_ids = np.asarray(tv(TEXTS[:, None]).numpy())
    want = model.predict(token_ids, verbose=0)
    np.testing.assert_array_equal(e2e.predict(TEXTS[:, None], verbose=0), want)
    np.testing.assert_array_equal(e2e.predict(TEXTS.astype(object), batch_size=3, verbose=0),
                                  model.predict(token_ids, batch_size=3, verbose=0))
    np.testing.assert_array_equal(e2e.predict(list(TEXTS), verbose=0), want)
    want2 = model.predict(token_ids[:2], verbose=0)
    np.testing.assert_array_equal(np.asarray(e2e(TEXTS[:2, None]).numpy()), want2)
    np.testing.assert_array_equal(np.asarray(e2e([["good movie great fun"], ["bad film awful boring"]]).numpy()),
                                  want2)
    np.testing.assert_array_equal(np.asarray(e2e(list(TEXTS[:2])).numpy()), want[:2])


def test_summary_config_and_keras_file_round_trip(tmp_path):
    m = _end_to_end(_vectorizer())
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "TextVectorization" in text and "(None, 4)" in text
    cfg = m.get_config()
    assert cfg["layers"][0]["config"]["dtype"] == "string"
    again = keras.Model.from_config(cfg)
    assert again.inputs[0].dtype == "string" and again.layers[1].output.shape == (None, 4)
    path = tmp_path / "text.keras"
    m.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[1].get_vocabulary() == m.layers[1].get_vocabulary()
    assert len(m.layers[1].get_vocabulary()) > 2
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), m.predict(TEXTS, verbose=0))
    import zipfile
    names = zipfile.ZipFile(path).namelist()  # where Keras 3 writes an adapted vocabulary
    assert "assets/layers/text_vectorization/vocabulary.txt" in names


def test_string_lookup_and_hashing_on_string_input(tmp_path):
    inp = keras.Input(shape=(1,), dtype="string")
    lookup = keras.layers.StringLookup()
    lookup.adapt(np.array(["a", "b", "b", "c"]))
    ids = lookup(inp)
    assert ids.shape == (None, 1) and ids.dtype == np.int64
    bins = keras.layers.Hashing(num_bins=8)(inp)
    assert bins.shape == (None, 1) and bins.dtype == np.int64
    multi = keras.layers.Hashing(num_bins=8, output_mode="multi_hot")(inp)
    assert multi.shape == (None, 8) and multi.dtype == np.float32
    onehot = keras.layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")(inp)
    assert onehot.shape == (None, 3) and onehot.dtype == np.float32
    m = keras.Model(inp, [ids, bins])
    data = np.array(["a", "b", "z"], dtype=object)
    got_ids, got_bins = m.predict(data, verbose=0)
    np.testing.assert_array_equal(got_ids, [[3], [1], [0]])  # "b" most frequent, then "c", "a"; "z" is OOV
    np.testing.assert_array_equal(got_bins, np.asarray(keras.layers.Hashing(num_bins=8)(data[:, None]).numpy()))
    path = tmp_path / "lookup.keras"
    m.save(path)
    re_ids, re_bins = keras.models.load_model(path).predict(["a", "b", "z"], verbose=0)
    np.testing.assert_array_equal(re_ids, got_ids)
    np.testing.assert_array_equal(re_bins, got_bins)


def test_strings_reaching_a_numeric_layer_fail_clearly():
    inp = keras.Input(shape=(1,), dtype="string")
    with pytest.raises(TypeError, match=r"Layer 'd_sym' \(Dense\) needs numbers but got strings"):
        keras.layers.Dense(2, name="d_sym")(inp)
    with pytest.raises(TypeError, match=r"needs numbers but got strings \(dtype <U2\)"):
        keras.layers.Dense(2)(np.array([["ab"]]))
    num_in = keras.Input(shape=(3,))
    num = keras.Model(num_in, keras.layers.Dense(1)(num_in))
    with pytest.raises(TypeError, match=r"\(Functional\) needs numbers but got strings"):
        num.predict(np.array([["1", "2", "3"]]), verbose=0)  # never parsed as floats
    text = _end_to_end(_vectorizer())
    with pytest.raises(TypeError, match=r"takes strings \(dtype string\), got an array of dtype float32"):
        text.predict(np.zeros((2, 1), "float32"), verbose=0)


def test_keras_saved_string_model_loads_and_predicts_the_same():
    """A Keras 3.15.1 ``.keras`` file (tests/fixtures/make_string_model_fixture.py): its adapted
    vocabularies come from assets/.../vocabulary.txt; TextVectorization, StringLookup and Hashing
    (FarmHash64) give Keras's outputs."""
    import os

    here = os.path.join(os.path.dirname(__file__), "fixtures", "string_model")
    ref = np.load(os.path.join(here, "text.npz"))
    m = keras.models.load_model(os.path.join(here, "text.keras"))
    assert m.inputs[0].dtype == "string"
    scores, ids, bins = m.predict(ref["texts"], verbose=0)
    np.testing.assert_allclose(scores, ref["scores"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ids, ref["ids"])
    np.testing.assert_array_equal(bins, ref["bins"])



def _tfidf_fixture():
    import os

    here = os.path.join(os.path.dirname(__file__), "fixtures", "string_model")
    return os.path.join(here, "tfidf.keras"), np.load(os.path.join(here, "tfidf.npz"))


def test_keras_saved_tf_idf_layers_load_their_idf_weights_and_save_them_where_keras_reads_them(tmp_path):
    """Keras keeps a 'tf_idf' lookup's idf weights as a named entry of the layer's vars group
    (``idf_weights``; for TextVectorization there and under ``_lookup_layer``), the vocabulary as an
    asset: both are restored (outputs equal Keras's), and written back in the same places."""
    import io
    import zipfile

    import h5py

    path, ref = _tfidf_fixture()
    m = keras.models.load_model(path)
    tv = next(layer for layer in m.layers if isinstance(layer, keras.layers.TextVectorization))
    np.testing.assert_array_equal(tv._lookup_layer.idf_weights, ref["idf"])
    scores, lookup = m.predict([ref["texts"], ref["words"]], verbose=0)
    np.testing.assert_allclose(scores, ref["scores"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lookup, ref["lookup"], rtol=1e-6)
    m.save(tmp_path / "again.keras")
    with zipfile.ZipFile(tmp_path / "again.keras") as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as h:
        found = []
        h.visit(lambda n: found.append(n) if n.endswith("idf_weights") else None)
        assert sorted(found) == ["layers/string_lookup/vars/idf_weights",
                                 "layers/text_vectorization/_lookup_layer/vars/idf_weights",
                                 "layers/text_vectorization/vars/idf_weights"]
        np.testing.assert_array_equal(h["layers/text_vectorization/vars/idf_weights"][()], ref["idf"])
    again = keras.models.load_model(tmp_path / "again.keras")
    np.testing.assert_array_equal(again.predict([ref["texts"], ref["words"]], verbose=0)[0], scores)


def _rewrite_weights(src, dst, change):
    """Copy the .keras archive ``src`` to ``dst`` with ``change(h5 file)`` applied to its weights."""
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "a") as h:
        change(h)
    members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return dst


def test_tf_idf_without_idf_weights_and_unread_entries_are_clear_errors(tmp_path):
    path, _ = _tfidf_fixture()

    def drop(h):
        for p in ("layers/string_lookup/vars/idf_weights", "layers/text_vectorization/vars/idf_weights",
                  "layers/text_vectorization/_lookup_layer/vars/idf_weights"):
            del h[p]

    with pytest.raises(ValueError, match="no idf weights"):
        keras.models.load_model(_rewrite_weights(path, str(tmp_path / "no_idf.keras"), drop))

    def extra(h):
        h["layers/dense/vars"].create_dataset("scale", data=np.ones(2, "float32"))

    with pytest.raises(Exception, match=r"entries \['scale'\] that layer 'tfidf_scores' \(Dense\) does not read"):
        keras.models.load_model(_rewrite_weights(path, str(tmp_path / "extra.keras"), extra))

    def wrong(h):
        del h["layers/string_lookup/vars/idf_weights"]
        h["layers/string_lookup/vars"].create_dataset("idf_weights", data=np.ones(3, "float32"))

    with pytest.raises(ValueError, match=r"idf weights have shape \(3,\)"):
        keras.models.load_model(_rewrite_weights(path, str(tmp_path / "wrong.keras"), wrong))


def test_sequential_on_a_string_input_adjusts_the_rank_as_keras():
    """Keras's Sequential runs as a Functional model on its Input, so a (n,) batch of strings feeds
    Input(shape=(1,)) there too (and numbers one trailing axis short of the Input's shape)."""
    tv = _vectorizer()
    keras.utils.set_random_seed(4)
    seq = keras.Sequential([keras.Input(shape=(1,), dtype="string"), tv, keras.layers.Embedding(20, 4),
                            keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    want = seq.predict(TEXTS[:, None], verbose=0)
    np.testing.assert_array_equal(seq.predict(TEXTS, verbose=0), want)
    np.testing.assert_array_equal(np.asarray(seq(TEXTS).numpy()), want)
    seq.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    first = seq.evaluate(TEXTS, LABELS, verbose=0)
    assert first == pytest.approx(seq.evaluate(TEXTS[:, None], LABELS, verbose=0))
    seq.fit(TEXTS, LABELS, epochs=3, verbose=0)
    assert seq.evaluate(TEXTS, LABELS, verbose=0)[0] < first[0]
    numeric = keras.Sequential([keras.Input(shape=(3, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    np.testing.assert_array_equal(numeric.predict(x, verbose=0), numeric.predict(x[..., None], verbose=0))
    with pytest.raises(ValueError, match="expects"):
        numeric.predict(np.ones((2, 4), "float32"), verbose=0)
    lazy = keras.Sequential([keras.layers.Dense(2)])   # no Input: built from the first data, nothing to adjust
    assert lazy.predict(np.ones((2, 3), "float32"), verbose=0).shape == (2, 2)

def test_sequential_identity_and_dataset_with_strings():
    tv = _vectorizer()
    keras.utils.set_random_seed(2)
    seq = keras.Sequential([keras.Input(shape=(1,), dtype=str), keras.layers.Identity(), tv,
                            keras.layers.Embedding(20, 4), keras.layers.GlobalAveragePooling1D(),
                            keras.layers.Dense(1)])
    assert seq.layers[0].output.dtype == "string"
    out = seq.predict(TEXTS[:, None], verbose=0)
    assert out.shape == (len(TEXTS), 1) and np.isfinite(out).all()
    m = _end_to_end(tv)
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    ds = keras.data.Dataset.from_tensor_slices((TEXTS.astype(object), LABELS)).batch(3)  # (n,) text batches
    assert m.evaluate(ds, verbose=0) == pytest.approx(m.evaluate(TEXTS[:, None], LABELS, verbose=0))
