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
def logged_in(ctx: typer.Context) -> Iterator[Any]:
    """The connection and identity of the stored token's user (exit 3 if none); see
    :func:`taskcli.core.logins.logged_in`."""
    from taskcli.core import logins

    with logins.logged_in(state(ctx).database(), token_store(ctx)) as session:
        yield session
