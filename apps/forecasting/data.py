"""Reading a CSV of time series: columns by name, numbers with line-numbered errors, missing-value
filling, dates (format, order, frequency, future dates) and time-ordered splits."""
from __future__ import annotations

import calendar
import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ..images import not_regular_file

MISSING_TOKENS = {"", "na", "nan", "n/a", "null", "none", "?", "-", "--", "#n/a"}
FILL_METHODS = ("ffill", "bfill", "linear", "zero", "drop")
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
                "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m", "%Y/%m", "%Y%m%d", "%Y")
DATE_NAMES = ("date", "datetime", "time", "timestamp", "ds", "month", "day", "week", "year", "period")


class ForecastDataError(ValueError):
    """Bad input data or arguments, explained for the command line."""


def _lines(numbers, limit=8) -> str:
    numbers = list(numbers)
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" (and {len(numbers) - limit} more)" if len(numbers) > limit else "")


# ----------------------------------------------------------------------------- CSV
@dataclass
class Table:
    """A CSV read as text: header names, rows of fields and each row's line number in the file."""
    path: str
    columns: list
    rows: list
    lines: list

    def index(self, name: str, role: str) -> int:
        if name in self.columns:
            return self.columns.index(name)
        lowered = [c.lower() for c in self.columns]
        if name.lower() in lowered and lowered.count(name.lower()) == 1:
            return lowered.index(name.lower())
        raise ForecastDataError(f"{self.path}: no column named {name!r} (the {role}); the columns are "
                                f"{', '.join(repr(c) for c in self.columns)}")


