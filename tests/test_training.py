"""The training loop: compile/fit/evaluate/predict, data sources, freezing, callbacks in fit,
errors before any step, reproducibility, subclassed models and user layers."""
import numpy as np
import pytest

from core import layers as L
from core.callbacks import Callback, EarlyStopping
from core.data import Dataset
from core.models import Model, Sequential
from core.optimizers import Adam
from core.utils import set_random_seed


def blobs(n=200, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, d)) * 3
    y = rng.integers(0, classes, n)
    x = (centers[y] + rng.standard_normal((n, d))).astype("float32")
    return x, y


def mlp(d=6, classes=3):
    return Sequential([L.Dense(16, activation="relu", input_shape=(d,)), L.Dense(classes, activation="softmax")])


def test_fit_learns_and_history_records_every_epoch():
    set_random_seed(1)
    x, y = blobs()
    m = mlp()
    m.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=8, batch_size=16, verbose=0, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(h.history["loss"]) == 8 and h.epoch == list(range(8))
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.history["val_accuracy"][-1] > 0.9
    loss, acc = m.evaluate(x, y, verbose=0)
    assert acc > 0.9
    d = m.evaluate(x, y, verbose=0, return_dict=True)
    assert set(d) == {"loss", "accuracy"}


def test_evaluate_loss_equals_mean_of_per_sample_losses():
    set_random_seed(2)
    x, y = blobs(n=50)
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    pred = m.predict(x, verbose=0)
    expected = -np.log(pred[np.arange(50), y]).mean()
    assert abs(m.evaluate(x, y, batch_size=7, verbose=0) - expected) < 1e-5


