"""core.utils data utilities against Keras 3.15.1 (tests/fixtures/data_utils.*, made by
make_data_utils_fixtures.py on the folders of fixtures/data_tree.py), their Datasets in fit,
untrusted folders and archives, get_file against a local HTTP server, PyDataset and Progbar."""
import io
import json
import os
import tarfile
import threading
import zipfile
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler

import numpy as np
import pytest
from PIL import Image

from core import layers, models
from core import utils as U
from core.data import Dataset
from core.utils import sequence_utils
from fixtures.data_tree import build_audio_tree, build_image_tree, build_text_tree

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "data_utils")
with open(FIX + ".json", encoding="utf-8") as _f:
    META = json.load(_f)
with np.load(FIX + ".npz") as _z:
    REF = {k: _z[k] for k in _z.files}


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    return build_image_tree(str(tmp_path_factory.mktemp("data") / "images"))


@pytest.fixture(scope="module")
def text_root(tmp_path_factory):
    return build_text_tree(str(tmp_path_factory.mktemp("data") / "texts"))


def _rel(paths, root):
    return [os.path.relpath(p, root) for p in paths]


# ----------------------------------------------------------------------------- pad_sequences
@pytest.mark.parametrize("i", range(7))
def test_pad_sequences_matches_keras(i):
    kw = META["pad_cases"][i]
    out = U.pad_sequences(META["pad_seqs"], **kw)
    ref = REF[f"pad/{i}"]
    assert out.dtype == ref.dtype and out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)


def test_pad_sequences_multidim_matches_keras():
    out = U.pad_sequences([np.ones((2, 3)), np.arange(12).reshape(4, 3)], maxlen=3, dtype="float32", padding="post")
    np.testing.assert_array_equal(out, REF["pad/2d"])


def test_pad_sequences_vectorised_path_equals_the_reference_loop():
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 100, rng.integers(0, 12))) for _ in range(200)]
    for maxlen in (None, 1, 5, 30):
        for padding in ("pre", "post"):
            for truncating in ("pre", "post"):
                lengths = np.array([len(s) for s in seqs])
                ml = int(lengths.max()) if maxlen is None else maxlen
                ref = sequence_utils._pad_reference(seqs, lengths, ml, (), "int32", padding, truncating, -7)
                out = U.pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=-7)
                np.testing.assert_array_equal(out, ref)


def test_pad_sequences_errors_and_strings():
    with pytest.raises(ValueError, match="position 1"):
        U.pad_sequences([[1], 3])
    with pytest.raises(ValueError, match='padding must be "pre" or "post"'):
        U.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="string padding value"):
        U.pad_sequences([["a"]], value="x")
    out = U.pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert out.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert U.pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)


# ----------------------------------------------------------------------------- timeseries
def _ts(i, **extra):
    kw = dict(META["ts_cases"][i])
    t = kw.pop("targets", None)
    targets = None if t is None else (np.arange(40) * 10 if t is True else np.arange(20) * 10)
    data = np.arange(80, dtype="float32").reshape(40, 2)
    kw.update(extra)
    return U.timeseries_dataset_from_array(data, targets, **kw), targets is not None


@pytest.mark.parametrize("i", range(5))
def test_timeseries_windows_match_keras(i):
    ds, has_targets = _ts(i)
    batches = list(ds)
    xs = [b[0] if has_targets else b for b in batches]
    np.testing.assert_array_equal(np.concatenate(xs), REF[f"ts/{i}/x"])
    assert [len(x) for x in xs] == REF[f"ts/{i}/batch_sizes"].tolist() and len(ds) == len(xs)
    if has_targets:
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), REF[f"ts/{i}/y"])


def test_timeseries_shuffle_is_seeded_and_reshuffles_each_epoch():
    ds, _ = _ts(2, shuffle=True, seed=11)
    epoch1 = np.concatenate([b[1] for b in ds])
    epoch2 = np.concatenate([b[1] for b in ds])
    ref = REF["ts/2/y"]
    assert sorted(epoch1.tolist()) == sorted(ref.tolist()) == sorted(epoch2.tolist())
    assert epoch1.tolist() != epoch2.tolist() and epoch1.tolist() != ref.tolist()
    again, _ = _ts(2, shuffle=True, seed=11)
    assert np.concatenate([b[1] for b in again]).tolist() == epoch1.tolist()
    x, y = next(iter(ds))  # each window still goes with its own target
    np.testing.assert_array_equal(x[:, 0, 0] * 5, y)


