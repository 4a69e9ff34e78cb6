"""Reading a CSV of time series: columns by name, numbers with line-numbered errors, missing-value
filling, dates (format, order, frequency, future dates) and time-ordered splits."""
from __future__ import annotations

import calendar
import csv
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from ..images import not_regular_file

MISSING_TOKENS = {"", "na", "nan", "n/a", "null", "none", "?", "-", "--", "#n/a"}
FILL_METHODS = ("ffill", "bfill", "linear", "zero", "drop")


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
    bad, missing, infinite = [], [], []
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
            infinite.append((table.lines[i], t))
            values[i] = np.nan
        else:
            values[i] = v
    if infinite:
        shown = ", ".join(f"line {ln}: {v!r}" for ln, v in infinite[:6])
        raise ForecastDataError(f"{table.path}: column {name!r} ({role}) has infinite values ({shown}"
                                f"{f' and {len(infinite) - 6} more' if len(infinite) > 6 else ''}); fix them, or "
                                "write them as empty/NA and choose --fill")
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
# Recognised without --date-format, tried in this order: ISO 8601 (dates, date-times with "T" or a space,
# seconds fractions, "Z" or +hh:mm offsets, basic 20200101T1200 and week dates), year-month, year-quarter,
# US and European day orders (chosen by the data; both fitting and neither regular is an error), and month names.
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
                "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m", "%Y/%m", "%Y.%m", "%Y%m%d",
                "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                "%d/%m/%Y %H:%M", "%d.%m.%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d-%m-%Y", "%m-%d-%Y",
                "%b %Y", "%B %Y", "%Y %b", "%b-%Y", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y",
                "%b %d, %Y", "%B %d, %Y", "%Y")
ISO = "iso8601"      # parsed by datetime.fromisoformat (offsets, Z, fractions)
QUARTER = "%Y-Q%q"   # 1990Q1, 1990-Q1, 1990 Q1
DATE_NAMES = ("date", "datetime", "time", "timestamp", "ds", "month", "day", "week", "year", "period", "quarter")
# multi-column dates: year, month [, day [, hour [, minute]]] (names case-insensitive)
DATE_PARTS = ("year", "month", "day", "hour", "minute")
_QUARTER_RE = re.compile(r"^(\d{4})\s*-?\s*[Qq]([1-4])$")


@dataclass
class Dates:
    """Parsed timestamps (or None when there are none: then row labels only), their format and step."""
    labels: list
    values: list = None
    fmt: str = None
    step_months: int = 0
    step: timedelta = None

    @property
    def parsed(self) -> bool:
        return self.values is not None

    def describe(self) -> str:
        if not self.parsed:
            return "no dates"
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
        """Labels of the ``k`` steps after the last one (``+1``, ``+2``... without dates)."""
        if not self.parsed or (not self.step_months and not self.step):
            return [f"+{i}" for i in range(1, k + 1)]
        last = self.values[-1]
        out = []
        for i in range(1, k + 1):
            if self.step_months:
                out.append(_add_months(last, self.step_months * i))
            else:
                out.append(last + self.step * i)
        return [format_date(d, self.fmt, self.labels[-1]) for d in out]

    def subset(self, keep) -> "Dates":
        labels = [l for l, k in zip(self.labels, keep) if k]
        values = [v for v, k in zip(self.values, keep) if k] if self.values is not None else None
        return Dates(labels, values, self.fmt, self.step_months, self.step)


def _add_months(d: datetime, months: int) -> datetime:
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def format_date(d: datetime, fmt: str, like: str) -> str:
    """``d`` written as the dates of the file are (``like``: one of them)."""
    if fmt == QUARTER:
        return f"{d.year}Q{(d.month - 1) // 3 + 1}"
    if fmt != ISO:
        return d.strftime(fmt)
    if d.tzinfo is not None and like.endswith("Z"):
        d = d.astimezone(timezone.utc)
    sep = "T" if "T" in like else " "
    body = like[:-1] if like.endswith("Z") else like
    time_part = body.split(sep, 1)[1] if sep in body else ""
    time_part = re.split(r"[+-]", time_part, maxsplit=1)[0]
    if not time_part and d.tzinfo is None and d.time() == datetime.min.time():
        return d.strftime("%Y-%m-%d")
    if "." in time_part:
        spec = "milliseconds" if len(time_part.split(".")[1]) <= 3 else "microseconds"
    else:
        spec = "minutes" if time_part.count(":") == 1 else "seconds"
    text = d.isoformat(sep=sep, timespec=spec)
    return text[:-6] + "Z" if like.endswith("Z") and text.endswith("+00:00") else text


