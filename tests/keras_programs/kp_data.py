"""Data for the keras-io programs, offline: what `keras.datasets.*.load_data()` and downloads give
in the originals, replaced by the real files in ../shared/data or by small generated data.

Pure NumPy, so the same program runs under Keras (to make the reference numbers) and under zoo."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("ZOO_SHARED_DATA", "../shared/data"))  # run_program.py sets it
FAST = os.environ.get("KP_FULL", "0") != "1"



def _require(rel):
    p = SHARED / rel
    if not p.exists():
        print(f"KP_SKIP real data not available: {p}")
        raise SystemExit(77)
    return p


def _idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist(n_train=4000, n_test=1000):
    """`keras.datasets.mnist.load_data()` from the real MNIST test set (10k images): the first
    n_train as the training split, the last n_test as the test split."""
    x = _idx(_require("images/mnist/t10k-images-idx3-ubyte.gz"))
    y = _idx(_require("images/mnist/t10k-labels-idx1-ubyte.gz")).astype("uint8")
    return (x[:n_train], y[:n_train]), (x[-n_test:], y[-n_test:])


def cifar10(n_train=600, n_test=200):
    """`keras.datasets.cifar10.load_data()` from the 846 exact CIFAR-10 test images."""
    raw = np.fromfile(_require("images/cifar10/test_batch_first846_exact.bin"), dtype=np.uint8)
    raw = raw.reshape(-1, 3073)
    y = raw[:, :1].astype("uint8")
    x = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return (x[:n_train], y[:n_train]), (x[-n_test:], y[-n_test:])


def token_sequences(n=2000, vocab_size=1000, min_len=10, max_len=60, seed=0):
    """Variable-length integer sequences (like `keras.datasets.imdb.load_data()`): label 1 when the
    sequence holds more "positive" tokens (ids 2..51) than "negative" ones (ids 52..101)."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        s = rng.integers(102, vocab_size, size=length)
        k = int(rng.integers(1, 6))
        label = int(rng.integers(0, 2))
        signal = rng.integers(2, 52, size=k) if label else rng.integers(52, 102, size=k)
        pos = rng.choice(length, size=min(k, length), replace=False)
        s[pos] = signal[: len(pos)]
        seqs.append([int(t) for t in s])
        labels.append(label)
    split = n * 4 // 5
    labels = np.array(labels, dtype="int64")
    return (seqs[:split], labels[:split]), (seqs[split:], labels[split:])


def sine_classes(n=600, length=128, seed=0):
    """A univariate two-class series set (as FordA in the timeseries classification example):
    class 1 is a noisy sine of one frequency, class 0 of another."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length, dtype="float32")
    y = rng.integers(0, 2, size=n)
    freq = np.where(y == 1, 5.0, 8.0)[:, None] + rng.normal(0, 0.3, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    x = np.sin(2 * np.pi * freq * t[None] + phase) + rng.normal(0, 0.3, size=(n, length))
    x = x.astype("float32")
    split = n * 3 // 4
    return (x[:split], y[:split]), (x[split:], y[split:])


def weather(n=3000, seed=0):
    """An hourly multivariate series (as the Jena climate data): 4 features, the first a
    temperature with a daily cycle and the others correlated with it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype="float32")
    temp = 10 + 8 * np.sin(2 * np.pi * t / 24) + np.cumsum(rng.normal(0, 0.1, size=n))
    pressure = 1000 - 0.5 * temp + rng.normal(0, 0.5, size=n)
    humidity = 60 - temp + rng.normal(0, 1.0, size=n)
    wind = np.abs(rng.normal(3, 1, size=n))
    return np.stack([temp, pressure, humidity, wind], axis=1).astype("float32")


def review_polarity(root="aclImdb", n_train=150, n_test=50):
    """An `aclImdb/{train,test}/{pos,neg}` folder of `.txt` reviews (the layout of the IMDB download):
    the first reviews of each class of the Movie Review Polarity set (n_train per class for train,
    the next n_test for test), read from its tar.gz without extracting anything else."""
    import tarfile

    root = Path(root)
    taken = {"pos": 0, "neg": 0}
    with tarfile.open(_require("text/movie_review_polarity/review_polarity.tar.gz"), "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[1] not in taken or not parts[2].endswith(".txt"):
                continue
            i = taken[parts[1]]
            if i >= n_train + n_test:
                continue
            taken[parts[1]] = i + 1
            folder = root / ("train" if i < n_train else "test") / parts[1]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / parts[2]).write_bytes(tar.extractfile(member).read())
    return str(root)


def report(**values):
    """Print the program's results as one line the test reads."""
    def plain(v):
        if isinstance(v, (bool, int, str)) or v is None:
            return v
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if hasattr(v, "numpy") and not hasattr(v, "item"):
            v = v.numpy()
        if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
            return plain(v.item())
        try:
            return float(v)
        except (TypeError, ValueError):
            return v
    print("KP_RESULT " + json.dumps({k: plain(v) for k, v in values.items()}))


def pet_images(root="PetImages"):
    """A `PetImages/{Cat,Dog}` folder of JPEGs (as the Kaggle Cats vs Dogs download): the cats and
    dogs among the exact CIFAR-10 test images, plus one corrupt file per class as in the original."""
    from PIL import Image

    (x, y), _ = cifar10(n_train=846, n_test=0)
    root = Path(root)
    for label, name in ((3, "Cat"), (5, "Dog")):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(y[:, 0] == label):
            Image.fromarray(x[i]).save(folder / f"{i}.jpg", quality=95)
        (folder / "broken.jpg").write_bytes(b"not a JPEG at all")
    return str(root)


def fra_eng(path="fra.txt", n=800, seed=0):
    """A `fra.txt` as in the manythings.org download (``english<TAB>french<TAB>attribution`` lines),
    generated: short phrases of a small vocabulary and their word-by-word "translation" through a fixed
    dictionary, so a character-level seq2seq model has something to learn."""
    words = {"go": "va", "run": "cours", "i see": "je vois", "we won": "nous gagnons", "help": "aide",
             "stop": "arrete", "wait": "attends", "hello": "salut", "i try": "j essaie", "cheers": "sante",
             "get up": "leve toi", "got it": "compris", "hug me": "serre moi", "be calm": "sois calme",
             "come in": "entre", "he ran": "il courait", "no way": "pas question", "thanks": "merci"}
    keys = sorted(words)
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        k = rng.integers(1, 3)
        picked = [keys[i] for i in rng.integers(0, len(keys), k)]
        eng = " ".join(picked).capitalize() + rng.choice([".", "!"])
        fra = " ".join(words[w] for w in picked).capitalize() + rng.choice([" .", " !"])
        lines.append(f"{eng}\t{fra}\tCC-BY 2.0 (France) generated")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(Path(path).resolve())
