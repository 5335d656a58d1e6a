"""The journal: each change command of a user is one step, recorded in the same
transaction as the change, with every task it touched as it was before. ``undo`` puts the
most recent step's tasks back; the journal lives in the database, so an undo works from
any machine the user logs in on.

Who writes it: on PostgreSQL the database (statement triggers on ``tasks``, migration
0007) for a connection that names its command (:func:`recorded` has the session's proof
carry it); on SQLite, temporary triggers of the connection, inside the one transaction
that :func:`recorded` opens around the command. Either way the change and its journal
rows commit together or not at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core.dates import as_utc, utc_now
from taskcli.core.db import atomic
from taskcli.core.errors import NotFoundError
from taskcli.core.models import JournalEntry, journal_tasks
from taskcli.core.sql import is_postgres
from taskcli.core.tasks import counters, tasks

journal = JournalEntry.__table__
KEEP_STEPS = 1000  # a user's journal keeps the last 1000 steps (migration 0007 too)
TASKS_SHOWN = 1000  # history lists at most this many tasks of a step (and their count)
COMMAND_SETTING = "taskcli.command"  # what the PostgreSQL triggers read
CLIENT_SETTING = "taskcli.client"
_IMAGE = [
    c.name for c in journal_tasks.columns if c.name not in ("user_id", "step", "id", "existed")
]
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._/@:+-]")


def safe_text(text: str) -> str:
    """``text`` as a journal's command or client: printable ASCII without quotes or %
    (it travels as a literal in front of a statement), at most 255 characters."""
    return _UNSAFE.sub("?", text)[:255]


@contextmanager
def recorded(conn: Connection, *, user_id: uuid.UUID, command: str, client: str) -> Iterator[None]:
    """Journal every task change made on ``conn`` inside the block as one step of
    ``command`` (a step only exists when a task changed)."""
    command, client = safe_text(command), safe_text(client)
    if is_postgres(conn):
        from taskcli.core import pgsessions

        pgsessions.journal_as(conn, command=command, client=client)
        try:
            yield
        finally:
            pgsessions.journal_as(conn, command=None, client=None)
        return
    _sqlite_triggers(conn)  # before the transaction: a rollback does not undo them
    with atomic(conn):
        step = _sqlite_begin(conn, user_id=user_id, command=command, client=client)
        yield
        # (after a failure the rollback puts the step back to NULL by itself)
        conn.exec_driver_sql("UPDATE temp.taskcli_journal_context SET step = NULL")
        _drop_if_empty(conn, user_id, step)


# ---- SQLite: the connection's temporary triggers ------------------------------------------


def _sqlite_begin(conn: Connection, *, user_id: uuid.UUID, command: str, client: str) -> int:
    step = conn.execute(
        counters.update()
        .where(counters.c.user_id == user_id)
        .values(next_journal_step=counters.c.next_journal_step + 1)
        .returning(counters.c.next_journal_step - 1)
    ).scalar_one()
    conn.execute(journal.insert().values(
        user_id=user_id, step=step, at=utc_now(), command=command, client=client,
    ))  # fmt: skip
    conn.execute(journal.delete().where(journal.c.user_id == user_id,
                                        journal.c.step <= step - KEEP_STEPS))  # fmt: skip
    conn.exec_driver_sql("UPDATE temp.taskcli_journal_context SET step = ?", (step,))
    return int(step)


def _sqlite_triggers(conn: Connection) -> None:
    """The temporary table holding the step in progress and the triggers that record each
    changed task under it (once per connection)."""
    if conn.info.get("taskcli.journal_triggers"):
        return
    conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS taskcli_journal_context (step INTEGER)")
    conn.exec_driver_sql("DELETE FROM temp.taskcli_journal_context")
    conn.exec_driver_sql("INSERT INTO temp.taskcli_journal_context VALUES (NULL)")
    step = "(SELECT step FROM temp.taskcli_journal_context)"
    columns = ", ".join(_IMAGE)
    old = ", ".join(f"OLD.{name}" for name in _IMAGE)
    into = "INSERT OR IGNORE INTO journal_tasks (user_id, step, id, existed"
    bodies = {
        "INSERT": f"{into}, number) VALUES (NEW.user_id, {step}, NEW.id, 0, NEW.number);",
        "UPDATE": f"{into}, {columns}) VALUES (OLD.user_id, {step}, OLD.id, 1, {old});",
    }
    bodies["DELETE"] = bodies["UPDATE"]
    for event, body in bodies.items():
        conn.exec_driver_sql(
            f"CREATE TEMP TRIGGER IF NOT EXISTS taskcli_journal_{event.lower()} AFTER {event} "
            f"ON main.tasks WHEN {step} IS NOT NULL BEGIN {body} END"
        )
    conn.info["taskcli.journal_triggers"] = True


def _drop_if_empty(conn: Connection, user_id: uuid.UUID, step: int) -> None:
    """A command that changed no task leaves no step."""
    touched = sa.exists().where(journal_tasks.c.user_id == user_id, journal_tasks.c.step == step)
    conn.execute(
        journal.delete().where(journal.c.user_id == user_id, journal.c.step == step, ~touched)
    )


# ---- undo -------------------------------------------------------------------------------


def undo(conn: Connection, *, user_id: uuid.UUID) -> dict[str, Any]:
    """Put back the tasks of the user's most recent step that is not undone yet, exactly as
    they were before it (created tasks go, changed and deleted ones return), and mark the
    step undone; one transaction. Returns the step as :func:`history` shows it."""
    with atomic(conn):
        # the user's counter row: every change of the user waits for this undo to end
        conn.execute(
            counters.update()
            .where(counters.c.user_id == user_id)
            .values(next_journal_step=counters.c.next_journal_step)
        )
        latest = sa.select(sa.func.max(journal.c.step)).where(
            journal.c.user_id == user_id, journal.c.undone_at.is_(None)
        )
        step = conn.execute(latest).scalar()
        if step is None:
            raise NotFoundError("nothing to undo", hint="taskcli history shows the journal")
        entry = _entries(conn, user_id, sa.and_(journal.c.step == step), limit=1)[0]
        _restore(conn, user_id, step)
        conn.execute(
            journal.update()
            .where(journal.c.user_id == user_id, journal.c.step == step)
            .values(undone_at=utc_now())
        )
    return entry


def _restore(conn: Connection, user_id: uuid.UUID, step: int) -> None:
    """The step's tasks as they were: those it created go, those it changed get their
    columns back, those it deleted return.

    PostgreSQL writes a whole new row version with every index entry for an update of
    these columns as for an insert, so there the step's tasks are deleted and inserted
    again from their images (the faster of the two). SQLite updates only the indexes of
    the columns set: there one UPDATE sets the columns that differ in some task."""
    of_step = sa.and_(journal_tasks.c.user_id == user_id, journal_tasks.c.step == step)
    image = sa.and_(of_step, journal_tasks.c.existed)
    names = ["user_id", "id", *_IMAGE]
    images = sa.select(*(journal_tasks.c[name] for name in names))
    if is_postgres(conn):
        touched = sa.select(journal_tasks.c.id).where(of_step)
        conn.execute(tasks.delete().where(tasks.c.user_id == user_id, tasks.c.id.in_(touched)))
        conn.execute(tasks.insert().from_select(names, images.where(image)))
        return
    created = sa.select(journal_tasks.c.id).where(of_step, ~journal_tasks.c.existed)
    conn.execute(tasks.delete().where(tasks.c.user_id == user_id, tasks.c.id.in_(created)))
    same_task = sa.and_(tasks.c.user_id == user_id, tasks.c.id == journal_tasks.c.id)
    changed, missing = _compared(conn, image, same_task)
    if changed:
        values = {name: journal_tasks.c[name] for name in changed}
        conn.execute(tasks.update().where(image, same_task).values(**values))
    if missing:
        gone = images.where(image, ~sa.exists().where(same_task))
        conn.execute(tasks.insert().from_select(names, gone))


def _compared(
    conn: Connection, image: sa.ColumnElement[bool], same_task: sa.ColumnElement[bool]
) -> tuple[list[str], bool]:
    """The image columns in which some task differs from its image, and whether some
    image's task is missing (deleted), from one pass over the images."""
    present = tasks.c.id.is_not(None)
    differs = [
        sa.func.max(sa.case((sa.and_(present, tasks.c[name].is_distinct_from(
            journal_tasks.c[name])), 1), else_=0))
        for name in _IMAGE
    ]  # fmt: skip
    counts = [sa.func.count(), sa.func.count(tasks.c.id)]
    pairs = journal_tasks.outerjoin(tasks, same_task)
    row = conn.execute(sa.select(*differs, *counts).select_from(pairs).where(image)).one()
    *flags, images, found = row
    return [name for name, flag in zip(_IMAGE, flags, strict=True) if flag], found < images


