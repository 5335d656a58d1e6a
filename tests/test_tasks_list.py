"""`list`: filters, sorting, paging, and the table printed on a terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import run_process
from tests.tasks_support import colour_codes, create_many, run_in_pty, set_columns, user_id

pytestmark = pytest.mark.both_ways  # taskcli in-process and through the local server


def numbers(taskcli, *args: str) -> list[int]:
    return [task["number"] for task in taskcli.ok("list", *args, "--json").json()]


@pytest.fixture
def varied(taskcli, user):
    """Six tasks: 4 in progress, 5 completed, the rest pending."""
    for args in (
        ["Buy milk", "-P", "low", "--project", "home", "-t", "errand",
         "--due", "2020-01-01T10:00Z"],
        ["Write report", "-P", "high", "--project", "work", "-t", "office", "-t", "urgent",
         "--due", "2099-01-01T10:00Z"],
        ["Call Alice", "-d", "about the 100% budget", "-t", "urgent"],
        ["fix snake_case names", "--project", "work", "-t", "office", "--due", "2099-06-01T10:00Z"],
        ["old chore", "-P", "low", "--project", "home", "-t", "errand",
         "--due", "2019-06-01T10:00Z"],
        ["snakeXcase lookalike", "-d", "Nothing SPECIAL at 100 percent", "-P", "high"],
    ):  # fmt: skip
        taskcli.ok("add", *args)
    taskcli.ok("start", "4")
    taskcli.ok("done", "5")
    return user_id(taskcli)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], [1, 2, 3, 4, 6]),
        (["--all"], [1, 2, 3, 4, 5, 6]),
        (["--status", "completed"], [5]),
        (["--status", "in_progress"], [4]),
        (["--status", "pending", "--status", "completed"], [1, 2, 3, 5, 6]),
        (["-P", "high"], [2, 6]),
        (["-P", "low"], [1]),
        (["-P", "low", "--all"], [1, 5]),
        (["--project", "work"], [2, 4]),
        (["--project", "home", "--all"], [1, 5]),
        (["--project", "wor"], []),
        (["--no-project"], [3, 6]),
        (["--no-project", "-P", "high"], [6]),
        (["-t", "urgent"], [2, 3]),
        (["-t", "office", "-t", "urgent"], [2]),
        (["-t", "errand", "--all"], [1, 5]),
        (["-t", "urg"], []),
        (["--due-before", "2021-01-01T00:00Z"], [1]),
        (["--due-before", "2021-01-01T00:00Z", "--all"], [1, 5]),
        (["--due-before", "2099-01-01T10:00Z"], [1, 2]),
        (["--overdue"], [1]),
        (["--overdue", "--all"], [1]),
        (["--search", "MILK"], [1]),
        (["--search", "alice"], [3]),
        (["--search", "special"], [6]),
        (["--search", "100"], [3, 6]),
        (["--search", "%"], [3]),
        (["--search", "100%"], [3]),
        (["--search", "_"], [4]),
        (["--search", "e_c"], [4]),
        (["--search", "nothing at all"], []),
        (["--project", "work", "-t", "office", "--status", "in_progress"], [4]),
    ],
)
def test_filters(taskcli, varied, args, expected):
    assert numbers(taskcli, *args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--reverse"], [6, 4, 3, 2, 1]),
        (["--sort", "number"], [1, 2, 3, 4, 6]),
        (["--sort", "due"], [1, 2, 4, 3, 6]),  # no due date last
        (["--sort", "due", "--reverse"], [4, 2, 1, 6, 3]),  # …in both directions
        (["--sort", "priority"], [2, 6, 3, 4, 1]),  # high first
        (["--sort", "priority", "--reverse"], [1, 4, 3, 6, 2]),
    ],
)
def test_sorting(taskcli, varied, args, expected):
    assert numbers(taskcli, *args) == expected


def test_sort_by_created_and_updated(taskcli, varied):
    for number, month in ((1, 5), (2, 1), (3, 3), (4, 2), (6, 4)):
        set_columns(
            number,
            varied,
            created_at=datetime(2024, month, 1, tzinfo=UTC),
            updated_at=datetime(2025, 6 - month, 1, tzinfo=UTC),
        )
    assert numbers(taskcli, "--sort", "created") == [2, 4, 3, 6, 1]
    assert numbers(taskcli, "--sort", "created", "--reverse") == [1, 6, 3, 4, 2]
    assert numbers(taskcli, "--sort", "updated") == [1, 6, 3, 4, 2]


@pytest.mark.parametrize("command", ["list", "export"])
def test_an_empty_project_is_a_usage_error_and_no_project_selects_none(taskcli, varied, command):
    for args in (["--project", ""], ["--project="], ["--project", "x", "--no-project"]):
        result = taskcli(command, *args)
        assert (result.exit_code, result.stdout) == (2, ""), (args, result.stderr)
        assert result.stderr.startswith("error: --project"), result.stderr
    exported = taskcli.ok("export", "--no-project").json()
    assert [task["title"] for task in exported] == ["Call Alice", "snakeXcase lookalike"]


def test_unknown_sort_is_rejected(taskcli, varied):
    result = taskcli("list", "--sort", "title")
    assert result.exit_code == 2
    assert result.stdout == "" and "sort" in result.stderr


def test_a_filter_holds_status_priority_and_sort_as_their_enums():
    """A library caller may give plain values; the filter holds members or refuses them."""
    from taskcli.core.enums import TaskPriority, TaskSort, TaskStatus
    from taskcli.core.errors import InvalidInputError
    from taskcli.core.listing import TaskFilter

    flt = TaskFilter(statuses=["in_progress"], priority="high", sort="due")
    assert flt.statuses == [TaskStatus.in_progress] and flt.statuses[0] is TaskStatus.in_progress
    assert (flt.priority, flt.sort) == (TaskPriority.high, TaskSort.due)
    assert flt.priority is TaskPriority.high and flt.sort is TaskSort.due
    assert TaskFilter().sort is TaskSort.number
    refused = {
        "priority": ({"priority": "urgent"}, "low, medium, high"),
        "sort": ({"sort": "title"}, "number, due, priority, created, updated, urgency"),
        "status": ({"statuses": ["open"]}, "pending, in_progress, completed"),
    }
    for field, (given, choices) in refused.items():
        with pytest.raises(InvalidInputError) as raised:
            TaskFilter(**given)
        assert raised.value.message == f"{field}: must be one of {choices}"


def test_filtered_tsv(taskcli, varied):
    lines = taskcli.ok("list", "-t", "office").stdout.splitlines()
    assert lines == [
        "2\tpending\thigh\t2099-01-01T10:00:00Z\twork\toffice,urgent\tWrite report",
        "4\tin_progress\tmedium\t2099-06-01T10:00:00Z\twork\toffice\tfix snake_case names",
    ]


# ---- paging -------------------------------------------------------------------------------


@pytest.fixture
def many(taskcli, user):
    create_many(user_id(taskcli), 120)


def test_limit_and_offset(taskcli, many):
    assert numbers(taskcli) == list(range(1, 101))
    assert numbers(taskcli, "--limit", "0") == list(range(1, 121))
    assert numbers(taskcli, "--limit", "5", "--offset", "10") == [11, 12, 13, 14, 15]
    assert numbers(taskcli, "--offset", "118") == [119, 120]
    assert numbers(taskcli, "--offset", "120") == []
    assert numbers(taskcli, "-n", "3", "--reverse") == [120, 119, 118]
    lines = taskcli.ok("list", "--jsonl", "--limit", "0").stdout.splitlines()
    assert len(lines) == 120


def test_piped_list_is_limited_without_a_note(taskcli, many):
    result = taskcli.ok("list")
    assert len(result.stdout.splitlines()) == 100
    assert result.stderr == ""


# ---- on a terminal ------------------------------------------------------------------------


def test_table_on_a_terminal(taskcli, varied):
    code, stdout, stderr = run_in_pty("list")
    assert (code, stderr) == (0, "")
    lines = stdout.splitlines()
    header = next(line for line in lines if "Title" in line)
    assert all(name in header for name in ("#", "Status", "Pri", "Due", "Project", "Tags"))
    assert "Write report" in stdout and "in progress" in stdout
    assert "\t" not in stdout
    assert "old chore" not in stdout
    assert 31 in colour_codes(stdout)  # high priority in red


def test_no_color_on_a_terminal(taskcli, varied):
    code, stdout, _ = run_in_pty("list", env={"NO_COLOR": "1"})
    assert code == 0
    assert "Write report" in stdout
    assert colour_codes(stdout) == set()


def test_terminal_note_when_the_page_is_cut(taskcli, many):
    code, stdout, stderr = run_in_pty("list")
    assert code == 0
    assert "bulk 100" in stdout and "bulk 101" not in stdout
    assert stderr == "showing 100 of 120 (use --limit 0 for all)\n"
    code, stdout, stderr = run_in_pty("list", "--limit", "0")
    assert (code, stderr) == (0, "")
    assert "bulk 120" in stdout


def test_empty_list_on_a_terminal_says_so_on_stderr(user):
    code, stdout, stderr = run_in_pty("list")
    assert code == 0
    assert stdout.strip() == ""
    assert "no tasks" in stderr
    piped = run_process("list", "--json")
    assert (piped.exit_code, piped.stdout.strip()) == (0, "[]")


def test_search_ignores_case_beyond_ascii_on_sqlite(taskcli):
    """PostgreSQL folds case by the database's locale; SQLite gets Python's rules."""
    taskcli.ok("register", "-e", "a@example.com", "--password-stdin", input="password123\n")
    taskcli.ok("add", "Äpfel", "kaufen")
    taskcli.ok("add", "Birnen")
    found = taskcli.ok("list", "--search", "äPFEL", "--json").json()
    assert [task["title"] for task in found] == ["Äpfel kaufen"]


# ---- long lists are streamed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "documents",
    [[], [{}], [{"a": [], "b": 'é\n"x"'}], [{"n": 1, "tags": ["a", "b"]}, {"n": 2, "t": None}]],
)
def test_streamed_json_array_is_the_same_text(documents, capsys):
    from taskcli.cli import output

    output.print_json(documents)
    whole = capsys.readouterr().out
    output.print_json_array(iter(documents))
    assert capsys.readouterr().out == whole


def test_an_unbounded_list_streams_the_same_tasks_as_pages(taskcli, user):
    """Beyond one chunk (2,000 rows) `list` streams; the result equals the pages put together."""
    owner = user_id(taskcli)
    create_many(owner, 2100)
    taskcli.ok("done", "7")
    pages = [
        taskcli.ok("list", "--all", "--json", "--limit", "2000", "--offset", offset).json()
        for offset in ("0", "2000")
    ]
    everything = taskcli.ok("list", "--all", "--json", "--limit", "0").json()
    assert everything == pages[0] + pages[1]
    assert [task["number"] for task in everything] == list(range(1, 2101))
    lines = taskcli.ok("list", "--all", "--jsonl", "--limit", "2001", "--reverse").stdout
    assert [json.loads(line)["number"] for line in lines.splitlines()] == list(range(2100, 99, -1))
    tsv = taskcli.ok("list", "--limit", "0").stdout.splitlines()
    assert len(tsv) == 2099 and tsv[0].startswith("1\tpending\t")
    assert taskcli.ok("list", "--limit", "0", "--project", "none-such", "--json").stdout == "[]\n"


def test_json_and_jsonl_together_are_a_usage_error(taskcli, user):
    result = taskcli("list", "--json", "--jsonl")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.error == {
        "code": "usage", "message": "--json and --jsonl exclude each other", "hint": None
    }  # fmt: skip
