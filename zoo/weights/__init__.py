"""The weight registry: ``weights_manifest.json`` plus a verified, resumable, locked cache.

>>> from zoo import weights
>>> p = weights.fetch("resnet20.cifar10")     # downloads once, verifies, returns the path
>>> weights.verify("resnet20.cifar10")        # re-hashes; ChecksumError on a bad file
>>> [e["key"] for e in weights.list() if e["cached"]]

Environment: ``ZOO_HOME`` (cache root; else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``),
``ZOO_MIRROR`` (base URL tried first, with the file name appended), ``ZOO_OFFLINE=1`` (never
touch the network), ``ZOO_WEIGHTS_MANIFEST`` (use another manifest, e.g. in tests).
Proxies and CA bundles are honoured as ``requests`` does (``HTTPS_PROXY``, ``REQUESTS_CA_BUNDLE``).
"""
from __future__ import annotations

from .builtin import BUILTIN, builtin_file, is_builtin, license_text
from .cache import cache_dir, cache_root
from .download import fetch, import_file, list_entries, path, purge, verify
from .errors import (
    ChecksumError, DownloadError, LockTimeoutError, ManifestError, NotCachedError, OfflineError,
    UnknownWeightsError, WeightsError,
)
from .manifest import get_entry, keys, manifest_path, validate_manifest

list = list_entries  # noqa: A001 - the documented API name is zoo.weights.list()

__all__ = [
    "fetch", "verify", "list", "list_entries", "get_entry", "keys", "path", "cache_dir", "cache_root",
    "import_file", "purge", "manifest_path", "validate_manifest", "is_builtin", "builtin_file", "license_text",
    "WeightsError", "ChecksumError", "DownloadError", "OfflineError", "UnknownWeightsError",
    "NotCachedError", "ManifestError", "LockTimeoutError",
]
