"""Outages and interruptions: a stopped, restarted, refusing, flaky or foreign server; wrong
credentials; Ctrl-C, SIGKILL and a lost connection in the middle of an import or export.

Every failure to connect is exit 6 with one line naming host:port and no password; an
interrupted import leaves no task, an interrupted export leaves no file. Servers that this
file stops or restarts are its own clusters, never the suite's shared one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from urllib.parse import quote, urlsplit

import psycopg2
import pytest

from taskcli.core.pgconnect import CONNECT_ATTEMPTS
from tests import servers
from tests.conftest import PASSWORD, Result, run_process

CONNECT_COMMANDS = {
    "db status": ["db", "status"],
    "db migrate": ["db", "migrate"],
    "register": ["register", "--email", "new@example.com", "--password-stdin"],
    "login": ["login", "--email", "new@example.com", "--password-stdin"],
    "list": ["list"],  # with a TASKCLI_TOKEN, so that it gets as far as connecting
}
HANG_GUARD = 120  # seconds; a bound that stops a hang, not a measurement
BIG_IMPORT = 200_000
BIG_EXPORT = 50_000  # enough to catch the export mid-way
# One TCP connection per attempt: libpq's own SSL/GSS fallbacks would open a second one.
PLAIN = "sslmode=disable&gssencmode=disable"
on_postgres = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


# ---- helpers --------------------------------------------------------------------------------


def run_all(commands: dict[str, list[str]], *, env: dict | None = None) -> dict[str, Result]:
    """Run the commands as real processes in parallel (retries with backoff take a while)."""
    env = {"TASKCLI_TOKEN": "not.a.token", **(env or {})}

    def run(args):
        return run_process(*args, input=PASSWORD + "\n", env=env, timeout=HANG_GUARD)

    with ThreadPoolExecutor(len(commands)) as pool:
        return dict(zip(commands, pool.map(run, commands.values()), strict=True))


def assert_unavailable(result: Result, *, where: str, reason: str, secrets: list[str]) -> str:
    """Exit 6, nothing on stdout, one line on stderr naming where and why, no secret."""
    assert result.exit_code == 6, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    line = result.stderr
    assert "Traceback" not in line
    assert line.startswith(f"error: cannot connect to PostgreSQL at {where}"), line
    assert reason.lower() in line.lower(), line
    for secret in secrets:
        assert secret not in line
    return line


def with_password(url: str, password: str | None) -> str:
    """url with its password replaced (None: no password at all)."""
    parts = urlsplit(url)
    userinfo = quote(parts.username or "", safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return parts._replace(netloc=f"{userinfo}@{parts.hostname}:{parts.port}").geturl()


def target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def own_cluster_or_skip(pg_server, tmp_path) -> servers.PostgresCluster:
    if not isinstance(pg_server, servers.PostgresCluster):
        pytest.skip("needs PostgreSQL server binaries to run a cluster of its own")
    return servers.PostgresCluster.start(tmp_path)


def registered_on(cluster: servers.PostgresCluster, taskcli, **config: str) -> str:
    """A migrated database "tasks" on the cluster, made the configured one (with the
    extra ``config`` values), and a user registered there; returns its URL."""
    url = cluster.create_database("tasks")
    for key, value in {"database_url": url, **config}.items():
        taskcli.ok("config", "set", key, value)
    taskcli.ok("db", "migrate")
    taskcli.ok("register", "--email", "a@example.com", "--password-stdin", input=PASSWORD)
    return url


def wait_until(condition: Callable[[], bool], what: str, process=None, timeout=HANG_GUARD):
    """Poll condition; fail (not hang) when the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"process ended (exit {process.returncode}) before {what}: {err}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def start_taskcli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "taskcli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def finish(process: subprocess.Popen) -> Result:
    out, err = process.communicate(timeout=HANG_GUARD)
    return Result(process.returncode, out, err)


