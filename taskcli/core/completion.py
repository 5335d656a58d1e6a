"""What shell completion offers from the database (SPEC §14): a user's task numbers with
their titles, projects, tags and context names.

Each lookup is one query of the user's rows only (on PostgreSQL row-level security holds
it to them as well), returning at most ``limit`` (value, help) pairs whose value starts
with ``prefix``, exactly as typed (case included).

Completion runs at every TAB press, so it costs what ``taskcli --help`` costs plus the
query: it speaks to the database through its driver alone (:mod:`sqlite3`, psycopg2),
never through SQLAlchemy or the models, and the token rules are those of every command.
On SQLite the session is checked by :func:`taskcli.core.authentication.sqlite_identity`
first; on PostgreSQL the single-use session proof travels in front of the query, in the
same round trip (:class:`taskcli.core.pgsessions.Presenter`), and the database refuses
the query when the session has ended.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from taskcli.core import authentication
from taskcli.core.config import Settings
from taskcli.core.enums import TaskStatus
from taskcli.core.token_store import TokenStore
from taskcli.core.urls import connect_budget, is_sqlite, libpq_url, sqlite_path

Choice = tuple[str, str]
LIMIT = 50
OPEN_STATUSES = (TaskStatus.pending.value, TaskStatus.in_progress.value)
APPLICATION_NAME = "taskcli"


@dataclass(frozen=True)
class Query:
    """One lookup's SQL for one database, its parameters, and how a row is offered."""

    sql: str
    parameters: tuple[Any, ...]
    choice: Callable[[Sequence[Any]], Choice]


@dataclass(frozen=True)
class Dialect:
    """How a query is written for the database at hand."""

    postgres: bool

    @property
    def mark(self) -> str:
        """The driver's parameter placeholder."""
        return "%s" if self.postgres else "?"

    def user(self, user_id: uuid.UUID) -> tuple[str, str]:
        """The condition on ``user_id`` and its parameter (SQLite stores 32 hex digits)."""
        if self.postgres:
            return "user_id = CAST(%s AS uuid)", str(user_id)
        return "user_id = ?", user_id.hex

    def starts_with(self, column: str) -> str:
        """Case-sensitive on both databases (SQLite's LIKE ignores ASCII case) and free of
        LIKE's wildcards; its parameters are the prefix's length and the prefix."""
        return f"substr({column}, 1, {self.mark}) = {self.mark}"


Lookup = Callable[..., Query | None]


def offered(
    settings: Settings, store: TokenStore, lookup: Lookup, **arguments: Any
) -> list[Choice]:
    """What ``lookup`` offers the stored token's user: nothing without a token or without
    the embedded database's file (completion creates and migrates nothing). A failure
    (session ended, server down) raises, as the driver reports it."""
    stored = store.load()
    if stored is None:
        return []
    if is_sqlite(settings.database_url):
        path = Path(sqlite_path(settings.database_url))
        if not path.exists():
            return []
        return _on_sqlite(path, settings, stored.token, lookup, arguments)
    return _on_postgres(settings, stored.token, lookup, arguments)


def _on_sqlite(
    path: Path, settings: Settings, token: str, lookup: Lookup, arguments: dict[str, Any]
) -> list[Choice]:
    import sqlite3

    # mode=rw: a file removed meanwhile is not created again
    uri = f"file:{quote(str(path.absolute()))}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=settings.sqlite_lock_wait)
    try:

        def first_row(sql: str, parameters: tuple[str, ...]) -> Sequence[Any] | None:
            row: Sequence[Any] | None = conn.execute(sql, parameters).fetchone()
            return row

        identity = authentication.sqlite_identity(first_row, token=token)
        query = lookup(Dialect(postgres=False), user_id=identity.user_id, **arguments)
        if query is None:
            return []
        return [query.choice(row) for row in conn.execute(query.sql, query.parameters)]
    finally:
        conn.close()


def _on_postgres(
    settings: Settings, token: str, lookup: Lookup, arguments: dict[str, Any]
) -> list[Choice]:
    from taskcli.core import pgsessions

    claims = pgsessions.verified_claims(token)
    query = lookup(Dialect(postgres=True), user_id=claims.user_id, **arguments)
    if query is None:
        return []
    conn = _postgres_connection(settings)
    try:
        with conn.cursor() as cursor:
            # the proof is spent, then presented, then the query runs: one round trip
            cursor.execute(pgsessions.Presenter(claims).rewrite(query.sql, False), query.parameters)
            return [query.choice(row) for row in cursor.fetchall()]
    except BaseException:
        getattr(conn, "invalidate", conn.close)()  # a kept one is not kept in doubt
        raise
    finally:
        conn.close()


