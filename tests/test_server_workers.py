"""The local server's warm workers (SPEC §15): a worker serves many commands in sequence
and keeps its PostgreSQL connection, and nothing of one command reaches the next one:
identity (SPEC §12), the token store, the database URL, environment, working directory,
umask. Real processes, sockets and a real PostgreSQL server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import threading
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from taskcli import client
from tests.conftest import PASSWORD
from tests.support import databases
from tests.test_server import children, gone, run, runtime, served, status, until

__all__ = ["runtime", "served"]  # fixtures, used by name


def register(email: str, data: Path, url: str) -> dict:
    """A user of ``url`` whose token is kept in ``data``; the env of their commands."""
    env = {**os.environ, "TASKCLI_DATA_DIR": str(data), "TASKCLI_DATABASE_URL": url}
    result = run("register", "-e", email, "--password-stdin", stdin=PASSWORD + "\n", env=env)
    assert result.returncode == 0, result.stderr
    return env


def titles(env: dict) -> list[str]:
    result = run("list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return sorted(task["title"] for task in json.loads(result.stdout))


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_app_url")


def test_commands_in_sequence_are_served_by_the_same_workers(served):
    server = status()["pid"]
    assert run("--version").returncode == 0
    before = set(children(server))
    for _ in range(5):
        assert run("list").returncode in (0, 3)
    assert set(children(server)) == before, "a process was forked per command"


def test_alice_then_bob_on_one_worker_each_see_only_their_rows(served, database, tmp_path):
    alice = register("alice@example.com", tmp_path / "alice", database)
    bob = register("bob@example.com", tmp_path / "bob", database)
    assert run("add", "alice's", env=alice).returncode == 0
    assert run("add", "bob's", env=bob).returncode == 0
    for _ in range(2):
        assert titles(alice) == ["alice's"]
        assert titles(bob) == ["bob's"]
    nobody = {**bob, "TASKCLI_DATA_DIR": str(tmp_path / "nobody")}  # no token stored
    result = run("list", "--json", env=nobody)
    assert (result.returncode, result.stdout) == (3, "")


def test_a_logout_between_commands_is_seen(served, database, tmp_path):
    alice = register("alice@example.com", tmp_path / "alice", database)
    assert titles(alice) == []
    assert run("logout", env=alice).returncode == 0
    assert run("list", env=alice).returncode == 3
    assert run("list", env=alice, server=False).returncode == 3


def test_a_changed_database_url_reaches_the_other_database(served, database, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    first = register("same@example.com", tmp_path / "first", database)
    second = register("same@example.com", tmp_path / "second", other)
    assert run("add", "in the first", env=first).returncode == 0
    assert run("add", "in the other", env=second).returncode == 0
    for _ in range(2):
        assert titles(first) == ["in the first"]
        assert titles(second) == ["in the other"]


def taskcli_activity(url: str) -> list[tuple[int, str]]:
    """(backend pid, last statement) of taskcli's connections to the database ``url`` names."""
    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg2.connect(databases.admin_url(url)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE datname = %s AND application_name "
            "= 'taskcli' AND pid <> pg_backend_pid()",
            (name,),
        )
        found = list(cursor.fetchall())
    conn.close()
    return found


def taskcli_backends(url: str) -> set[int]:
    return {pid for pid, _query in taskcli_activity(url)}


def last_queries(url: str) -> list[str]:
    return [query for _pid, query in taskcli_activity(url)]


def test_the_postgresql_connection_stays_open_between_commands(served, pg_app_url, tmp_path):
    alice = register("alice@example.com", tmp_path / "alice", pg_app_url)
    assert titles(alice) == []
    kept = taskcli_backends(pg_app_url)
    assert len(kept) == 1, kept
    for _ in range(3):
        assert run("add", "again", env=alice).returncode == 0
        assert taskcli_backends(pg_app_url) == kept
    assert titles(alice) == ["again"] * 3


