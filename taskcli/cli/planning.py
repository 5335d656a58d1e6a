"""next, annotate, denotate, projects, tags and the context group."""

from typing import Annotated

import typer

from taskcli.cli import completion, output, render
from taskcli.cli.helptext import command, group
from taskcli.cli.options import (
    MAX_COUNT,
    Blocked,
    DueBefore,
    FilterTags,
    Json,
    NoContext,
    NoProject,
    Overdue,
    Priority,
    ProjectFilter,
    Search,
    Statuses,
    Waiting,
    filter_options,
    task_filter,
)  # fmt: skip
from taskcli.cli.session import logged_in
from taskcli.cli.state import state
from taskcli.cli.tasks import Ref, planning_view
from taskcli.core.enums import TaskSort

app = typer.Typer()
context_app = group(
    "Name a set of list filters and use it on every machine you log in on.",
    "taskcli context define work --project work -t urgent",
    "taskcli context use work",
    "taskcli context use none",
)


@command(app, "next", "taskcli next", "taskcli next --project work --limit 3 --json")
def next_command(
    ctx: typer.Context,
    status: Statuses = None,
    priority: Priority = None,
    project: ProjectFilter = None,
    no_project: NoProject = False,
    tag: FilterTags = None,
    due_before: DueBefore = None,
    overdue: Overdue = False,
    search: Search = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", metavar="N", help="At most N tasks (0 = all).", min=0, max=MAX_COUNT
        ),
    ] = 10,  # fmt: skip
    no_context: NoContext = False,
    as_json: Json = False,
) -> None:
    """The ready tasks, most urgent first (urgency: see the README)."""
    from taskcli.core import listing

    flt = task_filter(
        status=status, include_all=False, priority=priority, project=project,
        no_project=no_project, tag=tag, due_before=due_before, overdue=overdue, search=search,
        sort=TaskSort.urgency, reverse=False, limit=limit, offset=0, ready=True,
    )  # fmt: skip
    with logged_in(ctx) as session:
        flt = planning_view(ctx, session, flt, no_context=no_context)
        records = listing.next_tasks(session.conn, user_id=session.identity.user_id, flt=flt)
    render.next_list(records, as_json=as_json, no_pager=state(ctx).no_pager)


@command(app, "annotate", 'taskcli annotate 3 "called, left a message"')
def annotate_command(
    ctx: typer.Context,
    ref: Ref,
    text: Annotated[list[str], typer.Argument(metavar="TEXT", help="The note (words joined).")],
    as_json: Json = False,
) -> None:
    """Add a note with the time it was made to a task."""
    from taskcli.core import tasks

    with logged_in(ctx, journaled=True) as session:
        record = tasks.annotate(
            session.conn, user_id=session.identity.user_id, ref=ref, text=" ".join(text)
        )
    render.task_changes([record], verb="annotated", as_json=as_json, many=False)


@command(app, "denotate", "taskcli denotate 3 1")
def denotate_command(
    ctx: typer.Context,
    ref: Ref,
    index: Annotated[
        int, typer.Argument(metavar="N", help="Which annotation: 1 is the oldest (see show).")
    ],
    as_json: Json = False,
) -> None:
    """Remove a task's N-th annotation."""
    from taskcli.core import tasks

    with logged_in(ctx, journaled=True) as session:
        record = tasks.denotate(session.conn, user_id=session.identity.user_id, ref=ref,
                                index=index)  # fmt: skip
    render.task_changes([record], verb="denotated", as_json=as_json, many=False)


def _counts(ctx: typer.Context, of: str, as_json: bool) -> None:
    from taskcli.core import listing

    with logged_in(ctx) as session:
        rows = listing.name_counts(session.conn, user_id=session.identity.user_id, of=of)
    render.name_counts(rows, as_json=as_json, what=of)


@command(app, "projects", "taskcli projects", "taskcli projects --json")
def projects_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Each project with its open and total task counts."""
    _counts(ctx, "project", as_json)


@command(app, "tags", "taskcli tags", "taskcli tags --json")
def tags_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Each tag with its open and total task counts."""
    _counts(ctx, "tag", as_json)