def task_count(taskcli) -> int:
    return len(taskcli.ok("list", "--all", "--json", "--limit", "0").json())


def write_big_jsonl(path, count: int = BIG_IMPORT) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(json.dumps({"title": f"bulk {index}", "tags": ["bulk"]}) + "\n")


class FlakyProxy:
    """A TCP proxy on 127.0.0.1 in front of a server. While `down`, and for the next `drop`
    connections, it accepts and hangs up at once (a server that is waking up or gone)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.drop = 0
        self.accepted = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                hang_up = self.down or self.drop > 0
                self.drop = max(0, self.drop - 1)
            if hang_up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---- the server goes away --------------------------------------------------------------------


@pytest.mark.slow
def test_stopped_server_is_exit_6_naming_host_and_port(taskcli, pg_server, tmp_path):
    cluster = own_cluster_or_skip(pg_server, tmp_path)
    try:
        url = registered_on(cluster, taskcli, connect_timeout="1")
        taskcli.ok("add", "written before the outage")
        cluster.stop()
        commands = {
            **CONNECT_COMMANDS,
            "add": ["add", "lost"],
            "whoami": ["whoami"],
            "json": ["list", "--json"],
        }
        results = run_all(commands, env={"TASKCLI_TOKEN": ""})
    finally:
        cluster.stop()
    for name, result in results.items():
        if name == "json":
            assert result.exit_code == 6 and result.stderr.count("\n") == 1
            assert json.loads(result.stderr)["error"]["code"] == "database_unavailable"
            assert str(cluster.password) not in result.stderr
            continue
        assert_unavailable(
            result, where=target(url), reason="connection refused", secrets=[cluster.password]
        )


@pytest.mark.slow
def test_restarted_server_between_two_commands(taskcli, pg_server, tmp_path):
    cluster = own_cluster_or_skip(pg_server, tmp_path)
    try:
        registered_on(cluster, taskcli)
        taskcli.ok("add", "before")
        cluster.restart()
        assert run_process("add", "after").stdout == "2\n"
        cluster.restart()
        listed = run_process("list", "--json")
        assert listed.exit_code == 0, listed.stderr
        assert [task["title"] for task in listed.json()] == ["before", "after"]
        cluster.restart()
        assert run_process("whoami").exit_code == 0
    finally:
        cluster.stop()


def test_transient_hang_ups_are_retried(taskcli, pg_url):
    """A server that hangs up twice (Neon waking up) and then answers: the command works."""
    proxy = FlakyProxy(urlsplit(pg_url).port)
    try:
        url = pg_url.replace(f":{urlsplit(pg_url).port}/", f":{proxy.port}/") + "?" + PLAIN
        proxy.drop = CONNECT_ATTEMPTS - 1
        migrated = run_process("db", "migrate", "--database-url", url, timeout=HANG_GUARD)
        assert migrated.exit_code == 0, migrated.stderr
        assert proxy.accepted == CONNECT_ATTEMPTS
    finally:
        proxy.close()


def test_server_down_then_back(taskcli, pg_url, monkeypatch):
    """While the server hangs up on everyone: exit 6 after the retries; once it is back,
    the next command works with the same session."""
    proxy = FlakyProxy(urlsplit(pg_url).port)
    try:
        url = pg_url.replace(f":{urlsplit(pg_url).port}/", f":{proxy.port}/") + "?" + PLAIN
        monkeypatch.setenv("TASKCLI_DATABASE_URL", url)
        taskcli.ok("db", "migrate")
        taskcli.ok("register", "--email", "a@example.com", "--password-stdin", input=PASSWORD)
        proxy.down = True
        before = proxy.accepted
        down = run_process("add", "while down", timeout=HANG_GUARD)
        assert_unavailable(
            down,
            where=target(url),
            reason="server closed the connection",
            secrets=[urlsplit(pg_url).password],
        )
        assert proxy.accepted - before == CONNECT_ATTEMPTS, "a hang-up is retried"
        proxy.down = False
        assert run_process("add", "back up").stdout == "1\n"
        assert [t["title"] for t in taskcli.ok("list", "--json").json()] == ["back up"]
    finally:
        proxy.close()


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never says a word."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for client in self.accepted:
            client.close()


def test_a_server_that_never_answers_costs_the_connect_timeout_once(taskcli):
    """The connect timeout bounds the whole attempt: a silent server is not tried again."""
    server = SilentServer()
    try:
        url = f"postgresql://postgres:s3cret@127.0.0.1:{server.port}/tasks"
        taskcli.ok("config", "set", "connect_timeout", "2")
        result = run_process("db", "status", "--database-url", url, timeout=HANG_GUARD)
        assert_unavailable(
            result,
            where=f"127.0.0.1:{server.port}/tasks",
            reason="no answer within 2 s (connect timeout)",
            secrets=["s3cret"],
        )
        assert len(server.accepted) == 1, "a timeout is not retried"
    finally:
        server.close()


def test_quick_failures_are_retried_only_while_the_connect_timeout_lasts(taskcli):
    """A hang-up is retried with backoff, but never past the connect timeout."""
    proxy = FlakyProxy(upstream_port=1)
    proxy.down = True
    try:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/tasks?{PLAIN}"
        attempts = {}
        for timeout in ("2", "10"):
            taskcli.ok("config", "set", "connect_timeout", timeout)
            before = proxy.accepted
            result = run_process("db", "status", "--database-url", url, timeout=HANG_GUARD)
            assert_unavailable(
                result, where=f"127.0.0.1:{proxy.port}/tasks", reason="closed", secrets=[]
            )
            attempts[timeout] = proxy.accepted - before
        assert attempts == {"2": 1, "10": CONNECT_ATTEMPTS}
    finally:
        proxy.close()


# ---- the server refuses ------------------------------------------------------------------------


def _garbage_server() -> int:
    """A TCP server that answers like a web server (not PostgreSQL) and hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with closing(client):
                client.recv(1024)
                client.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


