"""Custom training as Keras 3 documents it, written as keras-io writes it with only the import changed
(guides/custom_train_step_in_torch.py and _in_tensorflow.py, examples/generative/vae.py,
guides/making_new_layers_and_models_via_subclassing.py): train_step/test_step/predict_step(data),
gradients by ``loss.backward()`` or ``GradientTape``, ``optimizer.apply``/``apply_gradients``,
``model.metrics`` trackers reset each epoch, ``compute_metrics``, functional-style subclasses."""
import warnings

import numpy as np
import pytest

import core as keras
from core import layers, ops
from core.callbacks import Callback
from core.data import Dataset
from core.models import Model, Sequential
from core.optimizers import SGD, Adam
from core.utils import pack_x_y_sample_weight, set_random_seed, unpack_x_y_sample_weight


def regression_data(n=64, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d)).astype("float32")
    y = (x @ rng.standard_normal((d, 1)) + 0.1).astype("float32")
    return x, y


def dense_graph(d=8):
    inputs = layers.Input(shape=(d,))
    return inputs, layers.Dense(1)(layers.Dense(6, activation="relu")(inputs))


class BackwardStep(Model):
    """The guide's first example (torch backend), our engine's way to the gradients."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.grad for v in trainable_weights]
        self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class TapeStep(Model):
    """The guide's first example (TensorFlow backend) with core.GradientTape."""

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@pytest.mark.parametrize("cls", [BackwardStep, TapeStep])
def test_custom_train_step_matches_built_in_fit(cls):
    x, y = regression_data()
    inputs, outputs = dense_graph()
    reference = Model(inputs, outputs)
    custom = cls(inputs, outputs)  # a subclass built from (inputs, outputs): a Functional subclass
    assert custom.layers == reference.layers
    start = reference.get_weights()
    histories = []
    for model in (reference, custom):
        model.set_weights(start)
        model.compile(optimizer=SGD(0.05), loss="mse", metrics=["mae"])
        histories.append(model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history)
        assert model.metrics_names == ["loss", "compile_metrics"]
    assert list(histories[0]) == ["loss", "mae"] and set(histories[1]) == {"loss", "mae"}
    for k in histories[0]:
        np.testing.assert_allclose(histories[1][k], histories[0][k], rtol=1e-6)
    for a, b in zip(reference.get_weights(), custom.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # the built-in evaluate and predict still run on the custom model
    assert set(custom.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "mae"}
    assert custom.predict(x, verbose=0).shape == (64, 1)


def test_own_trackers_listed_in_metrics_are_reset_each_epoch():
    seen = []

    class CustomModel(Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = keras.losses.MeanSquaredError()

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            self.optimizer.apply([v.grad for v in trainable_weights], trainable_weights)
            seen[-1].append(float(loss.numpy()))
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    class Epochs(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append([])

    x, y = regression_data()
    model = CustomModel(*dense_graph())
    model.compile(optimizer="adam")  # no loss, no metrics: train_step does it all
    h = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[Epochs()])
    assert len(seen) == 3 and all(len(s) == 4 for s in seen)
    np.testing.assert_allclose(h.history["loss"], [np.mean(s) for s in seen], rtol=1e-6)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_tracker_attributes_join_model_metrics_without_overriding_it():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)
            self.loss_tracker = keras.metrics.Mean(name="total")
            self.extra = [keras.metrics.Sum(name="seen")]

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y, _ = unpack_x_y_sample_weight(data)
            with keras.GradientTape() as tape:
                loss = ops.mean(ops.square(self(x, training=True) - y))
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            self.loss_tracker.update_state(loss)
            self.extra[0].update_state(np.float32(x.shape[0]))
            return {m.name: m.result() for m in self.metrics}

    x, y = regression_data(n=40)
    net = Net()
    net.compile(optimizer=SGD(0.1))
    names = [m.name for m in net.metrics]
    assert names == ["loss", "total", "seen"]  # the compile loss tracker first, as Keras
    h = net.fit(x, y, batch_size=10, epochs=2, verbose=0)
    assert h.history["seen"] == [40.0, 40.0]  # Sum reset at each epoch: 4 batches of 10, not 80
    assert h.history["loss"] == [0.0, 0.0]  # the compiled loss tracker was never updated
    net.reset_metrics()
    assert net.get_metrics_result() == {"loss": 0.0, "total": 0.0, "seen": 0.0}


def test_sample_weight_and_class_weight_reach_a_custom_train_step():
    got = []

    class CustomModel(Model):
        def train_step(self, data):
            if len(data) == 3:
                x, y, sample_weight = data
            else:
                sample_weight = None
                x, y = data
            got.append(sample_weight)
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            loss.backward()
            self.optimizer.apply([v.grad for v in self.trainable_weights], self.trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

    x, y = regression_data(n=32)
    model = CustomModel(*dense_graph())
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    sw = np.linspace(0.1, 1.0, 32).astype("float32")
    model.fit(x, y, sample_weight=sw, epochs=1, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(got[0].numpy(), sw[:16])
    got.clear()
    model.fit(x, (y > 0.5).astype("int64")[:, 0], class_weight={0: 2.0}, epochs=1, batch_size=32, verbose=0)
    labels = (y > 0.5)[:, 0]
    assert sorted(got[0].numpy().tolist()) == sorted(np.where(labels, 1.0, 2.0).tolist())


def test_custom_test_step_and_predict_step():
    class CustomModel(Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def predict_step(self, data):
            x, _, _ = unpack_x_y_sample_weight(data)
            return {"value": self(x, training=False), "twice": 2 * self(x, training=False)}

    x, y = regression_data()
    model = CustomModel(*dense_graph())
    model.compile(loss="mse", metrics=["mae"])
    ev = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model(x).numpy()
    np.testing.assert_allclose(ev["loss"], ((pred - y) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(ev["mae"], np.abs(pred - y).mean(), rtol=1e-5)
    out = model.predict(x, batch_size=20, verbose=0)
    np.testing.assert_allclose(out["twice"], 2 * out["value"], rtol=1e-6)
    np.testing.assert_allclose(out["value"], pred, rtol=1e-5, atol=1e-6)


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z (keras-io's VAE)."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(tuple(z_mean.shape))
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class VAE(Model):
    """examples/generative/vae.py's model, with core.GradientTape for tf.GradientTape."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with keras.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=1))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}

    def call(self, x):
        z_mean, z_log_var, z = self.encoder(x)
        return self.decoder(z)


def test_vae_custom_train_step_fits_on_x_alone():
    set_random_seed(0)
    latent_dim = 2
    encoder_inputs = layers.Input(shape=(12, 1))
    h = layers.Dense(16, activation="relu")(layers.Flatten()(encoder_inputs))
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    z = Sampling()([z_mean, z_log_var])
    encoder = Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = layers.Input(shape=(latent_dim,))
    h = layers.Dense(12, activation="sigmoid")(layers.Dense(16, activation="relu")(latent_inputs))
    decoder = Model(latent_inputs, layers.Reshape((12, 1))(h), name="decoder")
    rng = np.random.default_rng(0)
    digits = (rng.random((256, 12, 1)) < np.linspace(0.1, 0.9, 12)[:, None]).astype("float32")
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=Adam(0.01))
    h = vae.fit(digits, epochs=6, batch_size=32, verbose=0)
    assert set(h.history) == {"loss", "reconstruction_loss", "kl_loss"}
    np.testing.assert_allclose(np.array(h.history["loss"]),
                               np.array(h.history["reconstruction_loss"]) + np.array(h.history["kl_loss"]), rtol=1e-5)
    assert h.history["reconstruction_loss"][-1] < h.history["reconstruction_loss"][0]
    assert vae.predict(digits[:5], verbose=0).shape == (5, 12, 1)
    assert len(vae.trainable_weights) == len(encoder.trainable_weights) + len(decoder.trainable_weights)


def test_subclass_calling_super_init_with_inputs_and_outputs():
    class MLP(Model):
        def __init__(self, units=4, **kwargs):
            inputs = layers.Input((3,))
            outputs = layers.Dense(units)(inputs)
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)
            self.units = units

        def describe(self):
            return f"{self.name}: {self.units} units"

    m = MLP(units=2, name="mlp")
    assert m.describe() == "mlp: 2 units" and m.output_shape if hasattr(m, "output_shape") else True
    assert m.predict(np.ones((5, 3), "float32"), verbose=0).shape == (5, 2)
    m.compile(optimizer="sgd", loss="mse")
    m.fit(np.ones((8, 3), "float32"), np.zeros((8, 2), "float32"), verbose=0)
    second = MLP()  # the class is a Functional subclass from now on; a second instance works the same
    assert second.predict(np.ones((2, 3), "float32"), verbose=0).shape == (2, 4)
    assert isinstance(m, keras.models.Functional) if hasattr(keras, "models") else True


def test_compute_metrics_override_adds_a_metric():
    class Net(Sequential):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.custom_metric = keras.metrics.Mean(name="mean_prediction")

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            results = super().compute_metrics(x, y, y_pred, sample_weight)
            self.custom_metric.update_state(y_pred)
            results["mean_prediction"] = self.custom_metric.result()
            return results

    x, y = regression_data(n=30)
    net = Net([layers.Input((8,)), layers.Dense(1)])
    net.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    h = net.fit(x, y, batch_size=30, epochs=1, verbose=0)
    assert set(h.history) == {"loss", "mae", "mean_prediction"}
    np.testing.assert_allclose(h.history["mean_prediction"][0], net.custom_metric.result(), rtol=1e-6)


def test_compute_loss_override_with_training_argument_and_add_loss_in_a_subclass():
    calls = []

    class Net(Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x, training=None):
            out = self.dense(x)
            self.add_loss(0.01 * ops.mean(ops.square(out)))  # an activity penalty
            return out

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            calls.append(training)
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    x, y = regression_data(n=20)
    net = Net()
    net.compile(optimizer="sgd", loss="mse")
    net.fit(x, y, batch_size=10, epochs=1, verbose=0)
    net.evaluate(x, y, batch_size=20, verbose=0)
    assert calls == [True, True, False]
    pred = net(x)
    expected = ((pred.numpy() - y) ** 2).mean() + 0.01 * (pred.numpy() ** 2).mean()
    np.testing.assert_allclose(net.evaluate(x, y, batch_size=20, verbose=0), expected, rtol=1e-5)
    assert len(net.losses) == 1


def test_batch_callbacks_get_flat_float_logs_from_a_custom_step():
    logs_seen = []

    class Logs(Callback):
        def on_train_batch_end(self, batch, logs=None):
            logs_seen.append(dict(logs))

    x, y = regression_data(n=32)
    model = BackwardStep(*dense_graph())
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[Logs()])
    assert [set(l) for l in logs_seen] == [{"loss", "mae"}] * 2  # compile_metrics' dict merged in
    assert all(isinstance(v, float) for l in logs_seen for v in l.values())


def test_dataset_batches_reach_train_step_as_yielded():
    got = []

    class Probe(BackwardStep):
        def train_step(self, data):
            got.append(type(data).__name__ + str(len(data)))
            return super().train_step(data)

    x, y = regression_data(n=32)
    model = Probe(*dense_graph())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
    assert got == ["tuple2", "tuple2"]


def test_pack_and_unpack_x_y_sample_weight():
    x, y, sw = np.ones((2, 3)), np.zeros((2, 1)), np.ones(2)
    assert pack_x_y_sample_weight(x) is x
    assert pack_x_y_sample_weight([x, x]) == ([x, x],)  # a list x is wrapped, so it is not taken for (x, y)
    assert pack_x_y_sample_weight(x, y) == (x, y) and pack_x_y_sample_weight(x, y, sw) == (x, y, sw)
    assert unpack_x_y_sample_weight(x)[0] is x and unpack_x_y_sample_weight(x)[1:] == (None, None)
    assert unpack_x_y_sample_weight((x,))[0] is x
    assert unpack_x_y_sample_weight([x, y])[1] is y  # a list counts as a tuple (Keras)
    assert unpack_x_y_sample_weight((x, y, sw))[2] is sw
    with pytest.raises(ValueError, match=r"\(x, y, sample_weight\)"):
        unpack_x_y_sample_weight((x, y, sw, sw))


def test_gradient_tape():
    w = keras.Parameter(np.array([1.0, 2.0], "float32"))
    v = keras.Parameter(np.array([3.0], "float32"))
    w.grad = np.array([5.0, 5.0], "float32")  # left as it was
    with keras.GradientTape() as tape:
        loss = ops.sum(w * w) * 3.0
    gw, gv = tape.gradient(loss, [w, v])
    np.testing.assert_allclose(gw, [6.0, 12.0])
    assert gv is None  # the loss does not depend on v
    np.testing.assert_allclose(w.grad, [5.0, 5.0])
    with keras.GradientTape() as tape2:
        loss2 = ops.sum(w * v)
    np.testing.assert_allclose(tape2.gradient(loss2, [v])[0], [3.0])
    np.testing.assert_allclose(w.grad, [5.0, 5.0])  # w is not a source: its .grad is left alone too
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(loss, [w])
    x = keras.Tensor(np.array([2.0], "float32"))
    with keras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x * x
    np.testing.assert_allclose(tape.gradient(y, x), [12.0])
    np.testing.assert_allclose(tape.gradient(y, [x])[0], [12.0])
    with pytest.raises(ValueError, match="scalar"):
        keras.GradientTape().gradient(w * 2.0, [w])


def test_unsupported_or_wrong_compile_arguments_fail_in_one_line():
    inputs = layers.Input((3,))
    two = Model(inputs, [layers.Dense(1, name="a")(inputs), layers.Dense(1, name="b")(inputs)])
    with pytest.raises(ValueError, match="steps_per_execution=4 is not supported yet"):
        two.compile(loss="mse", steps_per_execution=4)
    with pytest.raises(ValueError, match=r"`metrics` must be a list, tuple or dict"):
        two.compile(loss="mse", metrics="mae")
    with pytest.raises(ValueError, match="one entry .* per output"):
        two.compile(loss="mse", metrics=["mae"])  # Keras 3: one entry per output, or a dict
    with pytest.raises(ValueError, match=r"not outputs of the model"):
        two.compile(loss={"a": "mse", "c": "mse"})
    two.compile(optimizer="sgd")  # no loss, and no layer adds one
    x = np.ones((4, 3), "float32")
    with pytest.raises(ValueError, match="No loss to compute"):
        two.fit(x, [np.ones((4, 1)), np.ones((4, 1))], verbose=0)
    two.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no targets y"):
        two.fit(x, verbose=0)


def test_validation_data_three_tuple_and_dataset():
    x, y = regression_data(n=40)
    model = Model(*dense_graph())
    model.compile(optimizer="sgd", loss="mse")
    sw = np.zeros(10, "float32")
    sw[:5] = 1.0
    h = model.fit(x[:30], y[:30], validation_data=(x[30:], y[30:], sw), epochs=1, verbose=0)
    pred = model.predict(x[30:], verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0], ((pred[:5] - y[30:35]) ** 2).mean() * 5 / 10, rtol=1e-5)
    h = model.fit(x[:30], y[:30], validation_data=Dataset.from_tensor_slices((x[30:], y[30:])).batch(4), epochs=1,
                  verbose=0)
    pred = model.predict(x[30:], verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0], ((pred - y[30:]) ** 2).mean(), rtol=1e-5)


def test_a_subclassed_model_built_by_its_first_step_trains_on_that_step():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1, kernel_initializer="zeros")

        def call(self, x):
            return self.dense(x)

    x, y = regression_data(n=8)
    net = Net()
    net.compile(optimizer=SGD(0.1), loss="mse")
    net.fit(x, y, batch_size=8, epochs=1, verbose=0)  # one step, which also builds the Dense layer
    expected = 0.1 * 2 * (x * y).mean(axis=0)  # -lr * d(mse)/d(kernel) at a zero kernel and bias
    np.testing.assert_allclose(net.dense.kernel.numpy()[:, 0], expected, rtol=1e-5)


def test_keras_training_api_zoo_lacks_names_itself():
    model = Model(*dense_graph())
    for call, name in ((lambda: model.stateless_call([], [], None), "stateless_call"),
                       (lambda: model.stateless_compute_loss([], [], []), "stateless_compute_loss")):
        with pytest.raises(NotImplementedError, match=f"{name} .*not supported yet"):
            call()
    with pytest.warns(UserWarning, match="jit_compile=True has no effect"):
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)


def test_compile_config_round_trip():
    inputs, outputs = dense_graph()
    model = Model(inputs, outputs)
    assert model.get_compile_config() is None
    model.compile(optimizer=SGD(0.05, momentum=0.5), loss={model.output_names[0]: "mse"}, metrics=["mae"])
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "SGD" and config["metrics"] == ["mae"]
    other = Model(inputs, outputs)
    other.compile_from_config(config)
    assert other.optimizer.get_config()["momentum"] == 0.5
    x, y = regression_data(n=16)
    assert set(other.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "mae"}


def test_tensorflow_style_compiled_loss_and_compiled_metrics_shims():
    class Old(Model):
        def train_step(self, data):
            x, y = data
            with keras.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    x, y = regression_data(n=32)
    inputs, outputs = dense_graph()
    ref, old = Model(inputs, outputs), Old(inputs, outputs)
    start = ref.get_weights()
    hs = []
    for m in (ref, old):
        m.set_weights(start)
        m.compile(optimizer=SGD(0.05), loss="mse", metrics=["mae"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            hs.append(m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history)
    np.testing.assert_allclose(hs[1]["mae"], hs[0]["mae"], rtol=1e-6)
    for a, b in zip(ref.get_weights(), old.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_subclassed_model_with_dict_outputs_and_per_output_compile_dicts():
    class TwoHeads(Model):
        def __init__(self):
            super().__init__()
            self.body = layers.Dense(6, activation="relu")
            self.a = layers.Dense(1)
            self.b = layers.Dense(2, activation="softmax")

        def call(self, x):
            h = self.body(x)
            return {"a": self.a(h), "b": self.b(h)}

    x, y = regression_data(n=24)
    labels = (y[:, 0] > np.median(y)).astype("int64")
    net = TwoHeads()
    net.compile(optimizer="adam", loss={"a": "mse", "b": "sparse_categorical_crossentropy"},
                loss_weights={"a": 1.0, "b": 0.5}, metrics={"b": ["accuracy"]})
    h = net.fit(x, {"a": y, "b": labels}, batch_size=8, epochs=2, verbose=0)
    assert set(h.history) == {"loss", "a_loss", "b_loss", "b_accuracy"}
    np.testing.assert_allclose(h.history["loss"][-1], h.history["a_loss"][-1] + 0.5 * h.history["b_loss"][-1],
                               rtol=1e-5)  # means over the same batches, weighted alike
    ev = net.evaluate(x, {"a": y, "b": labels}, verbose=0, return_dict=True)
    np.testing.assert_allclose(ev["loss"], ev["a_loss"] + 0.5 * ev["b_loss"], rtol=1e-5)


class OldDistiller(Model):
    """The TensorFlow-era keras-io Distiller (GradientTape, compiled_metrics, extra logs), ported."""

    def __init__(self, student, teacher):
        super().__init__()
        self.teacher = teacher
        self.student = student

    def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1, temperature=3):
        super().compile(optimizer=optimizer, metrics=metrics)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn
        self.alpha = alpha
        self.temperature = temperature

    def train_step(self, data):
        x, y = data
        teacher_predictions = self.teacher(x, training=False)
        with keras.GradientTape() as tape:
            student_predictions = self.student(x, training=True)
            student_loss = self.student_loss_fn(y, student_predictions)
            distillation_loss = self.distillation_loss_fn(ops.softmax(teacher_predictions / self.temperature, axis=1),
                                                          ops.softmax(student_predictions / self.temperature, axis=1))
            loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
        trainable_vars = self.student.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))
        self.compiled_metrics.update_state(y, student_predictions)
        results = {m.name: m.result() for m in self.metrics}
        results.update({"student_loss": student_loss, "distillation_loss": distillation_loss})
        return results

    def test_step(self, data):
        x, y = data
        y_prediction = self.student(x, training=False)
        student_loss = self.student_loss_fn(y, y_prediction)
        self.compiled_metrics.update_state(y, y_prediction)
        results = {m.name: m.result() for m in self.metrics}
        results.update({"student_loss": student_loss})
        return results


def test_tensorflow_era_distiller_trains_only_the_student():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0).astype("int64")
    teacher = Sequential([layers.Input((5,)), layers.Dense(16, activation="relu"), layers.Dense(3)], name="teacher")
    teacher.compile(optimizer=Adam(0.02), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, epochs=20, batch_size=20, verbose=0)
    student = Sequential([layers.Input((5,)), layers.Dense(3)], name="student")
    teacher_before = teacher.get_weights()
    d = OldDistiller(student=student, teacher=teacher)
    d.compile(optimizer=Adam(0.05), metrics=[keras.metrics.SparseCategoricalAccuracy()],
              student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              distillation_loss_fn=keras.losses.KLDivergence(), alpha=0.1, temperature=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        h = d.fit(x, y, epochs=15, batch_size=20, verbose=0)
        ev = d.evaluate(x, y, verbose=0, return_dict=True)
    assert {"sparse_categorical_accuracy", "student_loss", "distillation_loss"} <= set(h.history)
    assert all(isinstance(v, float) for v in h.history["distillation_loss"])
    assert h.history["distillation_loss"][-1] < h.history["distillation_loss"][0]
    assert ev["sparse_categorical_accuracy"] > 0.6 and isinstance(ev["student_loss"], float)
    for a, b in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)  # the tape's gradient covered the student only


class GAN(Model):
    """guides/custom_train_step_in_*.py's GAN: compile() overridden, two optimizers, own trackers."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = real_images.shape[0]
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim))
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = np.concatenate([np.ones((batch_size, 1)), np.zeros((batch_size, 1))], axis=0).astype("float32")
        labels += 0.05 * keras.random.uniform(labels.shape)
        with keras.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined_images))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim))
        misleading_labels = np.zeros((batch_size, 1), "float32")
        with keras.GradientTape() as tape:
            g_loss = self.loss_fn(misleading_labels, self.discriminator(self.generator(random_latent_vectors)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def test_gan_with_two_optimizers_trains_each_network_on_its_own_loss():
    set_random_seed(1)
    discriminator = Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    generator = Sequential([layers.Input((3,)), layers.Dense(6, activation="tanh")])
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=3)
    gan.compile(d_optimizer=Adam(0.01), g_optimizer=Adam(0.01),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    real = np.random.default_rng(0).standard_normal((64, 6)).astype("float32") * 0.2 + 0.5
    d0, g0 = discriminator.get_weights(), generator.get_weights()
    h = gan.fit(real, epochs=2, batch_size=16, verbose=0)
    assert set(h.history) == {"d_loss", "g_loss"} and len(h.history["d_loss"]) == 2
    assert all(np.isfinite(h.history["d_loss"])) and all(np.isfinite(h.history["g_loss"]))
    assert not any(np.array_equal(a, b) for a, b in zip(d0, discriminator.get_weights()))
    assert not any(np.array_equal(a, b) for a, b in zip(g0, generator.get_weights()))


def test_symbolic_add_loss_on_a_functional_model_says_not_supported():
    inputs, outputs = dense_graph()
    model = Model(inputs, outputs)
    with pytest.raises(NotImplementedError, match="add_loss on a Functional model .*not supported yet"):
        model.add_loss(outputs)  # a symbolic tensor of the graph


def test_outputs_without_a_loss_take_no_target():
    inputs = layers.Input((4,), name="inp")
    score = layers.Dense(1, name="score_output")(inputs)
    cls = layers.Dense(3, activation="softmax", name="class_output")(inputs)
    model = Model(inputs, [score, cls])
    x = np.random.default_rng(0).random((12, 4)).astype("float32")
    targets = np.eye(3, dtype="float32")[np.arange(12) % 3]
    for loss in ([None, keras.losses.CategoricalCrossentropy()], {"class_output": "categorical_crossentropy"}):
        model.compile(optimizer="sgd", loss=loss)
        before = model.get_layer("score_output").get_weights()
        h = model.fit(x, [targets], epochs=1, verbose=0)  # one array per output with a loss
        model.fit(x, {"class_output": targets}, epochs=1, verbose=0)
        assert list(h.history) == ["loss"]  # one loss: no per-output trackers
        for a, b in zip(before, model.get_layer("score_output").get_weights()):
            np.testing.assert_array_equal(a, b)  # no loss reaches the score head


def test_training_loop_from_scratch_with_gradient_tape():
    """guides/writing_a_training_loop_from_scratch.py (TensorFlow): the loop, metrics reset by hand,
    an activity-regularization layer whose add_loss joins the loss through model.losses."""

    class ActivityRegularizationLayer(layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * ops.sum(inputs))
            return inputs

    set_random_seed(0)
    inputs = layers.Input(shape=(8,), name="digits")
    x = layers.Dense(16, activation="relu")(inputs)
    x = ActivityRegularizationLayer()(x)
    outputs = layers.Dense(3, name="predictions")(x)
    model = Model(inputs=inputs, outputs=outputs)
    optimizer = Adam(learning_rate=0.02)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    rng = np.random.default_rng(0)
    x_train = rng.standard_normal((96, 8)).astype("float32")
    y_train = (x_train[:, 0] > 0).astype("int64") + (x_train[:, 1] > 0).astype("int64")
    train_dataset = Dataset.from_tensor_slices((x_train, y_train)).shuffle(96).batch(16)
    accuracies = []
    for epoch in range(8):
        for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
            with keras.GradientTape() as tape:
                logits = model(x_batch_train, training=True)
                loss_value = loss_fn(y_batch_train, logits)
                loss_value += sum(model.losses)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
            train_acc_metric.update_state(y_batch_train, logits)
        accuracies.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
    assert len(model.losses) == 1
    assert accuracies[-1] > accuracies[0] and accuracies[-1] > 0.7


def test_a_shared_layer_keeps_the_add_loss_of_each_call():
    class Penalty(layers.Layer):
        def call(self, inputs):
            self.add_loss(ops.sum(inputs))
            return inputs

    shared = Penalty()
    a, b = layers.Input((2,)), layers.Input((2,))
    model = Model([a, b], layers.Add()([shared(a), shared(b)]))
    model([np.ones((1, 2), "float32"), 2 * np.ones((1, 2), "float32")])
    assert sorted(float(v.numpy()) for v in model.losses) == [2.0, 4.0]
    model([np.ones((1, 2), "float32"), np.ones((1, 2), "float32")])  # a new call replaces them
    assert sorted(float(v.numpy()) for v in model.losses) == [2.0, 2.0]


def test_dict_inputs_and_outputs_round_trip_through_save(tmp_path):
    a = layers.Input((4,), name="a")
    h = layers.Dense(3)(a)
    m = Model({"a": a}, {"reg": layers.Dense(1, name="reg_head")(h), "cls": layers.Dense(2, name="cls_head")(h)})
    m.compile(optimizer="sgd", loss={"reg": "mse", "cls": "mse"}, loss_weights={"reg": 2.0, "cls": 1.0},
              metrics={"cls": ["mae"]})
    m.save(tmp_path / "m.h5")
    loaded = keras.models.load_model(tmp_path / "m.h5")
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    y = {"reg": np.ones((5, 1), "float32"), "cls": np.zeros((5, 2), "float32")}
    p1, p2 = m.predict(x, verbose=0), loaded.predict({"a": x}, verbose=0)
    assert sorted(p2) == ["cls", "reg"]
    for k in p1:
        np.testing.assert_allclose(p2[k], p1[k], rtol=1e-6)
    e1 = m.evaluate(x, y, verbose=0, return_dict=True)
    e2 = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert e1.keys() == e2.keys() == {"loss", "reg_loss", "cls_loss", "cls_mae"}
    for k in e1:
        np.testing.assert_allclose(e2[k], e1[k], rtol=1e-6)
    np.testing.assert_allclose(e1["loss"], 2.0 * e1["reg_loss"] + e1["cls_loss"], rtol=1e-6)


def test_subclassing_guide_vae_with_add_loss_in_the_model_call():
    """guides/making_new_layers_and_models_via_subclassing.py's end-to-end VAE: layers and a model
    subclassed, the KL term added with add_loss in the model's call, compile() given an MSE loss."""

    class Encoder(layers.Layer):
        def __init__(self, latent_dim=4, intermediate_dim=16, name="encoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs):
            x = self.dense_proj(inputs)
            z_mean = self.dense_mean(x)
            z_log_var = self.dense_log_var(x)
            z = self.sampling((z_mean, z_log_var))
            return z_mean, z_log_var, z

    class Decoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim=16, name="decoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_output = layers.Dense(original_dim, activation="sigmoid")

        def call(self, inputs):
            return self.dense_output(self.dense_proj(inputs))

    class VariationalAutoEncoder(Model):
        def __init__(self, original_dim, intermediate_dim=16, latent_dim=4, name="autoencoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.original_dim = original_dim
            self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
            self.add_loss(kl_loss)
            return reconstructed

    set_random_seed(0)
    x_train = np.random.default_rng(0).random((128, 12)).astype("float32")
    vae = VariationalAutoEncoder(12)
    vae.compile(optimizer=Adam(learning_rate=1e-2), loss=keras.losses.MeanSquaredError())
    h = vae.fit(x_train, x_train, epochs=4, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert len(vae.losses) == 1  # the KL term of the latest call
    # the logged loss is the MSE plus the KL term: check it on one batch with the weights fixed
    set_random_seed(5)
    total = vae.evaluate(x_train[:32], x_train[:32], batch_size=32, verbose=0)
    set_random_seed(5)
    recon = vae(x_train[:32]).numpy()
    kl = float(vae.losses[0].numpy())
    np.testing.assert_allclose(total, ((recon - x_train[:32]) ** 2).mean() + kl, rtol=1e-5)


def test_losses_and_metrics_given_as_keras_config_dicts():
    x, y = regression_data(n=16)
    model = Model(*dense_graph())
    loss_cfg = {"module": "keras.losses", "class_name": "Huber", "config": {"delta": 2.0}, "registered_name": None}
    mae_cfg = {"module": "keras.metrics", "class_name": "MeanAbsoluteError", "config": {"name": "mae"},
               "registered_name": None}
    model.compile(optimizer="sgd", loss=loss_cfg, metrics=[mae_cfg])  # one config each, not dicts by output
    assert type(model._losses_per_output[0]).__name__ == "Huber" and model._losses_per_output[0].delta == 2.0
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "mae"}
