"""`taskcli db distribute`: a migrated schema on a Citus coordinator, distributed by user
(SPEC §17), in one transaction and idempotently.

The layout is taskcli.core.layout's: every per-user table distributed by ``user_id``,
co-located with ``sessions``; ``users`` and ``meta`` reference tables; the coordinator
tables left alone. taskcli.core.citus_sql holds what is installed besides, and why.
Each step is taken only when the catalog shows it is missing, so a second run finds
nothing to do, and a run after ``db migrate`` puts back what a revision replaced (a
function it re-created, a per-user table it added).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskcli.core import citus_sql, layout
from taskcli.core.db import atomic
from taskcli.core.errors import InvalidInputError, NotPermittedError, SchemaError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

ANCHOR_TABLE = "sessions"  # the co-location group's first table
ASSIGN_TXID = "assign_distributed_transaction_id(integer, bigint, timestamp with time zone)"
# Functions Citus lets PUBLIC execute that the application role must not (db distribute
# revokes them on the coordinator): adopting a distributed transaction id (and with it a
# copied node identity), running SQL on the workers through the coordinator, and reading
# every node's live transaction ids and their times.
WITHHELD = (
    ASSIGN_TXID,
    "run_command_on_workers(text, boolean)",
    "run_command_on_all_nodes(text, boolean, boolean)",
    "run_command_on_coordinator(text, boolean)",
    "run_command_on_shards(regclass, text, boolean)",
    "run_command_on_placements(regclass, text, boolean)",
    "run_command_on_colocated_placements(regclass, regclass, text, boolean)",
    "master_run_on_worker(text[], integer[], text[], boolean)",
    "get_all_active_transactions()",
    "get_global_active_transactions()",
)
PRESENT = "taskcli_present(uuid, uuid, uuid, bigint, text, text)"
JOURNAL_ROWS = "taskcli_journal_rows()"
INSERT_STAGED = "taskcli_insert_staged(text, text[])"
NOT_INSTALLED = "Citus is not installed"


@dataclass
class Distribution:
    """What a run did (``done``) and the state it found or left (``found``)."""

    citus_version: str
    done: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"citus": self.citus_version, "done": self.done, "found": self.found}


def distribute(conn: Connection) -> Distribution:
    """Distribute the schema on ``conn`` (the owner's, on the coordinator)."""
    from taskcli.core import migrate
    from taskcli.core.db import SCHEMA_HEAD
    from taskcli.core.roles import require_owner

    version = _citus_version(conn)
    require_owner(conn, "db distribute")
    if migrate.current_revision(conn) != SCHEMA_HEAD:
        raise SchemaError(
            f"the schema is not at {SCHEMA_HEAD}", hint="run: taskcli db migrate first"
        )
    problems = layout.schema_violations(conn)
    if problems:
        raise InvalidInputError(f"the schema breaks the scale-out rules: {problems[0]}")
    result = Distribution(version)
    with atomic(conn):
        _check_nodes(conn, result)
        # Later DDL on the reference tables must not follow parallel DDL on the shards.
        _sql(conn, "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
        _install_functions(conn, result)
        _replace_policies(conn, result)
        _place_tables(conn, result)
        _revoke_from_public(conn, result)
    return result


def _citus_version(conn: Connection) -> str:
    if conn.dialect.name != "postgresql":
        raise InvalidInputError(f"{NOT_INSTALLED}: db distribute needs PostgreSQL with Citus")
    version = conn.exec_driver_sql(
        "SELECT extversion FROM pg_extension WHERE extname = 'citus'"
    ).scalar()
    if version is None:
        raise InvalidInputError(
            NOT_INSTALLED, hint="db distribute runs on a Citus coordinator (CREATE EXTENSION citus)"
        )
    return str(version)


def _sql(conn: Connection, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
    if parameters:
        return conn.exec_driver_sql(statement, parameters)
    return conn.execution_options(no_parameters=True).exec_driver_sql(statement)


def _check_nodes(conn: Connection, result: Distribution) -> None:
    if not _sql(conn, "SELECT citus_is_coordinator()").scalar():
        raise InvalidInputError("this node is not the Citus coordinator")
    workers = _sql(
        conn,
        "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND isactive "
        "AND noderole = 'primary' AND shouldhaveshards",
    ).scalar()
    if not workers:
        raise InvalidInputError(
            "the cluster has no worker to hold the shards",
            hint="add the workers first: SELECT citus_add_node(host, port)",
        )
    # Shards on the coordinator would be written past row-level security by any local
    # INSERT ... SELECT there (Citus's local execution), so it must hold none.
    if _sql(conn, "SELECT bool_or(shouldhaveshards) FROM pg_dist_node WHERE groupid = 0").scalar():
        raise InvalidInputError(
            "the coordinator is set to hold shards of distributed tables",
            hint="SELECT citus_set_node_property(host, port, 'shouldhaveshards', false)",
        )
    result.found.append(f"{workers} worker(s); the coordinator holds no shards")


def _definition(conn: Connection, function: str) -> str | None:
    definition = _sql(
        conn,
        "SELECT pg_get_functiondef(p) FROM to_regprocedure(%s) p WHERE p IS NOT NULL",
        (function,),
    ).scalar()
    return None if definition is None else str(definition)


def _install(conn: Connection, function: str, sql: str, result: Distribution) -> None:
    """Create or replace ``function`` unless its body is already ``sql``'s."""
    body = sql.split("$$")[1]
    current = _definition(conn, function)
    if current is not None and body in current:
        return
    _sql(conn, sql)
    settings = ["search_path = %I, pg_temp", *citus_sql.FUNCTION_SETTINGS.get(function, ())]
    for setting in settings:
        _sql(
            conn,
            f"DO $$ BEGIN EXECUTE format('ALTER FUNCTION {function} SET {setting}', "
            "current_schema()); END $$",
        )
    _sql(conn, f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    result.done.append(f"installed the Citus variant of {function.split('(')[0]}")


def _install_functions(conn: Connection, result: Distribution) -> None:
    _install(conn, "taskcli_txid()", citus_sql.TXID, result)
    _install(conn, "taskcli_node_mac(text)", citus_sql.NODE_MAC, result)
    _install(conn, "taskcli_present_node(uuid, uuid)", citus_sql.PRESENT_NODE, result)
    _install(conn, "taskcli_uid()", citus_sql.UID, result)
    _install(conn, JOURNAL_ROWS, _journal_rows_sql(conn), result)
    _install(conn, INSERT_STAGED, citus_sql.INSERT_STAGED, result)
    _install(conn, "taskcli_insert_guard()", citus_sql.INSERT_GUARD, result)
    present = _definition(conn, PRESENT)
    if present is None or citus_sql.PRESENT_ANCHOR not in present:
        raise InvalidInputError(f"{PRESENT} is not the one this taskcli knows")
    if citus_sql.PRESENT_NODE_CALL not in present:
        call = f"{citus_sql.PRESENT_NODE_CALL}\n    {citus_sql.PRESENT_ANCHOR}"
        _sql(conn, present.replace(citus_sql.PRESENT_ANCHOR, call, 1))
        result.done.append("taskcli_present now sets the node identity for the workers")


def _journal_rows_sql(conn: Connection) -> str:
    """The trigger with the columns journal_tasks keeps of a task (as 0007 builds it)."""
    columns = [
        row[0]
        for row in _sql(
            conn,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'journal_tasks'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attname NOT IN "
            "('user_id', 'step', 'id', 'existed') ORDER BY attnum",
        )
    ]
    from taskcli.core.journal import KEEP_STEPS

    return citus_sql.JOURNAL_ROWS % {
        "keep": KEEP_STEPS,
        "columns": ", ".join(columns),
        "row_columns": ", ".join(f"r.{name}" for name in columns),
    }


def _replace_policies(conn: Connection, result: Distribution) -> None:
    """Citus refuses a policy with a subquery: ``user_id = taskcli_uid()`` instead."""
    rows = _sql(
        conn,
        "SELECT tablename FROM pg_policies WHERE schemaname = current_schema() "
        "AND policyname = 'taskcli_user' AND (qual LIKE '%SELECT%' "
        "OR with_check LIKE '%SELECT%') ORDER BY tablename",
    ).fetchall()
    for (table,) in rows:
        _sql(conn, f"DROP POLICY taskcli_user ON {table}")
        _sql(
            conn,
            f"CREATE POLICY taskcli_user ON {table} USING (user_id = taskcli_uid()) "
            "WITH CHECK (user_id = taskcli_uid())",
        )
        result.done.append(f"policy taskcli_user on {table}: user_id = taskcli_uid()")


def _placement(conn: Connection) -> dict[str, str]:
    """Each Citus table's kind: 'reference', 'distributed' or 'local' (a Citus local
    table: one that a foreign key to a reference table put into Citus's metadata)."""
    rows = _sql(
        conn,
        "SELECT logicalrelid::regclass::text, CASE WHEN partmethod = 'h' THEN 'distributed' "
        "WHEN repmodel = 't' THEN 'reference' ELSE 'local' END FROM pg_dist_partition",
    )
    return {str(table): str(kind) for table, kind in rows.fetchall()}


def _place_tables(conn: Connection, result: Distribution) -> None:
    placed = _placement(conn)
    for table in layout.REFERENCE_TABLES:
        if placed.get(table) != "reference":
            _sql(conn, "SELECT create_reference_table(%s)", (table,))
            result.done.append(f"{table}: reference table")
    per_user = layout.per_user_tables(conn)
    pending = [t for t in per_user if placed.get(t) != "distributed"]
    # Distributing a table that another, not yet distributed, references is refused:
    # such keys (journal_tasks -> journal) go and come back once both are distributed.
    dropped = _drop_keys_between(conn, pending)
    order = sorted(pending, key=lambda t: (t != ANCHOR_TABLE, t))
    for table in order:
        first = table == ANCHOR_TABLE and placed.get(ANCHOR_TABLE) != "distributed"
        colocate = "" if first else f", colocate_with => '{ANCHOR_TABLE}'"
        if _has_triggers(conn, table):
            # Citus refuses a table with triggers unless told; the journal's run on the
            # shards (citus_sql.JOURNAL_ROWS is the variant that works there).
            _sql(conn, "SET LOCAL citus.enable_unsafe_triggers = on")
        _sql(conn, f"SELECT create_distributed_table('{table}', 'user_id'{colocate})")
        result.done.append(f"{table}: distributed by user_id, co-located with {ANCHOR_TABLE}")
    for statement in dropped:
        _sql(conn, statement)
    _guard_inserts(conn, per_user, result)
    if not pending:
        result.found.append(
            f"{', '.join(per_user)}: distributed by user_id; "
            f"{', '.join(layout.REFERENCE_TABLES)}: reference tables"
        )


def _guard_inserts(conn: Connection, per_user: list[str], result: Distribution) -> None:
    name = citus_sql.INSERT_GUARD_TRIGGER
    for table in per_user:
        if _sql(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s)",
            (table, name),
        ).scalar():
            continue
        _sql(conn, "SET LOCAL citus.enable_unsafe_triggers = on")
        _sql(
            conn,
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION taskcli_insert_guard()",
        )
        result.done.append(f"{table}: each new row checked against the session's user")


def _has_triggers(conn: Connection, table: str) -> bool:
    return bool(
        _sql(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = %s::regclass "
            "AND NOT tgisinternal)",
            (table,),
        ).scalar()
    )


def _drop_keys_between(conn: Connection, tables: list[str]) -> list[str]:
    """Drop the foreign keys from one of ``tables`` to another; the statements that add
    them back."""
    rows = _sql(
        conn,
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s) "
        "AND confrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
        (tables, tables),
    ).fetchall()
    for table, name, _definition_text in rows:
        _sql(conn, f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in rows]


def _revoke_from_public(conn: Connection, result: Distribution) -> None:
    """Withhold from PUBLIC what would let the application role act on the workers or watch
    other transactions (see :data:`WITHHELD`); what this Citus lacks is passed over."""
    for function in WITHHELD:
        name = function.split("(", 1)[0]
        row = _sql(
            conn,
            "SELECT p.proacl IS NULL OR 0 = ANY(SELECT a.grantee FROM aclexplode(p.proacl) a "
            "WHERE a.privilege_type = 'EXECUTE'), pg_has_role(current_user, p.proowner, "
            "'USAGE') FROM pg_proc p WHERE p.oid = to_regprocedure(%s)",
            (function,),
        ).first()
        if row is None:  # not in this version of Citus
            continue
        public, owner = row
        if not public:
            result.found.append(f"{name}: not executable by PUBLIC")
            continue
        if not owner:
            raise NotPermittedError(
                f"PUBLIC may execute {name} on the coordinator, and only its owner may revoke that",
                hint=f"as a superuser: REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC",
            )
        _sql(conn, f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
        result.done.append(f"revoked EXECUTE on {name} from PUBLIC")
