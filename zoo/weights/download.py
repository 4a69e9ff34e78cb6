"""Fetching, verifying, importing and purging weight files.

``requests`` and ``tqdm`` are imported inside the functions that need them, so importing
``zoo.weights`` stays cheap.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

from . import cache as _cache
from .cache import (
    cache_dir, check_file, checksum_strength, digest_matches, entry_path, hash_file, lock_path,
    mismatch_message, new_hasher, part_path, record_pin, remove_sidecar, with_local_pin, write_sidecar,
)
from .errors import ChecksumError, DownloadError, NotCachedError, OfflineError, WeightsError
from .lock import FileLock
from .manifest import checksum_of, get_entry, load

log = logging.getLogger("zoo.weights")

ENV_MIRROR = "ZOO_MIRROR"
ENV_OFFLINE = "ZOO_OFFLINE"
DEFAULT_TIMEOUT = (15.0, 60.0)  # (connect, read) seconds; read = longest silence allowed
DEFAULT_RETRIES = 4             # retries per URL after a connection error, timeout or 5xx
DEFAULT_BACKOFF = 1.0           # first retry waits backoff s, then 2x, 4x ... (at most MAX_BACKOFF)
MAX_BACKOFF = 30.0
MAX_ATTEMPTS_PER_URL = 100      # resumes that make progress do not count as failures; this caps them
NET_CHUNK = 1 << 16
MAX_UNSIZED_BYTES = 4 << 30     # the most written for an entry whose size is unpublished
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


def is_offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def candidate_urls(entry: dict) -> list[str]:
    """``$ZOO_MIRROR/<filename>`` first when set, then the manifest's URLs in order."""
    urls: list[str] = []
    mirror = os.environ.get(ENV_MIRROR, "").strip()
    if mirror:
        urls.append(mirror.rstrip("/") + "/" + entry["filename"])
    for u in entry["urls"]:
        if u not in urls:
            urls.append(u)
    return urls


def manual_howto(entry: dict, path: Path) -> str:
    """What to do without network access: the file's URL, size and checksum, the exact
    ``zoo weights import`` command, and the ``ZOO_MIRROR`` alternative."""
    size = entry.get("size_bytes")
    what = f"{size} bytes, " if size is not None else ""
    return (
        f"To place the file by hand, download it on a machine with network access:\n"
        f"    {entry['urls'][0]}\n"
        f"    ({entry['filename']}, {what}{_cache.describe_expected(entry)})\n"
        f"then run:\n"
        f"    zoo weights import {entry['key']} /path/to/{entry['filename']}\n"
        f"which verifies it and stores it at {path}\n"
        f"Or serve the file from a mirror you control: {ENV_MIRROR}=https://mirror.example/dir/ fetches "
        f"<mirror>/{entry['filename']} (checksum still enforced)."
    )


def _offline_message(entry: dict, path: Path, problem: str | None) -> str:
    head = (f"{ENV_OFFLINE}=1 forbids network access and {entry['key']!r} is not in the cache."
            if problem is None else
            f"{ENV_OFFLINE}=1 forbids network access and the cached copy of {entry['key']!r} is bad:\n{problem}")
    return f"{head}\n{manual_howto(entry, path)}\n(or unset {ENV_OFFLINE} to let zoo download it)."


class _HTTPStatus(Exception):
    def __init__(self, code: int, reason: str):
        self.code = code
        super().__init__(f"HTTP {code} {reason}".rstrip())


class _Incomplete(Exception):
    """The body ended before the announced/expected length: resume with Range."""


def _show_progress(progress) -> bool:
    if progress is None:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return bool(progress)


class _NullBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _make_bar(show: bool, total: int | None, initial: int, desc: str):
    if not show:
        return _NullBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a declared dependency
        return _NullBar()
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)


def _timeout_tuple(timeout) -> tuple[float, float]:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, (int, float)):
        return (float(timeout), float(timeout))
    return (float(timeout[0]), float(timeout[1]))