# ---- history ----------------------------------------------------------------------------


def history(
    conn: Connection, *, user_id: uuid.UUID, limit: int, pending: bool = False
) -> list[dict[str, Any]]:
    """The user's steps, newest first (``limit`` 0: all that are kept; ``pending``: only
    those not undone, the first is what ``undo`` reverts)."""
    condition = journal.c.undone_at.is_(None) if pending else sa.true()
    return _entries(conn, user_id, condition, limit=limit)


def _entries(
    conn: Connection, user_id: uuid.UUID, condition: sa.ColumnElement[bool], *, limit: int
) -> list[dict[str, Any]]:
    query = (
        sa.select(journal)
        .where(journal.c.user_id == user_id, condition)
        .order_by(journal.c.step.desc())
    )
    rows = conn.execute(query.limit(limit) if limit else query).all()
    if not rows:
        return []
    steps = [row.step for row in rows]
    touched: dict[int, list[dict[str, Any]]] = {step: [] for step in steps}
    counts = dict.fromkeys(steps, 0)
    # the first TASKS_SHOWN tasks of each step by number and the step's count: the
    # database leaves out the others
    by_step, by_number = journal_tasks.c.step, journal_tasks.c.number
    position = sa.func.row_number().over(partition_by=by_step, order_by=by_number).label("at")
    total = sa.func.count().over(partition_by=by_step).label("count")
    ranked = (
        sa.select(by_step, by_number, journal_tasks.c.id, position, total)
        .where(journal_tasks.c.user_id == user_id, journal_tasks.c.step.in_(steps))
        .subquery("ranked")
    )
    listed = (
        sa.select(ranked.c.step, ranked.c.number, ranked.c.id, ranked.c.count)
        .where(ranked.c.at <= TASKS_SHOWN)
        .order_by(ranked.c.step, ranked.c.number)
    )
    for step, number, task_id, count in conn.execute(listed):
        counts[step] = count
        touched[step].append({"number": number, "id": task_id})
    return [_entry(row, touched[row.step], counts[row.step]) for row in rows]


def _entry(row: Any, touched: list[dict[str, Any]], count: int) -> dict[str, Any]:
    return {
        "step": int(row.step),
        "when": _utc(row.at),
        "command": row.command,
        "client": row.client,
        "count": count,
        "tasks": touched,
        "undone_at": _utc(row.undone_at),
    }


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)
