"""The session a command runs as, and the rules for the token a profile keeps.

A command opens the stored token's session (:func:`logged_in`). A new login replaces the
stored token and ends the session of the one it replaced, but only once the new one is
saved (:func:`log_in`). Logging out forgets the stored token, also when its session had
already ended (:func:`log_out`). A token the caller gives (``TASKCLI_TOKEN``) is the
caller's: it is never ended by a login nor forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from taskcli.core.authentication import Identity, authenticate
from taskcli.core.db import Database
from taskcli.core.errors import AuthError, TokenStoreError
from taskcli.core.token_store import StoredToken, TokenStore

if TYPE_CHECKING:  # accounts (and the models) load when an account is made or ended
    from taskcli.core import accounts

    Action = Callable[..., accounts.Login]


@dataclass(frozen=True)
class LoggedIn:
    conn: Connection
    identity: Identity
    token: StoredToken


@dataclass(frozen=True)
class LoggedOut:
    """``email`` is None when the session had already ended (its token is forgotten)."""

    email: str | None
    sessions_ended: int


def first_step(database: Database) -> str:
    """The command to run without a login: register while the embedded database has no
    account; on a server, whether accounts exist is nobody's business, so both."""
    # Connecting first: a server that cannot be reached is the problem to report (exit 6),
    # not the missing login, since logging in would only meet the same failure.
    with database.connect() as conn:
        if not database.is_sqlite:
            return "run: taskcli register (or taskcli login)"
        from taskcli.core import accounts

        return "run: taskcli login" if accounts.any_account(conn) else "run: taskcli register"


@contextmanager
def logged_in(database: Database, store: TokenStore) -> Iterator[LoggedIn]:
    """The connection and identity of the stored token's user (exit 3 if none)."""
    stored = store.load()
    if stored is None:
        raise AuthError("not logged in", hint=first_step(database))
    with session_of(database, stored) as session:
        yield session


@contextmanager
def session_of(
    database: Database, stored: StoredToken, *, migrate_embedded: bool = True
) -> Iterator[LoggedIn]:
    """The connection and identity of ``stored``'s user; ``migrate_embedded=False`` for a
    read that must change nothing (shell completion: an old SQLite file stays as it is)."""
    with database.connect(migrate_embedded=migrate_embedded) as conn:
        yield LoggedIn(conn, authenticate(conn, token=stored.token), stored)


def log_in(
    database: Database, store: TokenStore, action: Action, **credentials: object
) -> tuple[accounts.Login, str]:
    """Register or log in (``action``), keep the new token, end the session it replaces.

    The new token is saved before the old session ends: when the save fails (a full disk)
    the new session is ended instead and the previous one goes on working. Returns the
    login and where its token went."""
    from taskcli.core import accounts

    previous = store.load()
    with database.connect() as conn:
        login = action(conn, **credentials)
        try:
            storage = store.save(login.token)
        except TokenStoreError:
            accounts.revoke_token(conn, token=login.token)  # nobody holds this token
            raise
        if previous is not None and not previous.from_environment:
            accounts.revoke_token(conn, token=previous.token)
    return login, storage


def log_out(database: Database, store: TokenStore, *, everywhere: bool) -> LoggedOut:
    """End this session (or every one of the user) and forget the stored token.

    A session that already ended (expired, revoked, key rotated) leaves a dead token
    behind; it is forgotten, as logging out means. No stored token at all stays exit 3."""
    from taskcli.core import accounts

    try:
        with logged_in(database, store) as session:
            ended = accounts.logout(session.conn, identity=session.identity, everywhere=everywhere)
    except AuthError:
        stored = store.load()
        if stored is None or stored.from_environment:
            raise
        store.delete()
        return LoggedOut(None, 0)
    _forget(store, session.token)
    return LoggedOut(session.identity.email, ended)


def _forget(store: TokenStore, stored: StoredToken) -> None:
    """Forget the stored token of a session that just ended (one the caller gave through
    the environment stays the caller's)."""
    if not stored.from_environment:
        store.delete()


def revoke_sessions(database: Database, store: TokenStore, prefixes: list[str]) -> list[Any]:
    """End the account's sessions that ``prefixes`` name (taskcli.core.lifecycle); when
    this machine's is among them, its token is forgotten as a logout forgets it."""
    from taskcli.core import lifecycle

    with logged_in(database, store) as session:
        ended = lifecycle.revoke_sessions(
            session.conn, identity=session.identity, prefixes=prefixes
        )
    if any(info.current for info in ended):
        _forget(store, session.token)
    return ended


def delete_account(database: Database, store: TokenStore, password: str) -> tuple[str, int]:
    """Delete the logged-in account and forget its token; (email, tasks deleted)."""
    from taskcli.core import accounts, lifecycle

    with logged_in(database, store) as session:
        email = accounts.verified(session.conn, session.identity).email
        deleted = lifecycle.delete_account(
            session.conn, identity=session.identity, password=password
        )
    _forget(store, session.token)
    return email, deleted
