"""add, list, show, update (start, stop, done, reopen and delete: cli/changes.py)."""

import contextlib
from typing import Annotated

import typer

from taskcli.cli import completion, output, render, terminal
from taskcli.cli.helptext import command
from taskcli.cli.options import (
    PRIORITIES,
    All,
    Blocked,
    DueBefore,
    FilterTags,
    Json,
    Limit,
    NoContext,
    NoProject,
    Offset,
    Overdue,
    Priority,
    ProjectFilter,
    Ready,
    Reverse,
    Search,
    Sort,
    Statuses,
    Waiting,
    priority_option,
    task_filter,
)  # fmt: skip
from taskcli.cli.session import logged_in
from taskcli.cli.state import state
from taskcli.core.enums import TaskSort, TaskStatus

REFS_HELP = "Task numbers or UUID prefixes (≥ 6 hex)."
Refs = Annotated[
    list[str],
    typer.Argument(metavar="REF", help=REFS_HELP, autocompletion=completion.open_tasks),
]
CompletedRefs = Annotated[
    list[str],
    typer.Argument(metavar="REF", help=REFS_HELP, autocompletion=completion.completed_tasks),
]
Ref = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="Task number or UUID prefix (≥ 6 hex).",
        autocompletion=completion.open_tasks,
    ),
]


# add and update set the task's fields: their options say so (the filters say "Only ...").
NewDescription = Annotated[
    str | None,
    typer.Option("--description", "-d", metavar="TEXT", help="Description of the new task."),
]
NewPriority = Annotated[
    str | None, priority_option(f"Priority of the new task: {PRIORITIES} (default: medium).")
]
NewDue = Annotated[
    str | None, typer.Option("--due", metavar="WHEN", help="When the new task is due (WHEN below).")
]
NewProject = Annotated[
    str | None,
    typer.Option(
        "--project",
        metavar="NAME",
        help="Project of the new task.",
        autocompletion=completion.projects,
    ),
]
NewTags = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        "-t",
        metavar="TAG",
        help="Tag of the new task (repeatable).",
        autocompletion=completion.tags,
    ),
]
WaitUntil = Annotated[
    str | None,
    typer.Option("--wait", metavar="WHEN", help="Hide the task from list and next until WHEN."),
]
ScheduledFor = Annotated[
    str | None,
    typer.Option("--scheduled", metavar="WHEN", help="Not to be started before WHEN."),
]
RECUR_HELP = (
    "Repeat: daily, weekdays, weekly, biweekly, monthly, quarterly, yearly, or Nd, Nw, Nm, Ny "
    "(needs --due; done creates the next occurrence)."
)
Recur = Annotated[str | None, typer.Option("--recur", metavar="PERIOD", help=RECUR_HELP)]
Until = Annotated[
    str | None,
    typer.Option("--until", metavar="WHEN", help="No occurrence of the series after WHEN."),
]


app = typer.Typer()


def _when(text: str | None):
    from taskcli.core.dates import parse_when

    return None if text is None else parse_when(text)


@command(
    app,
    "add",
    "taskcli add Buy milk -P high --due tomorrow -t shop",
    'taskcli add "Write the report" --project work --due fri -d "Q4 numbers"',
)
def add_command(
    ctx: typer.Context,
    title: Annotated[
        list[str], typer.Argument(metavar="TITLE", help="Title words (joined by spaces).")
    ],
    description: NewDescription = None,
    priority: NewPriority = None,
    due: NewDue = None,
    project: NewProject = None,
    tag: NewTags = None,
    wait: WaitUntil = None,
    scheduled: ScheduledFor = None,
    depends: Annotated[
        list[str] | None,
        typer.Option(
            "--depends",
            metavar="REF",
            help="A task this one waits for (repeatable).",
            autocompletion=completion.open_tasks,
        ),
    ] = None,
    recur: Recur = None,
    until: Until = None,
    as_json: Json = False,
) -> None:
    """Create a task; prints its number (the whole task with --json)."""
    from taskcli.core import tasks
    from taskcli.core.refs import parse_refs

    data = {"title": " ".join(title), "description": description, "due": _when(due),
            "project": project, "tags": list(tag or []), "wait": _when(wait),
            "scheduled": _when(scheduled), "recur": recur, "until": _when(until)}  # fmt: skip
    if priority is not None:
        data["priority"] = priority
    checked = tasks.task_input(data)
    if depends:
        parse_refs(depends)
    with logged_in(ctx, journaled=True) as session:
        record = tasks.create_task(
            session.conn, user_id=session.identity.user_id, data=checked, depends=depends or ()
        )
    render.created(record, as_json=as_json)


