"""Desktop housekeeping commands: where the data lives, and the store's backups."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from annotary.cli.main import cli, emit
from annotary.core.errors import AnnotaryError
from annotary.ops.backup import list_backups, locations, newest_good_backup, restore
from annotary.paths import store_path

STORE = click.option("--store", "store_file", type=click.Path(dir_okay=False),
                     help="Another store file (default: yours, see `annotary paths`).")
JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@cli.command("paths")
@JSON
def paths_cmd(as_json):
    """Show where your data lives: data folder, store, identity, backups, crash log, resources.

    The data folder is the platform's user data folder; ANNOTARY_HOME moves it.

    \b
    Example:
      annotary paths --json
    """
    data = locations()
    emit(data, as_json, "\n".join(f"{k:14} {v}" for k, v in data.items()))


@cli.group()
def backup():
    """Backups of your store: made at start and exit, one a day, the last 7 kept.

    \b
    Example:
      annotary backup list
      annotary backup restore
    """


@backup.command("list")
@STORE
@JSON
def backup_list(store_file, as_json):
    """List the store's backups, newest first.

    \b
    Example:
      annotary backup list --json
    """
    store_file = Path(store_file) if store_file else store_path()
    rows = [b.as_dict() for b in list_backups(store_file)]
    text = "\n".join(f"{r['made'].replace('T', ' ')}  {r['kind']:14} {r['bytes']:>10}  {r['name']}"
                     for r in rows)
    emit(rows, as_json, text or f"no backups of {store_file} yet")


@backup.command("restore")
@click.argument("name", required=False)
@STORE
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@JSON
def backup_restore(name, store_file, yes, as_json):
    """Put a backup (NAME from `annotary backup list`, or a file; default: the newest good one)
    in place of the store. The current store is kept as a backup first. Refused while Annotary
    is open on the store.

    \b
    Example:
      annotary backup restore annotary-20260101-120000-auto.db --yes
    """
    store_file = Path(store_file) if store_file else store_path()
    if name:
        chosen = next((b.path for b in list_backups(store_file) if b.name == name), None)
        chosen = chosen or (Path(name) if Path(name).is_file() else None)
        if chosen is None:
            raise AnnotaryError(f"no backup named {name}; see `annotary backup list`")
    else:
        good = newest_good_backup(store_file)
        if good is None:
            raise AnnotaryError(f"no good backup of {store_file}; see `annotary backup list`")
        chosen = good.path
    if not yes:
        if not sys.stdin.isatty():
            raise AnnotaryError("restoring replaces your store: pass --yes to confirm")
        click.confirm(f"Replace {store_file} with {chosen.name}?", abort=True)
    kept = restore(store_file, chosen)
    data = {"restored": str(chosen), "store": str(store_file), "kept": str(kept.path) if kept else None}
    emit(data, as_json, f"restored {chosen.name} to {store_file}"
                        + (f"; the previous store was kept as {kept.name}" if kept else ""))
