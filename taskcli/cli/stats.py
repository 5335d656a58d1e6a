"""stats: counts of the user's tasks and a chart of the last weeks."""

from typing import Annotated

import typer

from taskcli.cli import render_stats
from taskcli.cli.helptext import command
from taskcli.cli.options import Json
from taskcli.cli.session import logged_in
from taskcli.cli.state import state
from taskcli.core.weeks import DEFAULT_WEEKS, MAX_WEEKS

app = typer.Typer()


@command(app, "stats", "taskcli stats", "taskcli stats --weeks 4 --json")
def stats_command(
    ctx: typer.Context,
    weeks: Annotated[
        int,
        typer.Option(
            "--weeks",
            metavar="N",
            min=1,
            max=MAX_WEEKS,
            help=f"Chart the last N ISO weeks, this one last (1 to {MAX_WEEKS}).",
        ),
    ] = DEFAULT_WEEKS,
    as_json: Json = False,
) -> None:
    """Counts by status, priority and project, overdue, waiting and blocked tasks, and the
    tasks created and completed in each of the last weeks (local time)."""
    from taskcli.core import stats

    with logged_in(ctx) as session:
        document = stats.task_stats(session.conn, user_id=session.identity.user_id, weeks=weeks)
    render_stats.stats(document, as_json=as_json, no_pager=state(ctx).no_pager)