FAULTS = {
    # name: (how to make the URL and environment, words the line must hold)
    "wrong password": "password authentication failed",
    "wrong PGPASSWORD": "password authentication failed",
    "no password anywhere": "password is required",
    "database missing": 'database "no_such_database" does not exist',
    "sslmode=require without SSL": "SSL",
    "database not accepting connections": "not currently accepting connections",
    "role over its connection limit": "too many connections",
    "not a PostgreSQL server": "SSL negotiation",
    "not a PostgreSQL server, sslmode=disable": "expected authentication request",
    "unknown host": "unknown host name",
}


@pytest.fixture
def limited_role(pg_server):
    name = f"limited_{uuid.uuid4().hex[:8]}"
    password = f"role-secret-{uuid.uuid4().hex[:8]}"
    with closing(psycopg2.connect(pg_server.admin_url())) as conn:
        conn.autocommit = True
        conn.cursor().execute(
            f"CREATE ROLE {name} LOGIN PASSWORD %s CONNECTION LIMIT 0", (password,)
        )
    yield name, password
    with closing(psycopg2.connect(pg_server.admin_url())) as conn:
        conn.autocommit = True
        conn.cursor().execute(f"DROP ROLE {name}")


def _fault(name: str, pg_url: str, role) -> tuple[str, dict]:
    """The URL and environment that produce the fault."""
    password = urlsplit(pg_url).password
    if name == "wrong password":
        return with_password(pg_url, "not-the-password-1"), {}
    if name == "wrong PGPASSWORD":
        return with_password(pg_url, None), {"PGPASSWORD": "not-the-password-2"}
    if name == "no password anywhere":
        return with_password(pg_url, None), {}
    if name == "database missing":
        return pg_url.rsplit("/", 1)[0] + "/no_such_database", {}
    if name == "sslmode=require without SSL":
        return pg_url + "?sslmode=require", {}
    if name == "database not accepting connections":
        dbname = urlsplit(pg_url).path.lstrip("/")
        with closing(psycopg2.connect(pg_url.rsplit("/", 1)[0] + "/postgres")) as conn:
            conn.autocommit = True
            conn.cursor().execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
        return pg_url, {}
    if name == "role over its connection limit":
        user, role_password = role
        parts = urlsplit(pg_url)
        return parts._replace(
            netloc=f"{user}:{role_password}@{parts.hostname}:{parts.port}"
        ).geturl(), {}
    if name.startswith("not a PostgreSQL server"):
        url = f"postgresql://postgres:{quote(password, safe='')}@127.0.0.1:{_garbage_server()}/x"
        return url + ("?sslmode=disable" if "disable" in name else ""), {}
    if name == "unknown host":
        return f"postgresql://postgres:{quote(password, safe='')}@nonexistent.invalid/x", {}
    raise AssertionError(name)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_refused_connections_are_one_specific_line(taskcli, pg_url, limited_role, fault):
    url, env = _fault(fault, pg_url, limited_role)
    taskcli.ok("config", "set", "connect_timeout", "1")
    secrets = [urlsplit(pg_url).password, limited_role[1], "not-the-password"]
    results = run_all(CONNECT_COMMANDS, env={**env, "TASKCLI_DATABASE_URL": url})
    for result in results.values():
        assert_unavailable(
            result, where=target(url).split("?")[0], reason=FAULTS[fault], secrets=secrets
        )


