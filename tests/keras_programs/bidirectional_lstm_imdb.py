"""Bidirectional LSTM on IMDB (keras-io examples/nlp/bidirectional_lstm_imdb.py), only the imports
and the data loading changed (generated sequences instead of IMDB; smaller sizes)."""
import numpy as np
import core as keras
from core import layers
import kp_data

max_features = 1000  # Only consider the top 1k words
maxlen = 40  # Only consider the first 40 words of each sequence

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 32-dimensional vector
x = layers.Embedding(max_features, 32)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(16, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(16))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

(x_train, y_train), (x_val, y_val) = kp_data.token_sequences(n=1500, vocab_size=max_features, max_len=40)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 40 words and zero-pad sequences shorter than 40 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=3, validation_data=(x_val, y_val))
kp_data.report(params=model.count_params(), val_accuracy=history.history["val_accuracy"][-1])
