"""Shell completion: the ``autocompletion=`` callbacks that offer values from the
database, and how the command classes parse a line while completing it.

Completion runs at every TAB, before any command: it prints candidates or nothing. A
failure (not logged in, no database, a locked keyring, a server that is down) offers
nothing and says nothing: an error line would land in the middle of the user's prompt.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from taskcli.cli.session import token_store
from taskcli.cli.state import state

# The variable click's completion protocol sets for a completion of `taskcli`.
COMPLETE_VAR = "_TASKCLI_COMPLETE"


def _offer(ctx: typer.Context, lookup: str, incomplete: str, **arguments) -> list[tuple[str, str]]:
    try:
        from taskcli.core import completion

        store = token_store(ctx, warn=_ignore)
        return completion.offered(
            state(ctx).settings(), store, getattr(completion, lookup), prefix=incomplete,
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


class CompletionParsing:
    """Mixed into the command classes: while shell completion follows the line to the
    word being completed (click's ``resilient_parsing``), each value stays as typed.

    Typer converts a value through a pydantic validator that it builds for each parameter
    the first time: importing pydantic and building the validators of a command's
    parameters costs about as much as ``taskcli --help`` itself, for values that a
    completion never reads (it reads only the global options, as text). No parameter
    callback runs either (``--version`` would print into the shell's candidates)."""

    if TYPE_CHECKING:

        def get_params(self, ctx: Any) -> list[Any]: ...

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        params = self.get_params(ctx)
        for param in params:
            vars(param)["process_value"] = _as_typed
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        finally:
            for param in params:
                vars(param).pop("process_value", None)


def _as_typed(_ctx: typer.Context, value: Any) -> Any:
    return value


@contextmanager
def help_as_written() -> Iterator[None]:
    """While completing, the candidates' help (a task's title, an option's help) goes to
    zsh and fish as written.

    taskcli's texts are never rich markup (the app's ``rich_markup_mode`` is None), but
    Typer renders every candidate's help as markup when rich can be imported: a title's
    ``[urgent]`` would vanish, and importing rich costs more than ``taskcli --help``.
    Typer looks for rich first (``importlib.util.find_spec``), so rich is hidden from it
    for the completion, as :func:`taskcli.core.security._jwt` hides ``cryptography``."""
    hide = "rich" not in sys.modules
    if hide:
        sys.modules["rich"] = None  # type: ignore[assignment]  # → not found
    try:
        yield
    finally:
        if hide and sys.modules.get("rich", 0) is None:
            del sys.modules["rich"]
