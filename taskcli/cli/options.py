"""Option aliases shared by many commands (declared once, used everywhere)."""

from __future__ import annotations

from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Yes = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a TTY).")
]


def confirm_or_require_yes(question: str, yes: bool) -> None:
    """Ask on a TTY; without one, refuse unless --yes was given (exit 2)."""
    import sys

    from taskcli.core.errors import UsageError

    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("confirmation needed but stdin is not a terminal", hint="add --yes")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Abort()
