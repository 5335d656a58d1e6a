"""Contexts: named list filters stored per user in the database (they follow the user to
every machine); which one is in use is the profile's ``context`` setting on this machine.

A definition is the JSON object of the list filters it was given (``status``,
``priority``, ``project``, ``no_project``, ``tags``, ``due_before`` as its WHEN text, so
that ``eow`` stays relative, ``overdue``, ``search``, ``waiting``, ``ready``,
``blocked``). ``list`` and ``next`` apply it together with their own filters (AND).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from taskcli.core.dates import utc_now
from taskcli.core.db import atomic
from taskcli.core.errors import InvalidInputError, NotFoundError
from taskcli.core.listing import TaskFilter
from taskcli.core.models import CONTEXT_NAME_MAX, Context

contexts = Context.__table__
NAME_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{CONTEXT_NAME_MAX - 1}}}", re.ASCII)
NONE = "none"  # `context use none`: no context
FILTER_KEYS = ("status", "priority", "project", "no_project", "tags", "due_before", "overdue",
               "search", "waiting", "ready", "blocked")  # fmt: skip


def checked_name(name: str) -> str:
    """A context name: letters, digits, '.', '_' or '-', at most 50, not ``none``."""
    name = name.strip()
    if not NAME_RE.fullmatch(name) or name.lower() == NONE:
        raise InvalidInputError(
            f"invalid context name {name!r}: use letters, digits, '.', '_' or '-' "
            f"(at most {CONTEXT_NAME_MAX}, not {NONE!r})"
        )
    return name


def _saved(filters: dict[str, Any]) -> dict[str, Any]:
    """The given filters only (a flag that is off and an empty list are not given)."""
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise InvalidInputError(f"unknown context filter {sorted(unknown)[0]!r}")
    return {key: filters[key] for key in FILTER_KEYS if filters.get(key) not in (None, False, [])}


def define(
    conn: Connection, *, user_id: uuid.UUID, name: str, filters: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace a context; it must say something (at least one filter)."""
    name = checked_name(name)
    saved = _saved(filters)
    if not saved:
        raise InvalidInputError(
            "a context needs at least one filter",
            hint="e.g. taskcli context define work --project work",
        )
    filter_of(saved)  # the definition must be one that applies
    now = utc_now()
    mine = sa.and_(contexts.c.user_id == user_id, contexts.c.name == name)
    with atomic(conn):
        conn.execute(contexts.delete().where(mine))
        conn.execute(
            contexts.insert().values(user_id=user_id, name=name, filters=json.dumps(saved),
                                     created_at=now, updated_at=now)
        )  # fmt: skip
    return {"name": name, "filters": saved}


def list_contexts(conn: Connection, *, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(contexts.c.name, contexts.c.filters)
        .where(contexts.c.user_id == user_id)
        .order_by(contexts.c.name)
    )
    return [{"name": name, "filters": json.loads(text)} for name, text in rows]


def get(conn: Connection, *, user_id: uuid.UUID, name: str) -> dict[str, Any]:
    text = conn.execute(
        sa.select(contexts.c.filters).where(contexts.c.user_id == user_id, contexts.c.name == name)
    ).scalar()
    if text is None:
        raise NotFoundError(f"no context {name!r}", hint="see taskcli context list")
    return {"name": name, "filters": json.loads(text)}


def delete(conn: Connection, *, user_id: uuid.UUID, name: str) -> None:
    name = checked_name(name)
    mine = sa.and_(contexts.c.user_id == user_id, contexts.c.name == name)
    if not conn.execute(contexts.delete().where(mine).returning(contexts.c.name)).first():
        raise NotFoundError(f"no context {name!r}", hint="see taskcli context list")


def filter_of(saved: dict[str, Any]) -> TaskFilter:
    """The conditions of a definition, as a filter that adds only them (completed and
    waiting tasks are the listing's own business)."""
    from taskcli.core.dates import parse_when

    due_before = saved.get("due_before")
    return TaskFilter(
        statuses=list(saved.get("status", [])),
        include_completed=True,
        priority=saved.get("priority"),
        project=saved.get("project"),
        without_project=bool(saved.get("no_project")),
        tags=list(saved.get("tags", [])),
        due_before=None if due_before is None else parse_when(due_before),
        overdue=bool(saved.get("overdue")),
        search=saved.get("search"),
        only_waiting=bool(saved.get("waiting")),
        ready=bool(saved.get("ready")),
        blocked=bool(saved.get("blocked")),
    )


def active(
    conn: Connection, *, user_id: uuid.UUID, name: str, warn: Callable[[str], None]
) -> dict[str, Any] | None:
    """The definition of the context in use, or None (with a warning) when it no longer
    exists (deleted on another machine): the listing goes on without it."""
    try:
        return get(conn, user_id=user_id, name=name)
    except NotFoundError:
        warn(f"context {name!r} is in use but no longer defined; ignoring it "
             "(taskcli context use none)")  # fmt: skip
        return None
