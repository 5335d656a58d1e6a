"""Accounts and sessions: register, login, logout, token verification, key rotation."""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from taskcli.core import pgsessions, proofs, security
from taskcli.core.authentication import Identity
from taskcli.core.dates import as_utc, utc_now
from taskcli.core.db import atomic
from taskcli.core.errors import AuthError, ConflictError, InvalidInputError, SchemaError
from taskcli.core.models import CONTROL, AuthSession, Counter, Meta, User
from taskcli.core.roles import require_owner
from taskcli.core.sql import is_postgres

users = User.__table__
sessions = AuthSession.__table__
meta = Meta.__table__
counters = Counter.__table__

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
WRONG_CREDENTIALS = "wrong email or password"


@dataclass(frozen=True)
class Login:
    identity: Identity
    token: str


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 320 or not EMAIL_RE.match(value) or CONTROL.search(value):
        raise InvalidInputError(f"email: {email.strip()!r} is not an email address")
    return value


def _database_secrets(conn: Connection) -> tuple[str, str]:
    rows = dict(conn.execute(sa.select(meta.c.key, meta.c.value)).all())
    if "signing_key" not in rows or "database_id" not in rows:
        raise SchemaError("the database has no signing key (schema incomplete)")
    return rows["signing_key"], rows["database_id"]


def start_session(
    conn: Connection, *, user_id: uuid.UUID, email: str, session_days: int, client: str
) -> Login:
    """A new session of the account (SQLite; on PostgreSQL the database's
    ``taskcli_new_session`` does the same): refused for a locked account, noted as its
    last login."""
    key, database_id = _database_secrets(conn)
    now = utc_now()
    locked = conn.execute(sa.select(users.c.locked_at).where(users.c.id == user_id)).scalar()
    if locked is not None:
        raise account_locked()
    conn.execute(users.update().where(users.c.id == user_id).values(last_login_at=now))
    session_id = uuid.uuid4()
    secret = security.new_session_secret()
    expires_at = now + timedelta(days=session_days)
    token = security.issue_token(
        key=key,
        audience=database_id,
        user_id=user_id,
        email=email,
        session_id=session_id,
        secret=secret,
        issued_at=now,
        expires_at=expires_at,
    )
    conn.execute(
        sessions.insert().values(
            id=session_id,
            user_id=user_id,
            secret_hash=security.secret_hash(secret),
            created_at=now,
            expires_at=expires_at,
            client=client[:255],
        )
    )
    return Login(Identity(user_id, email, session_id, expires_at), token)


def register(
    conn: Connection, *, email: str, password: str, session_days: int, client: str
) -> Login:
    """Create an account and log it in. A taken email is a ConflictError (exit 5)."""
    email = normalize_email(email)
    security.check_password_rules(password)
    if is_postgres(conn):
        return _pg_login(pgsessions.register, conn, email, password, session_days, client)
    setting, verifier = security.new_password(password)
    user_id = uuid.uuid4()
    now = utc_now()
    try:
        with atomic(conn):
            conn.execute(
                users.insert().values(
                    id=user_id,
                    email=email,
                    password_setting=setting,
                    password_verifier=verifier,
                    created_at=now,
                    updated_at=now,
                )
            )
            conn.execute(counters.insert().values(user_id=user_id, next_task_number=1))
            return start_session(
                conn, user_id=user_id, email=email, session_days=session_days, client=client
            )
    except exc.IntegrityError:
        raise taken(email) from None


def account_locked() -> AuthError:
    return AuthError("this account is locked", hint="ask the database administrator to unlock it")


def taken(email: str) -> ConflictError:
    return ConflictError(
        f"an account with the email {email} already exists", hint="run: taskcli login"
    )


def _wrong_credentials() -> AuthError:
    return AuthError(WRONG_CREDENTIALS, hint="check the email and password")


def throttled(retry_after: int) -> AuthError:
    return AuthError(
        f"too many failed logins for this email; try again in {retry_after} s",
        hint="wait, then check the email and password",
    )


def _pg_login(action: Any, conn: Connection, email: str, password: str, days: int,
              client: str) -> Login:  # fmt: skip
    """Register or log in through the database's functions (their row says how it went)."""
    row = action(conn, email=email, password=password, days=days, client=client[:255])
    return logged_in_row(row, email, wrong=_wrong_credentials)


