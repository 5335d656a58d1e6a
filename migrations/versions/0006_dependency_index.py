"""an index of the tasks that have dependencies

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Urgency's *blocking* term (an open task depends on this one) collects the ids that the
user's tasks depend on; a partial index of the tasks with dependencies lets the
database read those few rows instead of every task of the user. Nothing else changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_DEPENDENCIES = sa.text('depends IS NOT NULL')


def upgrade() -> None:
    op.create_index('ix_tasks_user_depends', 'tasks', ['user_id'],
                    postgresql_where=WITH_DEPENDENCIES, sqlite_where=WITH_DEPENDENCIES)  # fmt: skip


def downgrade() -> None:
    op.drop_index('ix_tasks_user_depends', table_name='tasks')
