"""Where the session token lives (Secret Service, 0600 file), and what never reaches output."""

from __future__ import annotations

import hashlib
import json
import resource
import secrets
import signal
import stat
import subprocess
import sys
from urllib.parse import urlsplit

import jwt
import pytest

from taskcli.core.token_store import TokenStore
from taskcli.core.urls import database_key
from tests.conftest import PASSWORD, Result, run_process
from tests.test_auth import (
    first_step_hint,
    login,
    meta_values,
    new_email,
    register,
    rows,
    sessions,
    stored_token,
)

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"


# ---- the OS keyring --------------------------------------------------------------------------


def test_secret_service_keeps_the_token(secret_service, backend, isolated):
    env = {**secret_service.env, "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND}
    entry = TokenStore(
        data_dir=isolated / "data", profile="default",
        database_key=database_key(backend), warn=pytest.fail,
    ).entry  # fmt: skip
    email = new_email()

    registered = run_process(
        "register", "--email", email, "--password-stdin", input=PASSWORD + "\n", env=env
    )
    assert (registered.exit_code, registered.stderr) == (0, ""), registered.stderr
    assert not (isolated / "data" / "tokens.json").exists()
    token = secret_service.lookup(service="taskcli", username=entry)
    assert token is not None
    (session,) = rows(backend, sessions)
    secret = jwt.decode(token, options={"verify_signature": False})["sec"]
    assert session["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()

    who = run_process("whoami", "--json", env=env)
    assert (who.exit_code, who.stderr) == (0, "")
    document = who.json()
    assert document["email"] == email
    assert document["token_storage"].startswith("keyring (")
    assert "SecretService" in document["token_storage"]

    added = run_process("add", "kept in the keyring", env=env)
    assert (added.exit_code, added.stdout, added.stderr) == (0, "1\n", "")
    listed = run_process("list", "--json", env=env)
    assert [task["title"] for task in listed.json()] == ["kept in the keyring"]

    # Without the Secret Service the same data dir holds no token.
    assert run_process("whoami").exit_code == 3

    logged_out = run_process("logout", env=env)
    assert (logged_out.exit_code, logged_out.stderr) == (0, "")
    assert secret_service.lookup(service="taskcli", username=entry) is None
    assert rows(backend, sessions)[0]["revoked_at"] is not None
    assert run_process("whoami", env=env).exit_code == 3


# ---- the file fallback -----------------------------------------------------------------------


def test_file_fallback_is_private_and_announced_once(taskcli, backend, isolated):
    path = isolated / "data" / "tokens.json"
    email = new_email()

    registered = register(taskcli, email)
    assert registered.exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert registered.stderr.count("\n") == 1
    assert registered.stderr.startswith("warning: OS keyring not usable")
    assert f"stored in {path}" in registered.stderr

    for args in (("whoami",), ("add", "a task"), ("list",), ("whoami", "--json")):
        result = taskcli(*args)
        assert (result.exit_code, result.stderr) == (0, ""), args

    assert taskcli.ok("logout").stderr == ""
    assert not path.exists()
    relogged = login(taskcli, email)
    assert (relogged.exit_code, relogged.stderr) == (0, "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    elsewhere = {"TASKCLI_DATA_DIR": str(isolated / "elsewhere")}
    result = taskcli("login", "--email", email, "--password-stdin",
                     input=PASSWORD + "\n", env=elsewhere)  # fmt: skip
    assert result.stderr.startswith("warning: OS keyring not usable")


def _live_sessions(url: str) -> list[dict]:
    return rows(url, sessions, sessions.c.revoked_at.is_(None))


def _assert_still_logged_in_as_before(taskcli, backend, before: dict, result) -> None:
    assert (result.exit_code, result.stdout) == (6, ""), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert taskcli.ok("whoami", "--json").json() == before
    assert len(_live_sessions(backend)) == 1  # the new session was ended, the old one lives


def test_a_token_file_that_cannot_be_locked_leaves_the_previous_session(taskcli, backend, isolated):
    email = new_email()
    register(taskcli, email)
    before = taskcli.ok("whoami", "--json").json()
    lock = isolated / "data" / "tokens.json.lock"
    lock.unlink()
    lock.mkdir()  # the token file can still be read, but not rewritten
    result = login(taskcli, email)
    assert result.stderr.startswith(f"error: cannot lock {lock}: Is a directory (hint: ")
    _assert_still_logged_in_as_before(taskcli, backend, before, result)


def _tiny_file_size_limit() -> None:
    """In the child: writing more than 64 bytes to any file fails (EFBIG), as on a full
    disk; the PostgreSQL server, another process, is not affected."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_login_whose_token_cannot_be_saved_leaves_the_previous_session(
    taskcli, backend, isolated
):
    email = new_email()
    register(taskcli, email)
    before = taskcli.ok("whoami", "--json").json()
    completed = subprocess.run(
        [sys.executable, "-m", "taskcli", "login", "--email", email, "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=120,
        preexec_fn=_tiny_file_size_limit,
    )  # fmt: skip
    result = Result(completed.returncode, completed.stdout, completed.stderr)
    token_file = isolated / "data" / "tokens.json"
    assert result.stderr.startswith(f"error: cannot write {token_file}: File too large")
    _assert_still_logged_in_as_before(taskcli, backend, before, result)


# ---- secrets never appear --------------------------------------------------------------------


def test_no_secret_appears_in_any_output(taskcli, backend, isolated):
    email = new_email()
    wrong_password = "wrong horse battery staple"
    outputs: list[str] = []

    def run(*args: str, input: str | None = None, env: dict | None = None):
        result = taskcli("--verbose", *args, input=input, env=env)
        outputs.extend([result.stdout, result.stderr])
        return result

    credentials = ("--email", email, "--password-stdin")
    assert run("register", *credentials, input=PASSWORD + "\n").exit_code == 0
    token = stored_token(isolated / "data")
    assert run("whoami").exit_code == 0
    assert run("whoami", "--json").exit_code == 0
    assert run("add", "a task").exit_code == 0
    assert run("list", "--json").exit_code == 0
    assert run("logout").exit_code == 0

    failed = run("login", *credentials, input=wrong_password + "\n")
    assert failed.exit_code == 3
    assert "Traceback" in failed.stderr  # --verbose shows it; it must still hold no secret
    assert run("login", *credentials, input=PASSWORD + "\n").exit_code == 0
    second_token = stored_token(isolated / "data")
    claims = jwt.decode(second_token, options={"verify_signature": False})
    forged = jwt.encode(claims, secrets.token_hex(32), algorithm="HS256")
    assert run("whoami", env={"TASKCLI_TOKEN": forged}).exit_code == 3
    assert run("logout", "--all").exit_code == 0
    assert run("whoami").exit_code == 3

    forbidden = {
        "password": PASSWORD,
        "wrong password": wrong_password,
        "token": token,
        "token signature": token.rsplit(".", 1)[1],
        "second token": second_token,
        "forged token": forged,
        "signing key": meta_values(backend)["signing_key"],
    }
    database_password = urlsplit(backend).password
    if database_password:
        forbidden["database password"] = database_password
        bad_url = backend.replace(f":{database_password}@", ":not-the-db-password@")
        refused = run("--database-url", bad_url, "login", *credentials, input=PASSWORD + "\n")
        assert refused.exit_code == 6
        forbidden["wrong database password"] = "not-the-db-password"
    everything = "\n".join(outputs)
    for name, secret in forbidden.items():
        assert secret not in everything, f"the {name} appeared in the output"


# ---- --json errors ---------------------------------------------------------------------------


def _json_error_cases(email: str) -> list[tuple[tuple[str, ...], str | None, int, str]]:
    stdin = PASSWORD + "\n"
    return [
        (("whoami", "--json"), None, 3, "auth"),
        (("logout", "--json"), None, 3, "auth"),
        (("login", "--json", "--email", email, "--password-stdin"), "wrong one\n", 3, "auth"),
        (("login", "--json", "--email", "x@example.com", "--password-stdin"), stdin, 3, "auth"),
        (("register", "--json", "--email", "nope", "--password-stdin"), stdin, 5, "invalid_input"),
        (("register", "--json", "--email", email, "--password-stdin"), "short\n", 5,
         "invalid_input"),
        (("register", "--json", "--email", email.upper(), "--password-stdin"), stdin, 5,
         "conflict"),
        (("register", "--json", "--email", email, "--password", PASSWORD), None, 2, "usage"),
        (("login", "--json", "--email", email), stdin, 2, "usage"),
        (("db", "rotate-key", "--json"), None, 2, "usage"),
    ]  # fmt: skip


def test_json_errors_go_to_stderr_as_one_document(taskcli, backend):
    email = new_email()
    assert register(taskcli, email).exit_code == 0
    taskcli.ok("logout")

    for args, stdin, exit_code, code in _json_error_cases(email):
        result = taskcli(*args, input=stdin)
        assert result.exit_code == exit_code, (args, result.stderr)
        assert result.stdout == "", args
        document = json.loads(result.stderr)
        assert list(document) == ["error"], args
        assert set(document["error"]) == {"code", "message", "hint"}, args
        assert document["error"]["code"] == code, args
        assert document["error"]["message"], args
    assert taskcli("whoami", "--json").error["hint"] == first_step_hint(backend)
