"""Alembic environment for taskcli.

Run by ``taskcli db migrate`` (which passes its open connection) or by ``alembic`` from a
source checkout (the database then comes from TASKCLI_DATABASE_URL or the active profile).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

import taskcli.core.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from taskcli.core.db import atomic
from taskcli.core.migrate import ADVISORY_LOCK_KEY

config = context.config
target_metadata = SQLModel.metadata


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        **kwargs,
    )


def run_migrations_offline() -> None:
    from taskcli.core.config import resolve_settings
    from taskcli.core.urls import normalize_url

    url = config.attributes.get("url") or resolve_settings().database_url
    _configure(url=normalize_url(url), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        with _foreign_key_actions_off(connection):
            _migrate_in_transaction(connection, sqlite=True)
    else:
        _migrate_in_transaction(connection, sqlite=False)


@contextmanager
def _foreign_key_actions_off(connection) -> Iterator[None]:
    """Batch mode rebuilds a SQLite table by dropping it: with foreign keys on, dropping
    ``users`` would cascade to every task and session. (The pragma is ignored inside a
    transaction, so it is set around it; the keys are checked before the commit.)"""
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")


def _migrate_in_transaction(connection, *, sqlite: bool) -> None:
    # Our own transaction wraps the run (SQLite DDL is transactional too).
    _configure(connection=connection, render_as_batch=sqlite, transactional_ddl=True)
    with atomic(connection):
        if not sqlite:
            # Concurrent `db migrate` runs wait here; the later ones then find the head.
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": ADVISORY_LOCK_KEY})
            _sequential_on_citus(connection)
        # read under the lock: a run that waited reports where the schema really was
        config.attributes["from_revision"] = context.get_context().get_current_revision()
        context.run_migrations()
        if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
            raise RuntimeError("the migration left rows whose user does not exist")


def _sequential_on_citus(connection) -> None:
    """On a distributed schema (taskcli db distribute) Citus propagates a revision's DDL to
    the shards; a change of a reference table after parallel DDL on the shards in one
    transaction is refused, so the run goes over one connection per node."""
    citus = connection.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"
    ).scalar()
    if citus:
        connection.exec_driver_sql("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    from taskcli.core.config import resolve_settings
    from taskcli.core.db import Database

    database = Database(resolve_settings())
    with database.connect(migrate_embedded=False) as connection:
        _migrate(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
