"""SPEC §17 in the catalog: the migrated schema keeps the rules Citus needs to distribute
every per-user table by user_id (taskcli.core.layout), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from taskcli.core import db, layout, migrate
from taskcli.core.config import resolve_settings


@pytest.fixture(params=["sqlite", "postgres"])
def migrated(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rules.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = db.Database(resolve_settings(database_url_option=url))
    with database.connect(migrate_embedded=False) as conn:
        migrate.upgrade(conn, "head")
        conn.info["test_url"] = url
        yield conn


def test_the_schema_at_head_keeps_the_scale_out_rules(migrated):
    assert layout.schema_violations(migrated) == []
    assert set(layout.per_user_tables(migrated)) == {
        "tasks", "sessions", "counters", "contexts", "journal", "journal_tasks",
    }  # fmt: skip


def test_a_per_user_table_without_user_id_in_a_key_is_reported(migrated):
    migrated.exec_driver_sql(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id UUID NOT NULL, "
        "slug VARCHAR(20) NOT NULL, UNIQUE (user_id, slug))"
    )
    migrated.exec_driver_sql("CREATE UNIQUE INDEX ix_notes_slug ON notes (slug)")
    assert layout.schema_violations(migrated) == [
        "notes: primary key (id) lacks user_id",
        "notes: unique ix_notes_slug (slug) lacks user_id",
    ]


def test_a_foreign_key_that_is_not_co_located_is_reported(migrated):
    migrated.exec_driver_sql(
        "CREATE TABLE notes (user_id UUID NOT NULL, number INTEGER NOT NULL, "
        "task_user UUID NOT NULL, PRIMARY KEY (user_id, number), "
        "FOREIGN KEY (task_user, number) REFERENCES tasks (user_id, number))"
    )
    migrated.exec_driver_sql(
        "CREATE TABLE tallies (email_key VARCHAR(64) PRIMARY KEY, "
        "FOREIGN KEY (email_key) REFERENCES login_failures (email_key))"
    )
    assert layout.schema_violations(migrated) == [
        "foreign key notes (task_user, number) -> tasks (user_id, number) does not join on"
        " user_id: not co-located",
        "tallies: no user_id and no place in taskcli.core.layout",
        "foreign key tallies (email_key) -> login_failures (email_key): only to users or"
        " meta or co-located",
    ]


def test_db_distribute_says_citus_is_not_installed(taskcli, migrated):
    """On plain PostgreSQL and on SQLite: one line, exit 5, nothing changed."""
    result = taskcli("db", "distribute", "--database-url", migrated.info["test_url"])
    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr.startswith("error: Citus is not installed")
    assert len(result.stderr.strip().splitlines()) == 1
