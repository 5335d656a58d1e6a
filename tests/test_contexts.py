"""Contexts (stored per user in the database, the one in use per machine) and the
`projects` / `tags` counts, on both databases (SPEC §13)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.tasks_support import register_second_user, run_in_pty


def numbers(taskcli, *args: str, env: dict | None = None) -> list[int]:
    """The numbers `list` or `next` prints, in number order (next sorts by urgency)."""
    result = taskcli(*args, "--json", env=env)
    assert result.exit_code == 0, (args, result.stderr)
    return sorted(task["number"] for task in result.json())


@pytest.fixture
def planned(taskcli, user) -> str:
    """Six tasks: 1 work urgent, 2 work, 3 home urgent, 4 no project urgent office,
    5 work urgent completed, 6 waiting until 2099."""
    for args in (["work urgent", "--project", "work", "-t", "urgent"],
                 ["work", "--project", "work"],
                 ["home urgent", "--project", "home", "-t", "urgent"],
                 ["loose", "-t", "urgent", "-t", "office"],
                 ["work urgent done", "--project", "work", "-t", "urgent"],
                 ["waiting", "--wait", "2099-01-01T10:00Z"]):  # fmt: skip
        taskcli.ok("add", *args)
    taskcli.ok("done", "5")
    return user


@pytest.fixture
def machine_b(taskcli, planned, tmp_path) -> dict:
    """The same user logged in on a second machine: its own config and data directories,
    the same database."""
    env = {"TASKCLI_DATA_DIR": str(tmp_path / "b" / "data"),
           "TASKCLI_CONFIG_DIR": str(tmp_path / "b" / "config")}  # fmt: skip
    login = taskcli("login", "--email", planned, "--password-stdin", input=PASSWORD, env=env)
    assert login.exit_code == 0, login.stderr
    return env


def test_define_use_list_show_and_delete_with_json(taskcli, planned):
    work = {"name": "work", "filters": {"project": "work", "tags": ["urgent"]}}
    defined = taskcli.ok("context", "define", "work", "--project", "work", "-t", "urgent",
                         "--json")  # fmt: skip
    assert defined.json() == work
    taskcli.ok("context", "define", "home", "--project", "home")
    listed = taskcli.ok("context", "list", "--json").json()
    assert listed == [{"name": "home", "filters": {"project": "home"}, "active": False},
                      {**work, "active": False}]  # fmt: skip
    assert taskcli.ok("context", "show", "--json").json() is None
    assert taskcli.ok("context", "use", "work", "--json").json() == work
    assert taskcli.ok("context", "show", "--json").json() == work
    assert [c["active"] for c in taskcli.ok("context", "list", "--json").json()] == [False, True]
    assert numbers(taskcli, "list") == [1]
    assert taskcli.ok("context", "use", "none", "--json").json() is None
    assert taskcli.ok("context", "show", "--json").json() is None
    assert numbers(taskcli, "list") == [1, 2, 3, 4]
    taskcli.ok("context", "use", "work")
    assert taskcli.ok("context", "delete", "work", "--json").json() == {"name": "work"}
    assert taskcli.ok("context", "show", "--json").json() is None  # this profile stopped
    assert taskcli("context", "delete", "work").exit_code == 4
    assert [c["name"] for c in taskcli.ok("context", "list", "--json").json()] == ["home"]


def test_definitions_follow_the_user_and_each_machine_has_its_own_in_use(taskcli, machine_b):
    taskcli.ok("context", "define", "work", "--project", "work")
    taskcli.ok("context", "define", "home", "--project", "home")
    seen_on_b = taskcli("context", "list", "--json", env=machine_b).json()
    assert [c["name"] for c in seen_on_b] == ["home", "work"]
    taskcli.ok("context", "use", "work")
    assert taskcli("context", "use", "home", env=machine_b).exit_code == 0
    assert numbers(taskcli, "list") == [1, 2]
    assert numbers(taskcli, "next") == [1, 2]
    assert numbers(taskcli, "list", env=machine_b) == [3]
    assert numbers(taskcli, "next", env=machine_b) == [3]
    assert numbers(taskcli, "list", "--no-context") == [1, 2, 3, 4]
    assert numbers(taskcli, "next", "--no-context", env=machine_b) == [1, 2, 3, 4]
    assert numbers(taskcli, "list", "--all") == [1, 2, 5]
    # a redefinition on one machine is what the other applies next
    taskcli.ok("context", "define", "home", "-t", "office")
    assert numbers(taskcli, "list", env=machine_b) == [4]


@pytest.mark.parametrize(
    ("context", "args", "expected"),
    [
        (["--project", "work"], ["-t", "urgent"], [1]),
        (["--project", "work"], ["-t", "urgent", "--all"], [1, 5]),
        (["--project", "work"], ["--project", "home"], []),
        (["-t", "urgent"], ["-t", "office"], [4]),
        (["-t", "urgent"], ["--no-project"], [4]),
        (["--search", "urgent"], ["--project", "home"], [3]),
        # what the context asks for is not hidden by the listing's defaults
        (["--status", "completed"], [], [5]),
        (["--status", "completed"], ["--status", "pending"], []),
        (["--status", "pending", "--status", "completed"], ["-t", "urgent"], [1, 3, 4, 5]),
        (["--waiting"], [], [6]),
        (["--waiting"], ["--project", "work"], []),
    ],
)
def test_command_line_filters_combine_with_the_context(taskcli, planned, context, args,
                                                       expected):  # fmt: skip
    taskcli.ok("context", "define", "ctx", *context)
    taskcli.ok("context", "use", "ctx")
    assert numbers(taskcli, "list", *args) == expected
    ready = [number for number in expected if number not in (5, 6)]
    assert numbers(taskcli, "next", *[a for a in args if a != "--all"]) == ready


def test_a_note_on_a_terminal_says_which_context_is_in_use(taskcli, planned):
    taskcli.ok("context", "define", "work", "--project", "work")
    taskcli.ok("context", "use", "work")
    piped = taskcli.ok("list")
    assert piped.stderr == "" and [line[0] for line in piped.stdout.splitlines()] == ["1", "2"]
    for command in ("list", "next"):
        code, screen, _ = run_in_pty(command, stderr_on_terminal=True)
        assert code == 0 and "context work in use" in screen, screen
    code, screen, _ = run_in_pty("list", "--no-context", stderr_on_terminal=True)
    assert code == 0 and "context" not in screen and "home urgent" in screen


def test_a_context_deleted_on_another_machine_is_ignored_with_one_warning(taskcli, machine_b):
    taskcli.ok("context", "define", "work", "--project", "work")
    taskcli.ok("context", "use", "work")
    assert taskcli("context", "use", "work", env=machine_b).exit_code == 0
    assert taskcli("context", "delete", "work", env=machine_b).exit_code == 0
    assert taskcli("context", "show", "--json", env=machine_b).json() is None
    for command in ("list", "next"):
        result = taskcli(command, "--json")
        assert result.exit_code == 0, result.stderr
        assert sorted(task["number"] for task in result.json()) == [1, 2, 3, 4]
        warnings = result.stderr.strip().splitlines()
        assert len(warnings) == 1 and "'work'" in warnings[0], result.stderr


def test_another_user_does_not_see_the_contexts(taskcli, planned, tmp_path):
    taskcli.ok("context", "define", "work", "--project", "work")
    other = {**register_second_user(taskcli, tmp_path / "other"),
             "TASKCLI_CONFIG_DIR": str(tmp_path / "other-config")}  # fmt: skip
    assert taskcli("context", "list", "--json", env=other).json() == []
    assert taskcli("context", "use", "work", env=other).exit_code == 4
    assert taskcli("context", "delete", "work", env=other).exit_code == 4
    assert taskcli("context", "define", "work", "-t", "mine", env=other).exit_code == 0
    mine = taskcli.ok("context", "list", "--json").json()
    assert mine == [{"name": "work", "filters": {"project": "work"}, "active": False}]


@pytest.mark.parametrize("name", ["has space", "none", "NONE", "x" * 51, "ünï", "a/b", ".x", ""])
def test_bad_context_names_exit_5(taskcli, planned, name):
    refused = taskcli("context", "define", name, "--project", "work")
    assert refused.exit_code == 5, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    if name.lower() != "none":  # `context use none` stops using one
        assert taskcli("context", "use", name).exit_code == 5
        assert taskcli("context", "delete", name).exit_code == 5
    assert taskcli.ok("context", "list", "--json").json() == []


def test_using_an_unknown_context_exits_4_and_a_context_needs_a_filter(taskcli, planned):
    refused = taskcli("context", "use", "unknown")
    assert refused.exit_code == 4 and len(refused.stderr.strip().splitlines()) == 1
    assert taskcli.ok("context", "show", "--json").json() is None
    assert taskcli("context", "define", "empty").exit_code == 5
    assert taskcli("context", "delete", "unknown").exit_code == 4


# ---- projects and tags ----------------------------------------------------------------------


def test_projects_and_tags_count_open_and_total(taskcli, planned, tmp_path):
    other = register_second_user(taskcli, tmp_path / "other")
    assert taskcli("add", "theirs", "--project", "work", "-t", "urgent", env=other).exit_code == 0
    assert taskcli.ok("projects", "--json").json() == [
        {"name": "home", "open": 1, "total": 1},
        {"name": "work", "open": 2, "total": 3},
    ]
    assert taskcli.ok("tags", "--json").json() == [
        {"name": "office", "open": 1, "total": 1},
        {"name": "urgent", "open": 3, "total": 4},
    ]
    assert taskcli.ok("projects").stdout == "home\t1\t1\nwork\t2\t3\n"
    taskcli.ok("done", "1", "2")
    assert taskcli.ok("projects", "--json").json()[1] == {"name": "work", "open": 0, "total": 3}


def test_projects_and_tags_of_no_tasks_are_empty(taskcli, user):
    taskcli.ok("add", "plain")
    for command in ("projects", "tags"):
        result = taskcli.ok(command, "--json")
        assert result.stdout.strip() == "[]" and result.json() == []
        assert taskcli.ok(command).stdout == ""
