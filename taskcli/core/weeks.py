"""The ISO weeks of the local calendar that statistics count in (standard library only, so
the CLI can name the limits of --weeks cheaply)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from taskcli.core.dates import as_utc, local_to_utc
from taskcli.core.errors import InvalidInputError

DEFAULT_WEEKS = 12
MAX_WEEKS = 520  # ten years


@dataclass(frozen=True)
class Week:
    """An ISO week of the local calendar: its label and its first instant (UTC)."""

    label: str  # e.g. 2026-W48
    start: datetime


def last_weeks(count: int, *, now: datetime) -> tuple[list[Week], datetime]:
    """The ``count`` ISO weeks up to and including ``now``'s (local time, Monday 00:00 to
    Monday 00:00 with the time zone's DST rules for each date), and the end of the last."""
    if not 1 <= count <= MAX_WEEKS:
        raise InvalidInputError(f"weeks: must be 1 to {MAX_WEEKS}")
    today = as_utc(now).astimezone().date()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=count - 1 - index) for index in range(count + 1)]
    starts = [local_to_utc(datetime.combine(monday, time())) for monday in mondays]
    weeks = [Week(iso_label(monday), start)
             for monday, start in zip(mondays[:-1], starts[:-1], strict=True)]  # fmt: skip
    return weeks, starts[-1]


def iso_label(day: date) -> str:
    """The ISO week ``day`` is in, as ``2026-W48``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
