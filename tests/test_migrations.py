"""Upgrading a database that holds data: every revision keeps users, tasks and sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from taskcli.core import db, migrate, security
from taskcli.core.config import resolve_settings
from tests.conftest import PASSWORD

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STAMP = sa.DateTime(timezone=True)
# The 0001 tables, as they were then (users still held the task-number counter).
USERS_0001 = sa.table(
    "users", sa.column("id", sa.Uuid), sa.column("email"), sa.column("password_hash"),
    sa.column("created_at", STAMP), sa.column("updated_at", STAMP),
    sa.column("next_task_number"),
)  # fmt: skip
TASKS_0001 = sa.table(
    "tasks", sa.column("id", sa.Uuid), sa.column("user_id", sa.Uuid), sa.column("number"),
    sa.column("title"), sa.column("status"), sa.column("priority"), sa.column("tags", sa.JSON),
    sa.column("created_at", STAMP), sa.column("updated_at", STAMP),
)  # fmt: skip
SESSIONS_0001 = sa.table(
    "sessions", sa.column("id", sa.Uuid), sa.column("user_id", sa.Uuid),
    sa.column("token_hash"), sa.column("created_at", STAMP), sa.column("expires_at", STAMP),
)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path, monkeypatch) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("TASKCLI_DATABASE_URL", url)
    return url


def _connection(url: str):
    return db.Database(resolve_settings(database_url_option=url)).connect(migrate_embedded=False)


def _tags(conn, tags: list[str]):
    if conn.dialect.name == "postgresql":  # 0001 made tags a text array there
        return sa.cast(sa.literal(tags, sa.ARRAY(sa.Text)), sa.ARRAY(sa.String(50)))
    return tags


def _fill_0001(conn, emails: list[str]) -> list[uuid.UUID]:
    """Users with two tasks each (numbers 1 and 3: 2 was deleted) and a session each."""
    ids = [uuid.uuid4() for _ in emails]
    password_hash = security.hash_password(PASSWORD)
    for user_id, email in zip(ids, emails, strict=True):
        conn.execute(
            USERS_0001.insert().values(
                id=user_id, email=email, password_hash=password_hash,
                created_at=NOW, updated_at=NOW, next_task_number=4,
            )
        )  # fmt: skip
        for number in (1, 3):
            conn.execute(
                TASKS_0001.insert().values(
                    id=uuid.uuid4(), user_id=user_id, number=number, title=f"old {number}",
                    status="pending", priority="high", tags=_tags(conn, ["kept"]),
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
        conn.execute(
            SESSIONS_0001.insert().values(
                id=uuid.uuid4(), user_id=user_id, token_hash="0" * 64,
                created_at=NOW, expires_at=NOW + timedelta(days=30),
            )
        )  # fmt: skip
    return ids


def _counts(conn) -> dict:
    return {
        table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
        for table in ("users", "tasks", "sessions")
    }


def test_upgrade_from_0001_keeps_the_data_and_numbers_continue(taskcli, database_url):
    with _connection(database_url) as conn:
        migrate.upgrade(conn, "0001")
        first, second = _fill_0001(conn, ["first@example.com", "second@example.com"])
        before = _counts(conn)
        migrate.upgrade(conn, "head")
        assert migrate.current_revision(conn) == migrate.head_revision()
        assert _counts(conn) == before == {"users": 2, "tasks": 4, "sessions": 2}
        from taskcli.core.tasks import counters

        drawn = conn.execute(sa.select(counters.c.user_id, counters.c.next_task_number))
        assert sorted(drawn.all()) == sorted([(first, 4), (second, 4)])
        migrate.check(conn)
        # 0001's tokens could be rebuilt from any copy of the database: they end
        revoked = conn.exec_driver_sql("SELECT revoked_at FROM sessions").scalars().all()
        assert len(revoked) == 2 and None not in revoked
    taskcli.ok("login", "--email", "first@example.com", "--password-stdin", input=PASSWORD)
    listed = taskcli.ok("list", "--json").json()
    assert [(t["number"], t["title"], t["tags"]) for t in listed] == [
        (1, "old 1", ["kept"]), (3, "old 3", ["kept"]),
    ]  # fmt: skip
    assert taskcli.ok("add", "after the upgrade").stdout == "4\n"
    # ids are now unique per user: the second user may hold the first user's task id
    with _connection(database_url) as conn:
        from taskcli.core.tasks import tasks

        row = conn.execute(sa.select(tasks).where(tasks.c.user_id == first)).first()
        copy = {**row._mapping, "user_id": second, "number": 4}
        conn.execute(tasks.insert().values(**copy))
        assert conn.execute(sa.select(sa.func.count()).where(tasks.c.id == row.id)).scalar() == 2


def test_downgrade_to_0001_gives_the_counter_back_to_users(database_url):
    with _connection(database_url) as conn:
        migrate.upgrade(conn, "0001")
        [user_id] = _fill_0001(conn, ["only@example.com"])
        migrate.upgrade(conn, "head")
        conn.exec_driver_sql("UPDATE counters SET next_task_number = 9")
        migrate.downgrade(conn, "0001")
        number = conn.execute(
            sa.select(USERS_0001.c.next_task_number).where(USERS_0001.c.id == user_id)
        ).scalar()
        assert number == 9
        assert _counts(conn) == {"users": 1, "tasks": 2, "sessions": 1}


def test_every_per_user_table_leads_its_keys_with_user_id():
    """SPEC §17: a per-user table can be distributed by user_id only when its primary key
    and every unique constraint include it."""
    from sqlmodel import SQLModel

    import taskcli.core.models  # noqa: F401  (registers the tables)

    per_user = [t for t in SQLModel.metadata.tables.values() if "user_id" in t.c]
    assert {t.name for t in per_user} >= {"tasks", "sessions", "counters"}
    for table in per_user:
        assert table.primary_key.columns.keys()[0] == "user_id", table.name
        uniques = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
        uniques += [index for index in table.indexes if index.unique]
        for unique in uniques:
            assert "user_id" in unique.columns.keys(), (table.name, unique.name)


# ---- 0005: the planning fields -------------------------------------------------------------

TASK_COLUMNS_0004 = ("id", "user_id", "number", "title", "description", "status",
                     "priority", "due", "project", "tags", "created_at", "updated_at",
                     "completed_at")  # fmt: skip
TASKS_0004 = sa.table(
    "tasks", sa.column("user_id", sa.Uuid), sa.column("number"), sa.column("description"),
    sa.column("due", STAMP), sa.column("project"), sa.column("status"),
    sa.column("completed_at", STAMP),
)  # fmt: skip
PLANNING_COLUMNS = ("annotations", "wait", "scheduled", "depends", "recur", "until",
                    "recur_series", "recur_index", "recur_anchor")  # fmt: skip


def _rows(conn, table: str, columns: tuple[str, ...]) -> list[tuple]:
    order = "user_id, number" if table == "tasks" else "user_id, id"
    query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
    return [tuple(row) for row in conn.exec_driver_sql(query)]


def _at_0004_with_data(conn) -> uuid.UUID:
    """Two users' tasks and sessions at 0004; the first user's task 3 with every 0004
    field set (completed). Returns the first user's id."""
    migrate.upgrade(conn, "0001")
    first, _second = _fill_0001(conn, ["first@example.com", "second@example.com"])
    migrate.upgrade(conn, "0004")
    conn.execute(
        TASKS_0004.update()
        .where(TASKS_0004.c.user_id == first, TASKS_0004.c.number == 3)
        .values(description="all of it", due=NOW + timedelta(days=24), project="home",
                status="completed", completed_at=NOW)
    )  # fmt: skip
    return first