def refused(row: Any, *, wrong: Any) -> None:
    """Raise when a database function's row says its password (or code) check failed:
    ``throttled`` (too many failures), ``wrong`` (``wrong()`` builds the error)."""
    if row.status == "throttled":
        raise throttled(row.retry_after)
    if row.status == "wrong":
        raise wrong()


def logged_in_row(row: Any, email: str, *, wrong: Any) -> Login:
    """The login a register, login or reset row of the database started, or its error
    (``wrong()`` for a wrong password or code)."""
    if row.status == "taken":
        raise taken(email)
    refused(row, wrong=wrong)
    if row.status != "ok":
        raise wrong()
    identity = Identity(row.user_id, email, row.session_id, as_utc(row.expires_at))
    return Login(identity, pgsessions.token_for(row, email))


def login(conn: Connection, *, email: str, password: str, session_days: int, client: str) -> Login:
    """Check the password (same cost for unknown emails) and start a session."""
    try:
        email = normalize_email(email)
    except InvalidInputError:
        email = ""
    if is_postgres(conn):
        return _pg_login(pgsessions.login, conn, email, password, session_days, client)
    row = conn.execute(
        sa.select(users.c.id, users.c.password_setting, users.c.password_verifier).where(
            users.c.email == email
        )
    ).first()
    if row is None:
        password_matches(password, security.DUMMY_SETTING, "")  # the same cost
        raise _wrong_credentials()
    if not password_matches(password, row.password_setting, row.password_verifier):
        raise _wrong_credentials()
    with atomic(conn):
        if security.needs_new_setting(row.password_setting):
            setting, new_verifier = security.new_password(password)
            conn.execute(
                users.update()
                .where(users.c.id == row.id)
                .values(
                    password_setting=setting, password_verifier=new_verifier, updated_at=utc_now()
                )
            )
        return start_session(
            conn, user_id=row.id, email=email, session_days=session_days, client=client
        )


def password_matches(password: str, setting: str, stored_verifier: str) -> bool:
    """Whether ``password`` is the one whose verifier is stored (SQLite; PostgreSQL checks
    a proof of it). One longer than the rules allow matches nothing."""
    password_hash = security.hash_with_setting(password, setting)
    matches = hmac.compare_digest(proofs.verifier(password_hash), stored_verifier)
    return matches and len(password) <= security.PASSWORD_MAX


def verified(conn: Connection, identity: Identity) -> Identity:
    """The identity as the database has it now (PostgreSQL checks the session here)."""
    if not is_postgres(conn):
        return identity  # authenticate checked it
    row = pgsessions.whoami(conn)
    return Identity(row.user_id, row.email, row.session_id, as_utc(row.expires_at))


def logout(conn: Connection, *, identity: Identity, everywhere: bool = False) -> int:
    """Revoke this session, or every live session of the user; returns how many ended."""
    if is_postgres(conn):
        return pgsessions.logout(conn, everywhere=everywhere)
    target = (
        sessions.c.user_id == identity.user_id
        if everywhere
        else sessions.c.id == identity.session_id
    )
    result = conn.execute(
        sessions.update()
        .where(target, sessions.c.revoked_at.is_(None))
        .values(revoked_at=utc_now())
    )
    return result.rowcount


def revoke_token(conn: Connection, *, token: str) -> int:
    """End the session a token belongs to (used when a new login replaces it)."""
    if is_postgres(conn):
        return pgsessions.revoke_token(conn, token=token)
    try:
        claims = security.unverified_claims(token)
    except AuthError:  # unreadable: it names no session
        return 0
    result = conn.execute(
        sessions.update()
        .where(
            sessions.c.user_id == claims.user_id,
            sessions.c.id == claims.session_id,
            sessions.c.secret_hash == security.secret_hash(claims.secret),
            sessions.c.revoked_at.is_(None),
        )
        .values(revoked_at=utc_now())
    )
    return result.rowcount


def rotate_key(conn: Connection) -> int:
    """Replace the signing key; every session ends. Returns the number of sessions ended."""
    if is_postgres(conn):
        return pgsessions.rotate_key(conn)
    require_owner(conn, "db rotate-key")
    with atomic(conn):
        conn.execute(
            meta.update()
            .where(meta.c.key == "signing_key")
            .values(value=security.new_signing_key())
        )
        result = conn.execute(
            sessions.update().where(sessions.c.revoked_at.is_(None)).values(revoked_at=utc_now())
        )
    return result.rowcount


def any_account(conn: Connection) -> bool:
    """Whether the database holds any account (the embedded one tells a new user to register)."""
    return conn.execute(sa.select(users.c.id).limit(1)).first() is not None