def test_password_from_pgpass_is_used(taskcli, pg_url, isolated):
    """No password in the URL, the right one in ~/.pgpass (mode 0600): it connects."""
    parts = urlsplit(pg_url)
    home = isolated / "home"
    home.mkdir(exist_ok=True)
    pgpass = home / ".pgpass"
    pgpass.write_text(f"{parts.hostname}:{parts.port}:*:{parts.username}:{parts.password}\n")
    pgpass.chmod(0o600)
    url = with_password(pg_url, None)
    migrated = run_process("db", "migrate", "--database-url", url)
    assert migrated.exit_code == 0, migrated.stderr
    assert parts.password not in migrated.stdout + migrated.stderr


# ---- interrupted and broken imports and exports ---------------------------------------------


def _in_import_transaction(backend: str) -> Callable[[], bool]:
    """True once the import is writing inside its transaction (on PostgreSQL: while one of
    its INSERT statements runs, where a Ctrl-C usually lands on a big import)."""
    if backend.startswith("sqlite"):
        path = backend.removeprefix("sqlite:///")

        def sqlite_writing() -> bool:
            # The import holds the write lock (BEGIN IMMEDIATE) until it ends.
            with closing(sqlite3.connect(path, timeout=0)) as probe:
                try:
                    probe.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError:
                    return True
                probe.rollback()
                return False

        return sqlite_writing
    return lambda: bool(_pg_import_backends(backend, running=True))


