"""Accounts: register, login, logout, whoami, input rules, password hashing, session rows.

Token attacks, ``logout --all`` and ``rotate-key`` are in test_auth_tokens.py; where the
token is kept and what never appears in output, in test_auth_storage.py. The helpers at
the top are shared with both.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt
import jwt
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from taskcli import __version__
from taskcli.core import proofs, security
from taskcli.core.models import AuthSession, Meta, Task, User
from taskcli.core.urls import normalize_url, sqlite_path
from tests.conftest import PASSWORD
from tests.support.databases import admin_url, owner_url

users = User.__table__
sessions = AuthSession.__table__
meta = Meta.__table__
tasks = Task.__table__

WHOAMI_KEYS = {"email", "user_id", "profile", "database", "expires_at", "token_storage"}
WRONG_CREDENTIALS = "error: wrong email or password (hint: check the email and password)\n"


# ---- helpers shared by the test_auth*.py files ----------------------------------------------


@contextmanager
def direct(url: str):
    """A connection to the test database that bypasses taskcli (one transaction), as the
    server's superuser on PostgreSQL."""
    engine = sa.create_engine(normalize_url(admin_url(url)), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def as_owner(*args: str) -> tuple[str, ...]:
    """``args`` run as the owner of the database the environment selects (PostgreSQL's
    application role may not run the administrator's commands)."""
    return ("--database-url", owner_url(os.environ["TASKCLI_DATABASE_URL"]), *args)


def rows(url: str, table: sa.Table, *where) -> list[dict]:
    if url.startswith("sqlite") and not Path(sqlite_path(url)).exists():
        return []  # taskcli never opened it: nothing was written
    with direct(url) as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).where(*where))]


def meta_values(url: str) -> dict[str, str]:
    return {row["key"]: row["value"] for row in rows(url, meta)}


def stored_token(data_dir: Path) -> str:
    """The one token in the fallback file of a data directory."""
    tokens = json.loads((data_dir / "tokens.json").read_text())["tokens"]
    assert len(tokens) == 1, tokens
    return next(iter(tokens.values()))


