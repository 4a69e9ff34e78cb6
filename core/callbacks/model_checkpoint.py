"""``ModelCheckpoint``."""
from __future__ import annotations

import os
import warnings

import numpy as np

from ._utils import _print_msg, _save_freq_reached
from .monitor_callback import MonitorCallback


# Extensions accepted by ModelCheckpoint (Keras 3's); zoo's saving module may extend these.
MODEL_EXTENSIONS = (".keras", ".h5")
WEIGHTS_EXTENSIONS = (".weights.h5",)


class ModelCheckpoint(MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) during training.

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (1-based), ``batch``
    (1-based, with an integer ``save_freq``) and the logs, e.g. ``"{epoch:02d}-{val_loss:.2f}.keras"``.
    ``save_best_only`` saves only when ``monitor`` improves (on ``initial_value_threshold`` too).
    """

    _chief_only = True  # under data parallelism only rank 0 runs it (it prints or writes files)

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' "
                             "or integer values")
        if save_weights_only:
            if not self.filepath.endswith(WEIGHTS_EXTENSIONS):
                raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the "
                                 f"filepath provided must end in {' or '.join(WEIGHTS_EXTENSIONS)}"
                                 f". Received: filepath={self.filepath}")
        elif not self.filepath.endswith(MODEL_EXTENSIONS):
            raise ValueError(f"The filepath provided must end in {' or '.join(MODEL_EXTENSIONS)}. "
                             f"Received: filepath={self.filepath}")

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        return _save_freq_reached(self, batch)

    def _should_save_model(self, epoch, logs, filepath):
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn("Can save best model only when `monitor` is a scalar value. Received: "
                          f"{current}. Falling back to `save_best_only=False`.", stacklevel=2)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                           f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. Filepath "
                          f"used is an existing directory: {filepath}")
        method = "save_weights" if self.save_weights_only else "save"
        save = getattr(self.model, method, None)
        if not callable(save):
            raise NotImplementedError(
                f"ModelCheckpoint(save_weights_only={self.save_weights_only}) needs "
                f"model.{method}(filepath), but {type(self.model).__name__} has no `{method}` "
                "method")
        dirname = os.path.dirname(filepath)
        if dirname and not os.path.exists(dirname):
            os.makedirs(dirname, exist_ok=True)
        save(filepath, overwrite=True)
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}. Available keys: epoch, "
                           f"{', '.join(logs.keys())}") from None
