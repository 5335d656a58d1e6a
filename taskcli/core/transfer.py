"""Import and export between format files and the database.

Import is one transaction: every record is validated (all rejections are reported), new
tasks are inserted in bulk with their numbers drawn in one step per batch, tasks whose
UUID the user already has are updated, and a UUID owned by another user gets a new id.
Nothing is written unless every record is accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core import formats
from taskcli.core.dates import utc_now
from taskcli.core.db import atomic
from taskcli.core.enums import TaskStatus
from taskcli.core.errors import InvalidInputError
from taskcli.core.models import TaskCreate, validated
from taskcli.core.tasks import TaskFilter, iter_tasks, tasks, users

BATCH = 5000


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
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


def row_values(record: dict, now) -> dict:
    """Validated column values for one source record (raises InvalidInputError)."""
    checked = validated(
        TaskCreate,
        {
            "title": record["title"],
            "description": record["description"],
            "status": record["status"] or TaskStatus.pending,
            "priority": record["priority"] or "medium",
            "due": record["due"],
            "project": record["project"],
            "tags": record["tags"],
        },
    )
    created_at = record["created_at"] or now
    updated_at = record["updated_at"] or created_at
    completed = checked.status is TaskStatus.completed
    return {
        "id": uuid.UUID(record["id"]) if record["id"] else uuid.uuid4(),
        "title": checked.title,
        "description": checked.description,
        "status": checked.status.value,
        "priority": checked.priority.value,
        "due": checked.due,
        "project": checked.project,
        "tags": checked.tags,
        "created_at": created_at,
        "updated_at": updated_at,
        "completed_at": (record["completed_at"] or updated_at) if completed else None,
    }


def _batches(parsed: Iterable, report: ImportReport, now) -> Iterator[list[dict]]:
    batch: list[dict] = []
    seen: set[uuid.UUID] = set()
    for item in parsed:
        if item.skipped:
            report.skipped += 1
            continue
        try:
            if item.error:
                raise InvalidInputError(item.error)
            values = row_values(item.record, now)
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


def _write_batch(conn: Connection, user_id: uuid.UUID, batch: list[dict]) -> tuple[int, int]:
    ids = [values["id"] for values in batch]
    query = sa.select(tasks.c.id, tasks.c.user_id).where(tasks.c.id.in_(ids))
    owners = dict(conn.execute(query).tuples().all())
    mine = [v for v in batch if owners.get(v["id"]) == user_id]
    new = [v for v in batch if owners.get(v["id"]) != user_id]
    for values in new:
        if values["id"] in owners:  # another user's UUID: never touched, a new id here
            values["id"] = uuid.uuid4()
    if new:
        first = conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(next_task_number=users.c.next_task_number + len(new))
            .returning(users.c.next_task_number - len(new))
        ).scalar_one()
        rows = [{**v, "user_id": user_id, "number": first + i} for i, v in enumerate(new)]
        conn.execute(tasks.insert(), rows)
    if mine:
        columns = [name for name in mine[0] if name != "id"]
        statement = (
            tasks.update()
            .where(tasks.c.id == sa.bindparam("b_id"), tasks.c.user_id == user_id)
            .values({name: sa.bindparam(f"b_{name}") for name in columns})
        )
        conn.execute(statement, [{f"b_{k}": v for k, v in values.items()} for values in mine])
    return len(new), len(mine)


def import_records(
    conn: Connection,
    *,
    user_id: uuid.UUID,
    parsed: Iterable[formats.ParsedRecord],
    dry_run: bool = False,
    on_progress: Callable[[int], None] = lambda _count: None,
) -> ImportReport:
    """Import all records or none. Raises ImportRejected (exit 5) when any is rejected."""
    report = ImportReport()
    now = utc_now()
    with atomic(conn):
        for batch in _batches(parsed, report, now):
            if not report.rejected:
                created, updated = _write_batch(conn, user_id, batch)
                report.created += created
                report.updated += updated
            on_progress(len(batch))
        if report.rejected:
            report.created = report.updated = 0  # rolled back
            raise ImportRejected(report)
        if dry_run:
            raise _DryRun(report)
    return report


class _DryRun(Exception):
    def __init__(self, report: ImportReport) -> None:
        self.report = report


def import_file(
    conn: Connection, *, user_id, stream: TextIO, fmt: str, dry_run: bool = False,
    on_progress: Callable[[int], None] = lambda _count: None,
) -> ImportReport:  # fmt: skip
    try:
        return import_records(
            conn, user_id=user_id, parsed=formats.read_records(stream, fmt),
            dry_run=dry_run, on_progress=on_progress,
        )  # fmt: skip
    except _DryRun as rolled_back:
        return rolled_back.report
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"the input is not UTF-8 text (byte {error.start})") from None


def export_tasks(
    conn: Connection, *, user_id: uuid.UUID, flt: TaskFilter, out: TextIO, fmt: str,
    on_progress: Callable[[int], None] = lambda _count: None,
) -> int:  # fmt: skip
    """Stream matching tasks to ``out`` in ``fmt``; memory stays flat."""

    def counted():
        for record in iter_tasks(conn, user_id=user_id, flt=flt):
            yield record
            on_progress(1)

    return formats.write_records(counted(), out, fmt)