def test_same_seed_same_training():
    x, y = blobs()

    def run():
        set_random_seed(123)
        m = Sequential([L.Dense(8, activation="relu", input_shape=(6,)), L.Dropout(0.3),
                        L.Dense(3, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(x, y, epochs=2, batch_size=16, verbose=0)
        return m.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_generator_and_dataset_inputs():
    set_random_seed(3)
    x, y = blobs()
    m = mlp()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ds = Dataset.from_tensor_slices((x, y)).shuffle(200).batch(32).prefetch(2)
    h = m.fit(ds, epochs=3, verbose=0, validation_data=Dataset.from_tensor_slices((x, y)).batch(50))
    assert len(h.history["loss"]) == 3 and "val_accuracy" in h.history

    def gen():
        while True:
            for i in range(0, 200, 25):
                yield x[i:i + 25], y[i:i + 25]

    h = m.fit(gen(), steps_per_epoch=8, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    assert m.predict(Dataset.from_tensor_slices(x).batch(64), verbose=0).shape == (200, 3)


def test_one_shot_generator_without_steps_ends_the_epoch():
    x, y = blobs(n=40)
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    h = m.fit(((x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)), epochs=1, verbose=0)
    assert len(h.history["loss"]) == 1


def test_sample_and_class_weights_change_the_loss():
    x, y = blobs(n=60)
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    base = m.evaluate(x, y, verbose=0)
    sw = np.where(y == 0, 0.0, 1.0).astype("float32")
    weighted = m.evaluate(x, y, sample_weight=sw, verbose=0)
    pred = m.predict(x, verbose=0)
    per = -np.log(pred[np.arange(60), y])
    assert abs(weighted - (per * sw).sum() / 60) < 1e-5 and abs(base - per.mean()) < 1e-5
    m.fit(x, y, class_weight={0: 1.0, 1: 2.0, 2: 0.5}, epochs=1, verbose=0)
    # Keras: a class the dict does not name weighs 1.0; class_weight with sample_weight is an error
    from core.models.data_adapter import class_weight_to_sample_weight

    np.testing.assert_array_equal(class_weight_to_sample_weight(np.array([0, 1, 2, 1]), {1: 3.0}), [1, 3, 1, 3])
    np.testing.assert_array_equal(class_weight_to_sample_weight(np.eye(3)[[2, 0]], {2: 0.5}), [0.5, 1])
    with pytest.raises(ValueError, match="class_weight` and `sample_weight` at the same time"):
        m.fit(x, y, class_weight={0: 1.0}, sample_weight=sw, epochs=1, verbose=0)


def test_initial_epoch_and_steps_per_epoch():
    x, y = blobs()
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = []

    class Count(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

        def on_train_batch_end(self, batch, logs=None):
            seen.append(("b", batch))

    m.fit(x, y, epochs=3, initial_epoch=1, steps_per_epoch=2, batch_size=10, verbose=0, callbacks=[Count()])
    assert seen == [1, ("b", 0), ("b", 1), 2, ("b", 0), ("b", 1)]


def test_early_stopping_restores_best_weights_in_fit():
    set_random_seed(4)
    x, y = blobs()
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    snaps = []

    class FakeVal(Callback):  # runs before EarlyStopping: fixes val_loss and records weights
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(losses)
            snaps.append(self.model.get_weights())

    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = m.fit(x, y, epochs=6, verbose=0, callbacks=[FakeVal(), es])
    assert len(h.history["loss"]) == 4  # stopped after two epochs without improvement
    for a, b in zip(m.get_weights(), snaps[1]):
        np.testing.assert_array_equal(a, b)


def test_learning_rate_is_readable_and_settable():
    m = mlp()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert abs(m.optimizer.learning_rate - 0.001) < 1e-9
    m.optimizer.learning_rate = 0.05
    assert abs(m.optimizer.learning_rate - 0.05) < 1e-9


def test_frozen_layer_weights_and_bn_statistics_unchanged_after_fit():
    set_random_seed(5)
    x = np.random.default_rng(0).standard_normal((64, 8, 8, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 2, 64)
    m = Sequential([L.Conv2D(4, 3, input_shape=(8, 8, 3)), L.BatchNormalization(), L.ReLU(),
                    L.GlobalAveragePooling2D(), L.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=1, verbose=0)
    m.freeze(until=m.layers[3].name)  # conv and BN frozen, the head trains
    before = [w.numpy().copy() for w in m.layers[0].weights + m.layers[1].weights]
    head_before = m.layers[4].get_weights()
    m.fit(x, y, epochs=2, verbose=0)  # no recompile needed
    after = [w.numpy() for w in m.layers[0].weights + m.layers[1].weights]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)  # includes moving_mean / moving_variance
    assert any(not np.array_equal(a, b) for a, b in zip(head_before, m.layers[4].get_weights()))
    assert len(m.trainable_weights) == 2
    m.unfreeze()
    assert len(m.trainable_weights) == 6


def test_trainable_false_on_whole_model_and_back():
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = blobs(n=20)
    m.trainable = False
    w = m.get_weights()
    m.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(w, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert m.trainable_weights == [] and len(m.non_trainable_weights) == 4


def test_errors_before_any_training_step():
    x, y = blobs()
    m = mlp()
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(x, y)
    with pytest.raises(ValueError, match="unknown optimizer|Unknown optimizer|optimizer"):
        m.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="categorical_crosentropy"):
        m.compile(optimizer="adam", loss="categorical_crosentropy")
    with pytest.raises(ValueError, match="acuracy"):
        m.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    w = m.get_weights()
    with pytest.raises(ValueError, match=r"one-hot targets of shape \(200, 3\).*integer labels of shape \(200,\)"):
        m.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"input data has shape \(200, 5\).*expects \(None, 6\)"):
        m.fit(x[:, :5], np.eye(3)[y], verbose=0)
    bad = x.copy()
    bad[17, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values, first at index \(17, 2\)"):
        m.fit(bad, np.eye(3)[y], verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        m.fit(x, np.eye(3)[y][:150], verbose=0)
    for a, b in zip(w, m.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing was trained


def test_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = blobs(n=40)
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=3, verbose=2)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 3 and lines[0].startswith("Epoch 1/3") and "loss:" in lines[0]
    m.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_multi_input_multi_output_dicts_and_lists():
    a, b = L.Input((3,), name="a"), L.Input((2,), name="b")
    h = L.Concatenate()([L.Dense(4)(a), b])
    out1 = L.Dense(1, name="reg")(h)
    out2 = L.Dense(2, activation="softmax", name="cls")(h)
    m = Model([a, b], [out1, out2])
    m.compile(optimizer="adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
              loss_weights=[1.0, 0.3], metrics={"cls": ["accuracy"]})
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((30, 3)), rng.standard_normal((30, 2))
    yr, yc = rng.standard_normal((30, 1)), rng.integers(0, 2, 30)
    h = m.fit({"a": xa, "b": xb}, {"reg": yr, "cls": yc}, epochs=2, verbose=0)
    assert {"loss", "reg_loss", "cls_loss", "cls_accuracy"} <= set(h.history)
    p = m.predict([xa, xb], verbose=0)
    assert [q.shape for q in p] == [(30, 1), (30, 2)]
    with pytest.raises(ValueError, match="missing input"):
        m.predict({"a": xa}, verbose=0)


def test_subclassed_model_and_user_layer_train():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.s = self.add_weight((input_shape[-1],), "ones", name="s")

        def call(self, x):
            return x * self.s

    class Net(Model):
        def __init__(self):
            super().__init__()
            self.scale = Scale()
            self.d1 = L.Dense(8, activation="relu")
            self.out = L.Dense(3, activation="softmax")

        def call(self, x, training=None):
            return self.out(self.d1(self.scale(x)))

    set_random_seed(6)
    L.clear_session()  # automatic names count per session; other tests made a "scale" layer too
    x, y = blobs()
    net = Net()
    net.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    s_before = None
    h = net.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert len(net.trainable_weights) == 5 and net.weights[0].path.endswith("scale/s")
    assert not np.allclose(net.scale.s.numpy(), 1.0) and s_before is None
    assert h.history["accuracy"][-1] > 0.8


def test_train_test_predict_on_batch():
    x, y = blobs(n=16)
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = m.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert isinstance(m.test_on_batch(x, y, return_dict=True), dict)
    assert m.predict_on_batch(x).shape == (16, 3)


def test_regularization_losses_join_the_training_loss():
    x, y = blobs(n=20)
    m = Sequential([L.Dense(3, input_shape=(6,), kernel_regularizer="l2", activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    plain = -np.log(m.predict(x, verbose=0)[np.arange(20), y]).mean()
    penalty = 0.01 * (m.layers[0].kernel.numpy() ** 2).sum()
    loss = m.train_on_batch(x, y)
    assert abs(loss - (plain + penalty)) < 1e-5


def test_max_norm_constraint_applied_after_each_step():
    x, y = blobs(n=40)
    m = Sequential([L.Dense(3, input_shape=(6,), kernel_constraint="max_norm", activation="softmax")])
    m.compile(optimizer=__import__("core.optimizers", fromlist=["SGD"]).SGD(5.0), loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=2, verbose=0)
    norms = np.sqrt((m.layers[0].kernel.numpy() ** 2).sum(axis=0))
    assert norms.max() <= 2.0 + 1e-5


def test_masked_sequence_model_trains():
    set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, (64, 9))
    for i, n in enumerate(rng.integers(2, 9, 64)):
        x[i, n:] = 0
    y = (x[:, 0] > 15).astype("float32")[:, None]
    m = Sequential([L.Embedding(30, 8, mask_zero=True), L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=3, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    # padding does not change the prediction: same tokens with more zeros appended
    x2 = np.concatenate([x, np.zeros((64, 5), x.dtype)], axis=1)
    np.testing.assert_allclose(m.predict(x, verbose=0), m.predict(x2, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_found_in_large_arrays(bad):
    """Arrays big enough for the fast finiteness screen: one bad value is still reported."""
    x, y = blobs(n=2000)
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x[1234, 5] = bad
    with pytest.raises(ValueError, match=r"NaN or infinite values, first at index \(1234, 5\)"):
        m.fit(x, y, verbose=0)


def test_huge_finite_values_are_not_called_infinite():
    """Values whose squares overflow float32 are finite: the screen falls back to the exact check."""
    x, y = blobs(n=2000)
    x[:, 0] *= 1e25
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=1, verbose=0)  # no "NaN or infinite" error


def test_batch_hooks_and_epoch_logs_with_and_without_batch_callbacks():
    """fit skips building per-batch logs when no callback has a batch hook; with one, every
    batch hook sees the running logs; the epoch logs are the same either way."""
    x, y = blobs(n=64)
    seen = []

    class Batches(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, dict(logs)))

    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch", dict(logs)))

    histories = []
    for cbs in ([EpochOnly()], [Batches(), EpochOnly()]):
        set_random_seed(0)
        m = mlp()
        m.compile(optimizer=Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        seen.clear()
        h = m.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=cbs, shuffle=False)
        histories.append(h.history)
        batch_logs = [s for s in seen if s[0] != "epoch"]
        epoch_logs = [s[1] for s in seen if s[0] == "epoch"]
        assert len(epoch_logs) == 2 and set(epoch_logs[0]) == {"loss", "accuracy"}
        if len(cbs) == 2:
            assert [b for b, _ in batch_logs] == [0, 1, 2, 3] * 2
            assert all(set(logs) == {"loss", "accuracy"} for _, logs in batch_logs)
            assert batch_logs[3][1]["loss"] == pytest.approx(epoch_logs[0]["loss"])
    assert histories[0] == histories[1]


def test_fit_without_batch_size_spreads_the_data_over_steps_per_epoch():
    x, y = blobs(n=20)
    m = mlp()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    sizes = []
    orig = m._train_batch

    def spy(xb, yb, swb):
        sizes.append(int(xb.shape[0]))
        return orig(xb, yb, swb)

    m._train_batch = spy
    m.fit(x, y, steps_per_epoch=3, epochs=1, shuffle=False, verbose=0)
    assert sizes == [7, 7, 6]  # Keras: batch_size = ceil(20 / 3)
    sizes.clear()
    m.fit(x, y, validation_split=0.25, batch_size=5, epochs=1, verbose=0)
    assert sizes == [5, 5, 5]  # the last quarter is held out, before any shuffling


def test_sequential_with_input_has_symbolic_inputs_and_outputs_for_feature_extraction():
    """keras-io's sequential guide: Model(inputs=seq.inputs, outputs=[l.output for l in seq.layers])."""
    from core import layers as L
    from core.models import Model, Sequential

    seq = Sequential([L.Input((8, 8, 3)), L.Conv2D(4, 3, activation="relu"), L.Conv2D(2, 3, name="mid"),
                      L.Flatten()])
    extractor = Model(inputs=seq.inputs, outputs=[layer.output for layer in seq.layers])
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    feats = extractor.predict(x, verbose=0)
    assert [f.shape for f in feats] == [(2, 6, 6, 4), (2, 4, 4, 2), (2, 32)]
    np.testing.assert_allclose(feats[-1], seq.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="no defined inputs"):
        Sequential([L.Dense(2)]).inputs