def _postgres_connection(settings: Settings) -> Any:
    """An autocommit connection: in a local server's worker, the one it keeps for this
    database (a TAB then costs no connection set-up, as a command does not); otherwise a
    new one through the driver. (The worker has SQLAlchemy loaded; a completion in its
    own process never loads it.)"""
    import sys

    db = sys.modules.get("taskcli.core.db")
    if db is not None and db.kept_connections() is not None:
        return db.Database(settings).engine.raw_connection()  # its engine is AUTOCOMMIT
    import psycopg2

    url = settings.database_url
    conn = psycopg2.connect(
        libpq_url(url),
        connect_timeout=connect_budget(url, settings.connect_timeout),
        application_name=APPLICATION_NAME,
    )
    conn.autocommit = True
    return conn


def task_numbers(
    dialect: Dialect, *, user_id: uuid.UUID, prefix: str, completed: bool = False,
    limit: int = LIMIT,
) -> Query | None:  # fmt: skip
    """The numbers of the user's open tasks (``completed``: of the completed ones) with
    their titles, the most recently changed first. A UUID prefix is not completed."""
    if prefix and not (prefix.isascii() and prefix.isdigit()):
        return None
    statuses = (TaskStatus.completed.value,) if completed else OPEN_STATUSES
    mark = dialect.mark
    user, user_parameter = dialect.user(user_id)
    conditions = [user, f"status IN ({', '.join(mark for _ in statuses)})"]
    parameters: list[Any] = [user_parameter, *statuses]
    if prefix:
        conditions.append(dialect.starts_with("CAST(number AS VARCHAR)"))
        parameters += [len(prefix), prefix]
    sql = (
        f"SELECT number, title FROM tasks WHERE {' AND '.join(conditions)} "
        f"ORDER BY updated_at DESC, number DESC LIMIT {mark}"
    )
    return Query(sql, (*parameters, limit), lambda row: (str(row[0]), row[1]))


def projects(
    dialect: Dialect, *, user_id: uuid.UUID, prefix: str, limit: int = LIMIT
) -> Query | None:
    """The user's projects, those with the most open tasks first."""
    return _names(dialect, "tasks", "project", "project IS NOT NULL", user_id, prefix, limit)


def tags(dialect: Dialect, *, user_id: uuid.UUID, prefix: str, limit: int = LIMIT) -> Query | None:
    """The user's tags, those with the most open tasks first."""
    if dialect.postgres:
        source, tag = "tasks JOIN unnest(tasks.tags) AS tag_rows(tag) ON true", "tag_rows.tag"
    else:
        source, tag = "tasks JOIN json_each(tasks.tags) AS tag_rows ON 1 = 1", "tag_rows.value"
    return _names(dialect, source, tag, "1 = 1", user_id, prefix, limit)


def _names(
    dialect: Dialect, source: str, name: str, condition: str, user_id: uuid.UUID, prefix: str,
    limit: int,
) -> Query:  # fmt: skip
    mark = dialect.mark
    user, user_parameter = dialect.user(user_id)
    conditions = [f"tasks.{user}", condition]
    parameters: list[Any] = [*OPEN_STATUSES, user_parameter]
    if prefix:
        conditions.append(dialect.starts_with(name))
        parameters += [len(prefix), prefix]
    open_count = f"sum(CASE WHEN tasks.status IN ({mark}, {mark}) THEN 1 ELSE 0 END)"
    sql = (
        f"SELECT {name}, {open_count} AS open_count FROM {source} "
        f"WHERE {' AND '.join(conditions)} GROUP BY {name} "
        f"ORDER BY open_count DESC, {name} LIMIT {mark}"
    )
    return Query(sql, (*parameters, limit), lambda row: (row[0], f"{int(row[1])} open"))


def context_names(
    dialect: Dialect, *, user_id: uuid.UUID, prefix: str, limit: int = LIMIT
) -> Query | None:
    """The user's contexts by name, each with its filters."""
    mark = dialect.mark
    user, user_parameter = dialect.user(user_id)
    conditions = [user]
    parameters: list[Any] = [user_parameter]
    if prefix:
        conditions.append(dialect.starts_with("name"))
        parameters += [len(prefix), prefix]
    sql = (
        f"SELECT name, filters FROM contexts WHERE {' AND '.join(conditions)} "
        f"ORDER BY name LIMIT {mark}"
    )
    return Query(sql, (*parameters, limit), lambda row: (row[0], _filters_text(row[1])))


def _filters_text(stored: str) -> str:
    """A context's filters as one line: ``project=work tags=a,b overdue``."""
    words = []
    for key, value in json.loads(stored).items():
        if value is True:
            words.append(key)
        else:
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            words.append(f"{key}={shown}")
    return " ".join(words)
