"""Opening a PostgreSQL connection within the connect timeout, and saying why it failed.

The connect timeout bounds the whole attempt, retries included: a server that accepts
and never answers costs the timeout once. Only failures that come back at once (refused,
hung up, still starting, as a Neon endpoint waking up does) are tried again, with
backoff, while enough of the timeout is left for another try.
"""

from __future__ import annotations

import math
import random
import re
import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from taskcli.core.errors import ConfigError, DatabaseUnavailableError, TaskcliError

CONNECT_ATTEMPTS = 3
# libpq waits at least 2 s whatever connect_timeout says; a retry needs that much left.
LIBPQ_MIN_TIMEOUT_S = 2
RETRIED_MARKERS = (
    "connection refused",
    "server closed the connection unexpectedly",
    "the database system is starting up",
    "the database system is shutting down",
    "couldn't connect to compute node",
    "compute node",
    "please retry",
    "no route to host",
    "connection reset by peer",
    "could not receive data from server",
)
REASONS = (
    ("password authentication failed", "password authentication failed"),
    ("sasl authentication failed", "password authentication failed"),
    ("no password supplied", "a password is required (URL, PGPASSWORD or ~/.pgpass)"),
    ("could not translate host name", "unknown host name"),
    ("connection refused", "connection refused (is the server running and accepting TCP?)"),
    ("no pg_hba.conf entry", "the server refused this client (pg_hba.conf)"),
    ("too many connections", "the server has too many connections"),
)
# libpq names the server it tried; the message taskcli prints names it already.
SERVER_PREFIX = re.compile(r'connection to server (at|on socket) "[^"]*"( \([^)]*\))?,? ?'
                           r"(port \d+ )?failed: ")  # fmt: skip


def driver_message(error: BaseException) -> str:
    """The driver's message on one line."""
    orig = getattr(error, "orig", None) or error
    return " ".join(str(orig).split()) or type(orig).__name__


def _libpq_reason(error: BaseException) -> str:
    text = driver_message(error)
    return SERVER_PREFIX.sub("", text, count=1) if len(SERVER_PREFIX.findall(text)) == 1 else text


def _redacted(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def connection_failure(
    error: BaseException, target: str, timeout: int, secrets: tuple[str, ...] = ()
) -> TaskcliError:
    """One line saying what went wrong and where: libpq's own reason, password redacted.

    A parameter libpq does not know, or a value it refuses, is the URL's fault (exit 5);
    everything else is the server or the way to it (exit 6).
    """
    reason = _redacted(_libpq_reason(error), secrets)
    if _is_parameter_error(error, reason):
        return ConfigError(
            f"invalid database URL for {target}: {reason.removeprefix('invalid dsn: ')}",
            hint="the URL's query parameters must be libpq connection parameters",
        )
    lowered = reason.lower()
    if "timeout expired" in lowered:
        reason = f"no answer within {timeout} s (connect timeout)"
    else:
        reason = next((text for marker, text in REASONS if marker in lowered), reason)
    return DatabaseUnavailableError(
        f"cannot connect to PostgreSQL at {target}: {reason}",
        hint="check the database URL, the network and the server",
    )


def _is_parameter_error(error: BaseException, reason: str) -> bool:
    """libpq refused the connection parameters before it tried any server."""
    if isinstance(error, exc.ProgrammingError):  # psycopg2: "invalid dsn: …"
        return True
    return reason.startswith("invalid ") and "connection to server" not in reason


def is_retried(error: BaseException) -> bool:
    """A failure that came back at once and may pass (never a timeout)."""
    lowered = driver_message(error).lower()
    return any(marker in lowered for marker in RETRIED_MARKERS)


def install_connect_budget(engine: Engine, timeout: int) -> None:
    """Connect within ``timeout`` seconds in all, retrying quick transient failures."""

    @event.listens_for(engine, "do_connect")
    def _connect(
        dialect: Dialect, _record: ConnectionPoolEntry, cargs: list[Any], cparams: dict[str, Any]
    ) -> DBAPIConnection:
        deadline = time.monotonic() + timeout
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            # libpq takes whole seconds; each try gets what is left of the budget
            cparams["connect_timeout"] = max(1, math.ceil(deadline - time.monotonic()))
            try:
                connection: DBAPIConnection = dialect.loaded_dbapi.connect(*cargs, **cparams)
                return connection
            except dialect.loaded_dbapi.OperationalError as error:
                pause = 0.4 * 2**attempt * random.uniform(0.8, 1.2)
                room = deadline - time.monotonic() - pause
                if attempt == CONNECT_ATTEMPTS or room < LIBPQ_MIN_TIMEOUT_S:
                    raise
                if not is_retried(error):
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")
