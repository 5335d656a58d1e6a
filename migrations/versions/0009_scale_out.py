"""scale-out rules (SPEC §17): import through one function, key rotation Citus accepts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

The tables already keep the rules of §17 that Citus needs to distribute them by user:
every per-user table has ``user_id`` first in its primary key and in every unique
constraint (0002, 0005, 0007), its foreign keys go to ``users`` or, with ``user_id``, to
another per-user table (``journal_tasks`` to ``journal``), and the task-number counter is
in ``counters`` (0002), so the write that numbers tasks stays on the user's shard.
``tests/test_schema_rules.py`` checks them in the catalog of every revision from here on.
This revision changes nothing on SQLite.

On PostgreSQL it brings the two statements Citus refuses where every dialect can do
otherwise at no cost:

- ``taskcli_insert_staged(target, columns)`` inserts what an import copied into its
  temporary stage table (taskcli.core.sql.pgcopy). Here it is the ``INSERT ... SELECT`` of
  before; ``taskcli db distribute`` replaces it with batches of ``INSERT ... VALUES``,
  because Citus writes an ``INSERT ... SELECT`` from a temporary table into the shards
  with COPY, which PostgreSQL refuses under row-level security. The rows never travel in
  a statement's text that other sessions can read (pg_stat_activity shows the call).
- ``taskcli_rotate_key`` draws the new key before its UPDATE of ``meta``: Citus refuses
  a volatile function inside an UPDATE of one of its tables.
"""

from collections.abc import Sequence

from alembic import context, op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSERT_STAGED = 'taskcli_insert_staged(text, text[])'

# The rows of the import's stage table (taskcli_stage_<target>, see taskcli.core.sql.pgcopy)
# into target; the stage is emptied for the next batch. As the caller: the policies check.
INSERT_STAGED_SQL = """
CREATE FUNCTION taskcli_insert_staged(target text, columns text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    names text := (SELECT string_agg(quote_ident(c), ', ') FROM unnest(columns) c);
    inserted bigint;
BEGIN
    EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I', target, names, names,
                   'taskcli_stage_' || target);
    GET DIAGNOSTICS inserted = ROW_COUNT;
    EXECUTE format('TRUNCATE %I', 'taskcli_stage_' || target);
    RETURN inserted;
END $$
"""

ROTATE_KEY_SQL = """
CREATE OR REPLACE FUNCTION taskcli_rotate_key() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    ended integer;
    new_key text := encode(taskcli_random_bytes(), 'hex');
BEGIN
    UPDATE meta SET value = new_key WHERE key = 'signing_key';
    UPDATE meta SET value = extract(epoch FROM statement_timestamp())::text
    WHERE key = 'key_rotated_at';
    UPDATE sessions SET revoked_at = statement_timestamp() WHERE revoked_at IS NULL;
    GET DIAGNOSTICS ended = ROW_COUNT;
    RETURN ended;
END $$
"""


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _fix_function(function: str) -> None:
    """As 0004 does: a search path fixed to this schema, pg_temp last (where the stage
    tables are), and no EXECUTE for PUBLIC."""
    op.execute(f"DO $$ BEGIN EXECUTE format('ALTER FUNCTION {function} "
               "SET search_path = %I, pg_temp', current_schema()); END $$")  # fmt: skip
    op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def upgrade() -> None:
    if not _postgres():
        return
    op.execute(INSERT_STAGED_SQL)
    _fix_function(INSERT_STAGED)
    op.execute(ROTATE_KEY_SQL)
    _fix_function('taskcli_rotate_key()')
    # Roles that `db grant` prepared (they may call taskcli_whoami) may import at once.
    op.execute(f"""
DO $$
DECLARE
    role text;
BEGIN
    FOR role IN SELECT r.rolname FROM pg_roles r
                WHERE r.rolname <> current_user
                  AND has_function_privilege(r.oid, 'taskcli_whoami()', 'EXECUTE') LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION {INSERT_STAGED} TO %I', role);
    END LOOP;
END $$
""")


def downgrade() -> None:
    if not _postgres():
        return
    op.execute(f"DROP FUNCTION IF EXISTS {INSERT_STAGED}")
    earlier = context.script.get_revision('0004').module
    (rotate,) = [sql for sql in earlier.DEFINERS if 'FUNCTION taskcli_rotate_key(' in sql]
    op.execute(rotate.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1))
    _fix_function('taskcli_rotate_key()')
