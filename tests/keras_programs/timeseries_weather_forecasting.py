"""Timeseries forecasting for weather prediction (keras-io examples/timeseries/
timeseries_weather_forecasting.py), only the imports and the data loading changed
(a generated 4-feature hourly series instead of the Jena climate CSV; no plots)."""
import numpy as np
import core as keras
import kp_data

features = kp_data.weather(n=2400)
split_fraction = 0.715
train_split = int(split_fraction * int(features.shape[0]))
step = 6

past = 120
future = 12
learning_rate = 0.001
batch_size = 64
epochs = 3


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


features = normalize(features, train_split)

train_data = features[0 : train_split - 1]
val_data = features[train_split:]

start = past + future
end = start + train_split

x_train = train_data
y_train = features[start:end][:, [0]]

sequence_length = int(past / step)

dataset_train = keras.utils.timeseries_dataset_from_array(
    x_train,
    y_train,
    sequence_length=sequence_length,
    sampling_rate=step,
    batch_size=batch_size,
)

x_end = len(val_data) - past - future

label_start = train_split + past + future

x_val = val_data[:x_end]
y_val = features[label_start:][:, [0]]

dataset_val = keras.utils.timeseries_dataset_from_array(
    x_val,
    y_val,
    sequence_length=sequence_length,
    sampling_rate=step,
    batch_size=batch_size,
)

for batch in dataset_train.take(1):
    inputs, targets = batch

print("Input shape:", inputs.numpy().shape if hasattr(inputs, "numpy") else inputs.shape)
print("Target shape:", targets.numpy().shape if hasattr(targets, "numpy") else targets.shape)

inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
lstm_out = keras.layers.LSTM(32)(inputs)
outputs = keras.layers.Dense(1)(lstm_out)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
model.summary()

path_checkpoint = "model_checkpoint.weights.h5"
es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)

modelckpt_callback = keras.callbacks.ModelCheckpoint(
    monitor="val_loss",
    filepath=path_checkpoint,
    verbose=1,
    save_weights_only=True,
    save_best_only=True,
)

history = model.fit(
    dataset_train,
    epochs=epochs,
    validation_data=dataset_val,
    callbacks=[es_callback, modelckpt_callback],
)

model.load_weights(path_checkpoint)
val_loss = model.evaluate(dataset_val)
n_windows = sum(int(x.shape[0]) for x, _ in dataset_train)
kp_data.report(params=model.count_params(), val_loss=val_loss, train_windows=n_windows,
               first_val_loss=history.history["val_loss"][0])
