"""Many clients at once: task numbers stay unique and gap-free under concurrent adds, are
never reused under mixed add/done/update/delete, and concurrent migrations leave one schema.

Clients are threads with a connection each, through the core library (the same code the
CLI runs), plus a few real `taskcli` processes. The figures are printed (see `pytest -s`).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field

import psycopg2
import pytest

from taskcli.core import migrate
from taskcli.core.errors import NotFoundError
from tests.conftest import PASSWORD, run_process
from tests.support.accounts import logged_in_connection

on_postgres = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
TABLES = {"users", "counters", "sessions", "tasks", "meta", "alembic_version"}
HANG_GUARD = 600  # seconds; stops a hang, measures nothing


@dataclass
class Outcome:
    """What one client saw."""

    created: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    tagged: list[int] = field(default_factory=list)
    not_found: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _user_id(taskcli) -> uuid.UUID:
    return uuid.UUID(taskcli.ok("whoami", "--json").json()["user_id"])


def _settings():
    from taskcli.core.config import resolve_settings

    return resolve_settings()


def _stored_numbers(taskcli) -> list[int]:
    return [t["number"] for t in taskcli.ok("list", "--all", "--json", "--limit", "0").json()]


def _report(what: str, clients: int, tasks: int, errors: int, seconds: float, **extra) -> None:
    details = "".join(f" {key}={value}" for key, value in extra.items())
    print(  # noqa: T201 - the load figures, shown under pytest -s
        f"\n[load] {what}: clients={clients} tasks={tasks} errors={errors}"
        f" seconds={seconds:.1f}{details}"
    )


def _library_adder(settings, user_id, start: threading.Barrier, count: int, label: str):
    """A client with its own connection adding `count` tasks through the core library."""
    from taskcli.core import tasks
    from taskcli.core.models import TaskCreate, validated

    def run() -> Outcome:
        outcome = Outcome()
        try:
            with logged_in_connection(settings) as conn:
                start.wait(timeout=HANG_GUARD)
                for index in range(count):
                    data = validated(TaskCreate, {"title": f"{label} task {index}"})
                    record = tasks.create_task(conn, user_id=user_id, data=data)
                    outcome.created.append(record["number"])
        except Exception as error:  # counted and shown, never hidden
            outcome.errors.append(f"{type(error).__name__}: {error}")
        return outcome

    return run


def _process_adder(start: threading.Barrier, count: int, label: str):
    """A client that runs `taskcli add` as a real process, `count` times in a row."""

    def run() -> Outcome:
        outcome = Outcome()
        start.wait(timeout=HANG_GUARD)
        for index in range(count):
            result = run_process("add", f"{label} task {index}", timeout=HANG_GUARD)
            if result.exit_code != 0:
                outcome.errors.append(result.stderr.strip())
                continue
            outcome.created.append(int(result.stdout))
        return outcome

    return run


def _run_clients(clients: list) -> tuple[list[Outcome], float]:
    began = time.monotonic()

    def timed(client) -> Outcome:
        outcome = client()
        outcome.seconds = time.monotonic() - began
        return outcome

    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(timed, client) for client in clients]
        outcomes = [future.result(timeout=HANG_GUARD) for future in futures]
    return outcomes, time.monotonic() - began


def _concurrent_adds(taskcli, *, threads: int, processes: int, per_client: int) -> None:
    user_id, settings = _user_id(taskcli), _settings()
    start = threading.Barrier(threads + processes)
    clients = [
        _library_adder(settings, user_id, start, per_client, f"thread {n}") for n in range(threads)
    ]
    clients += [_process_adder(start, per_client, f"process {n}") for n in range(processes)]
    outcomes, seconds = _run_clients(clients)
    errors = [error for outcome in outcomes for error in outcome.errors]
    numbers = [number for outcome in outcomes for number in outcome.created]
    total = (threads + processes) * per_client
    _report(
        "concurrent add",
        threads + processes,
        len(numbers),
        len(errors),
        seconds,
        threads=threads,
        processes=processes,
        thread_clients_done_after=f"{max(o.seconds for o in outcomes[:threads]):.1f}s",
    )
    assert errors == []
    assert sorted(numbers) == list(range(1, total + 1))
    assert _stored_numbers(taskcli) == list(range(1, total + 1))
    assert run_process("add", "one more").stdout == f"{total + 1}\n"


@pytest.mark.slow
@on_postgres
def test_100_clients_add_20_tasks_each_on_postgres(taskcli, user):
    _concurrent_adds(taskcli, threads=98, processes=2, per_client=20)


@pytest.mark.slow
@on_sqlite
def test_20_clients_add_10_tasks_each_on_sqlite(taskcli, user):
    _concurrent_adds(taskcli, threads=18, processes=2, per_client=10)


# ---- mixed work -------------------------------------------------------------------------------


class Board:
    """The numbers handed out so far, shared by the clients to pick targets from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.numbers: list[int] = []

    def add(self, number: int) -> None:
        with self._lock:
            self.numbers.append(number)

    def pick(self, rng: random.Random) -> int | None:
        with self._lock:
            return rng.choice(self.numbers) if self.numbers else None


