"""``weights_manifest.json``: loading, schema validation and look-ups.

Layout::

    {"schema_version": 1, "_doc": "...", "entries": {"<architecture>.<tag>": {...}, ...}}

Every entry has exactly these fields (plus the optional ones in ``OPTIONAL_FIELDS``):

``kind``          "weights", "labels", "vocab" or "config"
``architecture``  the model family ("resnet50", "minilm_l6"); ``null`` for a dataset-level file
                  such as ``imagenet.labels``. The key's first part equals it when set.
``urls``          primary first, then mirrors; every URL ends with ``filename``
``filename``      the upstream file name (``ZOO_MIRROR`` serves ``<mirror>/<filename>``)
``size_bytes``    exact size in bytes, or ``null`` where no exact size is published anywhere we
                  could read (then ``size_source`` starts with "unpublished"; the hash is still
                  checked, and the verified size is recorded in the sidecar after the first
                  download, so later checks compare sizes too)
``size_source``   where the size comes from
one checksum      ``sha256`` (64 hex), ``sha256_prefix`` (8..63 hex, the torch.hub convention:
                  a prefix of the file's SHA-256 embedded in the file name) or ``md5`` (32 hex,
                  only where the publisher gives nothing stronger, as Keras does)
``format``        keras_h5, torch_zip, torch_legacy, safetensors, json, text
``source``        the upstream page; ``license``: SPDX-like string with a short provenance note
``input``         preprocessing spec for ``kind == "weights"`` (image or text), else ``null``
``num_classes``   int or ``null``; ``labels``: another entry's key (a ``labels`` entry), an
                  inline list of ``num_classes`` names, or ``null``
``metrics``       as published: ``{}`` or a dict with ``dataset`` and ``source`` strings and
                  numeric values (percent)

Published entries are immutable: a changed upstream file gets a new key.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ManifestError, UnknownWeightsError

ENV_MANIFEST = "ZOO_WEIGHTS_MANIFEST"
SCHEMA_VERSION = 1

KINDS = ("weights", "labels", "vocab", "config")
FORMATS = ("keras_h5", "torch_zip", "torch_legacy", "safetensors", "json", "text")
CHECKSUM_FIELDS = ("sha256", "sha256_prefix", "md5")
REQUIRED_FIELDS = (
    "kind", "architecture", "urls", "filename", "size_bytes", "size_source", "format",
    "source", "license", "input", "num_classes", "labels", "metrics",
)
OPTIONAL_FIELDS = ("checksum_source", "output", "notes")
IMAGE_INPUT_FIELDS = (
    "type", "size", "channels", "layout", "channel_order", "scale", "mean", "std", "mode",
    "resize", "crop", "interpolation",
)
TEXT_INPUT_FIELDS = ("type", "tokenizer", "lowercase", "max_seq_length", "vocab")
TOP_LEVEL_FIELDS = ("_doc", "schema_version", "entries")

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
HEX_RE = re.compile(r"^[0-9a-f]+$")

_cache: dict[tuple, dict[str, dict]] = {}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise ManifestError(f"duplicate key {k!r} in the manifest")
        seen[k] = v
    return seen


def packaged_manifest() -> Path:
    """The manifest shipped as package data of ``zoo.weights`` (setup.py copies it in at build time)."""
    return Path(str(resources.files(__package__).joinpath("weights_manifest.json")))


def default_manifest_candidates() -> list[Path]:
    here = Path(__file__).resolve()
    return [
        here.parents[2] / "weights_manifest.json",  # source checkout / editable install
        packaged_manifest(),  # an installed wheel or a `pip install --target` folder
        Path(sys.prefix) / "share" / "zoo" / "weights_manifest.json",  # shipped as data-files
    ]


def manifest_path(path: str | os.PathLike | None = None) -> Path:
    """The manifest to use: ``path``, else ``$ZOO_WEIGHTS_MANIFEST``, else the repo's own."""
    if path is not None:
        return Path(path)
    env = os.environ.get(ENV_MANIFEST)
    if env:
        return Path(env)
    candidates = default_manifest_candidates()
    for c in candidates:
        if c.is_file():
            return c
    return candidates[0]


