"""Log conversion and formatting shared by the callbacks."""
from __future__ import annotations

import sys

import numpy as np


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


def _save_freq_reached(callback, batch) -> bool:
    """Keras's batch counting for an integer ``save_freq`` (ModelCheckpoint, BackupAndRestore): count
    the training batches since the last save, across epochs (``batch`` restarts at 0 each epoch),
    and say when ``save_freq`` of them have passed."""
    last = callback._last_batch_seen
    add_batches = batch + 1 if last is None or batch <= last else batch - last
    callback._batches_seen_since_last_saving += add_batches
    callback._last_batch_seen = batch
    if callback._batches_seen_since_last_saving >= callback.save_freq:
        callback._batches_seen_since_last_saving = 0
        return True
    return False
