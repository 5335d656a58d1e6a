"""The Typer application: global options, command registration and the one error handler."""

import functools
import os
import sys
import traceback
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Annotated, Any

import typer
import typer.main

from taskcli import __version__
from taskcli.cli import (
    account,
    auth,
    changes,
    completion,
    config,
    db,
    edit,
    journal,
    output,
    planning,
    server,
    stats,
    tasks,
    transfer,
)  # fmt: skip
from taskcli.cli.helptext import HelpfulGroup, examples, help_without_command
from taskcli.cli.state import AppState
from taskcli.core.errors import TaskcliError

GLOBAL_VALUE_OPTIONS = ("--profile", "-p", "--database-url")
VERBOSE_FLAGS = ("--verbose", "-v")
GLOBAL_FLAGS = (*VERBOSE_FLAGS, "--no-pager")
JSON_FLAGS = ("--json", "--jsonl")


def hoist_global_options(args: Sequence[str], root=None) -> list[str]:
    """Move global options given after the command to the front, where Typer expects them.

    ``taskcli db migrate --database-url URL`` then means ``taskcli --database-url URL db
    migrate``. The value of a command's own option is never taken for a global option
    (``add note -d -v`` keeps ``-v`` as the description); scanning stops at ``--``.
    """
    front: list[str] = []
    rest: list[str] = []
    items = list(args)
    command = root
    takes_value = _value_options(command)
    index = 0
    while index < len(items):
        arg = items[index]
        if arg == "--":
            rest += items[index:]
            break
        if arg in GLOBAL_VALUE_OPTIONS and index + 1 < len(items):
            front += items[index : index + 2]
            index += 2
            continue
        if arg in GLOBAL_FLAGS or arg.startswith(("--profile=", "--database-url=")):
            front.append(arg)
        elif arg in takes_value:
            rest += items[index : index + 2]
            index += 2
            continue
        else:
            rest.append(arg)
            subcommand = getattr(command, "commands", {}).get(arg)
            if subcommand is not None and not arg.startswith("-"):
                command, takes_value = subcommand, _value_options(subcommand)
        index += 1
    return front + rest


def _value_options(command) -> set[str]:
    """The option strings of ``command`` that take a value (not flags)."""
    names: set[str] = set()
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "option" and not param.is_flag:
            names.update(param.opts)
    return names


def _before_separator(args: Sequence[str]) -> list[str]:
    items = list(args)
    return items[: items.index("--")] if "--" in items else items


class TaskcliGroup(HelpfulGroup):
    """Root command: hoists global options and turns every failure into one line + exit code."""

    def main(  # click's parameters; standalone_mode is ignored: failures are always reported
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ):
        argv = hoist_global_options(sys.argv[1:] if args is None else args, self)
        flags = _before_separator(argv)
        as_json = any(flag in flags for flag in JSON_FLAGS)
        verbose = any(flag in flags for flag in VERBOSE_FLAGS)
        completing = os.environ.get(complete_var or completion.COMPLETE_VAR)
        try:
            with completion.help_as_written() if completing else nullcontext():
                result = super().main(
                    args=argv,
                    prog_name=prog_name or "taskcli",
                    complete_var=complete_var,
                    standalone_mode=False,
                    windows_expand_args=windows_expand_args,
                    **extra,
                )
            code = result if isinstance(result, int) else 0
            if code == 130:  # Typer turns Ctrl-C into Exit(130)
                output.render_error(
                    code="interrupted", message_text="interrupted", hint=None, as_json=as_json
                )
        except Exception as error:
            code = _report(error, as_json=as_json, verbose=verbose)
        sys.exit(code)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`taskcli list | head -1`): stop quietly, as cat does.
            _silence_stdout()
            return 0


def _silence_stdout() -> None:
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (an in-process test runner)
        pass


def _report(error: Exception, *, as_json: bool, verbose: bool) -> int:
    """The one place an error becomes a line on stderr and an exit code."""
    if isinstance(error, TaskcliError):
        code, message, hint, exit_code = error.code, error.message, error.hint, error.exit_code
    elif isinstance(error, typer.TyperException):  # click's usage errors, vendored by typer
        code, message, hint = "usage", error.format_message(), _usage_hint(error)
        exit_code = error.exit_code
    elif isinstance(error, typer.Abort):
        code, message, hint, exit_code = "aborted", "aborted", None, 130
    else:  # the last resort: never a traceback without --verbose
        first_line = (str(error).strip().splitlines() or [""])[0]
        code, message = "unexpected", f"unexpected error: {type(error).__name__}: {first_line}"
        hint, exit_code = "run again with --verbose for details", 1
    if verbose and not isinstance(error, typer.TyperException):
        traceback.print_exception(error)
    output.render_error(code=code, message_text=message, hint=hint, as_json=as_json)
    return exit_code


def _usage_hint(error: Exception) -> str:
    ctx = getattr(error, "ctx", None)
    path = ctx.command_path if ctx is not None else "taskcli"
    return f"see: {path} --help"


def _show_version(value: bool) -> None:
    if value:
        output.print_line(f"taskcli {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    cls=TaskcliGroup,
    name="taskcli",
    help="Tasks in SQL: a command-line task manager on SQLite or PostgreSQL.",
    epilog=examples(
        "taskcli add Buy milk --due tomorrow",
        "taskcli list",
        "taskcli done 1",
        "taskcli --profile work list --overdue",
        "taskcli add --help",
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME",
            envvar="TASKCLI_PROFILE",
            help="Configuration profile.",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="Database URL (overrides TASKCLI_DATABASE_URL and the profile).",
            show_envvar=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show details and tracebacks.")
    ] = False,
    no_pager: Annotated[
        bool,
        typer.Option("--no-pager", help="Print long output directly, not through the pager."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Global options are accepted before or after the command."""
    ctx.obj = AppState(
        profile=profile, database_url=database_url, verbose=verbose, no_pager=no_pager
    )
    help_without_command(ctx)


# One Typer per command module: the top-level commands merge into the root, groups get a name.
for commands in (auth.app, account.app, tasks.app, changes.app, edit.app, planning.app, stats.app,
                 journal.app, transfer.app):  # fmt: skip
    app.add_typer(commands)
app.add_typer(account.sessions_app, name="sessions")
app.add_typer(account.auth_app, name="auth")
app.add_typer(account.account_app, name="account")
app.add_typer(db.app, name="db")
app.add_typer(planning.context_app, name="context")
app.add_typer(config.app, name="config")
app.add_typer(config.profile_app, name="profile")
app.add_typer(server.app, name="server")


@functools.cache
def click_command() -> Any:
    """The click command Typer builds from ``app`` (tens of ms: the local server builds it
    once, before it forks a child per command)."""
    return typer.main.get_command(app)


def main() -> None:
    click_command()()
