"""Bulk changes: start, stop, done, reopen and delete by list filter (SPEC §14)."""

from __future__ import annotations

import json

import pytest

from tests.tasks_support import run_in_pty
from tests.transfer_support import task_object, write_json


def export(taskcli) -> list[dict]:
    return json.loads(taskcli.ok("export").stdout)


def by_number(taskcli) -> dict[int, dict]:
    return {task["number"]: task for task in export(taskcli)}


@pytest.fixture
def shopping(taskcli, user) -> str:
    """1–3 home shop, 4 home, 5 work shop, 6 home shop recurring daily."""
    for args in (["milk", "--project", "home", "-t", "shop"],
                 ["bread", "--project", "home", "-t", "shop"],
                 ["eggs", "--project", "home", "-t", "shop"],
                 ["clean", "--project", "home"],
                 ["toner", "--project", "work", "-t", "shop"],
                 ["fruit", "--project", "home", "-t", "shop", "--due", "2026-12-02T08:00Z",
                  "--recur", "daily"]):  # fmt: skip
        taskcli.ok("add", *args)
    return user


def test_done_by_filter_changes_exactly_the_selected_tasks_in_one_undo_step(taskcli, shopping):
    before = taskcli.ok("export").stdout
    done = taskcli.ok("done", "--project", "home", "-t", "shop", "--yes", "--json").json()
    assert sorted(task["number"] for task in done) == [1, 2, 3, 6]
    tasks = by_number(taskcli)
    assert [n for n, t in tasks.items() if t["status"] == "completed"] == [1, 2, 3, 6]
    assert [t["title"] for t in tasks.values()].count("fruit") == 2  # the next occurrence
    history = taskcli.ok("history", "--json", "-n", "1").json()[0]
    assert (history["command"], history["count"]) == ("done", 5)
    taskcli.ok("undo", "--yes")
    assert taskcli.ok("export").stdout == before


def test_each_status_command_by_filter(taskcli, shopping):
    started = taskcli.ok("start", "-t", "shop", "--yes", "--json").json()
    assert sorted(t["number"] for t in started) == [1, 2, 3, 5, 6]
    stopped = taskcli.ok("stop", "--project", "work", "--yes", "--json").json()
    assert [t["number"] for t in stopped] == [5]
    assert by_number(taskcli)[1]["status"] == "in_progress"
    taskcli.ok("done", "--project", "work", "--yes")
    # reopen's filter selects completed tasks unless --status or --all says otherwise
    reopened = taskcli.ok("reopen", "-t", "shop", "--yes", "--json").json()
    assert [t["number"] for t in reopened] == [5]
    deleted = taskcli.ok("delete", "--search", "e", "--yes", "--json").json()  # bread eggs …
    assert sorted(t["number"] for t in deleted) == [2, 3, 4, 5]
    assert sorted(by_number(taskcli)) == [1, 6]
    for _ in range(5):  # delete, reopen, done, stop, start
        taskcli.ok("undo", "--yes")
    assert all(t["status"] == "pending" for t in export(taskcli)) and len(export(taskcli)) == 6


def test_bulk_needs_yes_without_a_terminal_and_refs_or_filters(taskcli, shopping):
    before = taskcli.ok("export").stdout
    for args, needs in ((["done", "--project", "home"], "--yes"),
                        (["done"], "REFs or list filters"),
                        (["delete", "--yes"], "REFs or list filters"),
                        (["start", "1", "--project", "home"], "not both")):  # fmt: skip
        refused = taskcli(*args)
        assert refused.exit_code == 2 and needs in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1
    assert taskcli.ok("export").stdout == before
    nothing = taskcli("done", "--project", "nowhere", "--yes", "--json")
    assert nothing.exit_code == 0 and nothing.json() == []
    assert taskcli.ok("export").stdout == before


def test_on_a_terminal_it_shows_the_count_and_the_first_titles_and_asks(taskcli, shopping):
    code, stdout, _ = run_in_pty("done", "-t", "shop", input="n\n", stderr_on_terminal=True)
    assert code == 0
    assert "milk" in stdout and "bread" in stdout and "Complete 5 task(s)?" in stdout
    assert all(t["status"] == "pending" for t in export(taskcli))
    code, stdout, _ = run_in_pty("done", "-t", "shop", input="y\n", stderr_on_terminal=True)
    assert code == 0, stdout
    assert sum(t["status"] == "completed" for t in export(taskcli)) == 5


