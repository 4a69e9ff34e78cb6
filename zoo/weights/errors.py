"""Exceptions of the weight registry. Every expected failure is a :class:`WeightsError`."""
from __future__ import annotations


class WeightsError(Exception):
    """Base class of every error the weight registry raises on purpose."""


class ManifestError(WeightsError):
    """``weights_manifest.json`` is missing, unreadable or breaks the schema."""


class UnknownWeightsError(WeightsError, KeyError):
    """A key that is not in the manifest. ``suggestions`` holds close matches."""

    def __init__(self, key: str, suggestions: list[str] | None = None):
        self.key = key
        self.suggestions = list(suggestions or [])
        msg = f"unknown weights key {key!r}."
        if self.suggestions:
            msg += " Did you mean: " + ", ".join(self.suggestions) + "?"
        msg += " Run `zoo weights list` to see every key."
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class ChecksumError(WeightsError):
    """A file's size or hash differs from the manifest."""


class DownloadError(WeightsError):
    """Every URL failed (HTTP error, connection error, timeout)."""


class OfflineError(WeightsError):
    """``ZOO_OFFLINE=1`` and the file is not in the cache (or the cached copy is bad)."""


class NotCachedError(WeightsError):
    """``verify``/``path`` on an entry that has not been downloaded."""


class LockTimeoutError(WeightsError):
    """Waited too long for another process that holds the entry's download lock."""
