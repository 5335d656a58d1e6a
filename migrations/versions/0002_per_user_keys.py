"""ids unique per user: (user_id, id) primary keys; task numbers drawn from counters

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Tasks and sessions get the primary key (user_id, id), so two users may hold the same
UUID (import keeps the source's). The per-user task-number counter moves out of
``users`` into ``counters`` (user_id primary key), so that task work never writes
``users``. SQLite changes the tables through batch mode (copy and rename).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _shapes_0001() -> sa.MetaData:
    """The 0001 tables that SQLite rebuilds: batch mode copies them from these shapes
    instead of reflecting them, so that `db migrate --sql` works without a database."""
    stamp = sa.DateTime(timezone=True)
    shapes = sa.MetaData()
    sa.Table('users', shapes,
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('password_hash', sa.String(length=512), nullable=False),
        sa.Column('created_at', stamp, nullable=False),
        sa.Column('updated_at', stamp, nullable=False),
        sa.Column('next_task_number', sa.Integer(), server_default='1', nullable=False),
        sa.PrimaryKeyConstraint('id', name='users_pkey'),
        sa.UniqueConstraint('email'),
    )  # fmt: skip
    sa.Table('sessions', shapes,
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', stamp, nullable=False),
        sa.Column('expires_at', stamp, nullable=False),
        sa.Column('revoked_at', stamp, nullable=True),
        sa.Column('client', sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='sessions_pkey'),
    )  # fmt: skip
    sa.Table('tasks', shapes,
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=11), nullable=False),
        sa.Column('priority', sa.String(length=6), nullable=False),
        sa.Column('due', stamp, nullable=True),
        sa.Column('project', sa.String(length=100), nullable=True),
        sa.Column('tags', sa.JSON(), nullable=False),  # SQLite's type (a text array on PG)
        sa.Column('created_at', stamp, nullable=False),
        sa.Column('updated_at', stamp, nullable=False),
        sa.Column('completed_at', stamp, nullable=True),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high')", name='ck_tasks_priority'),
        sa.CheckConstraint("status IN ('pending', 'in_progress', 'completed')",
                           name='ck_tasks_status'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='tasks_pkey'),
        sa.UniqueConstraint('user_id', 'number', name='uq_tasks_user_number'),
        sa.Index('ix_tasks_tags', 'tags'),
        sa.Index('ix_tasks_user_created', 'user_id', 'created_at'),
        sa.Index('ix_tasks_user_due', 'user_id', 'due'),
        sa.Index('ix_tasks_user_project', 'user_id', 'project'),
        sa.Index('ix_tasks_user_status', 'user_id', 'status'),
        sa.Index('ix_tasks_user_updated', 'user_id', 'updated_at'),
    )  # fmt: skip
    return shapes


def _batch(table: str, copy_from: sa.MetaData | None = None):
    # 0001 left the primary keys unnamed: PostgreSQL named them <table>_pkey, and the
    # naming convention gives SQLite's reflected ones the same name.
    sqlite = op.get_context().dialect.name == "sqlite"
    return op.batch_alter_table(
        table,
        copy_from=copy_from.tables[table] if copy_from is not None and sqlite else None,
        naming_convention={"pk": "%(table_name)s_pkey"},
    )


def _set_primary_key(table: str, columns: list[str], copy_from=None) -> None:
    with _batch(table, copy_from) as batch:
        batch.drop_constraint(f"{table}_pkey", type_="primary")
        batch.create_primary_key(f"{table}_pkey", columns)


def upgrade() -> None:
    op.create_table('counters',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('next_task_number', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.execute(
        "INSERT INTO counters (user_id, next_task_number) SELECT id, next_task_number FROM users"
    )
    shapes = _shapes_0001()
    with _batch('users', shapes) as batch:
        batch.drop_column('next_task_number')
    _set_primary_key('tasks', ['user_id', 'id'], shapes)
    # the new primary key leads with user_id: the separate index is redundant
    op.drop_index('ix_sessions_user_id', table_name='sessions')
    _set_primary_key('sessions', ['user_id', 'id'], shapes)


def downgrade() -> None:
    """Fails (duplicate key) when two users hold the same task or session id."""
    _set_primary_key('sessions', ['id'])
    op.create_index('ix_sessions_user_id', 'sessions', ['user_id'], unique=False)
    _set_primary_key('tasks', ['id'])
    with _batch('users') as batch:
        batch.add_column(
            sa.Column('next_task_number', sa.Integer(), server_default='1', nullable=False)
        )
    op.execute(
        "UPDATE users SET next_task_number = "
        "(SELECT next_task_number FROM counters WHERE counters.user_id = users.id)"
    )
    op.drop_table('counters')
