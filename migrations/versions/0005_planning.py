"""planning: annotations, wait, scheduled, dependencies, recurrence and contexts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Tasks gain ``annotations`` (their JSON text), ``wait``, ``scheduled``, ``depends`` (task
ids), ``recur`` and ``until``, and the hidden series columns of a recurring task
(``recur_series``, ``recur_index``, ``recur_anchor``). Every new column is nullable:
existing tasks keep their values and take none of the new ones. ``contexts`` holds each
user's named filters; on PostgreSQL it is under the same row-level security as
``tasks`` (the application role sees its session's user's rows only).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
UUIDS = sa.JSON().with_variant(sa.ARRAY(sa.Uuid()), 'postgresql')
NEW_TASK_COLUMNS = (
    ('annotations', sa.Text()),
    ('wait', STAMP),
    ('scheduled', STAMP),
    ('depends', UUIDS),
    ('recur', sa.String(length=16)),
    ('until', STAMP),
    ('recur_series', sa.Uuid()),
    ('recur_index', sa.Integer()),
    ('recur_anchor', STAMP),
)


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        for name, type_ in NEW_TASK_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_table('contexts',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('filters', sa.Text(), nullable=False),
        sa.Column('created_at', STAMP, nullable=False),
        sa.Column('updated_at', STAMP, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'name'),
    )  # fmt: skip
    if _postgres():
        op.execute("ALTER TABLE contexts ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE contexts FORCE ROW LEVEL SECURITY")
        op.execute("CREATE POLICY taskcli_owner ON contexts TO CURRENT_USER "
                   "USING (true) WITH CHECK (true)")  # fmt: skip
        op.execute(
            "CREATE POLICY taskcli_user ON contexts "
            "USING (user_id = (SELECT taskcli_uid())) "
            "WITH CHECK (user_id = (SELECT taskcli_uid()))"
        )


def downgrade() -> None:
    """The new fields and the contexts are dropped; every task keeps its other fields."""
    op.drop_table('contexts')
    with op.batch_alter_table('tasks') as batch:
        for name, _type in reversed(NEW_TASK_COLUMNS):
            batch.drop_column(name)
