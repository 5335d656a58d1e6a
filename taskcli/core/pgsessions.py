"""Accounts and sessions on PostgreSQL: through the database's SECURITY DEFINER functions.

The application role reads no account, session or key: register and login are
functions, and every later statement carries a single-use proof of the session (see
:mod:`taskcli.core.proofs`) in front of it, in the same round trip. The proof is spent
and committed first (``SELECT taskcli_spend(…); COMMIT``), so a statement copied from
``pg_stat_activity`` is worthless even when the original was rolled back; then
``taskcli_present`` checks it and sets the transaction's identity, which the
row-level security policies read.

SQLAlchemy is imported only where an engine is at hand: shell completion puts the proof
in front of its one query on a bare driver connection (:func:`verified_claims`,
:class:`Presenter`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from taskcli.core import proofs, security
from taskcli.core.dates import utc_now
from taskcli.core.errors import AuthError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

PRESENTER = "taskcli.presenter"


def token_key(secret: str) -> str:
    """What a PostgreSQL session token is signed with: the database never signs tokens
    (it keeps no key the application role may use), so the signature only says the token
    is whole; what counts is the proof of its secret."""
    return hashlib.sha256(f"taskcli-token|{secret}".encode()).hexdigest()


class Presenter:
    """Puts a fresh session proof in front of each statement that starts a transaction."""

    def __init__(self, claims: security.Claims) -> None:
        self.claims = claims
        self.in_transaction = False
        self.journal: tuple[str, str] | None = None  # (command, client) to journal as
        self.also_spend: list[object] = []  # nonces of the next transaction's own proofs

    def _journal_settings(self) -> str:
        """Statements naming the command the database journals this transaction's task
        changes under (see taskcli.core.journal): local to the transaction, so nothing
        stays behind on a pooled server connection; '' when not journaling."""
        if self.journal is None:
            return ""
        command, client = self.journal
        return (
            f"SELECT set_config('taskcli.command', '{_literal(command)}', true), "
            f"set_config('taskcli.client', '{_literal(client)}', true); "
        )

    def _spend_and_present(self) -> tuple[str, str]:
        claims = self.claims
        proof = proofs.session_proof(
            claims.secret, user_id=claims.user_id, session_id=claims.session_id
        )
        # Only hex digits, uuids and numbers: nothing to quote, no % for the driver.
        spend = _spend(proof.nonce, *self.also_spend)
        self.also_spend = []
        present = (
            f"SELECT taskcli_present('{claims.user_id}', '{claims.session_id}', "
            f"'{proof.nonce}', {proof.ts}, '{proof.proof}', '{_literal(claims.audience)}')"
        )
        return spend, present

    def rewrite(self, statement: str, executemany: bool) -> str:
        word = statement.lstrip()[:9].upper()
        if word.startswith(("COMMIT", "ROLLBACK")):
            self.in_transaction = False
            return statement
        if self.in_transaction:
            return statement
        if executemany:
            raise RuntimeError("a batch outside a transaction cannot carry a session proof")
        spend, present = self._spend_and_present()
        settings = self._journal_settings()
        if word.startswith("BEGIN"):
            self.in_transaction = True
            return f"{spend}{statement}; {settings}{present}"
        # the journal's settings before the present: on Citus it hands them on to the
        # workers (taskcli.core.citus_sql)
        return f"{spend}{settings}{present}; {statement}"


def _literal(text: str) -> str:
    return text.replace("'", "''")


def _spend(*nonces: object) -> str:
    """Spend proofs' nonces and commit them before anything else in the message runs."""
    spent = ", ".join(f"taskcli_spend('{nonce}')" for nonce in nonces)
    return f"SELECT {spent}; COMMIT; "


def spend_with_next(conn: Connection, nonce: object) -> None:
    """Spend ``nonce`` (a password or reset proof's) with the session proof of the next
    transaction on ``conn``, in the same message, before anything else runs."""
    presenter = conn.info.get(PRESENTER)
    if presenter is None:
        raise RuntimeError("no session is presented on this connection")
    presenter.also_spend.append(nonce)


def spent_first(nonce: object, statement: str) -> str:
    """``statement`` with ``nonce`` spent and committed in front of it (no session)."""
    return _spend(nonce) + statement


def with_proof(conn: Connection, statement: str, executemany: bool = False) -> str:
    """``statement`` as it must be sent on ``conn``: with the session's proof in front when
    it starts a transaction of a logged-in connection (COPY goes through here too)."""
    presenter = conn.info.get(PRESENTER)
    return statement if presenter is None else presenter.rewrite(statement, executemany)


def journal_as(conn: Connection, *, command: str | None, client: str | None) -> None:
    """From the next transaction on, the database journals task changes on ``conn`` as
    ``command`` from ``client`` (None: not any more). The values must be journal-safe
    text (taskcli.core.journal.safe_text): they travel as literals."""
    if conn.invalidated:  # gone (Ctrl-C, a lost server): nothing more will be sent
        return
    presenter = conn.info.get(PRESENTER)
    if presenter is not None:
        presenter.journal = None if command is None else (command, client or "")


