"""The logged-in session a command runs as: token from the store, verified in the database."""


from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer

from taskcli.cli import output
from taskcli.cli.app import state


def token_store(ctx: typer.Context):
    from taskcli.core.token_store import TokenStore
    from taskcli.core.urls import database_key

    settings = state(ctx).settings()
    return TokenStore(
        data_dir=settings.data_dir,
        profile=settings.profile,
        database_key=database_key(settings.database_url),
        warn=output.warn,
    )


@dataclass(frozen=True)
class LoggedIn:
    conn: Any
    identity: Any
    token_storage: str


@contextmanager
def logged_in(ctx: typer.Context) -> Iterator[LoggedIn]:
    """The connection and verified identity of the stored token's user (exit 3 if none)."""
    from taskcli.core import accounts
    from taskcli.core.errors import AuthError

    stored = token_store(ctx).load()
    if stored is None:
        raise AuthError("not logged in")
    with state(ctx).database().connect() as conn:
        yield LoggedIn(conn, accounts.authenticate(conn, token=stored.token), stored.storage)