def _attempt(session, url: str, entry: dict, dest: Path, part: Path, show: bool, timeout,
             _restarted: bool = False) -> str:
    """One GET of ``url`` into ``part`` (resuming it when the server honours Range).

    Returns the verified hex digest. Raises ChecksumError (part deleted), _HTTPStatus,
    _Incomplete or a requests exception.
    """
    import requests

    algo, expected = checksum_of(entry)
    exp_size = entry.get("size_bytes")
    offset = part.stat().st_size if part.exists() else 0
    if exp_size is not None and offset >= exp_size:
        # A leftover part as long as the file (or longer) that was never verified: start over.
        part.unlink()
        offset = 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    resp = session.get(url, headers=headers, stream=True, timeout=timeout, allow_redirects=True)
    with resp:
        restart = resp.status_code == 416 and offset  # our part is not a prefix the server knows
        if not restart and offset and resp.status_code == 206:
            cr = resp.headers.get("Content-Range", "")
            m = re.match(r"bytes (\d+)-", cr)
            restart = not m or int(m.group(1)) != offset
        if restart:
            part.unlink()
            if _restarted:
                raise _Incomplete(f"server answered a request from byte {offset} with "
                                  f"{resp.status_code} {resp.headers.get('Content-Range', '')}".rstrip())
            resp.close()
            return _attempt(session, url, entry, dest, part, show, timeout, _restarted=True)
        if resp.status_code >= 400:
            raise _HTTPStatus(resp.status_code, resp.reason or "")
        if offset and resp.status_code == 206:  # Content-Range start == offset, checked above
            hasher = hash_file(part, algo)
            mode = "ab"
        else:
            offset = 0  # 200: the server ignored Range (or none was sent): the whole body follows
            hasher = new_hasher(algo)
            mode = "wb"
        length = resp.headers.get("Content-Length")
        announced = offset + int(length) if length and length.isdigit() else None
        bar = _make_bar(show, announced if announced is not None else exp_size, offset, entry["filename"])
        oversize = False
        try:
            with open(part, mode) as f:
                written = offset
                if exp_size is not None and hasattr(resp.raw, "enforce_content_length"):
                    # a body shorter than a wrong Content-Length ends normally (its size is checked
                    # against the manifest below) instead of losing its last bytes to IncompleteRead
                    resp.raw.enforce_content_length = False
                cap = exp_size if exp_size is not None else MAX_UNSIZED_BYTES
                try:
                    # the manifest's size caps what is written, whatever Content-Length says
                    for chunk in resp.iter_content(NET_CHUNK):
                        if chunk:
                            if written + len(chunk) > cap:
                                chunk = chunk[:cap - written]
                                oversize = True
                            f.write(chunk)
                            hasher.update(chunk)
                            written += len(chunk)
                            bar.update(len(chunk))
                            if oversize:
                                break
                except requests.exceptions.ChunkedEncodingError:
                    # the body ended before its (wrong) Content-Length: fine if the file is whole
                    if exp_size is None or written != exp_size:
                        raise
                    announced = None
                f.flush()
                os.fsync(f.fileno())
        finally:
            bar.close()
    size = part.stat().st_size
    if oversize:
        part.unlink()
        raise ChecksumError(mismatch_message(
            entry, where=f"downloaded from {url}", path=dest, actual_size=size + 1, actual_hex=None,
            extra=(f"the server sent more than the {exp_size} bytes the file has" if exp_size is not None else
                   f"the server sent more than {MAX_UNSIZED_BYTES} bytes, the most accepted for a file of "
                   "unpublished size") + " (stopped there); nothing was kept in the cache"))
    if announced is not None and size < announced and size != exp_size:
        raise _Incomplete(f"connection closed after {size} of {announced} bytes")
    if announced is None and exp_size is not None and size < exp_size:
        raise _Incomplete(f"connection closed after {size} of {exp_size} bytes")
    actual = hasher.hexdigest()
    if (exp_size is not None and size != exp_size) or not digest_matches(algo, expected, actual):
        part.unlink()
        raise ChecksumError(mismatch_message(
            entry, where=f"downloaded from {url}", path=dest, actual_size=size, actual_hex=actual,
            extra="the downloaded file was deleted; nothing was kept in the cache",
        ))
    return actual


def _describe(exc: BaseException, timeout) -> str:
    import requests

    text = str(exc) or type(exc).__name__
    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return f"timed out (connect/read timeout {timeout[0]:g}s/{timeout[1]:g}s): {text}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection broken during the transfer: {text}"
    if isinstance(exc, requests.ConnectionError):
        return f"connection error: {text}"
    return f"{type(exc).__name__}: {text}"


_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED: "the connection was refused",
                       errno.ENETUNREACH: "the network is unreachable",
                       errno.EHOSTUNREACH: "the host is unreachable"}