@command(
    app,
    "list",
    "taskcli list --overdue",
    "taskcli list -t work --sort due --reverse",
    "taskcli list --no-project --all --json",
)
def list_command(
    ctx: typer.Context,
    status: Statuses = None,
    include_all: All = False,
    priority: Priority = None,
    project: ProjectFilter = None,
    no_project: NoProject = False,
    tag: FilterTags = None,
    due_before: DueBefore = None,
    overdue: Overdue = False,
    search: Search = None,
    waiting: Waiting = False,
    ready: Ready = False,
    blocked: Blocked = False,
    sort: Sort = TaskSort.number,
    reverse: Reverse = False,
    limit: Limit = 100,
    offset: Offset = 0,
    no_context: NoContext = False,
    as_json: Json = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per line.")] = False,
) -> None:
    """List tasks (completed and waiting ones hidden unless --all; --status shows completed)."""
    from taskcli.core import listing

    if as_json and jsonl:
        from taskcli.core.errors import UsageError

        raise UsageError("--json and --jsonl exclude each other")

    flt = task_filter(
        status=status, include_all=include_all, priority=priority, project=project,
        no_project=no_project, tag=tag,
        due_before=due_before, overdue=overdue, search=search, sort=sort, reverse=reverse,
        limit=limit, offset=offset, waiting=waiting, ready=ready, blocked=blocked,
    )  # fmt: skip
    as_table = terminal.current().stdout_is_tty() and not (as_json or jsonl)
    shown = {"as_json": as_json, "jsonl": jsonl, "no_pager": state(ctx).no_pager}
    with logged_in(ctx) as session:
        user_id = session.identity.user_id
        flt = planning_view(ctx, session, flt, no_context=no_context)
        if listing.is_bounded(flt):
            records = listing.list_tasks(session.conn, user_id=user_id, flt=flt)
            total = None
            if as_table and len(records) == flt.limit:
                total = listing.count_tasks(session.conn, user_id=user_id, flt=flt)
            render.task_list(records, total=total, **shown)
            return
        total = None
        if as_table and flt.limit:  # a long page: the note says if it was cut
            total = listing.count_tasks(session.conn, user_id=user_id, flt=flt)
        with contextlib.closing(listing.iter_tasks(session.conn, user_id=user_id, flt=flt)) as rows:
            render.task_list(rows, total=total, **shown)


@command(app, "show", "taskcli show 3", "taskcli show 3f2a9c --json")
def show_command(ctx: typer.Context, ref: Ref, as_json: Json = False) -> None:
    """Show one task with all its fields."""
    from taskcli.core import tasks

    with logged_in(ctx) as session:
        record = tasks.get_task(session.conn, user_id=session.identity.user_id, ref=ref)
    render.task_detail(record, as_json=as_json)


