"""Recurrence periods and the dates of a series' occurrences (standard library only).

A series is anchored at the due time of its first occurrence (``anchor``) and counts its
occurrences from 0 (``index``). Occurrence k is due ``k`` periods after the anchor, at the
anchor's local time of day (a DST change moves the UTC time, not the clock time), so a
monthly series anchored on Jan 31 is due Feb 28 (29) and then Mar 31 again: the month end
clamps, the series keeps its day. ``weekdays`` is due on the next Monday to Friday after
the previous occurrence. Occurrence 0's id is the series id and the id of occurrence
k + 1 is derived from the id of occurrence k, so every id follows from the series and the
index, and completing the same occurrence twice (two machines, a retry, a re-import, which
keeps the task's id but not its hidden series columns) makes one next occurrence, never two.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from taskcli.core.dates import add_months, as_utc, local_to_utc

PERIOD_NAMES = {
    "daily": (1, "d"),
    "weekly": (7, "d"),
    "biweekly": (14, "d"),
    "monthly": (1, "m"),
    "quarterly": (3, "m"),
    "yearly": (12, "m"),
}
PERIODS_HELP = "daily, weekdays, weekly, biweekly, monthly, quarterly, yearly, or Nd, Nw, Nm, Ny"
#: The largest N of a counted period (``9999d``).
MAX_COUNT = 9999
_COUNTED = re.compile(r"([1-9][0-9]{0,3})([dwmy])", re.ASCII)
_UNIT = {"d": (1, "d"), "w": (7, "d"), "m": (1, "m"), "y": (12, "m")}
# The next occurrence's id: uuid5 of the previous occurrence's id in this namespace.
_NAMESPACE = uuid.UUID("6f1c2a52-8f4e-5d0b-9c57-2b1f3e0a7d41")


@dataclass(frozen=True, slots=True)
class Period:
    """``count`` days or months between occurrences; ``weekdays`` skips Saturday and Sunday."""

    count: int
    unit: str  # "d" or "m"
    weekdays: bool = False


def parse_period(text: str) -> Period:
    """The period a ``--recur`` value names (ValueError for anything else)."""
    key = text.strip().lower()
    if key == "weekdays":
        return Period(1, "d", weekdays=True)
    if key in PERIOD_NAMES:
        return Period(*PERIOD_NAMES[key])
    match = _COUNTED.fullmatch(key)
    if match is None:
        raise ValueError(f"not a period: {text!r} (use {PERIODS_HELP})")
    times, unit = _UNIT[match.group(2)]
    return Period(int(match.group(1)) * times, unit)


def canonical_period(text: str) -> str:
    """The period as stored: lower case, no spaces (``Weekly`` → ``weekly``, ``2W`` → ``2w``)."""
    parse_period(text)
    return text.strip().lower()


def next_occurrence_id(previous: uuid.UUID) -> uuid.UUID:
    """The id of the occurrence after the one whose id is ``previous``: the same on every
    machine, and the same for a copy of ``previous`` imported again."""
    return uuid.uuid5(_NAMESPACE, f"{previous}/next")


def due_of(period: Period, *, anchor: datetime, index: int, previous: datetime) -> datetime:
    """When occurrence ``index`` is due, the series anchored at ``anchor`` (occurrence 0)
    and the one before it due at ``previous``: aware UTC, at the anchor's local time."""
    local_anchor = as_utc(anchor).astimezone()
    clock = local_anchor.time().replace(tzinfo=None)
    if period.weekdays:
        day = as_utc(previous).astimezone().date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    elif period.unit == "m":
        day = add_months(local_anchor.date(), period.count * index)
    else:
        day = local_anchor.date() + timedelta(days=period.count * index)
    return local_to_utc(datetime.combine(day, clock))
