"""Progress the same way on every command: a live tqdm bar on a terminal, plain lines in logs (a
file or a pipe), nothing with ``-q``. Progress goes to stderr; results go to stdout."""
from __future__ import annotations

import sys
import time

from core.callbacks import Callback


def interactive() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A counter of items done: ``update(n)``, ``close()``. On a terminal a tqdm bar; otherwise a
    plain line at every tenth of the way (and at the end); silent when ``quiet``."""

    def __init__(self, total, desc, unit="it", quiet=False):
        self.total, self.desc, self.unit, self.quiet = int(total), desc, unit, quiet
        self.done, self._next_line, self._bar, self._t0 = 0, 0.1, None, time.perf_counter()
        if not quiet and interactive():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)

    def update(self, n=1):
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif not self.quiet and self.total and self.done / self.total >= self._next_line - 1e-9:
            while self._next_line <= self.done / self.total + 1e-9:
                self._next_line += 0.1
            print(f"{self.desc}: {self.done}/{self.total} {self.unit} ({time.perf_counter() - self._t0:.0f} s)",
                  file=sys.stderr, flush=True)

    def __call__(self, n=1):  # usable where a callable progress hook is expected
        self.update(n)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fmt(v):
    v = float(v)
    return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"


class EpochProgress(Callback):
    """``fit`` progress for the apps (pass ``verbose=0`` to fit): per epoch a live tqdm bar over the
    batches on a terminal, and one plain line with the epoch's metrics everywhere (unless quiet).
    ``first_epoch`` numbers a later stage on from an earlier one; ``max_lines`` caps the plain lines of
    many short epochs (every k-th epoch and the last one run are printed). Under data-parallel
    training only rank 0 prints (``fit`` leaves it out on the other ranks)."""

    _chief_only = True

    def __init__(self, total_epochs, first_epoch=0, quiet=False, steps=None, max_lines=None):
        super().__init__()
        self.total_epochs, self.first_epoch, self.quiet, self.steps = total_epochs, first_epoch, quiet, steps
        self.every = max(-(-int(total_epochs) // int(max_lines)), 1) if max_lines else 1
        self._bar, self._t0, self._pending = None, 0.0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        if not self.quiet and interactive():
            from tqdm import tqdm

            n = self.first_epoch + epoch + 1
            self._bar = tqdm(total=self.steps, desc=f"epoch {n}/{self.total_epochs}", unit="batch",
                             file=sys.stderr, dynamic_ncols=True, leave=False)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)
            if logs:
                self._bar.set_postfix({k: _fmt(v) for k, v in logs.items() if k in ("loss", "accuracy")},
                                      refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.quiet:
            return
        n = self.first_epoch + epoch + 1
        metrics = " - ".join(f"{k}: {_fmt(v)}" for k, v in (logs or {}).items()
                             if isinstance(v, (int, float)) or hasattr(v, "__float__"))
        line = f"epoch {n}/{self.total_epochs} - {time.perf_counter() - self._t0:.0f}s - {metrics}"
        if (epoch + 1) % self.every and n != self.total_epochs:
            self._pending = line
            return
        self._pending = None
        print(line, file=sys.stderr, flush=True)

    def on_train_end(self, logs=None):
        if self._pending is not None:  # the last epoch run (early stopping) is always shown
            print(self._pending, file=sys.stderr, flush=True)
            self._pending = None