@command(
    app,
    "update",
    "taskcli update 3 --due +2w --add-tag waiting",
    "taskcli update 3 -P low --no-project",
    "taskcli update 3 4 7 --add-tag review",
)
def update_command(
    ctx: typer.Context,
    refs: Refs,
    title: Annotated[str | None, typer.Option("--title", metavar="TEXT", help="New title.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", metavar="TEXT", help="New description.")
    ] = None,
    priority: Annotated[str | None, priority_option(f"New priority: {PRIORITIES}.")] = None,
    due: Annotated[
        str | None, typer.Option("--due", metavar="WHEN", help="New due date (WHEN below).")
    ] = None,
    no_due: Annotated[bool, typer.Option("--no-due", help="Remove the due date.")] = False,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            metavar="NAME",
            help="Move the task to this project.",
            autocompletion=completion.projects,
        ),
    ] = None,
    no_project: Annotated[bool, typer.Option("--no-project", help="Remove the project.")] = False,
    status: Annotated[
        TaskStatus | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            case_sensitive=False,
            help="New status: pending, in_progress or completed.",
        ),
    ] = None,  # fmt: skip
    add_tag: Annotated[
        list[str] | None,
        typer.Option(
            "--add-tag",
            metavar="TAG",
            help="Add this tag (repeatable).",
            autocompletion=completion.tags,
        ),
    ] = None,
    remove_tag: Annotated[
        list[str] | None,
        typer.Option(
            "--remove-tag",
            metavar="TAG",
            help="Remove this tag (repeatable).",
            autocompletion=completion.tags,
        ),
    ] = None,
    wait: WaitUntil = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Stop waiting: show it now.")] = False,
    scheduled: ScheduledFor = None,
    no_scheduled: Annotated[
        bool, typer.Option("--no-scheduled", help="Remove the scheduled time.")
    ] = False,
    recur: Recur = None,
    no_recur: Annotated[bool, typer.Option("--no-recur", help="Stop repeating.")] = False,
    until: Until = None,
    no_until: Annotated[bool, typer.Option("--no-until", help="Repeat without an end.")] = False,
    add_depends: Annotated[
        list[str] | None,
        typer.Option(
            "--add-depends",
            metavar="REF",
            help="Wait for this task too (repeatable).",
            autocompletion=completion.open_tasks,
        ),
    ] = None,
    remove_depends: Annotated[
        list[str] | None,
        typer.Option(
            "--remove-depends",
            metavar="REF",
            help="No longer wait for this task (repeatable).",
            autocompletion=completion.open_tasks,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Change the given fields only."""
    from taskcli.core import tasks
    from taskcli.core.errors import UsageError
    from taskcli.core.refs import parse_refs

    pairs = {"due": (due, no_due), "project": (project, no_project), "wait": (wait, no_wait),
             "scheduled": (scheduled, no_scheduled), "recur": (recur, no_recur),
             "until": (until, no_until)}  # fmt: skip
    for name, (value, clear) in pairs.items():
        if value is not None and clear:
            raise UsageError(f"--{name} and --no-{name} exclude each other")
    given = {"title": title, "description": description, "priority": priority,
             "due": _when(due), "project": project, "status": status, "wait": _when(wait),
             "scheduled": _when(scheduled), "recur": recur, "until": _when(until)}  # fmt: skip
    fields = {key: value for key, value in given.items() if value is not None}
    fields.update({name: None for name, (_value, clear) in pairs.items() if clear})
    parse_refs(refs)
    for dependencies in (add_depends, remove_depends):
        if dependencies:
            parse_refs(dependencies)
    if set(add_depends or []) & set(remove_depends or []):
        raise UsageError("--add-depends and --remove-depends of the same task exclude each other")
    changes = tasks.TaskChanges(
        fields, list(add_tag or []), list(remove_tag or []),
        list(add_depends or []), list(remove_depends or []),
    )  # fmt: skip
    with logged_in(ctx, journaled=True) as session:
        records = tasks.update_tasks(
            session.conn, user_id=session.identity.user_id, refs=refs, changes=changes
        )
    render.task_changes(records, verb="updated", as_json=as_json, many=len(refs) > 1)


def planning_view(ctx: typer.Context, session, flt, *, no_context: bool):
    """``flt`` with the profile's urgency coefficients and, unless --no-context, the
    context in use (a note on a TTY says which)."""
    from dataclasses import replace

    from taskcli.core import contexts, urgency

    settings = state(ctx).settings()
    flt = replace(flt, urgency=urgency.weights(settings.urgency))
    if no_context or not settings.context:
        return flt
    active = contexts.active(session.conn, user_id=session.identity.user_id,
                             name=settings.context, warn=output.warn)  # fmt: skip
    if active is None:
        return flt
    if terminal.current().stderr_is_tty():
        output.message(f"context {active['name']} in use (--no-context to ignore it)")
    return replace(flt, also=contexts.filter_of(active["filters"]))
