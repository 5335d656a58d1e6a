"""``taskcli config`` and ``taskcli profile``: the TOML configuration file."""

import os
from typing import Annotated, Any

import typer

from taskcli.cli import output, terminal
from taskcli.cli.helptext import command, group
from taskcli.cli.options import Json, first_stdin_line
from taskcli.cli.state import state

app = group(
    "Read and change configuration (config.toml).",
    "taskcli config list",
    "taskcli config set session_days 7 --profile work",
)
profile_app = group(
    "List profiles and choose the default one.",
    "taskcli profile list",
    "taskcli profile use work",
)

Key = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="database_url, session_days, connect_timeout, context, urgency.TERM or "
        "default_profile.",
    ),
]


def _open(ctx: typer.Context):
    from taskcli.core import config

    file = config.load_config()
    return file, config.active_profile(file, state(ctx).profile, os.environ)


def _shown(key: str, value: Any) -> Any:
    from taskcli.core.urls import redact_url

    return redact_url(value) if key == "database_url" and value else value


def _text(value: Any) -> str:
    """A value as the config file spells it (true/false, not Python's True/False)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _entries(file) -> list[tuple[str, Any]]:
    entries = [(key, value) for key, value in file.data.items() if key != "profiles"]
    for name, table in sorted(file.profiles.items()):
        entries += [(f"profiles.{name}.{key}", _shown(key, v)) for key, v in table.items()]
    return entries


@command(
    app,
    "list",
    "taskcli config list",
    "taskcli config list --json",
)
def list_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Show every setting in the config file (passwords redacted)."""
    file, _ = _open(ctx)
    entries = _entries(file)
    if as_json:
        output.print_json(
            {
                "path": str(file.path),
                "default_profile": file.data.get("default_profile"),
                "profiles": {
                    name: {key: _shown(key, value) for key, value in table.items()}
                    for name, table in file.profiles.items()
                },
            }
        )
        return
    for key, value in entries:
        output.print_line(f"{key} = {_text(value)}")


@command(
    app,
    "get",
    "taskcli config get database_url",
    "taskcli config get session_days --profile work",
)
def get_command(ctx: typer.Context, key: Key, as_json: Json = False) -> None:
    """Print one setting of the active profile (or of --profile)."""
    from taskcli.core import config
    from taskcli.core.errors import NotFoundError

    file, profile = _open(ctx)
    value = file.get(key, profile)
    defaults = {
        "session_days": config.DEFAULT_SESSION_DAYS,
        "connect_timeout": config.DEFAULT_CONNECT_TIMEOUT,
    }
    value = defaults.get(key) if value is None else value
    if value is None:
        raise NotFoundError(f"{key} is not set for profile {profile!r}")
    shown = _shown(key, value)
    if as_json:
        output.print_json({"key": key, "profile": profile, "value": shown})
    else:
        output.print_line(_text(shown))


@command(
    app,
    "set",
    "taskcli config set database_url postgresql://me@db.example.com/tasks --profile work",
    "taskcli config set connect_timeout 5",
    "taskcli config set urgency.blocked -8",
    ignore_unknown_options=True,  # a negative number is a VALUE (urgency.blocked -5)
)
def set_command(
    ctx: typer.Context,
    key: Key,
    value: Annotated[
        str | None,
        typer.Argument(
            metavar="[VALUE|-]",
            help="The new value; - (or nothing, on a terminal) reads it from stdin or a"
            " hidden prompt, out of the process arguments.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Set a setting in the active profile (or --profile, which is created if new)."""
    file, profile = _open(ctx)
    parsed = file.set(key, _value_kept_out_of_argv(key, value), profile)
    file.save()
    _report_change(key, profile, _shown(key, parsed), as_json)


def _value_kept_out_of_argv(key: str, value: str | None) -> str:
    """VALUE as given, or, for ``-`` or no VALUE, what the terminal's prompt (hidden for
    database_url, which may hold a password) or the first line of stdin says."""
    from taskcli.core.errors import UsageError

    if value not in (None, "-"):
        return value
    if terminal.current().stdin_is_tty():
        return terminal.current().prompt(key, hidden=key == "database_url")
    if value is None:
        raise UsageError(f"no value given for {key}", hint="give VALUE, or - to read it from stdin")
    return first_stdin_line(key)


@command(
    app,
    "unset",
    "taskcli config unset session_days",
    "taskcli config unset database_url --profile work",
)
def unset_command(ctx: typer.Context, key: Key, as_json: Json = False) -> None:
    """Remove a setting from the active profile (or --profile)."""
    file, profile = _open(ctx)
    file.unset(key, profile)
    file.save()
    _report_change(key, profile, None, as_json)


def _report_change(key: str, profile: str, value: Any, as_json: bool) -> None:
    from taskcli.core.config import TOP_LEVEL_KEYS

    where = key if key in TOP_LEVEL_KEYS else f"profiles.{profile}.{key}"
    if as_json:
        output.print_json({"key": key, "profile": profile, "value": value})
    elif value is None:
        output.print_line(f"unset {where}")
    else:
        output.print_line(f"{where} = {_text(value)}")


@command(
    profile_app,
    "list",
    "taskcli profile list",
    "taskcli profile list --json",
)
def profile_list_command(ctx: typer.Context, as_json: Json = False) -> None:
    """List profiles; the active one is marked with *."""
    from taskcli.core.config import DEFAULT_PROFILE

    file, active = _open(ctx)
    names = sorted({DEFAULT_PROFILE, *file.profiles})
    rows = [
        {
            "name": name,
            "active": name == active,
            "default": name == file.data.get("default_profile", DEFAULT_PROFILE),
            "database_url": _shown("database_url", file.profile(name).get("database_url")),
        }
        for name in names
    ]
    if as_json:
        output.print_json(rows)
        return
    for row in rows:
        mark = "*" if row["active"] else " "
        output.print_line(f"{mark} {row['name']}\t{row['database_url'] or '(embedded SQLite)'}")


@command(
    profile_app,
    "use",
    "taskcli profile use work",
    "taskcli profile use default",
)
def profile_use_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Profile to make the default.")],
    as_json: Json = False,
) -> None:
    """Make NAME the default profile (it must exist)."""
    file, _ = _open(ctx)
    file.set("default_profile", name, name)
    file.save()
    _report_change("default_profile", name, name, as_json)
