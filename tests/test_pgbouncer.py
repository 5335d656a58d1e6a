"""Every command through PgBouncer in transaction mode (a pooled Neon endpoint): nothing may
rely on session state surviving between transactions."""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from taskcli.core import migrate
from tests.conftest import PASSWORD, run_process


@pytest.fixture
def pooled_url(pgbouncer, pg_url, monkeypatch) -> str:
    """A fresh database reached through the pooler, selected by TASKCLI_DATABASE_URL."""
    url = pgbouncer.url(urlsplit(pg_url).path.lstrip("/"))
    monkeypatch.setenv("TASKCLI_DATABASE_URL", url)
    return url


@pytest.fixture
def pooled_user(taskcli, pooled_url) -> str:
    migrated = taskcli("db", "migrate")
    assert migrated.exit_code == 0, migrated.stderr
    email = "pooled@example.com"
    taskcli.ok("register", "--email", email, "--password-stdin", input=PASSWORD + "\n")
    return email


def test_migrate_through_the_pooler(taskcli, pooled_url, pgbouncer):
    first = taskcli("db", "migrate", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["from"] is None and first.json()["to"] == migrate.head_revision()
    assert pgbouncer.password not in first.stdout + first.stderr
    status = taskcli("db", "status", "--json")
    assert status.exit_code == 0 and status.json()["up_to_date"] is True
    again = taskcli("db", "migrate")
    assert again.exit_code == 0 and again.stdout.startswith("already at")


def test_every_command_through_the_pooler(taskcli, pooled_user, tmp_path):
    who = taskcli.ok("whoami", "--json").json()
    assert who["email"] == pooled_user
    assert "***" in who["database"]
    taskcli.ok("logout")
    assert taskcli("whoami").exit_code == 3
    taskcli.ok("login", "--email", pooled_user, "--password-stdin", input=PASSWORD + "\n")

    first = taskcli.ok(
        "add",
        "write report",
        "-P",
        "high",
        "--due",
        "2030-01-02",
        "-t",
        "work",
        "--project",
        "office",
        "--json",
    ).json()
    assert first["number"] == 1
    assert taskcli.ok("add", "second").stdout == "2\n"
    assert taskcli.ok("add", "third", "-t", "x").stdout == "3\n"
    shown = taskcli.ok("show", "1", "--json").json()
    assert shown == first
    assert taskcli.ok("show", first["id"][:8], "--json").json()["number"] == 1

    updated = taskcli.ok(
        "update",
        "1",
        "--title",
        "write the report",
        "--add-tag",
        "q1",
        "--remove-tag",
        "work",
        "--no-due",
        "--json",
    ).json()
    assert (updated["title"], updated["tags"], updated["due"]) == ("write the report", ["q1"], None)
    assert taskcli.ok("start", "2", "--json").json()[0]["status"] == "in_progress"
    done = taskcli.ok("done", "1", "2", "--json").json()
    assert [t["status"] for t in done] == ["completed", "completed"]
    assert all(t["completed_at"] for t in done)
    assert taskcli.ok("reopen", "2", "--json").json()[0]["completed_at"] is None
    listed = taskcli.ok("list", "--json").json()
    assert [t["number"] for t in listed] == [2, 3]
    assert [t["number"] for t in taskcli.ok("list", "--all", "--json").json()] == [1, 2, 3]
    assert [t["number"] for t in taskcli.ok("list", "-t", "x", "--json").json()] == [3]
    assert taskcli.ok("list", "--search", "REPORT", "--all").stdout.startswith("1\t")
    deleted = taskcli.ok("delete", "3", "--yes", "--json").json()
    assert [t["number"] for t in deleted] == [3]
    assert taskcli("show", "3").exit_code == 4

    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"title": f"imported {n}", "tags": ["imp"]}) + "\n" for n in range(50))
    )
    report = taskcli.ok("import", str(source), "--json").json()
    assert (report["created"], report["updated"], report["rejected"]) == (50, 0, [])
    assert taskcli.ok("import", str(source), "--dry-run", "--json").json()["created"] == 50
    numbers = [t["number"] for t in taskcli.ok("list", "-t", "imp", "--json", "-n", "0").json()]
    assert numbers == list(range(4, 54))

    ended = taskcli.ok("logout", "--json").json()
    assert ended["sessions_ended"] == 1
    assert taskcli("list").exit_code == 3


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_through_the_pooler(taskcli, pooled_user, tmp_path, fmt):
    for index in range(5):
        taskcli.ok("add", f"task {index}", "-t", "t")
    taskcli.ok("done", "2")
    exported = taskcli("export", "--format", fmt)
    assert exported.exit_code == 0, exported.stderr
    if fmt == "json":
        titles = [task["title"] for task in json.loads(exported.stdout)]
    else:
        titles = [row["title"] for row in csv.DictReader(io.StringIO(exported.stdout))]
    assert titles == [f"task {index}" for index in range(5)]
    out = tmp_path / f"tasks.{fmt}"
    taskcli.ok("export", "--format", fmt, "-o", str(out))
    # CSV rows end in CRLF; the in-process runner gives stdout with plain newlines
    written = out.read_bytes().decode("utf-8")
    assert written.replace("\r\n", "\n") == exported.stdout.replace("\r\n", "\n")