def test_a_completion_uses_the_kept_connection(served, pg_app_url, tmp_path):
    """A TAB through the server asks on the worker's open connection, as a command does
    (no connection set-up per TAB), with the session proof in front of its query."""
    alice = register("alice@example.com", tmp_path / "alice", pg_app_url)
    assert run("add", "Buy milk", env=alice).returncode == 0
    kept = taskcli_backends(pg_app_url)
    assert len(kept) == 1, kept
    tab = {"_TASKCLI_COMPLETE": "complete_bash", "COMP_WORDS": "taskcli done ", "COMP_CWORD": "2"}
    for _ in range(2):
        result = run(env={**alice, **tab})
        assert (result.returncode, result.stdout.split(), result.stderr) == (0, ["1"], "")
        [(backend, query)] = taskcli_activity(pg_app_url)
        assert backend in kept  # the completion's query was the kept connection's last
        assert "taskcli_spend(" in query and "SELECT number, title FROM tasks" in query, query
    assert run("logout", env=alice).returncode == 0
    assert run(env={**alice, **tab}).stdout.split() == []  # no session: nothing offered


def test_a_restarted_postgresql_is_not_an_error(served, pg_server, pg_app_url, tmp_path):
    alice = register("alice@example.com", tmp_path / "alice", pg_app_url)
    assert run("add", "before", env=alice).returncode == 0
    assert taskcli_backends(pg_app_url)
    if not hasattr(pg_server, "restart"):
        pytest.skip("the suite's PostgreSQL server is not ours to restart")
    pg_server.restart()  # every kept connection is closed by the server
    result = run("add", "after", env=alice)
    assert (result.returncode, result.stderr) == (0, "")
    assert titles(alice) == ["after", "before"]


def test_the_connection_is_closed_after_the_idle_time(runtime, monkeypatch, pg_app_url, tmp_path):
    monkeypatch.setenv("TASKCLI_SERVER_DB_IDLE", "1")  # the server has it from its first client
    assert run("--version").returncode == 0
    until(status, "the server to start")
    alice = register("alice@example.com", tmp_path / "alice", pg_app_url)
    assert run("add", "one", env=alice).returncode == 0
    until(lambda: not taskcli_backends(pg_app_url), "the idle connection to be closed")
    assert titles(alice) == ["one"]


