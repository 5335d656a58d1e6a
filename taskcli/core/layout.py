"""Where each table lives when taskcli is scaled out on Citus (SPEC §17), and the rules a
table must keep for that.

A *per-user* table has a ``user_id`` column and is distributed by it, all of them
co-located, so a user's rows of every table are on one node: ``user_id`` must be in its
primary key and in every unique constraint, and its foreign keys may go only to a
reference table or, ``user_id`` to ``user_id``, to another per-user table. The tables
without ``user_id`` are named here, each with its place: a *reference table* is copied to
every node (``users`` keeps its unique email so), a *coordinator table* stays on the
coordinator alone (the login throttle's upsert, which Citus refuses on a reference table,
and the spent nonces that every command writes, which would be a commit on every node).

`schema_violations` reads the rules off a database's catalog (any dialect); a test runs
it at every revision, and ``taskcli db distribute`` refuses a schema that breaks them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

DISTRIBUTION_COLUMN = "user_id"
REFERENCE_TABLES = ("users", "meta")
COORDINATOR_TABLES = ("spent_nonces", "login_failures")
NOT_DISTRIBUTED = ("alembic_version",)


def per_user_tables(conn: Connection) -> list[str]:
    """The tables with a user_id column, in the order of their names."""
    import sqlalchemy as sa

    inspector = sa.inspect(conn)
    return sorted(
        table
        for table in inspector.get_table_names()
        if DISTRIBUTION_COLUMN in {c["name"] for c in inspector.get_columns(table)}
    )


def schema_violations(conn: Connection) -> list[str]:
    """One line per rule of SPEC §17 that the schema on ``conn`` breaks ([] when none)."""
    import sqlalchemy as sa

    inspector = sa.inspect(conn)
    per_user = set(per_user_tables(conn))
    placed = {*REFERENCE_TABLES, *COORDINATOR_TABLES, *NOT_DISTRIBUTED}
    problems = []
    for table in sorted(inspector.get_table_names()):
        if table not in per_user and table not in placed:
            problems.append(f"{table}: no user_id and no place in taskcli.core.layout")
        for key in inspector.get_foreign_keys(table):
            problem = _foreign_key_problem(table, key, per_user)
            if problem:
                problems.append(problem)
        if table not in per_user:
            continue
        keys = [("primary key", inspector.get_pk_constraint(table)["constrained_columns"])]
        keys += [(f"unique {u['name']}", u["column_names"]) for u in _uniques(inspector, table)]
        for name, columns in keys:
            if DISTRIBUTION_COLUMN not in columns:
                problems.append(f"{table}: {name} ({', '.join(columns)}) lacks user_id")
    return problems


def _uniques(inspector: sa.Inspector, table: str) -> list[dict[str, Any]]:
    uniques = [
        {"name": u["name"], "column_names": list(u["column_names"])}
        for u in inspector.get_unique_constraints(table)
    ]
    names = {u["name"] for u in uniques}
    uniques += [
        {"name": i["name"], "column_names": [c for c in i["column_names"] if c]}
        for i in inspector.get_indexes(table)
        if i["unique"] and i["name"] not in names
    ]
    return uniques


def _foreign_key_problem(table: str, key: Any, per_user: set[str]) -> str | None:
    target = key["referred_table"]
    columns, referred = key["constrained_columns"], key["referred_columns"]
    what = f"{table} ({', '.join(columns)}) -> {target} ({', '.join(referred)})"
    if target in REFERENCE_TABLES:
        return None
    if table in per_user and target in per_user:
        pairs = dict(zip(columns, referred, strict=True))
        if pairs.get(DISTRIBUTION_COLUMN) == DISTRIBUTION_COLUMN:
            return None
        return f"foreign key {what} does not join on user_id: not co-located"
    return f"foreign key {what}: only to {' or '.join(REFERENCE_TABLES)} or co-located"
