"""``ProgbarLogger``: Keras's progress bar and epoch lines."""
from __future__ import annotations

import shutil
import sys
import time

from ._utils import _print_msg, _stdout_is_interactive, _format_logs, _format_time_per_step
from .callback import Callback


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

    _chief_only = True  # under data parallelism only rank 0 runs it (it prints or writes files)

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
