"""Atomic file replacement for every writer in ``core.saving`` (and the exporters).

A save writes a temporary file in the target's folder, flushes it to disk (``fsync``) and renames it
over the target, so a crash leaves either the old file or the new one, never a torn one. On
overwrite the file keeps its permission bits, and a target that is a symlink stays a symlink: the
file it points to is replaced. Temporary files are named ``.<name>.<pid>.<random>.tmp``; those left
by a process that no longer runs (killed mid-save) are removed by the next save of the same file.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile

__all__ = ["atomic_path", "atomic_write", "resolve_target", "clean_stale_temps"]


def resolve_target(path) -> str:
    """The file a save of ``path`` replaces: the end of its symlink chain (``path`` itself otherwise)."""
    path = os.fspath(path)
    return os.path.realpath(path) if os.path.islink(path) else path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temps(target) -> int:
    """Remove ``.<name>.<pid>.*.tmp`` files next to ``target`` whose writing process is gone; returns
    how many were removed."""
    folder, name = os.path.split(os.path.abspath(target))
    pattern = re.compile(r"\." + re.escape(name) + r"\.(\d+)\.[A-Za-z0-9_]+\.tmp\Z")
    removed = 0
    try:
        entries = os.listdir(folder)
    except OSError:
        return 0
    for entry in entries:
        m = pattern.match(entry)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, entry))
            removed += 1
    return removed


def _mode_for(target):
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder):
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path, overwrite=True, error=FileExistsError):
    """Yield a temporary path next to ``path`` for a writer that opens files by name (h5py); on
    success it is flushed to disk and renamed over ``path``. ``overwrite=False`` refuses an existing
    file with ``error``."""
    target = resolve_target(path)
    if not overwrite and os.path.exists(target):
        raise error(f"{os.fspath(path)} exists; pass overwrite=True to replace it")
    folder, name = os.path.split(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    clean_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically (see the
    module docstring). On any exception the temporary file is removed and ``path`` is left intact."""
    with atomic_path(path) as tmp:
        with open(tmp, mode) as f:
            yield f