def read_csv(path) -> Table:
    """Read a CSV (comma, semicolon or tab separated; header row first; CRLF or LF; BOM allowed)."""
    p = Path(path)
    if not p.exists():
        raise ForecastDataError(f"no such file: {path}")
    if p.is_dir():
        raise ForecastDataError(f"{path} is a folder; give a CSV file")
    if not_regular_file(p):   # a FIFO or device would block (or never end) when read
        raise ForecastDataError(f"{path}: {not_regular_file(p).replace(': skipped', '')}; give a CSV file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ForecastDataError(f"{path} is not UTF-8 text (byte {e.start}): is it a CSV file?") from None
    if not text.strip():
        raise ForecastDataError(f"{path} is empty: expected a header row and data rows")
    first = text.lstrip().splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, rows, lines = None, [], []
    try:
        for row in reader:
            if not row or all(not f.strip() for f in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                continue
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise ForecastDataError(f"{path}, line {reader.line_num}: not a readable CSV ({e})") from None
    if not rows:
        raise ForecastDataError(f"{path} has a header ({', '.join(header)}) but no data rows")
    return Table(str(path), header, rows, lines)


def _column_text(table: Table, col: int, name: str):
    out = []
    short = []
    for row, line in zip(table.rows, table.lines):
        if col >= len(row):
            short.append(line)
            out.append("")
        else:
            out.append(row[col].strip())
    if short:
        raise ForecastDataError(f"{table.path}: column {name!r} is missing on line(s) {_lines(short)} "
                                f"(those rows have fewer fields than the header's {len(table.columns)})")
    return out


def parse_numbers(table: Table, name: str, role: str):
    """The column as float64 with NaN for missing values, and the line numbers of those.
    Values that are neither numbers nor a missing marker are an error listing their lines."""
    col = table.index(name, role)
    texts = _column_text(table, col, name)
    values = np.empty(len(texts), dtype=np.float64)
    bad, missing = [], []
    for i, t in enumerate(texts):
        if t.lower() in MISSING_TOKENS:
            values[i] = np.nan
            missing.append(table.lines[i])
            continue
        try:
            v = float(t)
        except ValueError:
            bad.append((table.lines[i], t))
            values[i] = np.nan
            continue
        if not math.isfinite(v):
            values[i] = np.nan
            missing.append(table.lines[i])
        else:
            values[i] = v
    if bad:
        shown = ", ".join(f"line {ln}: {v!r}" for ln, v in bad[:6]) + (f" (and {len(bad) - 6} more)" if len(bad) > 6 else "")
        raise ForecastDataError(f"{table.path}: column {name!r} ({role}) has non-numeric values: {shown}. "
                                f"Fix them, or write them as empty/NA and choose --fill "
                                f"({'|'.join(FILL_METHODS)})")
    return values, missing


def fill_missing(values: np.ndarray, method: str) -> np.ndarray:
    """Fill NaN along time (axis 0, per column): ffill/bfill (edges take the nearest value), linear
    interpolation (edges take the nearest value) or zero. ``drop`` is done by the caller."""
    out = values.copy()
    n = out.shape[0]
    for j in range(out.shape[1]):
        col = out[:, j]
        nan = np.isnan(col)
        if not nan.any():
            continue
        if nan.all():
            raise ForecastDataError("a column has no values at all")
        idx = np.arange(n)
        if method == "zero":
            col[nan] = 0.0
        elif method == "linear":
            col[nan] = np.interp(idx[nan], idx[~nan], col[~nan])
        elif method in ("ffill", "bfill"):
            if method == "ffill":
                last = np.where(~nan, idx, 0)
                np.maximum.accumulate(last, out=last)
                first_valid = int(np.argmax(~nan))
                last[:first_valid] = first_valid  # leading gap: the first value
                col[:] = col[last]
            else:
                nxt = np.where(~nan, idx, n - 1)
                nxt = np.minimum.accumulate(nxt[::-1])[::-1]
                last_valid = n - 1 - int(np.argmax(~nan[::-1]))
                nxt[last_valid + 1:] = last_valid  # trailing gap: the last value
                col[:] = col[nxt]
        else:
            raise ForecastDataError(f"unknown --fill {method!r}; choose one of {', '.join(FILL_METHODS)}")
    return out


# ----------------------------------------------------------------------------- dates
@dataclass
class Dates:
    """Parsed timestamps (or None when unparseable: then labels only), their format and step."""
    labels: list
    values: list = None
    fmt: str = None
    step_months: int = 0
    step: timedelta = None

    @property
    def parsed(self) -> bool:
        return self.values is not None

    def describe(self) -> str:
        if self.step_months:
            return {1: "monthly", 3: "quarterly", 12: "yearly"}.get(self.step_months, f"every {self.step_months} months")
        if self.step is None:
            return "unknown"
        s = self.step.total_seconds()
        names = {3600: "hourly", 86400: "daily", 604800: "weekly", 60: "every minute"}
        return names.get(s, f"every {self.step}")

    def season_length(self) -> int:
        """A natural season for the step: 12 for monthly, 4 quarterly, 24 hourly, 7 daily, 52 weekly..."""
        if self.step_months:
            return {1: 12, 3: 4}.get(self.step_months, 1)
        if self.step is None:
            return 1
        s = self.step.total_seconds()
        if s == 86400:
            return 7
        if s == 604800:
            return 52
        if s > 0 and 86400 % s == 0 and s < 86400:
            return int(86400 // s)
        return 1

    def future(self, k: int) -> list:
        """Labels of the ``k`` steps after the last one (``+1``, ``+2``... when dates are unparsed)."""
        if not self.parsed or (not self.step_months and not self.step):
            return [f"+{i}" for i in range(1, k + 1)]
        last = self.values[-1]
        out = []
        for i in range(1, k + 1):
            if self.step_months:
                out.append(_add_months(last, self.step_months * i))
            else:
                out.append(last + self.step * i)
        return [d.strftime(self.fmt) for d in out]

    def subset(self, keep) -> "Dates":
        labels = [l for l, k in zip(self.labels, keep) if k]
        values = [v for v, k in zip(self.values, keep) if k] if self.values is not None else None
        return Dates(labels, values, self.fmt, self.step_months, self.step)


def _add_months(d: datetime, months: int) -> datetime:
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def parse_dates(table: Table, name: str) -> Dates:
    """Parse a date column; check it is strictly increasing; infer the step."""
    col = table.index(name, "date column")
    texts = _column_text(table, col, name)
    empty = [ln for t, ln in zip(texts, table.lines) if not t]
    if empty:
        raise ForecastDataError(f"{table.path}: the date column {name!r} is empty on line(s) {_lines(empty)}")
    fmt = None
    for f in DATE_FORMATS:
        try:
            datetime.strptime(texts[0], f)
            datetime.strptime(texts[-1], f)
        except ValueError:
            continue
        fmt = f
        break
    if fmt is None:
        return Dates(texts)
    values = []
    for t, ln in zip(texts, table.lines):
        try:
            values.append(datetime.strptime(t, fmt))
        except ValueError:
            raise ForecastDataError(f"{table.path}, line {ln}: date {t!r} in column {name!r} does not match "
                                    f"the format of the others ({fmt})") from None
    for i in range(1, len(values)):
        if values[i] <= values[i - 1]:
            what = "repeats" if values[i] == values[i - 1] else "goes back in time"
            raise ForecastDataError(f"{table.path}, line {table.lines[i]}: date {texts[i]!r} {what} after "
                                    f"{texts[i - 1]!r} (line {table.lines[i - 1]}); the rows must be in "
                                    "increasing time order")
    dates = Dates(texts, values, fmt)
    if len(values) >= 2:
        months = [(b.year - a.year) * 12 + b.month - a.month for a, b in zip(values[:-1], values[1:])]
        same_day = all(a.day == b.day or (a.day > 27 and b.day > 27) for a, b in zip(values[:-1], values[1:]))
        if same_day and all(m > 0 for m in months) and all(a.time() == b.time() for a, b in zip(values[:-1], values[1:])):
            dates.step_months = Counter(months).most_common(1)[0][0]
        else:
            dates.step = Counter(b - a for a, b in zip(values[:-1], values[1:])).most_common(1)[0][0]
    return dates


def guess_date_column(table: Table, exclude) -> str | None:
    """A column named like a date (date, time, month...) or the first column whose first value parses."""
    for c in table.columns:
        if c not in exclude and c.strip().lower() in DATE_NAMES:
            return c
    first = table.columns[0]
    if first not in exclude and table.rows[0]:
        value = table.rows[0][0].strip()
        for f in DATE_FORMATS[:-1]:  # a bare year is too easily a number
            try:
                datetime.strptime(value, f)
                return first
            except ValueError:
                continue
    return None


# ----------------------------------------------------------------------------- the series
@dataclass
class Series:
    """Targets (T, C) and features (T, F) as float32, the dates, and what was done to the data."""
    targets: list
    features: list
    values: np.ndarray
    covariates: np.ndarray
    dates: Dates
    date_column: str = None
    notes: list = field(default_factory=list)

    def __len__(self):
        return self.values.shape[0]


def split_names(text) -> list:
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        return [str(t) for t in text]
    names = [t.strip() for t in str(text).split(",")]
    if any(not n for n in names):
        raise ForecastDataError(f"empty column name in {text!r}; give names separated by commas")
    return names


def load_series(path, targets, features=(), date_column=None, fill=None) -> Series:
    """Read the target (and feature) columns of a CSV with their dates; fill or refuse missing values."""
    table = read_csv(path)
    targets, features = split_names(targets), split_names(features)
    if not targets:
        raise ForecastDataError("no target column given (--target COL or COL1,COL2)")
    dup = [c for c, n in Counter(targets + features).items() if n > 1]
    if dup:
        raise ForecastDataError(f"column(s) {', '.join(dup)} given twice among --target/--features")
    cols = [table.columns[table.index(t, "target")] for t in targets]
    fcols = [table.columns[table.index(f, "feature")] for f in features]
    if date_column:
        date_column = table.columns[table.index(date_column, "date column")]
        if date_column in cols + fcols:
            raise ForecastDataError(f"column {date_column!r} is both the date column and a target/feature")
    else:
        date_column = guess_date_column(table, cols + fcols)
    dates = parse_dates(table, date_column) if date_column else Dates([str(i) for i in range(len(table.rows))])
    parsed = [parse_numbers(table, c, "target") for c in cols] + [parse_numbers(table, c, "feature") for c in fcols]
    data = np.stack([p[0] for p in parsed], axis=1) if parsed else np.zeros((len(table.rows), 0))
    notes = []
    nan = np.isnan(data)
    if nan.any():
        lines = [table.lines[i] for i in np.flatnonzero(nan.any(axis=1))]
        per_col = ", ".join(f"{c} ({int(nan[:, j].sum())})" for j, c in enumerate(cols + fcols) if nan[:, j].any())
        if not fill or fill == "none":
            raise ForecastDataError(f"{table.path}: missing values in {per_col} on line(s) {_lines(lines)}; "
                                    f"choose how to fill them with --fill ({'|'.join(FILL_METHODS)})")
        full_nan = [c for j, c in enumerate(cols + fcols) if nan[:, j].all()]
        if full_nan:
            raise ForecastDataError(f"{table.path}: column(s) {', '.join(full_nan)} have no numeric values at all")
        if fill == "drop":
            keep = ~nan.any(axis=1)
            data = data[keep]
            dates = dates.subset(keep)
            notes.append(f"dropped {len(lines)} row(s) with missing values (lines {_lines(lines)})")
        else:
            data = fill_missing(data, fill)
            notes.append(f"filled {int(nan.sum())} missing value(s) in {per_col} with {fill} (lines {_lines(lines)})")
    if data.shape[0] == 0:
        raise ForecastDataError(f"{table.path}: no rows left after dropping the missing values")
    return Series(cols, fcols, data[:, :len(cols)].astype(np.float32), data[:, len(cols):].astype(np.float32),
                  dates, date_column, notes)


# ----------------------------------------------------------------------------- splits
def parse_split(text: str, n: int):
    """``train,val,test`` as fractions (``0.7,0.1,0.2``) or row counts (``8640,2880,2880``); two values
    mean train,test without validation. Returns row counts (their sum may be below n: rows after
    the test part are unused)."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) not in (2, 3) or any(not p for p in parts):
        raise ForecastDataError(f"--split {text!r}: expected train,val,test (e.g. 0.7,0.1,0.2 or 8640,2880,2880) "
                                "or train,test")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise ForecastDataError(f"--split {text!r}: the parts must be numbers") from None
    if any(not math.isfinite(v) or v < 0 for v in nums):
        raise ForecastDataError(f"--split {text!r}: the parts must be non-negative numbers")
    if len(nums) == 2:
        nums = [nums[0], 0.0, nums[1]]
    counts_given = all(float(v).is_integer() and "." not in p for v, p in zip(nums, parts)) and sum(nums) > 1
    if counts_given:
        counts = [int(v) for v in nums]
        if sum(counts) > n:
            raise ForecastDataError(f"--split {text!r} asks for {sum(counts)} rows but the data has {n}")
    else:
        if any(v > 1 for v in nums) or sum(nums) > 1 + 1e-9:
            raise ForecastDataError(f"--split {text!r}: fractions must lie in [0, 1] and sum to at most 1 "
                                    f"(they sum to {sum(nums):g})")
        n_train, n_val = int(round(nums[0] * n)), int(round(nums[1] * n))
        n_test = n - n_train - n_val if abs(sum(nums) - 1) < 1e-9 else int(round(nums[2] * n))
        counts = [n_train, n_val, max(n_test, 0)]
    if counts[0] <= 0:
        raise ForecastDataError(f"--split {text!r} leaves no training rows (data: {n} rows)")
    if counts[2] <= 0:
        raise ForecastDataError(f"--split {text!r} leaves no test rows (data: {n} rows); the test part is "
                                "where the model and the baselines are compared")
    return tuple(counts)
