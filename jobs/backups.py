"""The nightly backup: `flask backup` run by a worker, with the same retention."""

from __future__ import annotations

import logging

from webapp.backups.services import take_backup

from .appcontext import in_app_context

log = logging.getLogger(__name__)

# RQ stops a job after 180 s by default; a backup of a large database takes longer.
TIMEOUT_SECONDS = 4 * 3600


@in_app_context
def take_nightly_backup() -> dict:
    """Back up the database into BACKUP_DIR and keep the newest BACKUP_KEEP; what it did."""
    taken = take_backup(log.info)
    log.info("backed up into %s (%s bytes)", taken.backup.path, taken.backup.manifest.bytes)
    return {"backup": taken.backup.name, "bytes": taken.backup.manifest.bytes, "removed": taken.removed}
