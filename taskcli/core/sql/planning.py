"""The dialect-specific SQL of planning: dependencies, list lengths, day spans, tag rows.

PostgreSQL keeps ``depends`` and ``tags`` as native arrays and ``annotations`` as JSON
text; SQLite keeps all three as JSON text (``depends`` as canonical UUID strings, while
SQLite's ``tasks.id`` is 32 hex digits). Each function gives the same meaning on both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core.enums import TaskStatus
from taskcli.core.sql import is_postgres


def dependency_rows(conn: Connection, owner: sa.FromClause) -> sa.TableValuedAlias:
    """A table of ``owner``'s dependencies, one row each, column ``dep`` comparable with
    ``tasks.id`` (for a FROM list beside ``owner``)."""
    if is_postgres(conn):
        return (
            sa.func.unnest(owner.c.depends).table_valued(sa.column("dep", sa.Uuid)).render_derived()
        )
    return sa.func.json_each(owner.c.depends).table_valued("value")


def dependency_id(conn: Connection, rows: sa.TableValuedAlias) -> sa.ColumnElement[Any]:
    """The task id of a row of :func:`dependency_rows`."""
    if is_postgres(conn):
        return rows.c.dep
    return sa.type_coerce(sa.func.replace(rows.c.value, "-", ""), sa.Text)


def open_dependency(conn: Connection, tasks: sa.Table) -> sa.ColumnElement[bool]:
    """True for a task with a dependency that is not completed (it is *blocked*): each
    dependency is looked up by the primary key (user_id, id), so a row costs its own
    dependencies, never a scan."""
    dep = tasks.alias("dependency")
    if is_postgres(conn):
        named = dep.c.id == sa.any_(tasks.c.depends)
    else:
        rows = dependency_rows(conn, tasks)
        named = _id(conn, dep).in_(sa.select(dependency_id(conn, rows)).select_from(rows))
    found = sa.exists().where(
        dep.c.user_id == tasks.c.user_id, named, dep.c.status != TaskStatus.completed.value
    )
    return sa.and_(tasks.c.depends.is_not(None), found)


def _id(conn: Connection, table: sa.FromClause) -> sa.ColumnElement[Any]:
    """``table.id`` as :func:`dependency_id` writes ids (SQLite: the stored hex text)."""
    return table.c.id if is_postgres(conn) else sa.type_coerce(table.c.id, sa.Text)


def blocking_others(conn: Connection, tasks: sa.Table, user_id: Any) -> sa.ColumnElement[bool]:
    """True for a task that an open task of the user depends on. The ids are collected
    once for the whole query (not once a row), so the cost stays flat."""
    return _id(conn, tasks).in_(needed_ids(conn, tasks, user_id))


def needed_ids(conn: Connection, tasks: sa.Table, user_id: Any) -> sa.Select[Any]:
    """The ids (as :func:`dependency_id` writes them) of the tasks that an open task of the
    user depends on: read through the index of the tasks with dependencies."""
    waiting = tasks.alias("waiting_on")
    rows = dependency_rows(conn, waiting)
    return (
        sa.select(dependency_id(conn, rows))
        .select_from(waiting)
        .join(rows, sa.true())
        .where(
            waiting.c.user_id == user_id,
            waiting.c.depends.is_not(None),
            waiting.c.status != TaskStatus.completed.value,
        )
    )


def days_since(
    conn: Connection, column: sa.ColumnElement[Any], now: datetime
) -> sa.ColumnElement[float]:
    """Days from ``column`` to ``now`` (fractional; negative when ``column`` is later)."""
    if is_postgres(conn):
        # date_part is double precision; EXTRACT is numeric (PostgreSQL 14+), several
        # times slower a row
        span = sa.func.date_part("epoch", sa.literal(now, sa.DateTime(timezone=True)) - column)
        return sa.type_coerce(span / number(conn, 86400.0), sa.Float)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    return sa.type_coerce(sa.func.julianday(stamp) - sa.func.julianday(column), sa.Float)


def tag_count(conn: Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """How many tags a task has."""
    if is_postgres(conn):
        return sa.func.coalesce(sa.func.cardinality(column), 0)
    return sa.func.coalesce(sa.func.json_array_length(column), 0)


def annotation_count(conn: Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """How many annotations a task has (NULL, the stored form of none, counts 0)."""
    text = sa.type_coerce(column, sa.Text)
    if is_postgres(conn):
        return sa.func.coalesce(sa.func.json_array_length(sa.cast(text, sa.JSON)), 0)
    return sa.func.coalesce(sa.func.json_array_length(text), 0)


def tag_rows(
    conn: Connection, tasks: sa.TableClause
) -> tuple[sa.TableValuedAlias, sa.ColumnElement[str]]:
    """A table of each task's tags, one row each, and its tag column."""
    if is_postgres(conn):
        rows = sa.func.unnest(tasks.c.tags).table_valued(sa.column("tag", sa.Text)).render_derived()
        return rows, rows.c.tag
    rows = sa.func.json_each(tasks.c.tags).table_valued("value")
    return rows, sa.type_coerce(rows.c.value, sa.Text)


