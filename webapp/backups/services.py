"""Taking a backup of the configured database, and restoring one into it or elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from .. import redis_clients
from ..config import BASE_DIR
from ..extensions import cache
from ..timezones import now_utc
from . import postgres, sqlite
from .archive import (
    FORMAT,
    KIND_NAMES,
    Backup,
    BackupError,
    Manifest,
    Progress,
    backup_name,
    commit,
    partial_file,
    prepare_directory,
    prune,
    read_backup,
    sha256_of,
)


@dataclass(frozen=True)
class BackupTaken:
    backup: Backup
    removed: list[str]  # older backups deleted to keep BACKUP_KEEP


def database_kind(url: str) -> str:
    kind = make_url(url).get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        raise BackupError(f"backups cover SQLite and PostgreSQL, not {kind}")
    return kind


def take_backup(progress: Progress) -> BackupTaken:
    """Back up the configured database into BACKUP_DIR, then keep the newest BACKUP_KEEP."""
    config = current_app.config
    keep = config["BACKUP_KEEP"]
    if keep < 1:
        raise BackupError(f"BACKUP_KEEP is {keep}: it must keep at least the backup just taken")
    url = config["SQLALCHEMY_DATABASE_URI"]
    kind = database_kind(url)
    directory = Path(config["BACKUP_DIR"])
    prepare_directory(directory)
    taken_at = now_utc()
    final = directory / backup_name(kind, taken_at)
    with partial_file(final) as partial:
        if kind == "sqlite":
            revision = sqlite.dump(url, partial, progress, step_pages=config["BACKUP_SQLITE_STEP_PAGES"])
        else:
            revision = postgres.dump(url, partial, progress)
        manifest = Manifest(
            format=FORMAT,
            kind=kind,
            file=final.name,
            taken_at=taken_at.isoformat(),
            schema_revision=revision,
            bytes=partial.stat().st_size,
            sha256=sha256_of(partial),
        )
        backup = commit(partial, final, manifest)
    return BackupTaken(backup, prune(directory, keep, made=final))


@dataclass(frozen=True)
class RestoreTarget:
    url: str
    kind: str
    description: str  # where, without a password
    exists: bool  # a restore replaces what it holds


def restore_target(to: str | None) -> RestoreTarget:
    """The configured database, or `to`: a database URL, or the path of a new SQLite file."""
    url = to or current_app.config["SQLALCHEMY_DATABASE_URI"]
    if "://" not in url:
        url = f"sqlite:///{Path(url).resolve()}"
    kind = database_kind(url)
    engine = sqlite if kind == "sqlite" else postgres
    return RestoreTarget(url, kind, engine.describe(url), engine.exists(url))


def check_backup(path: Path, target: RestoreTarget) -> Backup:
    """The backup at `path`, whole (its checksum matches) and of the target's kind of database."""
    backup = read_backup(path)
    if backup.manifest.kind != target.kind:
        raise BackupError(
            f"{backup.name} is a backup of {KIND_NAMES[backup.manifest.kind]}; {target.description} is a "
            f"{KIND_NAMES[target.kind]} database"
        )
    return backup


def restore_backup(backup: Backup, target: RestoreTarget, progress: Progress) -> None:
    if target.kind == "sqlite":
        sqlite.restore(
            backup.path, target.url, progress, step_pages=current_app.config["BACKUP_SQLITE_STEP_PAGES"]
        )
    else:
        postgres.restore(backup.path, target.url, progress)


def schema_advice(backup: Backup) -> str | None:
    """What to run after restoring a backup taken at another schema revision than this code's."""
    revision = backup.manifest.schema_revision
    scripts = ScriptDirectory(str(BASE_DIR / "migrations"))
    if revision in scripts.get_heads():
        return None
    try:
        known = revision is not None and scripts.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        return f"the backup's schema ({revision}) is unknown to this code: run the version that took it"
    return f"the backup's schema is at {revision}, older than this version's: run `flask db upgrade`"


def forget_cached_pages() -> str | None:
    """After a restore into the app's own database: the pages and sessions cached in Redis show
    the data that was replaced, so they go (the job queues and rate limits stay)."""
    if not redis_clients.configured(current_app):
        return None  # each process caches for itself, and they are stopped
    try:
        cache.clear()
    except RedisError as error:
        return f"Could not clear the cached pages ({error}): they expire within SESSION_CACHE_SECONDS."
    return "Cleared the cached pages and sessions."
