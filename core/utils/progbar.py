"""``Progbar``: the text progress bar of ``keras.utils.Progbar`` (values averaged over the steps
seen, unless listed in ``stateful_metrics``)."""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from .io_utils import is_interactive_logging_enabled


def _interactive(stream):
    return (hasattr(stream, "isatty") and stream.isatty()) or "ipykernel" in sys.modules \
        or "posix" in os.environ.get("PYCHARM_HOSTED", "")


class Progbar:
    """A progress bar for ``target`` steps (None: unknown).

    ``update(current, values=[(name, value), ...])`` moves it to step ``current``; ``add(n,
    values)`` advances it by ``n``. ``verbose=1`` redraws one line (a new line per update when
    the output is not a terminal), ``verbose=2`` prints one line when the target is reached,
    ``verbose=0`` (or ``disable_interactive_logging()``) prints nothing. Numbers are averaged over the steps they cover, except
    ``stateful_metrics`` (shown as last given).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, unit_name="step",
                 stream=None):
        if target is not None and (not isinstance(target, (int, np.integer)) or target < 0):
            raise ValueError(f"Progbar: target must be a non-negative integer or None, got {target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose must be 0, 1 or 2, got {verbose!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = float(interval)
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        self._stream = stream
        self._dynamic_display = _interactive(self.stream)
        self._seen_so_far = 0
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def update(self, current, values=None, finalize=None):
        """Move the bar to step ``current`` with ``values`` (a list of ``(name, value)``)."""
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        for k, v in values or []:
            v = float(np.asarray(getattr(v, "data", v)).mean()) if not isinstance(v, str) else v
            if k not in self._values_order:
                self._values_order.append(k)
            if k in self.stateful_metrics or isinstance(v, str) or finalize:
                self._values[k] = [v, 1]  # (as Keras: the final update shows the value given)
            else:
                base = max(current - self._seen_so_far, 1)
                total, count = self._values.get(k, [0.0, 0])
                self._values[k] = [total + v * base, count + base]
        self._seen_so_far = current
        now = time.time()
        per_unit = self._time_per_unit(current, now)
        if not is_interactive_logging_enabled():
            self._last_update = now
            return
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._write_line(current, now, per_unit, finalize)
        elif self.verbose == 2 and finalize:
            count = self._count(current)
            self.stream.write(f"{count} - {now - self._start:.0f}s -{self._format_time(per_unit)}"
                              f"{self._format_values()}\n")
            self.stream.flush()
        self._last_update = now

    def add(self, n, values=None):
        """Advance the bar by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    def _count(self, current):
        if self.target is None or self.target == 0:
            return "%7d/Unknown" % current
        digits = int(math.log10(self.target)) + 1
        return f"%{digits}d/%d" % (current, self.target)

    def _write_line(self, current, now, per_unit, finalize):
        bar = self._count(current)
        if self.target:
            done = int(self.width * min(current / self.target, 1.0))
            bar += " [" + "=" * max(done - 1, 0) + (">" if 0 < done < self.width else "=" if done else "") \
                + "." * (self.width - done) + "]"
        if self.target and not finalize:
            eta = per_unit * (self.target - current)
            if eta > 3600:
                eta_text = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
            elif eta > 60:
                eta_text = "%d:%02d" % (eta // 60, eta % 60)
            else:
                eta_text = "%ds" % eta
            info = f" - ETA: {eta_text}"
        else:
            info = f" - {now - self._start:.0f}s{self._format_time(per_unit)}"
        info += self._format_values()
        line = bar + info
        pad = " " * max(self._prev_total_width - len(line), 0)
        prefix = "\r" if self._dynamic_display else ""
        end = "\n" if finalize or not self._dynamic_display else ""
        self.stream.write(prefix + line + pad + end)
        self.stream.flush()
        self._prev_total_width = len(line)

    def _format_values(self):
        out = ""
        for k in self._values_order:
            value, count = self._values[k]
            if isinstance(value, str):
                out += f" - {k}: {value}"
                continue
            avg = value / max(1, count)
            out += f" - {k}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {k}: {avg:.4e}"
        return out

    def _format_time(self, per_unit):
        if not per_unit:
            return ""
        if per_unit >= 1:
            return f" {per_unit:.0f}s/{self.unit_name}"
        if per_unit >= 1e-3:
            return f" {per_unit * 1e3:.0f}ms/{self.unit_name}"
        return f" {per_unit * 1e6:.0f}us/{self.unit_name}"

    def _time_per_unit(self, current, now):
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = now
        if current and self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current if current else 0.0
