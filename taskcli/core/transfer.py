"""Import and export between format files and the database.

Import is one transaction: every record is validated (all rejections are reported), new
tasks are inserted in bulk with their numbers drawn in one step per batch, and tasks whose
UUID the user already has are updated in the fields the format holds (see
:mod:`.import_merge`). Ids are unique per user, so the source's UUID is always kept,
whoever else holds it. Nothing is written unless every record is accepted.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from taskcli.core import formats
from taskcli.core.dates import utc_now
from taskcli.core.db import atomic
from taskcli.core.enums import TaskStatus
from taskcli.core.errors import InvalidInputError
from taskcli.core.formats.records import EVERY_FIELD
from taskcli.core.import_merge import ByColumnName, merge_into_stored
from taskcli.core.listing import TaskFilter, each_task_json, iter_tasks
from taskcli.core.models import TaskCreate, column_values
from taskcli.core.sql import is_postgres, planning
from taskcli.core.tasks import (
    as_stored,
    counters,
    draw_numbers,
    insert_tasks,
    series_start,
    task_input,
    tasks,
)
from taskcli.core.vocabulary import TASK_FIELDS

BATCH = 5000
_SNIFFED = 8192  # characters of content that detection looks at
_TIMES = ("created_at", "updated_at", "completed_at")
_INPUT_FIELDS = tuple(TaskCreate.model_fields)  # what a source record gives, validated


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "rejected": self.rejected,
        }


class ImportRejected(InvalidInputError):
    """Some records were rejected; nothing was imported."""

    def __init__(self, report: ImportReport) -> None:
        count = len(report.rejected)
        first = report.rejected[0]
        super().__init__(
            f"{count} record(s) rejected, nothing imported; "
            f"first: {first['record']}: {first['error']}"
        )
        self.report = report


def row_values(record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Validated column values for one source record (raises InvalidInputError)."""
    # What the source leaves unknown takes the input model's default (pending, medium…).
    given = {name: record[name] for name in _INPUT_FIELDS if record[name] is not None}
    checked = task_input(given)
    completed = checked.status is TaskStatus.completed
    # Unknown times are filled so that created <= completed <= updated (a todo.txt done line
    # may have a completion date and no creation date).
    completed_at = record["completed_at"] if completed else None
    created_at = record["created_at"] or min(now, completed_at or now)
    updated_at = record["updated_at"] or max(created_at, completed_at or created_at)
    task_id = uuid.UUID(record["id"]) if record["id"] else uuid.uuid4()
    if task_id in checked.depends:
        raise InvalidInputError("depends: a task cannot depend on itself")
    return {
        "id": task_id,
        **column_values(checked),
        "created_at": created_at,
        "updated_at": updated_at,
        "completed_at": (completed_at or updated_at) if completed else None,
        # the times made up above: an update keeps the stored ones instead
        "unknown": frozenset(name for name in _TIMES if record[name] is None),
    }


def _batches(
    parsed: Iterable[formats.ParsedRecord], report: ImportReport, now: datetime
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    seen: set[uuid.UUID] = set()
    for item in parsed:
        if item.skipped:
            report.skipped += 1
            continue
        try:
            if item.error:
                raise InvalidInputError(item.error)
            assert item.record is not None, "neither skipped nor rejected: a record"
            values = {**row_values(item.record, now), "series": item.series}
        except InvalidInputError as error:
            report.rejected.append({"record": item.location, "error": error.message})
            continue
        if values["id"] in seen:
            report.rejected.append({"record": item.location, "error": "id: appears twice"})
            continue
        seen.add(values["id"])
        batch.append(values)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# The columns of the values row_values() gives, with their types: every task field but the
# number, which the database draws for each new task (draw_numbers).
_ROW_COLUMNS = tuple(name for name in TASK_FIELDS if name != "number")
_ROW_TYPES = {name: tasks.c[name].type for name in _ROW_COLUMNS}


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name not in ("unknown", "series")}


