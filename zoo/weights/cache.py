"""The on-disk cache: where files live, the verification sidecar, hashing.

Layout under :func:`cache_dir`::

    <key>/<filename>                 the verified file
    <key>/<filename>.verified.json   sidecar: size, mtime_ns and the hash checked
    <key>/<filename>.part            a download in progress (resumed with HTTP Range)
    .locks/<key>.lock                the inter-process lock of that entry

A cached file's size is checked on every use; its hash only when the sidecar is missing or
no longer matches the file's size and mtime (or was written for another checksum).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from core.saving.atomic import atomic_write

from .errors import ChecksumError
from .manifest import checksum_of

ENV_HOME = "ZOO_HOME"
SIDECAR_SUFFIX = ".verified.json"
PART_SUFFIX = ".part"
CHUNK = 1 << 20


def cache_root() -> Path:
    """``$ZOO_HOME``, else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``."""
    home = os.environ.get(ENV_HOME)
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "zoo"
    return Path.home() / ".cache" / "zoo"


def cache_dir() -> Path:
    """The folder that holds downloaded weights: ``<cache root>/weights``."""
    return cache_root() / "weights"


def entry_path(entry: dict) -> Path:
    return cache_dir() / entry["key"] / entry["filename"]


def pins_path() -> Path:
    """``<cache>/pins.json``: full SHA-256 hashes recorded by ``zoo weights import`` for entries the
    manifest pins only by a prefix (kept across purges)."""
    return cache_dir() / "pins.json"


def read_pins() -> dict:
    try:
        with open(pins_path(), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and len(v) == 64} if isinstance(data, dict) else {}


def record_pin(key: str, sha256_hex: str) -> None:
    pins = read_pins()
    pins[key] = sha256_hex
    pins_path().parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(pins_path(), "w") as f:
        json.dump(pins, f, indent=1, sort_keys=True)


def with_local_pin(entry: dict) -> dict:
    """``entry`` checked by the full SHA-256 pinned locally when the manifest gives only a prefix
    (and the pin agrees with it); else ``entry`` unchanged."""
    if "sha256_prefix" not in entry:
        return entry
    pin = read_pins().get(entry["key"])
    if not pin or not pin.startswith(entry["sha256_prefix"]):
        return entry
    out = {k: v for k, v in entry.items() if k != "sha256_prefix"}
    out["sha256"] = pin
    out["pinned_locally"] = True
    return out


def checksum_strength(entry: dict) -> str:
    """How strongly the entry's file is pinned, for listings."""
    algo, expected = checksum_of(with_local_pin(entry))
    if algo == "sha256":
        return "sha256 (local pin)" if "sha256_prefix" in entry else "sha256"
    if algo == "sha256_prefix":
        return f"sha256 prefix, {4 * len(expected)} bits (weak)"
    return "md5"


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def part_path(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


def lock_path(entry: dict) -> Path:
    return cache_dir() / ".locks" / f"{entry['key']}.lock"


def new_hasher(algo: str):
    return hashlib.md5() if algo == "md5" else hashlib.sha256()


def hash_file(path: Path, algo: str, hasher=None):
    h = hasher if hasher is not None else new_hasher(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h


def digest_matches(algo: str, expected: str, actual_hex: str) -> bool:
    if algo == "sha256_prefix":
        return actual_hex.startswith(expected)
    return actual_hex == expected


def describe_expected(entry: dict) -> str:
    algo, expected = checksum_of(entry)
    return f"sha256 prefix {expected}" if algo == "sha256_prefix" else f"{algo} {expected}"


def hash_name(algo: str) -> str:
    return "md5" if algo == "md5" else "sha256"


def mismatch_message(entry: dict, *, where: str, path: Path, actual_size: int, actual_hex: str | None,
                     extra: str = "") -> str:
    algo, expected = checksum_of(entry)
    exp_size = entry.get("size_bytes")
    exp_size_s = f"{exp_size} bytes" if exp_size is not None else "unpublished (not checked)"
    actual_hash = f"{hash_name(algo)} {actual_hex}" if actual_hex else "not computed"
    lines = [
        f"checksum mismatch for {entry['key']!r} {where}",
        f"  expected size: {exp_size_s}; actual size: {actual_size} bytes",
        f"  expected hash: {describe_expected(entry)}; actual hash: {actual_hash}",
        f"  cache path: {path}",
    ]
    if extra:
        lines.append(f"  {extra}")
    return "\n".join(lines)


def read_sidecar(path: Path) -> dict | None:
    try:
        with open(sidecar_path(path), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def write_sidecar(path: Path, entry: dict, actual_hex: str) -> None:
    algo, expected = checksum_of(entry)
    st = path.stat()
    data = {
        "key": entry["key"],
        "file": path.name,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "algorithm": algo,
        "expected": expected,
        "actual": actual_hex,
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with atomic_write(sidecar_path(path), "w") as f:
        json.dump(data, f, indent=1)


def remove_sidecar(path: Path) -> None:
    try:
        sidecar_path(path).unlink()
    except FileNotFoundError:
        pass


def sidecar_valid(path: Path, entry: dict, st: os.stat_result) -> bool:
    side = read_sidecar(path)
    if not side:
        return False
    algo, expected = checksum_of(entry)
    return (
        side.get("size") == st.st_size
        and side.get("mtime_ns") == st.st_mtime_ns
        and side.get("algorithm") == algo
        and side.get("expected") == expected
    )


def check_file(path: Path, entry: dict, *, full: bool = False, record: bool = True) -> None:
    """Raise ChecksumError unless ``path`` is a good copy of ``entry``.

    Size is always compared (with the manifest, or with the sidecar's verified size when the
    manifest has none). The hash is computed when ``full`` is true or the sidecar is missing or
    stale; a good result is recorded in the sidecar when ``record`` is true.
    """
    st = path.stat()
    exp_size = entry.get("size_bytes")
    side = read_sidecar(path)
    if exp_size is None and side and side.get("algorithm") == checksum_of(entry)[0] \
            and side.get("expected") == checksum_of(entry)[1]:
        exp_size = side.get("size")  # verified earlier
    if exp_size is not None and st.st_size != exp_size:
        raise ChecksumError(mismatch_message(
            entry, where="in the cache", path=path, actual_size=st.st_size, actual_hex=None,
            extra=f"the size differs from {exp_size} bytes, so the hash was not computed",
        ))
    if not full and sidecar_valid(path, entry, st):
        return
    algo, expected = checksum_of(entry)
    actual = hash_file(path, algo).hexdigest()
    if not digest_matches(algo, expected, actual):
        raise ChecksumError(mismatch_message(
            entry, where="in the cache", path=path, actual_size=st.st_size, actual_hex=actual,
        ))
    if record:
        write_sidecar(path, entry, actual)


def is_cached(entry: dict) -> bool:
    """Cheap: the file exists and has the expected size (no hashing)."""
    path = entry_path(entry)
    try:
        st = path.stat()
    except OSError:
        return False
    exp = entry.get("size_bytes")
    if exp is None:
        side = read_sidecar(path)
        exp = side.get("size") if side else None
    return exp is None or st.st_size == exp
