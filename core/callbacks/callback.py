"""The base class of callbacks."""
from __future__ import annotations


class Callback:
    """Base class of callbacks: every hook is a no-op; override the ones you need.

    Attributes: ``model`` (set by ``set_model``) and ``params`` (dict with ``verbose``,
    ``epochs``, ``steps``; set by ``set_params``).
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Backwards-compatible alias of ``on_train_batch_begin``."""

    def on_batch_end(self, batch, logs=None):
        """Backwards-compatible alias of ``on_train_batch_end``."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (``epoch`` is 0-based)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch with the epoch's metrics (``val_*`` when validating)."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before a training batch; calls ``on_batch_begin`` (Keras compatibility)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch with running averages; calls ``on_batch_end``."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before an evaluate/validation batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after an evaluate/validation batch with running averages."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a predict batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after a predict batch."""

    def on_train_begin(self, logs=None):
        """Called at the start of ``fit``."""

    def on_train_end(self, logs=None):
        """Called at the end of ``fit`` with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Called at the start of ``evaluate`` or of a validation pass."""

    def on_test_end(self, logs=None):
        """Called at the end of ``evaluate`` or of a validation pass."""

    def on_predict_begin(self, logs=None):
        """Called at the start of ``predict``."""

    def on_predict_end(self, logs=None):
        """Called at the end of ``predict``."""