def read_manifest(path: str | os.PathLike) -> dict:
    """Parse the JSON (duplicate keys are an error) without schema checks."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            f"weights manifest not found at {p} (set {ENV_MANIFEST} to the path of weights_manifest.json)"
        ) from None
    except OSError as exc:
        raise ManifestError(f"cannot read the weights manifest {p}: {exc}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"weights manifest {p} is not valid JSON: {exc}") from None


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _validate_input(key: str, spec: Any, entries: dict) -> list[str]:
    errs: list[str] = []
    if not isinstance(spec, dict):
        return [f"{key}: 'input' must be an object for a weights entry"]
    kind = spec.get("type")
    fields = IMAGE_INPUT_FIELDS if kind == "image" else TEXT_INPUT_FIELDS if kind == "text" else None
    if fields is None:
        return [f"{key}: input.type must be 'image' or 'text', not {kind!r}"]
    missing = [f for f in fields if f not in spec]
    extra = [f for f in spec if f not in fields]
    if missing:
        errs.append(f"{key}: input lacks {missing}")
    if extra:
        errs.append(f"{key}: input has unknown fields {extra}")
    if missing:
        return errs
    if kind == "image":
        size = spec["size"]
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
            errs.append(f"{key}: input.size must be [height, width]")
        if spec["channels"] != 3:
            errs.append(f"{key}: input.channels must be 3")
        if spec["layout"] not in ("NHWC", "NCHW"):
            errs.append(f"{key}: input.layout must be NHWC or NCHW")
        if spec["channel_order"] not in ("RGB", "BGR"):
            errs.append(f"{key}: input.channel_order must be RGB or BGR")
        if not (_is_num(spec["scale"]) and spec["scale"] > 0):
            errs.append(f"{key}: input.scale must be a positive number")
        for name in ("mean", "std"):
            v = spec[name]
            if v is None and name == "std":
                continue
            if not (isinstance(v, list) and len(v) == 3 and all(_is_num(x) for x in v)):
                errs.append(f"{key}: input.{name} must be 3 numbers" + (" or null" if name == "std" else ""))
        if not isinstance(spec["mode"], str):
            errs.append(f"{key}: input.mode must be a string")
        for name in ("resize", "crop"):
            v = spec[name]
            if v is not None and not (isinstance(v, int) and v > 0):
                errs.append(f"{key}: input.{name} must be a positive int or null")
        if spec["interpolation"] not in ("nearest", "bilinear", "bicubic", "none"):
            errs.append(f"{key}: input.interpolation must be nearest, bilinear, bicubic or none")
    else:
        if not isinstance(spec["tokenizer"], str):
            errs.append(f"{key}: input.tokenizer must be a string")
        if not isinstance(spec["lowercase"], bool):
            errs.append(f"{key}: input.lowercase must be true or false")
        if not (isinstance(spec["max_seq_length"], int) and spec["max_seq_length"] > 0):
            errs.append(f"{key}: input.max_seq_length must be a positive int")
        vocab = spec["vocab"]
        if vocab not in entries or entries[vocab].get("kind") != "vocab":
            errs.append(f"{key}: input.vocab {vocab!r} is not the key of a vocab entry")
    return errs


def validate_entry(key: str, e: Any, entries: dict, *, require_https: bool = False) -> list[str]:
    """Schema problems of one entry (an empty list when it is valid)."""
    if not isinstance(e, dict):
        return [f"{key}: an entry must be an object"]
    errs: list[str] = []
    if not KEY_RE.match(key):
        errs.append(f"{key}: key must look like 'architecture.tag' (lowercase, digits, underscores)")
    missing = [f for f in REQUIRED_FIELDS if f not in e]
    if missing:
        errs.append(f"{key}: missing fields {missing}")
    known = set(REQUIRED_FIELDS) | set(OPTIONAL_FIELDS) | set(CHECKSUM_FIELDS)
    extra = sorted(f for f in e if f not in known)
    if extra:
        errs.append(f"{key}: unknown fields {extra}")
    checks = [f for f in CHECKSUM_FIELDS if f in e]
    if len(checks) != 1:
        errs.append(f"{key}: needs exactly one of {list(CHECKSUM_FIELDS)}, has {checks}")
    if missing:
        return errs

    if e["kind"] not in KINDS:
        errs.append(f"{key}: kind must be one of {list(KINDS)}")
    arch = e["architecture"]
    if arch is not None and (not isinstance(arch, str) or key.split(".")[0] != arch):
        errs.append(f"{key}: architecture {arch!r} must be null or equal the key's first part")
    if e["kind"] == "weights" and arch is None:
        errs.append(f"{key}: a weights entry needs an architecture")

    fname = e["filename"]
    if not isinstance(fname, str) or not fname or "/" in fname or "\\" in fname or fname.startswith("."):
        errs.append(f"{key}: filename must be a plain file name")
    urls = e["urls"]
    if not (isinstance(urls, list) and urls and all(isinstance(u, str) for u in urls)):
        errs.append(f"{key}: urls must be a non-empty list of strings")
    else:
        if len(set(urls)) != len(urls):
            errs.append(f"{key}: duplicate URLs")
        for u in urls:
            parsed = urlparse(u)
            if parsed.scheme not in ("https", "http") or not parsed.netloc:
                errs.append(f"{key}: {u!r} is not an http(s) URL")
            elif require_https and parsed.scheme != "https":
                errs.append(f"{key}: {u!r} is not https")
            if isinstance(fname, str) and parsed.path.rsplit("/", 1)[-1] != fname:
                errs.append(f"{key}: URL {u!r} does not end with the filename {fname!r}")

    size = e["size_bytes"]
    if size is not None and not (isinstance(size, int) and not isinstance(size, bool) and size > 0):
        errs.append(f"{key}: size_bytes must be a positive int or null")
    if not isinstance(e["size_source"], str) or not e["size_source"]:
        errs.append(f"{key}: size_source must say where the size comes from")
    elif size is None and not e["size_source"].startswith("unpublished"):
        errs.append(f"{key}: size_bytes is null, so size_source must start with 'unpublished' and say why")

    if len(checks) == 1:
        algo = checks[0]
        val = e[algo]
        want = {"sha256": (64, 64), "md5": (32, 32), "sha256_prefix": (8, 63)}[algo]
        if not (isinstance(val, str) and HEX_RE.match(val) and want[0] <= len(val) <= want[1]):
            n = f"{want[0]}" if want[0] == want[1] else f"{want[0]}..{want[1]}"
            errs.append(f"{key}: {algo} must be {n} lowercase hex characters, got {val!r}")
        elif algo == "sha256_prefix" and isinstance(fname, str) and f"-{val}." not in fname:
            errs.append(f"{key}: sha256_prefix {val!r} is not the '-<hash>.' part of {fname!r}")
        if algo in ("md5", "sha256_prefix") and not e.get("checksum_source"):
            errs.append(f"{key}: a weak checksum ({algo}) needs checksum_source saying why nothing stronger exists")

    if e["format"] not in FORMATS:
        errs.append(f"{key}: format must be one of {list(FORMATS)}")
    for name in ("source", "license"):
        if not isinstance(e[name], str) or not e[name]:
            errs.append(f"{key}: {name} must be a non-empty string")
    if isinstance(e["source"], str) and not e["source"].startswith(("https://", "http://")):
        errs.append(f"{key}: source must be a URL")

    if e["kind"] == "weights":
        errs += _validate_input(key, e["input"], entries)
    elif e["input"] is not None:
        errs.append(f"{key}: input must be null for a {e['kind']} entry")

    nc = e["num_classes"]
    if nc is not None and not (isinstance(nc, int) and not isinstance(nc, bool) and nc > 0):
        errs.append(f"{key}: num_classes must be a positive int or null")
    labels = e["labels"]
    if isinstance(labels, str):
        target = entries.get(labels)
        if target is None:
            errs.append(f"{key}: labels {labels!r} is not a key of the manifest")
        elif target.get("kind") != "labels":
            errs.append(f"{key}: labels {labels!r} is not a labels entry")
        elif nc is not None and target.get("num_classes") not in (None, nc):
            errs.append(f"{key}: labels {labels!r} has {target.get('num_classes')} classes, not {nc}")
    elif isinstance(labels, list):
        if not all(isinstance(x, str) and x for x in labels):
            errs.append(f"{key}: an inline labels list must hold non-empty strings")
        if nc is None or len(labels) != nc:
            errs.append(f"{key}: inline labels has {len(labels)} names but num_classes is {nc}")
        if len(set(labels)) != len(labels):
            errs.append(f"{key}: inline labels has duplicates")
    elif labels is not None:
        errs.append(f"{key}: labels must be a key, an inline list or null")
    if labels is not None and nc is None and e["kind"] == "weights":
        errs.append(f"{key}: labels given but num_classes is null")

    metrics = e["metrics"]
    if not isinstance(metrics, dict):
        errs.append(f"{key}: metrics must be an object")
    elif metrics:
        for name in ("dataset", "source"):
            if not isinstance(metrics.get(name), str):
                errs.append(f"{key}: metrics.{name} must be a string")
        for name, v in metrics.items():
            if name not in ("dataset", "source", "notes") and not _is_num(v):
                errs.append(f"{key}: metrics.{name} must be a number")
    return errs


def validate_manifest(data: Any, *, require_https: bool = False) -> list[str]:
    """Every schema problem of a parsed manifest (an empty list when it is valid)."""
    if not isinstance(data, dict):
        return ["the manifest must be a JSON object"]
    errs: list[str] = []
    extra = [k for k in data if k not in TOP_LEVEL_FIELDS]
    if extra:
        errs.append(f"unknown top-level fields {extra}")
    if data.get("schema_version") != SCHEMA_VERSION:
        errs.append(f"schema_version must be {SCHEMA_VERSION}")
    entries = data.get("entries")
    if not isinstance(entries, dict) or not entries:
        return errs + ["'entries' must be a non-empty object"]
    for key, e in entries.items():
        errs += validate_entry(key, e, entries, require_https=require_https)
    names: dict[str, str] = {}
    for key, e in entries.items():
        if isinstance(e, dict) and isinstance(e.get("filename"), str):
            other = names.setdefault(e["filename"], key)
            if other != key:
                errs.append(f"{key}: filename {e['filename']!r} is also used by {other} (ZOO_MIRROR serves files by name)")
    return errs


def load(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """The manifest's entries ``{key: entry}``, validated; cached until the file changes."""
    p = manifest_path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        looked = [str(p)] if path is not None or os.environ.get(ENV_MANIFEST) else [
            str(c) for c in default_manifest_candidates()]
        raise ManifestError(
            f"weights manifest not found (looked at: {', '.join(looked)}); "
            f"set {ENV_MANIFEST} to the path of weights_manifest.json"
        ) from None
    sig = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    hit = _cache.get(sig)
    if hit is not None:
        return hit
    data = read_manifest(p)
    errs = validate_manifest(data)
    if errs:
        shown = "\n  ".join(errs[:20])
        more = f"\n  ... and {len(errs) - 20} more" if len(errs) > 20 else ""
        raise ManifestError(f"weights manifest {p} breaks the schema:\n  {shown}{more}")
    entries = data["entries"]
    _cache.clear()
    _cache[sig] = entries
    return entries


