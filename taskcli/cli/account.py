"""The account's own commands: passwd, sessions, auth token, account email/delete."""

from typing import Annotated

import typer

from taskcli.cli import output, terminal
from taskcli.cli.auth import PasswordStdin, ask_password
from taskcli.cli.helptext import HelpfulGroup, command, examples, group
from taskcli.cli.options import Json, Yes, confirm_or_require_yes
from taskcli.cli.session import logged_in, token_store
from taskcli.cli.state import state

app = typer.Typer()


@command(
    app,
    "passwd",
    "taskcli passwd",
    'printf \'%s\\n%s\\n\' "$OLD" "$NEW" | taskcli passwd --password-stdin',
)
def passwd_command(
    ctx: typer.Context,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the current password, then the new one, from the first two lines of stdin.",
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Change the password (current one asked first); every other session ends."""
    from taskcli.core import lifecycle

    current = ask_password(password_stdin, label="Current password")
    new = ask_password(password_stdin, confirm=True, label="New password")
    with logged_in(ctx) as session:
        ended = lifecycle.change_password(
            session.conn, identity=session.identity, current=current, new=new
        )
    if as_json:
        output.print_json({"email": session.identity.email, "sessions_ended": ended})
    else:
        output.print_line(f"password changed; {ended} other session(s) ended")


# Called alone, the group lists the sessions (its callback); `revoke` is its command.
sessions_app = typer.Typer(
    cls=HelpfulGroup,
    epilog=examples(
        "taskcli sessions", "taskcli sessions --json", "taskcli sessions revoke 3f2a9c"
    ),
    invoke_without_command=True,
)


def _session_document(info) -> dict:
    from taskcli.core.dates import format_utc

    return {
        "id": str(info.id),
        "client": info.client,
        "created_at": format_utc(info.created_at),
        "expires_at": format_utc(info.expires_at),
        "current": info.current,
    }


@sessions_app.callback()
def sessions_command(ctx: typer.Context, as_json: Json = False) -> None:
    """List the account's live sessions (id prefix, client, created, expires); * marks
    this machine's."""
    if ctx.invoked_subcommand is not None:
        return
    from taskcli.core import lifecycle

    with logged_in(ctx) as session:
        live = lifecycle.live_sessions(session.conn, identity=session.identity)
    if as_json:
        output.print_json([_session_document(info) for info in live])
        return
    for info in live:
        document = _session_document(info)
        mark = "*" if info.current else " "
        output.print_line(
            f"{mark} {info.id.hex[:8]}  {document['created_at']}  {document['expires_at']}  "
            f"{output.visible(info.client)}"
        )


@command(
    sessions_app,
    "revoke",
    "taskcli sessions revoke 3f2a9c",
    "taskcli sessions revoke 3f2a9c 81b7d0 --json",
)
def revoke_command(
    ctx: typer.Context,
    ids: Annotated[
        list[str],
        typer.Argument(metavar="ID...", help="Session id prefixes (at least 6 hex digits)."),
    ],
    as_json: Json = False,
) -> None:
    """End the named sessions of the account (all or none)."""
    from taskcli.core import logins

    ended = logins.revoke_sessions(state(ctx).database(), token_store(ctx), ids)
    if as_json:
        output.print_json({"revoked": [_session_document(info) for info in ended]})
        return
    for info in ended:
        this = " (this machine's: log in again here)" if info.current else ""
        output.print_line(f"revoked {info.id.hex[:8]} {output.visible(info.client)}{this}")


auth_app = group(
    "The session token: `auth token` prints this machine's (for TASKCLI_TOKEN in CI).",
    "taskcli auth token",
)


@command(
    auth_app,
    "token",
    "taskcli auth token",
    'export TASKCLI_TOKEN="$(taskcli auth token)"',
)
def token_command(ctx: typer.Context, yes: Yes = False, as_json: Json = False) -> None:
    """Print this machine's session token on stdout (asks first when stdout is a terminal)."""
    from taskcli.core import accounts

    with logged_in(ctx) as session:
        accounts.verified(session.conn, session.identity)  # a live session's token only
        token = session.token.token
    if terminal.current().stdout_is_tty():
        confirm_or_require_yes(
            "Print the session token? Anyone who reads it can act as you until it ends.", yes
        )
    if as_json:
        output.print_json({"token": token})
    else:
        output.print_line(token)


account_app = group(
    "Change the login email or delete the account.",
    "taskcli account email new@example.com",
    "taskcli account delete",
)


@command(
    account_app,
    "email",
    "taskcli account email new@example.com",
    "pass show taskcli | taskcli account email new@example.com --password-stdin",
)
def email_command(
    ctx: typer.Context,
    new_email: Annotated[str, typer.Argument(metavar="NEW", help="The new login email.")],
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Change the login email (the password is asked again; a taken email is exit 5)."""
    from taskcli.core import lifecycle

    password = ask_password(password_stdin)
    with logged_in(ctx) as session:
        email = lifecycle.change_email(
            session.conn, identity=session.identity, password=password, new_email=new_email
        )
    if as_json:
        output.print_json({"email": email})
    else:
        output.print_line(f"the login email is now {email}")


@command(
    account_app,
    "delete",
    "taskcli account delete",
    "pass show taskcli | taskcli account delete --yes --password-stdin",
)
def delete_command(
    ctx: typer.Context,
    yes: Yes = False,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Delete the account and all its data (tasks, sessions, journal, contexts); asks first
    and for the password again."""
    from taskcli.core import logins

    confirm_or_require_yes(
        "Delete this account and every one of its tasks, for good? This cannot be undone.", yes
    )
    password = ask_password(password_stdin)
    email, deleted = logins.delete_account(state(ctx).database(), token_store(ctx), password)
    if as_json:
        output.print_json({"email": email, "tasks_deleted": deleted})
    else:
        output.print_line(f"deleted the account {email} and its {deleted} task(s)")
