"""`flask backup` and `flask restore`."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .archive import KIND_NAMES, BackupError
from .services import (
    check_backup,
    forget_cached_pages,
    restore_backup,
    restore_target,
    schema_advice,
    take_backup,
)


@click.command("backup")
def backup_command() -> None:
    """Back up the database into BACKUP_DIR while the app runs; keep the newest BACKUP_KEEP."""
    started = time.monotonic()
    try:
        taken = take_backup(click.echo)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = taken.backup.manifest
    click.echo(
        f"Backed up into {taken.backup.path} ({manifest.bytes:,} bytes, sha256 {manifest.sha256[:16]}…) "
        f"in {time.monotonic() - started:.1f} s."
    )
    for name in taken.removed:
        click.echo(f"Removed {name}, beyond BACKUP_KEEP.")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to",
    metavar="URL_OR_PATH",
    help="Restore into this database (a URL, or the path of an SQLite file) instead of the configured one.",
)
@click.option("--yes", is_flag=True, help="Replace the target's data without asking.")
def restore_command(file: Path, to: str | None, yes: bool) -> None:
    """Restore the backup FILE into the configured database (stop web, worker and scheduler first)."""
    try:
        target = restore_target(to)
        backup = check_backup(file, target)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = backup.manifest
    click.echo(f"{backup.name}: {KIND_NAMES[manifest.kind]}, taken {manifest.taken_at}, checksum verified.")
    if target.exists and not yes and not _confirmed(f"Replace everything in {target.description} with it?"):
        raise click.ClickException("not confirmed: nothing was restored (--yes restores without asking)")
    started = time.monotonic()
    try:
        restore_backup(backup, target, click.echo)
    except BackupError as error:
        raise click.ClickException(f"{error}\nNothing was restored: a restore is one transaction.") from None
    click.echo(f"Restored into {target.description} in {time.monotonic() - started:.1f} s.")
    if to is None and (cache_note := forget_cached_pages()):
        click.echo(cache_note)
    if advice := schema_advice(backup):
        click.echo(f"Next: {advice}.")


def _confirmed(question: str) -> bool:
    try:
        return click.confirm(question, default=False)
    except click.Abort:  # no answer (stdin closed) or Ctrl-C
        return False
