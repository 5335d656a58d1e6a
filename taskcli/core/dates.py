"""Time helpers: UTC timestamps for storage and output, and WHEN expressions for --due."""

from __future__ import annotations

import calendar
import re
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta

from taskcli.core.errors import InvalidInputError


def utc_now() -> datetime:
    """The current time, aware, in UTC, to the second (what taskcli stores)."""
    return datetime.now(UTC).replace(microsecond=0)


def as_utc(value: datetime) -> datetime:
    """Make a stored or parsed datetime aware UTC; naive values are taken as UTC already."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local_date(value: datetime) -> date:
    """The local calendar date of a stored time (naive is UTC); beyond the platform's
    local-time range (years 1 and 9999) the UTC date."""
    value = as_utc(value)
    try:
        return value.astimezone().date()
    except (OverflowError, ValueError, OSError):
        return value.date()


def format_utc(value: datetime | None) -> str | None:
    """RFC 3339 UTC, e.g. ``2026-11-23T08:00:00Z``; None stays None."""
    if value is None:
        return None
    value = as_utc(value)
    # not strftime (slow, and no zero-padding of years before 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 - the fastest spelling
        value.year, value.month, value.day, value.hour, value.minute, value.second,
    )  # fmt: skip


def parse_timestamp(text: str) -> datetime:
    """Parse ISO 8601 / RFC 3339 text into aware UTC, by the one rule WHEN also follows.

    With an offset or Z it is that instant; a date and time without an offset is local
    time (the process's time zone, ``TZ``, with its DST rules for that date); a bare
    date is the end of that day, 23:59:59 local. Raises ValueError when the text is not
    ISO 8601, OverflowError when local time cannot express it (near years 1 and 9999).
    """
    cleaned = text.strip().upper()
    if len(cleaned) <= len("YYYY-MM-DD"):  # any ISO date with a time is longer
        return _end_of_local_day(date.fromisoformat(cleaned))
    value = datetime.fromisoformat(cleaned)
    return local_to_utc(value) if value.tzinfo is None else as_utc(value)


WHEN_FORMATS = (
    "YYYY-MM-DD[THH:MM[:SS]][±HH:MM], today, tomorrow, yesterday, a weekday, next friday, "
    "+3d/+2w/+1m/+4h, in 3 days, eod, eow, eom or eoy"
)

_ISO_WHEN = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII,
)
_OFFSET_WHEN = re.compile(r"([+-])(\d+)([hdwmy])", re.ASCII)
_IN_WHEN = re.compile(r"in\s+(\d+)\s+(hour|day|week|month|year)s?", re.ASCII)
_NEXT_WHEN = re.compile(r"next\s+([a-z]+)", re.ASCII)
_DAY_WORDS = {"yesterday": -1, "today": 0, "eod": 0, "tomorrow": 1}
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS = {
    name: number for number, full in enumerate(_WEEKDAY_NAMES) for name in (full, full[:3])
}
_END_OF_DAY = time(23, 59, 59)


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """Parse a WHEN expression (``--due``, ``--due-before``) into aware UTC, to the second.

    Words and offsets count in local days (the process's time zone, ``TZ``) from the
    local date of ``now``; a day without a time means its end, 23:59:59 local. ISO
    text without an offset is local time. ``now`` defaults to the current time; a
    naive ``now`` is UTC, as everywhere in this module.
    Raises InvalidInputError for anything else, including dates beyond years 1-9999.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInputError(f"empty date: use {WHEN_FORMATS}")
    current = utc_now() if now is None else as_utc(now)
    try:
        when = _parse_when(cleaned.lower(), current)
    except OverflowError:
        raise InvalidInputError(f"date {cleaned!r} is out of range") from None
    except ValueError:
        # impossible calendar values such as 2026-02-30 or 25:00
        when = None
    if when is None:
        raise InvalidInputError(f"invalid date {cleaned!r}: use {WHEN_FORMATS}")
    return when.replace(microsecond=0)


def _parse_when(key: str, now: datetime) -> datetime | None:
    if key == "now":
        return now
    if _ISO_WHEN.fullmatch(key):
        return parse_timestamp(key)
    today = now.astimezone().date()
    if key in _DAY_WORDS:
        return _end_of_local_day(today + timedelta(days=_DAY_WORDS[key]))
    if key in _ENDS:
        return _end_of_local_day(_ENDS[key](today))
    weekday = _NEXT_WHEN.fullmatch(key)
    if key in _WEEKDAYS or (weekday and weekday[1] in _WEEKDAYS):
        number = _WEEKDAYS[weekday[1] if weekday else key]
        days_ahead = (number - today.weekday() - 1) % 7 + 1
        return _end_of_local_day(today + timedelta(days=days_ahead))
    if match := _OFFSET_WHEN.fullmatch(key):
        sign, amount, unit = match.groups()
        return _offset(now, today, int(amount) if sign == "+" else -int(amount), unit)
    if match := _IN_WHEN.fullmatch(key):
        return _offset(now, today, int(match[1]), match[2][0])
    return None


def _offset(now: datetime, today: date, count: int, unit: str) -> datetime:
    """Hours count from now; days, weeks, months and years from today, to the day's end."""
    if unit == "h":
        return now + timedelta(hours=count)
    return _end_of_local_day(_shift(today, count, unit))


def _end_of_week(day: date) -> date:
    return day + timedelta(days=6 - day.weekday())  # Sunday


def _end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _end_of_year(day: date) -> date:
    return day.replace(month=12, day=31)


_ENDS = {"eow": _end_of_week, "eom": _end_of_month, "eoy": _end_of_year}


def _shift(day: date, count: int, unit: str) -> date:
    if unit == "d":
        return day + timedelta(days=count)
    if unit == "w":
        return day + timedelta(weeks=count)
    return add_months(day, count * 12 if unit == "y" else count)


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the last day of the target month (Jan 31 + 1 = Feb 28/29)."""
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    if not MINYEAR <= year <= MAXYEAR:
        raise OverflowError(f"year {year} is out of range")
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _end_of_local_day(day: date) -> datetime:
    return local_to_utc(datetime.combine(day, _END_OF_DAY))


def local_to_utc(value: datetime) -> datetime:
    """A naive local datetime in UTC, with the system's DST rules for that date."""
    try:
        return value.astimezone(UTC)
    except ValueError as error:
        # near year 1 the local-time arithmetic reports "year 0 is out of range"
        raise OverflowError(str(error)) from None


def describe_relative(when: datetime, *, now: datetime) -> str:
    """A short phrase for a table: ``in 3 days``, ``2 hours ago``, ``today``, ``tomorrow``.

    Calendar days in local time decide first (tomorrow, yesterday, in N days / weeks /
    months / years, counted down). On the same local day, an end-of-day value (a date
    without a time) is ``today``; any other time is ``in N hours`` / ``N minutes ago``
    / ``now``. Naive datetimes are UTC.
    """
    when, now = as_utc(when), as_utc(now)
    local_when = when.astimezone()
    days = (local_when.date() - now.astimezone().date()).days
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if days != 0:
        return _in_or_ago(_day_span(abs(days)), future=days > 0)
    if local_when.time().replace(microsecond=0) == _END_OF_DAY:
        return "today"
    seconds = (when - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    if minutes == 0:
        return "now"
    span = _plural(minutes // 60, "hour") if minutes >= 60 else _plural(minutes, "minute")
    return _in_or_ago(span, future=seconds > 0)


def _day_span(days: int) -> str:
    if days < 14:
        return _plural(days, "day")
    if days < 60:
        return _plural(days // 7, "week")
    if days < 730:
        return _plural(days // 30, "month")
    return _plural(days // 365, "year")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _in_or_ago(span: str, *, future: bool) -> str:
    return f"in {span}" if future else f"{span} ago"
