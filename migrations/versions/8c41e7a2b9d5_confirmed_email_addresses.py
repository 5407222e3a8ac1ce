"""confirmed e-mail addresses

A new account confirms its address by a mailed link before mail about its tasks goes to it:
`users.email_verified_at` records when, and `email_confirmations` holds the links (their hashes).
Accounts from before already receive mail: they count as confirmed from when they were made, so
nobody loses their reminders at this upgrade.

Revision ID: 8c41e7a2b9d5
Revises: 3f6b2c9d8e71
Create Date: 2026-11-27 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8c41e7a2b9d5'
down_revision = '3f6b2c9d8e71'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE, on SQLite too: a batch copy of `users` would drop the table, and with
    # foreign keys on, that deletes every row that refers to a user.
    op.add_column('users', sa.Column('email_verified_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE users SET email_verified_at = created_at")

    op.create_table('email_confirmations',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_email_confirmations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_email_confirmations'))
    )
    with op.batch_alter_table('email_confirmations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_confirmations_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('email_confirmations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_confirmations_user_id'))
    op.drop_table('email_confirmations')

    op.drop_column('users', 'email_verified_at')
