"""Session tokens: every bad token is exit 3 with one line; logout --all; rotate-key."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa

from taskcli.core import pgsessions
from tests.conftest import PASSWORD, Taskcli
from tests.test_auth import (
    as_owner,
    assert_one_line_error,
    direct,
    login,
    meta_values,
    new_email,
    not_logged_in,
    register,
    rows,
    sessions,
    sign,
    stored_token,
    users,
)
from tests.test_auth import tasks as tasks_table


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _forged(token, url):
    return sign(_claims(token), secrets.token_hex(32))


def _signing_key(token: str, url: str) -> str:
    """What this database's tokens are signed with: its key on SQLite; on PostgreSQL (whose
    key the client never sees) a key derived from the token's own secret."""
    if url.startswith("sqlite"):
        return meta_values(url)["signing_key"]
    return pgsessions.token_key(_claims(token)["sec"])


def _expired(token, url):
    now = int(time.time())
    claims = {**_claims(token), "iat": now - 7200, "exp": now - 3600}
    return sign(claims, _signing_key(token, url))


def _unsigned(token, url):
    return jwt.encode(_claims(token), None, algorithm="none")


def _without_subject(token, url):
    claims = {key: value for key, value in _claims(token).items() if key != "sub"}
    return sign(claims, _signing_key(token, url))


def _odd_claims(**odd):
    """Claims of the wrong type (an unsigned look at them must not crash)."""

    def make(token, url):
        return sign({**_claims(token), **odd}, secrets.token_hex(32))

    return make


def _another_subject(token, url):
    claims = {**_claims(token), "sub": str(uuid.uuid4())}
    return sign(claims, _signing_key(token, url))


def _session_deleted(token, url):
    with direct(url) as conn:
        conn.execute(sessions.delete())
    return token


def _session_expired_in_database(token, url):
    with direct(url) as conn:
        conn.execute(sessions.update().values(expires_at=datetime.now(UTC) - timedelta(hours=1)))
    return token


BAD_TOKENS = {
    "forged": (_forged, "not valid for this database"),
    "expired": (_expired, "your session has expired"),
    "alg-none": (_unsigned, "not valid"),
    "no-sub": (_without_subject, "not valid"),
    "other-sub": (_another_subject, "your session has ended"),
    "sub-a-number": (_odd_claims(sub=12345), "not valid"),
    "jti-a-list": (_odd_claims(jti=["a"]), "not valid"),
    "aud-empty-list": (_odd_claims(aud=[]), "not valid"),
    "session-deleted": (_session_deleted, "your session has ended"),
    "session-expired": (_session_expired_in_database, "your session has expired"),
    "garbage": (lambda token, url: "garbage", "not valid"),
    "three-dots": (lambda token, url: "a.b.c", "not valid"),
    "truncated": (lambda token, url: token[:-5], "not valid"),
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_tokens_are_exit_3_with_one_line(taskcli, user, backend, isolated, kind):
    make, message = BAD_TOKENS[kind]
    token = stored_token(isolated / "data")
    bad = make(token, backend)

    for args in (("whoami",), ("add", "never stored"), ("list",)):
        result = taskcli(*args, env={"TASKCLI_TOKEN": bad})
        assert_one_line_error(result, 3, message)
        assert result.stderr.endswith("(hint: run: taskcli login)\n")
    assert rows(backend, tasks_table) == []


def test_revoked_token_is_exit_3(taskcli, user, isolated):
    token = stored_token(isolated / "data")
    taskcli.ok("logout")
    for args in (("whoami",), ("add", "never stored")):
        result = taskcli(*args, env={"TASKCLI_TOKEN": token})
        assert_one_line_error(result, 3, "your session was logged out")


def _rebuilt_tokens(copy: dict[str, list[dict]]) -> list[str]:
    """Every token an attacker can sign from a copy of the tables: the stored session
    facts with the signing key, and each stored value in the place of the secret."""
    keys = {row["key"]: row["value"] for row in copy["meta"]}
    emails = {row["id"]: row["email"] for row in copy["users"]}
    tokens = []
    for session in copy["sessions"]:
        claims = {
            "sub": str(session["user_id"]), "email": emails[session["user_id"]],
            "jti": str(session["id"]), "aud": keys["database_id"],
            "iat": int(session["created_at"].replace(tzinfo=UTC).timestamp()),
            "exp": int(session["expires_at"].replace(tzinfo=UTC).timestamp()),
        }  # fmt: skip
        guesses = [str(value) for table in copy.values() for row in table for value in row.values()]
        tokens.append(sign(claims, keys["signing_key"]))
        tokens += [sign({**claims, "sec": guess}, keys["signing_key"]) for guess in guesses]
    return tokens


def test_a_copy_of_the_database_rebuilds_no_working_token(taskcli, user, backend, isolated):
    from sqlmodel import SQLModel

    real = stored_token(isolated / "data")
    with direct(backend) as conn:
        names = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        assert names == set(SQLModel.metadata.tables)
        copy = {
            name: [dict(row._mapping) for row in conn.execute(table.select())]
            for name, table in SQLModel.metadata.tables.items()
        }
    rebuilt = _rebuilt_tokens(copy)
    assert len(rebuilt) > 10
    for token in rebuilt:
        assert token != real
        assert_one_line_error(taskcli("whoami", env={"TASKCLI_TOKEN": token}), 3)
    working = taskcli("whoami", "--json", env={"TASKCLI_TOKEN": real})
    assert (working.exit_code, working.json()["email"]) == (0, user)


@pytest.fixture
def second_database(request, backend, tmp_path):
    """Another migrated database of the same kind as ``backend``."""
    if backend.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'second.db'}"
        Taskcli().ok("--database-url", url, "db", "migrate")
        yield url
        return
    pg_server = request.getfixturevalue("pg_server")
    name = f"taskcli_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    Taskcli().ok("--database-url", url, "db", "migrate")
    yield url
    pg_server.drop_database(name)