# ---- contexts ---------------------------------------------------------------------------

Name = Annotated[
    str,
    typer.Argument(metavar="NAME", help="The context's name.", autocompletion=completion.contexts),
]


def _profile_file(ctx: typer.Context):
    import os

    from taskcli.core import config

    file = config.load_config()
    return file, config.active_profile(file, state(ctx).profile, os.environ)


@command(
    context_app,
    "define",
    "taskcli context define work --project work",
    "taskcli context define today --due-before eod --ready",
)
def context_define(
    ctx: typer.Context,
    name: Name,
    status: Statuses = None,
    priority: Priority = None,
    project: ProjectFilter = None,
    no_project: NoProject = False,
    tag: FilterTags = None,
    due_before: DueBefore = None,
    overdue: Overdue = False,
    search: Search = None,
    waiting: Waiting = False,
    ready: Annotated[bool, typer.Option("--ready", help="Only ready tasks.")] = False,
    blocked: Blocked = False,
    as_json: Json = False,
) -> None:
    """Create or replace a context: the list filters it applies (stored in the database)."""
    from taskcli.core import contexts

    filters = filter_options(
        status=[s.value for s in status or []], priority=priority, project=project,
        no_project=no_project, tags=list(tag or []), due_before=due_before, overdue=overdue,
        search=search, waiting=waiting, ready=ready, blocked=blocked,
    )  # fmt: skip
    with logged_in(ctx) as session:
        item = contexts.define(session.conn, user_id=session.identity.user_id, name=name,
                               filters=filters)  # fmt: skip
    render.done_message(f"defined context {item['name']}", as_json=as_json, document=item)


@command(context_app, "use", "taskcli context use work", "taskcli context use none")
def context_use(ctx: typer.Context, name: Name, as_json: Json = False) -> None:
    """Use a context on this machine's profile from now on (none: stop using one)."""
    from taskcli.core import contexts

    file, profile = _profile_file(ctx)
    if name.strip().lower() == contexts.NONE:
        file.require_profile(profile)
        file.unset("context", profile)
        file.save()
        render.done_message("no context in use", as_json=as_json, document=None)
        return
    with logged_in(ctx) as session:
        item = contexts.get(session.conn, user_id=session.identity.user_id,
                            name=contexts.checked_name(name))  # fmt: skip
    file.set("context", item["name"], profile)
    file.save()
    render.done_message(f"using context {item['name']}", as_json=as_json, document=item)


@command(context_app, "list", "taskcli context list", "taskcli context list --json")
def context_list(ctx: typer.Context, as_json: Json = False) -> None:
    """Every context with its filters; * marks the one in use."""
    from taskcli.core import contexts

    active = state(ctx).settings().context
    with logged_in(ctx) as session:
        items = contexts.list_contexts(session.conn, user_id=session.identity.user_id)
    render.context_list(items, active=active, as_json=as_json)


@command(context_app, "show", "taskcli context show")
def context_show(ctx: typer.Context, as_json: Json = False) -> None:
    """The context in use and its filters (none when there is none)."""
    from taskcli.core import contexts

    active = state(ctx).settings().context
    item = None
    if active:
        with logged_in(ctx) as session:
            item = contexts.active(session.conn, user_id=session.identity.user_id, name=active,
                                   warn=output.warn)  # fmt: skip
    render.context_shown(item, as_json=as_json)


@command(context_app, "delete", "taskcli context delete work")
def context_delete(ctx: typer.Context, name: Name, as_json: Json = False) -> None:
    """Delete a context (on every machine); this profile stops using it."""
    from taskcli.core import contexts

    with logged_in(ctx) as session:
        contexts.delete(session.conn, user_id=session.identity.user_id, name=name)
    file, profile = _profile_file(ctx)
    if file.profile(profile).get("context") == name:
        file.unset("context", profile)
        file.save()
    render.done_message(f"deleted context {name}", as_json=as_json, document={"name": name})