def test_timeseries_argument_errors():
    with pytest.raises(ValueError, match="start_index"):
        U.timeseries_dataset_from_array(np.zeros(10), None, 3, start_index=10)
    with pytest.raises(ValueError, match="sequence_stride"):
        U.timeseries_dataset_from_array(np.zeros(10), None, 3, sequence_stride=0)
    with pytest.raises(ValueError, match="sampling_rate"):
        U.timeseries_dataset_from_array(np.zeros(10), None, 3, sampling_rate=10)


# ----------------------------------------------------------------------------- images
@pytest.mark.parametrize("case", [c["name"] for c in META["image_cases"]])
def test_image_dataset_matches_keras(image_root, case):
    kwargs = next(c["kwargs"] for c in META["image_cases"] if c["name"] == case)
    kwargs = {k: tuple(v) if k == "image_size" else v for k, v in kwargs.items()}
    ds = U.image_dataset_from_directory(image_root, shuffle=False, batch_size=5, verbose=False, **kwargs)
    xs, ys = zip(*list(ds))
    x, y = np.concatenate(xs), np.concatenate(ys)
    ref_x, ref_y = REF[f"img/{case}/x"], REF[f"img/{case}/y"]
    assert x.dtype == np.float32 and x.shape == ref_x.shape and y.dtype == ref_y.dtype
    np.testing.assert_allclose(x, ref_x, rtol=1e-5, atol=2e-4)
    np.testing.assert_array_equal(y, ref_y)
    assert ds.class_names == META[f"img/{case}/class_names"]
    assert _rel(ds.file_paths, image_root) == META[f"img/{case}/file_paths"]


def test_image_dataset_shuffle_order_and_split_match_keras(image_root):
    ds = U.image_dataset_from_directory(image_root, image_size=(3, 3), seed=42, verbose=False)
    assert _rel(ds.file_paths, image_root) == META["img/shuffled_paths"]
    tr, va = U.image_dataset_from_directory(image_root, image_size=(3, 3), seed=7, validation_split=0.25,
                                            subset="both", verbose=False)
    assert _rel(tr.file_paths, image_root) == META["img/split_train_paths"]
    assert _rel(va.file_paths, image_root) == META["img/split_val_paths"]
    assert [int(v) for _, y in va for v in y] == META["img/split_val_labels"]  # validation: not shuffled
    only_val = U.image_dataset_from_directory(image_root, image_size=(3, 3), seed=7, validation_split=0.25,
                                              subset="validation", verbose=False)
    assert only_val.file_paths == va.file_paths and tr.class_names == ["ants", "bees", "cats"]


def test_image_dataset_reshuffles_each_epoch_with_labels_following(image_root):
    ds = U.image_dataset_from_directory(image_root, image_size=(4, 4), batch_size=3, seed=1, verbose=False,
                                        interpolation="nearest")
    plain = U.image_dataset_from_directory(image_root, image_size=(4, 4), batch_size=None, shuffle=False,
                                           verbose=False, interpolation="nearest")
    by_image = {x.tobytes(): int(y) for x, y in plain}
    e1 = [(x.tobytes(), int(y)) for xb, yb in ds for x, y in zip(xb, yb)]
    e2 = [(x.tobytes(), int(y)) for xb, yb in ds for x, y in zip(xb, yb)]
    assert sorted(e1) == sorted(e2) == sorted(by_image.items()) and e1 != e2
    assert all(by_image[x] == y for x, y in e1)


def test_image_dataset_labels_list_none_and_errors(image_root):
    n = len(META["img/shuffled_paths"]) + 1  # without inferred labels the hidden folder counts too (as Keras)
    ds = U.image_dataset_from_directory(image_root, labels=list(range(n)), image_size=(2, 2), shuffle=False,
                                        batch_size=n, verbose=False)
    x, y = next(iter(ds))
    assert y.tolist() == list(range(n)) and ds.class_names == [str(i) for i in range(n)]
    only_x = U.image_dataset_from_directory(image_root, labels=None, image_size=(2, 2), batch_size=4, verbose=False)
    assert next(iter(only_x)).shape == (4, 2, 2, 3) and only_x.class_names is None
    with pytest.raises(ValueError, match="must provide a `seed`"):
        U.image_dataset_from_directory(image_root, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="exactly 2 class_names"):
        U.image_dataset_from_directory(image_root, label_mode="binary")
    with pytest.raises(ValueError, match="lengths of `labels`"):
        U.image_dataset_from_directory(image_root, labels=[0, 1], verbose=False)
    with pytest.raises(ValueError, match="did not match"):
        U.image_dataset_from_directory(image_root, class_names=["ants", "wasps"])
    with pytest.raises(NotImplementedError, match="lanczos3"):
        U.image_dataset_from_directory(image_root, interpolation="lanczos3")
    with pytest.raises(ValueError, match="does not exist"):
        U.image_dataset_from_directory(os.path.join(image_root, "nope"))
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        U.image_dataset_from_directory(image_root, labels=[5, 7] * 6 + [5], label_mode="categorical", verbose=False)


