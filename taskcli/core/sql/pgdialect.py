"""The psycopg2 dialect without its first-connect queries.

SQLAlchemy asks a new PostgreSQL connection for its version, schema, isolation level and
string quoting (four round trips) before the first statement. libpq already knows the
server version and ``standard_conforming_strings`` from the connection start-up, so this
dialect reads them there. The default schema is looked up only where it matters (Alembic,
see :func:`taskcli.core.migrate.alembic_config`); ordinary commands never reflect.
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg2 import (
    PGDialect_psycopg2,
    PGExecutionContext_psycopg2,
)
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor, IsolationLevel

DRIVER_NAME = "postgresql+taskcli_psycopg2"
# In a kept connection's info while nothing of the command has been sent on it (see
# taskcli.core.db.Resend); whoever sends takes it out.
UNTRIED = "taskcli.untried"


def driver_connection(connection: Connection) -> DBAPIConnection:
    """psycopg2's connection under ``connection``: a connection in use always holds one.
    Whoever sends a statement on it takes UNTRIED out of ``connection.info`` first."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None, "a Connection in use holds a DBAPI connection"
    return dbapi_connection


class TaskcliExecutionContext(PGExecutionContext_psycopg2):
    def create_server_side_cursor(self) -> DBAPICursor:
        # psycopg2 refuses a named cursor on an autocommit connection unless it is WITH HOLD.
        # Export opens it inside its own BEGIN … COMMIT and closes it before the COMMIT, so
        # the server never has to keep it past the transaction (fine behind PgBouncer).
        return self._dbapi_connection.cursor(f"taskcli_{uuid.uuid4().hex}", withhold=True)


class TaskcliPGDialect(PGDialect_psycopg2):
    supports_statement_cache = True
    execution_ctx_cls = TaskcliExecutionContext

    def _get_server_version_info(self, connection: Connection) -> tuple[int, ...]:
        number = driver_connection(connection).server_version  # e.g. 150018
        major, rest = divmod(number, 10000)
        return (major, rest) if major >= 10 else (major, rest // 100, rest % 100)

    # SQLAlchemy keeps the answer as Optional[str]; only the interface's annotation says str
    def _get_default_schema_name(self, connection: Connection) -> str | None:  # type: ignore[override]
        return None

    def get_default_isolation_level(self, dbapi_connection: DBAPIConnection) -> IsolationLevel:
        return "READ COMMITTED"

    def _set_backslash_escapes(self, connection: Connection) -> None:
        status = driver_connection(connection).get_parameter_status("standard_conforming_strings")
        self._backslash_escapes = status == "off"


registry.register("postgresql.taskcli_psycopg2", __name__, "TaskcliPGDialect")