def _library_mixer(settings, user_id, board: Board, start, ops: int, seed: int):
    from taskcli.core import tasks
    from taskcli.core.enums import TaskStatus
    from taskcli.core.models import TaskCreate, validated

    def act(conn, rng, outcome: Outcome) -> None:
        kind = rng.choices(["add", "done", "update", "delete"], weights=[4, 2, 2, 2])[0]
        target = board.pick(rng)
        if kind == "add" or target is None:
            data = validated(TaskCreate, {"title": f"mixed {seed}", "tags": ["mixed"]})
            number = tasks.create_task(conn, user_id=user_id, data=data)["number"]
            outcome.created.append(number)
            board.add(number)
            return
        try:
            if kind == "done":
                tasks.set_status(
                    conn, user_id=user_id, refs=[str(target)], status=TaskStatus.completed
                )
                outcome.completed.append(target)
            elif kind == "update":
                changes = tasks.TaskChanges({"title": f"updated by {seed}"}, [f"c{seed}"], [])
                tasks.update_task(conn, user_id=user_id, ref=str(target), changes=changes)
                outcome.tagged.append(target)
            else:
                tasks.delete_tasks(conn, user_id=user_id, refs=[str(target)])
                outcome.deleted.append(target)
        except NotFoundError:  # another client deleted it first: expected
            outcome.not_found += 1

    def run() -> Outcome:
        outcome, rng = Outcome(), random.Random(seed)
        try:
            with logged_in_connection(settings) as conn:
                start.wait(timeout=HANG_GUARD)
                for _ in range(ops):
                    act(conn, rng, outcome)
        except Exception as error:
            outcome.errors.append(f"{type(error).__name__}: {error}")
        return outcome

    return run


def _process_mixer(board: Board, start, ops: int, seed: int):
    def run() -> Outcome:
        outcome, rng = Outcome(), random.Random(seed)
        start.wait(timeout=HANG_GUARD)
        for _ in range(ops):
            target = board.pick(rng)
            if target is None:
                continue
            delete = rng.random() < 0.5
            args = ["delete", str(target), "--yes"] if delete else ["done", str(target)]
            result = run_process(*args, timeout=HANG_GUARD)
            if result.exit_code == 4:
                outcome.not_found += 1
            elif result.exit_code == 0:
                (outcome.deleted if delete else outcome.completed).append(target)
            else:
                outcome.errors.append(result.stderr.strip())
        return outcome

    return run


