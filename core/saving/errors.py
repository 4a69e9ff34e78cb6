"""Exceptions raised by the weight-file readers and writers in ``core.saving``.

Every error names the file it is about (``.path``) and says what is wrong with it, so a
user can tell a truncated download from an unsupported format from a hostile file.
"""
from __future__ import annotations

import os

__all__ = [
    "WeightFileError",
    "CheckpointFormatError",
    "UnsafeCheckpointError",
    "SafetensorsFormatError",
    "KerasH5FormatError",
    "UnknownFormatError",
    "UnsafeWeightFileError",
    "is_project_error",
]


class WeightFileError(ValueError):
    """Base class: a weight file could not be read (or written) as asked.

    ``path`` is the file concerned (or None for in-memory data).
    """

    def __init__(self, message: str, path=None):
        self.path = None if path is None else os.fspath(path)
        self.detail = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class CheckpointFormatError(WeightFileError):
    """A PyTorch checkpoint is truncated, corrupted or of a layout this reader does not know."""


class UnsafeCheckpointError(WeightFileError):
    """A PyTorch checkpoint asked the unpickler for a global that could run code; it was refused.

    ``global_name`` is the refused ``module.name``.
    """

    def __init__(self, message: str, path=None, global_name: str | None = None):
        self.global_name = global_name
        super().__init__(message, path)


class SafetensorsFormatError(WeightFileError):
    """A ``.safetensors`` file (or the tensors given to the writer) violates the format."""


class KerasH5FormatError(WeightFileError):
    """A Keras HDF5 file is unreadable or does not have the expected layout."""


class UnknownFormatError(WeightFileError):
    """``detect_format`` could not recognise the file."""


class UnsafeWeightFileError(WeightFileError):
    """A weight file asks the reader to leave it or to allocate more than it holds: HDF5 external
    storage, virtual datasets, soft or external links, data that decompresses past the file's size."""


def is_project_error(exc: BaseException) -> bool:
    """True for the engine's own exception types (they already say what is wrong); loaders wrap
    only the others (h5py, json, KeyError from corrupted data...) in a :class:`WeightFileError`."""
    return isinstance(exc, WeightFileError) or type(exc).__module__.split(".")[0] == "core"
