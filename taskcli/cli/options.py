"""Option aliases shared by many commands (declared once, used everywhere)."""

from collections.abc import Callable
from typing import Annotated, Any

import typer

from taskcli.cli import completion

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Yes = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a TTY).")
]


def confirm_or_require_yes(question: str | Callable[[], str], yes: bool) -> None:
    """Ask on a TTY; without one, refuse unless --yes was given (exit 2).

    ``question`` may be a function, called only when there is someone to ask (it may need
    the database to describe what is at stake).
    """
    import sys

    from taskcli.cli import terminal
    from taskcli.cli.output import visible
    from taskcli.core.errors import UsageError

    if yes:
        return
    if not terminal.current().stdin_is_tty():
        raise UsageError("confirmation needed but stdin is not a terminal", hint="add --yes")
    if callable(question):
        question = question()
    # The question's own lines stay lines; what it quotes (a title) is escaped by its maker.
    if not terminal.current().confirm(visible(question, keep="\n")):
        sys.stderr.write("cancelled: nothing changed\n")  # like `rm -i`: declining is no error
        raise typer.Exit(0)


def first_stdin_line(what: str) -> str:
    """The first line of stdin without its line ending (a value kept out of argv)."""
    import sys

    from taskcli.core.errors import InvalidInputError

    line = sys.stdin.readline()
    value = (line[:-1] if line.endswith("\n") else line).removesuffix("\r")
    if not value:
        raise InvalidInputError(f"{what}: nothing on stdin")
    return value


# ---- list filters, shared by `list` and `export` -------------------------------------------

from taskcli.core.enums import TaskPriority, TaskSort, TaskStatus  # noqa: E402  (stdlib-only module)

Statuses = Annotated[
    list[TaskStatus] | None,
    typer.Option(
        "--status",
        "-s",
        metavar="STATUS",
        case_sensitive=False,
        help="Only tasks with this status: pending, in_progress or completed (repeatable).",
    ),
]
All = Annotated[bool, typer.Option("--all", "-a", help="Include completed tasks.")]
PRIORITIES = "low, medium or high (or H, M, L)"


def priority_value(value: str | None) -> TaskPriority | None:
    """A --priority value: low, medium, high or their first letters, any case (exit 2
    otherwise, like any bad option value)."""
    if value is None:
        return None
    try:
        return TaskPriority(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not one of {PRIORITIES}") from None


def priority_option(help_text: str) -> Any:
    return typer.Option(
        "--priority", "-P", metavar="PRIORITY", callback=priority_value, help=help_text
    )


Priority = Annotated[str | None, priority_option(f"Only tasks with this priority: {PRIORITIES}.")]
ProjectFilter = Annotated[
    str | None,
    typer.Option(
        "--project",
        metavar="NAME",
        help="Only tasks of this project (exact name).",
        autocompletion=completion.projects,
    ),
]
NoProject = Annotated[bool, typer.Option("--no-project", help="Only tasks without a project.")]
FilterTags = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        "-t",
        metavar="TAG",
        help="Only tasks with this tag (repeatable).",
        autocompletion=completion.tags,
    ),
]
DueBefore = Annotated[
    str | None, typer.Option("--due-before", metavar="WHEN", help="Due at or before WHEN.")
]
Overdue = Annotated[bool, typer.Option("--overdue", help="Only open tasks past their due time.")]
Search = Annotated[
    str | None,
    typer.Option("--search", metavar="TEXT", help="Text in title or description (any case)."),
]
Sort = Annotated[
    TaskSort,
    typer.Option(
        "--sort",
        metavar="KEY",
        case_sensitive=False,
        help="Sort by number, due, priority, created, updated or urgency (no due date sorts "
        "last; urgency: most urgent first).",
    ),
]
Reverse = Annotated[bool, typer.Option("--reverse", help="Reverse the sort order.")]
Waiting = Annotated[
    bool, typer.Option("--waiting", help="Only tasks waiting until a time still ahead.")
]
Ready = Annotated[
    bool,
    typer.Option("--ready", help="Only ready tasks: open, not waiting, scheduled now or before, "
                 "not blocked."),
]  # fmt: skip
Blocked = Annotated[
    bool, typer.Option("--blocked", help="Only tasks with a dependency that is not completed.")
]
NoContext = Annotated[
    bool, typer.Option("--no-context", help="Ignore the context in use (taskcli context use).")
]
MAX_COUNT = 2**31 - 1
Limit = Annotated[
    int,
    typer.Option(
        "--limit", "-n", metavar="N", help="At most N tasks (0 = all).", min=0, max=MAX_COUNT
    ),
]
Offset = Annotated[
    int,
    typer.Option("--offset", metavar="N", help="Skip the first N tasks.", min=0, max=MAX_COUNT),
]


def task_filter(
    *,
    status: list[TaskStatus] | None,
    include_all: bool,
    priority: str | TaskPriority | None,
    project: str | None,
    no_project: bool,
    tag: list[str] | None,
    due_before: str | None,
    overdue: bool,
    search: str | None,
    sort: TaskSort,
    reverse: bool,
    limit: int,
    offset: int,
    waiting: bool = False,
    ready: bool = False,
    blocked: bool = False,
):
    """The core TaskFilter for the options above (one place for list, next and export)."""
    from taskcli.core.dates import parse_when
    from taskcli.core.errors import UsageError
    from taskcli.core.listing import TaskFilter

    if project == "":
        raise UsageError("--project needs a name", hint="--no-project selects tasks without one")
    if project is not None and no_project:
        raise UsageError("--project and --no-project exclude each other")

    return TaskFilter(
        statuses=list(status or []),
        include_completed=include_all,
        priority=None if priority is None else TaskPriority(priority),
        project=project,
        without_project=no_project,
        tags=list(tag or []),
        due_before=None if due_before is None else parse_when(due_before),
        overdue=overdue,
        search=search,
        include_waiting=include_all,
        only_waiting=waiting,
        ready=ready,
        blocked=blocked,
        sort=sort,
        reverse=reverse,
        limit=limit,
        offset=offset,
    )


def filter_options(**given: Any) -> dict[str, Any]:
    """The list filters given on the command line, by their context key (for ``context
    define``): what was not given is left out."""
    from taskcli.core.errors import UsageError

    if given.get("project") == "":
        raise UsageError("--project needs a name", hint="--no-project selects tasks without one")
    if given.get("project") is not None and given.get("no_project"):
        raise UsageError("--project and --no-project exclude each other")
    return {key: value.value if hasattr(value, "value") else value
            for key, value in given.items() if value not in (None, False, [])}  # fmt: skip
