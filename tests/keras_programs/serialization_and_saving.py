"""Save, serialize, and export models (keras-io guides/serialization_and_saving.py, Keras 3),
only the imports changed; no export to TF SavedModel."""
import numpy as np
import core as keras
import kp_data

results = {}


def get_model():
    # Create a simple model.
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mean_squared_error")
    return model


model = get_model()

# Train the model.
rng = np.random.RandomState(0)
test_input = rng.random_sample((128, 32))
test_target = rng.random_sample((128, 1))
model.fit(test_input, test_target)

# Calling `save('my_model.keras')` creates a zip archive `my_model.keras`.
model.save("my_model.keras")

# It can be used to reconstruct the model identically.
reconstructed_model = keras.models.load_model("my_model.keras")

# Let's check:
np.testing.assert_allclose(model.predict(test_input), reconstructed_model.predict(test_input))
# The reconstructed model is already compiled and has retained the optimizer state
reconstructed_model.fit(test_input, test_target)
results["whole_model_roundtrip"] = True


# Custom objects
@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x**2


@keras.saving.register_keras_serializable(package="MyLayers")
class CustomLayer(keras.layers.Layer):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {"factor": self.factor}


@keras.saving.register_keras_serializable(package="my_package", name="MyDense")
class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return self.activation(keras.ops.matmul(inputs, self.kernel) + self.bias)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "activation": keras.activations.serialize(self.activation)})
        return config


results["registered_name"] = keras.saving.get_registered_name(CustomLayer)
results["registered_fn_name"] = keras.saving.get_registered_name(custom_fn)

model = keras.Sequential([keras.Input((4,)), MyDense(8, activation=custom_fn), CustomLayer(0.5)])
x = rng.random_sample((6, 4)).astype("float32")
ref = model.predict(x)
model.save("custom_model.keras")
del model
reconstructed_model = keras.models.load_model("custom_model.keras")
results["custom_roundtrip_error"] = float(np.abs(reconstructed_model.predict(x) - ref).max())

# Passing custom objects to load_model / custom_object_scope (not registered)
class UnregisteredScale(keras.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


model = keras.Sequential([keras.Input((4,)), UnregisteredScale(3.0)])
model.save("unregistered.keras")
reloaded = keras.models.load_model("unregistered.keras", custom_objects={"UnregisteredScale": UnregisteredScale})
results["custom_objects_error"] = float(np.abs(reloaded.predict(x) - 3.0 * x).max())
with keras.saving.custom_object_scope({"UnregisteredScale": UnregisteredScale}):
    reloaded = keras.models.load_model("unregistered.keras")
results["custom_object_scope_error"] = float(np.abs(reloaded.predict(x) - 3.0 * x).max())

# Configs
layer = keras.layers.Dense(3, activation="relu")
layer_config = layer.get_config()
new_layer = keras.layers.Dense.from_config(layer_config)
results["dense_config_units"] = new_layer.units

model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
config = model.get_config()
new_model = keras.Sequential.from_config(config)

inputs = keras.Input((32,))
outputs = keras.layers.Dense(1)(inputs)
model = keras.Model(inputs, outputs)
config = model.get_config()
new_model = keras.Model.from_config(config)
results["functional_from_config_params"] = new_model.count_params()

model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
json_config = model.to_json()
new_model = keras.models.model_from_json(json_config)
results["json_params"] = new_model.count_params()

# serialize_keras_object / deserialize_keras_object
my_reg = keras.regularizers.L1(0.005)
config = keras.saving.serialize_keras_object(my_reg)
new_reg = keras.saving.deserialize_keras_object(config)
results["regularizer_l1"] = float(new_reg.get_config()["l1"])

# In-memory cloning
with keras.saving.custom_object_scope({"CustomLayer": CustomLayer}):
    new_model = keras.models.clone_model(model)
results["clone_params"] = new_model.count_params()

# Weights only: transfer between models
def create_layer():
    layer = keras.layers.Dense(64, activation="relu", name="dense_2")
    layer.build((None, 784))
    return layer


layer_1 = create_layer()
layer_2 = create_layer()
layer_2.set_weights(layer_1.get_weights())
results["transfer_error"] = float(max(np.abs(a - b).max() for a, b in zip(layer_1.get_weights(), layer_2.get_weights())))

# Weights-only saving to disk
sequential_model = keras.Sequential(
    [keras.Input(shape=(784,), name="digits"), keras.layers.Dense(64, activation="relu", name="dense_1"),
     keras.layers.Dense(64, activation="relu", name="dense_2"), keras.layers.Dense(10, name="predictions")]
)
sequential_model.save_weights("my_model.weights.h5")
other = keras.Sequential(
    [keras.Input(shape=(784,), name="digits"), keras.layers.Dense(64, activation="relu", name="dense_1"),
     keras.layers.Dense(64, activation="relu", name="dense_2"), keras.layers.Dense(10, name="predictions")]
)
other.load_weights("my_model.weights.h5")
probe = rng.random_sample((3, 784)).astype("float32")
results["weights_file_error"] = float(np.abs(other.predict(probe) - sequential_model.predict(probe)).max())
kp_data.report(**results)
