"""Learning on real data: MNIST test images (8,000 to train, 2,000 held out), as the README's
MLP and a small CNN. Skipped when ../shared/data is absent."""
import time

import numpy as np
import pytest

from core.layers import Dense
from core.models import Sequential
from core.utils import set_random_seed, to_categorical
from tests.shared_data import mnist_test_set


@pytest.fixture(scope="module")
def mnist():
    images, labels = mnist_test_set()
    x = images.reshape(len(images), -1).astype("float32") / 255.0
    return x[:8000], labels[:8000], x[8000:], labels[8000:]


@pytest.mark.slow  # trains on real data
def test_readme_mlp_reaches_94_percent_in_10_epochs(mnist, capsys):
    x_train, y_train, x_test, y_test = mnist
    set_random_seed(0)
    model = Sequential([Dense(64, activation="relu", input_shape=(784,)), Dense(64, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    history = model.fit(x_train, to_categorical(y_train, 10), epochs=10, batch_size=32, verbose=2)
    seconds = time.perf_counter() - t0
    loss, accuracy = model.evaluate(x_test, to_categorical(y_test, 10), verbose=0)
    with capsys.disabled():
        print(f"\nMNIST MLP: held-out accuracy {accuracy:.4f}, loss {loss:.4f}, fit {seconds:.1f}s")
    assert len(history.history["loss"]) == 10
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert accuracy >= 0.94


@pytest.mark.slow  # trains on real data
def test_small_cnn_reaches_98_percent(mnist, capsys):
    from core.layers.convolutional import Conv2D
    from core.layers.pooling import MaxPooling2D
    from core.layers import Flatten

    x_train, y_train, x_test, y_test = mnist
    set_random_seed(0)
    model = Sequential([Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)), MaxPooling2D(2),
                        Conv2D(64, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_train.reshape(-1, 28, 28, 1), y_train, epochs=10, batch_size=64, verbose=2)
    seconds = time.perf_counter() - t0
    loss, accuracy = model.evaluate(x_test.reshape(-1, 28, 28, 1), y_test, verbose=0)
    with capsys.disabled():
        print(f"\nMNIST CNN: held-out accuracy {accuracy:.4f}, loss {loss:.4f}, fit {seconds:.1f}s")
    assert accuracy >= 0.98
