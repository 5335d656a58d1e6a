"""PostgreSQL COPY through psycopg2, for bulk import (FROM STDIN) and export (TO STDOUT).

COPY moves a whole batch or a whole result in one round trip, and without SQLAlchemy's
per-row work. Driver errors are raised as SQLAlchemy errors, like every other statement's,
so :func:`taskcli.core.db.translate_errors` reports them.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler

from taskcli.core.sql.pgdialect import UNTRIED, driver_connection

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: object) -> str:
    """One column in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):  # text[] or uuid[]: every element quoted
        quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
        return ("{" + ",".join(quoted) + "}").translate(_COPY_ESCAPES)
    return str(value)  # uuid, int


def copy_rows_in(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, in the same order) into ``table``, inside
    the caller's transaction.

    PostgreSQL refuses COPY FROM into a table under row-level security, so the rows are
    copied into a temporary table of the same shape (dropped at commit), then inserted
    from there by the database's ``taskcli_insert_staged`` (migration 0009; on Citus,
    ``db distribute``'s variant), where the policies check them. The data never travels
    in a statement's text (which every session of the role can read in pg_stat_activity).
    """
    from psycopg2.extensions import encodings

    names = ", ".join(rows[0])
    stage = f"taskcli_stage_{table}"
    text = "".join("\t".join(map(_copy_value, row.values())) + "\n" for row in rows)
    encoding = encodings[driver_connection(conn).encoding]
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DROP")
    _copy(conn, f"COPY {stage} ({names}) FROM STDIN", io.BytesIO(text.encode(encoding)))
    columns = ", ".join(f"'{name}'" for name in rows[0])  # column names: nothing to quote
    conn.exec_driver_sql(f"SELECT taskcli_insert_staged('{table}', ARRAY[{columns}])")


class _Lines(io.TextIOBase):
    """The file COPY TO writes into: hands each complete line to ``emit``."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, data: str) -> int:
        if not self._partial and data.endswith("\n") and data.find("\n") == len(data) - 1:
            self._emit(data[:-1])  # psycopg2 writes one row a call: the usual case
            return len(data)
        lines = (self._partial + data).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._emit(line)
        return len(data)


def copy_lines_out(conn: Connection, query: Select[Any], emit: Callable[[str], None]) -> None:
    """Run ``query`` (one text column whose values hold no control characters, such as
    JSON texts) and hand each value to ``emit``, in order, as it arrives.

    CSV with control characters for delimiter and quote writes such values as they are:
    no escaping, no quoting.
    """
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    assert isinstance(compiled, SQLCompiler), "a SELECT compiles to SQL"
    cursor = driver_connection(conn).cursor()
    try:
        sql = cursor.mogrify(compiled.string, _driver_params(compiled, conn.dialect)).decode()
    finally:
        cursor.close()
    options = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"
    _copy(conn, f"COPY ({sql}) TO STDOUT WITH ({options})", _Lines(emit))


def _driver_params(compiled: SQLCompiler, dialect: Dialect) -> dict[str, Any]:
    """The statement's parameters as the driver receives them, after each type's bind
    processing (an enum as its value, an array as a list), through the types' public
    ``bind_processor``. A parameter that ``render_postcompile`` expanded (``status_1_1``
    of an IN list) is not among ``compiled.binds`` and passes as it is: the values these
    queries put in IN lists are str enums and strings, which the driver takes as they are."""
    processed = {}
    for name, value in compiled.construct_params().items():
        bind = compiled.binds.get(name)
        processor = (
            None if bind is None else bind.type.dialect_impl(dialect).bind_processor(dialect)
        )
        processed[name] = processor(value) if processor is not None else value
    return processed


def _copy(conn: Connection, statement: str, file: io.IOBase) -> None:
    from taskcli.core.pgsessions import with_proof

    statement = with_proof(conn, statement)  # the session's proof, as for every statement
    conn.info.pop(UNTRIED, None)  # sent past the kept connection's hooks
    dbapi_connection = driver_connection(conn)
    cursor = dbapi_connection.cursor()
    # When the server ends the connection mid-COPY, psycopg2 prints a SystemError of its
    # own through sys.excepthook before raising; the error raised is the one to report.
    hook, sys.excepthook = sys.excepthook, lambda *_exc_info: None
    try:
        cursor.copy_expert(statement, file)
    except conn.dialect.loaded_dbapi.Error as error:
        if dbapi_connection.closed:  # the connection went away (psycopg2 may call it an
            # InterfaceError, "connection already closed"): a lost server, like any other
            conn.invalidate()
            raise exc.OperationalError(statement[:200], None, error) from None
        raise exc.DBAPIError.instance(
            statement[:200], None, error, conn.dialect.loaded_dbapi.Error
        ) from None
    except BaseException:
        # Our side stopped it (Ctrl-C, a full disk, a closed pipe): the connection may be
        # left inside the COPY, so it is not used again.
        conn.invalidate()
        raise
    finally:
        sys.excepthook = hook
        if not dbapi_connection.closed:
            cursor.close()
