"""Text datasets for ``zoo text``: a CSV/TSV file (text and label columns by name, or by 0-based
index with ``no_header``) or a folder per class of ``.txt`` files. Bad rows are reported with
their line numbers; an empty or one-class dataset is refused."""
from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .images import not_regular_file

DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
MAX_LISTED = 5  # bad rows listed in an error message


class DataError(ValueError):
    """A dataset the app cannot use; the message says why and what to do."""


@dataclass
class TextDataset:
    texts: list
    labels: np.ndarray  # int64 indices into class_names
    class_names: list
    skipped: list = field(default_factory=list)  # (file, reason) of folder files that were left out
    label_map: dict = None  # raw label -> name, when label_names renamed them


def resolve_delimiter(path, delimiter=None, sample=""):
    """``delimiter`` by name or character; ``None`` = tab for .tsv/.tab, comma for .csv, else a tab
    if the first line has one, else a comma."""
    if delimiter:
        d = DELIMITERS.get(delimiter.lower(), delimiter)
        if len(d) != 1:
            raise DataError(f"--delimiter must be one character or one of {sorted(DELIMITERS)}, got {delimiter!r}")
        return d
    suffix = Path(path).suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    first = sample.split("\n", 1)[0]
    return "\t" if "\t" in first else ","


def split_columns(specs):
    """``("title,description", "x")`` -> ``["title", "description", "x"]`` (options may repeat)."""
    out = []
    for s in specs or ():
        out += [c.strip() for c in str(s).split(",") if c.strip()]
    return out


def _column_index(spec, header, what, path):
    """The index of column ``spec``: a header name (case-insensitive) or, without a header, a 0-based index."""
    if header is None:
        try:
            i = int(spec)
        except ValueError:
            raise DataError(f"{path}: with --no-header the {what} column must be a 0-based index, got {spec!r}") from None
        if i < 0:
            raise DataError(f"{path}: the {what} column index must be >= 0, got {i}")
        return i
    names = [h.strip() for h in header]
    lower = [h.lower() for h in names]
    if spec in names:
        return names.index(spec)
    if spec.lower() in lower:
        return lower.index(spec.lower())
    raise DataError(f"{path}: no {what} column {spec!r}; the header has {names} "
                    "(name the columns with --text-column/--label-column, or use --no-header with 0-based indices)")


def _label_order(names):
    """Sorted labels; numerically when all are integers (so '2' comes before '10')."""
    try:
        return sorted(names, key=lambda s: (int(s), s))
    except ValueError:
        return sorted(names)


def read_table(path, text_columns=(), label_column=None, no_header=False, delimiter=None, encoding="utf-8"):
    """``(texts, labels)`` as strings from a CSV/TSV file. Defaults: columns ``text`` and ``label``
    with a header; label column 0 and every other column as text with ``no_header``."""
    path = Path(path)
    if not_regular_file(path):   # a FIFO or device would block (or never end) when read
        raise DataError(f"{path}: {not_regular_file(path).replace(': skipped', '')}; give a CSV/TSV file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        content = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not valid {encoding} text (byte {raw[e.start]:#x}); "
                        "pass --encoding (e.g. latin-1)") from None
    except LookupError:
        raise DataError(f"unknown --encoding {encoding!r}") from None
    content = content.lstrip("\ufeff")
    delim = resolve_delimiter(path, delimiter, content[:4096])
    # TSV files are rarely quoted and their texts often hold stray quotes: read tabs literally
    quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    # the csv module's own newline handling (\n, \r, \r\n; newlines inside quotes kept), not
    # str.splitlines, which would also split rows on U+2028, \x0c, \x85 and friends
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delim, quoting=quoting)
    header = None
    rows = []
    try:
        for row in reader:
            if header is None and not no_header:
                if not row or not "".join(row).strip():
                    continue
                header = row
                continue
            rows.append((reader.line_num, row))
    except csv.Error as e:
        raise DataError(f"{path}, line {reader.line_num}: malformed {'TSV' if delim == chr(9) else 'CSV'} ({e})") from None
    if header is None and not no_header:
        raise DataError(f"{path} is empty")
    text_specs = split_columns(text_columns)
    if no_header:
        label_idx = _column_index("0" if label_column is None else str(label_column), None, "label", path)
        text_idx = [_column_index(s, None, "text", path) for s in text_specs] or None  # None: all others
    else:
        label_idx = _column_index(str(label_column or "label"), header, "label", path)
        text_idx = [_column_index(s, header, "text", path) for s in (text_specs or ["text"])]
    if text_idx is not None and label_idx in text_idx:
        raise DataError(f"{path}: column {label_idx} is both the label and a text column")
    needed = max([label_idx] + (text_idx or []))
    texts, labels, bad = [], [], []
    for line, row in rows:
        if not row or not "".join(row).strip():
            continue  # blank line
        if header is not None and len(row) != len(header):
            bad.append(f"line {line}: {len(row)} field(s), the header has {len(header)}")
            continue
        if len(row) <= needed:
            bad.append(f"line {line}: {len(row)} field(s), column {needed} is needed")
            continue
        label = row[label_idx].strip()
        if not label:
            bad.append(f"line {line}: empty label")
            continue
        idx = text_idx if text_idx is not None else [i for i in range(len(row)) if i != label_idx]
        texts.append(" ".join(row[i].strip() for i in idx if row[i].strip()))
        labels.append(label)
    if bad:
        more = f" (and {len(bad) - MAX_LISTED} more)" if len(bad) > MAX_LISTED else ""
        raise DataError(f"{path}: {len(bad)} bad row(s): " + "; ".join(bad[:MAX_LISTED]) + more
                        + (f" (delimiter {delim!r}; set --delimiter if that is wrong)" if "field" in bad[0] else ""))
    return texts, labels


