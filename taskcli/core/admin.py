"""The administrator's user commands (SPEC §18): list accounts, lock and unlock one, and
give a locked-out user a one-time reset code. Owner only on PostgreSQL (exit 8 for the
application role, which may not read ``users`` at all); on SQLite the file's owner.

What they show of an account is its email, dates, task count and lock: never a task's
content, a password verifier or a session secret.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core import accounts, lifecycle
from taskcli.core.dates import as_utc, utc_now
from taskcli.core.db import atomic
from taskcli.core.errors import NotFoundError
from taskcli.core.roles import require_owner

users = accounts.users
tasks = lifecycle.tasks


@dataclass(frozen=True)
class Account:
    email: str
    created_at: datetime
    last_login_at: datetime | None
    task_count: int
    locked: bool


@dataclass(frozen=True)
class Locking:
    email: str  # as stored (normalised)
    locked: bool
    sessions_ended: int


@dataclass(frozen=True)
class ResetCode:
    email: str
    code: str  # shown once, in groups of four digits
    expires_at: datetime


def list_users(conn: Connection) -> list[Account]:
    """Every account, by email."""
    require_owner(conn, "db users")
    count = sa.func.count(tasks.c.id)
    rows = conn.execute(
        sa.select(users.c.email, users.c.created_at, users.c.last_login_at, users.c.locked_at,
                  count.label("task_count"))
        .select_from(users.outerjoin(tasks, tasks.c.user_id == users.c.id))
        .group_by(users.c.id, users.c.email, users.c.created_at, users.c.last_login_at,
                  users.c.locked_at)
        .order_by(users.c.email)
    ).all()  # fmt: skip
    return [
        Account(
            row.email,
            as_utc(row.created_at),
            as_utc(row.last_login_at) if row.last_login_at else None,
            int(row.task_count),
            row.locked_at is not None,
        )  # fmt: skip
        for row in rows
    ]


def _account(conn: Connection, email: str) -> tuple[str, uuid.UUID]:
    """The account's email as stored and its id; exit 4 when there is none."""
    address = accounts.normalize_email(email)
    user_id: uuid.UUID | None = conn.execute(
        sa.select(users.c.id).where(users.c.email == address)
    ).scalar()
    if user_id is None:
        raise NotFoundError(f"no account with the email {address}", hint="see: taskcli db users")
    return address, user_id


def lock(conn: Connection, email: str) -> Locking:
    """Lock the account (it cannot log in) and end its sessions. Locking a locked account
    changes nothing."""
    require_owner(conn, "db lock")
    with atomic(conn):
        address, user_id = _account(conn, email)
        conn.execute(
            users.update()
            .where(users.c.id == user_id, users.c.locked_at.is_(None))
            .values(locked_at=utc_now())
        )
        return Locking(address, True, lifecycle.end_sessions(conn, user_id, "locked"))


def unlock(conn: Connection, email: str) -> Locking:
    require_owner(conn, "db unlock")
    address, user_id = _account(conn, email)
    conn.execute(users.update().where(users.c.id == user_id).values(locked_at=None))
    return Locking(address, False, 0)


def reset_password(conn: Connection, email: str) -> ResetCode:
    """A new one-time code for the account, valid for a day (it replaces an earlier one);
    only its SHA-256 is stored. The password and the sessions stay until it is used."""
    require_owner(conn, "db reset-password")
    code = secrets.token_hex(12)
    expires_at = utc_now() + lifecycle.RESET_VALID
    address, user_id = _account(conn, email)
    conn.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(reset_code_hash=lifecycle.code_hash(code), reset_expires_at=expires_at)
    )
    shown = "-".join(code[i : i + 4] for i in range(0, len(code), 4))
    return ResetCode(address, shown, expires_at)
