"""The two PostgreSQL roles: the owner of the taskcli tables, and the application role.

The owner migrates, rotates the signing key and grants; ``grant`` gives an existing
login role exactly the privileges the ordinary commands use. SQLite has one local user
and no roles: every check passes there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from taskcli.core.db import atomic
from taskcli.core.errors import InvalidInputError, NotPermittedError
from taskcli.core.sql import is_postgres

# What the ordinary commands do, table by table; row-level security narrows tasks,
# counters, contexts and the journal to the session's user. Accounts, sessions, keys,
# spent proofs and the login throttle are the database's own: reached only through the
# functions below.
APPLICATION_PRIVILEGES = (
    ("alembic_version", ("SELECT",)),
    ("contexts", ("SELECT", "INSERT", "UPDATE", "DELETE")),
    ("counters", ("SELECT", "UPDATE")),
    ("journal", ("SELECT", "INSERT", "UPDATE", "DELETE")),
    ("journal_tasks", ("SELECT", "INSERT", "DELETE")),
    ("tasks", ("SELECT", "INSERT", "UPDATE", "DELETE")),
)
PRIVATE_TABLES = ("meta", "users", "sessions", "spent_nonces", "login_failures")
# The functions of migrations 0004, 0008 and 0009 that the application role may call.
APPLICATION_FUNCTIONS = (
    "taskcli_uid()",
    "taskcli_password_setting(text)",
    "taskcli_register(text, text, text, text, integer)",
    "taskcli_login(text, uuid, bigint, text, text, text, integer, text, text)",
    "taskcli_spend(uuid)",
    "taskcli_present(uuid, uuid, uuid, bigint, text, text)",
    "taskcli_whoami()",
    "taskcli_logout(boolean)",
    # migration 0008: the account lifecycle
    "taskcli_passwd(uuid, bigint, text, text, text, text)",
    "taskcli_change_email(uuid, bigint, text, text, text, text, text)",
    "taskcli_delete_account(uuid, bigint, text, text)",
    "taskcli_sessions()",
    "taskcli_revoke_sessions(uuid[])",
    "taskcli_reset_login(text, uuid, bigint, text, text, text, text, integer)",
    # migration 0009: an import's rows, from its stage table
    "taskcli_insert_staged(text, text[])",
)

_OWNERSHIP = """
SELECT current_user,
       CASE WHEN c.oid IS NULL THEN has_schema_privilege(n.oid, 'CREATE')
            ELSE pg_has_role(current_user, c.relowner, 'USAGE') END
FROM pg_namespace n
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'alembic_version'
WHERE n.nspname = current_schema()
"""


@dataclass(frozen=True)
class Grant:
    privileges: tuple[str, ...]
    on: str  # "schema public", "table tasks"

    def as_dict(self) -> dict[str, Any]:
        return {"privileges": list(self.privileges), "on": self.on}


def require_owner(conn: Connection, action: str) -> None:
    """NotPermittedError (exit 8) unless this role owns the taskcli tables (or, before the first
    migration, may create them)."""
    if not is_postgres(conn):
        return
    row = conn.exec_driver_sql(_OWNERSHIP).first()
    if row is None or not row[1]:
        user = row[0] if row else "this role"
        raise NotPermittedError(
            f"{action} needs the owner of the taskcli tables; {user} is not it",
            hint="ask the database administrator (the owner role) to do it",
        )


def grant(conn: Connection, role: str) -> list[Grant]:
    """Give the login role ``role`` exactly the application privileges (idempotent: what it
    held on the taskcli tables before is replaced). Returns what was granted."""
    if not is_postgres(conn):
        raise InvalidInputError("db grant is for PostgreSQL; SQLite has no roles")
    require_owner(conn, "db grant")
    _check_grantee(conn, role)
    quote = conn.dialect.identifier_preparer.quote_identifier
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    grants = [Grant(("USAGE",), f"schema {schema}")]
    grants += [Grant(privileges, f"table {table}") for table, privileges in APPLICATION_PRIVILEGES]
    grants += [Grant(("EXECUTE",), f"function {function}") for function in APPLICATION_FUNCTIONS]
    grantee, where = quote(role), quote(schema)
    with atomic(conn):
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {where} TO {grantee}")
        # nobody but the owner creates objects in the schema (a function named like one
        # of ours, for instance)
        conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {where} FROM PUBLIC, {grantee}")
        for table in PRIVATE_TABLES:
            conn.exec_driver_sql(f"REVOKE ALL ON {where}.{quote(table)} FROM {grantee}")
        for table, privileges in APPLICATION_PRIVILEGES:
            target = f"{where}.{quote(table)}"
            conn.exec_driver_sql(f"REVOKE ALL ON {target} FROM {grantee}")
            conn.exec_driver_sql(f"GRANT {', '.join(privileges)} ON {target} TO {grantee}")
        for function in APPLICATION_FUNCTIONS:
            conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {where}.{function} TO {grantee}")
    return grants


def _check_grantee(conn: Connection, role: str) -> None:
    row = conn.exec_driver_sql(
        "SELECT rolcanlogin, rolsuper OR rolbypassrls, rolname = current_user,"
        " pg_has_role(oid, current_user, 'MEMBER') OR coalesce(pg_has_role(oid,"
        " (SELECT relowner FROM pg_class WHERE oid = to_regclass('tasks')), 'MEMBER'), false)"
        " FROM pg_roles WHERE rolname = %s",
        (role,),
    ).first()
    if row is None or not row[0]:
        raise InvalidInputError(
            f"no login role {role!r} on this server",
            hint="create it first: CREATE ROLE name LOGIN PASSWORD '…'",
        )
    if row[1] or row[2] or row[3]:
        what = (
            "a superuser (or bypasses row-level security)" if row[1]
            else "the role you are connected as" if row[2]
            else "a member of the owner of the taskcli tables"
        )  # fmt: skip
        raise InvalidInputError(f"{role!r} is {what}: grants would not limit it")