def test_upgrade_from_0004_keeps_every_task_and_gives_it_empty_new_fields(taskcli, database_url):
    with _connection(database_url) as conn:
        _at_0004_with_data(conn)
        tasks_before = _rows(conn, "tasks", TASK_COLUMNS_0004)
        sessions_before = _rows(conn, "sessions", ("id", "user_id", "secret_hash", "revoked_at"))
        assert len(tasks_before) == 4 and len(sessions_before) == 2
        migrate.upgrade(conn, "0005")
        assert migrate.current_revision(conn) == "0005"
        assert _rows(conn, "tasks", TASK_COLUMNS_0004) == tasks_before
        assert _rows(conn, "tasks", PLANNING_COLUMNS) == [(None,) * len(PLANNING_COLUMNS)] * 4
        assert _rows(conn, "sessions", ("id", "user_id", "secret_hash", "revoked_at")) == (
            sessions_before
        )
        assert conn.exec_driver_sql("SELECT count(*) FROM contexts").scalar() == 0
        migrate.upgrade(conn, "head")
        migrate.check(conn)
    taskcli.ok("login", "--email", "first@example.com", "--password-stdin", input=PASSWORD)
    shown = taskcli.ok("show", "3", "--json").json()
    assert (shown["description"], shown["project"], shown["status"]) == (
        "all of it", "home", "completed",
    )  # fmt: skip
    assert [shown[key] for key in ("annotations", "wait", "scheduled", "depends", "recur",
                                   "until")] == [[], None, None, [], None, None]  # fmt: skip
    assert [t["number"] for t in taskcli.ok("next", "--json").json()] == [1]
    assert taskcli.ok("projects", "--json").json() == [{"name": "home", "open": 0, "total": 1}]