def keys(path: str | os.PathLike | None = None) -> list[str]:
    return sorted(load(path))


def get_entry(key: str, path: str | os.PathLike | None = None) -> dict:
    """A copy of the entry for ``key`` with ``"key"`` added; UnknownWeightsError otherwise."""
    entries = load(path)
    e = entries.get(key)
    if e is None:
        if not isinstance(key, str):
            raise UnknownWeightsError(repr(key), [])
        low = key.lower()
        exact = [k for k in entries if k.lower() == low]
        # "resnet50" -> resnet50.imagenet, resnet50.imagenet_notop; then spelling neighbours
        family = sorted(k for k in entries if k.split(".")[0] == low.split(".")[0])
        close = difflib.get_close_matches(low, list(entries), n=3, cutoff=0.6)
        ranked = exact + ((close or family) if "." in key else family + close)
        suggestions = list(dict.fromkeys(ranked))[:3]
        raise UnknownWeightsError(key, suggestions)
    out = json.loads(json.dumps(e))
    out["key"] = key
    return out


def checksum_of(entry: dict) -> tuple[str, str]:
    """``(algorithm, expected hex)`` where algorithm is sha256, sha256_prefix or md5."""
    for algo in CHECKSUM_FIELDS:
        if algo in entry:
            return algo, entry[algo]
    raise ManifestError(f"{entry.get('key')}: no checksum")