def install(engine: Engine) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _prefix(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> tuple[str, Any]:
        return with_proof(conn, statement, executemany), parameters


def present(conn: Connection, token: str) -> security.Claims:
    """Check the token's form and signature here; its session is checked by the database
    with the command's first statement."""
    verified = verified_claims(token)
    conn.info[PRESENTER] = Presenter(verified)
    return verified


def verified_claims(token: str) -> security.Claims:
    """The claims of a PostgreSQL session token whose form and signature hold (what a
    :class:`Presenter` needs); whether its session is live only the database says."""
    claims = security.unverified_claims(token)
    return security.verify_token(token, key=token_key(claims.secret), audience=claims.audience)


def token_for(row: Any, email: str) -> str:
    """The token of the session a register or login row started."""
    return security.issue_token(
        key=token_key(row.secret),
        audience=row.audience,
        user_id=row.user_id,
        email=email,
        session_id=row.session_id,
        secret=row.secret,
        issued_at=utc_now(),
        expires_at=row.expires_at,
    )


def password_setting(conn: Connection, email: str) -> str:
    """The salt and parameters the database hands out for ``email`` (known or not)."""
    setting: str = conn.exec_driver_sql(
        "SELECT taskcli_password_setting(%s)", (email,)
    ).scalar_one()
    return setting


def register(conn: Connection, *, email: str, password: str, days: int, client: str) -> Any:
    """The database's row: status ``ok`` (with the new session) or ``taken``."""
    # The salt the database already hands out for this email: it does not change when the
    # account is made, so watching an email's salt tells nobody when it registered.
    setting = password_setting(conn, email)
    verifier = proofs.verifier(security.hash_with_setting(password, setting))
    return conn.exec_driver_sql(
        "SELECT * FROM taskcli_register(%s, %s, %s, %s, %s)",
        (email, setting, verifier, client, days),
    ).one()


def login(conn: Connection, *, email: str, password: str, days: int, client: str) -> Any:
    """The database's row: status ``ok`` (with the new session), ``wrong`` or ``throttled``
    (with ``retry_after`` seconds)."""
    setting = password_setting(conn, email)
    new_setting = new_verifier = None
    if security.needs_new_setting(setting) and len(password) <= security.PASSWORD_MAX:
        new_setting, new_verifier = security.new_password(password)
    replacement = f"{new_setting}|{new_verifier}" if new_setting else ""
    proof = password_proof(password, setting, email=email, bound=replacement)
    call = "SELECT * FROM taskcli_login(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    return conn.exec_driver_sql(
        spent_first(proof.nonce, call),
        (email, str(proof.nonce), proof.ts, str(proof.r), str(proof.s), client, days,
         new_setting, new_verifier),
    ).one()  # fmt: skip


def password_proof(password: str, setting: str, *, email: str, bound: str) -> proofs.LoginProof:
    """A login's proof of ``password`` for ``email`` (hashed under ``setting``), bound to
    what it authorises. A password over the length limit (register refuses one) gives a
    proof that matches nothing, at the same cost."""
    proof = proofs.login_proof(
        security.hash_with_setting(password, setting), email=email, new_verifier=bound
    )
    if len(password) > security.PASSWORD_MAX:
        return proofs.LoginProof(proof.nonce, proof.ts, proof.r, proof.s + 1)
    return proof


def whoami(conn: Connection) -> Any:
    row = conn.exec_driver_sql("SELECT * FROM taskcli_whoami()").first()
    if row is None:
        raise AuthError("your session has ended")
    return row


def logout(conn: Connection, *, everywhere: bool) -> int:
    ended: int = conn.exec_driver_sql("SELECT taskcli_logout(%s)", (everywhere,)).scalar_one()
    return ended


def revoke_token(conn: Connection, *, token: str) -> int:
    """End the session of another token (one a new login replaces) over this connection."""
    from sqlalchemy import exc

    from taskcli.core.db import INVALID_AUTHORIZATION

    previous = conn.info.get(PRESENTER)
    try:
        present(conn, token)
        return logout(conn, everywhere=False)
    except AuthError:  # not a token of this kind: it names no session
        return 0
    except exc.DBAPIError as error:
        if getattr(error.orig, "pgcode", None) != INVALID_AUTHORIZATION:
            raise
        return 0  # ended already, or not this database's: it names no live session
    finally:
        conn.info[PRESENTER] = previous
        if previous is None:
            conn.info.pop(PRESENTER, None)


def rotate_key(conn: Connection) -> int:
    from taskcli.core.roles import require_owner

    require_owner(conn, "db rotate-key")
    ended: int = conn.exec_driver_sql("SELECT taskcli_rotate_key()").scalar_one()
    return ended
