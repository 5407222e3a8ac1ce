"""Backups of the database, and restoring them.

- `flask backup` (and the nightly job, jobs/backups.py) takes a consistent copy while the app
  runs, SQLite with its backup API (sqlite.py), PostgreSQL with pg_dump (postgres.py), into
  BACKUP_DIR with a manifest and checksum, and keeps the newest BACKUP_KEEP (archive.py).
- `flask restore FILE` checks the file against its manifest, asks, and writes it into the
  configured database (or `--to` another), whole or not at all.
"""
