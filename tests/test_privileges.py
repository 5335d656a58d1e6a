"""A PostgreSQL role that may not do what a command needs: exit 8 and one line naming the
missing privilege and its object, in the server's words, with whom to ask."""

from __future__ import annotations

import re
import uuid
from contextlib import closing
from urllib.parse import quote, urlsplit

import psycopg2
import pytest

from tests.conftest import PASSWORD
from tests.test_auth import stored_token

pytestmark = pytest.mark.postgres


@pytest.fixture
def bare_role(pg_server):
    """A role that may log in and nothing else (an application role before its GRANTs)."""
    name = f"bare_{uuid.uuid4().hex[:8]}"
    password = f"bare-secret-{uuid.uuid4().hex[:8]}"
    with closing(psycopg2.connect(pg_server.admin_url())) as conn:
        conn.autocommit = True
        conn.cursor().execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", (password,))
    yield name, password
    with closing(psycopg2.connect(pg_server.admin_url())) as conn:
        conn.autocommit = True
        conn.cursor().execute(f"DROP ROLE {name}")


def as_role(url: str, role: tuple[str, str]) -> str:
    parts = urlsplit(url)
    name, password = role
    return parts._replace(
        netloc=f"{name}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    ).geturl()


GRANT_HINT = r"ask the database administrator to grant (EXECUTE|(?P=verb)) on (?P=object)"


def assert_not_permitted(result, *, url: str, role: tuple[str, str], hint: str) -> re.Match:
    """Exit 8, nothing on stdout, one line: what the server refused, to whom, and the hint."""
    assert (result.exit_code, result.stdout) == (8, ""), result.stderr
    parts = urlsplit(url)
    line = re.fullmatch(
        rf"error: not permitted at {parts.hostname}:{parts.port}{parts.path}:"
        r" permission denied for (?P<object>(table|schema|function) \w+)"
        rf" \(role {role[0]} running (?P<verb>[A-Z]+)\) \(hint: {hint}\)\n",
        result.stderr,
    )
    assert line, result.stderr
    assert role[1] not in result.stderr
    return line


def test_a_role_without_privileges_is_exit_8_for_every_command(
    taskcli, pg_url, bare_role, isolated
):
    taskcli.ok("db", "migrate", "--database-url", pg_url)
    taskcli.ok("register", "--email", "a@example.com", "--password-stdin", "--database-url",
               pg_url, input=PASSWORD)  # fmt: skip
    token = stored_token(isolated / "data")
    url = as_role(pg_url, bare_role)
    for args in (["list"], ["add", "not written"]):
        result = taskcli(*args, "--database-url", url, env={"TASKCLI_TOKEN": token})
        assert_not_permitted(result, url=url, role=bare_role, hint=GRANT_HINT)
    for command, *rest in (["rotate-key", "--yes"], ["migrate"]):  # refused up front
        result = taskcli("db", command, *rest, "--database-url", url, env={"TASKCLI_TOKEN": token})
        assert (result.exit_code, result.stdout) == (8, ""), result.stderr
        assert result.stderr == (
            f"error: db {command} needs the owner of the taskcli tables; {bare_role[0]} is not"
            " it (hint: ask the database administrator (the owner role) to do it)\n"
        )
    taskcli.ok("add", "the owner still can", "--database-url", pg_url)


def test_migrate_by_a_role_that_may_not_create_tables_is_exit_8(taskcli, pg_url, bare_role):
    url = as_role(pg_url, bare_role)
    result = taskcli("db", "migrate", "--database-url", url)
    assert (result.exit_code, result.stdout) == (8, ""), result.stderr
    assert result.stderr.startswith(
        f"error: db migrate needs the owner of the taskcli tables; {bare_role[0]} is not it"
    )
    as_json = taskcli("db", "migrate", "--database-url", url, "--json")
    assert (as_json.exit_code, as_json.error["code"]) == (8, "not_permitted")
