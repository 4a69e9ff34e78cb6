"""Known-future covariates: calendar features from the dates, and user columns whose future values are
given (``--future-covariates``).

The networks see covariates over the lookback only, so a known-future column enters *led by the
horizon*: the window ending before origin ``o`` holds its values at ``o - L + H .. o + H - 1``; its last
H rows are the values over the forecast horizon. Training, validation and test windows lie inside the
data; the forecast after the data needs H future values (rows after the last target value, targets
empty, or dates for the calendar).
"""
from __future__ import annotations

import numpy as np

from .data import ForecastDataError, Series


def calendar_features(values, step_months=0, step=None):
    """(names, array (n, K)) of sin/cos calendar cycles suited to the step: month of year (monthly,
    quarterly), day of week and day of year (daily), hour of day and day of week (sub-daily), week of
    year (weekly)."""
    cols = {}

    def cycle(name, x, period):
        cols[f"{name}_sin"] = np.sin(2 * np.pi * np.asarray(x, dtype=np.float64) / period)
        cols[f"{name}_cos"] = np.cos(2 * np.pi * np.asarray(x, dtype=np.float64) / period)

    seconds = step.total_seconds() if step is not None else None
    if step_months in (1, 3):
        cycle("month", [d.month - 1 for d in values], 12)
    elif seconds == 604800:
        cycle("week", [d.isocalendar()[1] - 1 for d in values], 52)
    elif seconds == 86400:
        cycle("weekday", [d.weekday() for d in values], 7)
        cycle("yearday", [d.timetuple().tm_yday - 1 for d in values], 365.25)
    elif seconds and seconds < 86400:
        cycle("hour", [d.hour + d.minute / 60 for d in values], 24)
        cycle("weekday", [d.weekday() + d.hour / 24 for d in values], 7)
    if not cols:
        raise ForecastDataError("--calendar: no calendar cycle fits dates that step "
                                + (f"every {step_months} months" if step_months else f"every {step}"))
    return list(cols), np.stack(list(cols.values()), axis=1)


def with_known_future(series: Series, horizon: int, calendar: bool = False) -> tuple:
    """The series with its known-future columns (user columns and, with ``calendar``, calendar features)
    led by ``horizon`` and appended to its covariates (NaN where the future values are not given), and the
    names of the columns that lack future values for the forecast after the data ([] when it is possible)."""
    H = int(horizon)
    T = len(series)
    known, names = [], []
    if series.known is not None and series.known.shape[1]:
        known.append(series.known.astype(np.float64))
        names += list(series.known_names)
    if calendar:
        if not series.dates.parsed:
            raise ForecastDataError("--calendar needs dates: name the date column (--date-column)")
        future = series.dates.future(H)
        from .data import _parse_one  # the file's own format reads its future labels back

        later = [_parse_one(t, series.dates.fmt) for t in future] if series.dates.fmt else []
        cal_names, cal = calendar_features(list(series.dates.values) + later, series.dates.step_months,
                                           series.dates.step)
        rows = T + (series.known.shape[0] - T if series.known is not None else 0)
        pad = np.full((max(rows, T + H), cal.shape[1]), np.nan)
        pad[:len(cal)] = cal[:len(pad)]
        if known:
            known[0] = np.concatenate([known[0], np.full((len(pad) - len(known[0]), known[0].shape[1]), np.nan)])
        known.append(pad)
        names += cal_names
    if not known:
        return series, []
    k = np.concatenate(known, axis=1)
    led = np.full((T, k.shape[1]), np.nan)
    avail = min(len(k) - H, T)
    if avail > 0:
        led[:avail] = k[H:H + avail]
    lacking = [n for j, n in enumerate(names) if np.isnan(k[T:T + H, j]).any() or len(k) < T + H]
    series.covariates = np.concatenate([series.covariates, led.astype(np.float32)], axis=1)
    series.features = list(series.features) + [f"{n}@+{H}" for n in names]
    return series, lacking
