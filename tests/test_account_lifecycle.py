"""The account lifecycle through the CLI (SPEC §18), on SQLite and on PostgreSQL as the
application role: passwd, sessions, auth token, account email/delete, and the owner's
db users/lock/unlock/reset-password with login --reset-code.

A second "machine" is a second data directory logged in to the same account.
"""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from taskcli.core.authentication import ENDED
from tests.support.accounts import PASSWORD, create_logged_in_user
from tests.support.databases import admin_url, owner_url
from tests.test_auth import stored_token

NEW_PASSWORD = "a brand new passphrase"
PER_USER = ("tasks", "counters", "contexts", "journal", "journal_tasks", "sessions")


@pytest.fixture
def other_machine(tmp_path):
    return {"TASKCLI_DATA_DIR": str(tmp_path / "other-machine")}


def _login(taskcli, email, password=PASSWORD, env=None):
    return taskcli("login", "-e", email, "--password-stdin", input=f"{password}\n", env=env)


def _owner(backend: str) -> list[str]:
    """The global option that runs an owner command (SQLite: the file's owner, as is)."""
    return [] if backend.startswith("sqlite") else ["--database-url", owner_url(backend)]


def _sql(backend: str, statement: str, params=()) -> list[tuple]:
    """What is really in the database (SQLite's file, PostgreSQL as the superuser)."""
    if backend.startswith("sqlite"):
        with closing(sqlite3.connect(backend.removeprefix("sqlite:///"))) as conn:
            rows = conn.execute(statement.replace("%s", "?"), params).fetchall()
            conn.commit()
            return rows
    with closing(psycopg2.connect(admin_url(backend))) as conn, conn.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall() if cursor.description else []
        conn.commit()
        return rows


def _user_id(backend: str, email: str) -> str:
    [(user_id,)] = _sql(backend, "SELECT id FROM users WHERE email = %s", (email,))
    return str(uuid.UUID(str(user_id)))


def _id_param(backend: str, user_id: str) -> str:
    return uuid.UUID(user_id).hex if backend.startswith("sqlite") else user_id


# ---- passwd -------------------------------------------------------------------------------


