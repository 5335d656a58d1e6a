"""Accounts for tests that need a logged-in user but do not test register or login.

Registering through the CLI costs one argon2 hash (a large share of the suite's time when
hundreds of tests do it). Here the account and its session are made by taskcli's core,
``accounts.register``, with the hash of the test password computed once per process by
taskcli's own ``hash_password`` (same scheme and parameters), and the token is saved in
the token store the CLI reads. Tests of register and login themselves use the CLI.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache

from sqlalchemy.engine import Connection

from taskcli import __version__
from taskcli.core import accounts, authentication, security
from taskcli.core.config import resolve_settings
from taskcli.core.db import Database
from taskcli.core.token_store import TokenStore
from taskcli.core.urls import database_key

PASSWORD = "correct horse battery"
CLIENT = f"{socket.gethostname()} taskcli/{__version__}"  # what `taskcli register` records


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


@cache
def _password_hash(password: str) -> str:
    return _real_hash_password(password)


_real_hash_password = security.hash_password


@contextmanager
def _hash_computed_once():
    security.hash_password = _password_hash
    try:
        yield
    finally:
        security.hash_password = _real_hash_password


def create_logged_in_user(
    email: str | None = None, *, env: Mapping[str, str] | None = None, warn=None
) -> str:
    """Register ``email`` (with PASSWORD) and store its token as `taskcli register` would,
    in the environment's profile, data directory and database; returns the email.

    ``env`` is merged over os.environ, as ``Taskcli(..., env=...)`` does; ``warn`` gets the
    token store's one-time notes (the CLI prints them on stderr).
    """
    environ = {**os.environ, **(env or {})}
    settings = resolve_settings(environ=environ)
    database = Database(settings)
    with _hash_computed_once(), database.connect() as conn:
        login = accounts.register(
            conn,
            email=email or new_email(),
            password=PASSWORD,
            session_days=settings.session_days,
            client=CLIENT,
        )
    _token_store(settings, environ, warn).save(login.token)
    return login.identity.email


def _token_store(settings, environ: Mapping[str, str], warn=None) -> TokenStore:
    return TokenStore(
        data_dir=settings.data_dir,
        profile=settings.profile,
        database_key=database_key(settings.database_url),
        warn=warn or (lambda _text: None),
        environ=environ,
    )


@contextmanager
def logged_in_connection(settings) -> Iterator[Connection]:
    """A connection of the core library, logged in with the stored token as a command's is
    (on PostgreSQL its statements then carry the session's proofs)."""
    stored = _token_store(settings, os.environ).load()
    assert stored is not None, "no stored token"
    with Database(settings).connect() as conn:
        authentication.authenticate(conn, token=stored.token)
        yield conn
