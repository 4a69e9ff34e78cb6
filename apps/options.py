"""Options every command that does work shares: ``--json``, ``-q/--quiet`` and ``--device``."""
from __future__ import annotations

import click


def work_options(f=None, *, json_help="Print JSON instead of a table.", device=True):
    """Add ``--json`` (as_json), ``-q/--quiet`` (quiet) and, unless ``device=False``, ``--device``."""

    def deco(fn):
        if device:
            fn = click.option("--device", default=None,
                              help="cpu, gpu or gpu:N (gpu needs CuPy). [default: $ZOO_DEVICE, else cpu]")(fn)
        fn = click.option("--quiet", "-q", is_flag=True, help="No progress bars or progress lines.")(fn)
        fn = click.option("--json", "as_json", is_flag=True, help=json_help)(fn)
        return fn

    return deco(f) if f is not None else deco


def use_device(device) -> None:
    """Make ``device`` the default device (None keeps $ZOO_DEVICE / cpu); a one-line error when it is unusable."""
    if device is None:
        return
    from core import backend

    try:
        backend.set_default_device(device)
    except (RuntimeError, ValueError, ImportError) as e:
        raise click.ClickException(f"--device {device}: {e}") from None