def test_a_token_works_only_on_its_own_database(taskcli, user, backend, second_database, isolated):
    token_a = stored_token(isolated / "data")
    on_b = ("--database-url", second_database)
    assert register(taskcli, user, PASSWORD, *on_b).exit_code == 0  # same email, other database
    (isolated / "data" / "tokens.json").unlink()
    assert meta_values(backend)["database_id"] != meta_values(second_database)["database_id"]

    result = taskcli(*on_b, "whoami", env={"TASKCLI_TOKEN": token_a})
    foreign = "not valid for" if backend.startswith("sqlite") else "belongs to another database"
    assert_one_line_error(result, 3, foreign)
    result = taskcli(*on_b, "add", "x", env={"TASKCLI_TOKEN": token_a})
    assert_one_line_error(result, 3)
    assert rows(second_database, tasks_table) == []

    # Signed with B's key but addressed to A: the audience alone is refused.
    misaddressed = sign(_claims(token_a), _signing_key(token_a, second_database))
    result = taskcli(*on_b, "whoami", env={"TASKCLI_TOKEN": misaddressed})
    assert_one_line_error(result, 3, "belongs to another database")


def test_stored_tokens_are_kept_per_database(taskcli, user, backend, second_database):
    result = taskcli("--database-url", second_database, "whoami")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == not_logged_in(second_database, accounts_exist=False)
    assert taskcli.ok("whoami", "--json").json()["email"] == user