def test_downgrade_to_0004_and_up_again_keeps_the_tasks(taskcli, database_url):
    with _connection(database_url) as conn:
        _at_0004_with_data(conn)
        unchanged = tuple(c for c in TASK_COLUMNS_0004 if c != "updated_at")  # annotate sets it
        before = _rows(conn, "tasks", unchanged)
        migrate.upgrade(conn, "head")
    taskcli.ok("login", "--email", "first@example.com", "--password-stdin", input=PASSWORD)
    taskcli.ok("annotate", "1", "a note")
    taskcli.ok("context", "define", "home", "--project", "home")
    with _connection(database_url) as conn:
        migrate.downgrade(conn, "0004")
        assert migrate.current_revision(conn) == "0004"
        assert _rows(conn, "tasks", unchanged) == before
        columns = {c["name"] for c in sa.inspect(conn).get_columns("tasks")}
        assert columns == set(TASK_COLUMNS_0004)
        assert "contexts" not in sa.inspect(conn).get_table_names()
        migrate.upgrade(conn, "head")
        assert _rows(conn, "tasks", PLANNING_COLUMNS) == [(None,) * len(PLANNING_COLUMNS)] * 4
        migrate.check(conn)
    assert taskcli.ok("show", "1", "--json").json()["annotations"] == []
    assert taskcli.ok("context", "list", "--json").json() == []
    assert [t["number"] for t in taskcli.ok("list", "--json").json()] == [1]


# ---- 0006: the index of the tasks with dependencies ----------------------------------------


def _indexes(conn) -> set[str]:
    return {index["name"] for index in sa.inspect(conn).get_indexes("tasks")}


def test_0006_indexes_the_tasks_with_dependencies_and_its_downgrade_drops_it(database_url):
    with _connection(database_url) as conn:
        _at_0004_with_data(conn)
        migrate.upgrade(conn, "0005")
        assert "ix_tasks_user_depends" not in _indexes(conn)
        migrate.upgrade(conn, "0006")
        assert "ix_tasks_user_depends" in _indexes(conn)
        rows_before = _rows(conn, "tasks", TASK_COLUMNS_0004)
        migrate.downgrade(conn, "0005")
        assert "ix_tasks_user_depends" not in _indexes(conn)
        assert _rows(conn, "tasks", TASK_COLUMNS_0004) == rows_before
        migrate.upgrade(conn, "head")
        migrate.check(conn)


# ---- 0008: the account lifecycle ----------------------------------------------------------


