"""The planning views on both databases: annotations, wait, scheduled, stop, H/M/L
priorities, and `next` with its urgency (SPEC §13)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.tasks_support import (
    TASK_KEYS,
    UTC_TIMESTAMP,
    create_many,
    expected_urgency,
    register_second_user,
    set_columns,
    user_id,
)

FUTURE = "2099-01-01T10:00Z"
PAST = "2020-01-01T10:00Z"


def numbers(taskcli, *args: str) -> list[int]:
    return [task["number"] for task in taskcli.ok(*args, "--json").json()]


# ---- annotate / denotate --------------------------------------------------------------------


def test_annotations_are_one_line_of_1_to_2000_characters(taskcli, user):
    taskcli.ok("add", "call the bank")
    for text in (" ", "x" * 2001, "first line\nsecond line"):
        refused = taskcli("annotate", "1", text)
        assert refused.exit_code == 5, (text[:20], refused.stderr)
        assert refused.stdout == "" and len(refused.stderr.strip().splitlines()) == 1
    assert taskcli.ok("show", "1", "--json").json()["annotations"] == []
    taskcli.ok("annotate", "1", "x" * 2000)
    taskcli.ok("annotate", "1", "a")
    texts = [note["text"] for note in taskcli.ok("show", "1", "--json").json()["annotations"]]
    assert texts == ["x" * 2000, "a"]


def test_annotations_are_numbered_oldest_first_and_denotate_removes_the_nth(taskcli, user):
    taskcli.ok("add", "call the bank")
    taskcli.ok("annotate", "1", "called,", "left a message")
    taskcli.ok("annotate", "1", "they called back")
    taskcli.ok("annotate", "1", "sorted")
    notes = taskcli.ok("show", "1", "--json").json()["annotations"]
    assert [sorted(note) for note in notes] == [["entry", "text"]] * 3
    assert [note["text"] for note in notes] == ["called, left a message", "they called back",
                                                "sorted"]  # fmt: skip
    assert all(UTC_TIMESTAMP.match(note["entry"]) for note in notes)
    assert [note["entry"] for note in notes] == sorted(note["entry"] for note in notes)
    shown = [line for line in taskcli.ok("show", "1").stdout.splitlines()
             if line.startswith("annotation")]  # fmt: skip
    assert [line.split("\t")[1].split(" ", 1)[0] for line in shown] == ["1.", "2.", "3."]
    assert shown[1].endswith(" they called back")
    for index in ("0", "4"):
        refused = taskcli("denotate", "1", index)
        assert refused.exit_code == 5 and len(refused.stderr.strip().splitlines()) == 1
    assert len(taskcli.ok("show", "1", "--json").json()["annotations"]) == 3
    taskcli.ok("denotate", "1", "2")
    left = taskcli.ok("show", "1", "--json").json()["annotations"]
    assert [note["text"] for note in left] == ["called, left a message", "sorted"]
    assert left[0]["entry"] == notes[0]["entry"] and left[1]["entry"] == notes[2]["entry"]
    assert taskcli("denotate", "9", "1").exit_code == 4


# ---- wait and scheduled ---------------------------------------------------------------------


def test_a_waiting_task_is_hidden_until_its_time(taskcli, user):
    taskcli.ok("add", "now")
    taskcli.ok("add", "later", "--wait", FUTURE)
    taskcli.ok("add", "waited long enough", "--wait", PAST)
    assert numbers(taskcli, "list") == [1, 3]
    assert numbers(taskcli, "next") == [1, 3]
    assert numbers(taskcli, "list", "--waiting") == [2]
    assert numbers(taskcli, "list", "--all") == [1, 2, 3]
    taskcli.ok("update", "2", "--no-wait")
    assert taskcli.ok("show", "2", "--json").json()["wait"] is None
    assert numbers(taskcli, "list") == [1, 2, 3]
    assert numbers(taskcli, "list", "--waiting") == []
    assert sorted(numbers(taskcli, "next")) == [1, 2, 3]


def test_a_task_scheduled_ahead_is_not_ready(taskcli, user):
    taskcli.ok("add", "now")
    taskcli.ok("add", "not before 2099", "--scheduled", FUTURE)
    taskcli.ok("add", "could have started", "--scheduled", PAST)
    assert numbers(taskcli, "list") == [1, 2, 3]
    assert numbers(taskcli, "list", "--ready") == [1, 3]
    assert 2 not in numbers(taskcli, "next")
    taskcli.ok("update", "2", "--no-scheduled")
    assert taskcli.ok("show", "2", "--json").json()["scheduled"] is None
    assert numbers(taskcli, "list", "--ready") == [1, 2, 3]
    assert 2 in numbers(taskcli, "next")


# ---- stop -----------------------------------------------------------------------------------


def test_stop_puts_started_tasks_back_to_pending_all_or_nothing(taskcli, user):
    for title in ("one", "two", "three"):
        taskcli.ok("add", title)
    taskcli.ok("start", "1", "2")
    taskcli.ok("done", "3")
    refused = taskcli("stop", "1", "99")
    assert refused.exit_code == 4 and len(refused.stderr.strip().splitlines()) == 1
    statuses = {t["number"]: t["status"] for t in taskcli.ok("list", "--json").json()}
    assert statuses == {1: "in_progress", 2: "in_progress"}
    completed = taskcli.ok("show", "3", "--json").json()
    stopped = taskcli.ok("stop", "1", "3", "--json").json()
    assert [(t["number"], t["status"]) for t in stopped] == [(1, "pending"), (3, "completed")]
    assert stopped[1] == completed  # only a started task changes
    statuses = {t["number"]: t["status"] for t in taskcli.ok("list", "--all", "--json").json()}
    assert statuses == {1: "pending", 2: "in_progress", 3: "completed"}


# ---- H/M/L ----------------------------------------------------------------------------------


def test_priorities_accept_h_m_l_in_any_case(taskcli, user):
    for letter in ("H", "m", "l", "High", "LOW"):
        taskcli.ok("add", f"priority {letter}", "-P", letter)
    priorities = [t["priority"] for t in taskcli.ok("list", "--json").json()]
    assert priorities == ["high", "medium", "low", "high", "low"]
    taskcli.ok("update", "2", "--priority", "h")
    assert numbers(taskcli, "list", "-P", "H") == [1, 2, 4]
    assert numbers(taskcli, "list", "--priority", "l") == [3, 5]
    assert numbers(taskcli, "list", "-P", "M") == []
    for command in (["add", "bad", "-P", "x"], ["update", "1", "-P", "urgent"],
                    ["list", "-P", "hm"], ["next", "-P", ""]):  # fmt: skip
        refused = taskcli(*command)
        assert refused.exit_code == 2, (command, refused.stderr)
    assert len(taskcli.ok("list", "--json").json()) == 5


# ---- next and urgency -----------------------------------------------------------------------


def test_next_lists_ready_tasks_most_urgent_first_ties_by_number(taskcli, user):
    owner = user_id(taskcli)
    create_many(owner, 12, "same")
    created = datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(12, 0, -1):  # equal urgency; the last rows written are the first
        set_columns(number, owner, created_at=created)
    taskcli.ok("update", "7", "-P", "high")
    taskcli.ok("add", "waiting", "-P", "high", "--wait", FUTURE)
    taskcli.ok("add", "done", "-P", "high")
    taskcli.ok("done", "14")
    taskcli.ok("add", "blocked", "-P", "high", "--depends", "13")  # on the waiting one
    assert numbers(taskcli, "next") == [7, 1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert numbers(taskcli, "next", "--limit", "3") == [7, 1, 2]
    assert numbers(taskcli, "next", "-n", "0") == [7, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
    assert numbers(taskcli, "next", "--project", "nowhere") == []
    assert taskcli.ok("next", "--project", "nowhere", "--json").stdout.strip() == "[]"
    listed = numbers(taskcli, "list", "--sort", "urgency", "-n", "0")
    assert listed == [7, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 15]  # blocked last
    documents = taskcli.ok("next", "--json").json()
    assert all(list(task) == [*TASK_KEYS, "urgency"] for task in documents)
    assert all(isinstance(task["urgency"], float) for task in documents)


def test_urgency_is_the_documented_weighted_sum(taskcli, user):
    owner = user_id(taskcli)
    now = datetime.now(UTC)
    taskcli.ok("add", "overdue", "-P", "high")
    taskcli.ok("add", "soon", "-t", "a", "-t", "b", "--project", "work")
    taskcli.ok("add", "later", "-P", "low")
    taskcli.ok("add", "blocker", "-t", "one")
    taskcli.ok("add", "blocked", "-P", "high", "--project", "p", "-t", "x", "--depends", "4")
    taskcli.ok("add", "scheduled past", "-P", "low", "--scheduled", PAST)
    taskcli.ok("add", "old", "-t", "a", "-t", "b", "-t", "c")
    set_columns(1, owner, due=now - timedelta(days=10), created_at=now - timedelta(days=73))
    set_columns(2, owner, due=now + timedelta(days=3))
    set_columns(3, owner, due=now + timedelta(days=30), created_at=now - timedelta(days=200))
    set_columns(7, owner, created_at=now - timedelta(days=800))
    taskcli.ok("start", "2")
    for text in ("one", "two", "three"):
        taskcli.ok("annotate", "3", text)
    taskcli.ok("annotate", "4", "only one")
    tasks = {task["number"]: task for task in taskcli.ok("list", "--json").json()}
    expected = {number: expected_urgency(task, now, blocking=number == 4, blocked=number == 5)
                for number, task in tasks.items()}  # fmt: skip
    shown = {task["number"]: task["urgency"] for task in taskcli.ok("next", "--json").json()}
    assert set(shown) == {1, 2, 3, 4, 6, 7}  # 5 is blocked
    for number, value in shown.items():
        assert value == pytest.approx(expected[number], abs=0.01), number
    by_urgency = sorted(expected, key=lambda number: (-expected[number], number))
    assert numbers(taskcli, "list", "--sort", "urgency") == by_urgency
    assert numbers(taskcli, "list", "--sort", "urgency", "--reverse")[0] == 5
    # a page of the order is that slice of it (the database ranks, then reads the page)
    pages = [numbers(taskcli, "list", "--sort", "urgency", "-n", "2", "--offset", str(start))
             for start in (0, 2, 4, 6)]  # fmt: skip
    assert [number for page in pages for number in page] == by_urgency
    least_first = sorted(expected, key=lambda number: (expected[number], number))
    assert numbers(taskcli, "list", "--sort", "urgency", "--reverse", "-n", "0") == least_first
    assert numbers(taskcli, "list", "--sort", "urgency", "--reverse", "-n", "3") == least_first[:3]
    ready = [number for number in by_urgency if number != 5]
    assert numbers(taskcli, "next", "-n", "0") == ready
    assert numbers(taskcli, "next", "-n", "4") == ready[:4]
    assert numbers(taskcli, "next", "-t", "a") == [n for n in ready if "a" in tasks[n]["tags"]]


def test_a_profile_overrides_the_coefficients(taskcli, user):
    taskcli.ok("add", "overdue but low", "-P", "low", "--due", PAST)
    taskcli.ok("add", "high, no due date", "-P", "high")
    assert numbers(taskcli, "next") == [1, 2]
    taskcli.ok("config", "set", "urgency.due", "0")
    assert numbers(taskcli, "next") == [2, 1]
    assert numbers(taskcli, "list", "--sort", "urgency") == [2, 1]
    shown = {task["number"]: task["urgency"] for task in taskcli.ok("next", "--json").json()}
    assert shown[1] == pytest.approx(1.8, abs=0.01)
    taskcli.ok("config", "set", "urgency.priority_low", "20")
    assert numbers(taskcli, "next") == [1, 2]
    for key, value in (("urgency.due", "abc"), ("urgency.due", "nan"),
                       ("urgency.closeness", "1")):  # fmt: skip
        refused = taskcli("config", "set", key, value)
        assert refused.exit_code == 5, (key, value, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1
    assert numbers(taskcli, "next") == [1, 2]


def test_a_hand_edited_bad_coefficient_stops_next_with_one_line(taskcli, user, isolated):
    taskcli.ok("add", "a task")
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[profiles.default.urgency]\ndue = "x"\n')
    refused = taskcli("next")
    assert refused.exit_code == 5 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "urgency.due" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_dependency_on_another_users_task_neither_blocks_nor_is_found(taskcli, user, tmp_path):
    taskcli.ok("add", "mine")
    other = register_second_user(taskcli, tmp_path / "other")
    assert taskcli("add", "theirs", env=other).exit_code == 0
    theirs = taskcli("show", "1", "--json", env=other).json()["id"]

    def urgency(env=None) -> float:
        [task] = taskcli("next", "--json", env=env).json()
        return task["urgency"]

    before = urgency(), urgency(other)
    set_columns(1, user_id(taskcli), depends=[uuid.UUID(theirs)])  # behind taskcli's back
    assert taskcli.ok("show", "1", "--json").json()["depends"] == [theirs]
    assert taskcli.ok("list", "--blocked", "--json").json() == []
    assert taskcli("list", "--blocked", "--json", env=other).json() == []
    assert (urgency(), urgency(other)) == pytest.approx(before, abs=0.01)
    unknown_id = str(uuid.uuid4())
    for command in (["update", "1", "--add-depends"], ["add", "probe", "--depends"]):
        known, unknown = taskcli(*command, theirs), taskcli(*command, unknown_id)
        assert known.exit_code == unknown.exit_code == 4, known.stderr
        assert known.stderr.replace(theirs, "ID") == unknown.stderr.replace(unknown_id, "ID")