def _parse_one(text: str, fmt: str) -> datetime:
    if fmt == ISO:
        return datetime.fromisoformat(text)
    if fmt == QUARTER:
        m = _QUARTER_RE.match(text)
        if not m:
            raise ValueError(text)
        return datetime(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
    return datetime.strptime(text, fmt)


def _parse_all(texts, fmt):
    """All values in ``fmt`` (a list of datetimes), or the index of the first that does not match."""
    out = []
    for i, t in enumerate(texts):
        try:
            out.append(_parse_one(t, fmt))
        except ValueError:
            return i
    return out


def _candidate_formats(texts):
    """The known formats the first and last values both match, in the order of DATE_FORMATS."""
    probe = [texts[0], texts[-1]]
    found = []
    for fmt in DATE_FORMATS + (QUARTER, ISO):
        try:
            for t in probe:
                _parse_one(t, fmt)
        except ValueError:
            continue
        found.append(fmt)
    return found


def _increasing(values) -> bool:
    return all(b > a for a, b in zip(values[:-1], values[1:]))


def _regular(values) -> bool:
    if len(values) < 3:
        return True
    steps = Counter(b - a for a, b in zip(values[:-1], values[1:]))
    months = Counter((b.year - a.year) * 12 + b.month - a.month for a, b in zip(values[:-1], values[1:]))
    return len(steps) == 1 or (len(months) == 1 and all(v.day == values[0].day for v in values))


def _utc(values, path, name):
    aware = [v.tzinfo is not None for v in values]
    if any(aware) and not all(aware):
        i = aware.index(not aware[0])
        raise ForecastDataError(f"{path}: the date column {name!r} mixes dates with and without a time zone "
                                f"(row {i + 1}); give every date an offset or none")
    return [v.astimezone(timezone.utc) for v in values] if aware[0] else values


def _detect(texts, path, name, lines):
    """(format, datetimes) of a column in a recognised format; ForecastDataError otherwise."""
    fitting, furthest = [], None
    for fmt in _candidate_formats(texts):
        parsed = _parse_all(texts, fmt)
        if isinstance(parsed, list):
            fitting.append((fmt, parsed))
            if fmt not in ("%m/%d/%Y", "%d/%m/%Y") and not fmt.startswith(("%m/%d/%Y ", "%d/%m/%Y ")):
                break  # only the day orders can both fit and differ
        elif furthest is None or parsed > furthest[1]:
            furthest = (fmt, parsed)
    if not fitting and furthest:
        fmt, i = furthest
        raise ForecastDataError(f"{path}, line {lines[i]}: date {texts[i]!r} in column {name!r} does not match the "
                                f"format of the others ({'ISO 8601' if fmt == ISO else fmt}); fix it, or give the "
                                "format with --date-format")
    if not fitting:
        raise ForecastDataError(f"{path}: the date column {name!r} has dates in a format not recognised "
                                f"(e.g. {texts[0]!r}, line {lines[0]}): give it with --date-format (strptime codes, "
                                "e.g. %d/%m/%Y %H:%M), or --date-column none to number the rows")
    if len(fitting) > 1:
        good = [(f, v) for f, v in fitting if _increasing(_utc(v, path, name)) and _regular(v)]
        if len(good) != 1:
            options = " or ".join(f for f, _ in fitting[:2])
            raise ForecastDataError(f"{path}: the dates of column {name!r} (e.g. {texts[0]!r}) fit both day orders "
                                    f"(month/day and day/month); say which with --date-format {options}")
        fitting = good
    return fitting[0]


def parse_dates(table: Table, name: str, date_format: str = None) -> Dates:
    """Parse a date column (``date_format``: strptime codes, else a recognised format, see DATE_FORMATS);
    check it is strictly increasing; infer the step."""
    col = table.index(name, "date column")
    texts = _column_text(table, col, name)
    empty = [ln for t, ln in zip(texts, table.lines) if not t]
    if empty:
        raise ForecastDataError(f"{table.path}: the date column {name!r} is empty on line(s) {_lines(empty)}")
    if date_format:
        fmt, values = date_format, _parse_all(texts, date_format)
        if not isinstance(values, list):
            i = values
            raise ForecastDataError(f"{table.path}, line {table.lines[i]}: date {texts[i]!r} in column {name!r} does "
                                    f"not match --date-format {date_format!r}")
    else:
        fmt, values = _detect(texts, table.path, name, table.lines)
    return _dates_from(values, texts, fmt, table, f"column {name!r}")


def _dates_from(values, texts, fmt, table, what) -> Dates:
    values = _utc(values, table.path, what)
    for i in range(1, len(values)):
        if values[i] <= values[i - 1]:
            change = "repeats" if values[i] == values[i - 1] else "goes back in time"
            raise ForecastDataError(f"{table.path}, line {table.lines[i]}: date {texts[i]!r} ({what}) {change} after "
                                    f"{texts[i - 1]!r} (line {table.lines[i - 1]}); the rows must be in "
                                    "increasing time order")
    if values and values[0].tzinfo is not None:  # future dates in the last row's offset
        last = datetime.fromisoformat(texts[-1]) if fmt == ISO else values[-1]
        values = [v.astimezone(last.tzinfo) for v in values]
    dates = Dates(texts, values, fmt)
    if len(values) >= 2:
        months = [(b.year - a.year) * 12 + b.month - a.month for a, b in zip(values[:-1], values[1:])]
        same_day = all(a.day == b.day or (a.day > 27 and b.day > 27) for a, b in zip(values[:-1], values[1:]))
        if same_day and all(m > 0 for m in months) and all(a.time() == b.time() for a, b in zip(values[:-1], values[1:])):
            dates.step_months = Counter(months).most_common(1)[0][0]
        else:
            dates.step = Counter(b - a for a, b in zip(values[:-1], values[1:])).most_common(1)[0][0]
    return dates


def date_part_columns(table: Table, exclude=()) -> list:
    """Columns named year, month[, day[, hour[, minute]]] (in that order), or [] when there is no such set."""
    lowered = {c.strip().lower(): c for c in table.columns if c not in exclude}
    found = []
    for part in DATE_PARTS:
        if part not in lowered:
            break
        found.append(lowered[part])
    return found if len(found) >= 2 else []


def parse_date_parts(table: Table, names) -> Dates:
    """Dates built from integer columns year, month, day, hour, minute (the first two at least)."""
    cols = [table.index(n, "date part") for n in names]
    fields = [_column_text(table, c, n) for c, n in zip(cols, names)]
    values, labels = [], []
    for i, ln in enumerate(table.lines):
        try:
            nums = [int(float(f[i])) for f in fields]
            d = datetime(*(nums + [1] * (3 - len(nums)) if len(nums) < 3 else nums))
        except (ValueError, TypeError, OverflowError):
            shown = ", ".join(f"{n}={f[i]!r}" for n, f in zip(names, fields))
            raise ForecastDataError(f"{table.path}, line {ln}: no valid date from the columns {', '.join(names)} "
                                    f"({shown})") from None
        values.append(d)
    fmt = {2: "%Y-%m", 3: "%Y-%m-%d", 4: "%Y-%m-%d %H:00", 5: "%Y-%m-%d %H:%M"}[len(names)]
    labels = [d.strftime(fmt) for d in values]
    return _dates_from(values, labels, fmt, table, "columns " + "/".join(names))


def guess_date_column(table: Table, exclude) -> str | None:
    """A column named like a date (date, time, month...) or the first column whose first and last values
    are dates in a recognised format (not a bare year: too easily a number)."""
    for c in table.columns:
        if c not in exclude and c.strip().lower() in DATE_NAMES:
            return c
    first = table.columns[0]
    if first not in exclude and table.rows[0] and len(table.rows[-1]) > 0:
        texts = [table.rows[0][0].strip(), table.rows[-1][0].strip()]
        if texts[0] and texts[1] and [f for f in _candidate_formats(texts) if f != "%Y"]:
            return first
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
    warnings: list = field(default_factory=list)
    known: np.ndarray = None     # known-future columns (T + k, G): k rows after the last target value
    known_names: list = field(default_factory=list)
    spans: list = None           # long format, different lengths: each target's (start, end) rows (NaN outside)

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


NO_DATES = "none"
# the largest magnitude accepted: squares and sums of the values must stay finite in float64 and the
# values themselves in float32 (the engine's dtype)
MAX_ABS_VALUE = 1e30


def _resolve_dates(table: Table, date_column, date_format, used, warnings):
    """(Dates, the date column name(s) as given to args.json) for the ``--date-column`` choice."""
    if date_column is not None and str(date_column).strip().lower() == NO_DATES:
        if date_format:
            raise ForecastDataError("--date-format given with --date-column none: drop one of them")
        return Dates([str(i) for i in range(len(table.rows))]), NO_DATES
    names = split_names(date_column) if date_column else []
    if len(names) > 1:
        names = [table.columns[table.index(n, "date part")] for n in names]
        clash = [n for n in names if n in used]
        if clash:
            raise ForecastDataError(f"column(s) {', '.join(clash)} are both date parts and targets/features")
        if date_format:
            raise ForecastDataError("--date-format applies to one date column, not to the parts "
                                    f"{', '.join(names)}")
        return parse_date_parts(table, names), ",".join(names)
    if names:
        name = table.columns[table.index(names[0], "date column")]
        if name in used:
            raise ForecastDataError(f"column {name!r} is both the date column and a target/feature")
        return parse_dates(table, name, date_format), name
    parts = date_part_columns(table, used)
    if parts:
        return parse_date_parts(table, parts), ",".join(parts)
    name = guess_date_column(table, used)
    if name is None and date_format and table.columns[0] not in used:
        try:
            _parse_one(table.rows[0][0].strip(), date_format)
            name = table.columns[0]
        except (ValueError, IndexError):
            pass
    if name:
        return parse_dates(table, name, date_format), name
    if date_format:
        raise ForecastDataError(f"--date-format given but {table.path} has no column recognisable as dates: name it "
                                "with --date-column")
    warnings.append(f"warning: {table.path} has no date column that zoo recognises (columns "
                    f"{', '.join(repr(c) for c in table.columns)}): rows are numbered, future steps are labelled "
                    "+1, +2..., and the season length is 1 unless --season-length is given. Name the dates with "
                    "--date-column (and --date-format), or pass --date-column none to number the rows knowingly")
    return Dates([str(i) for i in range(len(table.rows))]), None


def check_magnitude(table: Table, data: np.ndarray, names) -> None:
    """Refuse values whose size the float32 engine cannot scale (beyond +-MAX_ABS_VALUE), naming the line."""
    with np.errstate(invalid="ignore"):
        big = np.abs(np.nan_to_num(data, nan=0.0)) > MAX_ABS_VALUE
    if big.any():
        i, j = (int(v[0]) for v in np.nonzero(big))
        raise ForecastDataError(f"{table.path}, line {table.lines[i]}: {names[j]} = {data[i, j]:g} is beyond "
                                f"+-{MAX_ABS_VALUE:g}, too large to scale in float32; rescale the column (e.g. "
                                "express it in larger units) or fix the value")


def load_series(path, targets, features=(), date_column=None, fill=None, date_format=None, id_column=None,
                future=()) -> Series:
    """Read the target (and feature) columns of a CSV with their dates; fill or refuse missing values.

    ``date_column``: a column name, several comma-separated integer columns (year,month[,day[,hour[,minute]]]),
    ``"none"`` (rows numbered), or None: a column named like a date, year/month/day columns, or a first column
    of dates; none found is warned about (``Series.warnings``). ``date_format``: strptime codes.
    ``id_column``: a long-format file (one row per series and step): each series becomes a target channel
    named by its id (``target@id`` with several targets); series of different dates are aligned on their
    common calendar (NaN outside each series, ``Series.spans``).
    ``future``: known-future columns: their values may continue on rows after the last target value
    (targets empty there), the values over the forecast horizon (``Series.known``)."""
    table = read_csv(path)
    if id_column:
        if split_names(future):
            raise ForecastDataError("--future-covariates with --id-column is not supported")
        return _load_long(table, id_column, targets, features, date_column, fill, date_format)
    return _series_from_table(table, targets, features, date_column, fill, date_format, future)


def _load_long(table, id_column, targets, features, date_column, fill, date_format) -> Series:
    idc = table.index(id_column, "id column")
    id_name = table.columns[idc]
    if split_names(features):
        raise ForecastDataError("--features with --id-column: per-series features are not supported; forecast "
                                "from the targets alone")
    if id_name in split_names(targets) or (date_column and id_name in split_names(date_column)):
        raise ForecastDataError(f"column {id_name!r} is the id column and a target/date column")
    ids = _column_text(table, idc, id_name)
    empty = [ln for v, ln in zip(ids, table.lines) if not v]
    if empty:
        raise ForecastDataError(f"{table.path}: the id column {id_name!r} is empty on line(s) {_lines(empty)}")
    groups = {}
    for i, v in enumerate(ids):
        groups.setdefault(v, []).append(i)
    parts = []
    for sid, idx in groups.items():
        sub = Table(table.path, table.columns, [table.rows[i] for i in idx], [table.lines[i] for i in idx])
        try:
            parts.append((sid, _series_from_table(sub, targets, (), date_column, fill, date_format)))
        except ForecastDataError as e:
            raise ForecastDataError(f"series {sid!r}: {e}") from None
    several = len(parts[0][1].targets) > 1
    names = [f"{t}@{sid}" if several else sid for sid, sr in parts for t in sr.targets]
    if all(sr.dates.labels == parts[0][1].dates.labels for _, sr in parts[1:]):
        first = parts[0][1]
        values, dates, spans = np.concatenate([sr.values for _, sr in parts], axis=1), first.dates, None
        shape = f"{len(first)} steps each"
    else:
        values, dates, spans = _common_grid(table.path, parts)
        lengths = [len(sr) for _, sr in parts]
        shape = f"{min(lengths)} to {max(lengths)} steps, {dates.labels[0]} to {dates.labels[-1]}"
    notes = [f"series {sid}: {n}" for sid, sr in parts for n in sr.notes]
    notes.insert(0, f"{len(parts)} series from the id column {id_name!r} ({shape}), one global model")
    first = parts[0][1]
    out = Series(names, [], values, np.zeros((len(values), 0), np.float32), dates, first.date_column, notes,
                 first.warnings)
    if spans is not None:
        per = len(first.targets)
        out.spans = [span for span in spans for _ in range(per)]
    return out


def _common_grid(path, parts):
    """Series of different dates on one calendar: (values (T, C) with NaN outside each series' rows, the
    common Dates, each series' (start, end) rows). Each series must be a run of consecutive steps of one
    regular calendar shared by all."""
    firsts = [sr for _, sr in parts]
    if any(not sr.dates.parsed for sr in firsts):
        raise ForecastDataError(f"{path}: series of different lengths need dates to align them (name the date "
                                "column with --date-column)")
    label_of = {}
    for sr in firsts:
        label_of.update(zip(sr.dates.values, sr.dates.labels))
    values = sorted(label_of)
    if not _regular(values):
        gaps = Counter(b - a for a, b in zip(values[:-1], values[1:]))
        raise ForecastDataError(f"{path}: the series' dates do not form one regular calendar together (steps "
                                f"{', '.join(str(g) for g in list(gaps)[:3])}): series may start and end at "
                                "different dates but must share the step and have no gaps")
    index = {v: i for i, v in enumerate(values)}
    grid = _dates_from(values, [label_of[v] for v in values], firsts[0].dates.fmt,
                       Table(str(path), [], [[]] * len(values), list(range(1, len(values) + 1))), "dates")
    C = sum(sr.values.shape[1] for sr in firsts)
    out = np.full((len(values), C), np.nan, dtype=np.float32)
    spans, col = [], 0
    for sid, sr in parts:
        start = index[sr.dates.values[0]]
        end = start + len(sr)
        if end > len(values) or values[start:end] != list(sr.dates.values):
            gap = next(v for v, w in zip(values[start:], sr.dates.values) if v != w)
            raise ForecastDataError(f"{path}: series {sid!r} skips steps of the common calendar ({label_of[gap]} "
                                    f"first, between {sr.dates.labels[0]} and {sr.dates.labels[-1]}); give it a row "
                                    "for every step (values empty, with --fill) so each series is a run of "
                                    "consecutive steps")
        out[start:end, col:col + sr.values.shape[1]] = sr.values
        col += sr.values.shape[1]
        spans.append((start, end))
    return out, grid, spans


def _split_future_rows(table, cols, kcols):
    """(table of the rows with targets, known-future values (T + k, G)) where the last k rows have every
    target empty and the known-future columns filled (the values over the horizon)."""
    tidx = [table.index(c, "target") for c in cols]
    k = 0
    for row in reversed(table.rows):
        if all(i < len(row) and row[i].strip().lower() in MISSING_TOKENS for i in tidx):
            k += 1
        else:
            break
    known = np.stack([parse_numbers(table, c, "future covariate")[0] for c in kcols], axis=1)
    gaps = np.isnan(known)
    if gaps.any():
        bad = [(table.lines[i], kcols[j]) for i, j in zip(*np.nonzero(gaps))]
        shown = ", ".join(f"line {ln} ({c})" for ln, c in bad[:6]) + (f" and {len(bad) - 6} more" if len(bad) > 6 else "")
        raise ForecastDataError(f"{table.path}: future covariates need a value on every row, the future rows too: "
                                f"missing on {shown}")
    if k == len(table.rows):
        raise ForecastDataError(f"{table.path}: the target column(s) are empty on every row")
    n = len(table.rows) - k
    return Table(table.path, table.columns, table.rows[:n], table.lines[:n]), known


def _series_from_table(table, targets, features, date_column, fill, date_format, future=()) -> Series:
    targets, features, future = split_names(targets), split_names(features), split_names(future)
    if not targets:
        raise ForecastDataError("no target column given (--target COL or COL1,COL2)")
    dup = [c for c, n in Counter(targets + features + future).items() if n > 1]
    if dup:
        raise ForecastDataError(f"column(s) {', '.join(dup)} given twice among --target/--features/--future-covariates")
    cols = [table.columns[table.index(t, "target")] for t in targets]
    fcols = [table.columns[table.index(f, "feature")] for f in features]
    kcols = [table.columns[table.index(f, "future covariate")] for f in future]
    known = None
    if kcols:
        table, known = _split_future_rows(table, cols, kcols)
    warnings = []
    dates, date_column = _resolve_dates(table, date_column, date_format, cols + fcols + kcols, warnings)
    parsed = [parse_numbers(table, c, "target") for c in cols] + [parse_numbers(table, c, "feature") for c in fcols]
    data = np.stack([p[0] for p in parsed], axis=1) if parsed else np.zeros((len(table.rows), 0))
    check_magnitude(table, data, cols + fcols)
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
    if known is not None and data.shape[0] != len(table.rows):
        raise ForecastDataError("--fill drop with --future-covariates would misalign them: choose another --fill")
    return Series(cols, fcols, data[:, :len(cols)].astype(np.float32), data[:, len(cols):].astype(np.float32),
                  dates, date_column, notes, warnings, known, kcols)


def series_from_arrays(values, dates=None, targets=None, features=None, covariates=None, date_format=None) -> Series:
    """A :class:`Series` from arrays: ``values`` (T,) or (T, C), optional ``covariates`` (T, F), ``dates``
    (datetimes, or strings in a recognised format / ``date_format``; None numbers the rows)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise ForecastDataError(f"values must be (T,) or (T, C) with T > 0, got shape {np.shape(values)}")
    c = np.zeros((len(v), 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    c = c[:, None] if c.ndim == 1 else c
    if c.shape[0] != len(v):
        raise ForecastDataError(f"covariates have {c.shape[0]} rows but values have {len(v)}")
    targets = list(targets) if targets is not None else (["y"] if v.shape[1] == 1 else [f"y{i}" for i in range(v.shape[1])])
    features = list(features) if features is not None else [f"x{i}" for i in range(c.shape[1])]
    if len(targets) != v.shape[1] or len(features) != c.shape[1]:
        raise ForecastDataError(f"{len(targets)} target and {len(features)} feature names for {v.shape[1]} and "
                                f"{c.shape[1]} columns")
    table = Table("<array>", ["date"] + targets + features, [[]] * len(v), list(range(1, len(v) + 1)))
    data = np.concatenate([v, c], axis=1)
    if not np.isfinite(data).all():
        i = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
        raise ForecastDataError(f"row {i}: missing or infinite values; fill them before fitting")
    check_magnitude(table, data, targets + features)
    if dates is None:
        d = Dates([str(i) for i in range(len(v))])
    else:
        dates = list(dates)
        if len(dates) != len(v):
            raise ForecastDataError(f"{len(dates)} dates for {len(v)} rows")
        if all(isinstance(x, datetime) for x in dates):
            texts = [x.isoformat() for x in dates]
            d = _dates_from(dates, texts, ISO, table, "dates")
        else:
            texts = [str(x).strip() for x in dates]
            if date_format:
                parsed = _parse_all(texts, date_format)
                if not isinstance(parsed, list):
                    raise ForecastDataError(f"date {texts[parsed]!r} (row {parsed}) does not match {date_format!r}")
                fmt = date_format
            else:
                fmt, parsed = _detect(texts, "<array>", "dates", table.lines)
            d = _dates_from(parsed, texts, fmt, table, "dates")
    return Series(targets, features, v.astype(np.float32), c.astype(np.float32), d, "date" if dates is not None else None)


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
