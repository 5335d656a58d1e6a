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
from taskcli.core.sql import is_postgres, planning
from taskcli.core.tasks import COLUMNS, tasks, to_record

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
    include_waiting: bool = True  # tasks whose wait time is still ahead
    only_waiting: bool = False
    ready: bool = False  # open, not waiting, scheduled empty or past, not blocked
    blocked: bool = False  # with a dependency that is not completed
    # Conditions that must hold as well (the active context's filters): sort, page and the
    # completed/waiting defaults are this filter's own.
    also: TaskFilter | None = None
    urgency: dict[str, float] | None = None  # coefficients for sort=urgency (else defaults)
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
    return [planning.has_tags(conn, tasks.c.tags, tags)] if tags else []


def filter_conditions(
    conn: Connection, user_id: uuid.UUID, flt: TaskFilter, *, now: datetime | None = None
) -> list[sa.ColumnElement[bool]]:
    now = now or utc_now()
    conditions = [tasks.c.user_id == user_id, *_planning_conditions(conn, flt, now)]
    if flt.also is not None:
        conditions += filter_conditions(conn, user_id, flt.also, now=now)[1:]
    if flt.statuses:
        conditions.append(tasks.c.status.in_([status.value for status in flt.statuses]))
    elif not flt.include_completed and not (flt.also and flt.also.statuses):
        # hidden by default, unless the context asks for statuses (as --status would)
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
        conditions.append(tasks.c.due < now)
        conditions.append(tasks.c.status != TaskStatus.completed.value)
    if flt.search:
        conditions.append(
            sa.or_(
                tasks.c.title.icontains(flt.search, autoescape=True),
                tasks.c.description.icontains(flt.search, autoescape=True),
            )
        )
    return conditions + _tag_conditions(conn, flt.tags)


def matches(
    conn: Connection, user_id: uuid.UUID, flt: TaskFilter, *, now: datetime
) -> sa.ColumnElement[bool]:
    """True for a task of the user that ``flt`` selects: its conditions as one, for a count
    beside others in one grouped query (see :mod:`taskcli.core.stats`)."""
    return sa.and_(*filter_conditions(conn, user_id, flt, now=now))


def _planning_conditions(
    conn: Connection, flt: TaskFilter, now: datetime
) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    not_waiting = sa.or_(tasks.c.wait.is_(None), tasks.c.wait <= now)
    if flt.only_waiting:
        conditions.append(tasks.c.wait > now)
    elif flt.ready or not (flt.include_waiting or (flt.also and flt.also.only_waiting)):
        # hidden by default, unless the context asks for waiting tasks (as --waiting would)
        conditions.append(not_waiting)
    if flt.ready:
        conditions.append(tasks.c.status != TaskStatus.completed.value)
        conditions.append(sa.or_(tasks.c.scheduled.is_(None), tasks.c.scheduled <= now))
        conditions.append(~planning.open_dependency(conn, tasks))
    if flt.blocked:
        conditions.append(planning.open_dependency(conn, tasks))
    return conditions


def urgency_column(
    conn: Connection, user_id: uuid.UUID, flt: TaskFilter
) -> sa.ColumnElement[float]:
    """The urgency of each task under ``flt``'s coefficients."""
    from taskcli.core import urgency

    coefficients = dict(flt.urgency if flt.urgency is not None else urgency.DEFAULTS)
    if flt.ready:  # a ready task has no open dependency: its blocked term is 0
        coefficients["blocked"] = 0.0
    return urgency.expression(
        conn, tasks, user_id=user_id, coefficients=coefficients, now=utc_now()
    )