def _series_columns(values: dict[str, Any]) -> dict[str, Any]:
    """The hidden series columns of a new task: its place in the series its source names
    (a Taskwarrior instance), else a series that starts at the task when it recurs."""
    place: formats.Series | None = values["series"]
    if place is None or values["recur"] is None:
        return series_start(values["id"], values["due"] if values["recur"] else None)
    return {
        "recur_series": uuid.UUID(place.id),
        "recur_index": place.index,
        "recur_anchor": place.anchor,
    }


def _write_batch(
    conn: Connection,
    user_id: uuid.UUID,
    batch: list[dict[str, Any]],
    carries: formats.Carries,
    now: datetime,
) -> tuple[int, int]:
    stored = _stored_rows(conn, user_id, [values["id"] for values in batch])
    mine = [v for v in batch if v["id"] in stored]
    new = [v for v in batch if v["id"] not in stored]
    if new:
        first = conn.execute(draw_numbers(user_id, len(new))).scalar_one()
        rows = [
            {**_columns(v), **_series_columns(v), "user_id": user_id, "number": first + i}
            for i, v in enumerate(new)
        ]  # fmt: skip
        # always COPY on PostgreSQL: an import's rows never travel in a statement's text
        insert_tasks(conn, rows, copy_at=1)
    if mine:
        for values in mine:
            merge_into_stored(values, stored[values["id"]], carries=carries, now=now)
        if is_postgres(conn):
            _update_from_json(conn, user_id, mine)
        else:
            _update_each(conn, user_id, mine)
    return len(new), len(mine)


def _stored_rows(
    conn: Connection, user_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, RowMapping]:
    """The stored columns of the user's tasks with these ids, by id."""
    columns = [tasks.c[name] for name in _ROW_COLUMNS]
    query = sa.select(*columns).where(
        tasks.c.user_id == user_id, planning.id_in(conn, tasks.c.id, ids)
    )
    return {row.id: row._mapping for row in conn.execute(query)}


def _changed_columns(source: ByColumnName) -> dict[str, Any]:
    """SET values from ``source`` (columns named like the row values)."""
    return {name: source[name] for name in _ROW_COLUMNS if name != "id"}


