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
    AnnotationInput,
    Counter,
    TagList,
    Task,
    TaskCreate,
    TaskUpdate,
    annotations_text,
    column_values,
    validated,
)
from taskcli.core.refs import Ref, parse_refs
from taskcli.core.sql import is_postgres, planning
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


# ---- create -----------------------------------------------------------------------------


def task_input(fields: Mapping[str, Any]) -> TaskCreate:
    """A new task's fields as the user gave them, checked (InvalidInputError names the
    field and the rule). Commands check before they connect, so bad input costs no login."""
    return validated(TaskCreate, dict(fields))


def create_task(
    conn: Connection, *, user_id: uuid.UUID, data: TaskCreate, depends: Sequence[str] = ()
) -> dict[str, Any]:
    """Insert a task with the user's next number (never reused, safe under concurrency);
    ``depends`` are references to the tasks it waits for."""
    now = utc_now()
    task_id = uuid.uuid4()
    values = {
        "id": task_id,
        "user_id": user_id,
        **column_values(data),
        "created_at": now,
        "updated_at": now,
        "completed_at": now if data.status is TaskStatus.completed else None,
        **series_start(task_id, data.due if data.recur else None),
    }
    if depends:
        found = dependency_ids(conn, user_id=user_id, refs=depends)
        values["depends"] = list(dict.fromkeys([*values["depends"], *found]))
    return insert_task(conn, user_id=user_id, values=values)


