"""the trash lists each user's deleted tasks

ix_tasks_owner_trash (owner_id, deleted_at) over deleted tasks only: /trash reads a user's
deleted tasks newest first from it, however many live tasks they have. On PostgreSQL it is built
CONCURRENTLY, so writes to tasks go on meanwhile.

Revision ID: a1c4e7f20b31
Revises: f80a22b26857
Create Date: 2026-12-02 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c4e7f20b31'
down_revision = 'f80a22b26857'
branch_labels = None
depends_on = None

DELETED = sa.text('deleted_at IS NOT NULL')


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index('ix_tasks_owner_trash', 'tasks', ['owner_id', 'deleted_at'], unique=False,
                            postgresql_where=DELETED, postgresql_concurrently=True)
    else:
        op.create_index('ix_tasks_owner_trash', 'tasks', ['owner_id', 'deleted_at'], unique=False,
                        sqlite_where=DELETED)


def downgrade():
    op.drop_index('ix_tasks_owner_trash', table_name='tasks', sqlite_where=DELETED, postgresql_where=DELETED)
