"""Completing one occurrence of a recurring task makes exactly one next occurrence, however
often and from wherever it is completed: twice in a row, by two processes at the same
moment, from two machines of the same user, and again after an export and re-import."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.tasks_support import run_together
from tests.transfer_support import listed, ok

DUE = "2030-06-03T09:00:00Z"
NEXT_LINE = re.compile(r"^next (\d+): ", re.MULTILINE)


def next_number(stdout: str) -> int:
    """The number `done` printed for the next occurrence (exactly one such line)."""
    [number] = NEXT_LINE.findall(stdout)
    return int(number)


def open_tasks(taskcli, env: dict | None = None) -> list[dict]:
    return [task for task in listed(taskcli, env) if task["status"] != "completed"]


def test_completing_the_same_occurrence_twice_makes_one(taskcli, user):
    taskcli.ok("add", "Water the plants", "--due", DUE, "--recur", "weekly")
    first = next_number(taskcli.ok("done", "1").stdout)
    again = next_number(taskcli.ok("done", "1").stdout)
    assert first == again == 2
    assert [task["number"] for task in listed(taskcli)] == [1, 2]


def test_two_processes_completing_at_once_make_one(taskcli, user, tmp_path):
    rounds = 4
    for round_number in range(rounds):
        number = int(taskcli.ok("add", f"Series {round_number}", "--due", DUE,
                                "--recur", "daily").stdout)  # fmt: skip
        done = ["done", str(number)]
        results = run_together([done, done], tmp_path / f"barrier-{round_number}")
        for result in results:
            assert result.returncode == 0, result.stderr
        assert len({next_number(result.stdout) for result in results}) == 1
    tasks = listed(taskcli)
    numbers = [task["number"] for task in tasks]
    assert len(numbers) == len(set(numbers)) == 2 * rounds
    for round_number in range(rounds):
        series = [task for task in tasks if task["title"] == f"Series {round_number}"]
        assert sorted(task["status"] for task in series) == ["completed", "pending"]


def test_two_machines_completing_the_same_occurrence_make_one(taskcli, user, tmp_path):
    laptop = {"TASKCLI_CONFIG_DIR": str(tmp_path / "laptop" / "config"),
              "TASKCLI_DATA_DIR": str(tmp_path / "laptop" / "data")}  # fmt: skip
    ok(taskcli, "login", "-e", user, "--password-stdin", input=PASSWORD + "\n", env=laptop)
    taskcli.ok("add", "Water the plants", "--due", DUE, "--recur", "weekly")
    here = next_number(taskcli.ok("done", "1").stdout)
    there = next_number(ok(taskcli, "done", "1", env=laptop).stdout)
    assert here == there
    assert listed(taskcli, laptop) == listed(taskcli)
    assert [task["number"] for task in open_tasks(taskcli)] == [here]


@pytest.mark.parametrize("occurrence", [0, 1, 2])
def test_a_reimported_occurrence_completed_again_makes_no_other(taskcli, user, tmp_path,
                                                               occurrence):  # fmt: skip
    """The occurrence ``occurrence`` of a series is completed, exported, deleted, imported
    again and completed again: its next occurrence is the one that exists."""
    taskcli.ok("add", "Water the plants", "--due", DUE, "--recur", "monthly")
    for number in range(1, occurrence + 2):
        taskcli.ok("done", str(number))
    completed = listed(taskcli)[occurrence]
    expected_next = occurrence + 2
    exported = tmp_path / "tasks.json"
    taskcli.ok("export", "--format", "json", "-o", str(exported))
    taskcli.ok("delete", str(completed["number"]), "--yes")
    taskcli.ok("import", str(exported))
    assert next_number(taskcli.ok("done", completed["id"]).stdout) == expected_next
    assert [task["number"] for task in open_tasks(taskcli)] == [expected_next]
    assert len(listed(taskcli)) == occurrence + 2
