"""Every help page reads naturally: plain metavars, an example, WHEN explained where taken."""

import re

import pytest
import typer

from taskcli.cli.app import app

pytestmark = pytest.mark.both_ways  # taskcli in-process and through the local server

# Typer's own renderings of Python types: <list[str]>, <int range>, {title}..., <str>.
BAD_METAVAR = re.compile(r"<[\w\[\]|, ]+>|\{\w+\}")


def _walk(command, path=()):
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))
WHEN_COMMANDS = {("add",), ("update",), ("list",), ("export",), ("next",), ("context", "define"),
                 ("start",), ("stop",), ("done",), ("reopen",), ("delete",)}  # fmt: skip


def help_page(taskcli, path) -> str:
    result = taskcli(*path, "--help")
    assert (result.exit_code, result.stderr) == (0, ""), path
    return result.stdout


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "taskcli")
def test_every_help_page_has_examples_and_plain_metavars(taskcli, path):
    page = help_page(taskcli, path)
    assert "\nExamples:\n  " in page
    examples = page.split("\nExamples:\n", 1)[1]
    assert "taskcli " + " ".join(path) in examples
    assert BAD_METAVAR.findall(page) == []


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "taskcli")
def test_when_is_explained_where_it_is_accepted(taskcli, path):
    page = help_page(taskcli, path)
    takes_when = re.search(r"--[\w-]+ WHEN", page) is not None
    assert takes_when == (path in WHEN_COMMANDS)
    assert ("\nWHEN:\n" in page) == takes_when, page
    if takes_when:
        assert all(word in page for word in ("2026-12-01T17:00", "tomorrow", "+3d", "23:59:59"))


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        ("add", ["Priority of the new task", "Project of the new task", "the new task is due"]),
        ("update", ["New priority", "Move the task to this project", "New due date"]),
    ],
)
def test_add_and_update_options_describe_the_task_not_a_filter(taskcli, command, phrases):
    options = help_page(taskcli, (command,)).split("\nOptions:\n", 1)[1].split("\n\n")[0]
    text = " ".join(options.split())
    assert "Only" not in text
    assert [phrase for phrase in phrases if phrase not in text] == []
