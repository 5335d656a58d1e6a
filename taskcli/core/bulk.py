"""Bulk changes: start, stop, done, reopen and delete every task a list filter selects, in
one statement (one transaction with the next occurrences of recurring tasks), so it is
one journal step that ``undo`` reverts whole."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core import tasks as changes
from taskcli.core.dates import utc_now
from taskcli.core.db import atomic
from taskcli.core.enums import TaskStatus
from taskcli.core.listing import TaskFilter, list_tasks, matches
from taskcli.core.tasks import COLUMNS, SERIES, Completion, tasks, to_record

PREVIEW = 5  # the titles a confirmation shows


def preview(
    conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter
) -> tuple[int, list[dict[str, Any]]]:
    """How many tasks ``flt`` selects, and the first few (by number)."""
    from dataclasses import replace

    from taskcli.core.listing import count_tasks

    first = list_tasks(conn, user_id=user_id, flt=replace(flt, limit=PREVIEW, offset=0))
    return count_tasks(conn, user_id=user_id, flt=flt), first


def _where(conn: Connection, user_id: uuid.UUID, flt: TaskFilter) -> sa.ColumnElement[bool]:
    return matches(conn, user_id, flt, now=utc_now())


def _sorted(rows: Any) -> list[dict[str, Any]]:
    return sorted((to_record(row) for row in rows), key=lambda record: record["number"])


def set_status(
    conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter, status: TaskStatus
) -> list[dict[str, Any]]:
    """start (in progress) or reopen (pending) the selected tasks."""
    values = changes.status_values(status, utc_now())
    update = tasks.update().where(_where(conn, user_id, flt)).values(**values)
    return _sorted(conn.execute(update.returning(*COLUMNS)))


def stop(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> list[dict[str, Any]]:
    """The selected tasks in progress back to pending (the others are left as they are)."""
    started = sa.and_(_where(conn, user_id, flt), tasks.c.status == TaskStatus.in_progress.value)
    update = tasks.update().where(started).values(**changes.stop_values(utc_now()))
    return _sorted(conn.execute(update.returning(*COLUMNS)))


def complete(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> Completion:
    """Complete the selected tasks; each recurring one gets its next occurrence, in the
    same transaction."""
    values = changes.status_values(TaskStatus.completed, utc_now())
    with atomic(conn):
        update = tasks.update().where(_where(conn, user_id, flt)).values(**values)
        rows = conn.execute(update.returning(*COLUMNS, *SERIES)).all()
        return changes.completed_rows(conn, user_id, rows)


def delete(conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter) -> list[dict[str, Any]]:
    """Delete the selected tasks."""
    removal = tasks.delete().where(_where(conn, user_id, flt))
    return _sorted(conn.execute(removal.returning(*COLUMNS)))
