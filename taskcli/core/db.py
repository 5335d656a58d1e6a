"""Database engines for the embedded SQLite default and PostgreSQL, and error translation.

One process, one connection: commands open it with :meth:`Database.connect`, which turns
driver errors into :mod:`taskcli.core.errors` exceptions. PostgreSQL connections run in
autocommit mode so reads cost no BEGIN/COMMIT round trips; work that spans several
statements uses :func:`atomic`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from taskcli.core.config import Settings
from taskcli.core.errors import DatabaseUnavailableError, NotPermitted, SchemaError
from taskcli.core.urls import describe_target, is_sqlite, normalize_url, sqlite_path

# The Alembic head this taskcli expects (a test keeps it equal to migrations/versions).
SCHEMA_HEAD = "0003"
CONNECT_ATTEMPTS = 3
SQLITE_BUSY_TIMEOUT_S = 30
UNDEFINED_OBJECT_CODES = {"42P01", "42703", "42883"}  # undefined table / column / function
INSUFFICIENT_PRIVILEGE = "42501"  # permission denied, must be owner
TRANSIENT_MARKERS = (
    "connection refused",
    "timeout expired",
    "server closed the connection unexpectedly",
    "the database system is starting up",
    "the database system is shutting down",
    "couldn't connect to compute node",
    "compute node",
    "please retry",
    "no route to host",
    "connection reset by peer",
    "could not receive data from server",
)
REASONS = (
    ("password authentication failed", "password authentication failed"),
    ("sasl authentication failed", "password authentication failed"),
    ("no password supplied", "a password is required (URL, PGPASSWORD or ~/.pgpass)"),
    ("server does not support ssl", "the server does not support SSL, but SSL was required"),
    ("ssl", "SSL negotiation failed"),
    ("does not exist", None),
    ("could not translate host name", "unknown host name"),
    ("connection refused", "connection refused (is the server running and accepting TCP?)"),
    ("timeout expired", "no answer within the connect timeout"),
    ("no pg_hba.conf entry", "the server refused this client (pg_hba.conf)"),
    ("too many connections", "the server has too many connections"),
)


def _driver_message(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return " ".join(str(orig).split()) or type(orig).__name__


def connection_failure(error: BaseException, target: str, timeout: int) -> DatabaseUnavailableError:
    """One line saying what went wrong and where (libpq messages never hold the password)."""
    text = _driver_message(error)
    lowered = text.lower()
    reason = next((r or text for marker, r in REASONS if marker in lowered), text)
    if "no answer" in reason:
        reason = f"no answer within {timeout} s (connect timeout)"
    return DatabaseUnavailableError(
        f"cannot connect to PostgreSQL at {target}: {reason}",
        hint="check the database URL, the network and the server",
    )


def is_transient(error: BaseException) -> bool:
    lowered = _driver_message(error).lower()
    return any(marker in lowered for marker in TRANSIENT_MARKERS)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only; --search should ignore case in any script.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _install_connect_retry(engine: Engine) -> None:
    """Retry transient connection failures (a Neon endpoint waking up) with backoff."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, _record, cargs, cparams):
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                return dialect.loaded_dbapi.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as error:
                if attempt == CONNECT_ATTEMPTS or not is_transient(error):
                    raise
                time.sleep(0.4 * 2**attempt * random.uniform(0.8, 1.2))
        raise AssertionError("unreachable")


