"""Urgency: a weighted sum of a task's terms, computed by the database (for ``next`` and
``list --sort urgency``), Taskwarrior's formula and default coefficients.

    urgency = Σ coefficient(term) × value(term)

=================  ========  ====================================================
term               default   value
=================  ========  ====================================================
priority_high      6.0       1 when the priority is high
priority_medium    3.9       1 when the priority is medium
priority_low       1.8       1 when the priority is low
due                12.0      0.2 when due in more than 14 days, rising linearly to
                             1.0 at 7 days overdue (and after); 0 without a due date
in_progress        4.0       1 when started
blocking           8.0       1 when an open task depends on it
blocked            -5.0      1 when it depends on an open task
scheduled          5.0       1 when its scheduled time has passed
age                2.0       days since created / 365, at most 1
tags               1.0       0 tags 0, 1 tag 0.8, 2 tags 0.9, 3 or more 1.0
project            1.0       1 when it has a project
annotations        1.0       as tags, by the number of annotations
=================  ========  ====================================================

A profile overrides a coefficient with the config key ``urgency.<term>`` (a number).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from taskcli.core.enums import TaskPriority, TaskStatus
from taskcli.core.errors import InvalidInputError

if TYPE_CHECKING:  # the SQL is built only by the commands that sort by urgency
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

DEFAULTS: dict[str, float] = {
    "priority_high": 6.0,
    "priority_medium": 3.9,
    "priority_low": 1.8,
    "due": 12.0,
    "in_progress": 4.0,
    "blocking": 8.0,
    "blocked": -5.0,
    "scheduled": 5.0,
    "age": 2.0,
    "tags": 1.0,
    "project": 1.0,
    "annotations": 1.0,
}
TERMS = tuple(DEFAULTS)
CONFIG_PREFIX = "urgency."


def coefficient(term: str, text: object) -> float:
    """A coefficient given in the configuration (a finite number), else InvalidInputError."""
    if term not in DEFAULTS:
        raise InvalidInputError(
            f"unknown urgency term {term!r}: use one of {', '.join(TERMS)}",
        )
    try:
        value = float(text) if not isinstance(text, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInputError(f"{CONFIG_PREFIX}{term}: must be a number, got {text!r}")
    return value


def weights(overrides: dict[str, object] | None = None) -> dict[str, float]:
    """The coefficients: the defaults with the profile's overrides (checked)."""
    merged = dict(DEFAULTS)
    for term, value in (overrides or {}).items():
        merged[term] = coefficient(term, value)
    return merged


def expression(
    conn: Connection, tasks: sa.Table, *, user_id: uuid.UUID, coefficients: dict[str, float],
    now: datetime,
) -> sa.ColumnElement[float]:  # fmt: skip
    """The urgency of each row of ``tasks`` as one SQL expression (terms with a zero
    coefficient are left out, so they cost nothing)."""
    import sqlalchemy as sa

    from taskcli.core.sql import planning

    # Each term is one CASE with its coefficient in it, and every value it tests is computed
    # once a row (a CASE ladder over an expression would compute it once a branch).
    def num(value: float) -> sa.ColumnElement[float]:
        return planning.number(conn, value)

    w = {term: num(value) for term, value in coefficients.items()}
    zero = num(0.0)

    def flag(condition: sa.ColumnElement[bool], term: str) -> sa.ColumnElement[float]:
        return sa.case((condition, w[term]), else_=zero)

    def by_count(count: sa.ColumnElement[int], term: str) -> sa.ColumnElement[float]:
        weight = coefficients[term]
        scores = {0: zero, 1: num(0.8 * weight), 2: num(0.9 * weight)}
        return sa.case(scores, value=count, else_=w[term])

    ramp = (planning.days_since(conn, tasks.c.due, now) + num(14.0)) * num(0.8 / 21.0) + num(0.2)
    due = planning.smaller(conn, planning.larger(conn, ramp, 0.2), 1.0)  # 0.2 … 1.0
    days = planning.days_since(conn, tasks.c.created_at, now)
    age = planning.smaller(conn, days / num(365.0), 1.0)
    priorities = {level.value: w[f"priority_{level.value}"] for level in TaskPriority}
    parts: dict[str, Any] = {
        "priority": lambda: sa.case(priorities, value=tasks.c.priority, else_=zero),
        "due": lambda: sa.case((tasks.c.due.is_(None), zero), else_=due * w["due"]),
        "in_progress": lambda: flag(tasks.c.status == TaskStatus.in_progress.value, "in_progress"),
        "blocking": lambda: flag(planning.blocking_others(conn, tasks, user_id), "blocking"),
        "blocked": lambda: flag(planning.open_dependency(conn, tasks), "blocked"),
        "scheduled": lambda: flag(
            sa.and_(tasks.c.scheduled.is_not(None), tasks.c.scheduled <= now), "scheduled"
        ),
        "age": lambda: age * w["age"],
        "tags": lambda: by_count(planning.tag_count(conn, tasks.c.tags), "tags"),
        "project": lambda: flag(tasks.c.project.is_not(None), "project"),
        "annotations": lambda: by_count(
            planning.annotation_count(conn, tasks.c.annotations), "annotations"
        ),
    }
    used = {"priority" if term.startswith("priority_") else term
            for term, weight in coefficients.items() if weight}  # fmt: skip
    total: sa.ColumnElement[float] = zero
    for term in parts:
        if term in used:
            total = total + parts[term]()
    return sa.type_coerce(total, sa.Float)


def rounded(value: float) -> float:
    """Urgency as shown and written as JSON: four decimals."""
    return round(float(value), 4)