def test_image_dataset_untrusted_folder(tmp_path):
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(root / "a" / "ok.png")
    Image.fromarray(np.full((4, 4, 3), 9, np.uint8)).save(root / "b" / "ok.png")
    outside = tmp_path / "secret.png"
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(outside)
    os.symlink(outside, root / "a" / "link.png")
    os.symlink(tmp_path, root / "b" / "loop")  # a folder link that leads back above the tree
    os.mkfifo(root / "a" / "fifo.png")
    ds = U.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False, verbose=False)
    assert _rel(ds.file_paths, root) == ["a/ok.png", "b/ok.png"]  # no link, no fifo
    followed = U.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False, follow_links=True,
                                              verbose=False)
    assert "a/link.png" in _rel(followed.file_paths, root)  # each real folder visited once: it ends
    (root / "a" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    ds = U.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False, verbose=False)
    with pytest.raises(ValueError, match="bad.png"):
        list(ds)


def test_image_dataset_goes_to_fit_evaluate_predict(image_root):
    tr, va = U.image_dataset_from_directory(image_root, image_size=(8, 8), batch_size=4, seed=3,
                                            validation_split=0.25, subset="both", verbose=False)
    U.set_random_seed(0)
    model = models.Sequential([layers.Input((8, 8, 3)), layers.Rescaling(1 / 255.0), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(tr.cache().prefetch(2), validation_data=va, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["val_loss"]).all()
    assert len(model.evaluate(va, verbose=0)) == 2
    assert model.predict(va.map(lambda x, y: x), verbose=0).shape == (len(va.file_paths), 3)


def test_channels_first_and_crop(image_root):
    a = U.image_dataset_from_directory(image_root, image_size=(6, 4), crop_to_aspect_ratio=True, shuffle=False,
                                       batch_size=None, verbose=False, data_format="channels_first")
    x, _ = next(iter(a))
    assert x.shape == (3, 6, 4)
    np.testing.assert_allclose(x.transpose(1, 2, 0), REF["img/crop/x"][0], atol=2e-4)


# ----------------------------------------------------------------------------- texts
def test_text_dataset_matches_keras(text_root):
    ds = U.text_dataset_from_directory(text_root, shuffle=False, batch_size=3, verbose=False)
    texts = [t for x, _ in ds for t in x]
    labels = [int(v) for _, y in ds for v in y]
    assert texts == META["txt/texts"] and labels == META["txt/labels"] and ds.class_names == ["neg", "pos"]
    cut = U.text_dataset_from_directory(text_root, shuffle=False, max_length=9, label_mode=None, verbose=False)
    assert [t for x in cut for t in x] == META["txt/truncated"]
    from core.utils.dataset_utils import index_directory

    paths, labs, _ = index_directory(text_root, "inferred", formats=(".txt",), seed=3, verbose=False)
    assert _rel(paths, text_root) == META["txt/shuffled_paths"] and labs.tolist() == META["txt/shuffled_labels"]


def test_text_dataset_unbatch_take_map_and_bad_utf8(text_root, tmp_path):
    ds = U.text_dataset_from_directory(text_root, batch_size=4, seed=0, verbose=False, label_mode="categorical")
    samples = list(ds.unbatch())
    assert len(samples) == 9 and samples[0][1].shape == (2,) and isinstance(samples[0][0], str)
    assert len(list(ds.take(1))) == 1 and len(ds.take(1)) == 1
    only_text = ds.map(lambda x, y: x)
    assert sorted(t for b in only_text for t in b) == sorted(META["txt/texts"])
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(ValueError, match="x.txt"):
        list(U.text_dataset_from_directory(tmp_path, verbose=False))


# ----------------------------------------------------------------------------- audio
@pytest.fixture(scope="module")
def audio_root(tmp_path_factory):
    return build_audio_tree(str(tmp_path_factory.mktemp("data") / "audio"))


def test_audio_dataset_matches_keras(audio_root):
    ds = U.audio_dataset_from_directory(audio_root, shuffle=False, batch_size=3, verbose=False)
    batches = list(ds)
    assert len(batches) == len([k for k in REF if k.startswith("audio/padded/") and k.endswith("/x")])
    for i, (x, y) in enumerate(batches):  # each batch padded to its longest clip
        np.testing.assert_array_equal(x, REF[f"audio/padded/{i}/x"])
        np.testing.assert_array_equal(y, REF[f"audio/padded/{i}/y"])
    fixed = U.audio_dataset_from_directory(audio_root, shuffle=False, batch_size=4, output_sequence_length=40,
                                           label_mode="categorical", verbose=False)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in fixed]), REF["audio/fixed/x"])
    np.testing.assert_array_equal(np.concatenate([y for _, y in fixed]), REF["audio/fixed/y"])
    assert fixed.class_names == META["audio/class_names"]
    single = list(U.audio_dataset_from_directory(audio_root, shuffle=False, batch_size=None, verbose=False))
    assert [len(x) for x, _ in single] == [37, 50, 12, 44, 44, 9, 61] and single[0][0].shape == (37, 1)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_decode_wav_sample_widths_and_channels(tmp_path, width):
    import wave

    from core.utils.audio_dataset_utils import decode_wav_file

    bits = 8 * width
    rng = np.random.default_rng(width)
    ints = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (6, 2), dtype=np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints.reshape(-1))
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(width)
        w.setframerate(8000)
        w.writeframes(raw)
    audio = decode_wav_file(tmp_path / "s.wav")
    assert audio.shape == (6, 2) and audio.dtype == np.float32
    np.testing.assert_allclose(audio, ints / float(1 << (bits - 1)), rtol=1e-6)
    assert decode_wav_file(tmp_path / "s.wav", 9).shape == (9, 2) and decode_wav_file(tmp_path / "s.wav", 4).shape == (4, 2)


