"""The backup directory: names, manifests, checksums, atomic writes and retention.

A backup is two files: the database copy, `tasklane-20261124T024000.123Z-sqlite.db` (or
`…-postgresql.dump`, pg_dump's custom format), and its manifest beside it, the same name plus
`.json`: what kind of database it holds, when it was taken, its schema revision, its size and its
SHA-256. Both are written under a temporary name and renamed when complete, the manifest last, so
a backup with a manifest is whole; one without (a run that died) is not listed and is removed
once it is an hour old.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

SUFFIXES = {"sqlite": ".db", "postgresql": ".dump"}
KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
MANIFEST_SUFFIX = ".json"
NAME = re.compile(r"tasklane-(\d{8}T\d{6}\.\d{3}Z)-(sqlite|postgresql)\.(db|dump)")
PARTIAL_SUFFIX = ".partial"
ABANDONED_AFTER_SECONDS = 3600  # a partial file nobody wrote to for this long belongs to a dead run
FORMAT = 1

Progress = Callable[[str], None]  # told how far a backup or restore got: "dumped public.tasks"


class BackupError(RuntimeError):
    """What went wrong, in words for whoever runs the command (no traceback)."""


@dataclass(frozen=True)
class Manifest:
    format: int
    kind: str  # "sqlite" or "postgresql"
    file: str  # the name of the database copy beside the manifest
    taken_at: str  # ISO 8601, UTC
    schema_revision: str | None  # Alembic's revision of the backed-up database
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Backup:
    path: Path  # the database copy
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.path.name


def backup_name(kind: str, taken_at: datetime) -> str:
    stamp = taken_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"
    return f"tasklane-{stamp}-{kind}{SUFFIXES[kind]}"


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def prepare_directory(directory: Path) -> None:
    """The backup directory, made readable by its owner only: backups hold every password hash."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"cannot create the backup directory {directory}: {error.strerror}") from None
    if not os.access(directory, os.W_OK):
        raise BackupError(f"the backup directory {directory} is not writable")


@contextmanager
def partial_file(final: Path) -> Iterator[Path]:
    """A temporary path beside `final` to write into; removed if the block fails."""
    partial = final.with_name(f".{final.name}{PARTIAL_SUFFIX}")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def commit(partial: Path, final: Path, manifest: Manifest) -> Backup:
    """Move a complete database copy into place and write its manifest, each durably."""
    manifest_file = manifest_path(final)
    manifest_partial = manifest_file.with_name(f".{manifest_file.name}{PARTIAL_SUFFIX}")
    try:
        manifest_partial.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
        for path in (partial, manifest_partial):
            path.chmod(0o600)
            _fsync(path)
        os.replace(partial, final)
        os.replace(manifest_partial, manifest_file)
    except BaseException:
        manifest_partial.unlink(missing_ok=True)
        raise
    _fsync(final.parent)
    return Backup(final, manifest)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_backup(path: Path) -> Backup:
    """The backup at `path` (its database copy or its manifest), checked against its manifest."""
    if path.name.endswith(MANIFEST_SUFFIX):
        path = path.with_name(path.name.removesuffix(MANIFEST_SUFFIX))
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    manifest_file = manifest_path(path)
    try:
        manifest = Manifest(**json.loads(manifest_file.read_text()))
    except FileNotFoundError:
        raise BackupError(
            f"{path} has no manifest ({manifest_file.name}) beside it: not a Tasklane backup, or one that "
            "was not finished"
        ) from None
    except (ValueError, TypeError) as error:
        raise BackupError(f"{manifest_file} is not a backup manifest: {error}") from None
    if manifest.kind not in SUFFIXES:
        raise BackupError(f"{manifest_file} names no kind of database Tasklane backs up")
    size = path.stat().st_size
    if size != manifest.bytes:
        problem = f"is {size:,} bytes long, its manifest says {manifest.bytes:,}"
    elif sha256_of(path) != manifest.sha256:
        problem = "does not match the SHA-256 in its manifest"
    else:
        return Backup(path, manifest)
    raise BackupError(f"{path.name} {problem}: it is damaged or incomplete. Nothing was restored.")


def complete_backups(directory: Path) -> list[Path]:
    """The database copies in `directory` that have a manifest, oldest first (names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(
        path for path in directory.iterdir() if NAME.fullmatch(path.name) and manifest_path(path).is_file()
    )


def prune(directory: Path, keep: int, made: Path) -> list[str]:
    """Delete the oldest backups beyond the newest `keep`, never `made`, and what dead runs left
    behind; the names deleted."""
    backups = [path for path in complete_backups(directory) if path != made]
    doomed = backups[: max(len(backups) - (keep - 1), 0)]
    for path in doomed:
        manifest_path(path).unlink(missing_ok=True)  # first: without it, the copy is no backup
        path.unlink(missing_ok=True)
    return [path.name for path in doomed] + _remove_abandoned(directory)


def _remove_abandoned(directory: Path) -> list[str]:
    removed = []
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    for path in directory.iterdir():
        orphan = NAME.fullmatch(path.name) and not manifest_path(path).exists()
        if (orphan or path.name.endswith(PARTIAL_SUFFIX)) and path.stat().st_mtime < cutoff:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path.name)
    return removed
