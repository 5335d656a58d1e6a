"""The ``todotxt`` format: one task per line, as in todo.txt.

    x (A) 2026-11-20 2026-11-01 Call the plumber +house @phone due:2026-12-01 uuid:…

Reading a line: a leading ``x`` marks it completed (any other line is pending); then
an optional priority ``(A)`` (A → high, B → medium, C–Z → low; none leaves the
default); then, when completed, the completion date and an optional creation date,
otherwise an optional creation date. The first ``+project`` becomes the project;
further ``+projects`` and every ``@context`` become tags (without the sigil).
``key:value`` words are removed from the title. A key starts with a letter and a
value has no colon and does not start with ``/``, so ``10:30`` and URLs stay in the
title. The keys understood:

- ``due:YYYY-MM-DD``: due at the end of that day (23:59:59) in local time;
- ``uuid:<uuid>``: the task id, when it is a valid UUID (our writer emits it, so
  re-importing an export updates tasks instead of duplicating them);
- ``status:in_progress``: in_progress, for a line not marked done (our writer emits
  it, since todo.txt has no such state);
- ``pri:X``: the priority, when the line has no ``(X)`` (todo.txt's own CLI moves the
  priority of a done task there);
- ``t:YYYY-MM-DD`` (the threshold date): scheduled, at the start of that day in local
  time;
- ``rec:[+][N]U`` (N days, weeks, months, years or business days for U = d, w, m, y,
  b; N defaults to 1): recur, as the taskcli period it equals (``rec:1w`` is weekly,
  ``rec:2w`` biweekly, ``rec:3m`` quarterly, ``rec:1b`` weekdays, ``rec:10d`` 10d).
  taskcli counts a period from the due date, which is what ``+`` says; without it,
  todo.txt tools count from the completion: both read the same.

Other keys are dropped. Creation and completion dates are taken
as midnight local time. Everything else, in order, is the title (whitespace runs
collapsed to one space), where a ``title:WORD`` stands for WORD percent-decoded.

Writing emits that same form, tags as ``@tag``, the period as ``rec:+`` N and its
unit. The format cannot hold the description, annotations, wait, dependencies, until,
the task number or times of day (only the local date of created, completed, due and
scheduled is kept). todo.txt has no quoting, so a title word that would read
back as something else (``+SUM(1,2)``, ``@home``, ``key:value``, a first word ``x``,
``(A)`` or a date) or a run of spaces is written as ``title:`` and the word with ``%``,
``:``, whitespace and a leading ``/`` percent-encoded: ``title:+SUM(1,2)``,
``title:%20%20b``. Every title reads back exactly; other todo.txt tools show such a
word as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any, TextIO
from urllib.parse import quote, unquote

from taskcli.core.dates import local_date
from taskcli.core.formats.records import (
    Carries,
    ParsedRecord,
    RecordError,
    line_records,
    new_record,
    parse_uuid,
    plain,
    shown,
    tag_list,
)

# No description, task number, updated time, annotations, wait, dependencies or until;
# created, completed, due and scheduled as local dates.
CARRIES = Carries(
    frozenset(("id", "title", "status", "priority", "due", "project", "tags", "created_at",
               "completed_at", "scheduled", "recur")),
    as_dates=frozenset(("due", "created_at", "completed_at", "scheduled")),
)  # fmt: skip
_PRIORITY = re.compile(r"\(([A-Z])\)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}")
_KEY_VALUE = re.compile(r"([A-Za-z][\w-]*):([^\s:/][^\s:]*)")
_LETTERS = {"high": "A", "medium": "B", "low": "C"}
_REC = re.compile(r"\+?([1-9][0-9]{0,3})?([dwmyb])", re.ASCII)
# Our named periods as todo.txt counts them, and back (other counts read as ``Nd``…).
_REC_OF_NAMED = {"daily": "1d", "weekdays": "1b", "weekly": "1w", "biweekly": "2w",
                 "monthly": "1m", "quarterly": "3m", "yearly": "1y"}  # fmt: skip
_NAMED_OF_REC = {rec: name for name, rec in _REC_OF_NAMED.items()}
_START_OF_DAY = time(0, 0, 0)
_END_OF_DAY = time(23, 59, 59)


def has_todotxt_mark(line: str) -> bool:
    """Whether a line carries something only todo.txt gives meaning to: a leading ``x``,
    ``(A)`` or date (a date followed by a time of day is a log line), or a ``+project``,
    ``@context`` or ``key:value`` word."""
    words = line.split()
    if not words:
        return False
    if words[0] == "x" or _PRIORITY.fullmatch(words[0]):
        return True
    if _DATE.fullmatch(words[0]) and not (len(words) > 1 and _TIME_OF_DAY.match(words[1])):
        return True
    return any((len(word) > 1 and word[0] in "+@") or _KEY_VALUE.fullmatch(word) for word in words)


def read_todotxt(stream: TextIO) -> Iterator[ParsedRecord]:
    """Each non-blank line as a record or a rejection at ``line N``; a line too long
    for a record ends the input."""
    return line_records(stream, _parsed)


def _parsed(location: str, line: str) -> ParsedRecord:
    try:
        return ParsedRecord(location, record=record_from_todotxt(line))
    except RecordError as error:
        return ParsedRecord(location, error=str(error))


def record_from_todotxt(line: str) -> dict[str, Any]:
    """The record for one non-blank todo.txt line."""
    words = line.split()
    record = new_record()
    done = words[0] == "x"
    record["status"] = "completed" if done else "pending"
    index = 1 if done else 0
    if index < len(words) and (match := _PRIORITY.fullmatch(words[index])):
        record["priority"] = _priority(match.group(1))
        index += 1
    dates: list[date] = []
    while index < len(words) and len(dates) < (2 if done else 1) and _DATE.fullmatch(words[index]):
        dates.append(_date(words[index], "date"))
        index += 1
    if done and dates:
        record["completed_at"] = _local_time(dates.pop(0), _START_OF_DAY)
    if dates:
        record["created_at"] = _local_time(dates[0], _START_OF_DAY)
    _read_text(words[index:], record)
    return record


def _read_text(words: list[str], record: dict[str, Any]) -> None:
    """Split the words after the dates into project, tags, key:value pairs and title."""
    title: list[str] = []
    tags: list[str] = []
    for word in words:
        if len(word) > 1 and word[0] == "+" and record["project"] is None:
            record["project"] = word[1:]
        elif len(word) > 1 and word[0] in "+@":
            tags.append(word[1:])
        elif (match := _KEY_VALUE.fullmatch(word)) and match.group(1).lower() == "title":
            title.append(unquote(match.group(2)))
        elif match:
            _read_key(match.group(1).lower(), match.group(2), record)
        else:
            title.append(word)
    record["title"] = " ".join(title)
    record["tags"] = list(dict.fromkeys(tags))


def _read_key(key: str, value: str, record: dict[str, Any]) -> None:
    if key == "due":
        record["due"] = _local_time(_date(value, "due"), _END_OF_DAY)
    elif key == "t":
        record["scheduled"] = _local_time(_date(value, "t"), _START_OF_DAY)
    elif key == "rec":
        record["recur"] = _period(value)
    elif key == "uuid":
        try:
            record["id"] = parse_uuid(value, "uuid")
        except RecordError:
            pass  # not ours: an ordinary key:value pair, dropped like the others
    elif key == "status" and value == "in_progress" and record["status"] != "completed":
        record["status"] = "in_progress"
    elif key == "pri" and record["priority"] is None:
        if not re.fullmatch(r"[A-Za-z]", value):
            raise RecordError(f"pri: expected a priority letter A-Z, got {shown(value)}")
        record["priority"] = _priority(value.upper())


def _period(value: str) -> str:
    """The taskcli period a ``rec:`` value names."""
    match = _REC.fullmatch(value.lower())
    if match is None or (match.group(2) == "b" and match.group(1) not in (None, "1")):
        raise RecordError(
            f"rec: expected a period such as 1w, +2d, m or 1b (weekdays), got {shown(value)}"
        )
    counted = f"{match.group(1) or 1}{match.group(2)}"
    return _NAMED_OF_REC.get(counted, counted)


def _priority(letter: str) -> str:
    return {"A": "high", "B": "medium"}.get(letter, "low")


def _date(text: str, field: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise RecordError(f"{field}: not a date (YYYY-MM-DD): {shown(text)}")


def _local_time(day: date, at: time) -> datetime:
    """``at`` on ``day`` in local time, as aware UTC."""
    try:
        return datetime.combine(day, at).astimezone(UTC)
    except (OverflowError, ValueError, OSError):
        raise RecordError(f"date out of range: {day.isoformat()}") from None


def _local_date(value: datetime | None) -> str | None:
    """The local calendar date of a stored time, ``YYYY-MM-DD``."""
    return None if value is None else local_date(value).isoformat()


def todotxt_line(record: dict[str, Any]) -> str:
    """The todo.txt line for a record (without the newline)."""
    status = plain(record["status"])
    done = status == "completed"
    head = ["x"] if done else []
    if record["priority"] is not None:
        head.append(f"({_LETTERS[plain(record['priority'])]})")
    completed_on = _local_date(record["completed_at"]) if done else None
    created_on = _local_date(record["created_at"])
    if completed_on:
        head.append(completed_on)
    # On a done line a lone date is the completion date, so a creation date needs one.
    if created_on and (completed_on or not done):
        head.append(created_on)
    tail = [f"+{record['project']}"] if record["project"] is not None else []
    tail.extend(f"@{tag}" for tag in tag_list(record["tags"]))
    if record["due"] is not None:
        tail.append(f"due:{_local_date(record['due'])}")
    if record["scheduled"] is not None:
        tail.append(f"t:{_local_date(record['scheduled'])}")
    if record["recur"] is not None:
        tail.append(f"rec:+{_REC_OF_NAMED.get(record['recur'], record['recur'])}")
    if status == "in_progress":
        tail.append("status:in_progress")
    if record["id"] is not None:
        tail.append(f"uuid:{record['id']}")
    return " ".join([*head, *_title_words(record["title"]), *tail])


def _title_words(title: str) -> list[str]:
    """Words that read back as exactly ``title``: a word todo.txt would take for something
    else, or one that carries more whitespace than a single space, becomes ``title:``
    and the word percent-encoded."""
    words: list[str] = []
    for token in _tokens(title):
        words.append(token if _plain(token, first=not words) else f"title:{_escaped(token)}")
    return words


def _tokens(title: str) -> list[str]:
    """The title split at single spaces; a run of spaces stays on the token after it
    (the last token takes trailing ones), so joining with single spaces restores it."""
    tokens: list[str] = []
    spaces = ""
    for part in title.split(" "):
        if part:
            tokens.append(spaces + part)
            spaces = ""
        else:
            spaces += " "
    if not tokens:
        return [title] if title else []
    tokens[-1] += spaces
    return tokens


def _plain(token: str, *, first: bool) -> bool:
    """Whether ``token`` reads back as title text (the first one after the line's start)."""
    if any(char.isspace() for char in token) or _KEY_VALUE.fullmatch(token):
        return False
    if len(token) > 1 and token[0] in "+@":
        return False
    return not (first and (token == "x" or _PRIORITY.fullmatch(token) or _DATE.fullmatch(token)))


def _escaped(token: str) -> str:
    """``token`` as the value of a key:value word: ``%``, ``:``, whitespace and a leading
    ``/`` percent-encoded (as UTF-8), everything else as it is."""
    return "".join(
        quote(char, safe="") if char in "%:" or char.isspace() or (index == 0 and char == "/")
        else char
        for index, char in enumerate(token)
    )  # fmt: skip


def write_todotxt(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write one todo.txt line per record."""
    count = 0
    for record in records:
        out.write(todotxt_line(record))
        out.write("\n")
        count += 1
    return count
