"""Changing tasks, every one scoped to one user. Records are plain dicts with the fields
of :class:`~taskcli.core.vocabulary.TaskRecord` (the SPEC §10 keys).

Listing, filters and streaming reads are in :mod:`taskcli.core.listing`.

Each operation is one statement where the database allows it (PostgreSQL: the number is
drawn and the task inserted in one statement; several references act all-or-nothing
through a count guard in the same UPDATE/DELETE), so commands stay at the round-trip floor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core.dates import as_utc, utc_now
from taskcli.core.db import atomic
from taskcli.core.enums import TaskStatus
from taskcli.core.errors import ConflictError, InvalidInputError, NotFoundError
from taskcli.core.models import (
    Counter,
    TagList,
    Task,
    TaskCreate,
    TaskUpdate,
    column_values,
    validated,
)
from taskcli.core.refs import Ref, parse_refs
from taskcli.core.vocabulary import TASK_FIELDS, TIMESTAMP_FIELDS

tasks = Task.__table__
counters = Counter.__table__
COLUMNS = [tasks.c[name] for name in TASK_FIELDS]
# Builds the UPDATE or DELETE … RETURNING of the tasks that a WHERE clause selects.
StatementFor = Callable[[sa.ColumnElement[bool]], sa.Executable]


def to_record(row: Iterable[Any]) -> dict[str, Any]:
    record = dict(zip(TASK_FIELDS, row, strict=True))
    for key in TIMESTAMP_FIELDS:
        if record[key] is not None:
            record[key] = as_utc(record[key])
    record["tags"] = list(record["tags"] or [])
    return record


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


# ---- create -----------------------------------------------------------------------------


def task_input(fields: Mapping[str, Any]) -> TaskCreate:
    """A new task's fields as the user gave them, checked (InvalidInputError names the
    field and the rule). Commands check before they connect, so bad input costs no login."""
    return validated(TaskCreate, dict(fields))


def create_task(conn: Connection, *, user_id: uuid.UUID, data: TaskCreate) -> dict[str, Any]:
    """Insert a task with the user's next number (never reused, safe under concurrency)."""
    now = utc_now()
    values = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        **column_values(data),
        "created_at": now,
        "updated_at": now,
        "completed_at": now if data.status is TaskStatus.completed else None,
    }
    draw = draw_numbers(user_id, 1)
    if is_postgres(conn):
        drawn = draw.cte("drawn")
        selected = [sa.literal(v, type_=tasks.c[k].type).label(k) for k, v in values.items()]
        insert = tasks.insert().from_select(
            [*values, "number"], sa.select(*selected, drawn.c.number)
        )
        return to_record(conn.execute(insert.returning(*COLUMNS)).one())
    with atomic(conn):
        number = conn.execute(draw).scalar_one()
        row = conn.execute(tasks.insert().values(number=number, **values).returning(*COLUMNS))
        return to_record(row.one())


def draw_numbers(user_id: uuid.UUID, count: int) -> sa.Update:
    """UPDATE … RETURNING the first of ``count`` fresh numbers of the user (as ``number``)."""
    return (
        counters.update()
        .where(counters.c.user_id == user_id)
        .values(next_task_number=counters.c.next_task_number + count)
        .returning((counters.c.next_task_number - count).label("number"))
    )


# ---- references -------------------------------------------------------------------------


def _ref_condition(
    table: sa.FromClause, user_id: uuid.UUID, refs: Sequence[Ref]
) -> sa.ColumnElement[bool]:
    """Rows of ``table`` that the references name (``table`` is already scoped to the user)."""
    numbers = _plain_numbers(refs)
    conditions: list[sa.ColumnElement[bool]] = [table.c.number.in_(numbers)] if numbers else []
    for ref in refs:
        if ref.number is None:
            conditions.append(_id_condition(table, ref))
        elif not ref.is_number_only:  # the number when it exists, else the prefix
            taken = sa.exists().where(_numbered(user_id, ref.number))
            prefix = sa.and_(_id_condition(table, ref), ~taken)
            conditions.append(sa.or_(table.c.number == ref.number, prefix))
    return sa.or_(*conditions)


