"""users, sessions, tasks and meta

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import uuid

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=512), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_task_number', sa.Integer(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sessions_user_id', 'sessions', ['user_id'], unique=False)
    op.create_table('tasks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=11), nullable=False),
    sa.Column('priority', sa.String(length=6), nullable=False),
    sa.Column('due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('project', sa.String(length=100), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.ARRAY(sa.String(length=50)), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("priority IN ('low', 'medium', 'high')", name='ck_tasks_priority'),
    sa.CheckConstraint("status IN ('pending', 'in_progress', 'completed')", name='ck_tasks_status'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'number', name='uq_tasks_user_number')
    )
    op.create_index('ix_tasks_tags', 'tasks', ['tags'], unique=False, postgresql_using='gin')
    op.create_index('ix_tasks_user_created', 'tasks', ['user_id', 'created_at'], unique=False)
    op.create_index('ix_tasks_user_due', 'tasks', ['user_id', 'due'], unique=False)
    op.create_index('ix_tasks_user_project', 'tasks', ['user_id', 'project'], unique=False)
    op.create_index('ix_tasks_user_status', 'tasks', ['user_id', 'status'], unique=False)
    op.create_index('ix_tasks_user_updated', 'tasks', ['user_id', 'updated_at'], unique=False)
    _seed_meta()


def _seed_meta() -> None:
    """The database's identity (token audience) and its token signing key.

    The key is drawn by the database server, so `db migrate --sql` never prints a secret.
    """
    if op.get_context().dialect.name == "postgresql":
        key_sql = "encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text"
        key_sql += " || clock_timestamp()::text, 'UTF8')), 'hex')"
    else:
        key_sql = "lower(hex(randomblob(32)))"
    op.execute(
        f"INSERT INTO meta (key, value) VALUES ('database_id', '{uuid.uuid4()}'), "
        f"('signing_key', {key_sql})"
    )


def downgrade() -> None:
    op.drop_index('ix_tasks_user_updated', table_name='tasks')
    op.drop_index('ix_tasks_user_status', table_name='tasks')
    op.drop_index('ix_tasks_user_project', table_name='tasks')
    op.drop_index('ix_tasks_user_due', table_name='tasks')
    op.drop_index('ix_tasks_user_created', table_name='tasks')
    op.drop_index('ix_tasks_tags', table_name='tasks', postgresql_using='gin')
    op.drop_table('tasks')
    op.drop_index('ix_sessions_user_id', table_name='sessions')
    op.drop_table('sessions')
    op.drop_table('users')
    op.drop_table('meta')
