"""Secrets stay secret: every command, run as a real process with --verbose (tracebacks
included), succeeding or failing, prints neither the account password, nor a session token,
nor the database password. Secret files are mode 0600. The password never comes from argv
or the environment."""

from __future__ import annotations

import json
import re
import socket
import stat
import uuid
from urllib.parse import quote, unquote, urlsplit

import pytest

from tests.conftest import run_process
from tests.support.databases import owner_url

ACCOUNT_PASSWORD = f"acct-{uuid.uuid4().hex}"
WRONG_PASSWORD = f"wrong-{uuid.uuid4().hex}"
UNREACHABLE_DB_PASSWORD = f"unreachable-{uuid.uuid4().hex}"
WRONG_DB_PASSWORD = f"wrongdb-{uuid.uuid4().hex}"


class Recorder:
    """Runs taskcli with --verbose as a real process and keeps everything it printed."""

    def __init__(self, data_dir) -> None:
        self.data_dir = data_dir
        self.outputs: list[tuple[tuple[str, ...], str]] = []
        self.tokens: set[str] = set()

    def __call__(
        self, *args: str, expect: int = 0, input: str | None = None, env: dict | None = None
    ):
        result = run_process(*args, "--verbose", input=input, env=env)
        self.outputs.append((args, result.stdout + result.stderr))
        self.tokens |= set(stored_tokens(self.data_dir).values())
        assert result.exit_code == expect, (args, result.exit_code, result.stderr)
        return result

    def leaks(self, secrets: dict[str, str]) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (name, args)
            for args, text in self.outputs
            for name, secret in secrets.items()
            if secret and secret in text
        ]


def stored_tokens(data_dir) -> dict[str, str]:
    path = data_dir / "tokens.json"
    if not path.exists():
        return {}
    document = json.loads(path.read_text())
    assert document["version"] == 1
    return document["tokens"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_command_prints_a_secret(backend, isolated, tmp_path):
    data_dir = isolated / "data"
    run = Recorder(data_dir)
    email = f"secret-{uuid.uuid4().hex[:8]}@example.com"
    credentials = ("--email", email, "--password-stdin")
    password_line = ACCOUNT_PASSWORD + "\n"
    run("config", "set", "database_url", backend)
    run("config", "set", "connect_timeout", "2")

    run("register", *credentials, input=password_line)
    run("whoami")
    run("whoami", "--json")
    run("add", "first task", "-d", "details", "-t", "x")
    run("add", "second task")
    run("list")
    run("list", "--json")
    run("show", "1", "--json")
    run("update", "1", "--title", "renamed")
    run("done", "1")
    run("delete", "2", "--yes")
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"title": "imported"}) + "\n")
    run("import", str(source))
    run("export")
    run("export", "--format", "csv")
    run("export", "-o", str(tmp_path / "out.json"))
    run("db", "status")
    run("db", "migrate", "--database-url", owner_url(backend))
    run("db", "migrate", "--sql")
    run("config", "list")
    run("config", "list", "--json")
    run("config", "get", "database_url")
    run("profile", "list")
    run("profile", "list", "--json")
    run("logout")
    run("login", *credentials, input=password_line)
    token = next(iter(stored_tokens(data_dir).values()))
    run("whoami", env={"TASKCLI_TOKEN": token + "x"}, expect=3)
    run("whoami", env={"TASKCLI_TOKEN": token.rsplit(".", 1)[0] + ".AAAA"}, expect=3)
    run("list", "--limit", "x", expect=2)
    run("show", "999", expect=4)
    run("logout")

    # failing ones: wrong account password, unreachable database, wrong database password
    run("login", *credentials, input=WRONG_PASSWORD + "\n", expect=3)
    unreachable = f"postgresql://bob:{UNREACHABLE_DB_PASSWORD}@127.0.0.1:{closed_port()}/tasks"
    for command in (["db", "status"], ["login", *credentials], ["list"]):
        run(
            *command,
            "--database-url",
            unreachable,
            input=password_line,
            env={"TASKCLI_TOKEN": token},
            expect=6,
        )
    database_password = urlsplit(backend).password
    if database_password:
        wrong = backend.replace(f":{quote(database_password, safe='')}@", f":{WRONG_DB_PASSWORD}@")
        run("login", *credentials, "--database-url", wrong, input=password_line, expect=6)
        run("db", "migrate", "--database-url", wrong, expect=6)

    assert len(run.tokens) >= 2, "both logins stored a token"
    secrets = {
        "account password": ACCOUNT_PASSWORD,
        "wrong account password": WRONG_PASSWORD,
        "unreachable database's password": UNREACHABLE_DB_PASSWORD,
        "wrong database password": WRONG_DB_PASSWORD,
        "database password": database_password or "",
    }
    for index, seen in enumerate(sorted(run.tokens)):
        secrets[f"token {index}"] = seen
        secrets[f"token {index} signature"] = seen.rsplit(".", 1)[1]
    assert run.leaks(secrets) == []
    if database_password:  # the database was shown, redacted, so redaction was exercised
        assert any("***@" in text for args, text in run.outputs if args[0] == "whoami")
    tracebacks = [args for args, text in run.outputs if "Traceback" in text]
    assert tracebacks, "--verbose shows tracebacks of failures; they were scanned too"


