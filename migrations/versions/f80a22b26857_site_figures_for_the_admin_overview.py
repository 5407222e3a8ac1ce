"""site figures for the admin overview

daily_stats (one figure of one UTC day) and site_totals (figures of the whole site) are written
by the periodic counting job (webapp/admin/site_stats.py) and read by the overview, which never
counts a million tasks itself. The indexes let that job read only what it counts: sign-ups and
completions of the last 30 days (of tasks in the bin too), and tasks by status from an index instead of the table.
On PostgreSQL the tasks indexes are built CONCURRENTLY, so writes to tasks go on meanwhile.
The failed-mail index is keyed on id instead of created_at: the admins' list pages by id.

Revision ID: f80a22b26857
Revises: 6c61ce5734e6
Create Date: 2026-12-01 07:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f80a22b26857'
down_revision = '6c61ce5734e6'
branch_labels = None
depends_on = None

LIVE = sa.text('deleted_at IS NULL')
COMPLETED = sa.text('completed_at IS NOT NULL')
FAILED = sa.text("state = 'failed'")
# (name, column, which tasks)
TASK_INDEXES = (('ix_tasks_completed_at', 'completed_at', COMPLETED), ('ix_tasks_status', 'status', LIVE))


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    op.create_table('daily_stats',
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('metric', 'day', name=op.f('pk_daily_stats'))
    )
    op.create_table('site_totals',
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('counted_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('metric', name=op.f('pk_site_totals'))
    )
    op.create_index('ix_users_created_at', 'users', ['created_at'], unique=False)
    with op.batch_alter_table('deliveries', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_deliveries_failed', sqlite_where=FAILED, postgresql_where=FAILED)
        batch_op.create_index('ix_deliveries_failed', ['id'], unique=False, sqlite_where=FAILED, postgresql_where=FAILED)

    if _postgresql():
        with op.get_context().autocommit_block():
            for name, column, which in TASK_INDEXES:
                op.create_index(name, 'tasks', [column], unique=False, postgresql_where=which, postgresql_concurrently=True)
    else:
        for name, column, which in TASK_INDEXES:
            op.create_index(name, 'tasks', [column], unique=False, sqlite_where=which)


def downgrade():
    for name, _, which in TASK_INDEXES:
        op.drop_index(name, table_name='tasks', sqlite_where=which, postgresql_where=which)
    with op.batch_alter_table('deliveries', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_deliveries_failed', sqlite_where=FAILED, postgresql_where=FAILED)
        batch_op.create_index('ix_deliveries_failed', ['created_at'], unique=False, sqlite_where=FAILED, postgresql_where=FAILED)
    op.drop_index('ix_users_created_at', table_name='users')
    op.drop_table('site_totals')
    op.drop_table('daily_stats')