def depends_on_any(
    conn: Connection, tasks: sa.Table, user_id: Any, starts: list[Any], target: Any
) -> bool:
    """Whether ``target`` is one of ``starts`` or a dependency of theirs at any depth
    (one recursive query: a new edge to ``starts`` would close a cycle)."""
    postgres = is_postgres(conn)

    def key(value: Any) -> Any:
        return value if postgres else value.hex

    id_type = sa.Uuid if postgres else sa.Text
    first = tasks.alias("start")
    seed = sa.select(_id(conn, first).label("id")).where(
        first.c.user_id == user_id, first.c.id.in_(starts)
    )
    reach = seed.cte("reach", recursive=True)
    node = tasks.alias("node")
    rows = dependency_rows(conn, node)
    step = (
        sa.select(dependency_id(conn, rows).label("id"))
        .select_from(node)
        .join(reach, _id(conn, node) == reach.c.id)
        .join(rows, sa.true())
        .where(node.c.user_id == user_id)
    )
    reach = reach.union(step)
    found = sa.select(sa.exists().where(reach.c.id == sa.literal(key(target), id_type)))
    return bool(conn.execute(found).scalar())


def smaller(
    conn: Connection, value: sa.ColumnElement[float], limit: float
) -> sa.ColumnElement[float]:
    """The smaller of ``value`` and ``limit``, row by row."""
    function = sa.func.least if is_postgres(conn) else sa.func.min
    return function(value, number(conn, limit), type_=sa.Float)


# The advisory lock class of dependency changes (the second key comes from the user id).
_DEPENDENCY_LOCK = 0x7A5C_D3F5


def lock_dependencies(conn: Connection, user_id: Any) -> None:
    """Until the transaction ends, be the only one changing the user's dependencies, so two
    changes that are each acyclic cannot close a cycle together (PostgreSQL; SQLite's BEGIN
    IMMEDIATE already admits one writer at a time). An advisory lock, not a row lock, so it
    cannot deadlock with `done`, which locks the task and then the user's counter."""
    if is_postgres(conn):
        key = int.from_bytes(user_id.bytes[:4], "big", signed=True)
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_DEPENDENCY_LOCK, key)))


def dependency_cycle(conn: Connection, tasks: sa.Table, user_id: Any) -> list[Any]:
    """The ids of one cycle among the user's dependencies ([] when there is none): one
    query for the tasks that have dependencies, then a walk in Python, linear in them."""
    query = sa.select(tasks.c.id, tasks.c.depends).where(
        tasks.c.user_id == user_id, tasks.c.depends.is_not(None)
    )
    edges = {row.id: list(row.depends) for row in conn.execute(query)}
    finished: set[Any] = set()
    for start in edges:
        if start in finished:
            continue
        path, pending = [start], [iter(edges[start])]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                finished.add(path.pop())
                pending.pop()
            elif dep in path:
                return path[path.index(dep) :]
            elif dep in edges and dep not in finished:
                path.append(dep)
                pending.append(iter(edges[dep]))
    return []


def larger(
    conn: Connection, value: sa.ColumnElement[float], floor: float
) -> sa.ColumnElement[float]:
    """The larger of ``value`` and ``floor``, row by row."""
    function = sa.func.greatest if is_postgres(conn) else sa.func.max
    return function(value, number(conn, floor), type_=sa.Float)


def number(conn: Connection, value: float) -> sa.ColumnElement[float]:
    """A constant the database computes with as a double: PostgreSQL would read a bare
    ``4.0`` as numeric, whose arithmetic costs several times as much a row."""
    if is_postgres(conn):
        return sa.cast(sa.literal(value), sa.Float)
    return sa.literal(value, sa.Float)


def has_tags(
    conn: Connection, column: sa.ColumnElement[Any], tags: list[str]
) -> sa.ColumnElement[bool]:
    """``column`` (a task's tags) holds every one of ``tags``."""
    if is_postgres(conn):
        from sqlalchemy.dialects import postgresql

        array = sa.type_coerce(column, postgresql.ARRAY(sa.String))
        return array.contains(sa.cast(tags, postgresql.ARRAY(sa.String)))
    return sa.and_(
        *(
            sa.exists(
                sa.select(1)
                .select_from(sa.func.json_each(column).table_valued("value"))
                .where(sa.column("value") == tag)
            )
            for tag in tags
        )
    )


def id_in(
    conn: Connection, column: sa.ColumnElement[Any], ids: list[Any]
) -> sa.ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL one array parameter instead of thousands."""
    if is_postgres(conn):
        from sqlalchemy.dialects.postgresql import ARRAY

        texts = sa.literal([str(value) for value in ids], ARRAY(sa.Text))
        return column == sa.any_(sa.cast(texts, ARRAY(sa.Uuid)))
    return column.in_(ids)
