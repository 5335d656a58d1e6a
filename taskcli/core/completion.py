"""What shell completion offers from the database (SPEC §14): a user's task numbers with
their titles, projects, tags and context names.

Each lookup is one query of the user's rows only (on PostgreSQL row-level security holds
it to them as well), returning at most ``limit`` (value, help) pairs whose value starts
with ``prefix``, exactly as typed (case included). It reads through
:mod:`taskcli.core.lean_tables`, never the models: completion runs at every TAB.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core import logins
from taskcli.core.db import Database
from taskcli.core.enums import TaskStatus
from taskcli.core.lean_tables import contexts, tasks
from taskcli.core.sql import planning
from taskcli.core.token_store import TokenStore
from taskcli.core.urls import sqlite_path

Choice = tuple[str, str]
Lookup = Callable[..., list[Choice]]
LIMIT = 50
OPEN_STATUSES = (TaskStatus.pending.value, TaskStatus.in_progress.value)


def offered(
    database: Database, store: TokenStore, lookup: Lookup, **arguments: Any
) -> list[Choice]:
    """What ``lookup`` offers the stored token's user: nothing without a token or without
    the embedded database's file (completion creates and migrates nothing). A failure
    (session ended, server down) raises as in any command."""
    stored = store.load()
    if stored is None:
        return []
    if database.is_sqlite and not Path(sqlite_path(database.url)).exists():
        return []
    with logins.session_of(database, stored, migrate_embedded=False) as session:
        return lookup(session.conn, user_id=session.identity.user_id, **arguments)


def task_numbers(
    conn: Connection, *, user_id: uuid.UUID, prefix: str, completed: bool = False,
    limit: int = LIMIT,
) -> list[Choice]:  # fmt: skip
    """The numbers of the user's open tasks (``completed``: of the completed ones) with
    their titles, the most recently changed first. A UUID prefix is not completed."""
    if prefix and not (prefix.isascii() and prefix.isdigit()):
        return []
    statuses = (TaskStatus.completed.value,) if completed else OPEN_STATUSES
    query = (
        sa.select(tasks.c.number, tasks.c.title)
        .where(tasks.c.user_id == user_id, tasks.c.status.in_(statuses))
        .order_by(tasks.c.updated_at.desc(), tasks.c.number.desc())
        .limit(limit)
    )
    if prefix:
        query = query.where(_starts_with(sa.cast(tasks.c.number, sa.String), prefix))
    return [(str(number), title) for number, title in conn.execute(query)]


def projects(
    conn: Connection, *, user_id: uuid.UUID, prefix: str, limit: int = LIMIT
) -> list[Choice]:
    """The user's projects, those with the most open tasks first."""
    named = tasks.c.project.is_not(None)
    return _names(conn, tasks, tasks.c.project, named, user_id=user_id, prefix=prefix, limit=limit)


def tags(conn: Connection, *, user_id: uuid.UUID, prefix: str, limit: int = LIMIT) -> list[Choice]:
    """The user's tags, those with the most open tasks first."""
    rows, tag = planning.tag_rows(conn, tasks)
    source = tasks.join(rows, sa.true())
    return _names(conn, source, tag, sa.true(), user_id=user_id, prefix=prefix, limit=limit)


def _names(
    conn: Connection, source: sa.FromClause, name: sa.ColumnElement[str],
    condition: sa.ColumnElement[bool], *, user_id: uuid.UUID, prefix: str, limit: int,
) -> list[Choice]:  # fmt: skip
    open_count = sa.func.sum(sa.case((tasks.c.status.in_(OPEN_STATUSES), 1), else_=0))
    query = (
        sa.select(name, open_count)
        .select_from(source)
        .where(tasks.c.user_id == user_id, condition)
        .group_by(name)
        .order_by(open_count.desc(), name)
        .limit(limit)
    )
    if prefix:
        query = query.where(_starts_with(name, prefix))
    return [(value, f"{int(count)} open") for value, count in conn.execute(query)]


def context_names(
    conn: Connection, *, user_id: uuid.UUID, prefix: str, limit: int = LIMIT
) -> list[Choice]:
    """The user's contexts by name, each with its filters."""
    query = (
        sa.select(contexts.c.name, contexts.c.filters)
        .where(contexts.c.user_id == user_id)
        .order_by(contexts.c.name)
        .limit(limit)
    )
    if prefix:
        query = query.where(_starts_with(contexts.c.name, prefix))
    return [(name, _filters_text(filters)) for name, filters in conn.execute(query)]


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


def _starts_with(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """Case-sensitive on both databases (SQLite's LIKE ignores ASCII case) and free of
    LIKE's wildcards."""
    return sa.func.substr(column, 1, len(prefix)) == prefix
