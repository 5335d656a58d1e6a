"""Tasks belong to one user: another user's task is indistinguishable from a missing one.
And many clients adding at once for one user get distinct, gapless numbers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.tasks_support import register_second_user, set_columns, stored_tasks, user_id

THEIR_ID = "a2a2a2a2-0000-4000-8000-00000000a2a2"
COMMANDS = [
    ["show"], ["update", "--title", "taken over"], ["update", "--add-tag", "x"], ["start"],
    ["done"], ["reopen"], ["delete", "--yes"],
]  # fmt: skip


@pytest.fixture
def other(taskcli, user, tmp_path):
    """The logged-in user owns tasks 1, 2 (2 has id THEIR_ID); the other user owns task 1."""
    taskcli.ok("add", "mine one")
    taskcli.ok("add", "mine two")
    set_columns(2, user_id(taskcli), id=uuid.UUID(THEIR_ID))
    env = register_second_user(taskcli, tmp_path / "other-data")
    result = taskcli("add", "theirs", env=env)
    assert (result.exit_code, result.stdout) == (0, "1\n")  # numbers count per user
    return env


def as_other(taskcli, env, command, ref):
    name, *options = command
    result = taskcli(name, ref, *options, env=env)
    as_json = taskcli(name, ref, *options, "--json", env=env)
    return result, as_json


def test_each_user_lists_only_their_own(taskcli, other):
    assert [t["title"] for t in taskcli.ok("list", "--json").json()] == ["mine one", "mine two"]
    theirs = taskcli("list", "--json", env=other)
    assert [t["title"] for t in theirs.json()] == ["theirs"]
    assert taskcli("list", "--search", "mine", env=other).stdout == ""


def test_another_users_task_looks_missing(taskcli, other):
    refs = ("2", THEIR_ID, THEIR_ID[:8], THEIR_ID.replace("-", "").upper())
    before = stored_tasks()
    seen = {(tuple(command), ref): as_other(taskcli, other, command, ref)
            for command in COMMANDS for ref in refs}  # fmt: skip
    assert stored_tasks() == before
    taskcli.ok("delete", "2", "--yes")  # now the task is missing for everyone
    for (command, ref), (result, as_json) in seen.items():
        assert result.exit_code == 4, (command, ref, result.stderr)
        assert result.stdout == "" and as_json.stdout == ""
        assert as_json.error["code"] == "not_found"
        assert (result, as_json) == as_other(taskcli, other, list(command), ref), (command, ref)


@pytest.mark.parametrize("command", [["done"], ["start"], ["delete", "--yes"]])
def test_mixing_own_and_foreign_refs_changes_nothing(taskcli, other, command):
    before = stored_tasks()
    result = taskcli(command[0], "1", THEIR_ID, *command[1:], env=other)
    assert (result.exit_code, result.stdout) == (4, "")
    assert stored_tasks() == before


# ---- many clients at once ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgres", "sqlite"], indirect=True)
def test_concurrent_adds_get_distinct_numbers(taskcli, user, backend):
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "taskcli", "add", f"parallel {index}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for index in range(20)
    ]
    outcomes = [(*p.communicate(timeout=120), p.returncode) for p in processes]
    assert [(code, err) for _, err, code in outcomes] == [(0, "")] * 20
    printed = sorted(int(out) for out, _, _ in outcomes)
    assert printed == list(range(1, 21))
    rows = stored_tasks()
    assert sorted(row["number"] for row in rows) == list(range(1, 21))
    assert {row["title"] for row in rows} == {f"parallel {index}" for index in range(20)}
    assert taskcli.ok("add", "after").stdout == "21\n"