def sign(claims: dict, key: str) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def assert_one_line_error(result, exit_code: int, text: str | None = None) -> None:
    """The documented exit code, nothing on stdout, exactly one line on stderr."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    if text is not None:
        assert text in result.stderr


def first_step_hint(url: str, *, accounts_exist: bool = True) -> str:
    """The hint for a missing login; only the embedded database tells which step is first."""
    if not url.startswith("sqlite"):
        return "run: taskcli register (or taskcli login)"
    return "run: taskcli login" if accounts_exist else "run: taskcli register"


def not_logged_in(url: str, *, accounts_exist: bool = True) -> str:
    return f"error: not logged in (hint: {first_step_hint(url, accounts_exist=accounts_exist)})\n"


def register(taskcli, email: str, password: str = PASSWORD, *args: str):
    return taskcli("register", "--email", email, "--password-stdin", *args, input=password + "\n")


def login(taskcli, email: str, password: str = PASSWORD, *args: str):
    return taskcli("login", "--email", email, "--password-stdin", *args, input=password + "\n")


def redacted(url: str) -> str:
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@") if password else url


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ---- register → whoami → logout → login ----------------------------------------------------


def test_register_whoami_logout_login(taskcli, backend, isolated):
    email = new_email()
    before = _now()
    registered = register(taskcli, email)
    after = _now()
    assert registered.exit_code == 0, registered.stderr
    assert registered.stdout == f"registered and logged in as {email}\n"

    who = taskcli.ok("whoami", "--json")
    document = who.json()
    assert set(document) == WHOAMI_KEYS
    (user,) = rows(backend, users)
    assert document["email"] == email
    assert document["user_id"] == str(user["id"])
    assert document["profile"] == "default"
    assert document["database"] == redacted(backend)
    assert document["token_storage"] == f"file {isolated / 'data' / 'tokens.json'}"
    expires = datetime.strptime(document["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(days=30) <= expires <= after + timedelta(days=30)
    (session,) = rows(backend, sessions)
    assert session["expires_at"].replace(tzinfo=UTC) == expires
    assert who.stderr == ""

    text = taskcli.ok("whoami")
    shown = dict(line.split(":", 1) for line in text.stdout.splitlines())
    assert {key: value.strip() for key, value in shown.items()} == document

    logged_out = taskcli.ok("logout")
    assert logged_out.stdout == f"logged out {email} (1 session(s) ended)\n"
    assert not (isolated / "data" / "tokens.json").exists()
    (session,) = rows(backend, sessions)
    assert session["revoked_at"] is not None

    for args in (("whoami",), ("list",), ("logout",)):
        result = taskcli(*args)
        assert result.exit_code == 3
        assert (result.stdout, result.stderr) == ("", not_logged_in(backend))

    again = login(taskcli, email)
    assert (again.exit_code, again.stdout) == (0, f"logged in as {email}\n")
    assert taskcli.ok("whoami", "--json").json()["email"] == email
    assert len(rows(backend, sessions, sessions.c.revoked_at.is_(None))) == 1


def test_without_a_login_the_hint_names_the_first_step(taskcli, backend):
    for args in (("list",), ("add", "x"), ("whoami",)):
        result = taskcli(*args)
        assert result.exit_code == 3
        assert (result.stdout, result.stderr) == ("", not_logged_in(backend, accounts_exist=False))
    assert "taskcli register" in not_logged_in(backend, accounts_exist=False)
    register(taskcli, new_email())
    taskcli.ok("logout")
    result = taskcli("list")
    assert (result.stdout, result.stderr) == ("", not_logged_in(backend))
    assert "taskcli login" in result.stderr


def test_login_json_is_the_whoami_document(taskcli, user):
    logged_in = login(taskcli, user, PASSWORD, "--json")
    assert logged_in.exit_code == 0
    assert logged_in.json() == taskcli.ok("whoami", "--json").json()


def test_session_days_from_the_profile(taskcli, user, backend, isolated):
    taskcli.ok("config", "set", "session_days", "7")
    before = _now()
    document = login(taskcli, user, PASSWORD, "--json").json()
    after = _now()
    expires = datetime.strptime(document["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(days=7) <= expires <= after + timedelta(days=7)
    assert taskcli.ok("whoami", "--json").json()["expires_at"] == document["expires_at"]
    secret = jwt.decode(stored_token(isolated / "data"), options={"verify_signature": False})["sec"]
    secret_hash = hashlib.sha256(secret.encode()).hexdigest()
    (newest,) = rows(backend, sessions, sessions.c.secret_hash == secret_hash)
    assert newest["expires_at"].replace(tzinfo=UTC) == expires


# ---- input rules -----------------------------------------------------------------------------


def test_email_is_trimmed_and_lower_cased(taskcli, backend):
    result = register(taskcli, "  Mixed.Case@Example.COM \t")
    assert result.exit_code == 0, result.stderr
    assert [row["email"] for row in rows(backend, users)] == ["mixed.case@example.com"]
    assert taskcli.ok("whoami", "--json").json()["email"] == "mixed.case@example.com"
    taskcli.ok("logout")
    assert login(taskcli, " MIXED.case@EXAMPLE.com ").exit_code == 0


@pytest.mark.parametrize(
    "email",
    ["", "   ", "no-at-sign", "two@@example.com", "a@b@example.com", "spa ce@example.com",
     "@example.com", "user@", "x" * 65 + "@example.com"],
)  # fmt: skip
def test_invalid_email_is_exit_5_and_nothing_is_written(taskcli, backend, isolated, email):
    assert_one_line_error(register(taskcli, email), 5, "error: email: ")
    assert rows(backend, users) == []
    assert not (isolated / "data" / "tokens.json").exists()


@pytest.mark.parametrize("length", [0, 7, 1025])
def test_password_length_outside_8_to_1024_is_exit_5_and_nothing_is_written(
    taskcli, backend, isolated, length
):
    assert_one_line_error(register(taskcli, new_email(), "p" * length), 5, "password")
    assert rows(backend, users) == []
    assert not (isolated / "data" / "tokens.json").exists()


@pytest.mark.parametrize("length", [8, 1024])
def test_password_length_limits_are_inclusive(taskcli, backend, length):
    email = new_email()
    password = "é" * length  # characters, not bytes
    assert register(taskcli, email, password).exit_code == 0
    taskcli.ok("logout")
    assert login(taskcli, email, password).exit_code == 0


def test_password_stdin_reads_the_first_line_only(taskcli, backend):
    email = new_email()
    password = "  spaces are kept  "
    result = taskcli(
        "register", "--email", email, "--password-stdin", input=password + "\r\nsecond line\n"
    )
    assert result.exit_code == 0, result.stderr
    taskcli.ok("logout")
    assert_one_line_error(login(taskcli, email, password.strip()), 3)
    assert login(taskcli, email, password).exit_code == 0


@pytest.mark.parametrize("command", ["register", "login"])
def test_without_a_terminal_the_password_needs_password_stdin(taskcli, backend, command):
    result = taskcli(command, "--email", new_email(), input=PASSWORD + "\n")
    assert_one_line_error(result, 2, "use --password-stdin")
    assert rows(backend, users) == []


@pytest.mark.parametrize(
    "args",
    [("--password", PASSWORD), (f"--password={PASSWORD}",), (PASSWORD,)],
    ids=["option", "option=", "argument"],
)
@pytest.mark.parametrize("command", ["register", "login"])
def test_the_password_is_never_an_argument(taskcli, backend, command, args):
    result = taskcli(command, "--email", new_email(), *args, input=PASSWORD + "\n")
    assert_one_line_error(result, 2)
    assert rows(backend, users) == []


# ---- credentials -----------------------------------------------------------------------------


def test_wrong_password_and_unknown_email_look_the_same(taskcli, user, backend):
    wrong_password = login(taskcli, user, "not the password")
    unknown_email = login(taskcli, "nobody@example.com")
    invalid_email = login(taskcli, "not an email")
    for result in (wrong_password, unknown_email, invalid_email):
        assert result.exit_code == 3
        assert (result.stdout, result.stderr) == ("", WRONG_CREDENTIALS)
    assert len(rows(backend, sessions)) == 1  # only the one from register


@pytest.mark.in_process("counts the hashes computed in the test's process")
def test_unknown_email_costs_one_argon2_hash_like_a_known_one(taskcli, user, backend, monkeypatch):
    hashed: list[str] = []
    real = security.hash_with_setting

    def spy(password, setting):
        hashed.append(setting)
        return real(password, setting)

    monkeypatch.setattr(security, "hash_with_setting", spy)
    (stored,) = rows(backend, users)
    assert login(taskcli, user, "not the password").exit_code == 3
    assert hashed == [stored["password_setting"]]
    for unknown in ("nobody@example.com", "not an email"):
        hashed.clear()
        assert login(taskcli, unknown).exit_code == 3
        (setting,) = hashed
        assert setting.startswith(security.PASSWORD_SETTING)
        assert security.SETTING_RE.match(setting) and len(setting) == len(
            stored["password_setting"]
        )


def test_the_dummy_setting_has_the_parameters_of_new_hashes():
    fresh = security.password_context().hash("any password")
    # $argon2id$v=19$m=…,t=…,p=…$salt$hash: everything but salt and digest must agree
    assert security.PASSWORD_SETTING == "$".join(fresh.split("$")[:4]) + "$"
    assert security.DUMMY_SETTING.startswith(security.PASSWORD_SETTING)
    assert not security.needs_new_setting(security.setting_of(fresh))


def test_no_password_hash_is_stored_only_its_setting_and_verifier(taskcli, user, backend):
    (stored,) = rows(backend, users)
    assert "password_hash" not in stored
    setting, verifier = stored["password_setting"], stored["password_verifier"]
    password_hash = security.hash_with_setting(PASSWORD, setting)
    assert password_hash.startswith(setting + "$") and password_hash not in str(stored)
    assert verifier == proofs.verifier(password_hash)


def _legacy_bcrypt(backend: str, password: bytes) -> str:
    legacy = bcrypt.hashpw(password, bcrypt.gensalt(rounds=4)).decode()
    with direct(backend) as conn:
        conn.execute(users.update().values(password_setting=legacy[:29],
                                           password_verifier=proofs.verifier(legacy)))  # fmt: skip
    return legacy


def test_bcrypt_hash_verifies_and_is_rehashed_to_argon2(taskcli, user, backend):
    legacy = _legacy_bcrypt(backend, PASSWORD.encode())

    assert_one_line_error(login(taskcli, user, "not the password"), 3)
    assert rows(backend, users)[0]["password_setting"] == legacy[:29]

    assert login(taskcli, user).exit_code == 0
    rehashed = rows(backend, users)[0]["password_setting"]
    assert rehashed.startswith(security.PASSWORD_SETTING)
    assert login(taskcli, user).exit_code == 0
    assert rows(backend, users)[0]["password_setting"] == rehashed


def test_bcrypt_hash_of_a_long_password_still_verifies(taskcli, user, backend):
    """bcrypt only ever read the first 72 bytes; bcrypt >= 5 refuses longer input."""
    password = "long password " * 8  # 112 bytes
    _legacy_bcrypt(backend, password.encode()[:72])

    assert_one_line_error(login(taskcli, user, "x" * 100), 3)
    assert login(taskcli, user, password).exit_code == 0
    assert rows(backend, users)[0]["password_setting"].startswith("$argon2")
    # the new hash is of the whole password, not of the 72 bytes bcrypt saw
    assert_one_line_error(login(taskcli, user, password[:72]), 3)
    assert login(taskcli, user, password).exit_code == 0


@pytest.mark.parametrize("email", ["user@example.com", "USER@example.com", " user@Example.com "])
def test_duplicate_email_is_exit_5(taskcli, backend, email):
    assert register(taskcli, "user@example.com").exit_code == 0
    result = register(taskcli, email, "another password")
    assert_one_line_error(result, 5, "already exists")
    assert [row["email"] for row in rows(backend, users)] == ["user@example.com"]
    assert len(rows(backend, sessions)) == 1
    assert taskcli.ok("whoami", "--json").json()["email"] == "user@example.com"


@pytest.mark.parametrize("known", [True, False], ids=["known-email", "unknown-email"])
def test_overlong_login_password_is_wrong_credentials(taskcli, user, known):
    result = login(taskcli, user if known else "nobody@example.com", "x" * 5000)
    assert result.exit_code == 3
    assert (result.stdout, result.stderr) == ("", WRONG_CREDENTIALS)


# ---- the sessions table ----------------------------------------------------------------------


def test_session_row_holds_the_secret_hash_and_client_never_the_token(
    taskcli, user, backend, isolated
):
    token = stored_token(isolated / "data")
    claims = jwt.decode(token, options={"verify_signature": False})
    (session,) = rows(backend, sessions)
    (account,) = rows(backend, users)

    assert session["secret_hash"] == hashlib.sha256(claims["sec"].encode()).hexdigest()
    assert str(session["id"]) == claims["jti"]
    assert str(session["user_id"]) == claims["sub"] == str(account["id"])
    assert claims["email"] == user
    assert claims["aud"] == meta_values(backend)["database_id"]
    assert session["expires_at"].replace(tzinfo=UTC).timestamp() == claims["exp"]
    assert session["client"] == f"{socket.gethostname()} taskcli/{__version__}"
    assert session["revoked_at"] is None

    with direct(backend) as conn:
        everything = [
            str(value)
            for table in sa.inspect(conn).get_table_names()
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))
            for value in row
        ]
    assert everything and not any(token in value for value in everything)
    assert not any(part in value for part in token.split(".")[1:] for value in everything)
    assert not any(claims["sec"] in value for value in everything)
    if backend.startswith("sqlite"):
        files = Path(sqlite_path(backend)).parent.glob(Path(sqlite_path(backend)).name + "*")
        assert not any(token.encode() in file.read_bytes() for file in files)


def test_logout_after_the_session_ended_forgets_the_dead_token(taskcli, user):
    taskcli.ok(*as_owner("db", "rotate-key", "--yes"))
    assert taskcli("whoami").exit_code == 3
    result = taskcli("logout")
    assert result.exit_code == 0
    assert "already ended" in result.stderr
    again = taskcli("logout")
    assert again.exit_code == 3
    assert "not logged in" in again.stderr


def test_logging_in_again_ends_the_replaced_session(taskcli, user, backend):
    first = taskcli.ok("whoami", "--json").json()
    taskcli.ok("login", "--email", user, "--password-stdin", input=PASSWORD + "\n")
    sessions = rows(backend, AuthSession.__table__)
    assert len(sessions) == 2
    assert [s["revoked_at"] is None for s in sessions].count(True) == 1
    assert taskcli.ok("whoami", "--json").json()["user_id"] == first["user_id"]
