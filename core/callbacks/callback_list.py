"""``CallbackList``: the callbacks of one ``fit``/``evaluate``/``predict`` call, driven together."""
from __future__ import annotations

from .. import distribute
from ._utils import _pythonify_logs, _flatten_callbacks
from .callback import Callback
from .history import History
from .progbar_logger import ProgbarLogger


class CallbackList(Callback):
    """Calls a list of callbacks together (Keras 3 ``CallbackList``).

    ``add_history`` appends a :class:`History` and ``add_progbar`` a :class:`ProgbarLogger`
    (after the user's callbacks, History before the progress bar, as Keras 3 does) unless one
    is already in ``callbacks``. Extra keyword arguments become ``params`` for every callback.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        elif not isinstance(callbacks, (list, tuple)):
            raise TypeError("callbacks must be a list of Callback instances; received "
                            f"{type(callbacks).__name__}")
        self.callbacks = _flatten_callbacks(callbacks)
        if not distribute.writes_files():  # data-parallel, not rank 0: nothing that prints or writes files
            self.callbacks = [c for c in self.callbacks if not getattr(c, "_chief_only", False)]
        for i, c in enumerate(self.callbacks):
            if not isinstance(c, Callback):
                raise TypeError("callbacks must be Callback instances; received "
                                f"{type(c).__name__} at index {i}")
        self._add_default_callbacks(add_history, add_progbar)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history, add_progbar):
        self._progbar = None
        self._history = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar and distribute.writes_files():
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def append(self, callback):
        """Add a callback (it receives this list's model and params)."""
        if not isinstance(callback, Callback):
            raise TypeError(f"append expects a Callback instance; received {type(callback).__name__}")
        self.callbacks.append(callback)
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, name, *args):
        logs = _pythonify_logs(args[-1])
        for callback in self.callbacks:
            getattr(callback, name)(*args[:-1], logs)

    def _call_batch(self, name, batch, logs):
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            getattr(callback, name)(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        self._call_batch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call_batch("on_batch_end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)