def unreachable_reason(exc: BaseException) -> str | None:
    """Why no connection can be made, for failures that retrying will not fix (a host name that
    does not resolve, a refused connection, no route to the network); None for any other error.
    Follows the chain requests -> urllib3 -> socket (args, ``reason``, causes)."""
    seen, stack = set(), [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError":
            return "the host name cannot be resolved (no DNS or no network)"
        if isinstance(e, OSError) and e.errno in _UNREACHABLE_ERRNOS:
            return _UNREACHABLE_ERRNOS[e.errno]
        stack.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return None


def _fetch_url(session, url: str, entry: dict, dest: Path, part: Path, show: bool, timeout,
               retries: int, backoff: float) -> str:
    """Download from one URL with retries and resume; returns the digest or raises."""
    import requests

    failures = 0
    attempts = 0
    while True:
        attempts += 1
        before = part.stat().st_size if part.exists() else 0
        try:
            return _attempt(session, url, entry, dest, part, show, timeout)
        except ChecksumError:
            raise
        except _HTTPStatus as exc:
            if exc.code not in RETRY_STATUS:
                raise DownloadError(f"{url}: {exc}") from None
            reason = str(exc)
        except _Incomplete as exc:
            reason = str(exc)
        except (requests.RequestException, OSError) as exc:
            if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                                requests.exceptions.InvalidSchema)):
                raise DownloadError(f"{url}: invalid URL: {exc}") from None
            why = unreachable_reason(exc)
            if why is not None:  # retrying cannot help: fail now
                raise DownloadError(f"{url}: {why} (not retried)") from None
            reason = _describe(exc, timeout)
        after = part.stat().st_size if part.exists() else 0
        failures = 0 if after > before else failures + 1
        if failures > retries or attempts >= MAX_ATTEMPTS_PER_URL:
            tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
            raise DownloadError(f"{url}: {reason} (gave up after {tries})")
        delay = min(backoff * (2 ** max(failures - 1, 0)), MAX_BACKOFF)
        log.warning("zoo.weights: %s: %s; retrying in %.2gs", url, reason, delay)
        if delay > 0:
            time.sleep(delay)