class CuttingProxy:
    """A TCP proxy in front of PostgreSQL. After :meth:`cut`, it hangs up on the next
    bytes a client sends instead of passing them on: to the client, the server closed
    the connection just as its statement left (too late for any poll to have seen)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.cuts = 0
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def cut(self) -> None:
        self.armed.set()

    def _serve(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            pair = (downstream, upstream)
            threading.Thread(target=self._pump, args=(*pair, True), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, downstream, False), daemon=True
            ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client and self.armed.is_set():
                    self.armed.clear()
                    self.cuts += 1
                    break
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


def test_a_kept_connection_lost_as_the_first_statement_leaves_is_not_an_error(
    served, pg_app_url, tmp_path
):
    """The server closes the kept connection after the poll at checkout and before the
    command's first statement arrives: the worker runs the command again on a new
    connection, unseen, and its change is made once."""
    port = urlsplit(pg_app_url).port
    proxy = CuttingProxy(port)
    try:
        url = pg_app_url.replace(f":{port}/", f":{proxy.port}/", 1)
        url += ("&" if "?" in url else "?") + "sslmode=disable&gssencmode=disable"
        alice = register("alice@example.com", tmp_path / "alice", url)
        assert run("add", "before", env=alice).returncode == 0
        opened = proxy.accepted
        proxy.cut()
        result = run("add", "after", env=alice)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout == "2\n"  # the new task's number, made once
        assert (proxy.cuts, proxy.accepted) == (1, opened + 1)
        assert titles(alice) == ["after", "before"]
        # A command that has read its stdin (the password) is not run again: exit 6, as
        # in-process, and nothing of it was done.
        bob = {**alice, "TASKCLI_DATA_DIR": str(tmp_path / "bob")}
        bob_registers = ("register", "-e", "bob@example.com", "--password-stdin")
        proxy.cut()
        result = run(*bob_registers, stdin=PASSWORD + "\n", env=bob)
        assert (result.returncode, result.stdout) == (6, ""), result.stderr
        assert result.stderr.startswith("error: lost the connection to PostgreSQL"), result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert run(*bob_registers, stdin=PASSWORD + "\n", env=bob).returncode == 0
    finally:
        proxy.close()


def test_nothing_of_a_command_stays_for_the_next(served, tmp_path):
    """Environment (TZ, NO_COLOR), working directory and umask are the client's each time."""
    run("register", "-e", "u@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert run("add", "due", "--due", "2030-01-02T23:30:00").returncode == 0
    zoned = {**os.environ, "TZ": "Pacific/Kiritimati", "NO_COLOR": "1", "COLUMNS": "50"}
    assert run("list", env=zoned).stdout == run("list", env=zoned, server=False).stdout
    assert run("list").stdout == run("list", server=False).stdout
    for server in (True, False):
        for name, mask in (("tight", 0o077), ("loose", 0o022)):
            folder = tmp_path / f"{name}-{server}"
            folder.mkdir()
            previous = os.umask(mask)
            try:
                result = client_in(folder, "export", "-o", "out.json", server=server)
            finally:
                os.umask(previous)
            assert result.returncode == 0, result.stderr
            mode = stat.S_IMODE((folder / "out.json").stat().st_mode)
            assert mode == 0o666 & ~mask, (name, server, oct(mode))


def client_in(folder: Path, *args: str, server: bool):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return run(*args, server=server)
    finally:
        os.chdir(cwd)


def test_clients_that_say_nothing_hold_up_no_one(served):
    silent = []
    for _ in range(6):  # more than the warm workers: the others get one-shot children
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(client.socket_path(os.environ, create=False))
        silent.append(sock)
    try:
        until(lambda: (status() or {}).get("running_commands", 0) >= 6, "all six to be held")
        result = run("--version")
        assert result.returncode == 0, result.stderr
    finally:
        for sock in silent:
            sock.close()


def test_a_header_that_is_not_a_message_is_dropped_and_runs_nothing(served, tmp_path):
    import marshal

    witness = tmp_path / "ran"
    code = compile(f"open({str(witness)!r}, 'w').close()", "<sent>", "exec")
    for value in (code, {"argv": ["taskcli", "--version"], "env": {code}}):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(client.socket_path(os.environ, create=False))
        data = marshal.dumps(value, 4)
        sock.sendall(len(data).to_bytes(4, "big") + data)
        sock.settimeout(30)
        assert sock.recv(1) == b"", "the server closes the connection without an answer"
        sock.close()
    assert not witness.exists()
    result = run("--version")
    assert (result.returncode, status() is not None) == (0, True), result.stderr


def user_id(url: str, email: str) -> str:
    with psycopg2.connect(databases.admin_url(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM users WHERE email = %s", (email,))
        (found,) = cursor.fetchone()
    conn.close()
    return str(found)


def test_no_session_of_one_command_is_presented_by_the_next(served, pg_app_url, tmp_path):
    """alice's command leaves her session's presenter on the kept connection's info; a
    command that logs nobody in (bob registering) must not send her proof."""
    alice = register("alice@example.com", tmp_path / "alice", pg_app_url)
    assert titles(alice) == []
    alice_id = user_id(pg_app_url, "alice@example.com")
    assert any(alice_id in query for query in last_queries(pg_app_url))
    register("bob@example.com", tmp_path / "bob", pg_app_url)
    queries = [query for query in last_queries(pg_app_url) if "taskcli_register" in query]
    assert len(queries) == 1 and alice_id not in queries[0], queries
    assert len(taskcli_backends(pg_app_url)) == 1, "the commands ran on different workers"


@pytest.mark.both_ways
def test_the_taskcli_fixture_runs_through_the_server_when_asked(taskcli, request):
    facts = taskcli.ok("server", "status", "--json").json()
    through = request.node.callspec.params["taskcli"] == "server"
    assert facts["running"] is through
    if through:
        runtime = request.getfixturevalue("local_server")
        assert facts["socket"] == str(runtime / "taskcli" / "server.sock")


def test_killed_workers_are_replaced(served):
    server = status()["pid"]
    assert run("--version").returncode == 0
    workers = children(server)
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    until(lambda: all(map(gone, workers)), "the workers to die")
    assert status() is not None  # the server noticed, or found out when it handed it on
    result = run("--version")
    assert (result.returncode, result.stderr) == (0, "")
    assert not set(children(server)) & set(workers)
