"""``get_file``: download a file once into a cache folder, verify its hash, and optionally
extract an archive, refusing archive members that would land outside the target folder
(absolute paths, ``..``, links, devices)."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile

from .io_utils import is_interactive_logging_enabled, print_msg
from .progbar import Progbar

TIMEOUT = (15.0, 60.0)  # (connect, read) seconds
CHUNK = 1 << 16


def keras_home():
    """``$KERAS_HOME``, else ``~/.keras`` (where ``get_file`` caches by default, as Keras)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def resolve_hasher(algorithm, file_hash=None):
    """sha256 for ``"sha256"`` (or ``"auto"`` with a 64-character hash), md5 otherwise (legacy)."""
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()
    raise ValueError(f'hash_algorithm must be "auto", "sha256" or "md5", got {algorithm!r}')


def hash_file(fpath, algorithm="sha256", chunk_size=CHUNK):
    """The hex digest of a file (``algorithm``: a name or a hashlib object)."""
    hasher = resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=CHUNK):
    """Whether the file's hash is ``file_hash``."""
    return hash_file(fpath, resolve_hasher(algorithm, file_hash), chunk_size) == str(file_hash).lower()


def _download(origin, target, file_hash, hash_algorithm):
    """``origin`` streamed to ``target + ".part"``, hashed on the way, renamed to ``target`` only
    when complete and (with ``file_hash``) verified."""
    import requests  # on the first download only: importing core.utils stays cheap (as zoo.weights does)

    part = target + ".part"
    hasher = resolve_hasher(hash_algorithm, file_hash) if file_hash is not None else None
    try:
        with requests.get(origin, stream=True, timeout=TIMEOUT) as r:
            if r.status_code != 200:
                raise OSError(f"URL fetch failure on {origin}: HTTP {r.status_code} {r.reason}")
            total = r.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            bar = Progbar(total, unit_name="byte", interval=0.5) \
                if sys.stdout.isatty() and is_interactive_logging_enabled() else None
            done = 0
            with open(part, "wb") as f:
                for chunk in r.iter_content(CHUNK):
                    f.write(chunk)
                    done += len(chunk)
                    if hasher is not None:
                        hasher.update(chunk)
                    if bar is not None:
                        bar.update(min(done, total) if total else done)
            if total is not None and done != total:
                raise OSError(f"URL fetch failure on {origin}: the connection closed after {done} of {total} bytes")
    except requests.RequestException as e:
        _remove(part)
        raise OSError(f"URL fetch failure on {origin}: {type(e).__name__}: {e}") from None
    except BaseException:
        _remove(part)
        raise
    if hasher is not None and hasher.hexdigest() != str(file_hash).lower():
        _remove(part)
        raise ValueError(f"Incomplete or corrupted file detected. The {hasher.name} file hash of the download from "
                         f"{origin} is {hasher.hexdigest()}, it does not match the provided value of {file_hash}.")
    os.replace(part, target)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _safe_member_path(root, name):
    """The path under ``root`` of an archive member, or ValueError when it would leave ``root``."""
    if not name or name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"the archive member {name!r} has an absolute path; refusing to extract it")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise ValueError(f"the archive member {name!r} points outside the extraction folder; refusing to extract it")
    dest = os.path.realpath(os.path.join(root, *[p for p in parts if p not in ("", ".")]))
    if dest != root and not dest.startswith(root + os.sep):
        raise ValueError(f"the archive member {name!r} points outside the extraction folder; refusing to extract it")
    return dest


def _copy_member(src, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as out:
        shutil.copyfileobj(src, out, CHUNK)


def _extract_tar(path, root):
    with tarfile.open(path) as tar:
        for m in tar:
            dest = _safe_member_path(root, m.name)
            if m.isdir():
                os.makedirs(dest, exist_ok=True)
            elif m.isfile():
                with tar.extractfile(m) as src:
                    _copy_member(src, dest)
            else:
                kind = "link" if (m.issym() or m.islnk()) else "special file"
                raise ValueError(f"the archive member {m.name!r} is a {kind}; refusing to extract archives with "
                                 "links or devices")


def _extract_zip(path, root):
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            dest = _safe_member_path(root, info.filename)
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                raise ValueError(f"the archive member {info.filename!r} is a link; refusing to extract archives "
                                 "with links")
            if info.is_dir():
                os.makedirs(dest, exist_ok=True)
            else:
                with zf.open(info) as src:
                    _copy_member(src, dest)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extract a tar (plain, gz, bz2, xz) or zip archive into ``path`` (created; replaced when it
    exists) through a temporary folder beside it. Returns True if ``file_path`` was an archive
    of an accepted format; raises ValueError for a member that would land outside ``path``."""
    if archive_format is None:
        return False
    formats = {"auto": ("tar", "zip"), "tar": ("tar",), "zip": ("zip",)}.get(archive_format)
    if formats is None:
        formats = tuple(archive_format) if isinstance(archive_format, (list, tuple)) else None
    if not formats or any(f not in ("tar", "zip") for f in formats):
        raise ValueError(f'archive_format must be "auto", "tar", "zip", a list of them, or None; got '
                         f"{archive_format!r}")
    file_path, path = os.fspath(file_path), os.path.abspath(os.fspath(path))
    for fmt in formats:
        is_fmt = tarfile.is_tarfile(file_path) if fmt == "tar" else zipfile.is_zipfile(file_path)
        if not is_fmt:
            continue
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=os.path.basename(path) + ".", suffix=".extracting", dir=parent)
        try:
            (_extract_tar if fmt == "tar" else _extract_zip)(file_path, os.path.realpath(tmp))
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return True
    return False


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """Download ``origin`` into ``cache_dir/cache_subdir/fname`` unless it is already there (and
    matches ``file_hash``), then return its path (Keras 3 semantics and arguments).

    ``file_hash`` (sha256, or md5 for a 32-character hash) is checked on the download: a
    mismatch deletes it and raises. Downloads go to ``<file>.part`` and are renamed when
    complete. ``extract=True`` (or ``untar=True``) extracts the archive and returns the folder.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    scheme = urllib.parse.urlsplit(origin).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"get_file: origin must be an http(s) URL, got {origin!r}")
    if cache_dir is None:
        cache_dir = keras_home()
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(os.fspath(cache_dir))
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    provided = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'. Please specify the "
                             "`fname` argument.")
    elif os.sep in fname or "/" in fname or fname in (".", ".."):
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the file's parent "
                         f"directory, use the `cache_dir` argument. Received: fname={fname}")
    if extract or untar:
        if provided and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[:fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print_msg(f"A local file was found, but it seems to be incomplete or outdated because the {hash_algorithm} "
                  f"file hash does not match the original value of {file_hash} so we will re-download the data.")
        download = True
    if download:
        print_msg(f"Downloading data from {origin}")
        _download(origin, target, file_hash, hash_algorithm)

    if extract or untar:
        if download or not os.path.isdir(extraction_dir):
            if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
                raise ValueError(f"get_file: {target} is not a {'tar' if untar else archive_format} archive "
                                 "that can be extracted")
        return extraction_dir
    return target
