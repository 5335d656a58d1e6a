"""The logged-in session a command runs as: token from the store, verified in the database."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer

from taskcli.cli import output
from taskcli.cli.state import state


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
    database = state(ctx).database()
    if stored is None:
        raise AuthError("not logged in", hint=_first_step(database))
    with database.connect() as conn:
        yield LoggedIn(conn, accounts.authenticate(conn, token=stored.token), stored.storage)


def _first_step(database) -> str:
    """The command to run without a login: register while the embedded database has no
    account; on a server, whether accounts exist is nobody's business, so both."""
    from taskcli.core import accounts

    # Connecting first: a server that cannot be reached is the problem to report (exit 6),
    # not the missing login, since logging in would only meet the same failure.
    with database.connect() as conn:
        if not database.is_sqlite:
            return "run: taskcli register (or taskcli login)"
        return "run: taskcli login" if accounts.any_account(conn) else "run: taskcli register"