def test_audio_dataset_errors_and_untrusted_files(audio_root, tmp_path):
    with pytest.raises(NotImplementedError, match="sampling_rate"):
        U.audio_dataset_from_directory(audio_root, sampling_rate=16000)
    with pytest.raises(NotImplementedError, match="ragged"):
        U.audio_dataset_from_directory(audio_root, ragged=True)
    with pytest.raises(ValueError, match="Cannot set both"):
        U.audio_dataset_from_directory(audio_root, ragged=True, output_sequence_length=3)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.wav").write_bytes(b"RIFF\xff\xff\xff\x7fWAVEjunk")  # a header claiming 2 GB
    with pytest.raises(ValueError, match="x.wav"):
        list(U.audio_dataset_from_directory(tmp_path, verbose=False))


# ----------------------------------------------------------------------------- split / normalize
def test_split_dataset_matches_keras():
    x, y = np.arange(30, dtype="float32").reshape(10, 3), np.arange(10)
    left, right = U.split_dataset((x, y), left_size=0.7, shuffle=True, seed=5)
    np.testing.assert_array_equal(np.stack([a for a, _ in left]), REF["split/left_x"])
    assert [int(b) for _, b in right] == REF["split/right_y"].tolist()
    left, right = U.split_dataset(x, left_size=3, right_size=4)
    np.testing.assert_array_equal(np.stack(list(left)), REF["split/int_left"])
    np.testing.assert_array_equal(np.stack(list(right)), REF["split/int_right"])
    batched_left, _ = U.split_dataset(Dataset.from_tensor_slices((x, y)).batch(4), left_size=0.5)
    assert [len(b[1]) for b in batched_left] == [4, 1]
    with pytest.raises(ValueError, match="At least one"):
        U.split_dataset(x)
    with pytest.raises(ValueError, match="left_size"):
        U.split_dataset(x, left_size=1.5)


def test_normalize_matches_keras():
    np.testing.assert_allclose(U.normalize(REF["normalize/x"]), REF["normalize/l2"], rtol=1e-6)
    np.testing.assert_allclose(U.normalize(REF["normalize/x"], axis=1, order=1), REF["normalize/l1_axis1"],
                               rtol=1e-6)
    np.testing.assert_allclose(np.abs(U.normalize(REF["normalize/x"], axis=0, order=1)).sum(0), 1.0, rtol=1e-6)


