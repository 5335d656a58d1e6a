"""The account lifecycle on PostgreSQL: through migration 0008's SECURITY DEFINER functions.

Each change to an account carries a proof of its current password, made as a login's is
(:mod:`taskcli.core.proofs`) and bound to what it authorises (the new verifier, the new
email, the deletion), whose nonce is spent with the session's own proof in front of the
call: a statement copied from ``pg_stat_activity`` changes nothing. The functions act
on the session presented in the transaction and on nothing else, whatever arguments a
client passes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.engine import Connection

from taskcli.core import pgsessions, proofs, security
from taskcli.core.errors import AuthError


def _me(conn: Connection, *others: str) -> tuple[str, ...]:
    """The session's email as the database has it and its password setting, then, in the
    same round trip, the setting the database hands out for each email of ``others``."""
    settings = "".join(", taskcli_password_setting(%s)" for _ in others)
    row = conn.exec_driver_sql(
        f"SELECT w.email, taskcli_password_setting(w.email){settings} FROM taskcli_whoami() w",
        others,
    ).first()
    if row is None:
        raise AuthError("your session has ended")
    return tuple(row)


def _new_verifier(password: str, setting: str) -> tuple[str, str]:
    """(setting, verifier) for a new password: the account's setting stays (the salt the
    database hands out for its email), unless it is of an older scheme."""
    if security.needs_new_setting(setting):
        return security.new_password(password)
    return setting, proofs.verifier(security.hash_with_setting(password, setting))


def _confirmed(conn: Connection, password: str, me: tuple[str, ...], purpose: str,
               call: str, *arguments: object) -> Any:  # fmt: skip
    """The row of ``call`` (a function taking a password proof, then ``arguments``) with a
    proof of the password of ``me`` (email, setting, as :func:`_me` gives them) bound to
    ``purpose``."""
    email, setting = me[:2]
    proof = pgsessions.password_proof(password, setting, email=email, bound=purpose)
    pgsessions.spend_with_next(conn, proof.nonce)
    placeholders = ", ".join(["%s"] * (4 + len(arguments)))
    return conn.exec_driver_sql(
        f"SELECT * FROM {call}({placeholders})",
        (str(proof.nonce), proof.ts, str(proof.r), str(proof.s), *arguments),
    ).one()


def passwd(conn: Connection, *, current: str, new: str) -> Any:
    """Row (status, retry_after, sessions_ended)."""
    me = _me(conn)
    setting, verifier = _new_verifier(new, me[1])
    purpose = f"passwd|{setting}|{verifier}"
    return _confirmed(conn, current, me, purpose, "taskcli_passwd", setting, verifier)


def change_email(conn: Connection, *, password: str, new_email: str) -> Any:
    """Row (status, retry_after, email). The password is hashed again under the salt the
    database hands out for the new email, as it would have been had it registered."""
    me = _me(conn, new_email)
    setting, verifier = _new_verifier(password, me[2])
    purpose = f"email|{new_email}|{setting}|{verifier}"
    return _confirmed(
        conn, password, me, purpose, "taskcli_change_email", new_email, setting, verifier
    )


def delete_account(conn: Connection, *, password: str) -> Any:
    """Row (status, retry_after, tasks_deleted)."""
    return _confirmed(conn, password, _me(conn), "delete-account", "taskcli_delete_account")


def sessions(conn: Connection) -> list[Any]:
    """The session's account's live sessions (id, client, created_at, expires_at, current)."""
    return list(conn.exec_driver_sql("SELECT * FROM taskcli_sessions()").all())


def revoke_sessions(conn: Connection, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    rows = conn.exec_driver_sql(
        "SELECT * FROM taskcli_revoke_sessions(%s::uuid[])", ([str(i) for i in ids],)
    ).all()
    return [row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0])) for row in rows]


def reset_login(conn: Connection, *, email: str, code: str, new: str, days: int,
                client: str) -> Any:  # fmt: skip
    """Row as a login's (status ok, wrong or throttled; the new session when ok)."""
    setting = pgsessions.password_setting(conn, email)
    new_setting, new_verifier = _new_verifier(new, setting)
    proof = proofs.reset_proof(code, email=email, bound=f"{new_setting}|{new_verifier}")
    return conn.exec_driver_sql(
        pgsessions.spent_first(
            proof.nonce, "SELECT * FROM taskcli_reset_login(%s, %s, %s, %s, %s, %s, %s, %s)"
        ),
        (email, str(proof.nonce), proof.ts, proof.proof, new_setting, new_verifier,
         client, days),
    ).one()  # fmt: skip
