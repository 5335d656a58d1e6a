"""``taskcli db``: migrate, status, history, downgrade, rotate-key, grant, distribute, and
the user commands users, lock, unlock, reset-password (an administrator's commands)."""

from typing import Annotated

import typer

from taskcli.cli import output, terminal
from taskcli.cli.helptext import command, group
from taskcli.cli.options import Json, Yes, confirm_or_require_yes
from taskcli.cli.state import state

app = group(
    "Database schema, roles and accounts: migrate, status, history, downgrade, rotate-key, "
    "grant, distribute, users, lock, unlock, reset-password.",
    "taskcli db status",
    "taskcli db migrate --database-url URL",
)


def _redacted(ctx: typer.Context) -> str:
    from taskcli.core.urls import redact_url

    return redact_url(state(ctx).settings().database_url)


@command(
    app,
    "migrate",
    "taskcli db migrate",
    "taskcli db migrate --sql > upgrade.sql",
)
def migrate_command(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Option("--revision", metavar="REVISION", help="Target revision (default: head).")
    ] = "head",
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL instead of running it; touch nothing.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Bring the database schema up to REVISION (safe to run concurrently)."""
    from taskcli.core import migrate

    app_state = state(ctx)
    if sql:
        import sys

        migrate.upgrade_sql(app_state.settings().database_url, revision, sys.stdout)
        return
    database = app_state.database()
    with database.connect(migrate_embedded=False, admin=True) as conn, _spinner("migrating"):
        before = migrate.upgrade(conn, revision)
        after = migrate.current_revision(conn)
    result = {"database": _redacted(ctx), "from": before, "to": after}
    if as_json:
        output.print_json(result)
    elif before == after:
        output.print_line(f"already at {after or 'base'}: {result['database']}")
    else:
        output.print_line(f"migrated {before or 'base'} -> {after}: {result['database']}")


def _spinner(text: str):
    if not terminal.current().stderr_is_tty():
        from contextlib import nullcontext

        return nullcontext()
    return output.console(stderr=True).status(text)


@command(
    app,
    "status",
    "taskcli db status",
    "taskcli db status --json",
)
def status_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Show the current and head revisions; exit 7 when the schema is behind.

    A SQLite database is first migrated, as every command does with it."""
    from taskcli.core import migrate
    from taskcli.core.errors import SchemaError

    with state(ctx).database().connect() as conn:
        current = migrate.current_revision(conn)
    head = migrate.head_revision()
    result = {
        "database": _redacted(ctx),
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    if as_json:
        output.print_json(result)
    else:
        output.print_line(f"database: {result['database']}")
        output.print_line(f"current:  {current or 'none (empty database)'}")
        output.print_line(f"head:     {head}")
    if current != head:
        raise SchemaError(f"schema is at {current or 'nothing'}, this taskcli needs {head}")


@command(
    app,
    "history",
    "taskcli db history",
    "taskcli db history --json",
)
def history_command(as_json: Json = False) -> None:
    """List the schema revisions, newest first."""
    from dataclasses import asdict

    from taskcli.core import migrate

    revisions = migrate.history()
    if as_json:
        output.print_json([asdict(revision) for revision in revisions])
        return
    for revision in revisions:
        head = " (head)" if revision.is_head else ""
        output.print_line(
            f"{revision.down_revision or 'base'} -> {revision.revision}{head}  {revision.message}"
        )


@command(
    app,
    "downgrade",
    "taskcli db downgrade -1",
    "taskcli db downgrade base --yes",
)
def downgrade_command(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(metavar="REVISION", help="Target revision, e.g. base or -1.")
    ],
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Downgrade the schema to REVISION (asks first; data in dropped tables is lost)."""
    from taskcli.core import migrate

    confirm_or_require_yes(
        f"Downgrade {_redacted(ctx)} to {revision}? Tables dropped lose their data.", yes
    )
    with state(ctx).database().connect(migrate_embedded=False, admin=True) as conn:
        before = migrate.current_revision(conn)
        migrate.downgrade(conn, revision)
        after = migrate.current_revision(conn)
    result = {"database": _redacted(ctx), "from": before, "to": after}
    if as_json:
        output.print_json(result)
    else:
        output.print_line(
            f"downgraded {before or 'base'} -> {after or 'base'}: {result['database']}"
        )


@command(
    app,
    "rotate-key",
    "taskcli db rotate-key",
    "taskcli db rotate-key --yes --json",
)
def rotate_key_command(ctx: typer.Context, yes: Yes = False, as_json: Json = False) -> None:
    """Replace the token signing key: every session of every user ends."""
    from taskcli.core import accounts

    confirm_or_require_yes(
        f"Rotate the signing key of {_redacted(ctx)}? Everyone must log in again.", yes
    )
    with state(ctx).database().connect(admin=True) as conn:
        ended = accounts.rotate_key(conn)
    if as_json:
        output.print_json({"database": _redacted(ctx), "sessions_ended": ended})
    else:
        output.print_line(f"signing key replaced; {ended} session(s) ended")


@command(
    app,
    "grant",
    "taskcli db grant taskcli_app --database-url OWNER_URL",
    "taskcli db grant taskcli_app --json",
)
def grant_command(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(metavar="ROLE", help="An existing PostgreSQL login role.")],
    as_json: Json = False,
) -> None:
    """Give ROLE exactly what the ordinary commands need (owner only; safe to repeat)."""
    from taskcli.core import roles

    with state(ctx).database().connect(migrate_embedded=False) as conn:
        granted = roles.grant(conn, role)
    if as_json:
        document = {"database": _redacted(ctx), "role": role}
        output.print_json({**document, "granted": [grant.as_dict() for grant in granted]})
        return
    for grant in granted:
        output.print_line(f"granted {', '.join(grant.privileges)} on {grant.on} to {role}")


@command(
    app,
    "distribute",
    "taskcli db distribute --database-url OWNER_URL",
    "taskcli db distribute --json",
)
def distribute_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Distribute the schema by user on a Citus coordinator (owner only; safe to repeat)."""
    from taskcli.core import citus

    with state(ctx).database().connect(migrate_embedded=False) as conn:
        with _spinner("distributing"):
            result = citus.distribute(conn)
    if as_json:
        output.print_json({"database": _redacted(ctx), **result.as_dict()})
        return
    for line in result.done:
        output.print_line(line)
    if not result.done:
        output.print_line(f"nothing to do on {_redacted(ctx)} (Citus {result.citus_version}):")
    for line in result.found:
        output.print_line(("  " if not result.done else "found: ") + line)


Email = Annotated[str, typer.Argument(metavar="EMAIL", help="The account's login email.")]


def _account_document(account) -> dict:
    from taskcli.core.dates import format_utc

    return {
        "email": account.email,
        "created_at": format_utc(account.created_at),
        "last_login_at": format_utc(account.last_login_at),
        "task_count": account.task_count,
        "locked": account.locked,
    }


@command(app, "users", "taskcli db users", "taskcli db users --json")
def users_command(ctx: typer.Context, as_json: Json = False) -> None:
    """List the accounts: email, created, last login, task count, locked (owner only;
    never a task's content)."""
    from taskcli.core import admin

    with state(ctx).database().connect(admin=True) as conn:
        accounts = admin.list_users(conn)
    if as_json:
        output.print_json([_account_document(account) for account in accounts])
        return
    for account in accounts:
        document = _account_document(account)
        output.print_line(
            f"{output.visible(account.email)}  created {document['created_at']}  "
            f"last login {document['last_login_at'] or 'never'}  "
            f"{account.task_count} task(s){'  LOCKED' if account.locked else ''}"
        )


@command(app, "lock", "taskcli db lock someone@example.com")
def lock_command(ctx: typer.Context, email: Email, as_json: Json = False) -> None:
    """Lock an account: it cannot log in and its sessions end (owner only)."""
    from taskcli.core import admin

    with state(ctx).database().connect(admin=True) as conn:
        locking = admin.lock(conn, email)
    if as_json:
        output.print_json(
            {
                "email": locking.email,
                "locked": locking.locked,
                "sessions_ended": locking.sessions_ended,
            }
        )
    else:
        output.print_line(f"locked {locking.email}; {locking.sessions_ended} session(s) ended")


@command(app, "unlock", "taskcli db unlock someone@example.com")
def unlock_command(ctx: typer.Context, email: Email, as_json: Json = False) -> None:
    """Unlock an account: it can log in again (owner only)."""
    from taskcli.core import admin

    with state(ctx).database().connect(admin=True) as conn:
        locking = admin.unlock(conn, email)
    if as_json:
        output.print_json({"email": locking.email, "locked": locking.locked})
    else:
        output.print_line(f"unlocked {locking.email}")


@command(
    app,
    "reset-password",
    "taskcli db reset-password someone@example.com",
    "taskcli db reset-password someone@example.com --json",
)
def reset_password_command(ctx: typer.Context, email: Email, as_json: Json = False) -> None:
    """Print a one-time code, valid for a day, that the user exchanges for a new password
    with `taskcli login --reset-code` (owner only; the code is shown this once)."""
    from taskcli.core import admin
    from taskcli.core.dates import format_utc

    with state(ctx).database().connect(admin=True) as conn:
        reset = admin.reset_password(conn, email)
    if as_json:
        output.print_json(
            {"email": reset.email, "code": reset.code, "expires_at": format_utc(reset.expires_at)}
        )
        return
    output.print_line(f"one-time code for {reset.email}: {reset.code}")
    output.print_line(f"valid until {format_utc(reset.expires_at)}; the user runs:")
    output.print_line(f"  taskcli login --email {reset.email} --reset-code")