# ----------------------------------------------------------------------------- Dataset methods
def test_dataset_gathered_batches_equal_the_element_pipeline():
    x, y = np.arange(46, dtype="float32").reshape(23, 2), np.arange(23)
    fast = Dataset.from_tensor_slices((x, y)).shuffle(100, seed=4).batch(5)
    slow = Dataset.from_generator(lambda: iter(Dataset.from_tensor_slices((x, y)).shuffle(100, seed=4))).batch(5)
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert len(fast) == 5 and len(list(Dataset.from_tensor_slices(x).batch(5, drop_remainder=True))) == 4
    same = Dataset.from_tensor_slices(y).shuffle(30, seed=1, reshuffle_each_iteration=False)
    assert list(same) == list(same) and sorted(int(v) for v in same) == list(range(23))
    for buffer in (5, 30):  # a seeded shuffle: a new order each epoch, the same sequence of orders each run
        a = Dataset.from_tensor_slices(y).shuffle(buffer, seed=2)
        b = Dataset.from_tensor_slices(y).shuffle(buffer, seed=2)
        ea, eb = [list(map(int, a)) for _ in range(2)], [list(map(int, b)) for _ in range(2)]
        assert ea == eb and ea[0] != ea[1]
        fixed = Dataset.from_tensor_slices(y).shuffle(buffer, seed=2, reshuffle_each_iteration=False)
        assert list(map(int, fixed)) == list(map(int, fixed))


def test_dataset_unbatch_cache_skip_filter():
    calls = []

    def gen():
        calls.append(1)
        yield from range(7)

    ds = Dataset.from_generator(gen).cache()
    assert list(ds) == list(range(7)) and list(ds) == list(range(7)) and len(calls) == 1
    b = Dataset.from_tensor_slices(np.arange(7)).batch(3)
    assert [int(v) for v in b.unbatch()] == list(range(7)) and len(b.unbatch()) == 7
    assert [int(v) for v in Dataset.from_tensor_slices(np.arange(7)).skip(5)] == [5, 6]
    evens = Dataset.from_tensor_slices(np.arange(7)).filter(lambda v: v % 2 == 0)
    assert [int(v) for v in evens] == [0, 2, 4, 6]
    with pytest.raises(TypeError, match="unknown"):
        len(evens)
    assert len(list(Dataset.from_tensor_slices(np.arange(7)).take(-1))) == 7
    with pytest.raises(NotImplementedError, match="on-disk"):
        ds.cache("file")


def test_filtered_dataset_of_unknown_length_goes_to_fit():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
    y = (x.sum(1) > 0).astype("float32")[:, None]
    ds = Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True).batch(8)
    model = models.Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    assert len(model.fit(ds, epochs=2, verbose=0).history["loss"]) == 2