def test_update_of_several_refs_is_all_or_nothing_and_one_undo_step(taskcli, shopping):
    before = taskcli.ok("export").stdout
    refused = taskcli("update", "1", "2", "99", "-P", "high")
    assert refused.exit_code == 4 and "99" in refused.stderr
    assert taskcli.ok("export").stdout == before
    updated = taskcli.ok("update", "1", "2", "5", "-P", "high", "--add-tag", "x", "--json")
    assert [(t["number"], t["priority"]) for t in updated.json()] == [
        (1, "high"), (2, "high"), (5, "high")
    ]  # fmt: skip
    assert all("x" in by_number(taskcli)[n]["tags"] for n in (1, 2, 5))
    one = taskcli.ok("update", "3", "--title", "free range eggs", "--json").json()
    assert one["number"] == 3  # one REF: the task object
    taskcli.ok("undo", "--yes")
    assert taskcli.ok("undo", "--yes", "--json").json()["count"] == 3
    assert taskcli.ok("export").stdout == before


def test_a_bulk_done_of_many_recurring_tasks_makes_each_next_occurrence_and_undo_removes_them(
    taskcli, user, tmp_path
):
    """More recurring tasks than the insert that makes their next occurrences takes as one
    statement (on PostgreSQL those go through COPY): each occurrence is made as a single
    completion makes it, and the one undo step removes them all."""
    from taskcli.core.tasks import COPY_AT

    count = COPY_AT + 20
    notes = [{"entry": "2026-11-30T09:00:00Z", "text": "back\\slash \\N {x} é"}]
    objects = [
        task_object(f"water plant {i}", due="2026-12-02T08:00:00Z", recur="daily",
                    project="home", tags=["garden", 'a"b'], annotations=notes if i % 2 else [])
        for i in range(count)
    ]  # fmt: skip
    plain = [task_object(f"sweep {i}", project="home") for i in range(3)]  # no recurrence
    taskcli.ok("import", str(write_json(tmp_path / "plants.json", objects + plain)))
    before = taskcli.ok("export").stdout
    one = taskcli.ok("done", "1").stdout  # a single completion: its occurrence by INSERT
    assert one.splitlines()[-1].startswith(f"next {count + 4}: water plant 0 (due ")
    # the other originals and that occurrence: their occurrences by COPY on PostgreSQL
    done = taskcli.ok("done", "--project", "home", "--yes").stdout.splitlines()
    completed = [line for line in done if line.startswith("completed ")]
    following = [line for line in done if line.startswith("next ")]
    assert (len(completed), len(following)) == (count + 3, count)
    assert [line for line in completed if "sweep" in line] == [
        f"completed {count + i + 1}: sweep {i}" for i in range(3)
    ]
    # in the order of the completed tasks' numbers, numbered after the first occurrence
    assert following[0].startswith(f"next {count + 5}: water plant 1 (due ")
    assert following[-2].startswith(f"next {2 * count + 3}: water plant {count - 1} (due ")
    assert following[-1].startswith(f"next {2 * count + 4}: water plant 0 (due ")
    tasks = export(taskcli)
    pending = {t["title"]: t for t in tasks if t["status"] == "pending"}
    assert len(pending) == count and len(tasks) == 2 * count + 4

    def shape(task: dict) -> dict:
        unique = ("id", "number", "title", "created_at", "updated_at", "annotations", "due")
        return {key: value for key, value in task.items() if key not in unique}

    zero, first, second = (pending[f"water plant {i}"] for i in range(3))
    assert shape(first) == shape(zero) and shape(second) == shape(zero)
    assert (zero["due"], first["due"]) == ("2026-12-04T08:00:00Z", "2026-12-03T08:00:00Z")
    assert (first["annotations"], second["annotations"]) == (notes, [])
    assert (first["tags"], first["depends"]) == (["garden", 'a"b'], [])
    taskcli.ok("undo", "--yes")
    taskcli.ok("undo", "--yes")
    assert taskcli.ok("export").stdout == before
