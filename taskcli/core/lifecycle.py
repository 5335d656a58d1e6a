"""What a user does to the account (SPEC §18): change the password or the email, list and
end sessions, delete the account, and log in with an administrator's reset code.

Every change demands the current password (the reset code stands in for it), throttled
on PostgreSQL as a login is. On PostgreSQL it all goes through the database's functions
(:mod:`taskcli.core.pgaccounts`), which act on the presented session's account only;
on SQLite, the file's one local user, the same rules run here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from taskcli.core import accounts, pgaccounts, security
from taskcli.core.authentication import Identity
from taskcli.core.dates import as_utc, utc_now
from taskcli.core.db import atomic
from taskcli.core.errors import AuthError, ConflictError, InvalidInputError, NotFoundError
from taskcli.core.models import Task
from taskcli.core.sql import is_postgres

users = accounts.users
sessions = accounts.sessions
tasks = Task.__table__

SESSION_PREFIX_MIN = 6
RESET_CODE_RE = re.compile(r"^[0-9a-f]{24}$")
RESET_VALID = timedelta(days=1)


@dataclass(frozen=True)
class SessionInfo:
    id: uuid.UUID
    client: str
    created_at: datetime
    expires_at: datetime
    current: bool


def _checked(row: Any) -> Any:
    """A PostgreSQL function's row whose password check failed raises as a login does."""
    accounts.refused(row, wrong=_wrong_password)
    return row


def _wrong_password() -> AuthError:
    return AuthError("wrong password", hint="give the account's current password")


def _password_row(conn: Connection, identity: Identity) -> Any:
    """The account's email and password (SQLite), or exit 3 when it is gone."""
    row = conn.execute(
        sa.select(users.c.email, users.c.password_setting, users.c.password_verifier).where(
            users.c.id == identity.user_id
        )
    ).first()
    if row is None:
        raise AuthError("your session has ended")
    return row


def _require_password(conn: Connection, identity: Identity, password: str) -> Any:
    row = _password_row(conn, identity)
    if not accounts.password_matches(password, row.password_setting, row.password_verifier):
        raise _wrong_password()
    return row


def end_sessions(
    conn: Connection,
    user_id: uuid.UUID,
    reason: str,
    *,
    keep: uuid.UUID | None = None,
    only: list[uuid.UUID] | None = None,
) -> int:
    """End the user's live sessions (all but ``keep``, or just those in ``only``); the count."""
    condition = [sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)]
    if keep is not None:
        condition.append(sessions.c.id != keep)
    if only is not None:
        condition.append(sessions.c.id.in_(only))
    result = conn.execute(
        sessions.update().where(*condition).values(revoked_at=utc_now(), ended_reason=reason)
    )
    return result.rowcount


def change_password(conn: Connection, *, identity: Identity, current: str, new: str) -> int:
    """Replace the password; every other session of the account ends (their count)."""
    security.check_password_rules(new)
    if is_postgres(conn):
        return int(_checked(pgaccounts.passwd(conn, current=current, new=new)).sessions_ended)
    _require_password(conn, identity, current)
    setting, verifier = security.new_password(new)
    with atomic(conn):
        conn.execute(
            users.update()
            .where(users.c.id == identity.user_id)
            .values(password_setting=setting, password_verifier=verifier, updated_at=utc_now())
        )
        return end_sessions(conn, identity.user_id, "password", keep=identity.session_id)


def change_email(conn: Connection, *, identity: Identity, password: str, new_email: str) -> str:
    """Make ``new_email`` the login email; a taken one is a ConflictError (exit 5)."""
    address = accounts.normalize_email(new_email)
    if is_postgres(conn):
        row = _checked(pgaccounts.change_email(conn, password=password, new_email=address))
        if row.status == "taken":
            raise accounts.taken(address)
        return str(row.email)
    _require_password(conn, identity, password)
    try:
        with atomic(conn):
            conn.execute(
                users.update()
                .where(users.c.id == identity.user_id)
                .values(email=address, updated_at=utc_now())
            )
    except exc.IntegrityError:
        raise accounts.taken(address) from None
    return address


def delete_account(conn: Connection, *, identity: Identity, password: str) -> int:
    """Remove the account and every row of it in one transaction; the tasks deleted."""
    if is_postgres(conn):
        return int(_checked(pgaccounts.delete_account(conn, password=password)).tasks_deleted)
    _require_password(conn, identity, password)
    with atomic(conn):
        deleted = conn.execute(tasks.delete().where(tasks.c.user_id == identity.user_id))
        # counters, contexts, the journal and the sessions go with it (ON DELETE CASCADE)
        conn.execute(users.delete().where(users.c.id == identity.user_id))
    return deleted.rowcount


