"""The session check every command starts with: who a session token belongs to.

On SQLite it is one query in plain SQL, which runs the same on a SQLAlchemy connection
and on a bare :mod:`sqlite3` one: shell completion checks the session without loading
SQLAlchemy (see :mod:`taskcli.core.completion`). The values come back as SQLite stores
them (what the models write: a UUID as 32 hex digits, a time as ISO text in UTC).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from taskcli.core import security
from taskcli.core.dates import as_utc, utc_now
from taskcli.core.errors import AuthError, SchemaError
from taskcli.core.sql import is_postgres

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# The signing key, the database's id, and the session of the token's user, id and secret
# (no session row: it ended, or was never this database's); SQLite's qmark parameters.
SQLITE_SESSION_QUERY = (
    "SELECT signing_key.value, database_id.value, sessions.user_id, sessions.revoked_at, "
    "sessions.ended_reason, sessions.expires_at, users.email "
    "FROM meta AS signing_key JOIN meta AS database_id ON database_id.\"key\" = 'database_id' "
    "LEFT OUTER JOIN sessions ON sessions.user_id = ? AND sessions.id = ? "
    "AND sessions.secret_hash = ? "
    "LEFT OUTER JOIN users ON users.id = sessions.user_id "
    "WHERE signing_key.\"key\" = 'signing_key'"
)
# Runs the query with its parameters and returns its one row or None.
FirstRow = Callable[[str, tuple[str, ...]], Sequence[Any] | None]

# Why a session ended, when not by its own logout (migration 0008's taskcli_present says
# the same on PostgreSQL; the tests hold both to these words).
ENDED = {
    "password": "your session ended (the account's password was changed)",
    "revoked": "your session ended (revoked with taskcli sessions revoke)",
    "locked": "your session ended (the account is locked)",
    "reset": "your session ended (the password was reset)",
}


@dataclass(frozen=True)
class Identity:
    """Who a verified session token belongs to."""

    user_id: uuid.UUID
    email: str
    session_id: uuid.UUID
    expires_at: datetime


def authenticate(conn: Connection, *, token: str) -> Identity:
    """Verify signature, audience, expiry and that the session is live; one query.

    On PostgreSQL the database checks the session with the command's first statement
    (in the same round trip); until then the identity is the token's word for it."""
    if is_postgres(conn):
        from taskcli.core import pgsessions

        return postgres_identity(pgsessions.present(conn, token))

    def first_row(sql: str, parameters: tuple[str, ...]) -> Sequence[Any] | None:
        return conn.exec_driver_sql(sql, parameters).first()

    return sqlite_identity(first_row, token=token)


def postgres_identity(claims: security.Claims) -> Identity:
    """The identity a PostgreSQL session token claims (the database checks it)."""
    expires_at = datetime.fromtimestamp(claims.expires_at, UTC)
    return Identity(claims.user_id, claims.email, claims.session_id, expires_at)


def sqlite_identity(first_row: FirstRow, *, token: str) -> Identity:
    """The identity of a token on SQLite, read with :data:`SQLITE_SESSION_QUERY`."""
    claims = security.unverified_claims(token)
    parameters = (claims.user_id.hex, claims.session_id.hex, security.secret_hash(claims.secret))
    row = first_row(SQLITE_SESSION_QUERY, parameters)
    if row is None:
        raise SchemaError("the database has no signing key (schema incomplete)")
    key, database_id, user_id, revoked_at, ended_reason, expires_at, email = row
    try:
        security.verify_token(token, key=key, audience=database_id)
    except security.SignatureMismatchError:
        if user_id is None or revoked_at is None:
            raise
        # This database issued the token (its secret's hash is stored) and rotate-key
        # ended its session: the key was replaced under it.
        raise AuthError("your session ended (the signing key was rotated)") from None
    if user_id is None or uuid.UUID(user_id) != claims.user_id or email is None:
        raise AuthError("your session has ended")
    if revoked_at is not None:
        raise AuthError(ENDED.get(ended_reason or "", "your session was logged out"))
    expires = as_utc(datetime.fromisoformat(expires_at))
    if expires <= utc_now():
        raise AuthError("your session has expired")
    return Identity(claims.user_id, email, claims.session_id, expires)