def insert_task(conn: Connection, *, user_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
    """INSERT ``values`` (every column but the number) with the user's next number."""
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


def series_start(task_id: uuid.UUID, due: datetime | None) -> dict[str, Any]:
    """The hidden series columns of a task that starts a series due at ``due`` (None: a
    task that does not recur)."""
    if due is None:
        return {"recur_series": None, "recur_index": None, "recur_anchor": None}
    return {"recur_series": task_id, "recur_index": 0, "recur_anchor": due}


def dependency_ids(conn: Connection, *, user_id: uuid.UUID, refs: Sequence[str]) -> list[uuid.UUID]:
    """The ids of the tasks ``refs`` name (NotFound / ambiguous as for any reference)."""
    if not refs:
        return []
    found = resolve(conn, user_id=user_id, refs=parse_refs(list(refs)))
    return [record["id"] for record in found]


def draw_numbers(user_id: uuid.UUID, count: int) -> sa.Update:
    """UPDATE … RETURNING the first of ``count`` fresh numbers of the user (as ``number``)."""
    return (
        counters.update()
        .where(counters.c.user_id == user_id)
        .values(next_task_number=counters.c.next_task_number + count)
        .returning((counters.c.next_task_number - count).label("number"))
    )


COPY_AT = 100  # new rows from which an insert on PostgreSQL goes through COPY


def insert_tasks(conn: Connection, rows: list[dict[str, Any]], *, copy_at: int = COPY_AT) -> None:
    """Insert new task rows (the values of ``tasks.insert()``, the same keys in each) in the
    caller's transaction. On PostgreSQL ``copy_at`` rows or more go through COPY: their
    data in one round trip, without the per-row work of an INSERT's parameters, and never
    in a statement's text; fewer are one INSERT (one round trip against COPY's three)."""
    if not rows:
        return
    if is_postgres(conn) and len(rows) >= copy_at:
        from taskcli.core.sql import pgcopy

        pgcopy.copy_rows_in(conn, tasks.name, [as_stored(row) for row in rows])
    else:
        conn.execute(tasks.insert(), rows)


def as_stored(row: dict[str, Any]) -> dict[str, Any]:
    """Row values with the list columns as the database keeps them (for COPY and JSON):
    annotations as their JSON text, no dependencies as NULL."""
    return {
        **row,
        "annotations": annotations_text(row["annotations"]),
        "depends": row["depends"] or None,
    }


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


def resolve(
    conn: Connection, *, user_id: uuid.UUID, refs: Sequence[Ref], lock: bool = False
) -> list[dict[str, Any]]:
    """The tasks the references name, in order; NotFound / ambiguous prefix → errors.
    ``lock`` (in a transaction that writes what it read): their rows are locked until it
    ends, so a concurrent change is waited for, not overwritten (PostgreSQL; SQLite's
    write transaction holds the whole file already)."""
    query = sa.select(*COLUMNS).where(
        tasks.c.user_id == user_id, _ref_condition(tasks, user_id, refs)
    )
    rows = conn.execute(query.with_for_update() if lock else query)
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


def status_values(status: TaskStatus, now: datetime) -> dict[str, Any]:
    """SET values of start (in progress), done (completed) and reopen (pending)."""
    completed = sa.func.coalesce(tasks.c.completed_at, now)
    return {
        "status": status.value,
        "completed_at": completed if status is TaskStatus.completed else None,
        "updated_at": now,
    }


def set_status(
    conn: Connection, *, user_id: uuid.UUID, refs: list[str], status: TaskStatus
) -> list[dict[str, Any]]:
    """start / done / reopen: all named tasks or none. Completing a recurring task also
    creates its next occurrence (see :func:`complete`)."""
    if status is TaskStatus.completed:
        return complete(conn, user_id=user_id, refs=refs).completed
    values = status_values(status, utc_now())
    return _change_all(conn, user_id=user_id, refs=parse_refs(refs), values=values)


STARTED = tasks.c.status == TaskStatus.in_progress.value


def stopped_values(now: datetime) -> dict[str, Any]:
    """SET values of ``stop`` for a task in progress: back to pending."""
    return {"status": TaskStatus.pending.value, "updated_at": now}


def stop_tasks(conn: Connection, *, user_id: uuid.UUID, refs: list[str]) -> list[dict[str, Any]]:
    """In progress back to pending (all named tasks or none; others keep their status)."""
    values = {name: sa.case((STARTED, value), else_=tasks.c[name])
              for name, value in stopped_values(utc_now()).items()}  # fmt: skip
    return _change_all(conn, user_id=user_id, refs=parse_refs(refs), values=values)


def _change_all(
    conn: Connection, *, user_id: uuid.UUID, refs: Sequence[Ref], values: dict[str, Any]
) -> list[dict[str, Any]]:
    def statement(where: sa.ColumnElement[bool]) -> sa.Executable:
        return tasks.update().where(where).values(**values).returning(*COLUMNS)

    rows = _all_or_nothing(conn, user_id=user_id, refs=refs, statement_for=statement)
    return sorted((to_record(row) for row in rows), key=lambda record: record["number"])


@dataclass
class Completion:
    """What ``done`` did: the completed tasks, and the next occurrence of each recurring
    one (created now or by an earlier completion of the same occurrence), by the number of
    the task completed."""

    completed: list[dict[str, Any]]
    next_occurrences: dict[int, dict[str, Any]] = field(default_factory=dict)


SERIES = [tasks.c.recur_series, tasks.c.recur_index, tasks.c.recur_anchor]
# True for a task that recurs, also in a RETURNING clause (where SQLite 3.40 takes
# ``recur IS NOT NULL`` for true in every row, and ``IS NULL`` for false)
RECURS = sa.func.coalesce(tasks.c.recur, "") != ""
BRIEF = ("number", "title")  # what a brief record holds at least (what the text shows)
IDS_AT_ONCE = 5000  # ids a query names at most (SQLite takes 32,766 parameters)


def rows_by_id(
    conn: Connection, user_id: uuid.UUID, ids: Sequence[uuid.UUID], columns: Sequence[Any]
) -> list[sa.Row[Any]]:
    """``columns`` of the user's tasks ``ids`` names (one query for up to IDS_AT_ONCE)."""
    rows: list[sa.Row[Any]] = []
    for start in range(0, len(ids), IDS_AT_ONCE):
        named = tasks.c.id.in_(ids[start : start + IDS_AT_ONCE])
        rows += conn.execute(sa.select(*columns).where(tasks.c.user_id == user_id, named))
    return rows


def complete(conn: Connection, *, user_id: uuid.UUID, refs: list[str]) -> Completion:
    """Complete the named tasks (all or none); for each recurring one, its next occurrence
    exists afterwards exactly once: its id comes from the series and the index, so a second
    completion (another machine, a retry) finds it instead of making another."""
    parsed = parse_refs(refs)
    values = status_values(TaskStatus.completed, utc_now())
    if is_postgres(conn):
        # One statement when no named task recurs (the usual case); else the transaction.
        recurring = tasks.alias("recurring")
        none_recur = ~sa.exists().where(
            recurring.c.user_id == user_id,
            _ref_condition(recurring, user_id, parsed),
            recurring.c.recur.is_not(None),
        )
        where = sa.and_(
            tasks.c.user_id == user_id, _ref_condition(tasks, user_id, parsed), none_recur
        )
        update = tasks.update().where(sa.and_(where, _guard(user_id, parsed)))
        rows = conn.execute(update.values(**values).returning(*COLUMNS)).all()
        if rows:
            return Completion(sorted((to_record(r) for r in rows), key=lambda r: r["number"]))
    with atomic(conn):

        def statement(where: sa.ColumnElement[bool]) -> sa.Executable:
            return tasks.update().where(where).values(**values).returning(*COLUMNS, *SERIES)

        rows = _all_or_nothing(conn, user_id=user_id, refs=parsed, statement_for=statement)
        return completed_rows(conn, user_id, rows)


def completed_rows(
    conn: Connection,
    user_id: uuid.UUID,
    rows: Sequence[sa.Row[Any]],
    *,
    others: Sequence[dict[str, Any]] = (),
) -> Completion:
    """What completing ``rows`` (COLUMNS and SERIES, just completed) did: the next
    occurrence of each recurring one is made here, in the caller's transaction, all of
    them with three statements however many there are. ``others``: the records of more
    tasks just completed that do not recur."""
    done = Completion(list(others))
    plans = []
    for row in rows:
        record = to_record(row[: len(COLUMNS)])
        done.completed.append(record)
        series = dict(zip([c.name for c in SERIES], row[len(COLUMNS) :], strict=True))
        following = _next_values(user_id, record, series)
        if following is not None:
            plans.append((record, following))
    done.completed.sort(key=lambda record: record["number"])
    made = _next_occurrences(conn, user_id, plans)
    for record, following in plans:
        done.next_occurrences[record["number"]] = made[following["id"]]
    return done


def _next_values(
    user_id: uuid.UUID, record: dict[str, Any], series: dict[str, Any]
) -> dict[str, Any] | None:
    """The columns (but the number) of the occurrence after ``record``, or None when it
    does not recur or the next one would be past ``until``."""
    from taskcli.core import recurrence

    if not (record["recur"] and record["due"] is not None):
        return None
    anchor = as_utc(series["recur_anchor"] or record["due"])
    series_id = series["recur_series"] or record["id"]
    index = (series["recur_index"] or 0) + 1
    period = recurrence.parse_period(record["recur"])
    due = recurrence.due_of(period, anchor=anchor, index=index, previous=record["due"])
    if record["until"] is not None and due > record["until"]:
        return None
    now = utc_now()
    shift = due - record["due"]
    copied = {name: record[name] for name in (
        "title", "description", "priority", "project", "tags", "annotations", "depends",
        "recur", "until")}  # fmt: skip
    return {
        "id": recurrence.next_occurrence_id(record["id"]),
        "user_id": user_id,
        **copied,
        "status": TaskStatus.pending.value,
        "due": due,
        "wait": None if record["wait"] is None else record["wait"] + shift,
        "scheduled": None if record["scheduled"] is None else record["scheduled"] + shift,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
        "recur_series": series_id,
        "recur_index": index,
        "recur_anchor": anchor,
    }


def _next_occurrences(
    conn: Connection, user_id: uuid.UUID, plans: list[tuple[dict[str, Any], dict[str, Any]]]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The planned occurrences by id: those that exist already (an earlier completion of
    the same occurrence made them) as they are, the others inserted with fresh numbers
    (in the order of the tasks completed)."""
    if not plans:
        return {}
    wanted = [following["id"] for _record, following in plans]
    made = {row.id: to_record(row) for row in rows_by_id(conn, user_id, wanted, COLUMNS)}
    missing = [following for _record, following in sorted(plans, key=lambda p: p[0]["number"])
               if following["id"] not in made]  # fmt: skip
    if missing:
        first = conn.execute(draw_numbers(user_id, len(missing))).scalar_one()
        rows = [{**following, "number": first + i} for i, following in enumerate(missing)]
        if is_postgres(conn) and len(rows) >= COPY_AT:  # read back: COPY returns nothing
            insert_tasks(conn, rows)
            inserted = rows_by_id(conn, user_id, [row["id"] for row in rows], COLUMNS)
        else:
            statement = tasks.insert().returning(*COLUMNS, sort_by_parameter_order=True)
            inserted = list(conn.execute(statement, rows))
        made.update((row.id, to_record(row)) for row in inserted)
    return made


def delete_tasks(conn: Connection, *, user_id: uuid.UUID, refs: list[str]) -> list[dict[str, Any]]:
    parsed = parse_refs(refs)

    def statement(where: sa.ColumnElement[bool]) -> sa.Executable:
        return tasks.delete().where(where).returning(*COLUMNS)

    rows = _all_or_nothing(conn, user_id=user_id, refs=parsed, statement_for=statement)
    return sorted((to_record(row) for row in rows), key=lambda record: record["number"])


@dataclass
class TaskChanges:
    """What ``update`` was asked to change; ``fields`` holds only the given fields (None
    clears a field that may be empty); dependencies are references to tasks.
    ``if_unchanged``: the task as it was read when the change was prepared (``edit``); the
    change is refused when the stored task differs from it by then."""

    fields: dict[str, Any] = field(default_factory=dict)
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    add_depends: list[str] = field(default_factory=list)
    remove_depends: list[str] = field(default_factory=list)
    if_unchanged: dict[str, Any] | None = None

    def is_empty(self) -> bool:
        return not (
            self.fields or self.add_tags or self.remove_tags
            or self.add_depends or self.remove_depends
        )  # fmt: skip


def update_task(
    conn: Connection, *, user_id: uuid.UUID, ref: str, changes: TaskChanges
) -> dict[str, Any]:
    """Change the given fields; ``--status completed`` of a recurring task also makes its
    next occurrence, as ``done`` does, in the same transaction."""
    if changes.is_empty():
        raise InvalidInputError("nothing to update: give at least one field to change")
    checked = validated(TaskUpdate, changes.fields)
    add = validated(TagList, {"tags": changes.add_tags}).tags
    remove = [tag.strip() for tag in changes.remove_tags]
    now = utc_now()
    given = column_values(checked)
    values: dict[str, Any] = {name: given[name] for name in changes.fields}
    if "status" in values:
        values.update(status_values(TaskStatus(values["status"]), now))
    values["updated_at"] = now
    parsed = parse_refs([ref])
    if _needs_stored_task(values, changes):
        with atomic(conn):
            if changes.add_depends:
                planning.lock_dependencies(conn, user_id)
            current = resolve(conn, user_id=user_id, refs=parsed, lock=True)[0]
            if changes.if_unchanged is not None and current != changes.if_unchanged:
                raise ConflictError(
                    f"task {current['number']} was changed elsewhere while you edited it"
                )
            values.update(_checked_plan(conn, user_id, current, values, changes))
            if add or remove:
                merged = [t for t in dict.fromkeys([*current["tags"], *add]) if t not in remove]
                values["tags"] = merged
            by_id = [Ref(text=str(current["id"]), low=current["id"], high=current["id"])]
            record = _update_one(conn, user_id=user_id, refs=by_id, values=values)
            _follow_completed(conn, user_id, record)
            return record
    if "due" in values:  # a recurring task's series starts again at its new due time
        values.update(_series_restart(values["due"]))
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


def update_tasks(
    conn: Connection, *, user_id: uuid.UUID, refs: Sequence[str], changes: TaskChanges
) -> list[dict[str, Any]]:
    """:func:`update_task` of each task ``refs`` name, all or none (one transaction)."""
    if len(refs) == 1:
        return [update_task(conn, user_id=user_id, ref=refs[0], changes=changes)]
    with atomic(conn):
        named = resolve(conn, user_id=user_id, refs=parse_refs(list(refs)), lock=True)
        return [update_task(conn, user_id=user_id, ref=str(record["id"]), changes=changes)
                for record in named]  # fmt: skip


def _needs_stored_task(values: dict[str, Any], changes: TaskChanges) -> bool:
    """Whether the change depends on what is stored: dependencies (cycles), recurrence
    (a recurring task needs a due date), completion (a recurring task's next one), or the
    task as it was read (``if_unchanged``)."""
    recur_set = values.get("recur") is not None
    due_cleared = "due" in values and values["due"] is None
    completing = values.get("status") == TaskStatus.completed.value
    return bool(
        changes.add_depends or changes.remove_depends or recur_set or due_cleared or completing
        or changes.if_unchanged is not None
    )  # fmt: skip


def _follow_completed(conn: Connection, user_id: uuid.UUID, record: dict[str, Any]) -> None:
    """After `update --status completed`: a recurring task's next occurrence, as `done`
    makes it (inside the update's transaction)."""
    if record["status"] != TaskStatus.completed.value or not (record["recur"] and record["due"]):
        return
    where = sa.and_(tasks.c.user_id == user_id, tasks.c.id == record["id"])
    series = conn.execute(sa.select(*SERIES).where(where)).one()._asdict()
    following = _next_values(user_id, record, series)
    if following is not None:
        _next_occurrences(conn, user_id, [(record, following)])


def _series_restart(due: datetime | None) -> dict[str, Any]:
    """SET values that restart a recurring task's series at ``due`` (others keep NULL)."""
    recurs = tasks.c.recur.is_not(None)
    return {
        "recur_series": sa.case((recurs, tasks.c.id), else_=None),
        "recur_index": sa.case((recurs, 0), else_=None),
        "recur_anchor": sa.case((recurs, sa.literal(due, tasks.c.due.type)), else_=None),
    }


def _removed_dependencies(
    conn: Connection, user_id: uuid.UUID, current: dict[str, Any], refs: list[str]
) -> set[uuid.UUID]:
    """The ids ``--remove-depends`` names: tasks, or the UUID (or a unique prefix of it)
    of a dependency whose task no longer exists (deleted: it stays in depends)."""
    removed: set[uuid.UUID] = set()
    for ref in parse_refs(refs) if refs else []:
        low, high = ref.low, ref.high
        gone = [dep for dep in current["depends"] if low and high and low <= dep <= high]
        try:
            removed.update(dependency_ids(conn, user_id=user_id, refs=[ref.text]))
        except NotFoundError:
            if len(gone) != 1:
                raise
            removed.add(gone[0])
    return removed


def _checked_plan(
    conn: Connection,
    user_id: uuid.UUID,
    current: dict[str, Any],
    values: dict[str, Any],
    changes: TaskChanges,
) -> dict[str, Any]:
    """The dependency and recurrence columns of an update, checked against the stored task:
    no cycle, no self-dependency, and a recurring task keeps a due date."""
    planned: dict[str, Any] = {}
    if changes.add_depends or changes.remove_depends:
        added = dependency_ids(conn, user_id=user_id, refs=changes.add_depends)
        removed = _removed_dependencies(conn, user_id, current, changes.remove_depends)
        if current["id"] in added:
            raise InvalidInputError(f"task {current['number']} cannot depend on itself")
        if added and planning.depends_on_any(conn, tasks, user_id, added, current["id"]):
            raise InvalidInputError(
                f"task {current['number']} cannot depend on that: it would close a cycle"
            )
        kept = [dep for dep in current["depends"] if dep not in removed]
        planned["depends"] = list(dict.fromkeys([*kept, *added]))
    recur = values.get("recur", current["recur"])
    due = values.get("due", current["due"])
    if recur is not None and due is None:
        raise InvalidInputError("recur: a recurring task needs a due date (--due)")
    if recur is not None and ("recur" in values or "due" in values):
        planned.update(series_start(current["id"], due))
    if recur is None:
        planned.update(series_start(current["id"], None))
    return planned


# ---- annotations ------------------------------------------------------------------------


def annotate(conn: Connection, *, user_id: uuid.UUID, ref: str, text: str) -> dict[str, Any]:
    """Add an annotation (entry time now) after the task's others, in one statement."""
    checked = validated(AnnotationInput, {"text": text}).text
    now = utc_now()
    item = annotations_text([{"entry": now, "text": checked}])
    assert item is not None
    stored = sa.type_coerce(tasks.c.annotations, sa.Text)
    body = sa.literal(item[1:-1], sa.Text)  # the object, without the list's brackets
    appended = sa.case(
        (stored.is_(None), sa.literal("[", sa.Text) + body + "]"),
        else_=sa.func.substr(stored, 1, sa.func.length(stored) - 1) + ", " + body + "]",
    )
    values = {"annotations": sa.type_coerce(appended, tasks.c.annotations.type), "updated_at": now}
    return _update_one(conn, user_id=user_id, refs=parse_refs([ref]), values=values)


def denotate(conn: Connection, *, user_id: uuid.UUID, ref: str, index: int) -> dict[str, Any]:
    """Remove the ``index``-th annotation (1-based, oldest first)."""
    with atomic(conn):
        current = resolve(conn, user_id=user_id, refs=parse_refs([ref]), lock=True)[0]
        notes = current["annotations"]
        if not 1 <= index <= len(notes):
            have = f"it has {len(notes)}" if notes else "it has none"
            raise InvalidInputError(f"task {current['number']} has no annotation {index}: {have}")
        kept = notes[: index - 1] + notes[index:]
        by_id = [Ref(text=str(current["id"]), low=current["id"], high=current["id"])]
        values = {"annotations": kept, "updated_at": utc_now()}
        return _update_one(conn, user_id=user_id, refs=by_id, values=values)


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
