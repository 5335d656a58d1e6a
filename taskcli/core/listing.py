"""Listing tasks: filters, sort orders, pages, counts and the streaming read for export."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core.dates import utc_now
from taskcli.core.db import atomic
from taskcli.core.enums import TaskPriority, TaskSort, TaskStatus
from taskcli.core.errors import InvalidInputError
from taskcli.core.tasks import COLUMNS, is_postgres, tasks, to_record

DEFAULT_LIMIT = 100
STREAM_CHUNK = 2000
PRIORITY_RANK = sa.case({"high": 0, "medium": 1, "low": 2}, value=tasks.c.priority, else_=3)
Choice = TypeVar("Choice", bound=StrEnum)


def _member(enum: type[Choice], value: str, name: str) -> Choice:
    """``value`` as a member of ``enum`` (a library caller may give the plain value)."""
    try:
        return enum(value)
    except ValueError:
        raise InvalidInputError(f"{name}: must be one of {', '.join(enum)}") from None


@dataclass
class TaskFilter:
    statuses: list[TaskStatus] = field(default_factory=list)
    include_completed: bool = False
    priority: TaskPriority | None = None
    project: str | None = None
    without_project: bool = False
    tags: list[str] = field(default_factory=list)
    due_before: datetime | None = None
    overdue: bool = False
    search: str | None = None
    sort: TaskSort = TaskSort.number
    reverse: bool = False
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        self.statuses = [_member(TaskStatus, status, "status") for status in self.statuses]
        if self.priority is not None:
            self.priority = _member(TaskPriority, self.priority, "priority")
        self.sort = _member(TaskSort, self.sort, "sort")
        if self.limit < 0 or self.offset < 0:
            raise InvalidInputError("limit and offset must be 0 or more")


def _tag_conditions(conn: Connection, tags: list[str]) -> list[sa.ColumnElement[bool]]:
    if not tags:
        return []
    if is_postgres(conn):
        from sqlalchemy.dialects import postgresql

        column = sa.type_coerce(tasks.c.tags, postgresql.ARRAY(sa.String))
        return [column.contains(sa.cast(tags, postgresql.ARRAY(sa.String)))]
    return [
        sa.exists(
            sa.select(1)
            .select_from(sa.func.json_each(tasks.c.tags).table_valued("value"))
            .where(sa.column("value") == tag)
        )
        for tag in tags
    ]


def _conditions(
    conn: Connection, user_id: uuid.UUID, flt: TaskFilter
) -> list[sa.ColumnElement[bool]]:
    conditions = [tasks.c.user_id == user_id]
    if flt.statuses:
        conditions.append(tasks.c.status.in_([status.value for status in flt.statuses]))
    elif not flt.include_completed:
        conditions.append(tasks.c.status != TaskStatus.completed.value)
    if flt.priority:
        conditions.append(tasks.c.priority == flt.priority.value)
    if flt.project is not None:
        conditions.append(tasks.c.project == flt.project)
    if flt.without_project:
        conditions.append(tasks.c.project.is_(None))
    if flt.due_before is not None:
        conditions.append(tasks.c.due <= flt.due_before)
    if flt.overdue:
        conditions.append(tasks.c.due < utc_now())
        conditions.append(tasks.c.status != TaskStatus.completed.value)
    if flt.search:
        conditions.append(
            sa.or_(
                tasks.c.title.icontains(flt.search, autoescape=True),
                tasks.c.description.icontains(flt.search, autoescape=True),
            )
        )
    return conditions + _tag_conditions(conn, flt.tags)


def _order(flt: TaskFilter) -> list[sa.ColumnElement[Any]]:
    def direction(column: sa.ColumnElement[Any]) -> sa.UnaryExpression[Any]:
        return column.desc() if flt.reverse else column.asc()

    number = direction(tasks.c.number)
    if flt.sort is TaskSort.due:
        return [tasks.c.due.is_(None), direction(tasks.c.due), number]
    keys = {
        TaskSort.priority: PRIORITY_RANK,
        TaskSort.created: tasks.c.created_at,
        TaskSort.updated: tasks.c.updated_at,
    }
    return [direction(keys[flt.sort]), number] if flt.sort in keys else [number]


def select_tasks(
    conn: Connection,
    *,
    user_id: uuid.UUID,
    flt: TaskFilter,
    columns: Sequence[sa.ColumnElement[Any]] = COLUMNS,
) -> sa.Select[Any]:
    query = (
        sa.select(*columns)
        .where(*_conditions(conn, user_id, flt))
        .order_by(*_order(flt))
        .offset(flt.offset or None)
    )
    return query.limit(flt.limit) if flt.limit else query


def is_bounded(flt: TaskFilter) -> bool:
    """A page small enough to read at once; larger reads go through :func:`iter_tasks`."""
    return 0 < flt.limit <= STREAM_CHUNK


def list_tasks(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> list[dict[str, Any]]:
    return [to_record(row) for row in conn.execute(select_tasks(conn, user_id=user_id, flt=flt))]


def count_tasks(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> int:
    query = sa.select(sa.func.count()).select_from(tasks).where(*_conditions(conn, user_id, flt))
    return conn.execute(query).scalar_one()


def iter_tasks(
    conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter, chunk: int = STREAM_CHUNK
) -> Generator[dict[str, Any]]:
    """Stream matching tasks (server-side cursor on PostgreSQL) with flat memory."""
    query = select_tasks(conn, user_id=user_id, flt=flt)
    with contextlib.closing(_stream(conn, query, chunk)) as rows:
        for row in rows:
            yield to_record(row)


def each_task_json(
    conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter, emit: Callable[[str], None]
) -> None:
    """Hand each matching task's JSON text, built by the database (see json_text), to
    ``emit`` in order: one COPY on PostgreSQL, a streaming read on SQLite."""
    from taskcli.core.json_text import task_json_column

    query = select_tasks(conn, user_id=user_id, flt=flt, columns=[task_json_column(conn)])
    if is_postgres(conn):
        from taskcli.core.pgcopy import copy_lines_out

        copy_lines_out(conn, query, emit)
        return
    with contextlib.closing(_stream(conn, query, STREAM_CHUNK)) as rows:
        for row in rows:
            emit(row[0])


def _stream(conn: Connection, query: sa.Select[Any], chunk: int) -> Generator[sa.Row[Any]]:
    options = {"stream_results": True, "yield_per": chunk}
    if not is_postgres(conn):
        yield from conn.execute(query, execution_options=options)
        return
    with atomic(conn):  # the server-side cursor lives inside one transaction
        result = conn.execute(query, execution_options=options)
        try:
            yield from result
        finally:
            result.close()
