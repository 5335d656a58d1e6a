"""The task lifecycle through the CLI as a script: add, list, show, update, start, done,
reopen, delete; numbering; errors as JSON. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import run_process
from tests.tasks_support import (
    TASK_KEYS,
    UTC_TIMESTAMP,
    parse_utc,
    run_in_pty,
    set_columns,
    stored_tasks,
    user_id,
)

pytestmark = pytest.mark.both_ways  # taskcli in-process and through the local server

LONG_AGO = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def add_full(taskcli) -> dict:
    return taskcli.ok(
        "add", "write", "report", "-d", "quarterly numbers", "-P", "high",
        "--due", "2030-05-06T07:08:09Z", "--project", "work", "-t", "office", "-t", "q2",
        "--json",
    ).json()  # fmt: skip


# ---- add ------------------------------------------------------------------------------------


def test_add_piped_prints_only_the_number(taskcli, user):
    first = taskcli.ok("add", "first")
    second = taskcli.ok("add", "second")
    assert (first.stdout, second.stdout) == ("1\n", "2\n")
    assert first.stderr == ""


def test_add_as_a_real_process_prints_only_the_number(user):
    result = run_process("add", "from", "a", "script")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "1\n", "")
    assert [t["title"] for t in stored_tasks()] == ["from a script"]


def test_add_json_is_the_full_task_object(taskcli, user):
    before = datetime.now(UTC).replace(microsecond=0)
    task = add_full(taskcli)
    assert list(task) == TASK_KEYS
    uuid.UUID(task["id"])
    assert task["number"] == 1
    assert task["title"] == "write report"
    assert task["description"] == "quarterly numbers"
    assert (task["status"], task["priority"]) == ("pending", "high")
    assert task["due"] == "2030-05-06T07:08:09Z"
    assert (task["project"], task["tags"]) == ("work", ["office", "q2"])
    assert task["completed_at"] is None
    assert task["created_at"] == task["updated_at"]
    assert parse_utc(task["created_at"]) >= before


def test_add_defaults(taskcli, user):
    task = taskcli.ok("add", "plain", "--json").json()
    assert task["description"] is None and task["due"] is None and task["project"] is None
    assert (task["status"], task["priority"], task["tags"]) == ("pending", "medium", [])


def test_add_stores_what_it_prints(taskcli, user):
    task = add_full(taskcli)
    [row] = stored_tasks()
    assert str(row["id"]) == task["id"]
    assert row["user_id"] == user_id(taskcli)
    assert (row["title"], row["project"], list(row["tags"])) == ("write report", "work",
                                                                  ["office", "q2"])  # fmt: skip


# ---- numbers --------------------------------------------------------------------------------


def test_numbers_count_up_and_are_never_reused(taskcli, user):
    for title in ("a", "b", "c"):
        taskcli.ok("add", title)
    taskcli.ok("delete", "3", "--yes")
    assert taskcli.ok("add", "d").stdout == "4\n"
    taskcli.ok("delete", "1", "2", "4", "--yes")
    assert taskcli.ok("add", "e").stdout == "5\n"
    assert [t["number"] for t in taskcli.ok("list", "--json").json()] == [5]


# ---- list -----------------------------------------------------------------------------------


def test_list_empty(taskcli, user):
    assert taskcli.ok("list").stdout == ""
    assert taskcli.ok("list", "--json").stdout.strip() == "[]"
    assert taskcli.ok("list", "--jsonl").stdout == ""


def test_list_piped_is_tab_separated_without_header(taskcli, user):
    add_full(taskcli)
    taskcli.ok("add", "second", "one")
    result = taskcli.ok("list")
    assert result.stdout.splitlines() == [
        "1\tpending\thigh\t2030-05-06T07:08:09Z\twork\toffice,q2\twrite report",
        "2\tpending\tmedium\t\t\t\tsecond one",
    ]
    assert result.stderr == ""
    assert "\x1b" not in result.stdout


def test_list_json_and_jsonl(taskcli, user):
    add_full(taskcli)
    taskcli.ok("add", "second")
    listed = taskcli.ok("list", "--json").json()
    assert [list(task) for task in listed] == [TASK_KEYS, TASK_KEYS]
    assert [task["title"] for task in listed] == ["write report", "second"]
    lines = taskcli.ok("list", "--jsonl").stdout.splitlines()
    import json

    assert [json.loads(line) for line in lines] == listed


def test_list_as_a_real_process_is_tsv(taskcli, user):
    taskcli.ok("add", "piped")
    result = run_process("list")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "1\tpending\tmedium\t\t\t\tpiped\n", "",
    )  # fmt: skip


# ---- show -----------------------------------------------------------------------------------


def test_show_json_matches_add(taskcli, user):
    task = add_full(taskcli)
    assert taskcli.ok("show", "1", "--json").json() == task
    assert taskcli.ok("show", task["id"], "--json").json() == task


def test_show_piped_lists_every_field(taskcli, user):
    task = add_full(taskcli)
    lines = taskcli.ok("show", "1").stdout.splitlines()
    fields = dict(line.split("\t", 1) for line in lines)
    # annotations follow, one `annotation` line each (none here)
    assert list(fields) == [key for key in TASK_KEYS if key != "annotations"]
    assert fields["id"] == task["id"]
    assert fields["title"] == "write report"
    assert fields["tags"] == "office,q2"
    assert fields["due"] == "2030-05-06T07:08:09Z"
    assert fields["completed_at"] == ""


# ---- update ---------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(taskcli, user):
    task = add_full(taskcli)
    set_columns(1, user_id(taskcli), updated_at=LONG_AGO)
    before = datetime.now(UTC).replace(microsecond=0)
    updated = taskcli.ok("update", "1", "--title", "new title", "--json").json()
    assert updated["title"] == "new title"
    assert parse_utc(updated["updated_at"]) >= before
    unchanged = {k: v for k, v in updated.items() if k not in ("title", "updated_at")}
    assert unchanged == {k: v for k, v in task.items() if k not in ("title", "updated_at")}
    assert taskcli.ok("show", "1", "--json").json() == updated


def test_update_each_field(taskcli, user):
    add_full(taskcli)
    result = taskcli.ok(
        "update", "1", "-d", "other text", "-P", "low", "--due", "2031-01-01T00:00:00+02:00",
        "--project", "home", "--status", "in_progress", "--json",
    )  # fmt: skip
    task = result.json()
    assert (task["description"], task["priority"], task["project"]) == ("other text", "low",
                                                                        "home")  # fmt: skip
    assert (task["due"], task["status"]) == ("2030-12-31T22:00:00Z", "in_progress")
    assert task["tags"] == ["office", "q2"]


def test_update_piped_prints_one_line(taskcli, user):
    taskcli.ok("add", "old")
    result = taskcli.ok("update", "1", "--title", "new")
    assert (result.stdout, result.stderr) == ("updated 1: new\n", "")


def test_update_clears_due_and_project(taskcli, user):
    add_full(taskcli)
    task = taskcli.ok("update", "1", "--no-due", "--no-project", "--json").json()
    assert (task["due"], task["project"]) == (None, None)
    [row] = stored_tasks()
    assert (row["due"], row["project"]) == (None, None)


def test_update_due_and_no_due_together_is_a_usage_error(taskcli, user):
    add_full(taskcli)
    result = taskcli("update", "1", "--due", "tomorrow", "--no-due")
    assert result.exit_code == 2
    assert taskcli.ok("show", "1", "--json").json()["due"] == "2030-05-06T07:08:09Z"


def test_update_tags(taskcli, user):
    add_full(taskcli)  # tags office, q2
    task = taskcli.ok("update", "1", "--add-tag", "urgent", "--add-tag", "office",
                      "--remove-tag", "q2", "--json").json()  # fmt: skip
    assert task["tags"] == ["office", "urgent"]
    task = taskcli.ok("update", "1", "--remove-tag", "office", "--remove-tag", "missing",
                      "--json").json()  # fmt: skip
    assert task["tags"] == ["urgent"]
    assert list(stored_tasks()[0]["tags"]) == ["urgent"]


def test_update_with_nothing_to_change(taskcli, user):
    task = add_full(taskcli)
    result = taskcli("update", "1")
    assert result.exit_code == 5
    assert "nothing to update" in result.stderr
    assert result.stdout == ""
    assert taskcli.ok("show", "1", "--json").json() == task


def test_update_status_completed_and_back(taskcli, user):
    taskcli.ok("add", "x")
    done = taskcli.ok("update", "1", "--status", "completed", "--json").json()
    assert done["status"] == "completed" and UTC_TIMESTAMP.match(done["completed_at"])
    reopened = taskcli.ok("update", "1", "--status", "pending", "--json").json()
    assert (reopened["status"], reopened["completed_at"]) == ("pending", None)


# ---- start / done / reopen ------------------------------------------------------------------


def test_status_commands(taskcli, user):
    taskcli.ok("add", "one")
    taskcli.ok("add", "two")
    started = taskcli.ok("start", "1", "--json").json()
    assert [(t["number"], t["status"], t["completed_at"]) for t in started] == [
        (1, "in_progress", None)
    ]
    before = datetime.now(UTC).replace(microsecond=0)
    done = taskcli.ok("done", "2", "1", "--json").json()
    assert [(t["number"], t["status"]) for t in done] == [(1, "completed"), (2, "completed")]
    assert all(parse_utc(t["completed_at"]) >= before for t in done)
    reopened = taskcli.ok("reopen", "1", "--json").json()
    assert [(t["number"], t["status"], t["completed_at"]) for t in reopened] == [
        (1, "pending", None)
    ]
    rows = {row["number"]: row for row in stored_tasks()}
    assert (rows[1]["status"], rows[1]["completed_at"]) == ("pending", None)
    assert rows[2]["status"] == "completed" and rows[2]["completed_at"] is not None


def test_done_twice_keeps_the_first_completion_time(taskcli, user):
    taskcli.ok("add", "one")
    taskcli.ok("done", "1")
    set_columns(1, user_id(taskcli), completed_at=LONG_AGO)
    again = taskcli.ok("done", "1", "--json").json()
    assert again[0]["completed_at"] == "2020-01-02T03:04:05Z"


def test_status_commands_piped(taskcli, user):
    taskcli.ok("add", "one")
    assert taskcli.ok("start", "1").stdout == "started 1: one\n"
    assert taskcli.ok("done", "1").stdout == "completed 1: one\n"
    assert taskcli.ok("reopen", "1").stdout == "reopened 1: one\n"


# ---- delete ---------------------------------------------------------------------------------


def test_delete_without_yes_and_without_a_terminal_is_refused(taskcli, user):
    taskcli.ok("add", "keep me")
    result = taskcli("delete", "1")
    assert result.exit_code == 2
    assert "--yes" in result.stderr and result.stdout == ""
    process = run_process("delete", "1")
    assert process.exit_code == 2 and process.stdout == ""
    assert [t["title"] for t in stored_tasks()] == ["keep me"]


def test_delete_asks_on_a_terminal(taskcli, user):
    taskcli.ok("add", "one")
    taskcli.ok("add", "two")
    code, stdout, stderr = run_in_pty("delete", "1", "2", input="n\n")
    assert code == 0
    assert "  1  one\n  2  two\nDelete 2 task(s)? [y/N]" in stderr
    assert "cancelled: nothing changed" in stderr
    assert "deleted" not in stdout
    assert [t["number"] for t in stored_tasks()] == [1, 2]
    code, stdout, stderr = run_in_pty("delete", "2", input="y\n")
    assert code == 0
    assert "deleted 2: two" in stdout
    assert [t["number"] for t in stored_tasks()] == [1]
    code, stdout, stderr = run_in_pty("delete", "1", "9", input="y\n")
    assert code == 4 and "Delete" not in stderr, stderr
    assert [t["number"] for t in stored_tasks()] == [1]


def test_delete_json_prints_the_deleted_tasks(taskcli, user):
    first = taskcli.ok("add", "one", "--json").json()
    taskcli.ok("add", "two")
    deleted = taskcli.ok("delete", "1", "--yes", "--json").json()
    assert deleted == [first]
    assert [t["number"] for t in stored_tasks()] == [2]
    assert taskcli("show", "1").exit_code == 4


def test_delete_piped(taskcli, user):
    taskcli.ok("add", "one")
    result = taskcli.ok("delete", "1", "--yes")
    assert (result.stdout, result.stderr) == ("deleted 1: one\n", "")
    assert stored_tasks() == []


# ---- several references: all or nothing -----------------------------------------------------


@pytest.mark.parametrize(
    "command", [["done"], ["start"], ["reopen"], ["delete", "--yes"]], ids=lambda c: c[0]
)
def test_several_refs_act_all_or_nothing(taskcli, user, command):
    taskcli.ok("add", "one")
    taskcli.ok("add", "two")
    taskcli.ok("done", "2")
    before = stored_tasks()
    result = taskcli(*command, "1", "2", "99")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "99" in result.stderr
    assert stored_tasks() == before


@pytest.mark.parametrize("command", [["done"], ["start"], ["delete", "--yes"]], ids=lambda c: c[0])
def test_duplicate_refs_name_one_task(taskcli, user, command):
    taskcli.ok("add", "one")
    taskcli.ok("add", "two")
    task_id = "c0ffee00-1234-4567-89ab-0123456789ab"  # an all-digit prefix would be a number
    set_columns(1, user_id(taskcli), id=uuid.UUID(task_id))
    refs = ["1", "1", task_id, task_id[:8], task_id.upper()]
    result = taskcli.ok(*command, *refs, "--json").json()
    assert [t["number"] for t in result] == [1]
    expected = {"done": ["completed", "pending"], "start": ["in_progress", "pending"]}
    assert [t["status"] for t in stored_tasks()] == expected.get(command[0], ["pending"])


# ---- errors as JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "exit_code", "code"),
    [
        (["show", "7"], 4, "not_found"),
        (["done", "1", "7"], 4, "not_found"),
        (["add", " ", "--json"], 5, "invalid_input"),
        (["update", "1"], 5, "invalid_input"),
        (["show", "abc"], 5, "invalid_input"),
        (["add", "x", "-P", "urgent"], 2, "usage"),
        (["delete", "1"], 2, "usage"),
    ],
)
def test_errors_with_json(taskcli, user, args, exit_code, code):
    taskcli.ok("add", "one")
    result = taskcli(*args, "--json")
    assert result.exit_code == exit_code
    assert result.stdout == ""
    assert list(result.error) == ["code", "message", "hint"]
    assert result.error["code"] == code
    assert result.error["message"]
    assert [t["title"] for t in stored_tasks()] == ["one"]


def test_not_logged_in(taskcli, backend):
    result = taskcli("add", "x", "--json")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.error["code"] == "auth"
