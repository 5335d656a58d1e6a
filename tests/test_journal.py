"""The journal: undo and history (SPEC §14), on both databases."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PASSWORD
from tests.transfer_support import task_object, write_json


def export(taskcli, env: dict | None = None) -> str:
    result = taskcli("export", env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def undo(taskcli, env: dict | None = None) -> dict:
    result = taskcli("undo", "--yes", "--json", env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.json()


def history(taskcli, *args: str, env: dict | None = None) -> list[dict]:
    result = taskcli("history", "--json", *args, env=env)
    assert result.exit_code == 0, result.stderr
    return result.json()


@pytest.fixture
def planned(taskcli, user) -> str:
    """Four tasks: 1 recurs weekly, 2 depends on 3, 3 has a tag, 4 is started."""
    taskcli.ok("add", "weekly", "--due", "2026-12-07T09:00Z", "--recur", "weekly")
    taskcli.ok("add", "waits", "-P", "high")
    taskcli.ok("add", "needed", "-t", "x", "--project", "home")
    taskcli.ok("update", "2", "--add-depends", "3")
    taskcli.ok("add", "started")
    taskcli.ok("start", "4")
    taskcli.ok("annotate", "3", "first note")
    return user


CHANGES = [
    ["add", "new task", "-P", "low", "--due", "tomorrow", "-t", "a"],
    ["update", "3", "--title", "renamed", "-P", "high", "--due", "2027-01-01",
     "--project", "work", "--add-tag", "y", "--remove-tag", "x", "--wait", "2027-01-01",
     "--scheduled", "2026-12-24"],
    ["update", "2", "--remove-depends", "3"],
    ["update", "3", "--add-depends", "4"],
    ["update", "1", "--no-recur"],
    ["annotate", "3", "second note"],
    ["denotate", "3", "1"],
    ["start", "2"],
    ["stop", "4"],
    ["done", "3", "4"],
    ["done", "1"],  # recurring: makes the next occurrence
    ["delete", "2", "3", "--yes"],
]  # fmt: skip


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: " ".join(change[:2]))
def test_undo_puts_back_exactly_what_one_command_changed(taskcli, planned, change):
    before = export(taskcli)
    steps = len(history(taskcli, "-n", "0"))
    taskcli.ok(*change)
    assert export(taskcli) != before
    entry = undo(taskcli)
    assert entry["command"] == change[0]
    assert export(taskcli) == before  # byte for byte: numbers, ids, times, every field
    assert len(history(taskcli, "-n", "0")) == steps + 1  # the step stays, marked undone
    assert history(taskcli, "-n", "1")[0]["undone_at"] is not None


def test_undo_of_a_recurring_done_removes_the_occurrence_it_made(taskcli, planned):
    taskcli.ok("done", "1")
    assert [t["title"] for t in json.loads(export(taskcli))].count("weekly") == 2
    entry = undo(taskcli)
    assert entry["count"] == 2  # the completed task and the new occurrence
    weekly = [t for t in json.loads(export(taskcli)) if t["title"] == "weekly"]
    assert [(t["number"], t["status"]) for t in weekly] == [(1, "pending")]
    taskcli.ok("done", "1")  # the same occurrence again: the same next id as before
    assert sum(t["title"] == "weekly" for t in json.loads(export(taskcli))) == 2


def test_undo_of_a_delete_brings_the_task_back_with_its_number_and_id(taskcli, planned):
    kept = json.loads(taskcli.ok("show", "3", "--json").stdout)
    taskcli.ok("delete", "3", "--yes")
    undo(taskcli)
    assert json.loads(taskcli.ok("show", "3", "--json").stdout) == kept
    assert taskcli.ok("list", "--blocked", "--json").json()[0]["number"] == 2


def test_undo_of_an_import_removes_created_tasks_and_restores_updated_ones(
    taskcli, planned, tmp_path
):
    before = export(taskcli)
    existing = json.loads(taskcli.ok("show", "2", "--json").stdout)
    changed = {**existing, "title": "changed by import", "priority": "low"}
    path = write_json(tmp_path / "in.json", [changed, task_object("brand new"),
                                             task_object("another")])  # fmt: skip
    taskcli.ok("import", str(path))
    assert len(json.loads(export(taskcli))) == 6
    entry = undo(taskcli)
    assert (entry["command"], entry["count"]) == ("import", 3)
    assert export(taskcli) == before
    taskcli.ok("import", str(path), "--dry-run")  # a dry run is no step
    assert history(taskcli, "-n", "1")[0]["command"] == "import"
    assert history(taskcli, "-n", "1")[0]["undone_at"] is not None


def test_undo_goes_back_a_hundred_steps_and_numbers_are_never_reused(taskcli, user):
    for index in range(105):
        taskcli.ok("add", f"task {index}")
    for _ in range(105):
        undo(taskcli)
    assert json.loads(export(taskcli)) == []
    refused = taskcli("undo", "--yes")
    assert refused.exit_code == 4 and "nothing to undo" in refused.stderr
    assert taskcli.ok("add", "after", "--json").json()["number"] == 106


def test_history_lists_steps_newest_first_with_their_tasks(taskcli, planned):
    entries = history(taskcli)
    assert [e["command"] for e in entries] == [
        "annotate", "start", "add", "update", "add", "add", "add"
    ]  # fmt: skip
    first = entries[0]
    assert list(first) == ["step", "when", "command", "client", "count", "tasks", "undone_at"]
    assert first["count"] == 1 and first["tasks"][0]["number"] == 3
    shown = json.loads(taskcli.ok("show", "3", "--json").stdout)
    assert first["tasks"][0]["id"] == shown["id"]
    assert first["client"] and first["when"].endswith("Z") and first["undone_at"] is None
    assert [e["step"] for e in entries] == sorted((e["step"] for e in entries), reverse=True)
    assert len(history(taskcli, "--limit", "2")) == 2
    plain = taskcli.ok("history").stdout.splitlines()
    assert len(plain) == 7 and plain[0].split("\t")[2] == "annotate"


def test_a_failed_command_leaves_no_step(taskcli, planned):
    steps = history(taskcli, "-n", "0")
    assert taskcli("done", "3", "99").exit_code == 4
    assert taskcli("update", "3", "--add-depends", "2").exit_code == 5  # a cycle
    assert taskcli("update", "3", "-P", "urgent").exit_code != 0
    assert history(taskcli, "-n", "0") == steps


def test_undo_asks_on_a_tty_and_needs_yes_without_one(taskcli, planned):
    before = export(taskcli)
    refused = taskcli("undo")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert export(taskcli) == before


def test_an_undo_on_another_machine_reverts_what_this_one_did_last(taskcli, planned, tmp_path):
    other = {"TASKCLI_DATA_DIR": str(tmp_path / "b" / "data"),
             "TASKCLI_CONFIG_DIR": str(tmp_path / "b" / "config")}  # fmt: skip
    login = taskcli("login", "--email", planned, "--password-stdin", input=PASSWORD, env=other)
    assert login.exit_code == 0, login.stderr
    before = export(taskcli)
    taskcli.ok("done", "3")
    assert undo(taskcli, env=other)["command"] == "done"
    assert export(taskcli) == before


def test_each_user_has_a_journal_of_their_own(taskcli, planned, tmp_path):
    from tests.tasks_support import register_second_user

    other = register_second_user(taskcli, tmp_path / "other")
    assert history(taskcli, env=other) == []
    refused = taskcli("undo", "--yes", env=other)
    assert refused.exit_code == 4
    taskcli("add", "theirs", env=other)
    assert undo(taskcli, env=other)["command"] == "add"
    assert history(taskcli)[0]["command"] == "annotate"  # ours untouched


def test_the_journal_keeps_every_column_of_a_task():
    from taskcli.core.models import Task, journal_tasks

    kept = {c.name for c in journal_tasks.columns}
    assert {c.name for c in Task.__table__.columns} <= kept


# ---- kill -9 in the middle: the change and its step commit together or not at all ----------


def _query(backend: str, statement: str) -> list[tuple]:
    """``statement``'s rows, read past taskcli (the superuser on PostgreSQL)."""
    if backend.startswith("sqlite"):
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(backend.removeprefix("sqlite:///"))) as conn:
            return conn.execute(statement).fetchall()
    from contextlib import closing

    import psycopg2

    from tests.support.databases import admin_url

    with closing(psycopg2.connect(admin_url(backend))) as conn, conn.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall()