def _remove_empty_dir(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass


def _download(entry: dict, dest: Path, progress, timeout, retries: int, backoff: float) -> None:
    import requests

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    show = _show_progress(progress)
    failures: list[tuple[str, WeightsError]] = []
    with requests.Session() as session:  # honours proxies and REQUESTS_CA_BUNDLE like requests does
        session.headers["User-Agent"] = "zoo-weights/1 (+python-requests)"
        for url in candidate_urls(entry):
            try:
                actual = _fetch_url(session, url, entry, dest, part, show, timeout, retries, backoff)
            except (ChecksumError, DownloadError) as exc:
                failures.append((url, exc))
                if len(candidate_urls(entry)) > 1:
                    log.warning("zoo.weights: %s failed, trying the next URL: %s", url, exc)
                continue
            os.replace(part, dest)
            write_sidecar(dest, entry, actual)
            return
    kept = ""
    if part.exists():
        kept = (f"\n  partial download kept at {part} ({part.stat().st_size} bytes); "
                "the next attempt resumes it")
    else:
        _remove_empty_dir(dest.parent)
    howto = "" if all(isinstance(e, ChecksumError) for _, e in failures) else "\n" + manual_howto(entry, dest)
    if len(failures) == 1:
        exc = failures[0][1]
        raise type(exc)(f"could not download {entry['key']!r}: {exc}\n  cache path: {dest}{kept}{howto}"
                        if isinstance(exc, DownloadError) else f"{exc}{kept}")
    cls = ChecksumError if all(isinstance(e, ChecksumError) for _, e in failures) else DownloadError
    lines = [f"could not download {entry['key']!r} from any of its {len(failures)} URLs:"]
    for url, exc in failures:
        text = str(exc).replace("\n", "\n      ")
        lines.append(f"  - {text}" if text.startswith(url) else f"  - {url}: {text}")
    lines.append(f"  cache path: {dest}{kept}{howto}")
    raise cls("\n".join(lines))


def fetch(key: str, progress=None, *, manifest=None, timeout=None, retries: int | None = None,
          backoff: float | None = None, lock_timeout: float | None = None) -> Path:
    """Path of the verified file for ``key``, downloading it first when needed.

    ``progress``: None shows a tqdm bar only when stderr is a terminal; True/False force it.
    ``timeout``: seconds or (connect, read); ``retries``/``backoff``: per URL, on connection
    errors, timeouts and 5xx. Concurrent callers (threads or processes) share one download.
    """
    entry = with_local_pin(get_entry(key, manifest))
    dest = entry_path(entry)
    problem = None
    try:
        check_file(dest, entry)
        return dest
    except FileNotFoundError:
        pass
    except ChecksumError as exc:
        problem = str(exc)
    if is_offline():
        raise OfflineError(_offline_message(entry, dest, problem))
    timeout = _timeout_tuple(timeout)
    retries = DEFAULT_RETRIES if retries is None else int(retries)
    backoff = DEFAULT_BACKOFF if backoff is None else float(backoff)
    with FileLock(lock_path(entry), timeout=lock_timeout):
        try:  # another process may have downloaded or healed it while we waited
            check_file(dest, entry)
            return dest
        except FileNotFoundError:
            pass
        except ChecksumError as exc:
            log.warning("zoo.weights: the cached file is bad, downloading it again:\n%s", exc)
            dest.unlink()
            remove_sidecar(dest)
        _download(entry, dest, progress, timeout, retries, backoff)
    return dest


def verify(key: str, *, manifest=None) -> Path:
    """Re-hash the cached file of ``key``; its path, or ChecksumError / NotCachedError."""
    entry = with_local_pin(get_entry(key, manifest))
    dest = entry_path(entry)
    if not dest.is_file():
        raise NotCachedError(f"{key!r} is not in the cache (expected at {dest}); "
                             f"run `zoo weights download {key}`")
    try:
        check_file(dest, entry, full=True)
    except ChecksumError as exc:
        remove_sidecar(dest)
        raise ChecksumError(f"{exc}\n  run `zoo weights download {key}` to replace it") from None
    return dest


def path(key: str, *, manifest=None) -> Path:
    """Where the file of ``key`` lives (or will live) in the cache; no check, no download."""
    return entry_path(get_entry(key, manifest))


def import_file(key: str, src, *, manifest=None) -> Path:
    """Verify a file obtained elsewhere and place it in the cache; returns the cached path.

    For an entry the manifest pins only by a SHA-256 prefix, the imported file's full SHA-256 is
    recorded (``pins.json`` in the cache) and enforced by every later download and check."""
    manifest_entry = get_entry(key, manifest)
    entry = with_local_pin(manifest_entry)
    src = Path(src).expanduser()
    if not src.is_file():
        raise WeightsError(f"cannot import {key!r}: {src} is not a file")
    dest = entry_path(entry)
    algo, expected = checksum_of(entry)
    exp_size = entry.get("size_bytes")
    size = src.stat().st_size
    if exp_size is not None and size != exp_size:
        raise ChecksumError(mismatch_message(
            entry, where=f"in the file {src}", path=dest, actual_size=size, actual_hex=None,
            extra=f"the size differs from {exp_size} bytes; nothing was imported",
        ))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path(entry)):
        tmp = dest.with_name(f"{dest.name}.import.{os.getpid()}.tmp")
        hasher = new_hasher(algo)
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                for block in iter(lambda: fin.read(_cache.CHUNK), b""):
                    hasher.update(block)
                    fout.write(block)
                fout.flush()
                os.fsync(fout.fileno())
            actual = hasher.hexdigest()
            if not digest_matches(algo, expected, actual):
                raise ChecksumError(mismatch_message(
                    entry, where=f"in the file {src}", path=dest, actual_size=size, actual_hex=actual,
                    extra="nothing was imported",
                ))
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()
                _remove_empty_dir(dest.parent)
        if algo == "sha256_prefix":
            record_pin(key, actual)
            entry = with_local_pin(manifest_entry)
        write_sidecar(dest, entry, actual)
    return dest


def purge(keys=None, *, manifest=None) -> list[Path]:
    """Delete cached files (with sidecars and partial downloads); all of them when ``keys`` is None.

    Returns the weight files that were removed.
    """
    root = cache_dir()
    if keys is None:
        known = load(manifest)
        dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name != ".locks") if root.is_dir() else []
        targets = [(d, known.get(d.name) and {**known[d.name], "key": d.name}) for d in dirs]
    else:
        entries = [get_entry(k, manifest) for k in keys]  # unknown keys fail before anything is deleted
        targets = [(entry_path(e).parent, e) for e in entries]
    removed: list[Path] = []
    for d, entry in targets:
        if not d.is_dir():
            continue
        lock = FileLock(lock_path(entry)) if entry else None
        if lock:
            lock.acquire()
        try:
            for p in sorted(d.iterdir()):
                if not p.name.endswith((_cache.SIDECAR_SUFFIX, _cache.PART_SUFFIX, ".tmp")):
                    removed.append(p)
            shutil.rmtree(d, ignore_errors=True)
        finally:
            if lock:
                lock.release()
    return removed


def list_entries(*, manifest=None) -> list[dict]:
    """Every manifest entry (a copy) with ``key``, ``cached`` (present, right size) and ``path``."""
    out = []
    for key in sorted(load(manifest)):
        e = get_entry(key, manifest)
        e["path"] = str(entry_path(e))
        e["cached"] = _cache.is_cached(e)
        e["checksum"] = checksum_strength(e)
        out.append(e)
    return out