def test_secret_files_are_private(backend, isolated):
    run = Recorder(isolated / "data")
    url = "postgresql://bob:" + UNREACHABLE_DB_PASSWORD + "@db.example.com/tasks"
    run("config", "set", "database_url", url, "--profile", "remote")
    run(
        "register",
        "--email",
        "files@example.com",
        "--password-stdin",
        input=ACCOUNT_PASSWORD + "\n",
    )
    config_file = isolated / "config" / "config.toml"
    token_file = isolated / "data" / "tokens.json"
    assert mode(config_file) == 0o600
    assert mode(token_file) == 0o600
    run("config", "set", "session_days", "3")  # rewriting keeps the mode
    run("logout")
    run("login", "--email", "files@example.com", "--password-stdin", input=ACCOUNT_PASSWORD + "\n")
    assert mode(config_file) == 0o600
    assert mode(token_file) == 0o600
    leftovers = [p.name for p in (isolated / "data").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert run.leaks({"database password": UNREACHABLE_DB_PASSWORD}) == []


@pytest.mark.parametrize("command", ["register", "login"])
@pytest.mark.parametrize(
    "spelling",
    [["--password", ACCOUNT_PASSWORD], [f"--password={ACCOUNT_PASSWORD}"], ["-P", "x"]],
    ids=["--password VALUE", "--password=VALUE", "-P"],
)
def test_the_password_is_never_an_argument(backend, isolated, command, spelling):
    result = run_process(
        command, "--email", "argv@example.com", *spelling, input=ACCOUNT_PASSWORD + "\n"
    )
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert ACCOUNT_PASSWORD not in result.stdout + result.stderr
    assert stored_tokens(isolated / "data") == {}


@pytest.mark.parametrize("variable", ["TASKCLI_PASSWORD", "TASKCLI_ACCOUNT_PASSWORD"])
def test_a_password_in_the_environment_is_ignored(backend, isolated, variable):
    env = {variable: ACCOUNT_PASSWORD}
    register = run_process("register", "--email", "env@example.com", env=env)
    assert register.exit_code == 2, register.stderr
    assert "password-stdin" in register.stderr
    assert stored_tokens(isolated / "data") == {}
    registered = run_process(
        "register",
        "--email",
        "env@example.com",
        "--password-stdin",
        input="the real password\n",
        env=env,
    )
    assert registered.exit_code == 0, registered.stderr
    run_process("logout")
    login = run_process(
        "login", "--email", "env@example.com", "--password-stdin", input="\n", env=env
    )
    assert login.exit_code == 5, login.stderr  # nothing on stdin; the variable is not used
    assert stored_tokens(isolated / "data") == {}


@pytest.mark.postgres
def test_a_password_in_the_url_query_is_redacted_everywhere(pg_url, isolated):
    """libpq takes ``?password=…`` too; every command that shows the URL redacts it."""
    parts = urlsplit(pg_url)
    password = unquote(parts.password or "")
    query = "&".join(filter(None, [parts.query, f"password={quote(password, safe='')}"]))
    netloc = f"{parts.username}@{parts.hostname}:{parts.port}"
    url = parts._replace(netloc=netloc, query=query).geturl()
    run = Recorder(isolated / "data")
    run("config", "set", "database_url", url)
    run("db", "migrate")
    run("db", "migrate", "--json")
    run("db", "status")
    run("register", "--email", "query@example.com", "--password-stdin", input=ACCOUNT_PASSWORD)
    showing_the_url = [
        ["whoami"], ["whoami", "--json"], ["config", "list"], ["config", "list", "--json"],
        ["config", "get", "database_url"], ["config", "get", "database_url", "--json"],
        ["profile", "list"], ["profile", "list", "--json"], ["db", "status", "--json"],
    ]  # fmt: skip
    for command in showing_the_url:
        run(*command)
    wrong = url.replace(f"password={quote(password, safe='')}", f"password={WRONG_DB_PASSWORD}")
    for command in (["db", "status"], ["db", "migrate"], ["whoami"]):
        run(*command, "--database-url", wrong, expect=6)
    assert run.leaks({"database password": password, "wrong one": WRONG_DB_PASSWORD}) == []
    # every command above but register and the three failing ones prints the URL
    prints_the_url = [args for args, _ in run.outputs[:-3] if args[0] != "register"]
    assert [args for args, text in run.outputs if "password=***" in text] == prints_the_url


TRAPS = {  # make every insert into a table fail with an error taskcli does not expect
    "sqlite": [
        "CREATE TRIGGER trap_{table} BEFORE INSERT ON {table}"
        " BEGIN SELECT no_such_function(NEW.id); END"
    ],
    "postgresql": [
        "CREATE FUNCTION trap_{table}() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'trapped'; END $$",
        "CREATE TRIGGER trap_{table} BEFORE INSERT ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION trap_{table}()",
    ],
}


def set_trap(url: str, table: str) -> None:
    from tests.test_auth import direct

    with direct(url) as conn:
        for statement in TRAPS[conn.dialect.name]:
            conn.exec_driver_sql(statement.format(table=table))


def test_verbose_database_errors_show_no_statement_parameters(backend, isolated):
    """An unexpected error while register inserts the user (with its argon2 hash) or login
    inserts the session: the traceback shows, the statement's parameters never do."""
    run = Recorder(isolated / "data")
    run("db", "migrate", "--database-url", owner_url(backend))
    run("register", "--email", "first@example.com", "--password-stdin", input=ACCOUNT_PASSWORD)
    set_trap(backend, "users")
    registering = run("register", "--email", "second@example.com", "--password-stdin",
                      input=ACCOUNT_PASSWORD, expect=1)  # fmt: skip
    set_trap(backend, "sessions")
    logging_in = run("login", "--email", "first@example.com", "--password-stdin",
                     input=ACCOUNT_PASSWORD, expect=1)  # fmt: skip
    for result in (registering, logging_in):
        assert "Traceback" in result.stderr
        assert "error: unexpected error: " in result.stderr
        assert "parameters" in result.stderr  # SQLAlchemy's note that they are hidden
    assert "$argon2" not in registering.stderr
    assert "second@example.com" not in registering.stderr
    assert "first@example.com" not in logging_in.stderr
    assert f"{socket.gethostname()} taskcli/" not in logging_in.stderr  # the client column
    assert not re.search(r"[0-9a-f]{64}", logging_in.stderr)  # the token's hash
