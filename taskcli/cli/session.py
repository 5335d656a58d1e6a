"""The logged-in session a command runs as: token from the store, verified in the database."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

from taskcli.cli import output
from taskcli.cli.state import state


def token_store(ctx: typer.Context, warn: Callable[[str], None] = output.warn):
    from taskcli.core.token_store import TokenStore
    from taskcli.core.urls import database_key

    settings = state(ctx).settings()
    return TokenStore(
        data_dir=settings.data_dir,
        profile=settings.profile,
        database_key=database_key(settings.database_url),
        warn=warn,
    )


@contextmanager
def logged_in(ctx: typer.Context, *, journaled: bool = False) -> Iterator[Any]:
    """The connection and identity of the stored token's user (exit 3 if none); see
    :func:`taskcli.core.logins.logged_in`. ``journaled``: the command's task changes are
    one step of the user's journal (what ``undo`` reverts)."""
    from taskcli.core import logins

    with logins.logged_in(state(ctx).database(), token_store(ctx)) as session:
        if not journaled:
            yield session
            return
        import socket

        from taskcli.core import journal

        command = ctx.command_path.partition(" ")[2] or ctx.command_path
        with journal.recorded(session.conn, user_id=session.identity.user_id,
                              command=command, client=socket.gethostname()):  # fmt: skip
            yield session