def _mixed_work(taskcli, *, threads: int, processes: int, ops: int) -> None:
    user_id, settings, board = _user_id(taskcli), _settings(), Board()
    for index in range(20):
        board.add(int(taskcli.ok("add", f"seed {index}").stdout))
    start = threading.Barrier(threads + processes)
    clients = [
        _library_mixer(settings, user_id, board, start, ops, seed) for seed in range(threads)
    ]
    clients += [_process_mixer(board, start, ops // 4, 1000 + n) for n in range(processes)]
    outcomes, seconds = _run_clients(clients)
    errors = [error for outcome in outcomes for error in outcome.errors]
    created = [n for outcome in outcomes for n in outcome.created]
    deleted = [n for outcome in outcomes for n in outcome.deleted]
    completed = {n for outcome in outcomes for n in outcome.completed}
    not_found = sum(outcome.not_found for outcome in outcomes)
    _report(
        "mixed add/done/update/delete",
        threads + processes,
        len(created),
        len(errors),
        seconds,
        deleted=len(deleted),
        completed=len(completed),
        not_found=not_found,
    )
    assert errors == []
    all_numbers = list(range(1, 21)) + created
    assert sorted(all_numbers) == list(range(1, len(all_numbers) + 1)), "no reuse, no gap"
    assert len(deleted) == len(set(deleted)), "a task is deleted once"
    stored = {t["number"]: t for t in taskcli.ok("list", "--all", "--json", "--limit", "0").json()}
    assert sorted(stored) == sorted(set(all_numbers) - set(deleted))
    for number in completed - set(deleted):
        assert stored[number]["status"] == "completed"
    for outcome, seed in zip(outcomes[:threads], range(threads), strict=True):
        for number in set(outcome.tagged) - set(deleted):
            assert f"c{seed}" in stored[number]["tags"]
    after = int(run_process("add", "after the storm").stdout)
    assert after == len(all_numbers) + 1


@pytest.mark.slow
@on_postgres
def test_mixed_clients_never_reuse_numbers_on_postgres(taskcli, user):
    _mixed_work(taskcli, threads=48, processes=2, ops=40)


@pytest.mark.slow
@on_sqlite
def test_mixed_clients_never_reuse_numbers_on_sqlite(taskcli, user):
    _mixed_work(taskcli, threads=10, processes=2, ops=20)


# ---- migrations and first use -----------------------------------------------------------------


def _pg_schema(url: str) -> tuple[set[str], list, list]:
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT version_num FROM alembic_version")
        versions = cursor.fetchall()
        cursor.execute("SELECT key FROM meta ORDER BY key")
        return tables, versions, cursor.fetchall()


def _sqlite_schema(path) -> tuple[set[str], list, list]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {row[0] for row in rows} - {"sqlite_sequence"}
        versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        return tables, versions, conn.execute("SELECT key FROM meta ORDER BY key").fetchall()


def _parallel(commands: list[list[str]], env: dict | None = None):
    began = time.monotonic()
    with ThreadPoolExecutor(len(commands)) as pool:
        results = list(
            pool.map(
                lambda args: run_process(*args, env=env, timeout=HANG_GUARD, input=PASSWORD + "\n"),
                commands,
            )
        )
    return results, time.monotonic() - began


def _assert_one_schema(schema) -> None:
    tables, versions, meta = schema
    assert TABLES <= tables
    assert versions == [(migrate.head_revision(),)]
    keys = [key for (key,) in meta]
    assert len(keys) == len(set(keys)), "one migration seeded meta, not several"
    # PostgreSQL's functions keep two more (0004): the salt key and the last rotation
    assert keys in (["database_id", "signing_key"],
                    ["database_id", "key_rotated_at", "salt_key", "signing_key"])  # fmt: skip


@pytest.mark.slow
def test_8_concurrent_migrations_of_a_fresh_postgres_database(pg_url):
    results, seconds = _parallel([["db", "migrate", "--database-url", pg_url]] * 8)
    _report(
        "concurrent db migrate (postgres)", 8, 0, sum(r.exit_code != 0 for r in results), seconds
    )
    assert [r.exit_code for r in results] == [0] * 8, [r.stderr for r in results]
    _assert_one_schema(_pg_schema(pg_url))


@pytest.mark.slow
def test_8_concurrent_migrations_of_a_fresh_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    results, seconds = _parallel([["db", "migrate", "--database-url", url]] * 8)
    _report("concurrent db migrate (sqlite)", 8, 0, sum(r.exit_code != 0 for r in results), seconds)
    assert [r.exit_code for r in results] == [0] * 8, [r.stderr for r in results]
    _assert_one_schema(_sqlite_schema(tmp_path / "fresh.db"))


@pytest.mark.slow
def test_8_concurrent_first_uses_of_the_embedded_database(isolated):
    """Eight people register at once on a machine where taskcli never ran: the embedded
    database is created and migrated once, and every account exists."""
    commands = [
        ["register", "--email", f"first-{n}@example.com", "--password-stdin"] for n in range(8)
    ]
    results, seconds = _parallel(commands)
    _report(
        "concurrent first use (embedded sqlite)",
        8,
        0,
        sum(r.exit_code != 0 for r in results),
        seconds,
    )
    assert [r.exit_code for r in results] == [0] * 8, [r.stderr for r in results]
    path = isolated / "data" / "taskcli.db"
    _assert_one_schema(_sqlite_schema(path))
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (8,)


# ---- concurrent imports -----------------------------------------------------------------------


SHARED = 12_000  # three batches: later clients look up ids while the first is writing


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_the_same_file_imported_by_4_clients_at_once(taskcli, user, tmp_path):
    """Imports of one user wait for each other: the first creates, the others update."""
    import json
    import subprocess
    import sys

    source = tmp_path / "tasks.jsonl"
    lines = [{"id": str(uuid.uuid4()), "title": f"shared {i}"} for i in range(SHARED)]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = [sys.executable, "-m", "taskcli", "import", str(source), "--json"]
    started = time.monotonic()
    clients = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(c.wait(timeout=HANG_GUARD), *c.communicate()) for c in clients]
    seconds = time.monotonic() - started
    assert [code for code, _out, _err in results] == [0] * 4, results
    reports = [json.loads(out) for _code, out, _err in results]
    _report("concurrent import", 4, SHARED, 0, seconds)
    assert sorted(r["created"] for r in reports) == [0, 0, 0, SHARED]
    assert sorted(r["updated"] for r in reports) == [0, SHARED, SHARED, SHARED]
    assert _stored_numbers(taskcli) == list(range(1, SHARED + 1))


@pytest.mark.slow
def test_10_concurrent_logins_on_10_profiles_keep_every_token(taskcli, user, isolated):
    """Without a keyring every login rewrites tokens.json; at once, none may be lost."""
    profiles = [f"profile{index}" for index in range(10)]
    for profile in profiles:
        taskcli.ok("config", "set", "session_days", "7", "--profile", profile)
    results, _ = _parallel(
        [["login", "--email", user, "--password-stdin", "--profile", p] for p in profiles]
    )
    assert [result.exit_code for result in results] == [0] * 10, [r.stderr for r in results]
    stored = json.loads((isolated / "data" / "tokens.json").read_text())["tokens"]
    assert sorted(entry.split(":")[0] for entry in stored) == sorted(["default", *profiles])
    for profile in profiles:
        taskcli.ok("whoami", "--profile", profile)


@on_postgres
def test_two_users_import_the_same_uuids_at_once(taskcli, user, tmp_path):
    """Ids are unique per user: both imports keep every UUID of the file, neither waits
    for or fails on the other's rows."""
    import json
    import subprocess
    import sys

    from tests.tasks_support import register_second_user

    other = register_second_user(taskcli, tmp_path / "other-data")
    source = tmp_path / "tasks.jsonl"
    lines = [{"id": str(uuid.uuid4()), "title": f"shared {i}"} for i in range(SHARED)]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = [sys.executable, "-m", "taskcli", "import", str(source), "--json"]
    clients = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for env in (None, {**os.environ, **other})
    ]
    results = [(c.wait(timeout=HANG_GUARD), *c.communicate()) for c in clients]
    assert [code for code, _out, _err in results] == [0, 0], results
    assert [json.loads(out)["created"] for _code, out, _err in results] == [SHARED, SHARED]
    expected = {line["id"] for line in lines}
    for env in (None, other):
        listed = taskcli("list", "--all", "--json", "--limit", "0", env=env).json()
        assert {task["id"] for task in listed} == expected
        assert sorted(task["number"] for task in listed) == list(range(1, SHARED + 1))
