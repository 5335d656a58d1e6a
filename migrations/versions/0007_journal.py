"""the journal: every change command of a user, with the tasks as they were before it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

``journal`` holds one row per change command (an undo step) and ``journal_tasks`` each
task the step touched as it was before: every column (``existed``) or only its id and
number when the step created it. ``counters`` gains the user's next step number.

On PostgreSQL the database writes the journal itself, in the statement that changes the
tasks: statement triggers on ``tasks`` read the changed rows (transition tables) and
record them under the step of the transaction, which the first of them draws from the
user's counter. They journal a change when the connection names its command
(``taskcli.command``) and a session's user is present; the owner's own statements are
not journaled. Both tables are under the row-level security of ``tasks``. SQLite records
the same rows through temporary triggers of the connection (taskcli.core.journal).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
KEEP_STEPS = 1000  # the journal keeps a user's last 1000 steps

TRIGGER_FUNCTION = f"""
CREATE FUNCTION taskcli_journal_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    command text := nullif(current_setting('taskcli.command', true), '');
    account uuid;
    step_no bigint := nullif(current_setting('taskcli.step', true), '')::bigint;
BEGIN
    IF command IS NULL THEN
        RETURN NULL;
    END IF;
    account := taskcli_uid();
    IF account IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM old_rows) THEN
        RETURN NULL;
    END IF;
    IF step_no IS NULL THEN
        UPDATE counters SET next_journal_step = next_journal_step + 1
        WHERE user_id = account RETURNING next_journal_step - 1 INTO step_no;
        INSERT INTO journal (user_id, step, at, command, client)
        VALUES (account, step_no, statement_timestamp(), left(command, 255),
                left(coalesce(current_setting('taskcli.client', true), ''), 255));
        DELETE FROM journal WHERE user_id = account AND step <= step_no - {KEEP_STEPS};
        PERFORM set_config('taskcli.step', step_no::text, true);
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO journal_tasks (user_id, step, id, existed, number)
        SELECT account, step_no, n.id, false, n.number FROM new_rows n
        WHERE n.user_id = account
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO journal_tasks (user_id, step, id, existed, %(columns)s)
        SELECT account, step_no, o.id, true, %(old_columns)s FROM old_rows o
        WHERE o.user_id = account
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$
"""
TRIGGERS = (
    ("taskcli_journal_insert", "INSERT", "NEW TABLE AS new_rows"),
    ("taskcli_journal_update", "UPDATE", "OLD TABLE AS old_rows"),
    ("taskcli_journal_delete", "DELETE", "OLD TABLE AS old_rows"),
)


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


UUIDS = sa.JSON().with_variant(sa.ARRAY(sa.Uuid()), 'postgresql')
TAGS = sa.JSON().with_variant(sa.ARRAY(sa.String(length=50)), 'postgresql')
# the columns of tasks at this revision but user_id and id, all nullable here
TASK_IMAGE = (
    ('number', sa.Integer()),
    ('title', sa.String(length=255)),
    ('description', sa.Text()),
    ('status', sa.String(length=11)),
    ('priority', sa.String(length=6)),
    ('due', STAMP),
    ('project', sa.String(length=100)),
    ('tags', TAGS),
    ('created_at', STAMP),
    ('updated_at', STAMP),
    ('completed_at', STAMP),
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


def _task_image_columns() -> list[sa.Column]:
    return [sa.Column(name, type_, nullable=True) for name, type_ in TASK_IMAGE]


def upgrade() -> None:
    with op.batch_alter_table('counters') as batch:
        batch.add_column(sa.Column('next_journal_step', sa.BigInteger(), nullable=False,
                                   server_default='1'))  # fmt: skip
    op.create_table('journal',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('step', sa.BigInteger(), nullable=False),
        sa.Column('at', STAMP, nullable=False),
        sa.Column('command', sa.String(length=255), nullable=False),
        sa.Column('client', sa.String(length=255), nullable=False),
        sa.Column('undone_at', STAMP, nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'step'),
    )  # fmt: skip
    image = _task_image_columns()
    op.create_table('journal_tasks',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('step', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('existed', sa.Boolean(), nullable=False),
        *image,
        sa.ForeignKeyConstraint(['user_id', 'step'], ['journal.user_id', 'journal.step'],
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'step', 'id'),
    )  # fmt: skip
    if _postgres():
        _postgres_journal([column.name for column in image])


def _postgres_journal(columns: list[str]) -> None:
    for table in ('journal', 'journal_tasks'):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY taskcli_owner ON {table} TO CURRENT_USER "
                   "USING (true) WITH CHECK (true)")  # fmt: skip
        op.execute(f"CREATE POLICY taskcli_user ON {table} "
                   "USING (user_id = (SELECT taskcli_uid())) "
                   "WITH CHECK (user_id = (SELECT taskcli_uid()))")  # fmt: skip
    op.execute(TRIGGER_FUNCTION % {
        "columns": ", ".join(columns),
        "old_columns": ", ".join(f"o.{name}" for name in columns),
    })  # fmt: skip
    op.execute("DO $$ BEGIN EXECUTE format('ALTER FUNCTION taskcli_journal_rows() "
               "SET search_path = %I, pg_temp', current_schema()); END $$")  # fmt: skip
    op.execute("REVOKE ALL ON FUNCTION taskcli_journal_rows() FROM PUBLIC")
    for name, event, transition in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON tasks REFERENCING {transition} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION taskcli_journal_rows()")  # fmt: skip


def downgrade() -> None:
    """The journal goes (undo forgets every step); the tasks stay as they are."""
    if _postgres():
        for name, _event, _transition in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON tasks")
        op.execute("DROP FUNCTION IF EXISTS taskcli_journal_rows()")
    op.drop_table('journal_tasks')
    op.drop_table('journal')
    with op.batch_alter_table('counters') as batch:
        batch.drop_column('next_journal_step')
