"""``TensorBoard``: Keras's logging callback, writing event files that TensorBoard reads without
TensorFlow installed (core.callbacks.event_file)."""
from __future__ import annotations

import os
import time
import warnings

from ._utils import _to_python
from .callback import Callback
from .event_file import EventFileWriter


class TensorBoard(Callback):
    """Log scalars (and weight histograms) for TensorBoard, as Keras 3 does.

    Writes ``<log_dir>/train`` and ``<log_dir>/validation`` event files:

    * every epoch: ``epoch_<metric>`` (train logs and ``epoch_learning_rate`` in ``train``; the
      ``val_`` logs without their prefix in ``validation``), at step = epoch index;
    * with an integer ``update_freq`` (or ``"batch"`` = 1): ``batch_<metric>`` every
      ``update_freq`` training batches, at step = the global batch count (from 1);
    * after each validation: ``evaluation_<metric>_vs_iterations`` at the optimizer's iterations;
    * ``histogram_freq=N``: every N epochs, a histogram of each weight, tagged
      ``<weight path>/histogram``;
    * ``write_graph``: the model's Keras JSON config (TensorBoard's "Keras" graph view);
    * ``write_steps_per_second``: ``epoch_steps_per_second`` and ``batch_steps_per_second``.

    ``write_images``, ``profile_batch`` and ``embeddings_freq`` (images of weights, the profiler,
    the embedding projector) are not available here: a non-default value raises.
    """

    _chief_only = True  # under data parallelism only rank 0 runs it (it prints or writes files)

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        for name, value in (("write_images", write_images), ("profile_batch", profile_batch),
                            ("embeddings_freq", embeddings_freq), ("embeddings_metadata", embeddings_metadata)):
            if value:
                raise ValueError(f"TensorBoard: {name}={value!r} is not supported here (no TensorFlow profiler, "
                                 "weight images or embedding projector); leave it at its default")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, "
                             f"received {update_freq!r}")
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an integer >= 0, received {histogram_freq!r}")
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._batch_start_time = 0.0
        self._epoch_start_time = 0.0
        self._previous_epoch_iterations = 0

    # ------------------------------------------------------------------ writers
    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        if self.write_graph:
            self._write_keras_model_summary()

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = EventFileWriter(self._train_dir if which == "train" else self._val_dir)
        return self._writers[which]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def _write_keras_model_summary(self):
        to_json = getattr(self.model, "to_json", None)
        try:
            text = to_json() if to_json is not None else None
        except Exception as e:   # a subclassed model has no config (Keras warns the same way)
            warnings.warn(f"TensorBoard: model failed to serialize as JSON ({e}); the graph is not written",
                          stacklevel=2)
            return
        if text is not None:
            self._writer("train").text_tensor("keras", text, 0, "graph_keras_model", b"1")

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_test_begin(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_test_end(self, logs=None):
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and hasattr(opt, "iterations") and logs:
            w = self._writer("validation")
            for name, value in logs.items():
                value = _to_python(value)
                if isinstance(value, float):
                    w.scalar(f"evaluation_{name}_vs_iterations", value, int(opt.iterations))
            w.flush()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq != 0:
            return
        w = self._writer("train")
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start_time
            if elapsed > 0:
                w.scalar("batch_steps_per_second", 1.0 / elapsed, self._global_train_batch)
        if isinstance(logs, dict):
            for name, value in logs.items():
                value = _to_python(value)
                if isinstance(value, float):
                    w.scalar(f"batch_{name}", value, self._global_train_batch)

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = int(getattr(self.model.optimizer, "iterations", 0))
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for w in self._writers.values():
            w.flush()

    # ------------------------------------------------------------------ logging
    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and hasattr(opt, "learning_rate"):
            lr = _to_python(opt.learning_rate)
            if isinstance(lr, float):
                train["learning_rate"] = lr
        if self.write_steps_per_second and opt is not None:
            elapsed = time.time() - self._epoch_start_time
            if elapsed > 0:
                train["steps_per_second"] = (int(opt.iterations) - self._previous_epoch_iterations) / elapsed
        for which, values in (("train", train), ("validation", val)):
            if not values:
                continue
            w = self._writer(which)
            for name, value in values.items():
                value = _to_python(value)
                if isinstance(value, float):
                    w.scalar(f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch):
        w = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = (getattr(weight, "path", None) or weight.name).replace(":", "_")
                w.histogram(f"{name}/histogram", weight.numpy(), epoch)
        w.flush()
