"""Training callbacks with Keras 3 names, hooks and semantics.

``fit``/``evaluate``/``predict`` drive a :class:`CallbackList`; every callback sees the same
hooks as in Keras 3 (``on_train_begin``, ``on_epoch_begin``, ``on_train_batch_end``, ...), with
logs converted to Python floats and sorted by key, as Keras' ``pythonify_logs`` does.
"""
from __future__ import annotations

import collections
import csv
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback",
    "MonitorCallback",
]


# ----------------------------------------------------------------------------- helpers
def _to_python(value):
    """A log value as a Python float when it is a scalar (Tensor, NumPy/CuPy array, number)."""
    data = getattr(value, "data", None)
    if data is not None and not isinstance(value, (np.ndarray, np.generic, memoryview)):
        value = data  # a core.Tensor / Parameter
    if hasattr(value, "get") and not isinstance(value, (dict, np.ndarray, np.generic)):
        try:  # CuPy array -> host
            value = value.get()
        except TypeError:
            pass
    if isinstance(value, np.ndarray):
        return float(value.reshape(())) if value.size == 1 and value.dtype.kind in "biuf" else value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _pythonify_logs(logs):
    """Flatten nested dicts and convert values to floats, keys sorted (Keras ``pythonify_logs``)."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
        else:
            result[key] = _to_python(value)
    return result


def _print_msg(message, line_break=True):
    sys.stdout.write(f"{message}\n" if line_break else message)
    sys.stdout.flush()


def _stdout_is_interactive():
    """True when a live, redrawn progress bar makes sense (a terminal or a notebook)."""
    out = sys.stdout
    try:
        if hasattr(out, "isatty") and out.isatty():
            return True
    except (ValueError, OSError):  # closed stream
        return False
    return "ipykernel" in sys.modules


def _format_value(v):
    """Keras Progbar number format: 4 decimals, scientific below 1e-3."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        v = float(v)
        return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"
    return str(v)


def _format_logs(logs):
    return "".join(f" - {k}: {_format_value(v)}" for k, v in (logs or {}).items())


def _format_time_per_step(seconds, unit="step"):
    """Keras ``Progbar._format_time``: s, ms or us per unit."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _get_lr(optimizer):
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute. '
                         f"Received: optimizer={optimizer!r}")
    lr = _to_python(optimizer.learning_rate)
    if not isinstance(lr, float):
        raise ValueError("The optimizer's learning_rate must be a float (not a schedule) for this "
                         f"callback. Received: learning_rate={optimizer.learning_rate!r}")
    return lr


def _flatten_callbacks(callbacks):
    out = []
    for c in callbacks:
        if isinstance(c, (list, tuple)):
            out.extend(_flatten_callbacks(c))
        else:
            out.append(c)
    return out


# ----------------------------------------------------------------------------- base
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
        if self._progbar is None and add_progbar:
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


# ----------------------------------------------------------------------------- History
class History(Callback):
    """Records epoch logs: ``history`` (dict of lists, one entry per epoch) and ``epoch``
    (0-based epoch indices). ``fit`` returns it and sets ``model.history``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