def _by_urgency(
    conn: Connection, user_id: uuid.UUID, flt: TaskFilter, columns: Sequence[sa.ColumnElement[Any]]
) -> sa.Select[Any]:
    """``flt``'s tasks most urgent first (equal urgency by number; ``reverse`` turns both
    round, as for every sort), a page of them or all (``limit`` 0): ``columns`` and the
    urgency. The database ranks the matching tasks by (id, number, urgency) alone and
    reads the other columns for the page's rows only: carrying every column of every
    open task through the sort costs PostgreSQL as much again."""

    def ranked(urgency: sa.ColumnElement[Any], number: sa.ColumnElement[Any]) -> list[Any]:
        if flt.reverse:  # the whole order reversed, ties too (as for every sort)
            return [urgency.asc(), number.desc()]
        return [urgency.desc(), number.asc()]

    score = urgency_column(conn, user_id, flt).label("urgency")  # ordered by its label:
    page = (  # computed once a row
        sa.select(tasks.c.id, tasks.c.number, score)
        .where(*filter_conditions(conn, user_id, flt))
        .order_by(*ranked(score, tasks.c.number))
        .offset(flt.offset or None)
        .limit(flt.limit or None)
        .subquery("ranked")
    )
    return (
        sa.select(*columns, page.c.urgency)
        .select_from(tasks.join(page, tasks.c.id == page.c.id))
        .where(tasks.c.user_id == user_id)
        .order_by(*ranked(page.c.urgency, page.c.number))
    )


def _order(flt: TaskFilter) -> list[sa.ColumnElement[Any]]:
    """The ORDER BY of every sort but urgency (:func:`_by_urgency`); ties by number."""

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
    if flt.sort is TaskSort.urgency:
        return _by_urgency(conn, user_id, flt, columns).with_only_columns(*columns)
    query = (
        sa.select(*columns)
        .where(*filter_conditions(conn, user_id, flt))
        .order_by(*_order(flt))
        .offset(flt.offset or None)
    )
    return query.limit(flt.limit) if flt.limit else query


def next_tasks(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> list[dict[str, Any]]:
    """Ready tasks matching ``flt``, most urgent first (equal urgency by number), each with
    its ``urgency``; the database computes it once a row and sorts by it."""
    from dataclasses import replace

    from taskcli.core.urgency import rounded

    ready = replace(flt, ready=True, sort=TaskSort.urgency, reverse=False)
    records = []
    for row in conn.execute(_by_urgency(conn, user_id, ready, COLUMNS)):
        record = to_record(row[: len(COLUMNS)])
        record["urgency"] = rounded(row[len(COLUMNS)])
        records.append(record)
    return records


def is_bounded(flt: TaskFilter) -> bool:
    """A page small enough to read at once; larger reads go through :func:`iter_tasks`."""
    return 0 < flt.limit <= STREAM_CHUNK


def list_tasks(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> list[dict[str, Any]]:
    return [to_record(row) for row in conn.execute(select_tasks(conn, user_id=user_id, flt=flt))]


def count_tasks(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> int:
    query = (
        sa.select(sa.func.count()).select_from(tasks).where(*filter_conditions(conn, user_id, flt))
    )
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
    from taskcli.core.sql.json_text import task_json_column

    query = select_tasks(conn, user_id=user_id, flt=flt, columns=[task_json_column(conn)])
    if is_postgres(conn):
        from taskcli.core.sql.pgcopy import copy_lines_out

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


def name_counts(conn: Connection, *, user_id: uuid.UUID, of: str) -> list[dict[str, Any]]:
    """Each project (``of="project"``) or tag (``of="tag"``) of the user's tasks with its
    open (not completed) and total task counts, by name; one grouped query."""
    is_open = sa.case((tasks.c.status != TaskStatus.completed.value, 1), else_=0)
    if of == "project":
        name: sa.ColumnElement[str] = tasks.c.project
        source: sa.FromClause = tasks
        having = [tasks.c.project.is_not(None)]
    else:
        rows, name = planning.tag_rows(conn, tasks)
        source, having = tasks.join(rows, sa.true()), []
    query = (
        sa.select(name.label("name"), sa.func.sum(is_open), sa.func.count())
        .select_from(source)
        .where(tasks.c.user_id == user_id, *having)
        .group_by(name)
        .order_by(name)
    )
    return [{"name": n, "open": int(o), "total": int(c)} for n, o, c in conn.execute(query)]


def numbers_of(
    conn: Connection, *, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The numbers of those of ``ids`` that are the user's tasks (a deleted one is left out)."""
    if not ids:
        return {}
    query = sa.select(tasks.c.id, tasks.c.number).where(
        tasks.c.user_id == user_id, tasks.c.id.in_(list(ids))
    )
    return {row.id: row.number for row in conn.execute(query)}
