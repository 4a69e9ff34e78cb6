"""The model files the apps write and read back: a run folder (``-o`` of a train command) or its
``model.h5`` are accepted alike, and a file made by another app is named before anything is loaded."""
from __future__ import annotations

import os
from pathlib import Path

import click

RUN_MODEL_FILE = "model.h5"

# the app that wrote a model file, told by the assets it stores, and the command that reads it
_APPS = (
    ("forecast", ("forecast",), "zoo forecast predict {path} CSV"),
    ("text", ("text_model", "vocab"), 'zoo text predict {path} "some text"'),
    ("image", ("input_spec",), "zoo image predict {path} IMAGES"),
)


def looks_like_path(spec: str) -> bool:
    p = Path(spec)
    return p.exists() or "/" in spec or spec.endswith((".h5", ".hdf5", ".keras"))


def resolve_model_file(spec) -> Path:
    """The model file of ``spec``: the file itself, or ``model.h5`` inside a run folder."""
    p = Path(spec)
    if p.is_dir():
        f = p / RUN_MODEL_FILE
        if not f.is_file():
            raise click.ClickException(f"{p} is a folder without a {RUN_MODEL_FILE}: give a run folder made by "
                                       "`zoo ... train -o` or a model file")
        return f
    if not p.exists():
        raise click.ClickException(f"model file not found: {p}")
    if not p.is_file():
        raise click.ClickException(f"{p} is not a regular file")
    return p


def evaluation_dir(model_file, data, output):
    """Where ``evaluate`` writes: ``-o``, else ``<run folder>/evaluate_<data name>``."""
    return Path(output) if output else Path(model_file).parent / f"evaluate_{Path(data).resolve().name}"


def app_of(path) -> str | None:
    """"image", "text" or "forecast" for a model file written by that app; None for any other file
    (a plain model.save file, or not zoo's format). Reads the asset names only."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            names = set(f["assets"].keys()) if "assets" in f else set()
    except (OSError, ValueError):
        return None
    for app, keys, _ in _APPS:
        if any(k in names for k in keys):
            return app
    return None


def require_app(path, want: str, command: str) -> None:
    """A one-line error when ``path`` was written by another app than ``want``, saying which
    command reads it."""
    app = app_of(path)
    if app is None or app == want:
        return
    how = next(h for a, _, h in _APPS if a == app).format(path=path)
    raise click.ClickException(f"{path} is {_a(app)} model (made by `zoo {app} train`); `{command}` needs "
                               f"{_a(want)} model. Use: {how}")


def _a(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def check_output_dir(path) -> Path:
    """Create the output folder ``path`` (and its parents) and check it is writable, before any work;
    a one-line error otherwise. Under data-parallel training (``mpirun -np N zoo ... train``) rank 0
    alone does this and every rank gets rank 0's folder (or its error): one run folder, which
    only rank 0 writes."""
    from core import distribute

    if distribute.distribution() is None:
        return _make_output_dir(path)
    outcome = None
    if distribute.writes_files():
        try:
            outcome = ("ok", str(_make_output_dir(path).resolve()))
        except click.ClickException as e:
            outcome = ("error", e.message)
    kind, value = distribute.broadcast_object(outcome)
    if kind == "error":
        raise click.ClickException(value)
    return Path(value)


def _make_output_dir(path) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise click.ClickException(f"output {p} exists and is not a folder: give a folder path with -o")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".zoo-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise click.ClickException(f"cannot write to the output folder {p}: {e.strerror or e}; "
                                   "choose another -o") from None
    return p


def check_output_file(path) -> Path:
    """Create the parent folder of the output file ``path`` and check it is writable."""
    p = Path(path)
    if p.is_dir():
        raise click.ClickException(f"output {p} is a folder: give a file path with -o")
    check_output_dir(p.parent if str(p.parent) else ".")
    return p
