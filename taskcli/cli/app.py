"""The Typer application: global options, command registration and the one error handler."""


import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from taskcli import __version__
from taskcli.cli import output
from taskcli.cli.helptext import HelpfulGroup, examples
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
        try:
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
    import os

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


@dataclass
class AppState:
    """Global options, and the settings and database they select (built on first use)."""

    profile: str | None = None
    database_url: str | None = None
    verbose: bool = False
    no_pager: bool = False
    _cache: dict[str, Any] = field(default_factory=dict)

    def settings(self):
        if "settings" not in self._cache:
            from taskcli.core.config import resolve_settings

            self._cache["settings"] = resolve_settings(
                profile_option=self.profile, database_url_option=self.database_url
            )
        return self._cache["settings"]

    def database(self):
        if "database" not in self._cache:
            from taskcli.core.db import Database

            self._cache["database"] = Database(self.settings())
        return self._cache["database"]


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def _show_version(value: bool) -> None:
    if value:
        output.print_line(f"taskcli {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    cls=TaskcliGroup,
    name="taskcli",
    help="Tasks in SQL: a command-line task manager on SQLite or PostgreSQL.",
    epilog=examples(
        "taskcli add Buy milk --due tomorrow", "taskcli list", "taskcli done 1",
        "taskcli --profile work list --overdue", "taskcli add --help",
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
            "--profile", "-p", metavar="NAME", envvar="TASKCLI_PROFILE",
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


def help_without_command(ctx: typer.Context) -> None:
    """A group called without a command prints its help on stdout and succeeds, as git does."""
    if ctx.invoked_subcommand is None:
        output.print_line(ctx.get_help())
        raise typer.Exit(0)


def _register() -> None:
    from taskcli.cli import auth as auth_commands
    from taskcli.cli import config as config_commands
    from taskcli.cli import db as db_commands
    from taskcli.cli import tasks as task_commands
    from taskcli.cli import transfer as transfer_commands

    modules = (auth_commands, task_commands, transfer_commands, db_commands, config_commands)
    for module in modules:
        module.register(app)


_register()


def main() -> None:
    app()