def _plain_numbers(refs: Sequence[Ref]) -> list[int]:
    """The numbers of the references that can only be numbers, sorted, each once."""
    return sorted({ref.number for ref in refs if ref.is_number_only and ref.number is not None})


def _numbered(user_id: uuid.UUID, number: int) -> sa.ColumnElement[bool]:
    numbered = tasks.alias("numbered")
    return sa.and_(numbered.c.user_id == user_id, numbered.c.number == number)


def _id_condition(table: sa.FromClause, ref: Ref) -> sa.ColumnElement[bool]:
    return table.c.id == ref.low if ref.is_full_uuid else table.c.id.between(ref.low, ref.high)


def _hits(ref: Ref, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbered = [record for record in found if record["number"] == ref.number]
    if ref.is_number_only or numbered:
        return numbered
    return [record for record in found if ref.low <= record["id"] <= ref.high]


def resolve(conn: Connection, *, user_id: uuid.UUID, refs: Sequence[Ref]) -> list[dict[str, Any]]:
    """The tasks the references name, in order; NotFound / ambiguous prefix → errors."""
    rows = conn.execute(
        sa.select(*COLUMNS).where(tasks.c.user_id == user_id, _ref_condition(tasks, user_id, refs))
    )
    found = [to_record(row) for row in rows]
    resolved: dict[uuid.UUID, dict[str, Any]] = {}
    for ref in refs:
        hits = _hits(ref, found)
        if not hits:
            raise NotFoundError(f"no task {ref.text}")
        if len(hits) > 1:
            candidates = ", ".join(f"{r['number']} ({r['id']})" for r in hits[:10])
            raise ConflictError(f"task reference {ref.text} is ambiguous: {candidates}")
        resolved.setdefault(hits[0]["id"], hits[0])
    return list(resolved.values())


def get_task(conn: Connection, *, user_id: uuid.UUID, ref: str) -> dict[str, Any]:
    return resolve(conn, user_id=user_id, refs=parse_refs([ref]))[0]


def _all_or_nothing(
    conn: Connection, *, user_id: uuid.UUID, refs: Sequence[Ref], statement_for: StatementFor
) -> Sequence[sa.Row[Any]]:
    """Run ``statement_for(where)`` guarded so it touches the tasks of all refs or none.

    The guard travels in the same statement; when it touches nothing, resolving the
    references explains why (not found, ambiguous), or, when they resolve after all (a
    concurrent change), the statement runs again by id.
    """
    where = sa.and_(tasks.c.user_id == user_id, _ref_condition(tasks, user_id, refs))
    rows = conn.execute(statement_for(sa.and_(where, _guard(user_id, refs)))).all()
    if rows:
        return rows
    resolved = resolve(conn, user_id=user_id, refs=refs)
    by_id = [Ref(text=str(r["id"]), low=r["id"], high=r["id"]) for r in resolved]
    where = sa.and_(tasks.c.user_id == user_id, _ref_condition(tasks, user_id, by_id))
    rows = conn.execute(statement_for(sa.and_(where, _guard(user_id, by_id)))).all()
    if not rows:  # deleted by another client in between
        raise NotFoundError(f"no task {refs[0].text}")
    return rows


def _guard(user_id: uuid.UUID, refs: Sequence[Ref]) -> sa.ColumnElement[bool]:
    """True when every reference names exactly one of the user's tasks.

    A total count is not enough: an ambiguous prefix can make up for a missing number.
    """
    counted = tasks.alias("counted")

    def count(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        query = sa.select(sa.func.count()).select_from(counted)
        return query.where(counted.c.user_id == user_id, condition).scalar_subquery()

    numbers = _plain_numbers(refs)
    checks = [count(counted.c.number.in_(numbers)) == len(numbers)] if numbers else []
    for ref in refs:
        unique_prefix = count(_id_condition(counted, ref)) == 1
        if ref.number is None:
            checks.append(unique_prefix)
        elif not ref.is_number_only:
            checks.append(sa.or_(count(counted.c.number == ref.number) == 1, unique_prefix))
    return sa.and_(*checks)


# ---- change -----------------------------------------------------------------------------


def _status_values(status: TaskStatus, now: datetime) -> dict[str, Any]:
    completed = sa.func.coalesce(tasks.c.completed_at, now)
    return {
        "status": status.value,
        "completed_at": completed if status is TaskStatus.completed else None,
        "updated_at": now,
    }


def set_status(
    conn: Connection, *, user_id: uuid.UUID, refs: list[str], status: TaskStatus
) -> list[dict[str, Any]]:
    """start / done / reopen: all named tasks or none."""
    values = _status_values(status, utc_now())
    parsed = parse_refs(refs)

    def statement(where: sa.ColumnElement[bool]) -> sa.Executable:
        return tasks.update().where(where).values(**values).returning(*COLUMNS)

    rows = _all_or_nothing(conn, user_id=user_id, refs=parsed, statement_for=statement)
    return sorted((to_record(row) for row in rows), key=lambda record: record["number"])


def delete_tasks(conn: Connection, *, user_id: uuid.UUID, refs: list[str]) -> list[dict[str, Any]]:
    parsed = parse_refs(refs)

    def statement(where: sa.ColumnElement[bool]) -> sa.Executable:
        return tasks.delete().where(where).returning(*COLUMNS)

    rows = _all_or_nothing(conn, user_id=user_id, refs=parsed, statement_for=statement)
    return sorted((to_record(row) for row in rows), key=lambda record: record["number"])


@dataclass
class TaskChanges:
    """What ``update`` was asked to change; ``fields`` holds only the given fields."""

    fields: dict[str, Any] = field(default_factory=dict)
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.fields or self.add_tags or self.remove_tags)


def update_task(
    conn: Connection, *, user_id: uuid.UUID, ref: str, changes: TaskChanges
) -> dict[str, Any]:
    if changes.is_empty():
        raise InvalidInputError("nothing to update: give at least one field to change")
    checked = validated(TaskUpdate, changes.fields)
    add = validated(TagList, {"tags": changes.add_tags}).tags
    remove = [tag.strip() for tag in changes.remove_tags]
    now = utc_now()
    given = column_values(checked)
    values: dict[str, Any] = {name: given[name] for name in changes.fields}
    if "status" in values:
        values.update(_status_values(TaskStatus(values["status"]), now))
    values["updated_at"] = now
    parsed = parse_refs([ref])
    if not (add or remove):
        return _update_one(conn, user_id=user_id, refs=parsed, values=values)
    if is_postgres(conn):
        values["tags"] = _pg_tags_expression(add, remove)
        return _update_one(conn, user_id=user_id, refs=parsed, values=values)
    with atomic(conn):
        current = resolve(conn, user_id=user_id, refs=parsed)[0]
        merged = [t for t in dict.fromkeys([*current["tags"], *add]) if t not in remove]
        values["tags"] = merged
        return _update_one(conn, user_id=user_id, refs=parsed, values=values)


def _update_one(
    conn: Connection, *, user_id: uuid.UUID, refs: Sequence[Ref], values: dict[str, Any]
) -> dict[str, Any]:
    def statement(where: sa.ColumnElement[bool]) -> sa.Executable:
        return tasks.update().where(where).values(**values).returning(*COLUMNS)

    rows = _all_or_nothing(conn, user_id=user_id, refs=refs, statement_for=statement)
    return to_record(rows[0])


def _pg_tags_expression(add: list[str], remove: list[str]) -> sa.ColumnElement[Any]:
    """Existing tags plus ``add`` minus ``remove``, first-seen order, in one expression."""
    from sqlalchemy.dialects import postgresql

    array_type = postgresql.ARRAY(sa.String)
    sql = sa.text(
        "ARRAY(SELECT u.tag FROM unnest(tasks.tags || CAST(:add AS varchar[]))"
        " WITH ORDINALITY AS u(tag, pos) WHERE u.tag <> ALL(CAST(:remove AS varchar[]))"
        " GROUP BY u.tag ORDER BY min(u.pos))"
    ).bindparams(
        sa.bindparam("add", add, type_=array_type),
        sa.bindparam("remove", remove, type_=array_type),
    )
    return sa.type_coerce(sql, tasks.c.tags.type)