@pytest.mark.postgres
def test_0008_gives_the_granted_application_role_its_functions(taskcli, pg_roles, monkeypatch):
    """An application role that `db grant` prepared before 0008 can use the new account
    commands after `db migrate`, without another grant; a downgrade keeps every session
    working and takes the functions away again."""
    from taskcli.core import roles

    owner = ["--database-url", pg_roles.owner_url]
    taskcli.ok("db", "migrate", "--revision", "0007", *owner)
    with _connection(pg_roles.owner_url) as conn:  # what `db grant` of 0007's taskcli gave
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {pg_roles.app_role}")
        for table, privileges in roles.APPLICATION_PRIVILEGES:
            conn.exec_driver_sql(f"GRANT {', '.join(privileges)} ON {table} TO {pg_roles.app_role}")
        for function in roles.APPLICATION_FUNCTIONS:
            if conn.exec_driver_sql("SELECT to_regprocedure(%s)", (function,)).scalar():
                conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {function} TO {pg_roles.app_role}")
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_roles.app_url)
    taskcli.ok("register", "--email", "early@example.com", "--password-stdin", input=PASSWORD)
    taskcli.ok("add", "kept")
    assert taskcli("sessions").exit_code == 7  # this taskcli needs 0008 (exit 7: schema)
    taskcli.ok("db", "migrate", *owner)
    assert len(taskcli.ok("sessions", "--json").json()) == 1
    assert taskcli.ok("db", "users", "--json", *owner).json()[0]["task_count"] == 1
    taskcli.ok("db", "downgrade", "0007", "--yes", *owner)
    with _connection(pg_roles.owner_url) as conn:
        names = {row[0] for row in conn.exec_driver_sql(
            "SELECT proname FROM pg_proc WHERE left(proname, 8) = 'taskcli_'")}  # fmt: skip
        assert not names & {"taskcli_passwd", "taskcli_sessions", "taskcli_reset_login",
                            "taskcli_confirm_password", "taskcli_unmask"}  # fmt: skip
        assert {"taskcli_present", "taskcli_new_session", "taskcli_login"} <= names
        columns = {c["name"] for c in sa.inspect(conn).get_columns("users")}
        assert not columns & {"locked_at", "last_login_at", "reset_code_hash"}
        migrate.upgrade(conn, "head")
        migrate.check(conn)
    assert [t["title"] for t in taskcli.ok("list", "--json").json()] == ["kept"]
    printf = f"{PASSWORD}\nanother password\n"
    assert taskcli("passwd", "--password-stdin", input=printf).exit_code == 0


def test_0008_downgrade_keeps_accounts_and_sessions(taskcli, database_url):
    with _connection(database_url) as conn:
        _at_0004_with_data(conn)
        migrate.upgrade(conn, "head")
    taskcli.ok("login", "--email", "first@example.com", "--password-stdin", input=PASSWORD)
    with _connection(database_url) as conn:
        migrate.downgrade(conn, "0007")
        assert migrate.current_revision(conn) == "0007"
        migrate.upgrade(conn, "head")
        migrate.check(conn)
    assert [entry["current"] for entry in taskcli.ok("sessions", "--json").json()] == [True]
    assert len(taskcli.ok("list", "--all", "--json").json()) == 2


# ---- 0009: scale-out rules ---------------------------------------------------------------


def test_0009_imports_through_its_stage_function_and_downgrades_to_0008(
    taskcli, database_url, tmp_path
):
    """An import reaches the tasks through 0009's taskcli_insert_staged on PostgreSQL (and
    as before on SQLite); 0008 and 0009 again both work with the tasks that are there."""
    with _connection(database_url) as conn:
        migrate.upgrade(conn, "head")
    taskcli.ok("register", "--email", "mover@example.com", "--password-stdin", input=PASSWORD)
    taskcli.ok("add", "first")
    taskcli.ok("add", "second")
    taskcli.ok("export", "--output", str(tmp_path / "tasks.json"))
    taskcli.ok("register", "--email", "taker@example.com", "--password-stdin", input=PASSWORD)
    taskcli.ok("import", str(tmp_path / "tasks.json"))
    assert [t["title"] for t in taskcli.ok("list", "--json").json()] == ["first", "second"]
    postgres = database_url.startswith("postgresql")
    with _connection(database_url) as conn:
        migrate.downgrade(conn, "0008")
        assert migrate.current_revision(conn) == "0008"
        if postgres:
            staged = conn.exec_driver_sql(
                "SELECT to_regprocedure('taskcli_insert_staged(text, text[])')"
            ).scalar()
            rotate = conn.exec_driver_sql(
                "SELECT prosrc FROM pg_proc WHERE proname = 'taskcli_rotate_key'"
            ).scalar()
            assert staged is None
            assert "new_key" not in rotate and "taskcli_random_bytes()" in rotate
        migrate.upgrade(conn, "head")
        migrate.check(conn)
    assert len(taskcli.ok("list", "--json").json()) == 2
    taskcli.ok("import", str(tmp_path / "tasks.json"))  # the same uuids: updated or skipped
    assert len(taskcli.ok("list", "--json").json()) == 2