def test_a_token_from_the_direct_url_works_through_the_pooler(
    taskcli, pooled_user, pg_url, isolated
):
    """Same database, other host and port: the token's audience is the database, not the URL."""
    direct = {"TASKCLI_DATABASE_URL": pg_url}
    logged_in = taskcli(
        "login", "--email", pooled_user, "--password-stdin", input=PASSWORD + "\n", env=direct
    )
    assert logged_in.exit_code == 0, logged_in.stderr
    tokens = json.loads((isolated / "data" / "tokens.json").read_text())["tokens"]
    assert len(tokens) == 2  # one entry per database URL key: pooled and direct
    for token in tokens.values():
        who = run_process("whoami", "--json", env={"TASKCLI_TOKEN": token})
        assert who.exit_code == 0, who.stderr
        assert who.json()["email"] == pooled_user


def test_20_concurrent_adds_through_the_pooler(taskcli, pooled_user):
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda n: run_process("add", f"pooled {n}"), range(20)))
    assert [r.exit_code for r in results] == [0] * 20, [r.stderr for r in results]
    numbers = sorted(int(r.stdout) for r in results)
    assert numbers == list(range(1, 21))
    stored = taskcli.ok("list", "--json", "--limit", "0").json()
    assert sorted(t["number"] for t in stored) == numbers


def test_the_application_role_through_the_pooler(taskcli, pg_roles, pgbouncer, tmp_path):
    """The owner migrates and grants, then a user of the application role runs the
    command set, all through PgBouncer in transaction mode."""
    from tests.servers import through_pooler

    owner = ("--database-url", through_pooler(pg_roles.owner_url, pgbouncer))
    taskcli.ok(*owner, "db", "migrate")
    taskcli.ok(*owner, "db", "grant", pg_roles.app_role)
    app = ("--database-url", through_pooler(pg_roles.app_url, pgbouncer))
    email = "pooled-app@example.com"
    taskcli.ok(*app, "register", "--email", email, "--password-stdin", input=PASSWORD)
    taskcli.ok(*app, "add", "pooled", "-t", "a")
    taskcli.ok(*app, "update", "1", "--add-tag", "b")
    taskcli.ok(*app, "done", "1")
    exported = tmp_path / "tasks.json"
    taskcli.ok(*app, "export", "-o", str(exported))
    assert taskcli.ok(*app, "import", str(exported)).stdout == "created 0, updated 1, skipped 0\n"
    [task] = taskcli.ok(*app, "list", "--all", "--json").json()
    assert (task["status"], task["tags"]) == ("completed", ["a", "b"])
    taskcli.ok(*app, "logout")
    taskcli.ok(*app, "login", "--email", email, "--password-stdin", input=PASSWORD)
    refused = taskcli(*app, "db", "rotate-key", "--yes")
    assert (refused.exit_code, refused.stderr.count("\n")) == (8, 1)
    assert taskcli.ok(*app, "whoami", "--json").json()["email"] == email
