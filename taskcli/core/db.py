"""Database engines for the embedded SQLite default and PostgreSQL, and error translation.

One process, one connection: commands open it with :meth:`Database.connect`, which turns
driver errors into :mod:`taskcli.core.errors` exceptions. A local server worker
(SPEC §15) calls :func:`keep_connections`: its engines then outlive the command, and a
PostgreSQL connection stays open for the next command on the same database (see
:class:`KeptConnections`). PostgreSQL connections run in
autocommit mode so reads cost no BEGIN/COMMIT round trips; work that spans several
statements uses :func:`atomic`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from taskcli.core.config import Settings
from taskcli.core.errors import (
    AuthError,
    ConflictError,
    DatabaseUnavailableError,
    InvalidInputError,
    NotPermittedError,
    SchemaError,
)
from taskcli.core.files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, make_private
from taskcli.core.pgconnect import connection_failure, driver_message, install_connect_budget
from taskcli.core.urls import (
    connect_budget,
    describe_target,
    is_sqlite,
    normalize_url,
    sqlite_path,
)

# The Alembic head this taskcli expects (a test keeps it equal to migrations/versions).
SCHEMA_HEAD = "0009"
UNDEFINED_OBJECT_CODES = {"42P01", "42703", "42883"}  # undefined table / column / function
INSUFFICIENT_PRIVILEGE = "42501"  # permission denied, must be owner
# Raised by taskcli's functions in the database: a session or login refused (exit 3),
# a value they refuse (exit 5).
INVALID_AUTHORIZATION = "28000"
TRANSACTION_ROLLBACK_CODES = {"40P01", "40001"}  # deadlock detected, serialization failure
INVALID_PARAMETER_VALUE = "22023"


def _install_sqlite_hooks(engine: Engine, busy_timeout: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only; --search should ignore case in any script.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _prepare_sqlite_file(path: Path, data_dir: Path) -> None:
    """Make the database file (password hashes, the signing key, every task) readable by
    its owner only, and taskcli's own data directory too, whatever modes existed before.

    The file is created here, before SQLite would create it with 0644, because SQLite
    gives its -wal and -shm files the database file's mode.
    """
    if str(path) == ":memory:":
        return
    try:
        path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUnavailableError(
            f"cannot create the directory of SQLite database {path}: {error.strerror}"
        ) from None
    try:
        _create_private(path)
        companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        ours = path.parent.resolve() == data_dir.resolve()
        make_private(path.parent if ours else None, [path, *companions])
    except OSError as error:
        raise DatabaseUnavailableError(
            f"cannot make SQLite database {path} private: {error.strerror}"
        ) from None


def _create_private(path: Path) -> None:
    """Create a missing database file 0600. An existing one is never opened here: closing
    any descriptor of a file drops every POSIX lock this process holds on it, and SQLite's
    locks for the other connections of this process (threads, a long-lived process) would
    go with them, letting another process write under their feet."""
    if path.exists():
        return
    try:
        os.close(
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        )
    except FileExistsError:  # another process or thread made it just now
        pass


class Database:
    """The database a command works on, chosen by :func:`taskcli.core.config.resolve_settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = normalize_url(settings.database_url)
        self.is_sqlite = is_sqlite(self.url)
        self.target = describe_target(self.url)

    @cached_property
    def connect_timeout(self) -> int:
        """Seconds to wait for the database: a SQLite lock (see
        :attr:`~taskcli.core.config.Settings.sqlite_lock_wait`), or a PostgreSQL
        connection."""
        if self.is_sqlite:
            return self.settings.sqlite_lock_wait
        return connect_budget(self.url, self.settings.connect_timeout)

    @cached_property
    def engine(self) -> Engine:
        if _kept is None:
            return self._new_engine(pooled=False)
        if self.is_sqlite:  # the file may have gone since the last command
            _prepare_sqlite_file(Path(sqlite_path(self.url)), self.settings.data_dir)
        return _kept.engine(self)

    def _new_engine(self, *, pooled: bool) -> Engine:
        timeout = self.connect_timeout
        if self.is_sqlite:
            _prepare_sqlite_file(Path(sqlite_path(self.url)), self.settings.data_dir)
            engine = sa.create_engine(
                self.url,
                poolclass=NullPool,
                hide_parameters=True,  # see below
                isolation_level="AUTOCOMMIT",
                connect_args={"timeout": timeout},
            )
            _install_sqlite_hooks(engine, busy_timeout=timeout)
            return engine
        from taskcli.core.sql import pgdialect

        url = sa.make_url(self.url).set(drivername=pgdialect.DRIVER_NAME)
        # pooled (a server worker): one connection kept for the next command, any other
        # closed when given back; never pinged (that would be a round trip per command)
        pool: dict[str, object] = (
            {"pool_size": 1, "max_overflow": 8, "pool_pre_ping": False}
            if pooled
            else {"poolclass": NullPool}
        )
        engine = sa.create_engine(
            url,
            **pool,
            # A database error's text would otherwise carry the statement's parameters (a
            # new password hash, session data) into --verbose tracebacks.
            hide_parameters=True,
            isolation_level="AUTOCOMMIT",
            use_native_hstore=False,
            connect_args={"application_name": "taskcli"},
        )
        install_connect_budget(engine, timeout)
        from taskcli.core import pgsessions

        pgsessions.install(engine)
        if pooled and _kept is not None:
            _install_kept_hooks(engine, _kept.idle_seconds)
        return engine

    @property
    def secrets(self) -> tuple[str, ...]:
        """The passwords in the URL, to keep out of messages."""
        url = sa.make_url(self.url)
        return tuple(p for p in (url.password, url.query.get("password")) if isinstance(p, str))

    def _open(self) -> Connection:
        try:
            return self.engine.connect()
        except exc.DatabaseError as error:  # OperationalError, or a file that is not SQLite
            if self.is_sqlite:
                raise sqlite_failure(self, error, "open") or DatabaseUnavailableError(
                    f"cannot open SQLite database {self.target}: {driver_message(error)}"
                ) from None
            if not isinstance(error, exc.OperationalError | exc.ProgrammingError):
                raise
            timeout = self.connect_timeout
            raise connection_failure(error, self.target, timeout, self.secrets) from None

    @contextmanager
    def connect(
        self, *, migrate_embedded: bool = True, admin: bool = False
    ) -> Iterator[Connection]:
        """One connection for the whole command, with driver errors translated.

        The embedded SQLite database is migrated on first use; PostgreSQL never is.
        ``admin``: the command is an administrator's (it needs the schema owner's role).
        """
        conn = self._open()
        clean = False
        try:
            with translate_errors(self, admin=admin):
                if self.is_sqlite and migrate_embedded:
                    ensure_embedded_schema(conn)
                yield conn
            if self.is_sqlite:
                _optimize(conn)
            clean = True
        except Exception:
            clean = True  # an error of the command's: the connection itself is sound
            raise
        finally:  # after Ctrl-C (BaseException) a kept connection is not given to another
            if _kept is not None and not self.is_sqlite:
                _kept.give_back(conn, clean=clean)
            conn.close()


class KeptConnections:
    """A server worker's engines, one per database URL and connection settings (a changed
    URL or config reaches another database, never the last one's connection); each keeps
    one PostgreSQL connection between commands. SQLite connections are not kept (opening
    one costs no round trip), only the engine.

    Between commands nothing of one command may reach the next: the connection's info
    (the session :class:`~taskcli.core.pgsessions.Presenter`, the atomic flag) is
    cleared when it is given back, and a connection still in a transaction, or given
    back after an interrupted command, is closed instead of kept. Identity travels in
    each transaction's first statement (SPEC §12), never in the connection."""

    def __init__(self, idle_seconds: float) -> None:
        self.engines: dict[tuple[object, ...], Engine] = {}
        self.idle_seconds = idle_seconds
        # Whether the running command may be run again from the start (the worker says:
        # nothing of it has been read or written yet); see Resend.
        self.may_resend: Callable[[], bool] = lambda: False

    def engine(self, database: Database) -> Engine:
        # (a SQLite engine prepares its file in the data directory)
        place = str(database.settings.data_dir) if database.is_sqlite else ""
        key = (database.url, database.connect_timeout, place)
        engine = self.engines.get(key)
        if engine is None:
            engine = self.engines[key] = database._new_engine(pooled=not database.is_sqlite)
        return engine

    def give_back(self, conn: Connection, *, clean: bool) -> None:
        if conn.invalidated or conn.closed:
            return
        from taskcli.core.sql import pgdialect

        try:
            idle = pgdialect.driver_connection(conn).info.transaction_status == 0
        except Exception:  # no driver connection any more
            idle = False
        if clean and idle:
            conn.info.clear()
        else:
            conn.invalidate()

    def close(self) -> None:
        """Close the kept connections (the engines stay: they cost no connection)."""
        for engine in self.engines.values():
            engine.dispose()


_kept: KeptConnections | None = None


def keep_connections(idle_seconds: float) -> KeptConnections:
    """From now on this process keeps its engines and a connection per database between
    commands (a local server worker, SPEC §15); a connection idle for longer than
    ``idle_seconds`` is not used again."""
    global _kept
    if _kept is None:
        _kept = KeptConnections(idle_seconds)
    return _kept


class Resend(BaseException):
    """The command's first statement met its kept connection closed by the server (after
    the poll at checkout saw it open): nothing of the command reached the database, and
    the worker said nothing of it has been seen (:attr:`KeptConnections.may_resend`), so
    the worker runs the command again, on a new connection. A BaseException, so that
    no ``except Exception`` of the command reports it."""


def kept_connections() -> KeptConnections | None:
    """This process's kept connections (a server worker's), or None."""
    return _kept


_RETURNED_AT = "taskcli.returned_at"
_LEADING = "taskcli.leading"  # the statement being sent is the first on a kept connection


def _install_kept_hooks(engine: Engine, idle_seconds: float) -> None:
    from taskcli.core.sql.pgdialect import UNTRIED

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = _boot_clock()

    @event.listens_for(engine, "before_cursor_execute")
    def _sending(conn: Connection, *_statement: object) -> None:
        conn.info[_LEADING] = conn.info.pop(UNTRIED, False)

    @event.listens_for(engine, "handle_error")
    def _lost(context: ExceptionContext) -> BaseException | None:
        conn = context.connection
        if not context.is_disconnect or conn is None or _kept is None:
            return None
        try:
            leading = conn.info.get(_LEADING, False)
        except exc.SQLAlchemyError:
            return None
        return Resend() if leading and _kept.may_resend() else None

    @event.listens_for(engine, "checkout")
    def _checkout(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: object
    ) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        record.info.clear()
        if returned_at is not None and _boot_clock() - returned_at > idle_seconds:
            # The worker closes an idle connection on a timer, but a timer stands still
            # while the machine sleeps: after a suspend the server may have dropped it,
            # or a router forgotten it, with nothing for the poll below to see.
            raise exc.DisconnectionError("the kept connection was idle too long")
        if _stale(dbapi_connection):
            # Nothing of this command has been sent yet: the pool opens a fresh one.
            raise exc.DisconnectionError("the kept connection was closed by the server")
        if returned_at is not None:  # the server may yet close it before the first
            record.info[UNTRIED] = True  # statement arrives: see Resend


def _boot_clock() -> float:
    """Seconds since boot, the time asleep included (unlike time.monotonic's)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _stale(dbapi_connection: DBAPIConnection) -> bool:
    """Whether an idle connection has anything to read: the server closed it (a restart,
    an idle compute scaled to zero, pg_terminate_backend) or said something unasked.
    A poll of the socket, no round trip."""
    import select

    try:
        fd = dbapi_connection.fileno()
    except Exception:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _optimize(conn: Connection) -> None:
    """Let SQLite keep the statistics its planner needs (``PRAGMA optimize``, as SQLite
    advises before closing a connection: nearly free unless a table the command used has
    none or changed size many times over; then an ANALYZE, about 3 ms per 1,000 tasks).
    Without them it reads every task of a user through the user_id index, one random
    lookup each, where a plain scan is several times faster (a sort by urgency at
    100,000 tasks). A sampled ANALYZE would not do: it takes user_id for selective."""
    with suppress(exc.SQLAlchemyError):
        conn.exec_driver_sql("PRAGMA optimize")


def is_schema_error(error: BaseException) -> bool:
    orig = getattr(error, "orig", None)
    if getattr(orig, "pgcode", None) in UNDEFINED_OBJECT_CODES:
        return True
    text = str(orig or error).lower()
    return "no such table" in text or "no such column" in text


_DAMAGED_HINT = "move the file away to start afresh, or restore it from a backup"


def sqlite_failure(
    database: Database, error: exc.DBAPIError, doing: str = "use"
) -> DatabaseUnavailableError | None:
    """One line for a SQLite file that cannot be used now: locked, its disk full, damaged."""
    text = driver_message(error)
    lowered = text.lower()
    where = f"SQLite database {database.target}"
    if "database is locked" in lowered:
        return DatabaseUnavailableError(
            f"{where} is locked by another process (waited {database.connect_timeout} s)",
            hint="try again when the other program is done; connect_timeout sets the wait",
        )
    if "database or disk is full" in lowered or (
        "disk i/o error" in lowered and _no_space_left(database.target)
    ):
        return DatabaseUnavailableError(
            f"cannot write {where}: the disk is full", hint="free some space on that disk"
        )
    if "file is not a database" in lowered or "malformed" in lowered:
        return DatabaseUnavailableError(f"cannot {doing} {where}: {text}", hint=_DAMAGED_HINT)
    return None


def _no_space_left(path: str) -> bool:
    """SQLite reports a full disk met while opening (its -shm file) as an I/O error."""
    try:
        return os.statvfs(Path(path).parent).f_bavail == 0
    except OSError:
        return False


def not_permitted(database: Database, error: exc.DBAPIError, admin: bool) -> NotPermittedError:
    """What the role may not do, in the server's words, and whom to ask."""
    diag = getattr(error.orig, "diag", None)
    server_says = getattr(diag, "message_primary", None) or driver_message(error)
    role = sa.make_url(database.url).username
    who = f"role {role}" if role else "this role"
    verb = re.match(r"\s*([A-Za-z]+)", error.statement or "")
    action = f" ({who} running {verb[1].upper()})" if verb else f" ({who})"
    missing = re.search(r"permission denied for (\w+ \S+)", server_says)
    if admin or server_says.startswith("must be owner"):
        hint = "this needs the role that owns the taskcli schema; ask the database administrator"
    elif verb and missing:
        privilege = "EXECUTE" if missing[1].startswith("function") else verb[1].upper()
        hint = f"ask the database administrator to grant {privilege} on {missing[1]}"
    else:
        hint = None
    return NotPermittedError(
        f"not permitted at {database.target}: {server_says}{action}", hint=hint
    )


@contextmanager
def translate_errors(database: Database, *, admin: bool = False) -> Iterator[None]:
    """Turn driver errors met mid-command into taskcli errors (schema → 7, lost server → 6,
    missing privilege → 8)."""
    try:
        yield
    except exc.DBAPIError as error:
        if is_schema_error(error):
            raise SchemaError(
                f"the database schema at {database.target} is missing or out of date"
            ) from None
        code = getattr(error.orig, "pgcode", None)
        if code == INSUFFICIENT_PRIVILEGE:
            raise not_permitted(database, error, admin) from None
        if code in (INVALID_AUTHORIZATION, INVALID_PARAMETER_VALUE):
            diag = error.orig.diag  # type: ignore[union-attr]
            kind = AuthError if code == INVALID_AUTHORIZATION else InvalidInputError
            message = diag.message_primary or driver_message(error)
            raise kind(message, hint=diag.message_hint) from None
        if code in TRANSACTION_ROLLBACK_CODES:  # PostgreSQL chose this one to wait no more
            raise ConflictError(
                "another command of this account changed the same tasks at the same moment: "
                "nothing was changed",
                hint="run the command again",
            ) from None
        failure = sqlite_failure(database, error) if database.is_sqlite else None
        if failure is not None:
            raise failure from None
        if isinstance(error, exc.OperationalError) and not database.is_sqlite:
            raise DatabaseUnavailableError(
                f"lost the connection to PostgreSQL at {database.target}: {driver_message(error)}"
            ) from None
        raise


@contextmanager
def atomic(conn: Connection, *, commit: bool = True) -> Iterator[Connection]:
    """Run several statements as one transaction on an autocommit connection; with
    ``commit=False`` (a dry run) it is rolled back at the end instead. Inside another
    ``atomic`` it is part of that one (which commits or rolls back the whole)."""
    if conn.info.get(_IN_ATOMIC):  # inside an enclosing one: its end decides
        yield conn
        return
    sqlite = conn.dialect.name == "sqlite"
    conn.exec_driver_sql("BEGIN IMMEDIATE" if sqlite else "BEGIN")
    conn.info[_IN_ATOMIC] = True
    try:
        yield conn
    except BaseException:
        # After Ctrl-C or a lost server the connection is gone (not even its info can be
        # read), and the server rolls back by itself; the original error is the one to
        # report.
        if not conn.invalidated:
            conn.info[_IN_ATOMIC] = False
            with suppress(exc.SQLAlchemyError):
                conn.exec_driver_sql("ROLLBACK")
        raise
    conn.info[_IN_ATOMIC] = False
    conn.exec_driver_sql("COMMIT" if commit else "ROLLBACK")


_IN_ATOMIC = "taskcli.in_atomic"


def ensure_embedded_schema(conn: Connection) -> None:
    """Bring the embedded SQLite file to the head revision when it is new or behind."""
    try:
        current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except exc.OperationalError:
        current = None
    if current != SCHEMA_HEAD:
        from taskcli.core import migrate

        migrate.upgrade(conn, "head")