class Database:
    """The database a command works on, chosen by :func:`taskcli.core.config.resolve_settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = normalize_url(settings.database_url)
        self.is_sqlite = is_sqlite(self.url)
        self.target = describe_target(self.url)

    @cached_property
    def engine(self) -> Engine:
        if self.is_sqlite:
            path = Path(sqlite_path(self.url))
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # password hashes
            except OSError as error:
                raise DatabaseUnavailableError(
                    f"cannot create the directory of SQLite database {self.target}: "
                    f"{error.strerror}"
                ) from None
            engine = sa.create_engine(
                self.url,
                poolclass=NullPool,
                isolation_level="AUTOCOMMIT",
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
            )
            _install_sqlite_hooks(engine)
            return engine
        from taskcli.core import pgdialect

        url = sa.make_url(self.url).set(drivername=pgdialect.DRIVER_NAME)
        engine = sa.create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            use_native_hstore=False,
            connect_args={
                "connect_timeout": self.settings.connect_timeout,
                "application_name": "taskcli",
            },
        )
        _install_connect_retry(engine)
        return engine

    def _open(self) -> Connection:
        try:
            return self.engine.connect()
        except exc.DatabaseError as error:  # OperationalError, or a file that is not SQLite
            if self.is_sqlite:
                raise DatabaseUnavailableError(
                    f"cannot open SQLite database {self.target}: {_driver_message(error)}",
                    hint=_DAMAGED_HINT if _is_damaged_sqlite(error) else None,
                ) from None
            if not isinstance(error, exc.OperationalError):
                raise
            raise connection_failure(error, self.target, self.settings.connect_timeout) from None

    @contextmanager
    def connect(self, *, migrate_embedded: bool = True) -> Iterator[Connection]:
        """One connection for the whole command, with driver errors translated.

        The embedded SQLite database is migrated on first use; PostgreSQL never is.
        """
        conn = self._open()
        try:
            with translate_errors(self):
                if self.is_sqlite and migrate_embedded:
                    ensure_embedded_schema(conn)
                yield conn
        finally:
            conn.close()


def is_schema_error(error: BaseException) -> bool:
    orig = getattr(error, "orig", None)
    if getattr(orig, "pgcode", None) in UNDEFINED_OBJECT_CODES:
        return True
    text = str(orig or error).lower()
    return "no such table" in text or "no such column" in text


_DAMAGED_HINT = "move the file away to start afresh, or restore it from a backup"


def _is_damaged_sqlite(error: exc.DBAPIError) -> bool:
    text = str(error.orig).lower()
    return "file is not a database" in text or "malformed" in text


@contextmanager
def translate_errors(database: Database) -> Iterator[None]:
    """Turn driver errors met mid-command into taskcli errors (schema → 7, lost server → 6)."""
    try:
        yield
    except exc.DBAPIError as error:
        if getattr(error.orig, "pgcode", None) == INSUFFICIENT_PRIVILEGE:
            # "permission denied for table meta": the first line names what is missing
            first_line = (str(error.orig).strip().splitlines() or ["permission denied"])[0]
            raise NotPermitted(f"not permitted at {database.target}: {first_line}") from None
        if is_schema_error(error):
            raise SchemaError(
                f"the database schema at {database.target} is missing or out of date"
            ) from None
        if database.is_sqlite and _is_damaged_sqlite(error):
            raise DatabaseUnavailableError(
                f"cannot use SQLite database {database.target}: {_driver_message(error)}",
                hint=_DAMAGED_HINT,
            ) from None
        if isinstance(error, exc.OperationalError) and not database.is_sqlite:
            raise DatabaseUnavailableError(
                f"lost the connection to PostgreSQL at {database.target}: "
                f"{_driver_message(error)}"
            ) from None
        raise


@contextmanager
def atomic(conn: Connection) -> Iterator[Connection]:
    """Run several statements as one transaction on an autocommit connection."""
    sqlite = conn.dialect.name == "sqlite"
    conn.exec_driver_sql("BEGIN IMMEDIATE" if sqlite else "BEGIN")
    try:
        yield conn
    except BaseException:
        # After Ctrl-C or a lost server the connection is gone, and the server rolls back
        # by itself; the original error is the one to report.
        if not conn.invalidated:
            with suppress(exc.SQLAlchemyError):
                conn.exec_driver_sql("ROLLBACK")
        raise
    conn.exec_driver_sql("COMMIT")


def ensure_embedded_schema(conn: Connection) -> None:
    """Bring the embedded SQLite file to the head revision when it is new or behind."""
    try:
        current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except exc.OperationalError:
        current = None
    if current != SCHEMA_HEAD:
        from taskcli.core import migrate

        migrate.upgrade(conn, "head")
