"""How --help reads: arguments by their metavar alone, examples, and WHEN where it is taken
(and, from :class:`~taskcli.cli.completion.CompletionParsing`, how a line is parsed for
shell completion).

Typer writes an argument as ``title... <list[str]>`` (its Python type) and explains no
syntax; these command classes write ``TITLE...``, then an Examples section from the
command's epilog and, for a command with a WHEN option, what WHEN accepts.
"""

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from taskcli.cli import output
from taskcli.cli.completion import CompletionParsing

WHEN_SYNTAX = (
    "WHEN is an ISO 8601 date or date and time: 2026-12-01, 2026-12-01T17:00 (local time), "
    "2026-12-01T17:00Z or 2026-12-01T17:00+01:00; now; today, tomorrow, yesterday, eod "
    "(the end of today), eow, eom, eoy (the end of this week, Sunday, month or year); a "
    "weekday such as friday, fri or next friday (the next one after today); days, weeks, "
    "months or years from today: +3d, +2w, +1m, +1y, in 3 days (-3d for the past); or "
    "hours from now: +4h, in 4 hours. "
    "A day without a time means its end (23:59:59, local time)."
)


def examples(*lines: str) -> str:
    """The epilog of a command: one example command line per argument."""
    return "\n".join(lines)


def command(app, name: str, *example_lines: str, **settings: Any):
    """``app.command(name)`` with help that ends with these example command lines
    (``settings``: click's context settings)."""
    return app.command(
        name, cls=HelpfulCommand, epilog=examples(*example_lines), context_settings=settings
    )


def group(help_text: str, *example_lines: str) -> typer.Typer:
    """The Typer of a command group: help with examples, and its help when called alone."""
    return typer.Typer(
        cls=HelpfulGroup,
        epilog=examples(*example_lines),
        help=help_text,
        invoke_without_command=True,
        callback=help_without_command,
    )


def help_without_command(ctx: typer.Context) -> None:
    """A group called without a command prints its help on stdout and succeeds, as git does."""
    if ctx.invoked_subcommand is None:
        output.print_line(ctx.get_help())
        raise typer.Exit(0)


class _ExamplesEpilog:
    """Mixed into click's command classes, which provide ``epilog`` and ``get_params``."""

    epilog: str | None

    if TYPE_CHECKING:

        def get_params(self, ctx: Any) -> list[Any]: ...

    def format_epilog(self, ctx, formatter) -> None:
        if self.epilog:
            with formatter.section("Examples"):
                for line in self.epilog.splitlines():
                    formatter.write(f"{'':>{formatter.current_indent}}{line}\n")
        if any(getattr(param, "metavar", None) == "WHEN" for param in self.get_params(ctx)):
            with formatter.section("WHEN"):
                formatter.write_text(WHEN_SYNTAX)


def _argument_name(param) -> str:
    return (param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else "")


class HelpfulCommand(CompletionParsing, _ExamplesEpilog, TyperCommand):
    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx, formatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((_argument_name(param), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class HelpfulGroup(CompletionParsing, _ExamplesEpilog, TyperGroup):
    pass
