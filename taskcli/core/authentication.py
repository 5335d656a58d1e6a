"""The session check every command starts with: who a session token belongs to.

It reads its few columns through :mod:`taskcli.core.lean_tables`, not the models, so
that a quick command (shell completion) pays for SQLAlchemy Core only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core import pgsessions, security
from taskcli.core.dates import as_utc, utc_now
from taskcli.core.errors import AuthError, SchemaError
from taskcli.core.lean_tables import meta, sessions, users

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
    if conn.dialect.name == "postgresql":
        claims = pgsessions.present(conn, token)
        expires_at = datetime.fromtimestamp(claims.expires_at, UTC)
        return Identity(claims.user_id, claims.email, claims.session_id, expires_at)
    claims = security.unverified_claims(token)
    key_row = meta.alias("signing_key")
    id_row = meta.alias("database_id")
    query = (
        sa.select(
            key_row.c.value.label("key"),
            id_row.c.value.label("database_id"),
            sessions.c.user_id,
            sessions.c.revoked_at,
            sessions.c.ended_reason,
            sessions.c.expires_at,
            users.c.email,
        )
        .select_from(key_row)
        .join(id_row, id_row.c.key == "database_id")
        .outerjoin(
            sessions,
            sa.and_(
                sessions.c.user_id == claims.user_id,
                sessions.c.id == claims.session_id,
                sessions.c.secret_hash == security.secret_hash(claims.secret),
            ),
        )
        .outerjoin(users, users.c.id == sessions.c.user_id)
        .where(key_row.c.key == "signing_key")
    )
    row = conn.execute(query).first()
    if row is None:
        raise SchemaError("the database has no signing key (schema incomplete)")
    try:
        security.verify_token(token, key=row.key, audience=row.database_id)
    except security.SignatureMismatchError:
        if row.user_id is None or row.revoked_at is None:
            raise
        # This database issued the token (its secret's hash is stored) and rotate-key
        # ended its session: the key was replaced under it.
        raise AuthError("your session ended (the signing key was rotated)") from None
    if row.user_id is None or row.user_id != claims.user_id or row.email is None:
        raise AuthError("your session has ended")
    if row.revoked_at is not None:
        raise AuthError(ENDED.get(row.ended_reason or "", "your session was logged out"))
    expires_at = as_utc(row.expires_at)
    if expires_at <= utc_now():
        raise AuthError("your session has expired")
    return Identity(row.user_id, row.email, claims.session_id, expires_at)
