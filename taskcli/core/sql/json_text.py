"""The SPEC §10 task object as JSON text, built by the database (the export fast path).

:func:`taskcli.core.formats.task_to_json` with ``json.dumps(..., ensure_ascii=False)`` is
the definition of a task's JSON text. Building that text row by row in Python costs about
15 µs a task; the database builds it in 2–5 µs, so ``export`` in the JSON formats selects
the text itself. The expression here must give exactly the same bytes: keys in
``TASK_FIELDS`` order, each value written by its field's kind, ``", "`` and ``": "``
separators, strings escaped as Python escapes them, timestamps in whole seconds UTC with
``Z``. The tests compare both on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core.sql import is_postgres
from taskcli.core.tasks import tasks
from taskcli.core.vocabulary import FIELD_KINDS, TASK_FIELDS, FieldKind

TEXT = sa.Text()
TextExpr: TypeAlias = sa.ColumnElement[str]  # a text-valued SQL expression
ColumnExpr: TypeAlias = sa.ColumnElement[Any]


def _lit(text: str) -> TextExpr:
    return sa.literal(text, TEXT)


def _join(*parts: TextExpr) -> TextExpr:
    return reduce(lambda left, right: left.concat(right), parts)


def _or_null(expr: TextExpr) -> TextExpr:
    """``expr`` as text, or ``null`` when the column is NULL."""
    return sa.func.coalesce(expr, _lit("null"), type_=TEXT)


def _text(column: ColumnExpr, postgres: bool) -> TextExpr:
    if postgres:
        return _or_null(sa.cast(sa.func.to_json(column), TEXT))
    return sa.func.json_quote(column, type_=TEXT)  # NULL gives null


def _uuid(column: ColumnExpr, postgres: bool) -> TextExpr:
    if postgres:
        return _join(_lit('"'), sa.cast(column, TEXT), _lit('"'))
    # stored as 32 hex digits without dashes
    hexed = sa.type_coerce(column, TEXT)
    pieces = [sa.func.substr(hexed, start, length, type_=TEXT)
              for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]  # fmt: skip
    dashed: list[TextExpr] = [pieces[0]]
    for piece in pieces[1:]:
        dashed += [_lit("-"), piece]
    return _join(_lit('"'), *dashed, _lit('"'))


def _timestamp(column: ColumnExpr, postgres: bool) -> TextExpr:
    if postgres:
        utc = sa.func.timezone("UTC", column)
        text = sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS"Z"', type_=TEXT)
        return _or_null(_join(_lit('"'), text, _lit('"')))
    # stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
    stored = sa.type_coerce(column, TEXT)
    date = sa.func.substr(stored, 1, 10, type_=TEXT)
    time = sa.func.substr(stored, 12, 8, type_=TEXT)
    return _or_null(_join(_lit('"'), date, _lit("T"), time, _lit('Z"')))


def _tags(column: ColumnExpr, postgres: bool) -> TextExpr:
    return _pg_tags(column) if postgres else _sqlite_tags(column)


def _pg_tags(column: ColumnExpr) -> TextExpr:
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    quoted = sa.cast(sa.func.to_json(sa.column("tag", TEXT)), TEXT)
    in_order = aggregate_order_by(_lit(", "), sa.column("n"))
    items = sa.select(sa.func.string_agg(quoted, in_order)).select_from(
        sa.func.unnest(column).table_valued("tag", with_ordinality="n").render_derived()
    )
    return _bracketed(items)


def _sqlite_tags(column: ColumnExpr) -> TextExpr:
    # SQLite keeps the list as json.dumps wrote it: `["a", "b"]`. Without escapes (ASCII
    # only) and without compact separators that is already the text; tags hold no commas.
    items = sa.select(sa.func.group_concat(sa.func.json_quote(sa.column("value")), ", "))
    items = items.select_from(sa.func.json_each(column).table_valued("value"))
    stored = sa.type_coerce(column, TEXT)
    plain = sa.and_(sa.func.instr(stored, "\\") == 0, sa.func.instr(stored, '","') == 0)
    return sa.case((plain, stored), else_=_bracketed(items))


def _bracketed(items: sa.Select[Any]) -> TextExpr:
    """``[`` + the comma-joined elements the scalar query ``items`` gives + ``]``."""
    joined = sa.func.coalesce(items.scalar_subquery(), _lit(""), type_=TEXT)
    return _join(_lit("["), joined, _lit("]"))


def _stored_json(column: ColumnExpr, postgres: bool) -> TextExpr:
    """A column that keeps its value as the JSON text export writes (annotations, and the
    ids of ``depends`` on SQLite); NULL is ``[]``."""
    return sa.func.coalesce(sa.type_coerce(column, TEXT), _lit("[]"), type_=TEXT)


def _uuids(column: ColumnExpr, postgres: bool) -> TextExpr:
    if not postgres:
        return _stored_json(column, postgres)
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    quoted = _join(_lit('"'), sa.cast(sa.column("dep"), TEXT), _lit('"'))
    in_order = aggregate_order_by(_lit(", "), sa.column("n"))
    items = sa.select(sa.func.string_agg(quoted, in_order)).select_from(
        sa.func.unnest(column).table_valued("dep", with_ordinality="n").render_derived()
    )
    return _bracketed(items)


def _integer(column: ColumnExpr, postgres: bool) -> TextExpr:
    return _or_null(sa.cast(column, TEXT))


_BY_KIND: dict[FieldKind, Callable[[ColumnExpr, bool], TextExpr]] = {
    FieldKind.uuid: _uuid,
    FieldKind.integer: _integer,
    FieldKind.text: _text,
    FieldKind.choice: _text,
    FieldKind.tags: _tags,
    FieldKind.timestamp: _timestamp,
    FieldKind.uuids: _uuids,
    FieldKind.annotations: _stored_json,
}


def task_json_column(conn: Connection) -> sa.Label[str]:
    """A column expression giving each task's JSON object as one line of text."""
    postgres = is_postgres(conn)
    parts = []
    for index, name in enumerate(TASK_FIELDS):
        value = _BY_KIND[FIELD_KINDS[name]](tasks.c[name], postgres)
        parts += [_lit(f'{", " if index else "{"}"{name}": '), value]
    return _join(*parts, _lit("}")).label("task_json")