def _pg_import_backends(url: str, *, running: bool = False) -> list[int]:
    """Backends of this database inserting tasks in a transaction (running: right now)."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'taskcli' AND xact_start IS NOT NULL"
        " AND (query ILIKE 'COPY taskcli_stage_tasks %'"
        " OR query ILIKE 'SELECT taskcli_insert_staged(''tasks''%')"
        + (" AND state = 'active'" if running else "")
    )
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_interrupted_import_leaves_no_task(taskcli, user, backend, tmp_path, sig):
    source = tmp_path / "big.jsonl"
    write_big_jsonl(source)
    taskcli.ok("add", "already there")
    process = start_taskcli("import", str(source))
    wait_until(_in_import_transaction(backend), "the import to write", process)
    process.send_signal(sig)
    result = finish(process)
    assert task_count(taskcli) == 1
    assert run_process("add", "next").stdout == "2\n", "the interrupted import took no numbers"
    assert result.exit_code == (130 if sig == signal.SIGINT else -signal.SIGKILL), result.stderr
    assert "Traceback" not in result.stderr


def assert_lost_connection(result: Result, url: str) -> None:
    assert result.exit_code == 6, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: lost the connection to PostgreSQL at {target(url)}")
    assert urlsplit(url).password not in result.stderr
    assert "Traceback" not in result.stderr


def _terminate_taskcli_backends(url: str) -> None:
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'taskcli'"
        )


@pytest.mark.slow
@on_postgres
def test_import_that_loses_its_connection_leaves_no_task(taskcli, user, backend, tmp_path):
    source = tmp_path / "big.jsonl"
    write_big_jsonl(source)
    process = start_taskcli("import", str(source))
    wait_until(lambda: bool(_pg_import_backends(backend)), "the import to write", process)
    _terminate_taskcli_backends(backend)
    result = finish(process)
    assert task_count(taskcli) == 0
    assert_lost_connection(result, backend)


@pytest.fixture
def many_tasks(taskcli, user, tmp_path):
    source = tmp_path / "many.jsonl"
    write_big_jsonl(source, BIG_EXPORT)
    imported = run_process("import", str(source), "--json", timeout=600)
    assert imported.exit_code == 0, imported.stderr
    assert imported.json()["created"] == BIG_EXPORT
    return BIG_EXPORT


def partial_files(path) -> list:
    """The temporary files an export to ``path`` writes before renaming one over it."""
    return sorted(path.parent.glob(f".{path.name}.*.partial"))


def _exporting(path) -> Callable[[], bool]:
    def written() -> bool:
        for partial in partial_files(path):
            with contextlib.suppress(FileNotFoundError):  # renamed or removed meanwhile
                if partial.stat().st_size > 0:
                    return True
        return False

    return written


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_interrupted_export_leaves_no_file(taskcli, many_tasks, backend, tmp_path, sig, exit_code):
    out, kept = tmp_path / "tasks.json", tmp_path / "kept.csv"
    kept.write_text("the previous export\n")
    results = []
    for path, fmt in ((out, "json"), (kept, "csv")):
        process = start_taskcli("export", "--format", fmt, "-o", str(path))
        wait_until(_exporting(path), "the export to write", process)
        process.send_signal(sig)
        results.append(finish(process))
        assert partial_files(path) == []
    assert not out.exists()
    assert kept.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "tasks" in p.name) == []
    for result in results:
        assert result.exit_code == exit_code, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.slow
@on_postgres
def test_export_that_loses_its_connection_leaves_no_file(taskcli, many_tasks, backend, tmp_path):
    out = tmp_path / "tasks.jsonl"
    process = start_taskcli("export", "--format", "jsonl", "-o", str(out))
    wait_until(_exporting(out), "the export to write", process)
    _terminate_taskcli_backends(backend)
    result = finish(process)
    assert not out.exists() and partial_files(out) == []
    assert_lost_connection(result, backend)


@pytest.mark.postgres
def test_without_a_login_an_unreachable_server_is_still_exit_6(taskcli, pg_url):
    """The connection failure is the problem to report, not the missing login."""
    parts = urlsplit(pg_url)
    unreachable = f"postgresql://nobody:s3cret@127.0.0.1:1{parts.path}?connect_timeout=1"
    for args in (["list"], ["whoami"], ["add", "x"]):
        result = taskcli(*args, "--database-url", unreachable)
        assert result.exit_code == 6, (args, result.stderr)
        assert result.stderr.startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1")
        assert "s3cret" not in result.stderr
    taskcli.ok("db", "migrate", "--database-url", pg_url)
    result = taskcli("list", "--database-url", pg_url)  # reachable: then the login is missing
    assert result.exit_code == 3
    hint = "run: taskcli register (or taskcli login)"
    assert result.stderr == f"error: not logged in (hint: {hint})\n"
