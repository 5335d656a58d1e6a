"""The owner and the application role on PostgreSQL: `db grant`, owner-only commands
(exit 8), and what the application role may not do through a raw SQL client.

The owner is NOT a superuser (a CREATEROLE role that owns the database, as on Neon).
"""

from __future__ import annotations

from contextlib import closing

import psycopg2
import pytest

from taskcli.core.roles import APPLICATION_FUNCTIONS
from tests.conftest import PASSWORD
from tests.test_auth import assert_one_line_error, meta_values, rows, sessions
from tests.transfer_support import write_json

GRANTED = [
    "granted USAGE on schema public to {role}",
    "granted SELECT on table alembic_version to {role}",
    "granted SELECT, INSERT, UPDATE, DELETE on table contexts to {role}",
    "granted SELECT, UPDATE on table counters to {role}",
    "granted SELECT, INSERT, UPDATE, DELETE on table journal to {role}",
    "granted SELECT, INSERT, DELETE on table journal_tasks to {role}",
    "granted SELECT, INSERT, UPDATE, DELETE on table tasks to {role}",
    *(f"granted EXECUTE on function {function} to {{role}}" for function in APPLICATION_FUNCTIONS),
]


@pytest.fixture
def granted(taskcli, pg_roles, monkeypatch):
    """The schema migrated by the owner, the application role granted; commands use the
    application role's URL."""
    owner = ("--database-url", pg_roles.owner_url)
    taskcli.ok(*owner, "db", "migrate")
    taskcli.ok(*owner, "db", "grant", pg_roles.app_role)
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_roles.app_url)
    return pg_roles


def _execute(url: str, statement: str):
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(statement)
        conn.commit()


def test_the_owner_is_no_superuser_and_grants_are_printed_and_repeatable(taskcli, pg_roles):
    with closing(psycopg2.connect(pg_roles.owner_url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, True)
    owner = ("--database-url", pg_roles.owner_url)
    taskcli.ok(*owner, "db", "migrate")
    expected = "".join(line.format(role=pg_roles.app_role) + "\n" for line in GRANTED)
    assert taskcli.ok(*owner, "db", "grant", pg_roles.app_role).stdout == expected
    assert taskcli.ok(*owner, "db", "grant", pg_roles.app_role).stdout == expected
    document = taskcli.ok(*owner, "db", "grant", pg_roles.app_role, "--json").json()
    assert document["role"] == pg_roles.app_role
    assert document["granted"][6] == {
        "privileges": ["SELECT", "INSERT", "UPDATE", "DELETE"], "on": "table tasks",
    }  # fmt: skip


def test_the_application_role_runs_every_ordinary_command(taskcli, granted, tmp_path):
    email = "app-user@example.com"
    taskcli.ok("register", "--email", email, "--password-stdin", input=PASSWORD)
    taskcli.ok("add", "through the application role", "-t", "x", "--project", "p")
    taskcli.ok("add", "second")
    taskcli.ok("start", "1")
    taskcli.ok("update", "2", "--title", "renamed", "--add-tag", "y")
    taskcli.ok("done", "2")
    taskcli.ok("reopen", "2")
    taskcli.ok("delete", "2", "--yes")
    exported = tmp_path / "tasks.json"
    taskcli.ok("export", "-o", str(exported))
    write_json(tmp_path / "more.json", [{"title": "imported"}])
    taskcli.ok("import", str(tmp_path / "more.json"))
    taskcli.ok("import", str(exported))
    listed = taskcli.ok("list", "--all", "--json").json()
    assert [(t["number"], t["title"]) for t in listed] == [
        (1, "through the application role"), (3, "imported"),
    ]  # fmt: skip
    taskcli.ok("logout")
    taskcli.ok("login", "--email", email, "--password-stdin", input=PASSWORD)
    assert taskcli.ok("whoami", "--json").json()["email"] == email
    taskcli.ok("logout", "--all")
    assert taskcli.ok("db", "status").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("db", "migrate"),
        ("db", "downgrade", "base", "--yes"),
        ("db", "rotate-key", "--yes"),
        ("db", "grant", "postgres"),
    ],
    ids=lambda args: args[1],
)
def test_owner_commands_with_the_application_role_are_exit_8(taskcli, granted, args):
    taskcli.ok("register", "--email", "someone@example.com", "--password-stdin", input=PASSWORD)
    before = meta_values(granted.owner_url)
    result = taskcli(*args)
    assert_one_line_error(result, 8, f"{args[1]} needs the owner of the taskcli tables")
    hint = "(hint: ask the database administrator (the owner role) to do it)\n"
    assert result.stderr.endswith(hint)
    assert meta_values(granted.owner_url) == before
    assert [row["revoked_at"] for row in rows(granted.owner_url, sessions)] == [None]
    assert taskcli.ok("whoami").exit_code == 0


def test_a_role_without_grants_gets_exit_8_naming_the_privilege(taskcli, pg_roles):
    taskcli.ok("--database-url", pg_roles.owner_url, "db", "migrate")
    result = taskcli(
        "--database-url", pg_roles.app_url, "register", "--email", "a@example.com",
        "--password-stdin", input=PASSWORD,
    )  # fmt: skip
    assert_one_line_error(result, 8, "permission denied for function taskcli_password_setting")
    as_json = taskcli(
        "--database-url", pg_roles.app_url, "register", "--email", "a@example.com",
        "--password-stdin", "--json", input=PASSWORD,
    )  # fmt: skip
    assert as_json.error["code"] == "not_permitted"


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE public.mine (x int)",
        "DROP TABLE tasks",
        "ALTER TABLE tasks DISABLE TRIGGER ALL",
        "UPDATE meta SET value = 'x' WHERE key = 'signing_key'",
        "DELETE FROM users",
        "DELETE FROM sessions",
        "TRUNCATE tasks",
        "CREATE INDEX ON tasks (title)",
    ],
)
def test_the_application_role_cannot_change_the_schema_or_the_key(granted, statement):
    with pytest.raises(psycopg2.Error) as refused:
        _execute(granted.app_url, statement)
    assert refused.value.pgcode == "42501", refused.value


def test_grant_refuses_unknown_roles_the_owner_itself_and_sqlite(taskcli, pg_roles, isolated):
    owner = ("--database-url", pg_roles.owner_url)
    taskcli.ok(*owner, "db", "migrate")
    assert_one_line_error(taskcli(*owner, "db", "grant", "nobody_here"), 5, "no login role")
    owner_name = pg_roles.owner_url.split("//")[1].split(":")[0]
    assert_one_line_error(taskcli(*owner, "db", "grant", owner_name), 5, "you are connected as")
    assert_one_line_error(taskcli("db", "grant", "anyone"), 5, "SQLite has no roles")
