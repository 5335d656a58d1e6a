"""Shell completion of values from the database: the ``autocompletion=`` callbacks.

Completion runs at every TAB, before any command: it prints candidates or nothing. A
failure (not logged in, no database, a locked keyring, a server that is down) offers
nothing and says nothing: an error line would land in the middle of the user's prompt.
"""

import typer

from taskcli.cli.session import token_store
from taskcli.cli.state import state


def _offer(ctx: typer.Context, lookup: str, incomplete: str, **arguments) -> list[tuple[str, str]]:
    try:
        from taskcli.core import completion

        store = token_store(ctx, warn=_ignore)
        return completion.offered(
            state(ctx).database(), store, getattr(completion, lookup), prefix=incomplete,
            **arguments,
        )  # fmt: skip
    except Exception:  # any failure: no candidates (see above)
        return []


def _ignore(_message: str) -> None:
    """Token store warnings are for commands, not for a TAB press."""


def open_tasks(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    return _offer(ctx, "task_numbers", incomplete)


def completed_tasks(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    return _offer(ctx, "task_numbers", incomplete, completed=True)


def projects(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    return _offer(ctx, "projects", incomplete)


def tags(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    return _offer(ctx, "tags", incomplete)


def contexts(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    return _offer(ctx, "context_names", incomplete)