# ----------------------------------------------------------------------------- ProgbarLogger
class ProgbarLogger(Callback):
    """Prints progress and metrics to ``sys.stdout`` (driven by ``params["verbose"]``).

    * ``verbose=1`` (or ``"auto"``) on a terminal/notebook: a live tqdm bar per epoch with
      "Epoch i/N", steps n/total, ETA and running metrics; at epoch end the elapsed time, time
      per step and the validation metrics.
    * ``verbose=2``, or ``verbose=1`` when stdout is not a terminal (log files): exactly one line
      per epoch, ``Epoch 3/10 - 2s - 5ms/step - accuracy: 0.9300 - loss: 0.2100 - val_...``.
    * ``verbose=0``: silent.

    ``evaluate`` and ``predict`` get the same treatment (a bar, or one final line); validation
    inside ``fit`` is silent. Unknown step counts give a bar without total.
    """

    refresh_interval = 0.1  # seconds between live-bar redraws

    def __init__(self, count_mode="steps"):
        super().__init__()
        if count_mode != "steps":
            raise ValueError(f'ProgbarLogger supports count_mode="steps" only. Received: '
                             f"count_mode={count_mode!r}")
        self.count_mode = count_mode
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.seen = 0
        self._called_in_fit = False
        self._bar = None
        self._desc = ""
        self._start = None
        self._time_after_first_step = None
        self._active = False
        self._dynamic = False

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(f'verbose must be 0, 1, 2 or "auto". Received: verbose={verbose!r}')
        self.verbose = int(verbose)
        self.epochs = params.get("epochs", 1) or 1
        self.target = params.get("steps")

    # --- hooks
    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit is silent

    def on_train_end(self, logs=None):
        self._close_bar()
        self._called_in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._start_progress(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._start_progress("")

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._start_progress("")

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # predictions are not displayed

    def on_predict_end(self, logs=None):
        self._finalize(None)

    # --- implementation
    def _start_progress(self, desc):
        self._close_bar()
        self.seen = 0
        self._desc = desc
        self._start = time.time()
        self._time_after_first_step = None
        self._active = self.verbose != 0
        self._dynamic = self.verbose == 1 and _stdout_is_interactive()
        if self._active and self._dynamic:
            from tqdm import tqdm

            total = self.target if self.target else None
            # live redraws are trimmed to the terminal width (a wrapped line cannot be redrawn)
            size = shutil.get_terminal_size((100, 24))  # falls back when the tty reports 0x0
            ncols = size.columns if size.columns > 0 else 100
            nrows = size.lines if size.lines > 1 else 24
            self._bar = tqdm(total=total, file=sys.stdout, leave=True, ncols=ncols, nrows=nrows,
                             mininterval=self.refresh_interval,
                             bar_format=self._bar_format(final=False, info=""), ascii=None)

    def _bar_format(self, final, info):
        desc = f"{self._desc} " if self._desc else ""
        info = info.replace("{", "{{").replace("}", "}}")
        if self.target:
            when = "" if final else " ETA {remaining}"
            return desc + "{n_fmt}/{total_fmt} |{bar:20}|" + when + info
        return desc + "{n_fmt}/Unknown {elapsed}" + info

    def _time_per_step(self, now):
        if not self.seen:
            return 0.0
        if self._time_after_first_step is not None and self.seen > 1:
            return (now - self._time_after_first_step) / (self.seen - 1)
        return (now - self._start) / self.seen

    def _update(self, batch, logs):
        if not self._active:
            return
        self.seen = batch + 1
        if self.seen == 1:
            self._time_after_first_step = time.time()
        if self._bar is not None:
            self._bar.bar_format = self._bar_format(final=False, info=_format_logs(logs))
            self._bar.update(self.seen - self._bar.n)

    def _finalize(self, logs):
        if not self._active:
            return
        self._active = False
        now = time.time()
        if not self.target:
            # unknown step count (generators): learn it from the first pass, as Keras does
            self.target = self.seen or None
        timing = f" - {now - self._start:.0f}s - {_format_time_per_step(self._time_per_step(now))}"
        if self._bar is not None:
            bar = self._bar
            bar.bar_format = self._bar_format(final=True, info=timing + _format_logs(logs))
            if bar.total is None and self.target:
                bar.total = self.target
            bar.n = self.seen if self.seen else (bar.total or 0)
            bar.ncols = None  # the final line is drawn once: keep all metrics, untrimmed
            bar.close()  # draws the final state once, then a newline
            self._bar = None
        else:
            head = self._desc if self._desc else f"{self.seen}/{self.target or self.seen}"
            _print_msg(head + timing + _format_logs(logs))

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# ----------------------------------------------------------------------------- monitors
_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "iou",
              "r2_score", "cosine_similarity", "pearson", "concordance")
_MIN_HINTS = ("loss", "error", "crossentropy", "hinge", "divergence", "poisson", "logcosh",
              "squared", "absolute")


def _iter_metrics(model):
    """All metric objects reachable from ``model.metrics`` (containers flattened)."""
    stack = list(getattr(model, "metrics", None) or [])
    seen = set()
    while stack:
        m = stack.pop(0)
        if id(m) in seen:
            continue
        seen.add(id(m))
        yield m
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack.extend(inner)


