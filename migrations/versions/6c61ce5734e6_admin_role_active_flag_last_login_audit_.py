"""admin role, active flag, last login, audit log

Users get a role (is_admin) and an active flag: every existing account stays a user, and active.
The first admin comes from `flask users create-admin`. audit_entries records what admins do.

Revision ID: 6c61ce5734e6
Revises: 8c41e7a2b9d5
Create Date: 2026-12-01 06:17:30.240262

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6c61ce5734e6'
down_revision = '8c41e7a2b9d5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=254), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_entries_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_id'], ['users.id'], name=op.f('fk_audit_entries_target_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_entries_target_id_id', ['target_id', 'id'], unique=False)

    # Plain ALTER TABLE … ADD COLUMN, never a copy of `users` (see downgrade): the defaults are
    # literals, '0' and '1', which both databases read as booleans.
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_users_admins', ['id'], unique=False, sqlite_where=sa.text('is_admin'), postgresql_where=sa.text('is_admin'))


def downgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), never a copy of the table: copying `users`
    # drops the original, which an open connection can hold locked, and with foreign keys on,
    # SQLite deletes what refers to it first.
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.drop_index('ix_users_admins', sqlite_where=sa.text('is_admin'), postgresql_where=sa.text('is_admin'))
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('active')
        batch_op.drop_column('is_admin')

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_target_id_id')
        batch_op.drop_index(batch_op.f('ix_audit_entries_actor_id'))

    op.drop_table('audit_entries')