def test_logout_all_from_another_machine_ends_every_session(taskcli, user, backend, tmp_path):
    laptop = {"TASKCLI_DATA_DIR": str(tmp_path / "laptop")}
    server = {"TASKCLI_DATA_DIR": str(tmp_path / "server")}
    bystander = {"TASKCLI_DATA_DIR": str(tmp_path / "bystander")}
    other_email = new_email()
    assert taskcli("register", "--email", other_email, "--password-stdin",
                   input=PASSWORD + "\n", env=bystander).exit_code == 0  # fmt: skip
    for machine in (laptop, server):
        result = taskcli("login", "--email", user, "--password-stdin",
                         input=PASSWORD + "\n", env=machine)  # fmt: skip
        assert result.exit_code == 0

    plain = taskcli("logout", env=laptop)
    assert plain.stdout == f"logged out {user} (1 session(s) ended)\n"
    assert taskcli.ok("whoami").exit_code == 0, "a plain logout ends only its own session"

    everywhere = taskcli("logout", "--all", "--json", env=server)
    assert everywhere.exit_code == 0
    assert everywhere.json() == {"email": user, "sessions_ended": 2}

    assert_one_line_error(taskcli("whoami"), 3, "your session was logged out")
    assert_one_line_error(taskcli("add", "x"), 3, "your session was logged out")
    (account,) = rows(backend, users, users.c.email == user)
    own = rows(backend, sessions, sessions.c.user_id == account["id"])
    assert len(own) == 3 and all(row["revoked_at"] is not None for row in own)
    assert taskcli("whoami", "--json", env=bystander).json()["email"] == other_email


def test_rotate_key_ends_every_session(taskcli, user, backend, tmp_path):
    other = {"TASKCLI_DATA_DIR": str(tmp_path / "other")}
    assert taskcli("register", "--email", new_email(), "--password-stdin",
                   input=PASSWORD + "\n", env=other).exit_code == 0  # fmt: skip
    before = meta_values(backend)

    rotated = taskcli(*as_owner("db", "rotate-key", "--yes"))
    assert (rotated.exit_code, rotated.stderr) == (0, "")
    assert rotated.stdout == "signing key replaced; 2 session(s) ended\n"

    after = meta_values(backend)
    assert after["signing_key"] != before["signing_key"]
    assert len(after["signing_key"]) == 64
    assert after["database_id"] == before["database_id"]
    assert all(row["revoked_at"] is not None for row in rows(backend, sessions))
    rotated_away = "your session ended (the signing key was rotated)"
    assert_one_line_error(taskcli("whoami"), 3, rotated_away)
    assert_one_line_error(taskcli("whoami", env=other), 3, rotated_away)
    assert_one_line_error(taskcli("add", "x"), 3, rotated_away)

    assert login(taskcli, user).exit_code == 0
    assert taskcli.ok("whoami", "--json").json()["email"] == user


def test_rotate_key_without_yes_and_without_a_terminal_changes_nothing(taskcli, user, backend):
    before = meta_values(backend)
    result = taskcli(*as_owner("db", "rotate-key"))
    assert_one_line_error(result, 2, "add --yes")
    assert meta_values(backend) == before
    assert all(row["revoked_at"] is None for row in rows(backend, sessions))
    assert taskcli.ok("whoami", "--json").json()["email"] == user


def test_token_from_the_environment_overrides_the_stored_one(taskcli, user, tmp_path):
    elsewhere = {"TASKCLI_DATA_DIR": str(tmp_path / "elsewhere")}
    other_email = new_email()
    assert taskcli("register", "--email", other_email, "--password-stdin",
                   input=PASSWORD + "\n", env=elsewhere).exit_code == 0  # fmt: skip
    other_token = stored_token(tmp_path / "elsewhere")

    result = taskcli("whoami", "--json", env={"TASKCLI_TOKEN": other_token})
    assert result.exit_code == 0
    document = result.json()
    assert document["email"] == other_email
    assert document["token_storage"] == "environment (TASKCLI_TOKEN)"

    added = taskcli("add", "as the other user", "--json", env={"TASKCLI_TOKEN": other_token})
    assert added.exit_code == 0
    assert taskcli.ok("list", "--json").json() == []
    assert taskcli.ok("whoami", "--json").json()["email"] == user

    # logout with TASKCLI_TOKEN ends that session and leaves the stored token alone
    taskcli("logout", env={"TASKCLI_TOKEN": other_token})
    assert_one_line_error(taskcli("whoami", env={"TASKCLI_TOKEN": other_token}), 3)
    assert taskcli.ok("whoami", "--json").json()["email"] == user