def read_folder(path, encoding="utf-8"):
    """``(texts, labels, skipped)`` from a folder per class of ``.txt`` files (searched recursively)."""
    path = Path(path)
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{path} has no class folders: put the .txt files of each class in a folder named after it")
    texts, labels, skipped = [], [], []
    for c in classes:
        for f in sorted(p for p in (path / c).rglob("*") if p.is_file() and p.suffix.lower() == ".txt"):
            try:
                text = f.read_bytes().decode(encoding).lstrip("\ufeff").strip()
            except UnicodeDecodeError as e:
                skipped.append((str(f), f"{f}: not valid {encoding} text ({e.reason} at byte {e.start})"))
                continue
            except OSError as e:
                skipped.append((str(f), f"{f}: cannot be read ({e.strerror or e})"))
                continue
            if not text:
                skipped.append((str(f), f"{f}: empty"))
                continue
            texts.append(" ".join(text.split()))
            labels.append(c)
    return texts, labels, skipped


def load_text_dataset(data, text_columns=(), label_column=None, no_header=False, delimiter=None, encoding="utf-8",
                      class_names=None, label_names=None) -> TextDataset:
    """Texts and integer labels from a CSV/TSV file or a folder per class.

    ``class_names`` fixes the classes and their order (evaluation with a trained model; unknown
    labels are an error). ``label_names`` renames the labels found: a list, in their sorted order
    (e.g. AG News ``1..4`` -> ``World, Sports, Business, Sci/Tech``), or a dict raw -> name (labels
    it does not name are kept)."""
    data = Path(data)
    if not data.exists():
        raise DataError(f"data not found: {data}")
    skipped = []
    if data.is_dir():
        texts, raw_labels, skipped = read_folder(data, encoding)
    else:
        texts, raw_labels = read_table(data, text_columns, label_column, no_header, delimiter, encoding)
    if not texts:
        raise DataError(f"no texts found in {data}" + (f" ({len(skipped)} file(s) skipped)" if skipped else ""))
    found = _label_order(set(raw_labels))
    rename = None
    if isinstance(label_names, dict):
        rename = {l: label_names.get(l, l) for l in found}
    elif label_names:
        if len(label_names) != len(found):
            raise DataError(f"--label-names gives {len(label_names)} names for the {len(found)} labels {found}")
        rename = dict(zip(found, label_names))
    if rename:
        raw_labels = [rename[l] for l in raw_labels]
        found = [rename[l] for l in found]
    if class_names is None:
        if len(found) < 2:
            raise DataError(f"{data} has a single class ({found[0]!r}): a classifier needs at least two")
        names = found
    else:
        names = list(class_names)
        unknown = sorted(set(found) - set(names))
        if unknown:
            raise DataError(f"labels {unknown[:10]} of {data} are not classes of the model ({names})")
    index = {c: i for i, c in enumerate(names)}
    return TextDataset(texts, np.array([index[l] for l in raw_labels], np.int64), names, skipped, rename)


def parse_label_names(spec):
    """``--label-names``: a comma list, or a file with one name per line."""
    if not spec:
        return None
    p = Path(spec)
    if p.is_file():
        names = [l.strip() for l in p.read_text(encoding="utf-8").splitlines() if l.strip()]
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    if len(set(names)) != len(names):
        raise DataError(f"--label-names has duplicates: {names}")
    return names
