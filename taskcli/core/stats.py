"""Statistics of the user's tasks: counts, and tasks created and completed per ISO week.

Everything is counted by the database in one statement (one round trip, the session
check included): the counts grouped by status, priority and project, and the tasks
created and completed in each week, grouped by week. The rules come from listing:
overdue, waiting and blocked are what ``TaskFilter`` means by them, so each rule lives
in one place.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core.dates import utc_now
from taskcli.core.enums import TaskPriority, TaskStatus
from taskcli.core.listing import TaskFilter, matches
from taskcli.core.tasks import tasks
from taskcli.core.weeks import DEFAULT_WEEKS, last_weeks

# What each flag counts: open tasks only (a TaskFilter leaves completed ones out).
FLAGS = {
    "overdue": TaskFilter(overdue=True),
    "waiting": TaskFilter(only_waiting=True),
    "blocked": TaskFilter(blocked=True),
}
WEEK_EVENTS = {"created": tasks.c.created_at, "completed": tasks.c.completed_at}


def week_index(column: sa.ColumnElement[Any], bounds: list[datetime]) -> sa.ColumnElement[int]:
    """The index ``i`` of the week ``bounds[i] <= column < bounds[i + 1]`` (for a column
    already known to lie within the bounds): nested CASEs that halve the range, so a
    row costs log2(weeks) comparisons, not one per week."""

    def index(low: int, high: int) -> sa.ColumnElement[int]:
        if high - low == 1:
            return sa.literal(low, sa.Integer)
        middle = (low + high) // 2
        return sa.case((column < bounds[middle], index(low, middle)), else_=index(middle, high))

    return index(0, len(bounds) - 1)


def _counts_query(conn: Connection, user_id: uuid.UUID, now: datetime) -> sa.Select[Any]:
    flags = [
        sa.func.sum(sa.case((matches(conn, user_id, flt, now=now), 1), else_=0)).label(name)
        for name, flt in FLAGS.items()
    ]
    return (
        sa.select(
            sa.literal("tasks", sa.Text).label("kind"),
            tasks.c.status,
            tasks.c.priority,
            tasks.c.project,
            sa.cast(sa.null(), sa.Integer).label("week"),
            sa.func.count().label("n"),
            *flags,
        )
        .where(tasks.c.user_id == user_id)
        .group_by(tasks.c.status, tasks.c.priority, tasks.c.project)
    )


def _week_query(
    kind: str, column: sa.ColumnElement[Any], user_id: uuid.UUID, bounds: list[datetime]
) -> sa.Select[Any]:
    """How many of the user's tasks have ``column`` in each week (weeks with none are
    left out); the same columns as :func:`_counts_query`."""
    inside = (
        sa.select(week_index(column, bounds).label("week"))
        .where(tasks.c.user_id == user_id, column >= bounds[0], column < bounds[-1])
        .subquery(f"{kind}_in_week")
    )
    columns: list[sa.ColumnElement[Any]] = [sa.literal(kind, sa.Text)]
    columns += [sa.cast(sa.null(), sa.Text) for _ in ("status", "priority", "project")]
    columns += [inside.c.week, sa.func.count()]
    columns += [sa.literal(0, sa.Integer) for _ in FLAGS]
    return sa.select(*columns).group_by(inside.c.week)


def task_stats(
    conn: Connection, *, user_id: uuid.UUID, weeks: int = DEFAULT_WEEKS,
    now: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``{"counts": {...}, "weeks": [{"week", "created", "completed"}]}`` (see the README
    for the keys), the oldest week first and ``now``'s last."""
    now = now or utc_now()
    listed, end = last_weeks(weeks, now=now)
    bounds = [week.start for week in listed] + [end]
    parts = [_counts_query(conn, user_id, now)]
    parts += [_week_query(kind, column, user_id, bounds) for kind, column in WEEK_EVENTS.items()]
    rows = conn.execute(sa.union_all(*parts)).all()
    per_week = [{"week": week.label, **dict.fromkeys(WEEK_EVENTS, 0)} for week in listed]
    for row in rows:
        if row.kind in WEEK_EVENTS:
            per_week[row.week][row.kind] = int(row.n)
    return {"counts": _counts([row for row in rows if row.kind == "tasks"]), "weeks": per_week}


def _counts(groups: list[Any]) -> dict[str, Any]:
    """The counts from the groups of (status, priority, project)."""
    by_status = dict.fromkeys(TaskStatus, 0)
    by_priority = dict.fromkeys(reversed(TaskPriority), 0)  # high first
    by_project: dict[str | None, int] = {}
    flags = dict.fromkeys(FLAGS, 0)
    for group in groups:
        by_status[TaskStatus(group.status)] += group.n
        if group.status == TaskStatus.completed:
            continue
        by_priority[TaskPriority(group.priority)] += group.n
        by_project[group.project] = by_project.get(group.project, 0) + group.n
        for name in FLAGS:
            flags[name] += int(getattr(group, name))
    projects = sorted(by_project.items(), key=lambda item: (item[0] is None, item[0] or ""))
    return {
        "total": sum(by_status.values()),
        "by_status": {status.value: count for status, count in by_status.items()},
        "open": sum(by_priority.values()),
        "open_by_priority": {priority.value: count for priority, count in by_priority.items()},
        "open_by_project": [{"name": name, "open": count} for name, count in projects],
        **flags,
    }
