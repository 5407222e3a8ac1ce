"""search finds any part of a word ("port" finds "passport")

PostgreSQL: a trigram GIN index over the same expression as ix_tasks_search (title, a space,
notes) of live tasks, which serves `ILIKE '%port%'`. It needs the pg_trgm extension: created
here when the database role may (pg_trgm is a trusted extension from PostgreSQL 13: the owner
of the database may create it); otherwise the migration says so and search still works, by
reading the user's tasks instead of the index. The index is built CONCURRENTLY, so writes to
tasks go on meanwhile.

SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+), external content on `tasks`,
kept in sync by triggers like tasks_fts, and filled from the tasks already there.

The query side lives in webapp/tasks/queries.py and must use the same expression. Terms of one
or two letters are too short for trigrams: they still use ix_tasks_search / tasks_fts (word
starts).

Revision ID: b7d2f95c3e64
Revises: a1c4e7f20b31
Create Date: 2026-12-02 02:10:00.000000

"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2f95c3e64'
down_revision = 'a1c4e7f20b31'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
PG_SEARCH_TEXT = "(title || ' ' || notes)"
MAY_CREATE_EXTENSION = sa.text(
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') AND ("
    "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
    " OR has_database_privilege(current_database(), 'CREATE'))"
)
HAS_EXTENSION = sa.text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")


def _upgrade_postgresql():
    bind = op.get_bind()
    if not bind.execute(HAS_EXTENSION).scalar():
        if not bind.execute(MAY_CREATE_EXTENSION).scalar():
            log.warning(
                "pg_trgm is not installed and this role may not create it: search works, without "
                "ix_tasks_trigram. Run CREATE EXTENSION pg_trgm as a superuser, then this migration again."
            )
            return
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_tasks_trigram ON tasks "
            f"USING gin ({PG_SEARCH_TEXT} gin_trgm_ops) WHERE deleted_at IS NULL"
        )


def _upgrade_sqlite():
    op.execute(
        "CREATE VIRTUAL TABLE tasks_trigram USING fts5(title, notes, content='tasks', content_rowid='id', "
        "tokenize='trigram')"
    )
    op.execute(
        "CREATE TRIGGER tasks_trigram_insert AFTER INSERT ON tasks BEGIN "
        "INSERT INTO tasks_trigram(rowid, title, notes) VALUES (new.id, new.title, new.notes); END"
    )
    op.execute(
        "CREATE TRIGGER tasks_trigram_delete AFTER DELETE ON tasks BEGIN "
        "INSERT INTO tasks_trigram(tasks_trigram, rowid, title, notes) "
        "VALUES ('delete', old.id, old.title, old.notes); END"
    )
    op.execute(
        "CREATE TRIGGER tasks_trigram_update AFTER UPDATE OF title, notes ON tasks BEGIN "
        "INSERT INTO tasks_trigram(tasks_trigram, rowid, title, notes) "
        "VALUES ('delete', old.id, old.title, old.notes); "
        "INSERT INTO tasks_trigram(rowid, title, notes) VALUES (new.id, new.title, new.notes); END"
    )
    op.execute("INSERT INTO tasks_trigram(tasks_trigram) VALUES ('rebuild')")


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_tasks_trigram")
        return
    for trigger in ("tasks_trigram_insert", "tasks_trigram_delete", "tasks_trigram_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS tasks_trigram")
