"""Known-future covariates: calendar features from the dates, public holidays (``--holidays``, with the
optional ``holidays`` package), and user columns whose future values are given (``--future-covariates``).

The networks see covariates over the lookback only, so a known-future column enters *led by the
horizon*: the window ending before origin ``o`` holds its values at ``o - L + H .. o + H - 1``; its last
H rows are the values over the forecast horizon. Training, validation and test windows lie inside the
data; the forecast after the data needs H future values (rows after the last target value, targets
empty, or dates for the calendar).
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np

from .data import ForecastDataError, Series, _add_months

HOLIDAYS_HINT = "pip install holidays (or the extra: pip install 'zoo[holidays]')"


def holiday_calendar(code: str, years):
    """The public holidays of ``code`` ("US", "DE", or with a subdivision "US-CA") over ``years``, from the
    ``holidays`` package; a clear error when it is not installed or does not know the code."""
    try:
        import holidays
    except ImportError:
        raise ForecastDataError(f"--holidays {code} needs the holidays package, which is not installed: "
                                f"{HOLIDAYS_HINT}; or leave --holidays out") from None
    country, _, subdiv = str(code).strip().partition("-")
    try:
        return holidays.country_holidays(country.upper(), subdiv=subdiv.upper() or None, years=sorted(set(years)))
    except (NotImplementedError, KeyError) as e:
        raise ForecastDataError(f"--holidays {code}: {e} (a country code such as US, GB, DE, or with a subdivision "
                                "such as US-CA)") from None


def holiday_feature(values, code: str, step_months=0, step=None):
    """(name, array (n,)): for steps shorter than a day, 1.0 on the dates that are public holidays of
    ``code``; for longer steps (days, weeks, months), the number of holiday dates in each step."""
    cal = holiday_calendar(code, [d.year for d in values] + [values[-1].year + 1])
    seconds = step.total_seconds() if step is not None else None
    days = []
    for i, d in enumerate(values):
        day = d.date()
        if not step_months and seconds is not None and seconds <= 86400:
            days.append(float(day in cal))
            continue
        if i + 1 < len(values):
            end = values[i + 1].date()
        elif step_months:
            end = _add_months(d, step_months).date()
        else:
            end = (d + step).date()
        days.append(float(sum((day + timedelta(k)) in cal for k in range((end - day).days))))
    return f"holidays_{code}", np.asarray(days)


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


def with_known_future(series: Series, horizon: int, calendar: bool = False, holidays: str = None) -> tuple:
    """The series with its known-future columns (user columns and, with ``calendar``, calendar features;
    with ``holidays`` (a country code), the public holidays of that country) led by ``horizon`` and appended to its covariates (NaN where the future values are not given), and the
    names of the columns that lack future values for the forecast after the data ([] when it is possible)."""
    H = int(horizon)
    T = len(series)
    known, names = [], []
    if series.known is not None and series.known.shape[1]:
        known.append(series.known.astype(np.float64))
        names += list(series.known_names)
    if calendar or holidays:
        if not series.dates.parsed:
            raise ForecastDataError(f"--{'calendar' if calendar else 'holidays'} needs dates: name the date column "
                                    "(--date-column)")
        future = series.dates.future(H)
        from .data import _parse_one  # the file's own format reads its future labels back

        later = [_parse_one(t, series.dates.fmt) for t in future] if series.dates.fmt else []
        stamps = list(series.dates.values) + later
        cal_names, cols = [], []
        if calendar:
            cal_names, cal = calendar_features(stamps, series.dates.step_months, series.dates.step)
            cols.append(cal)
        if holidays:
            name, col = holiday_feature(stamps, holidays, series.dates.step_months, series.dates.step)
            cal_names.append(name)
            cols.append(col[:, None])
        cal = np.concatenate(cols, axis=1)
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
