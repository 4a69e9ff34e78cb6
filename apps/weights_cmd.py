"""``zoo weights``: list, download, verify, locate, import and purge pretrained files.

Only click is imported at module level; ``zoo.weights`` (and through it requests/tqdm) is
imported inside the commands so ``zoo --help`` stays fast.
"""
from __future__ import annotations

import click


def _api():
    from zoo import weights

    return weights


def _human(n) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)  # pragma: no cover


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _check_keys(w, keys) -> None:
    for k in keys:
        try:
            w.get_entry(k)
        except w.WeightsError as exc:
            raise _fail(exc) from None


@click.group("weights")
def weights():
    """Manage pretrained weights: a verified cache of the files in weights_manifest.json.

    \b
    Cache: $ZOO_HOME, else $XDG_CACHE_HOME/zoo, else ~/.cache/zoo.
    ZOO_MIRROR=URL tries URL/<file name> before the upstream URLs.
    ZOO_OFFLINE=1 never touches the network (place files with `zoo weights import`).
    """


@weights.command("list")
@click.option("--cached", "only_cached", is_flag=True, help="Show only the entries in the cache (or built in).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry instead of the table.")
def list_cmd(only_cached: bool, as_json: bool):
    """List every entry: key, size, cached (or built in: shipped inside the package), checksum strength,
    license."""
    w = _api()
    try:
        rows = w.list()
    except w.WeightsError as exc:
        raise _fail(exc) from None
    for r in rows:
        r["status"] = "built in" if w.is_builtin(r["key"]) else "yes" if r["cached"] else "no"
    if only_cached:
        rows = [r for r in rows if r["status"] != "no"]
    if as_json:
        import json

        for r in rows:
            click.echo(json.dumps({"key": r["key"], "size_bytes": r["size_bytes"], "cached": bool(r["cached"]),
                                   "built_in": r["status"] == "built in",
                                   "checksum": r["checksum"], "path": r["path"], "license": r["license"],
                                   "urls": r["urls"]}))
        return
    if not rows:
        click.echo("no cached weights" if only_cached else "the manifest has no entries")
        return
    kw = max(len("KEY"), *(len(r["key"]) for r in rows))
    cw = max(len("CHECKSUM"), *(len(r["checksum"]) for r in rows))
    click.echo(f"{'KEY':<{kw}}  {'SIZE':>10}  {'CACHED':<8}  {'CHECKSUM':<{cw}}  LICENSE")
    for r in rows:
        lic = r["license"].split(" (")[0]
        click.echo(f"{r['key']:<{kw}}  {_human(r['size_bytes']):>10}  {r['status']:<8}  {r['checksum']:<{cw}}  {lic}")
    if any(r["status"] == "built in" for r in rows):
        click.echo("built in: shipped inside the zoo package (converted from the listed file), used with no download")
    if any("weak" in r["checksum"] for r in rows):
        click.echo("weak: pinned by a short SHA-256 prefix only (upstream publishes nothing longer); "
                   "`zoo weights import KEY FILE` from a copy you trust pins its full hash")


@weights.command("download")
@click.argument("keys", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Download every entry of the manifest.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--timeout", type=float, default=None, help="Connect/read timeout in seconds.")
@click.option("--retries", type=int, default=None, help="Retries per URL on connection errors and 5xx.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key: {key, path} or {key, error}.")
def download_cmd(keys, all_: bool, quiet: bool, timeout, retries, as_json: bool):
    """Download (and verify) KEY... or --all; prints each file's path."""
    w = _api()
    if all_ and keys:
        raise click.UsageError("give keys or --all, not both")
    if not all_ and not keys:
        raise click.UsageError("give at least one KEY (see `zoo weights list`) or --all")
    try:
        keys = w.keys() if all_ else list(keys)
    except w.WeightsError as exc:
        raise _fail(exc) from None
    _check_keys(w, keys)
    failed = []
    for k in keys:
        try:
            p = w.fetch(k, progress=False if quiet else None, timeout=timeout, retries=retries)
        except w.WeightsError as exc:
            failed.append(k)
            if as_json:
                import json

                click.echo(json.dumps({"key": k, "error": str(exc)}))
            click.echo(f"error: {k}: {exc}", err=True)
            continue
        if as_json:
            import json

            click.echo(json.dumps({"key": k, "path": str(p)}))
        else:
            click.echo(f"{k}: {p}")
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(keys)} downloads failed: {', '.join(failed)}")


@weights.command("verify")
@click.argument("keys", nargs=-1)
def verify_cmd(keys):
    """Re-hash cached files (KEY..., or every cached entry); exit 1 on a bad or missing file."""
    w = _api()
    try:
        if not keys:
            keys = [r["key"] for r in w.list() if w.path(r["key"]).is_file()]
            if not keys:
                click.echo("no cached weights to verify")
                return
    except w.WeightsError as exc:
        raise _fail(exc) from None
    _check_keys(w, keys)
    bad = []
    for k in keys:
        try:
            p = w.verify(k)
        except w.WeightsError as exc:
            bad.append(k)
            click.echo(f"FAILED {k}: {exc}", err=True)
            continue
        click.echo(f"ok     {k}: {p}")
    if bad:
        raise click.ClickException(f"{len(bad)} of {len(keys)} files failed verification: {', '.join(bad)}")


@weights.command("path")
@click.argument("key")
def path_cmd(key):
    """Print the cached file's path (exit 1 when it is not cached yet)."""
    w = _api()
    try:
        p = w.path(key)
    except w.WeightsError as exc:
        raise _fail(exc) from None
    if not p.is_file():
        raise click.ClickException(
            f"{key!r} is not in the cache; it would be at {p}. "
            f"Run `zoo weights download {key}` (or `zoo weights import {key} FILE`).")
    click.echo(str(p))


@weights.command("import")
@click.argument("key")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_cmd(key, file):
    """Verify FILE (obtained elsewhere) against KEY's checksum and place it in the cache."""
    w = _api()
    try:
        p = w.import_file(key, file)
    except w.WeightsError as exc:
        raise _fail(exc) from None
    click.echo(f"imported {key}: {p}")


@weights.command("purge")
@click.argument("keys", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before purging the whole cache.")
def purge_cmd(keys, yes: bool):
    """Delete cached files of KEY... (every cached file when no KEY is given)."""
    w = _api()
    _check_keys(w, keys)
    if not keys and not yes:
        click.confirm(f"delete every cached weight file under {w.cache_dir()}?", abort=True)
    try:
        removed = w.purge(list(keys) if keys else None)
    except w.WeightsError as exc:
        raise _fail(exc) from None
    for p in removed:
        click.echo(f"removed {p}")
    click.echo(f"{len(removed)} file(s) removed")
