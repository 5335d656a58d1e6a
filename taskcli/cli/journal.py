"""undo and history: the user's journal of changes (kept in the database)."""

from typing import Annotated

import typer

from taskcli.cli import render
from taskcli.cli.helptext import command
from taskcli.cli.options import MAX_COUNT, Json, Yes, confirm_or_require_yes
from taskcli.cli.session import logged_in

app = typer.Typer()


@command(app, "undo", "taskcli undo", "taskcli undo --yes")
def undo_command(ctx: typer.Context, yes: Yes = False, as_json: Json = False) -> None:
    """Revert your most recent change (again: the one before), from any machine."""
    from taskcli.core import journal

    with logged_in(ctx) as session:
        user_id = session.identity.user_id

        def question() -> str:
            latest = journal.history(session.conn, user_id=user_id, limit=1, pending=True)
            return render.undo_question(latest[0] if latest else None)

        confirm_or_require_yes(question, yes)
        entry = journal.undo(session.conn, user_id=user_id)
    render.undone(entry, as_json=as_json)


@command(app, "history", "taskcli history", "taskcli history --limit 5 --json")
def history_command(
    ctx: typer.Context,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            metavar="N",
            help="At most N changes (0 = all kept).",
            min=0,
            max=MAX_COUNT,
        ),
    ] = 20,  # fmt: skip
    as_json: Json = False,
) -> None:
    """Your changes, newest first: when, which command, which tasks, from which machine."""
    from taskcli.core import journal

    with logged_in(ctx) as session:
        entries = journal.history(session.conn, user_id=session.identity.user_id, limit=limit)
    render.history(entries, as_json=as_json)