def live_sessions(conn: Connection, *, identity: Identity) -> list[SessionInfo]:
    """The account's sessions that are neither ended nor expired, oldest first."""
    if is_postgres(conn):
        rows: list[Any] = pgaccounts.sessions(conn)
    else:
        rows = list(
            conn.execute(
                sa.select(
                    sessions.c.id,
                    sessions.c.client,
                    sessions.c.created_at,
                    sessions.c.expires_at,
                    (sessions.c.id == identity.session_id).label("current"),
                )
                .where(
                    sessions.c.user_id == identity.user_id,
                    sessions.c.revoked_at.is_(None),
                    sessions.c.expires_at > utc_now(),
                )
                .order_by(sessions.c.created_at, sessions.c.id)
            ).all()
        )
    return [
        SessionInfo(
            row.id,
            row.client or "",
            as_utc(row.created_at),
            as_utc(row.expires_at),
            bool(row.current),
        )  # fmt: skip
        for row in rows
    ]


def session_ids(live: list[SessionInfo], prefixes: list[str]) -> list[uuid.UUID]:
    """The live sessions the prefixes name (hex digits, dashes ignored, at least 6), all of
    them or an error: malformed → exit 5, ambiguous → exit 5, not a live session of the
    account → exit 4."""
    chosen: list[uuid.UUID] = []
    for prefix in prefixes:
        digits = prefix.strip().lower().replace("-", "")
        if len(digits) < SESSION_PREFIX_MIN or not re.fullmatch(r"[0-9a-f]{1,32}", digits):
            raise InvalidInputError(
                f"session id: {prefix!r} is not a prefix of at least "
                f"{SESSION_PREFIX_MIN} hex digits",
                hint="see the ids: taskcli sessions",
            )
        matches = [info.id for info in live if info.id.hex.startswith(digits)]
        if not matches:
            raise NotFoundError(
                f"no live session {prefix} of this account", hint="see the ids: taskcli sessions"
            )
        if len(matches) > 1:
            raise ConflictError(f"session id {prefix} is ambiguous", hint="give more digits")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def revoke_sessions(
    conn: Connection, *, identity: Identity, prefixes: list[str]
) -> list[SessionInfo]:
    """End the sessions the prefixes name (see :func:`session_ids`); what was ended."""
    live = live_sessions(conn, identity=identity)
    ids = session_ids(live, prefixes)
    if is_postgres(conn):
        ended = set(pgaccounts.revoke_sessions(conn, ids))
    else:
        end_sessions(conn, identity.user_id, "revoked", only=ids)
        ended = set(ids)
    return [info for info in live if info.id in ended]


def normalized_code(code: str) -> str:
    """A reset code as stored: lower-case hex digits, without the dashes and spaces it is
    shown with. A malformed one becomes a code no reset has (it is simply wrong)."""
    digits = re.sub(r"[\s-]", "", code).lower()
    return digits if RESET_CODE_RE.match(digits) else "-" * 24


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def reset_login(conn: Connection, *, email: str, code: str, new: str, session_days: int,
                client: str) -> accounts.Login:  # fmt: skip
    """Exchange an administrator's reset code for a new password and log in; every other
    session of the account ends. A wrong, used or expired code is "wrong" (exit 3)."""
    security.check_password_rules(new)
    try:
        address = accounts.normalize_email(email)
    except InvalidInputError:
        address = ""
    code = normalized_code(code)
    if is_postgres(conn):
        row = pgaccounts.reset_login(
            conn, email=address, code=code, new=new, days=session_days, client=client[:255]
        )
        return accounts.logged_in_row(row, address, wrong=_wrong_code)
    row = conn.execute(
        sa.select(users.c.id, users.c.reset_code_hash, users.c.reset_expires_at).where(
            users.c.email == address
        )
    ).first()
    stored = row.reset_code_hash if row is not None and row.reset_code_hash else ""
    matches = hmac.compare_digest(code_hash(code), stored or code_hash("taskcli-no-code"))
    live = row is not None and bool(stored) and as_utc(row.reset_expires_at) > utc_now()
    if row is None or not (matches and live):
        raise _wrong_code()
    setting, verifier = security.new_password(new)
    with atomic(conn):
        conn.execute(
            users.update()
            .where(users.c.id == row.id)
            .values(password_setting=setting, password_verifier=verifier,
                    reset_code_hash=None, reset_expires_at=None, updated_at=utc_now())
        )  # fmt: skip
        end_sessions(conn, row.id, "reset")
        return accounts.start_session(
            conn, user_id=row.id, email=address, session_days=session_days, client=client
        )


def _wrong_code() -> AuthError:
    return AuthError(
        "wrong email or reset code (or the code was used or has expired)",
        hint="ask the administrator for a new code: taskcli db reset-password EMAIL",
    )
