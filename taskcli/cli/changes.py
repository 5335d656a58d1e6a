"""start, stop, done, reopen and delete: of the tasks REFs name (all or none), or of every
task the list filters select (a bulk change: asks on a TTY, needs --yes without one).
Either way one transaction and one journal step."""

from collections.abc import Callable
from typing import Annotated, Any

import typer

from taskcli.cli import completion, output, render
from taskcli.cli.helptext import command
from taskcli.cli.options import (
    All,
    Blocked,
    DueBefore,
    FilterTags,
    Json,
    NoProject,
    Overdue,
    Priority,
    ProjectFilter,
    Ready,
    Search,
    Statuses,
    Waiting,
    Yes,
    confirm_or_require_yes,
    task_filter,
)  # fmt: skip
from taskcli.cli.session import logged_in
from taskcli.core.enums import TaskSort, TaskStatus

app = typer.Typer()


def _optional_refs(complete: Callable[..., Any]) -> Any:
    return Annotated[
        list[str] | None,
        typer.Argument(
            metavar="REF",
            help="Task numbers or UUID prefixes (≥ 6 hex); or none, and list filters instead.",
            show_default=False,
            autocompletion=complete,
        ),
    ]


OpenRefs = _optional_refs(completion.open_tasks)
CompletedRefs = _optional_refs(completion.completed_tasks)  # what reopen can reopen


VERB = {"start": "started", "stop": "stopped", "done": "completed", "reopen": "reopened",
        "delete": "deleted"}  # fmt: skip
QUESTION = {"start": "Start", "stop": "Stop", "done": "Complete", "reopen": "Reopen",
            "delete": "Delete"}  # fmt: skip
# which tasks a filter selects when no --status or --all says otherwise
DEFAULT_STATUSES = {"reopen": [TaskStatus.completed], "stop": [TaskStatus.in_progress]}


def _question(name: str, count: int, first: list[dict]) -> str:
    lines = [f"  {record['number']}  {output.visible(record['title'])}" for record in first]
    if count > len(first):
        lines.append(f"  … and {count - len(first)} more")
    return "\n".join([*lines, f"{QUESTION[name]} {count} task(s)?"])


def _deletion_question(ctx: typer.Context, refs: list[str]) -> str:
    """Number and title of each task the REFs name (an unknown REF fails before asking)."""
    from taskcli.core import tasks

    with logged_in(ctx) as session:
        records = [tasks.get_task(session.conn, user_id=session.identity.user_id, ref=ref)
                   for ref in refs]  # fmt: skip
    return _question("delete", len(records), records)


def _filter_question(ctx: typer.Context, name: str, flt) -> Callable[[], str]:
    def question() -> str:
        from taskcli.core import bulk

        with logged_in(ctx) as session:
            count, first = bulk.preview(session.conn, user_id=session.identity.user_id, flt=flt)
        return _question(name, count, first)

    return question


def _selection(name: str, refs: list[str] | None, filters: dict[str, Any]):
    """The REFs, or the TaskFilter of the filters (exit 2 for both or neither)."""
    from taskcli.core.errors import UsageError

    given = {key: value for key, value in filters.items() if value}
    if refs and given:
        raise UsageError("give task REFs or list filters, not both")
    if refs:
        return refs
    if not given:
        example = f"for instance: taskcli {name} 3, or taskcli {name} --project home"
        raise UsageError(f"{name} needs task REFs or list filters", hint=example)
    if not filters["status"] and not filters["include_all"]:
        filters["status"] = DEFAULT_STATUSES.get(name)
    return task_filter(**filters, sort=TaskSort.number, reverse=False, limit=0, offset=0)


def _change(ctx: typer.Context, name: str, refs, filters: dict[str, Any], yes: bool, as_json):
    from taskcli.core.bulk import VERBS
    from taskcli.core.refs import parse_refs

    selection = _selection(name, refs, filters)
    by_refs = isinstance(selection, list)
    if by_refs:
        parse_refs(selection)
        if name == "delete":
            confirm_or_require_yes(lambda: _deletion_question(ctx, selection), yes)
    else:
        confirm_or_require_yes(_filter_question(ctx, name, selection), yes)
    with logged_in(ctx, journaled=True) as session:
        user_id = session.identity.user_id
        # the text output shows each task's number and title only
        result = VERBS[name](session.conn, user_id=user_id, selection=selection, brief=not as_json)
    records = result.completed if name == "done" else result
    if not by_refs and not records and not as_json:
        output.message("no task matches the filters: nothing changed")
    if name == "done":
        render.completed(result, as_json=as_json)
    else:
        render.task_changes(result, verb=VERB[name], as_json=as_json, many=True)


def _define(name: str, summary: str, *example_lines: str) -> None:
    def handler(
        ctx: typer.Context,
        refs: list[str] | None = None,
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
        yes: Yes = False,
        as_json: Json = False,
    ) -> None:
        filters = {"status": status, "include_all": include_all, "priority": priority,
                   "project": project, "no_project": no_project, "tag": tag,
                   "due_before": due_before, "overdue": overdue, "search": search,
                   "waiting": waiting, "ready": ready, "blocked": blocked}  # fmt: skip
        _change(ctx, name, refs, filters, yes, as_json)

    handler.__doc__ = summary
    handler.__name__ = f"{name}_command"
    # the REFs complete as the open tasks, or for reopen the completed ones
    handler.__annotations__["refs"] = CompletedRefs if name == "reopen" else OpenRefs
    command(app, name, *example_lines)(handler)


_define(
    "start",
    "Mark tasks in progress (all or none), or every task the filters select.",
    "taskcli start 3",
    "taskcli start 3 4",
    "taskcli start --project home -t today --yes",
)
_define(
    "stop",
    "Put started tasks back to pending (all or none), or every started task the filters select.",
    "taskcli stop 3",
    "taskcli stop --project home --yes",
)
_define(
    "done",
    "Mark tasks completed (all or none), or every open task the filters select; "
    "a recurring task's next occurrence is created.",
    "taskcli done 3",
    "taskcli done 3 4 --json",
    "taskcli done --project home -t shop --yes",
)
_define(
    "reopen",
    "Mark tasks pending again (all or none), or every completed task the filters select.",
    "taskcli reopen 3",
    "taskcli reopen --project home --yes",
)
_define(
    "delete",
    "Delete tasks (all or none), or every open task the filters select; asks first on a "
    "TTY, needs --yes otherwise.",
    "taskcli delete 4 7",
    "taskcli delete 4 --yes",
    "taskcli delete --search draft --yes",
)
