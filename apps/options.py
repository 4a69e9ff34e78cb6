"""Options every command that does work shares: ``--json``, ``-q/--quiet`` and ``--device``."""
from __future__ import annotations

import contextlib
import functools
import os

import click


def work_options(f=None, *, json_help="Print JSON instead of a table.", device=True):
    """Add ``--json`` (as_json), ``-q/--quiet`` (quiet) and, unless ``device=False``, ``--device``.
    Under an MPI launcher (``mpirun -np N zoo ...``) the command runs on every rank, data-parallel,
    and only rank 0 prints: the other ranks run it quiet, their output discarded (an error still
    ends the job with its message)."""

    def deco(fn):
        fn = _rank_0_prints(fn)
        if device:
            fn = click.option("--device", default=None,
                              help="cpu, gpu or gpu:N (gpu needs CuPy). [default: $ZOO_DEVICE, else cpu]")(fn)
        fn = click.option("--quiet", "-q", is_flag=True, help="No progress bars or progress lines.")(fn)
        fn = click.option("--json", "as_json", is_flag=True, help=json_help)(fn)
        return fn

    return deco(f) if f is not None else deco


def use_device(device) -> None:
    """Make ``device`` the default device (None keeps $ZOO_DEVICE / cpu); a one-line error when it is unusable.
    Under an MPI launcher, ``gpu`` (no index) is each process's own GPU: ``gpu:<local rank>``."""
    if device is None:
        return
    from core import backend

    if device.strip().lower() in ("gpu", "cuda") and _under_launcher():
        from core import distribute

        device = f"gpu:{distribute.local_rank()}"

    try:
        backend.set_default_device(device)
    except (RuntimeError, ValueError, ImportError) as e:
        raise click.ClickException(f"--device {device}: {e}") from None


def _rank_0_prints(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        if not _under_launcher():
            return fn(*args, **kwargs)
        from core import distribute

        if distribute.writes_files():
            return fn(*args, **kwargs)
        kwargs["quiet"] = True
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return fn(*args, **kwargs)

    return run


def _under_launcher() -> bool:
    """Whether an MPI launcher may have started this process (read from the environment, so that a
    plain run never imports the engine here)."""
    return any(v in os.environ for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE",
                                         "SLURM_STEP_NUM_TASKS"))
