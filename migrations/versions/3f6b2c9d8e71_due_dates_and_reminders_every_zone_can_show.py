"""due dates and reminders every zone can show

Before the forms bounded dates, a due date or reminder could be saved so near the end of the
calendar that another zone could not show it (9999-12-31 23:59 UTC is already year 10000 in
Pacific/Kiritimati): its owner's task pages failed in that zone. Such moments move to the nearest
one every zone can show (webapp.timezones.EARLIEST and LATEST, as the naive UTC the columns hold).
Nothing can be moved back, so the downgrade changes nothing.

Revision ID: 3f6b2c9d8e71
Revises: 0d99b534c470
Create Date: 2026-11-25 10:00:00.000000

"""
from datetime import datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f6b2c9d8e71'
down_revision = '0d99b534c470'
branch_labels = None
depends_on = None

EARLIEST = datetime(1, 1, 2)
LATEST = datetime(9999, 12, 31)
MOMENTS = (("tasks", "due_at"), ("reminders", "remind_at"))


def upgrade():
    for table, column in MOMENTS:
        for bound, beyond in ((EARLIEST, "<"), (LATEST, ">")):
            op.execute(
                sa.text(f"UPDATE {table} SET {column} = :bound WHERE {column} {beyond} :bound").bindparams(
                    sa.bindparam("bound", bound, type_=sa.DateTime())
                )
            )


def downgrade():
    pass
