"""Fixtures: an isolated environment for every test, both databases, and ways to run taskcli.

Every test gets its own config dir, data dir and a keyring that is unusable unless a test
asks for the real Secret Service, so nothing touches the real ones, and no pager. ``backend`` runs a
test on the embedded SQLite database and on a real PostgreSQL server (started by the
suite, or TASKCLI_TEST_DATABASE_URL); without a server the PostgreSQL half skips, except
under CI=true where it fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import servers
from tests.support import databases
from tests.support.accounts import PASSWORD, create_logged_in_user

# A run started in the background by a shell without job control inherits SIGINT ignored,
# and so would every taskcli the tests start (Python then installs no Ctrl-C handler): the
# tests that press Ctrl-C need the disposition a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

__all__ = ["PASSWORD"]  # test modules import the test password from here
REPO = Path(__file__).resolve().parents[1]
ISOLATED_VARIABLES = (
    "TASKCLI_DATABASE_URL", "TASKCLI_PROFILE", "TASKCLI_TOKEN", "NO_COLOR",
    "PGPASSWORD", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "DBUS_SESSION_BUS_ADDRESS",
    "PAGER", "TASKCLI_EDITOR", "VISUAL", "EDITOR", "XDG_RUNTIME_DIR", "TASKCLI_SERVER_IDLE",
    "TASKCLI_SERVER_DB_IDLE",
)  # fmt: skip


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Private config and data directories; keyring unusable (file fallback) by default."""
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TASKCLI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TASKCLI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("TASKCLI_PAGER", "")  # no pager on a test's terminal unless it asks
    monkeypatch.setenv("TASKCLI_SERVER", "off")  # in-process unless a test chooses the server
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if "keyring" in sys.modules:  # python-keyring caches its backend per process
        import keyring
        from keyring.backends import fail

        previous = keyring.get_keyring()
        keyring.set_keyring(fail.Keyring())
        yield tmp_path
        keyring.set_keyring(previous)
        return
    yield tmp_path


# ---- servers ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    url = os.environ.get(servers.EXTERNAL_URL_VARIABLE)
    if url:
        server = servers.ExternalServer(url)
    elif servers.find_pg_bindir() is None:
        servers.missing_dependency("PostgreSQL server binaries not found")
    else:
        server = servers.PostgresCluster.start(tmp_path_factory.mktemp("pg"))
    with server:
        yield server


@pytest.fixture(scope="session")
def suite_roles(pg_server):
    roles = databases.create_suite_roles(pg_server)
    yield roles
    databases.drop_suite_roles(pg_server, roles)


@pytest.fixture
def pg_app_url(pg_server, suite_roles):
    """A migrated database of its own, and the application role's URL of it (see
    tests/support/databases.py)."""
    url, name = databases.create_app_database(pg_server, suite_roles)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database (not migrated)."""
    name = f"taskcli_{uuid.uuid4().hex[:12]}"
    yield pg_server.create_database(name)
    pg_server.drop_database(name)


@dataclass(frozen=True)
class Roles:
    """A database owned by a role that is NOT a superuser (CREATEROLE, as on Neon), and
    an application login role that has been granted nothing yet."""

    owner_url: str
    app_url: str
    app_role: str


@pytest.fixture
def pg_roles(pg_server):
    suffix = uuid.uuid4().hex[:10]
    owner, app, name = f"owner_{suffix}", f"app_{suffix}", f"taskcli_{suffix}"
    passwords = {role: uuid.uuid4().hex for role in (owner, app)}
    pg_server.create_role(owner, passwords[owner], "NOSUPERUSER CREATEROLE")
    pg_server.create_role(app, passwords[app], "NOSUPERUSER")
    url = pg_server.create_database(name, owner=owner)
    try:
        yield Roles(
            owner_url=pg_server.url_as(url, owner, passwords[owner]),
            app_url=pg_server.url_as(url, app, passwords[app]),
            app_role=app,
        )
    finally:
        pg_server.drop_database(name)
        pg_server.drop_role(app)
        pg_server.drop_role(owner)


@pytest.fixture(scope="session")
def pgbouncer(pg_server, tmp_path_factory):
    if not servers.pgbouncer_available():
        servers.missing_dependency("pgbouncer is not installed")
    with servers.start_pgbouncer(pg_server, tmp_path_factory.mktemp("pgb")) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def secret_service():
    from tests.secret_service import require_secret_service

    with require_secret_service() as service:
        yield service


# ---- running taskcli ----------------------------------------------------------------------


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        import json

        return json.loads(self.stdout)

    @property
    def error(self) -> dict:
        import json

        return json.loads(self.stderr)["error"]


class Taskcli:
    """Runs taskcli in-process through Typer's CliRunner (stdout and stderr kept apart), or,
    given a runtime directory, as the console script through the local server listening
    there (the test's environment and working directory, stdin not a TTY)."""

    def __init__(self, runtime: Path | None = None) -> None:
        self.runner = CliRunner()
        self.runtime = runtime

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None) -> Result:
        if self.runtime is not None:
            return self._through_server(list(args), input, env)
        from taskcli.cli.app import app

        result = self.runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def _through_server(self, args: list[str], input: str | None, env: dict | None) -> Result:
        environment = {**os.environ}
        for name, value in (env or {}).items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        environment.update(TASKCLI_SERVER="on", XDG_RUNTIME_DIR=str(self.runtime))
        completed = subprocess.run(
            [*CLIENT, *args], input=(input or "").encode(), capture_output=True, env=environment,
            timeout=SERVER_CALL_TIMEOUT,
        )  # fmt: skip
        return Result(
            completed.returncode,
            completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"),
        )

    def ok(self, *args: str, input: str | None = None, env: dict | None = None) -> Result:
        result = self(*args, input=input, env=env)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result


