"""Text classification from scratch (keras-io examples/nlp/text_classification_from_scratch.py),
only the imports, the data loading and the sizes changed: a few hundred reviews of the Movie Review
Polarity set in the aclImdb folder layout instead of the IMDB download, smaller constants, the
default standardization instead of the `tf.strings` one (these reviews have no `<br />` tags), and
no `tf.expand_dims` before vectorizing (TextVectorization takes a batch of shape (n,) too).
The end: an end-to-end model on a string Input, evaluated on the raw-text dataset."""
import os

import numpy as np
import core as keras
from core import layers
import kp_data

dataset_dir = kp_data.review_polarity("aclImdb", n_train=150, n_test=50)

batch_size = 32
train_dir = os.path.join(dataset_dir, "train")
test_dir = os.path.join(dataset_dir, "test")

raw_train_ds = keras.utils.text_dataset_from_directory(
    train_dir,
    batch_size=batch_size,
    validation_split=0.2,
    subset="training",
    seed=1337,
    class_names=["pos", "neg"],
)
raw_val_ds = keras.utils.text_dataset_from_directory(
    train_dir,
    batch_size=batch_size,
    validation_split=0.2,
    subset="validation",
    seed=1337,
    class_names=["pos", "neg"],
)
raw_test_ds = keras.utils.text_dataset_from_directory(test_dir, batch_size=batch_size, shuffle=False)

print(f"Number of batches in raw_train_ds: {raw_train_ds.cardinality()}")
print(f"Number of batches in raw_val_ds: {raw_val_ds.cardinality()}")
print(f"Number of batches in raw_test_ds: {raw_test_ds.cardinality()}")

# Model constants.
max_features = 2000
embedding_dim = 32
sequence_length = 200

vectorize_layer = keras.layers.TextVectorization(
    max_tokens=max_features,
    output_mode="int",
    output_sequence_length=sequence_length,
)

text_ds = raw_train_ds.map(lambda x, y: x)
vectorize_layer.adapt(text_ds)


def vectorize_text(text, label):
    return vectorize_layer(text), label


train_ds = raw_train_ds.map(vectorize_text)
val_ds = raw_val_ds.map(vectorize_text)
test_ds = raw_test_ds.map(vectorize_text)

train_ds = train_ds.cache().prefetch(buffer_size=10)
val_ds = val_ds.cache().prefetch(buffer_size=10)
test_ds = test_ds.cache().prefetch(buffer_size=10)

inputs = keras.Input(shape=(None,), dtype="int64")
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)
x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.GlobalMaxPooling1D()(x)
x = layers.Dense(32, activation="relu")(x)
x = layers.Dropout(0.5)(x)
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

epochs = 3
history = model.fit(train_ds, validation_data=val_ds, epochs=epochs)
test_loss, test_accuracy = model.evaluate(test_ds)

# A string input
inputs = keras.Input(shape=(1,), dtype="string")
# Turn strings into vocab indices
indices = vectorize_layer(inputs)
# Turn vocab indices into predictions
outputs = model(indices)

# Our end to end model
end_to_end_model = keras.Model(inputs, outputs)
end_to_end_model.compile(
    loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"]
)

# Test it with `raw_test_ds`, which yields raw strings
e2e_loss, e2e_accuracy = end_to_end_model.evaluate(raw_test_ds)

kp_data.report(
    vocabulary_size=len(vectorize_layer.get_vocabulary()),
    vocabulary_head=vectorize_layer.get_vocabulary()[:20],
    indices_shape=list(indices.shape),
    indices_dtype=str(indices.dtype),
    input_dtype=str(inputs.dtype),
    params=model.count_params(),
    history_keys=sorted(history.history),
    test_accuracy=test_accuracy,
    end_to_end_accuracy=e2e_accuracy,
    end_to_end_loss_gap=abs(e2e_loss - test_loss),
)
