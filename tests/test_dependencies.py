"""Dependencies: cycles and self-dependencies are refused with nothing changed, unknown
references are not found, and a task is blocked exactly while a dependency is open —
`list --ready` and `list --blocked` agree with the SPEC §13 definition for any tasks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tasks_support import (
    connection,
    parse_utc,
    register_second_user,
    run_together,
    tasks_table,
)
from tests.transfer_support import listed, ok, task_object, write_json


def exported(taskcli) -> list[dict]:
    return taskcli.ok("export", "--format", "json", "-o", "-").json()


def numbers(taskcli, *args: str) -> list[int]:
    return [task["number"] for task in taskcli.ok("list", *args, "--json", "--limit", "0").json()]


def add_chain(taskcli, length: int) -> list[dict]:
    """Tasks 1…length where each task depends on the next one; returns them by number."""
    for number in range(1, length + 1):
        taskcli.ok("add", f"Step {number}")
    for number in range(1, length):
        taskcli.ok("update", str(number), "--add-depends", str(number + 1))
    return listed(taskcli)


def test_a_task_cannot_depend_on_itself(taskcli, user):
    taskcli.ok("add", "Paint the wall")
    before = exported(taskcli)
    result = taskcli("update", "1", "--add-depends", "1", "--title", "Renamed")
    assert result.exit_code == 5
    assert result.stderr == "error: task 1 cannot depend on itself\n" and result.stdout == ""
    assert exported(taskcli) == before


@pytest.mark.parametrize("length", [2, 3, 10])
def test_a_dependency_that_closes_a_cycle_is_refused(taskcli, user, length):
    tasks = add_chain(taskcli, length)
    assert tasks[0]["depends"] == [tasks[1]["id"]]
    before = exported(taskcli)
    result = taskcli("update", str(length), "--add-depends", "1", "-P", "high")
    assert result.exit_code == 5
    assert "would close a cycle" in result.stderr and result.stdout == ""
    by_uuid = taskcli("update", tasks[-1]["id"], "--add-depends", tasks[0]["id"][:8])
    assert by_uuid.exit_code == 5
    assert exported(taskcli) == before


def test_remove_depends_drops_that_dependency_only(taskcli, user):
    taskcli.ok("add", "Buy paint")
    taskcli.ok("add", "Buy brushes")
    taskcli.ok("add", "Paint the wall", "--depends", "1", "--depends", "2")
    ids = [task["id"] for task in listed(taskcli)]
    assert listed(taskcli)[2]["depends"] == ids[:2]
    taskcli.ok("update", "3", "--remove-depends", "1")
    assert listed(taskcli)[2]["depends"] == [ids[1]]
    taskcli.ok("update", "1", "--add-depends", "3")  # no longer a cycle
    taskcli.ok("update", "3", "--remove-depends", ids[1])
    assert listed(taskcli)[2]["depends"] == []


def test_an_unknown_reference_is_not_found(taskcli, user, tmp_path):
    taskcli.ok("add", "Paint the wall")
    other = register_second_user(taskcli, tmp_path / "other")
    theirs = ok(taskcli, "add", "Their task", "--json", env=other).json()["id"]
    before = exported(taskcli)
    for args in (
        ["add", "Buy paint", "--depends", "99"],
        ["add", "Buy paint", "--depends", theirs],
        ["update", "1", "--add-depends", "99"],
        ["update", "1", "--add-depends", theirs],
        ["update", "1", "--remove-depends", "99"],
    ):
        result = taskcli(*args)
        assert result.exit_code == 4, (args, result.stderr)
        assert result.stderr.startswith("error: no task ") and result.stdout == ""
    assert exported(taskcli) == before


def test_two_processes_closing_a_cycle_at_once_cannot_both_succeed(taskcli, user, tmp_path):
    """Each change alone is fine; together they would make a cycle: one must fail."""
    rounds = 3
    for round_number in range(rounds):
        first = int(taskcli.ok("add", f"Round {round_number} first").stdout)
        second = int(taskcli.ok("add", f"Round {round_number} second").stdout)
        results = run_together(
            [["update", str(first), "--add-depends", str(second)],
             ["update", str(second), "--add-depends", str(first)]],
            tmp_path / f"barrier-{round_number}",
        )  # fmt: skip
        assert sorted(result.returncode for result in results) == [0, 5], results
        refused = next(result for result in results if result.returncode == 5)
        assert "would close a cycle" in refused.stderr
    with_dependencies = [task for task in listed(taskcli) if task["depends"]]
    assert len(with_dependencies) == rounds


def test_an_import_and_an_update_closing_a_cycle_at_once_cannot_both_succeed(
    taskcli, user, tmp_path
):
    rounds = 3
    for round_number in range(rounds):
        first = taskcli.ok("add", f"Round {round_number} first", "--json").json()
        second = taskcli.ok("add", f"Round {round_number} second", "--json").json()
        imported = write_json(tmp_path / f"round-{round_number}.json",
                              [{**second, "depends": [first["id"]]}])  # fmt: skip
        results = run_together(
            [["update", first["id"], "--add-depends", second["id"]], ["import", str(imported)]],
            tmp_path / f"barrier-{round_number}",
        )
        assert sorted(result.returncode for result in results) == [0, 5], results
    with_dependencies = [task for task in listed(taskcli) if task["depends"]]
    assert len(with_dependencies) == rounds


@pytest.mark.parametrize("finish", [["done", "1"], ["delete", "1", "--yes"]])
def test_finishing_a_dependency_unblocks_the_dependent(taskcli, user, finish):
    taskcli.ok("add", "Buy paint")
    taskcli.ok("add", "Paint the wall", "--depends", "1")
    assert numbers(taskcli, "--blocked") == [2]
    assert numbers(taskcli, "--ready") == [1]
    taskcli.ok(*finish)
    assert numbers(taskcli, "--blocked") == []
    assert numbers(taskcli, "--ready") == [2]


def test_a_deleted_dependency_is_removed_by_its_uuid_or_a_prefix(taskcli, user):
    """A deleted task's id stays in depends (it blocks nothing); --remove-depends takes it
    out by the UUID or a unique prefix, though no task has that id any more."""
    for title in ("Buy paint", "Buy brushes", "Paint the wall"):
        taskcli.ok("add", title)
    taskcli.ok("update", "3", "--add-depends", "1", "--add-depends", "2")
    paint, brushes, wall = listed(taskcli)
    taskcli.ok("delete", "1", "2", "--yes")
    assert taskcli.ok("show", "3", "--json").json()["depends"] == [paint["id"], brushes["id"]]
    taskcli.ok("update", "3", "--remove-depends", paint["id"])
    taskcli.ok("update", "3", "--remove-depends", brushes["id"][:8])
    assert taskcli.ok("show", "3", "--json").json()["depends"] == []
    assert taskcli("update", "3", "--remove-depends", paint["id"]).exit_code == 4


def test_several_new_dependencies_are_each_checked_for_a_cycle(taskcli, user):
    for title in ("a", "b", "c"):
        taskcli.ok("add", title)
    taskcli.ok("update", "3", "--add-depends", "1")
    before = taskcli.ok("export").stdout
    result = taskcli("update", "1", "--add-depends", "2", "--add-depends", "3")
    assert result.exit_code == 5 and "cycle" in result.stderr
    assert taskcli.ok("export").stdout == before


def test_reopening_a_dependency_blocks_again(taskcli, user):
    taskcli.ok("add", "Buy paint")
    taskcli.ok("add", "Paint the wall", "--depends", "1")
    taskcli.ok("done", "1")
    taskcli.ok("reopen", "1")
    assert numbers(taskcli, "--blocked") == [2]
    assert numbers(taskcli, "--ready") == [1]


# ---- ready and blocked, for any tasks ----------------------------------------------------

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# wait and scheduled are a month away from now, so the seconds a test takes change nothing
MOMENTS = {"past": timedelta(days=-30), "future": timedelta(days=30)}


def moment(kind: str | None) -> str | None:
    if kind is None:
        return None
    return (datetime.now(UTC) + MOMENTS[kind]).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def task_graphs(draw) -> list[dict]:
    """Up to 8 task objects to import, each depending only on tasks made before it (so no
    cycle), sometimes on a task that no longer exists; in a random order."""
    objects: list[dict] = []
    for index in range(draw(st.integers(1, 8))):
        earlier = [task["id"] for task in objects]
        chosen = st.lists(st.sampled_from(earlier), unique=True, max_size=3)
        depends = draw(chosen) if earlier else []
        if draw(st.integers(0, 5)) == 0:
            depends.append(str(uuid.UUID(int=draw(st.integers(1, 2**64)))))  # deleted since
        objects.append(task_object(
            f"Task {index}",
            status=draw(st.sampled_from(["pending", "in_progress", "completed"])),
            wait=moment(draw(st.sampled_from([None, "past", "future"]))),
            scheduled=moment(draw(st.sampled_from([None, "past", "future"]))),
            depends=draw(st.permutations(depends)),
        ))  # fmt: skip
    return draw(st.permutations(objects))


def expected_views(records: list[dict]) -> dict[tuple[str, ...], list[int]]:
    """What each listing shows by the SPEC §13 definitions, from the exported tasks."""
    now = datetime.now(UTC)
    status = {task["id"]: task["status"] for task in records}

    def is_open(task):
        return task["status"] != "completed"

    def blocked(task):  # a deleted dependency blocks nothing
        return any(status.get(dep, "completed") != "completed" for dep in task["depends"])

    def waiting(task):
        return task["wait"] is not None and parse_utc(task["wait"]) > now

    def startable(task):
        return task["scheduled"] is None or parse_utc(task["scheduled"]) <= now

    def ready(task):
        return is_open(task) and not waiting(task) and startable(task) and not blocked(task)

    views = {
        ("--ready",): ready,
        ("--ready", "--all"): ready,
        ("--blocked",): lambda task: blocked(task) and is_open(task) and not waiting(task),
        ("--blocked", "--all"): blocked,
        ("--waiting",): lambda task: waiting(task) and is_open(task),
    }
    return {
        args: sorted(task["number"] for task in records if shown(task))
        for args, shown in views.items()
    }


def replace_all_tasks(taskcli, path, objects: list[dict]) -> None:
    with connection() as conn:
        conn.execute(tasks_table().delete())
    taskcli.ok("import", str(write_json(path, objects)))


@SETTINGS
@given(objects=task_graphs())
def test_ready_and_blocked_follow_the_definition(taskcli, user, tmp_path, objects):
    replace_all_tasks(taskcli, tmp_path / "tasks.json", objects)
    records = exported(taskcli)
    assert len(records) == len(objects)
    for args, expected in expected_views(records).items():
        assert numbers(taskcli, *args) == expected, args


def test_an_import_that_would_close_a_cycle_is_refused(taskcli, user, tmp_path):
    taskcli.ok("add", "Buy paint")
    taskcli.ok("add", "Paint the wall", "--depends", "1")
    paint, wall = listed(taskcli)
    first, second, third = (task_object(title) for title in ("First", "Second", "Third"))
    for task, dependency in ((first, second), (second, third), (third, first)):
        task["depends"] = [dependency["id"]]
    before = exported(taskcli)
    for objects in (
        [first, second, third],  # a cycle within the file
        [{**paint, "depends": [wall["id"]]}],  # a cycle through a task already stored
    ):
        result = taskcli("import", str(write_json(tmp_path / "cycle.json", objects)))
        assert result.exit_code == 5, result.stderr
        assert "cycle" in result.stderr and "Traceback" not in result.stderr
        assert exported(taskcli) == before
