"""register, login, logout, whoami."""

from typing import Annotated

import typer

from taskcli import __version__
from taskcli.cli import output, terminal
from taskcli.cli.helptext import command
from taskcli.cli.options import Json, first_stdin_line
from taskcli.cli.session import logged_in, token_store
from taskcli.cli.state import state

Email = Annotated[
    str | None,
    typer.Option("--email", "-e", metavar="EMAIL", help="Account email (asked when omitted)."),
]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


app = typer.Typer()


def _client() -> str:
    import socket

    return f"{socket.gethostname()} taskcli/{__version__}"


def _ask_email(email: str | None) -> str:
    from taskcli.core.errors import UsageError

    if email is not None:
        return email
    if not terminal.current().stdin_is_tty():
        raise UsageError("no email given and stdin is not a terminal", hint="add --email")
    return terminal.current().prompt("Email")


def ask_password(password_stdin: bool, *, confirm: bool = False, label: str = "Password") -> str:
    """A secret from the next line of stdin (``--password-stdin``) or asked hidden on the
    terminal, twice when ``confirm`` (a new password)."""
    from taskcli.core.errors import UsageError

    if password_stdin:
        return first_stdin_line(label.lower())
    if not terminal.current().stdin_is_tty():
        raise UsageError(
            f"no {label.lower()} and stdin is not a terminal", hint="use --password-stdin"
        )
    if not confirm:
        return terminal.current().prompt(label, hidden=True)
    return _ask_new_password(label)


def _ask_new_password(label: str) -> str:
    """Asked twice, hidden; a password the rules refuse is refused before the second time."""
    from taskcli.core.security import check_password_rules

    ask = terminal.current().prompt
    while True:
        password = ask(label, hidden=True)
        check_password_rules(password)
        if ask("Repeat for confirmation", hidden=True) == password:
            return password
        output.message("error: the two passwords do not match; again")


def _start_session(ctx: typer.Context, action, *, as_json, verb, **credentials) -> None:
    """Register or log in and keep the token (see :func:`taskcli.core.logins.log_in`)."""
    from taskcli.core import logins

    settings = state(ctx).settings()
    login, storage = logins.log_in(
        state(ctx).database(), token_store(ctx), action, **credentials,
        session_days=settings.session_days, client=_client(),
    )  # fmt: skip
    if as_json:
        output.print_json(_identity_document(ctx, login.identity, storage))
    else:
        output.print_line(f"{verb} as {login.identity.email}")


@command(
    app,
    "register",
    "taskcli register",
    "pass show taskcli | taskcli register -e me@example.com --password-stdin",
)
def register_command(
    ctx: typer.Context,
    email: Email = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Create an account (password asked twice, hidden) and log in."""
    from taskcli.core import accounts

    address = _ask_email(email)
    password = ask_password(password_stdin, confirm=True)
    _start_session(ctx, accounts.register, email=address, password=password,
                   as_json=as_json, verb="registered and logged in")  # fmt: skip


@command(
    app,
    "login",
    "taskcli login -e me@example.com",
    "pass show taskcli | taskcli login -e me@example.com --password-stdin",
)
def login_command(
    ctx: typer.Context,
    email: Email = None,
    password_stdin: PasswordStdin = False,
    reset_code: Annotated[
        bool,
        typer.Option(
            "--reset-code",
            help="Log in with the administrator's one-time code instead (asked, hidden; "
            "with --password-stdin the first line), and set a new password (asked twice; "
            "the next line).",
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Log in and keep the session token in the OS keyring."""
    from taskcli.core import accounts, lifecycle

    address = _ask_email(email)
    if not reset_code:
        password = ask_password(password_stdin)
        _start_session(ctx, accounts.login, email=address, password=password,
                       as_json=as_json, verb="logged in")  # fmt: skip
        return
    code = ask_password(password_stdin, label="Reset code")
    new = ask_password(password_stdin, confirm=True, label="New password")
    _start_session(ctx, lifecycle.reset_login, email=address, code=code, new=new,
                   as_json=as_json, verb="password set; logged in")  # fmt: skip


@command(app, "logout", "taskcli logout", "taskcli logout --all")
def logout_command(
    ctx: typer.Context,
    everywhere: Annotated[
        bool, typer.Option("--all", help="End every session of this account, on all machines.")
    ] = False,
    as_json: Json = False,
) -> None:
    """End this session (or all of them) and forget the stored token."""
    from taskcli.core import logins

    ended = logins.log_out(state(ctx).database(), token_store(ctx), everywhere=everywhere)
    if ended.email is None:
        output.message("the session had already ended; the stored token is forgotten")
    if as_json:
        output.print_json({"email": ended.email, "sessions_ended": ended.sessions_ended})
    elif ended.email:
        output.print_line(f"logged out {ended.email} ({ended.sessions_ended} session(s) ended)")


def _identity_document(ctx: typer.Context, identity, storage: str) -> dict:
    from taskcli.core.dates import format_utc
    from taskcli.core.urls import redact_url

    settings = state(ctx).settings()
    return {
        "email": identity.email,
        "user_id": str(identity.user_id),
        "profile": settings.profile,
        "database": redact_url(settings.database_url),
        "expires_at": format_utc(identity.expires_at),
        "token_storage": storage,
    }


@command(app, "whoami", "taskcli whoami", "taskcli whoami --json")
def whoami_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Show the logged-in account, database, session expiry and token storage."""
    from taskcli.core import accounts

    with logged_in(ctx) as session:
        identity = accounts.verified(session.conn, session.identity)
        document = _identity_document(ctx, identity, session.token.storage)
    if as_json:
        output.print_json(document)
        return
    for key, value in document.items():
        output.print_line(f"{key + ':':<14} {value}")