def _killed_at_random(argv: list[str], rng, upto: float) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen([sys.executable, "-m", "taskcli", *argv], env=os.environ.copy(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(rng.uniform(0.3, upto))
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_kill_9_during_imports_and_big_changes_leaves_changes_and_steps_consistent(
    taskcli, user, backend, tmp_path
):
    import random

    rng = random.Random(9)
    size = 3000
    for round_ in range(5):
        path = write_json(tmp_path / f"in-{round_}.json",
                          [task_object(f"imported {round_}-{i}") for i in range(size)])  # fmt: skip
        _killed_at_random(["import", str(path)], rng, upto=4.0)
    created = _query(backend, "SELECT count(*) FROM journal_tasks WHERE NOT existed")[0][0]
    total = _query(backend, "SELECT count(*) FROM tasks")[0][0]
    assert total == created and total % size == 0  # every import whole, with its step
    steps = _query(backend, "SELECT count(*) FROM journal")[0][0]
    assert steps == total // size
    for _ in range(3):  # a bulk change of every task, killed at random
        _killed_at_random(["done", "--status", "pending", "--yes"], rng, upto=3.0)
    images = _query(backend, "SELECT count(*) FROM journal_tasks WHERE existed")[0][0]
    completed = _query(backend, "SELECT count(*) FROM tasks WHERE status = 'completed'")[0][0]
    assert images == completed and completed in (0, total)
    while taskcli("undo", "--yes").exit_code == 0:
        pass
    assert _query(backend, "SELECT count(*) FROM tasks")[0][0] == 0


def test_changes_and_undos_at_the_same_moment_never_lose_or_mix_a_step(
    taskcli, user, backend, tmp_path
):
    from tests.tasks_support import run_together

    for index in range(6):
        taskcli.ok("add", f"before {index}")
        if index % 2:
            taskcli.ok("done", str(index + 1))
    commands = []
    for index in range(4):
        commands += [["add", f"racing {index}"], ["undo", "--yes"], ["done", str(index + 1)]]
    for round_ in range(2):
        results = run_together(commands, tmp_path / f"barrier-{round_}")
        for result in results:
            assert result.returncode in (0, 4, 5), (result.args, result.stderr)
            assert "Traceback" not in result.stderr
    # what is stored is exactly what the steps that are not undone made, replayed
    live = _query(backend, "SELECT count(*) FROM tasks")[0][0]
    made = _query(
        backend,
        "SELECT count(*) FROM journal_tasks t JOIN journal j ON j.user_id = t.user_id "
        "AND j.step = t.step WHERE NOT t.existed AND j.undone_at IS NULL",
    )[0][0]
    assert live == made
    while taskcli("undo", "--yes").exit_code == 0:
        pass
    assert json.loads(export(taskcli)) == []


def test_a_big_step_counts_every_task_and_lists_the_first_by_number(taskcli, user):
    from taskcli.core.journal import TASKS_SHOWN
    from tests.tasks_support import create_many, user_id

    create_many(user_id(taskcli), TASKS_SHOWN + 5)
    taskcli.ok("start", "7")
    taskcli.ok("done", "--status", "pending", "--yes")
    entry = history(taskcli, "--limit", "1")[0]
    assert entry["count"] == TASKS_SHOWN + 4  # all but the started one
    listed = [task["number"] for task in entry["tasks"]]
    assert listed == [number for number in range(1, TASKS_SHOWN + 2) if number != 7]
    assert undo(taskcli)["count"] == TASKS_SHOWN + 4
    tasks = json.loads(taskcli.ok("list", "--all", "-n", "0", "--json").stdout)
    assert len(tasks) == TASKS_SHOWN + 5
    assert {t["status"] for t in tasks if t["number"] != 7} == {"pending"}
    assert all(t["completed_at"] is None for t in tasks)