# ----------------------------------------------------------------------------- PyDataset
class _Squares(U.PyDataset):
    def __init__(self, n, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = np.arange(n, dtype="float32")[:, None]
        self.batch_size = batch_size
        self.epochs_ended = 0
        self.epochs_begun = 0

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[sl], self.x[sl] ** 2

    def on_epoch_begin(self):
        self.epochs_begun += 1

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_py_dataset_in_fit_calls_epoch_hooks_and_workers_give_the_same_batches():
    data = _Squares(10, 3)
    model = models.Sequential([layers.Input((1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, epochs=3, verbose=0)
    assert data.epochs_ended == 3 and data.epochs_begun == 3
    threaded = _Squares(10, 3, workers=3, max_queue_size=2)
    assert [b[1].tolist() for b in threaded] == [b[1].tolist() for b in data]
    assert U.Sequence is U.PyDataset
    assert model.predict(_Squares(10, 3, workers=2), verbose=0).shape == (10, 1)

    class Broken(U.PyDataset):
        def __init__(self):  # no super().__init__()
            pass

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return (1, 2, 3, 4)

    with pytest.warns(UserWarning, match="super"):
        with pytest.raises(ValueError, match="tuple of 4"):
            model.fit(Broken(), verbose=0)


# ----------------------------------------------------------------------------- images in and out
def test_load_img_img_to_array_array_to_img_save_img_round_trip(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3)).astype("float32")
    path = tmp_path / "x.png"
    U.save_img(path, arr, scale=False)
    img = U.load_img(path)
    assert img.size == (7, 5) and img.mode == "RGB"
    np.testing.assert_array_equal(U.img_to_array(img), arr)
    assert U.img_to_array(img, data_format="channels_first").shape == (3, 5, 7)
    assert U.img_to_array(U.load_img(path, color_mode="grayscale")).shape == (5, 7, 1)
    assert U.load_img(path, target_size=(3, 4)).size == (4, 3)
    assert U.load_img(io.BytesIO(path.read_bytes()), target_size=(3, 3), keep_aspect_ratio=True).size == (3, 3)
    scaled = U.img_to_array(U.array_to_img(arr))
    assert scaled.min() == 0 and scaled.max() == 255
    with pytest.raises(ValueError, match="rank 3"):
        U.array_to_img(np.zeros((2, 2)))
    from core.preprocessing import image as pimage

    np.testing.assert_allclose(pimage.smart_resize(arr, (5, 7)), arr)


def test_namespaces():
    import core.preprocessing as P

    for name in ("pad_sequences", "image_dataset_from_directory", "text_dataset_from_directory",
                 "timeseries_dataset_from_array", "load_img", "img_to_array", "array_to_img", "save_img",
                 "PyDataset", "Sequence", "split_dataset", "normalize", "get_file", "Progbar", "to_categorical",
                 "set_random_seed", "clear_session", "pack_x_y_sample_weight", "unpack_x_y_sample_weight",
                 "audio_dataset_from_directory", "Config", "standardize_dtype", "is_keras_tensor",
                 "get_source_inputs", "enable_interactive_logging", "disable_interactive_logging",
                 "is_interactive_logging_enabled"):
        assert callable(getattr(U, name)), name
    assert P.sequence.pad_sequences is U.pad_sequences and P.image.load_img is U.load_img
    assert P.image_dataset_from_directory is U.image_dataset_from_directory
    assert P.text.text_dataset_from_directory is U.text_dataset_from_directory
    assert U.unpack_x_y_sample_weight((1, 2)) == (1, 2, None) and U.pack_x_y_sample_weight([1]) == ([1],)


def test_keras_tensor_helpers_dtype_names_and_interactive_logging(capsys, image_root):
    a, b = layers.Input((3,), name="a"), layers.Input((2,), name="b")
    h = layers.Dense(4)(a)
    out = layers.Concatenate()([h, layers.Dense(4)(b), h])
    assert U.is_keras_tensor(out) and not U.is_keras_tensor(np.zeros(2))
    src = U.get_source_inputs(out)
    assert len(src) == 2 and src[0] is a and src[1] is b and U.get_source_inputs(a) == [a]
    assert U.standardize_dtype(None) == "float32" and U.standardize_dtype(np.float64) == "float64"
    assert U.standardize_dtype("int8") == "int8" and U.standardize_dtype(int) == "int64"
    assert U.standardize_dtype(np.dtype("bool")) == "bool" and U.standardize_dtype(float) == "float32"
    with pytest.raises(ValueError, match="Invalid dtype"):
        U.standardize_dtype("float128x")
    capsys.readouterr()
    U.image_dataset_from_directory(image_root, image_size=(2, 2), shuffle=False)
    assert "Found 12 files belonging to 3 classes." in capsys.readouterr().out
    U.disable_interactive_logging()
    try:
        assert not U.is_interactive_logging_enabled()
        U.image_dataset_from_directory(image_root, image_size=(2, 2), shuffle=False)
        bar = U.Progbar(2)
        bar.update(2, [("loss", 1.0)])
        assert capsys.readouterr().out == ""
    finally:
        U.enable_interactive_logging()
    assert U.is_interactive_logging_enabled()


def test_config():
    c = U.Config(learning_rate=0.1, layers=3)
    c.epochs = 5
    assert c.learning_rate == 0.1 and c["epochs"] == 5 and list(c) == ["epochs", "layers", "learning_rate"]
    assert c.as_dict() == {"learning_rate": 0.1, "layers": 3, "epochs": 5} and "layers" in c and len(c) == 3
    with pytest.raises(AttributeError, match="Did you mean 'layers'"):
        c.layer
    c.freeze()
    with pytest.raises(ValueError, match="frozen"):
        c.epochs = 6
    with pytest.raises(ValueError, match="frozen"):
        c["x"] = 1
    c.unfreeze()
    c.update(epochs=7)
    assert json.loads(c.to_json())["epochs"] == 7 and c.frozen is False


# ----------------------------------------------------------------------------- Progbar
def test_progbar_averages_values_and_prints_lines():
    out = io.StringIO()
    bar = U.Progbar(4, verbose=1, interval=0.0, stateful_metrics=["acc"], stream=out)
    bar.update(1, [("loss", 1.0), ("acc", 0.5)])
    bar.update(3, [("loss", 3.0), ("acc", 0.7)])
    assert "loss: 2.3333" in out.getvalue().splitlines()[-1]  # (1 * 1 step + 3 * 2 steps) / 3 steps
    assert "acc: 0.7000" in out.getvalue()
    bar.add(1, [("loss", 9.0)])
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("4/4") and "loss: 9.0000" in last  # the final update shows its value
    quiet = io.StringIO()
    two = U.Progbar(2, verbose=2, stream=quiet)
    two.update(1, [("loss", 1.0)])
    assert quiet.getvalue() == ""
    two.update(2, [("loss", 2.0)])
    assert quiet.getvalue().count("\n") == 1 and quiet.getvalue().startswith("2/2")
    with pytest.raises(ValueError, match="verbose"):
        U.Progbar(3, verbose=5)


# ----------------------------------------------------------------------------- get_file
@pytest.fixture()
def http_root(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    hits = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            return super().do_GET()

    server = HTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def _sha256(path):
    import hashlib

    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.slow
def test_get_file_downloads_verifies_and_caches(http_root, tmp_path):
    root, url, hits = http_root
    (root / "data.bin").write_bytes(os.urandom(200_000))
    digest = _sha256(root / "data.bin")
    cache = tmp_path / "cache"
    path = U.get_file("data.bin", f"{url}/data.bin", file_hash=digest, cache_dir=str(cache))
    assert path == str(cache / "datasets" / "data.bin") and _sha256(path) == digest
    assert U.get_file(origin=f"{url}/data.bin", file_hash=digest, cache_dir=str(cache)) == path
    assert len(hits) == 1  # cached
    with pytest.raises(ValueError, match="hash"):
        U.get_file("other.bin", f"{url}/data.bin", file_hash="0" * 64, cache_dir=str(cache))
    assert sorted(os.listdir(cache / "datasets")) == ["data.bin"]  # nothing kept, no .part left
    with pytest.raises(OSError, match="404"):
        U.get_file("missing.bin", f"{url}/missing.bin", cache_dir=str(cache))
    with pytest.raises(ValueError, match="Paths are no longer accepted"):
        U.get_file("../x", f"{url}/data.bin", cache_dir=str(cache))


@pytest.mark.slow
def test_get_file_extracts_archives_and_refuses_escapes(http_root, tmp_path):
    root, url, _ = http_root
    with tarfile.open(root / "good.tar.gz", "w:gz") as tar:
        for name, data in (("pkg/a.txt", b"alpha"), ("pkg/sub/b.txt", b"beta")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    cache = tmp_path / "cache"
    out = U.get_file("good.tar.gz", f"{url}/good.tar.gz", extract=True, cache_dir=str(cache))
    assert out == str(cache / "datasets" / "good_extracted")
    assert open(os.path.join(out, "pkg", "sub", "b.txt"), "rb").read() == b"beta"
    with zipfile.ZipFile(root / "z.zip", "w") as zf:
        zf.writestr("inner/c.txt", "gamma")
    out = U.get_file("z.zip", f"{url}/z.zip", extract=True, cache_dir=str(cache))
    assert open(os.path.join(out, "inner", "c.txt")).read() == "gamma"

    with tarfile.open(root / "evil.tar", "w") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ValueError, match="outside"):
        U.get_file("evil.tar", f"{url}/evil.tar", extract=True, cache_dir=str(cache))
    assert not (tmp_path / "escaped.txt").exists() and not (cache / "escaped.txt").exists()
    with tarfile.open(root / "link.tar", "w") as tar:
        info = tarfile.TarInfo("pkg/passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="link"):
        U.get_file("link.tar", f"{url}/link.tar", extract=True, cache_dir=str(cache))
    with zipfile.ZipFile(root / "evil.zip", "w") as zf:
        zf.writestr("/abs.txt", "x")
    with pytest.raises(ValueError, match="absolute"):
        U.get_file("evil.zip", f"{url}/evil.zip", extract=True, cache_dir=str(cache))
    left = os.listdir(cache / "datasets")
    assert not any(name.endswith(".extracting") for name in left), left