def _update_each(conn: Connection, user_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    params = {name: sa.bindparam(f"b_{name}", type_=type_) for name, type_ in _ROW_TYPES.items()}
    statement = (
        tasks.update()
        .where(tasks.c.id == params["id"], tasks.c.user_id == user_id)
        .values(_changed_columns(params))
    )
    conn.execute(statement, [{f"b_{k}": v for k, v in _columns(values).items()} for values in rows])


def _update_from_json(conn: Connection, user_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """One UPDATE … FROM json_to_recordset(one parameter) for the batch, not one per row."""
    from sqlalchemy.dialects.postgresql import ARRAY

    types: dict[str, Any] = {
        **_ROW_TYPES,
        "tags": ARRAY(sa.Text),
        "depends": ARRAY(sa.Uuid),
        "annotations": sa.Text(),
    }
    stored = [as_stored(_columns(v)) for v in rows]
    source = (
        sa.func.json_to_recordset(sa.literal(json.dumps(stored, default=str), sa.Text))
        .table_valued(*(sa.column(name, type_) for name, type_ in types.items()))
        .render_derived(name="source", with_types=True)
    )
    statement = (
        tasks.update()
        .where(tasks.c.id == source.c.id, tasks.c.user_id == user_id)
        .values(_changed_columns(source.c))
    )
    conn.execute(statement)


def import_records(
    conn: Connection,
    *,
    user_id: uuid.UUID,
    parsed: Iterable[formats.ParsedRecord],
    carries: formats.Carries = EVERY_FIELD,
    dry_run: bool = False,
    on_progress: Callable[[int], None] = lambda _count: None,
) -> ImportReport:
    """Import all records or none. Raises ImportRejected (exit 5) when any is rejected.
    A task the user has is updated in the fields ``carries`` names (see import_merge).
    A dry run does all of it and rolls it back: the report says what would have changed."""
    report = ImportReport()
    now = utc_now()
    with atomic(conn, commit=not dry_run):
        if is_postgres(conn):
            # One import per user at a time: a second one waits here, then finds the tasks
            # the first created and updates them (SQLite's BEGIN IMMEDIATE already waits).
            mine = counters.c.user_id == user_id
            conn.execute(sa.select(counters.c.user_id).where(mine).with_for_update())
            # Before any task row: its dependencies are checked against everyone else's.
            planning.lock_dependencies(conn, user_id)
        carries_depends = False
        for batch in _batches(parsed, report, now):
            carries_depends = carries_depends or any(values["depends"] for values in batch)
            if not report.rejected:
                created, updated = _write_batch(conn, user_id, batch, carries, now)
                report.created += created
                report.updated += updated
            on_progress(len(batch))
        if report.rejected:
            report.created = report.updated = 0  # rolled back
            raise ImportRejected(report)
        if carries_depends:
            _refuse_cycles(conn, user_id, report)
    return report


def _refuse_cycles(conn: Connection, user_id: uuid.UUID, report: ImportReport) -> None:
    """Refuse (and so roll back) an import whose dependencies close a cycle, among its
    tasks or through tasks already stored, as `update --add-depends` does: the report
    names the cycle's first task as the rejected record."""
    cycle = planning.dependency_cycle(conn, tasks, user_id)
    if cycle:
        ids = ", ".join(str(task_id) for task_id in cycle)
        error = f"depends: these tasks would form a cycle: {ids}"
        report.rejected.append({"record": f"id {cycle[0]}", "error": error})
        report.created = report.updated = 0  # rolled back
        raise ImportRejected(report)


def import_file(
    conn: Connection, *, user_id: uuid.UUID, stream: TextIO, fmt: str, dry_run: bool = False,
    on_progress: Callable[[int], None] = lambda _count: None,
) -> ImportReport:  # fmt: skip
    try:
        return import_records(
            conn, user_id=user_id, parsed=formats.read_records(stream, fmt),
            carries=formats.carried_fields(fmt), dry_run=dry_run, on_progress=on_progress,
        )  # fmt: skip
    except UnicodeDecodeError:
        raise _not_utf8() from None


def detect_format(stream: TextIO, name: str | None) -> str:
    """The format of a seekable text stream from its file name (None for stdin) and the
    first 8 KiB of its content (leading whitespace is read past, a chunk at a time)."""
    try:
        head = formats.read_head(stream).text.lstrip(" \t\r\n\ufeff")
        head = (head + stream.read(max(0, _SNIFFED - len(head))))[:_SNIFFED]
    except UnicodeDecodeError:
        raise _not_utf8() from None
    stream.seek(0)
    return formats.detect_format(name, head)


def _not_utf8() -> InvalidInputError:
    # The decoder's error offset counts from its current chunk, not the file: not shown.
    return InvalidInputError(
        "the input is not UTF-8 text", hint="convert it to UTF-8 first (e.g. with iconv)"
    )


def export_tasks(
    conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter, out: TextIO, fmt: str,
    on_progress: Callable[[int], None] = lambda _count: None,
) -> int:  # fmt: skip
    """Stream matching tasks to ``out`` in ``fmt``; memory stays flat.

    In the JSON formats the database builds each task's text (the same bytes, faster).
    """
    if fmt in formats.JSON_TEXT_FORMATS:
        writer = formats.json_text_writer(fmt, out)

        def add(text: str) -> None:
            writer.add(text)
            on_progress(1)

        each_task_json(conn, user_id=user_id, flt=flt, emit=add)
        return writer.close()
    records = iter_tasks(conn, user_id=user_id, flt=flt)

    def counted() -> Iterator[dict[str, Any]]:
        for record in records:
            yield record
            on_progress(1)

    # Closed here even when writing fails, so the read ends while the connection is open.
    with contextlib.closing(records):
        return formats.write_records(counted(), out, fmt)