class MonitorCallback(Callback):
    """Base of callbacks that watch ``logs[monitor]`` for improvements (Keras 3 semantics).

    ``mode="auto"``: "loss"/"val_loss" is minimised; otherwise the metric's ``_direction``
    ("up"/"down") is used when the model's metric of that name has one, as Keras 3 does; zoo
    then falls back on the directions of the Keras built-in metric names (accuracy, auc,
    precision, recall, ... maximised; errors, crossentropies ... minimised); anything else raises.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{self.__class__.__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = np.less
            for m in _iter_metrics(self.model):
                if getattr(m, "name", None) == name and hasattr(m, "_direction"):
                    self.monitor_op = np.greater if m._direction == "up" else np.less
            if self.monitor_op is None:
                lname = name.lower()
                if any(h in lname for h in _MAX_HINTS):
                    self.monitor_op = np.greater
                elif any(h in lname for h in _MIN_HINTS):
                    self.monitor_op = np.less
            if self.monitor_op is None:
                raise ValueError(
                    f"{self.__class__.__name__} callback received monitor={self.monitor}, but "
                    "it isn't possible to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                    "highest metric value, or pass `mode='min'` in order to use the lowest value.")
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


class EarlyStopping(MonitorCallback):
    """Stop training when ``monitor`` has stopped improving (Keras 3 semantics).

    Each epoch from ``start_from_epoch`` on counts as a wait unless the value improves on the
    best by more than ``min_delta`` (and on ``baseline`` when given); training stops when the
    wait reaches ``patience`` (never at epoch 0). With ``restore_best_weights`` the weights of the
    best epoch are restored at the end of training, whether or not it stopped early.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print_msg("Restoring model weights from the end of the best epoch: "
                           f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(list(logs.keys()))}",
                          stacklevel=2)
        return value


# Extensions accepted by ModelCheckpoint (Keras 3's); zoo's saving module may extend these.
MODEL_EXTENSIONS = (".keras", ".h5")
WEIGHTS_EXTENSIONS = (".weights.h5",)


class ModelCheckpoint(MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) during training.

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (1-based), ``batch``
    (1-based, with an integer ``save_freq``) and the logs, e.g. ``"{epoch:02d}-{val_loss:.2f}.keras"``.
    ``save_best_only`` saves only when ``monitor`` improves (on ``initial_value_threshold`` too).
    """

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
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            add_batches = batch + 1  # new epoch; batches are 0-based
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

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


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` epochs; then wait ``cooldown`` epochs; never below ``min_lr``.
    Adds ``"learning_rate"`` to the epoch logs (Keras 3)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             f"factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def _reduce_lr(self, optimizer, epoch):
        old_lr = _get_lr(optimizer)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                           f"{new_lr}.")
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _get_lr(self.model.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          "which is not available. Available metrics are: "
                          f"{','.join(list(logs.keys()))}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(self.model.optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0


class LearningRateScheduler(Callback):
    """Before each epoch set ``optimizer.learning_rate = schedule(epoch, lr)`` (0-based epoch);
    a one-argument ``schedule(epoch)`` is accepted too. Adds ``"learning_rate"`` to epoch logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"schedule must be callable as schedule(epoch, lr). Received: {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = _get_lr(optimizer)
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:  # old API: schedule(epoch)
            new_lr = self.schedule(epoch)
        if isinstance(new_lr, bool) or not isinstance(new_lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {new_lr!r}")
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                       f"{new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model.optimizer)


class CSVLogger(Callback):
    """Stream epoch logs to a CSV file: an ``epoch`` column (0-based) then the sorted log keys
    (``val_*`` columns added when the first epoch has none, as Keras). ``append`` continues an
    existing file without repeating its header."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(k):
            is_zero_dim = isinstance(k, np.ndarray) and k.ndim == 0
            if isinstance(k, str):
                return k
            if isinstance(k, collections.abc.Iterable) and not is_zero_dim:
                return f'"[{", ".join(map(str, k))}]"'
            return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.csv_file is None:
            raise RuntimeError("CSVLogger.on_epoch_end called before on_train_begin opened "
                               f"{self.filename}")
        if not self.writer:
            class CustomDialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=CustomDialect)
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Stop training (``model.stop_training = True``) when a batch loss is NaN or infinite;
    ``raise_error=True`` raises a RuntimeError instead."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = _to_python(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            _print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback built from functions: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``; any other hook by
    keyword (e.g. ``on_test_end=fn``)."""

    _HOOKS = ("on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
              "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
              "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
              "on_predict_begin", "on_predict_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        unknown = sorted(set(kwargs) - set(self._HOOKS))
        if unknown:
            raise ValueError(f"LambdaCallback got unknown hooks {unknown}; expected some of "
                             f"{list(self._HOOKS)}")
        self.__dict__.update(kwargs)
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin),
                         ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, name, fn)
