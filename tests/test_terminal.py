"""Commands on a faked terminal, in-process: every command asks taskcli.cli.terminal what it
is attached to and who answers its prompts (the pseudo-terminal tests cover the real one)."""

import json

import pytest

from taskcli.cli.terminal import FakeTerminal, faked
from tests.conftest import PASSWORD
from tests.tasks_support import SGR

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
pytestmark = pytest.mark.in_process(
    "fakes the terminal in the test's process (test_server.py drives a real one through a server)"
)


@on_sqlite
def test_list_on_a_terminal_is_a_table_as_wide_as_the_terminal(taskcli, user):
    taskcli.ok("add", "A title long enough to need folding on a narrow screen " * 3)
    with faked(FakeTerminal(columns=60)):
        result = taskcli.ok("list")
    lines = SGR.sub("", result.stdout).splitlines()
    assert lines[0].split() == ["#", "Status", "Pri", "Title"]  # narrow: columns dropped
    assert "\t" not in result.stdout
    assert max(len(line) for line in lines) == 60
    assert taskcli.ok("list").stdout.count("\t") == 6  # piped: TSV, as before


@on_sqlite
def test_an_empty_list_on_a_terminal_says_so_on_stderr(taskcli, user):
    with faked(FakeTerminal()):
        result = taskcli.ok("list")
    assert (result.stdout, result.stderr) == ("", "no tasks\n")


@on_sqlite
def test_show_and_add_on_a_terminal_talk_to_a_person(taskcli, user):
    with faked(FakeTerminal(columns=50)):
        assert taskcli.ok("add", "milk").stdout == "created task 1\n"
        shown = SGR.sub("", taskcli.ok("show", "1").stdout)
    assert "\t" not in shown
    assert shown.splitlines()[1].split() == ["number", "1"]
    assert taskcli.ok("add", "bread").stdout == "2\n"


@on_sqlite
@pytest.mark.parametrize(("answer", "remaining"), [("n", [1, 2]), ("y", [2])])
def test_delete_asks_the_person_at_the_terminal(taskcli, user, answer, remaining):
    taskcli.ok("add", "milk")
    taskcli.ok("add", "bread")
    fake = FakeTerminal(answers=[answer])
    with faked(fake):
        result = taskcli.ok("delete", "1")
    [(question, hidden)] = fake.asked
    assert question.startswith("  1  milk")
    assert question.endswith("Delete 1 task(s)?")
    assert not hidden
    assert [task["number"] for task in taskcli.ok("list", "--json").json()] == remaining
    if answer == "n":
        assert result.stderr == "cancelled: nothing changed\n"


@on_sqlite
def test_the_delete_question_lists_one_line_a_task_with_stored_controls_escaped(taskcli, user):
    from tests.tasks_support import set_columns, user_id

    taskcli.ok("add", "placeholder")
    set_columns(1, user_id(taskcli), title="erase\x1b[2J\nforged line")
    fake = FakeTerminal(answers=["n"])
    with faked(fake):
        taskcli.ok("delete", "1")
    [(question, _)] = fake.asked
    assert question == "  1  erase\\x1b[2J\\nforged line\nDelete 1 task(s)?"


@on_sqlite
def test_delete_without_a_terminal_on_stdin_needs_yes(taskcli, user):
    taskcli.ok("add", "milk")
    fake = FakeTerminal(stdin=False)
    with faked(fake):
        result = taskcli("delete", "1")
    assert (result.exit_code, fake.asked) == (2, [])
    assert "stdin is not a terminal" in result.stderr


@on_sqlite
def test_register_asks_email_and_a_hidden_password_twice(taskcli, backend):
    fake = FakeTerminal(answers=["me@example.com", PASSWORD, PASSWORD])
    with faked(fake):
        taskcli.ok("register")
    assert fake.asked == [("Email", False), ("Password", True), ("Repeat for confirmation", True)]
    assert taskcli.ok("whoami", "--json").json()["email"] == "me@example.com"


@pytest.mark.parametrize(("key", "value", "hidden"), [
    ("session_days", "7", False), ("database_url", "sqlite:////tmp/x.db", True),
])  # fmt: skip
def test_config_set_without_a_value_prompts_hidden_for_the_database_url(
    taskcli, key, value, hidden
):
    fake = FakeTerminal(answers=[value])
    with faked(fake):
        taskcli.ok("config", "set", key)
    assert fake.asked == [(key, hidden)]
    assert json.loads(taskcli.ok("config", "get", key, "--json").stdout)["value"] in (7, value)


def test_only_the_terminal_module_asks_what_the_streams_are():
    import re

    from tests.conftest import REPO

    asking = re.compile(r"\.isatty\(\)|get_terminal_size|NO_COLOR|PAGER|typer\.(prompt|confirm)")
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in sorted((REPO / "taskcli" / "cli").glob("*.py"))
        if path.name != "terminal.py"
        for line in path.read_text(encoding="utf-8").splitlines()
        if asking.search(line)
    ]
    assert offenders == []
