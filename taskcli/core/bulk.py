"""The status commands: start, stop, done, reopen and delete, one entry point each, of a
selection: the tasks REFs name (all or none, :mod:`taskcli.core.tasks`), or every task a
list filter selects (a bulk change). Either way one transaction (with the next
occurrences of recurring tasks), so one journal step that ``undo`` reverts whole.

A bulk change is one UPDATE or DELETE, however many tasks it selects. ``brief``: the
caller needs only the number and title of each task (records may carry more), so that
is all a bulk change reads back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core import tasks as changes
from taskcli.core.dates import utc_now
from taskcli.core.db import atomic
from taskcli.core.enums import TaskStatus
from taskcli.core.listing import TaskFilter, list_tasks, matches
from taskcli.core.tasks import BRIEF, COLUMNS, SERIES, STARTED, Completion, tasks, to_record

PREVIEW = 5  # the titles a confirmation shows
Selection = list[str] | TaskFilter  # REFs, or a list filter
Records = list[dict[str, Any]]


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


def _returned(brief: bool) -> list[sa.Column[Any]]:
    return [tasks.c[name] for name in BRIEF] if brief else COLUMNS


def _records(rows: Any, brief: bool) -> Records:
    records = [dict(zip(BRIEF, row, strict=True)) if brief else to_record(row) for row in rows]
    return sorted(records, key=lambda record: record["number"])


def _set(
    conn: Connection, user_id: uuid.UUID, where: sa.ColumnElement[bool], values: dict[str, Any],
    brief: bool,
) -> Records:  # fmt: skip
    update = tasks.update().where(where).values(**values)
    return _records(conn.execute(update.returning(*_returned(brief))).all(), brief)


def start(
    conn: Connection, *, user_id: uuid.UUID, selection: Selection, brief: bool = False
) -> Records:
    """Mark the selected tasks in progress."""
    return _status(conn, user_id, selection, TaskStatus.in_progress, brief)


def reopen(
    conn: Connection, *, user_id: uuid.UUID, selection: Selection, brief: bool = False
) -> Records:
    """Mark the selected tasks pending again."""
    return _status(conn, user_id, selection, TaskStatus.pending, brief)


def _status(
    conn: Connection, user_id: uuid.UUID, selection: Selection, status: TaskStatus, brief: bool
) -> Records:
    if isinstance(selection, list):
        return changes.set_status(conn, user_id=user_id, refs=selection, status=status)
    values = changes.status_values(status, utc_now())
    return _set(conn, user_id, _where(conn, user_id, selection), values, brief)


def stop(
    conn: Connection, *, user_id: uuid.UUID, selection: Selection, brief: bool = False
) -> Records:
    """The selected tasks in progress back to pending (the others are left as they are)."""
    if isinstance(selection, list):
        return changes.stop_tasks(conn, user_id=user_id, refs=selection)
    started = sa.and_(_where(conn, user_id, selection), STARTED)
    return _set(conn, user_id, started, changes.stopped_values(utc_now()), brief)


def complete(
    conn: Connection, *, user_id: uuid.UUID, selection: Selection, brief: bool = False
) -> Completion:
    """Complete the selected tasks; each recurring one gets its next occurrence, in the
    same transaction."""
    if isinstance(selection, list):
        return changes.complete(conn, user_id=user_id, refs=selection)
    values = changes.status_values(TaskStatus.completed, utc_now())
    with atomic(conn):
        update = tasks.update().where(_where(conn, user_id, selection)).values(**values)
        if not brief:
            rows = conn.execute(update.returning(*COLUMNS, *SERIES)).all()
            return changes.completed_rows(conn, user_id, rows)
        # brief: every column of the recurring tasks only, their next occurrence is made
        # from them (reading all of them back costs more than the UPDATE); the id of the
        # recurring ones only (converting every id costs a tenth of the UPDATE)
        recurring_id = sa.case((changes.RECURS, tasks.c.id)).label("recurring_id")
        returned = conn.execute(update.returning(*_returned(brief), recurring_id)).all()
        others, recurring = [], []
        for *brief_values, task_id in returned:
            if task_id is not None:
                recurring.append(task_id)
            else:
                others.append(dict(zip(BRIEF, brief_values, strict=True)))
        rows = changes.rows_by_id(conn, user_id, recurring, [*COLUMNS, *SERIES])
        return changes.completed_rows(conn, user_id, rows, others=others)


def delete(
    conn: Connection, *, user_id: uuid.UUID, selection: Selection, brief: bool = False
) -> Records:
    """Delete the selected tasks."""
    if isinstance(selection, list):
        return changes.delete_tasks(conn, user_id=user_id, refs=selection)
    removal = tasks.delete().where(_where(conn, user_id, selection))
    return _records(conn.execute(removal.returning(*_returned(brief))).all(), brief)


# the entry point of each status command, by its name
VERBS: dict[str, Callable[..., Any]] = {
    "start": start,
    "stop": stop,
    "done": complete,
    "reopen": reopen,
    "delete": delete,
}
