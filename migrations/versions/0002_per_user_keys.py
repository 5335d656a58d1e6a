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


def _set_primary_key(table: str, columns: list[str]) -> None:
    # 0001 left the primary keys unnamed: PostgreSQL named them <table>_pkey, and the
    # naming convention gives SQLite's the same name (batch mode rebuilds the table).
    convention = {"pk": "%(table_name)s_pkey"}
    with op.batch_alter_table(table, naming_convention=convention) as batch:
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
    with op.batch_alter_table('users') as batch:
        batch.drop_column('next_task_number')
    _set_primary_key('tasks', ['user_id', 'id'])
    # the new primary key leads with user_id: the separate index is redundant
    op.drop_index('ix_sessions_user_id', table_name='sessions')
    _set_primary_key('sessions', ['user_id', 'id'])


def downgrade() -> None:
    """Fails (duplicate key) when two users hold the same task or session id."""
    _set_primary_key('sessions', ['id'])
    op.create_index('ix_sessions_user_id', 'sessions', ['user_id'], unique=False)
    _set_primary_key('tasks', ['id'])
    with op.batch_alter_table('users') as batch:
        batch.add_column(
            sa.Column('next_task_number', sa.Integer(), server_default='1', nullable=False)
        )
    op.execute(
        "UPDATE users SET next_task_number = "
        "(SELECT next_task_number FROM counters WHERE counters.user_id = users.id)"
    )
    op.drop_table('counters')