def run_process(*args: str, input: str | None = None, env: dict | None = None,
                cwd: Path | None = None, timeout: float = 120) -> Result:  # fmt: skip
    """taskcli as a real subprocess (``python -m taskcli``), stdin not a TTY."""
    completed = subprocess.run(
        [sys.executable, "-m", "taskcli", *args],
        input=input or "",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


# The console script, as pip writes it: the client's main().
CLIENT = [sys.executable, "-c",
          "import sys, taskcli.client as c; sys.argv[0] = 'taskcli'; c.main()"]  # fmt: skip
SERVER_CALL_TIMEOUT = 120  # keeps a broken case from hanging the suite; nothing is measured
BOTH_WAYS_VARIABLE = "TASKCLI_TEST_BOTH_WAYS"  # "1": every module's taskcli runs both ways


@pytest.fixture(scope="session")
def local_server():
    """One local server for the session, in a private runtime directory (short: socket
    paths are short); started by a first command, stopped at the end."""
    import shutil
    import tempfile

    from taskcli import client

    runtime = Path(tempfile.mkdtemp(prefix="tcs-"))
    environment = {**os.environ, "TASKCLI_SERVER": "on", "XDG_RUNTIME_DIR": str(runtime),
                   "TASKCLI_SERVER_IDLE": "3600"}  # fmt: skip
    subprocess.run([*CLIENT, "--version"], capture_output=True, env=environment, check=True)
    asking = {"XDG_RUNTIME_DIR": str(runtime)}
    deadline = time.monotonic() + SERVER_CALL_TIMEOUT
    while client_status(client, asking) is None:
        assert time.monotonic() < deadline, "the local server did not start"
        time.sleep(0.05)
    yield runtime
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        client.ask({"stop": True})
    finally:
        if saved is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved
    shutil.rmtree(runtime, ignore_errors=True)


def client_status(client, environ: dict) -> dict | None:
    try:
        channel = client.connect(client.socket_path(environ, create=False), 5.0)
    except Exception:  # none listening yet, or its directory not checked private yet
        return None
    try:
        channel.send({"status": True})
        return channel.receive()
    except Exception:
        return None
    finally:
        channel.sock.close()


def pytest_generate_tests(metafunc):
    """``taskcli`` in-process and, in modules marked both_ways (or every module with
    TASKCLI_TEST_BOTH_WAYS=1), through the local server too, unless the test is marked
    in_process (with the reason it cannot run through a server)."""
    if "taskcli" not in metafunc.fixturenames:
        return
    both = os.environ.get(BOTH_WAYS_VARIABLE) == "1" or any(
        mark.name == "both_ways" for mark in metafunc.definition.iter_markers()
    )
    if both and metafunc.definition.get_closest_marker("in_process") is None:
        metafunc.parametrize("taskcli", ["in-process", "server"], indirect=True)


@pytest.fixture
def taskcli(request) -> Taskcli:
    if getattr(request, "param", "in-process") == "server":
        return Taskcli(request.getfixturevalue("local_server"))
    return Taskcli()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, monkeypatch, tmp_path) -> str:
    """The database a test runs on, selected through TASKCLI_DATABASE_URL, schema migrated;
    on PostgreSQL as the application role (tables owned by another role, under row-level
    security)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'tasks.db'}"
        monkeypatch.setenv("TASKCLI_DATABASE_URL", url)
        return url
    url = request.getfixturevalue("pg_app_url")
    monkeypatch.setenv("TASKCLI_DATABASE_URL", url)
    return url


@pytest.fixture
def user(backend) -> str:
    """A registered, logged-in user on the backend (made through core, its token where the
    CLI finds it; see tests/support/accounts.py); returns the email."""
    return create_logged_in_user()


@pytest.fixture
def local_zone(monkeypatch):
    """Switch the process's local time zone; the real one comes back after the test."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()