def test_passwd_ends_every_other_session_and_this_one_goes_on(taskcli, user, other_machine):
    assert _login(taskcli, user, env=other_machine).exit_code == 0
    taskcli.ok("add", "before")
    changed = taskcli("passwd", "--password-stdin", "--json",
                      input=f"{PASSWORD}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    assert changed.json() == {"email": user, "sessions_ended": 1}
    assert taskcli("list").exit_code == 0  # this machine's session continues
    other = taskcli("list", env=other_machine)
    assert other.exit_code == 3
    assert ENDED["password"] in other.stderr
    assert _login(taskcli, user, env=other_machine).exit_code == 3  # the old password
    assert _login(taskcli, user, NEW_PASSWORD, env=other_machine).exit_code == 0


def test_passwd_with_a_wrong_current_password_changes_nothing(taskcli, user, other_machine):
    assert _login(taskcli, user, env=other_machine).exit_code == 0
    wrong = taskcli("passwd", "--password-stdin", input=f"not my password\n{NEW_PASSWORD}\n")
    assert wrong.exit_code == 3
    assert wrong.stderr.startswith("error: wrong password")
    assert taskcli("list", env=other_machine).exit_code == 0
    assert _login(taskcli, user, NEW_PASSWORD).exit_code == 3
    assert _login(taskcli, user).exit_code == 0


@pytest.mark.parametrize("new", ["short", "x" * 1025])
def test_passwd_keeps_the_password_rules(taskcli, user, new):
    refused = taskcli("passwd", "--password-stdin", input=f"{PASSWORD}\n{new}\n")
    assert refused.exit_code == 5
    assert "password: must be 8 to 1024 characters" in refused.stderr
    assert _login(taskcli, user).exit_code == 0


def test_passwd_without_a_terminal_or_stdin_lines_is_refused(taskcli, user):
    assert taskcli("passwd").exit_code == 2
    missing = taskcli("passwd", "--password-stdin", input=f"{PASSWORD}\n")
    assert missing.exit_code == 5
    assert "new password: nothing on stdin" in missing.stderr


def test_passwd_needs_a_login(taskcli, backend):
    assert taskcli("passwd", "--password-stdin", input="a\nb\n").exit_code == 3


# ---- sessions -----------------------------------------------------------------------------


def test_sessions_lists_the_live_ones_and_marks_this_machine(taskcli, user, other_machine):
    assert _login(taskcli, user, env=other_machine).exit_code == 0
    listed = taskcli.ok("sessions", "--json").json()
    assert [set(entry) for entry in listed] == [
        {"id", "client", "created_at", "expires_at", "current"}
    ] * 2
    assert sorted(entry["current"] for entry in listed) == [False, True]
    assert all("taskcli/" in entry["client"] for entry in listed)
    text = taskcli.ok("sessions").stdout.splitlines()
    assert len(text) == 2
    mine = next(entry for entry in listed if entry["current"])
    assert any(line.startswith(f"* {uuid.UUID(mine['id']).hex[:8]}") for line in text)


def test_sessions_revoke_ends_exactly_the_named_one(taskcli, user, other_machine, tmp_path):
    third = {"TASKCLI_DATA_DIR": str(tmp_path / "third")}
    assert _login(taskcli, user, env=other_machine).exit_code == 0
    assert _login(taskcli, user, env=third).exit_code == 0
    other = next(e for e in taskcli.ok("sessions", "--json", env=other_machine).json()
                 if e["current"])  # fmt: skip
    revoked = taskcli("sessions", "revoke", other["id"][:8], "--json")
    assert revoked.exit_code == 0, revoked.stderr
    assert [entry["id"] for entry in revoked.json()["revoked"]] == [other["id"]]
    ended = taskcli("list", env=other_machine)
    assert ended.exit_code == 3 and ENDED["revoked"] in ended.stderr
    assert taskcli("list", env=third).exit_code == 0
    assert taskcli("list").exit_code == 0
    assert len(taskcli.ok("sessions", "--json").json()) == 2


def test_sessions_revoke_is_all_or_nothing(taskcli, user, other_machine, tmp_path):
    assert _login(taskcli, user, env=other_machine).exit_code == 0
    other = next(e for e in taskcli.ok("sessions", "--json", env=other_machine).json()
                 if e["current"])  # fmt: skip
    unknown = taskcli("sessions", "revoke", other["id"][:8], "0123456789ab")
    assert unknown.exit_code == 4
    assert unknown.stderr.startswith("error: no live session 0123456789ab")
    assert taskcli("list", env=other_machine).exit_code == 0
    for bad in ("abc12", "not-hex!", ""):
        refused = taskcli("sessions", "revoke", bad)
        assert refused.exit_code == 5, (bad, refused.stderr)
        assert "not a prefix of at least 6 hex digits" in refused.stderr
    assert taskcli("list", env=other_machine).exit_code == 0


def test_sessions_revoke_of_another_users_session_is_not_found(taskcli, user, tmp_path):
    stranger = {"TASKCLI_DATA_DIR": str(tmp_path / "stranger")}
    create_logged_in_user(env=stranger)
    theirs = taskcli.ok("sessions", "--json", env=stranger).json()[0]["id"]
    refused = taskcli("sessions", "revoke", theirs)
    assert refused.exit_code == 4
    assert taskcli("list", env=stranger).exit_code == 0


def test_revoking_this_machines_session_forgets_its_token(taskcli, user, tmp_path):
    mine = taskcli.ok("sessions", "--json").json()[0]["id"]
    revoked = taskcli("sessions", "revoke", mine)
    assert revoked.exit_code == 0
    assert "this machine's" in revoked.stdout
    after = taskcli("list")
    assert after.exit_code == 3
    assert after.stderr.startswith("error: not logged in")


# ---- auth token ---------------------------------------------------------------------------


def test_auth_token_prints_this_machines_token_for_scripts(taskcli, user, tmp_path):
    printed = taskcli("auth", "token")
    assert printed.exit_code == 0
    token = printed.stdout.strip()
    assert token == stored_token(tmp_path / "data")
    assert taskcli.ok("auth", "token", "--json").json() == {"token": token}
    elsewhere = {"TASKCLI_DATA_DIR": str(tmp_path / "ci"), "TASKCLI_TOKEN": token}
    assert taskcli.ok("whoami", "--json", env=elsewhere).json()["email"] == user


def test_auth_token_of_an_ended_session_is_refused(taskcli, user):
    taskcli.ok("sessions", "revoke", taskcli.ok("sessions", "--json").json()[0]["id"])
    assert taskcli("auth", "token").exit_code == 3


# ---- account email ------------------------------------------------------------------------


def test_account_email_changes_the_login_email(taskcli, user, other_machine):
    new = f"renamed-{uuid.uuid4().hex[:6]}@example.com"
    changed = taskcli("account", "email", new.upper(), "--password-stdin", "--json",
                      input=f"{PASSWORD}\n")  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    assert changed.json() == {"email": new}
    assert taskcli.ok("whoami", "--json").json()["email"] == new
    assert _login(taskcli, user, env=other_machine).exit_code == 3
    assert _login(taskcli, new, env=other_machine).exit_code == 0


def test_account_email_refuses_a_taken_email_a_bad_one_and_a_wrong_password(
    taskcli, user, tmp_path
):
    taken = create_logged_in_user(env={"TASKCLI_DATA_DIR": str(tmp_path / "b")})
    refused = taskcli("account", "email", taken, "--password-stdin", input=f"{PASSWORD}\n")
    assert refused.exit_code == 5
    assert "already exists" in refused.stderr
    bad = taskcli("account", "email", "not an email", "--password-stdin", input=f"{PASSWORD}\n")
    assert bad.exit_code == 5
    wrong = taskcli("account", "email", "free@example.com", "--password-stdin",
                    input="wrong password\n")  # fmt: skip
    assert wrong.exit_code == 3
    assert taskcli.ok("whoami", "--json").json()["email"] == user
    assert _login(taskcli, taken, env={"TASKCLI_DATA_DIR": str(tmp_path / "c")}).exit_code == 0


# ---- account delete -----------------------------------------------------------------------


def _rows_of(backend: str, user_id: str) -> dict[str, int]:
    key = _id_param(backend, user_id)
    counts = {
        table: _sql(backend, f"SELECT count(*) FROM {table} WHERE user_id = %s", (key,))[0][0]
        for table in PER_USER
    }
    counts["users"] = _sql(backend, "SELECT count(*) FROM users WHERE id = %s", (key,))[0][0]
    return counts


def test_account_delete_removes_every_row_and_ends_every_token(
    taskcli, backend, user, other_machine, tmp_path
):
    stranger_env = {"TASKCLI_DATA_DIR": str(tmp_path / "stranger")}
    create_logged_in_user(env=stranger_env)
    taskcli.ok("add", "theirs", env=stranger_env)
    assert _login(taskcli, user, env=other_machine).exit_code == 0
    for title in ("one", "two"):
        taskcli.ok("add", title)
    taskcli.ok("annotate", "1", "a note")
    taskcli.ok("context", "define", "home", "--project", "home")
    user_id = _user_id(backend, user)
    assert all(count > 0 for count in _rows_of(backend, user_id).values())
    deleted = taskcli("account", "delete", "--yes", "--password-stdin", "--json",
                      input=f"{PASSWORD}\n")  # fmt: skip
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.json() == {"email": user, "tasks_deleted": 2}
    assert _rows_of(backend, user_id) == dict.fromkeys([*PER_USER, "users"], 0)
    assert taskcli("list", env=other_machine).exit_code == 3
    assert taskcli("list").stderr.startswith("error: not logged in")
    assert _login(taskcli, user).exit_code == 3
    assert [t["title"] for t in taskcli.ok("list", "--json", env=stranger_env).json()] == ["theirs"]


def test_account_delete_asks_and_needs_the_password(taskcli, backend, user):
    taskcli.ok("add", "kept")
    assert taskcli("account", "delete", "--password-stdin", input=f"{PASSWORD}\n").exit_code == 2
    wrong = taskcli("account", "delete", "--yes", "--password-stdin", input="wrong password\n")
    assert wrong.exit_code == 3
    assert [t["title"] for t in taskcli.ok("list", "--json").json()] == ["kept"]
    assert _rows_of(backend, _user_id(backend, user))["users"] == 1


# ---- the owner's user commands ------------------------------------------------------------


def test_db_users_lists_accounts_without_their_contents(taskcli, backend, user):
    taskcli.ok("add", "a very private title", "-d", "private description")
    listed = taskcli("db", "users", "--json", *_owner(backend))
    assert listed.exit_code == 0, listed.stderr
    [entry] = [entry for entry in listed.json() if entry["email"] == user]
    assert set(entry) == {"email", "created_at", "last_login_at", "task_count", "locked"}
    assert entry["task_count"] == 1 and entry["locked"] is False
    assert entry["created_at"].endswith("Z") and entry["last_login_at"].endswith("Z")
    text = taskcli.ok("db", "users", *_owner(backend)).stdout
    assert user in text
    for output in (listed.stdout, text):
        assert "private" not in output and "argon2" not in output


def test_db_lock_ends_the_sessions_and_blocks_login(taskcli, backend, user, other_machine):
    locked = taskcli("db", "lock", user, "--json", *_owner(backend))
    assert locked.exit_code == 0, locked.stderr
    assert locked.json() == {"email": user, "locked": True, "sessions_ended": 1}
    ended = taskcli("list")
    assert ended.exit_code == 3 and ENDED["locked"] in ended.stderr
    refused = _login(taskcli, user, env=other_machine)
    assert refused.exit_code == 3
    assert refused.stderr.startswith("error: this account is locked")
    # without the password nobody learns that it is locked
    wrong = _login(taskcli, user, "not the password", env=other_machine)
    assert wrong.stderr.startswith("error: wrong email or password")
    assert [e["locked"] for e in taskcli.ok("db", "users", "--json", *_owner(backend)).json()
            if e["email"] == user] == [True]  # fmt: skip
    assert taskcli("db", "unlock", user, *_owner(backend)).exit_code == 0
    assert _login(taskcli, user, env=other_machine).exit_code == 0


def test_db_lock_of_an_unknown_email_is_not_found(taskcli, backend, user):
    for command in ("lock", "unlock", "reset-password"):
        missing = taskcli("db", command, "nobody@example.com", *_owner(backend))
        assert missing.exit_code == 4, (command, missing.stderr)


def test_reset_code_sets_a_new_password_once(taskcli, backend, user, other_machine, tmp_path):
    reset = taskcli("db", "reset-password", user, "--json", *_owner(backend))
    assert reset.exit_code == 0, reset.stderr
    document = reset.json()
    assert set(document) == {"email", "code", "expires_at"}
    expires = datetime.fromisoformat(document["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(days=1)
    code = document["code"]
    short = taskcli("login", "-e", user, "--reset-code", "--password-stdin",
                    input=f"{code}\nshort\n", env=other_machine)  # fmt: skip
    assert short.exit_code == 5 and "password: must be 8 to 1024" in short.stderr
    stored = _sql(backend, "SELECT reset_code_hash FROM users WHERE email = %s", (user,))
    assert code.replace("-", "") not in repr(stored)  # only its hash is kept
    assert _login(taskcli, user, env=other_machine).exit_code == 0  # the password still works
    fresh = {"TASKCLI_DATA_DIR": str(tmp_path / "fresh")}
    used = taskcli("login", "-e", user, "--reset-code", "--password-stdin", "--json",
                   input=f"{code.upper()}\n{NEW_PASSWORD}\n", env=fresh)  # fmt: skip
    assert used.exit_code == 0, used.stderr
    assert used.json()["email"] == user
    assert taskcli("list", env=fresh).exit_code == 0
    for env in (None, other_machine):  # every earlier session ended
        ended = taskcli("list", env=env)
        assert ended.exit_code == 3 and ENDED["reset"] in ended.stderr
    assert _login(taskcli, user).exit_code == 3
    assert _login(taskcli, user, NEW_PASSWORD).exit_code == 0
    again = taskcli("login", "-e", user, "--reset-code", "--password-stdin",
                    input=f"{code}\nyet another password\n", env=fresh)  # fmt: skip
    assert again.exit_code == 3
    assert "reset code" in again.stderr


def test_a_wrong_or_expired_reset_code_is_refused(taskcli, backend, user):
    code = taskcli.ok("db", "reset-password", user, "--json", *_owner(backend)).json()["code"]
    wrong = taskcli("login", "-e", user, "--reset-code", "--password-stdin",
                    input=f"{'0' * 24}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert wrong.exit_code == 3
    _sql(backend, "UPDATE users SET reset_expires_at = %s WHERE email = %s",
         ("2000-01-01 00:00:00+00:00", user))  # fmt: skip
    expired = taskcli("login", "-e", user, "--reset-code", "--password-stdin",
                      input=f"{code}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert expired.exit_code == 3
    assert _login(taskcli, user).exit_code == 0
    unknown = taskcli("login", "-e", "nobody@example.com", "--reset-code", "--password-stdin",
                      input=f"{code}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert unknown.exit_code == 3
    assert unknown.stderr == expired.stderr


@pytest.mark.postgres
def test_owner_commands_refuse_the_application_role(taskcli, pg_app_url, monkeypatch):
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_app_url)
    email = create_logged_in_user()
    for command in (["users"], ["lock", email], ["unlock", email], ["reset-password", email]):
        refused = taskcli("db", *command)
        assert refused.exit_code == 8, (command, refused.stderr)
        assert "needs the owner of the taskcli tables" in refused.stderr
    assert taskcli("list").exit_code == 0


@pytest.mark.postgres
def test_reset_codes_are_throttled_like_passwords(taskcli, pg_app_url, monkeypatch):
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_app_url)
    email = create_logged_in_user()
    code = taskcli.ok("db", "reset-password", email, "--json",
                      "--database-url", owner_url(pg_app_url)).json()["code"]  # fmt: skip
    for _ in range(5):
        wrong = taskcli("login", "-e", email, "--reset-code", "--password-stdin",
                        input=f"{'1' * 24}\n{NEW_PASSWORD}\n")  # fmt: skip
        assert wrong.exit_code == 3
    assert _sql(pg_app_url, "SELECT failures, locked_until IS NOT NULL FROM login_failures") == [
        (5, True)
    ]
    _sql(pg_app_url, "UPDATE login_failures SET locked_until = now() + interval '1 minute'")
    throttled = taskcli("login", "-e", email, "--reset-code", "--password-stdin",
                        input=f"{code}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert throttled.exit_code == 3
    assert "too many failed logins" in throttled.stderr
    _sql(pg_app_url, "UPDATE login_failures SET locked_until = NULL")
    used = taskcli("login", "-e", email, "--reset-code", "--password-stdin",
                   input=f"{code}\n{NEW_PASSWORD}\n")  # fmt: skip
    assert used.exit_code == 0, used.stderr  # the right code once the lock is over


def test_a_reset_for_an_unknown_email_costs_what_a_wrong_code_costs(
    taskcli, backend, user, monkeypatch
):
    from taskcli.core import security

    taskcli.ok("db", "reset-password", user, *_owner(backend))
    hashed: list[str] = []
    for name in ("hash_with_setting", "hash_password"):
        real = getattr(security, name)

        def spy(*args, _real=real, _name=name):
            hashed.append(_name)
            return _real(*args)

        monkeypatch.setattr(security, name, spy)
    results = []
    for email in (user, "nobody@example.com"):
        hashed.clear()
        results.append(
            taskcli(
                "login",
                "-e",
                email,
                "--reset-code",
                "--password-stdin",
                input=f"{'2' * 24}\n{NEW_PASSWORD}\n",
            )  # fmt: skip
        )
        results.append(list(hashed))
    wrong_code, wrong_work, unknown, unknown_work = results
    assert wrong_code.exit_code == unknown.exit_code == 3
    assert wrong_code.stderr == unknown.stderr
    assert wrong_work == unknown_work


@pytest.mark.postgres
def test_wrong_current_passwords_are_throttled_like_logins(taskcli, pg_app_url, monkeypatch):
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_app_url)
    email = create_logged_in_user()
    attempts = [
        ("passwd", "--password-stdin"),
        ("account", "email", "new@example.com", "--password-stdin"),
        ("account", "delete", "--yes", "--password-stdin"),
    ]
    for index in range(5):
        args = attempts[index % 3]
        wrong = taskcli(*args, input=f"not the password\n{NEW_PASSWORD}\n")
        assert wrong.exit_code == 3 and wrong.stderr.startswith("error: wrong password"), args
    # counted as login failures are: the fifth locks the email (for 1 s, then 2, 4 … 60)
    [(failures, locked)] = _sql(
        pg_app_url, "SELECT failures, locked_until IS NOT NULL FROM login_failures"
    )
    assert (failures, locked) == (5, True)
    _sql(pg_app_url, "UPDATE login_failures SET locked_until = now() + interval '1 minute'")
    for args in attempts:  # while locked, even the right password is not checked
        throttled = taskcli(*args, input=f"{PASSWORD}\n{NEW_PASSWORD}\n")
        assert throttled.exit_code == 3
        assert "too many failed logins" in throttled.stderr
    assert _login(taskcli, email).stderr.startswith("error: too many failed logins")
    assert taskcli("list").exit_code == 0  # the session itself goes on
