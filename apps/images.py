"""Finding and reading image files for the apps: unreadable files are skipped and reported,
never fatal for the rest."""
from __future__ import annotations

import os
import stat
from pathlib import Path

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def collect_images(paths):
    """Image files from files and folders (recursively, sorted). Returns (files, missing paths)."""
    files, missing = [], []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(str(p))
    return files, missing


def not_regular_file(path):
    """Why ``path`` cannot be read as a file without risk (a FIFO or a device would block or never
    end), or None for a regular file (a missing file is left to the caller's open)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a regular file")
    return f"{kind}, not a regular file: skipped"


def read_image(path):
    """An RGB uint8 array (H, W, 3) from a file path or the bytes of an image file; raises
    ValueError with the reason for an unreadable one."""
    import io

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    is_bytes = isinstance(path, (bytes, bytearray, memoryview))
    if not is_bytes:
        problem = not_regular_file(path)
        if problem:
            raise ValueError(f"{os.fspath(path)}: {problem}")
    try:
        with Image.open(io.BytesIO(path) if is_bytes else path) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        name = "image data" if is_bytes else os.fspath(path)
        raise ValueError(f"{name}: not a readable image ({e.__class__.__name__}: {e})") from None


def read_images(paths):
    """(images, good paths, [(path, reason)] for the unreadable ones)."""
    images, good, bad = [], [], []
    for p in paths:
        try:
            images.append(read_image(p))
            good.append(p)
        except ValueError as e:
            bad.append((p, str(e)))
    return images, good, bad
